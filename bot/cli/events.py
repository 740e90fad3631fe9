"""`flask --app bot events …`: events for the center's staff (the console comes later)."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from bot import services
from bot.core import csvout, timefmt
from bot.core.areas import find_association_by_code
from bot.core.db import utcnow
from bot.core.errors import UserError
from bot.core.i18n import LANGUAGES
from bot.core.ics import event_ics
from bot.core.models import Event
from bot.core.vocab import Audience, SignupStatus
from bot.services import event_messages, events
from bot.wiring import current_bot

events_cli = AppGroup("events", help="Community events, for the center's staff.")



def _when(value: str | None, tz_name: str) -> datetime | None:
    if not value:
        return None
    try:
        return timefmt.parse_local(value, tz_name)
    except ValueError:
        raise click.BadParameter(f"not a date and time: {value} (use 2026-12-24T10:00)") from None


@events_cli.command("create")
@click.option("--title", required=True)
@click.option("--starts", required=True, help="local time, e.g. 2026-12-24T10:00")
@click.option("--ends")
@click.option("--place", required=True)
@click.option("--description", default="")
@click.option("--capacity", type=int)
@click.option("--deadline", help="sign-up deadline, local time")
@click.option("--to", "audience", default="all", show_default=True,
              help="all | area:CODE[,CODE…] | association:JOIN-CODE")
@click.option("--organizer", default="")
@click.option("--party-size", is_flag=True, help="ask how many people come")
@click.option("--note-question", help="a question for each attendee, e.g. about allergies")
@click.option("--remind-hour-before", is_flag=True)
@click.option("--translations", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSON: {"en": {"title": "…", "place": "…", "description": "…", "note_question": "…"}, "vi": …}')
def create(title, starts, ends, place, description, capacity, deadline, audience, organizer, party_size,
           note_question, remind_hour_before, translations):
    """Create an event."""
    bot = current_bot()
    tz = bot.config.tz_name
    tr = json.loads(translations.read_text(encoding="utf-8")) if translations else {}
    if not isinstance(tr, dict) or any(loc not in LANGUAGES or not isinstance(v, dict) or not v.get("title")
                                       for loc, v in tr.items()):
        raise click.BadParameter('--translations: {"<language>": {"title": …, "place": …, "description": …}}')
    values = dict(title=title, description=description, place=place, starts_at=_when(starts, tz), ends_at=_when(ends, tz),
                  capacity=capacity, signup_deadline=_when(deadline, tz), organizer=organizer, ask_party_size=party_size,
                  note_question=note_question, remind_hour_before=remind_hour_before)
    with bot.db.session() as s:
        kind, _, value = audience.partition(":")
        if kind == "area":
            values.update(audience=Audience.AREAS, audience_areas=[c for c in value.split(",") if c])
        elif kind == "association":
            assoc = find_association_by_code(s, value)
            if assoc is None:
                raise click.BadParameter(f"no association with join code {value}")
            values.update(audience=Audience.ASSOCIATION, association_id=assoc.id, organizer=organizer or assoc.name)
        elif kind != "all":
            raise click.BadParameter("--to takes all, area:CODE or association:JOIN-CODE")
        ev, outcome = events.create_event(s, values, utcnow(), translations=tr, config=current_bot().config)
        services.apply(s, outcome, "cli")
        click.echo(f"event {ev.id} created")
        missing = event_messages.missing_languages(ev)
        if missing:
            click.echo("no translation yet for: " + ", ".join(missing) + " (they see the Japanese with a note)")


@events_cli.command("list")
def list_events():
    """Upcoming events with their numbers."""
    bot = current_bot()
    with bot.db.session() as s:
        for ev in s.scalars(select(Event).where(Event.starts_at > utcnow()).order_by(Event.starts_at)):
            click.echo(f"{ev.id:>5}  {timefmt.show(ev.starts_at, 'ja', bot.config.tz_name)}  {ev.title}  "
                       f"going {events.seats_taken(s, ev.id)}/{ev.capacity or '-'}  waiting {len(events.waitlist(s, ev.id))}"
                       f"  {ev.status}")


@events_cli.command("attendees")
@click.argument("event_id", type=int)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="write a CSV file (UTF-8 with BOM, so Excel opens it)")
def attendees(event_id, csv_path):
    """Who is coming (and waiting), with party sizes and answers."""
    with current_bot().db.session() as s:
        ev = events.get_event(s, event_id)
        if ev is None:
            raise click.ClickException(f"no event {event_id}")
        rows = [(a.resident.nickname or "-", a.party_size, "参加" if a.status == SignupStatus.GOING else "キャンセル待ち", a.note or "")
                for a in events.attendees(s, event_id)]
    if csv_path:
        csv_path.write_bytes(csvout.to_bytes(["表示名", "人数", "状態", "回答"], rows))
        click.echo(f"wrote {len(rows)} rows to {csv_path}")
        return
    for name, party, status, note in rows:
        click.echo(f"{name}\t{party}\t{status}\t{note}")
    click.echo(f"going: {sum(p for _, p, st, _ in rows if st == '参加')} people")


@events_cli.command("ics")
@click.argument("event_id", type=int)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
def ics(event_id, out):
    """The event as an iCalendar (.ics) file."""
    with current_bot().db.session() as s:
        ev = events.get_event(s, event_id)
        if ev is None:
            raise click.ClickException(f"no event {event_id}")
        text = event_ics(ev)
    if out:
        out.write_text(text, encoding="utf-8", newline="")
        click.echo(f"wrote {out}")
    else:
        click.echo(text, nl=False)


@events_cli.command("update")
@click.argument("event_id", type=int)
@click.option("--starts")
@click.option("--ends")
@click.option("--place")
def update(event_id, starts, ends, place):
    """Change the time or place; attendees and the wait-list are told."""
    bot = current_bot()
    with bot.db.session() as s:
        ev = events.get_event(s, event_id, lock=True)
        if ev is None:
            raise click.ClickException(f"no event {event_id}")
        values = {}
        if starts:
            values["starts_at"] = _when(starts, bot.config.tz_name)
        if ends:
            values["ends_at"] = _when(ends, bot.config.tz_name)
        if place:
            values["place"] = place
        try:
            outcome = services.apply(s, events.update_event(s, ev, values, bot.config, utcnow()), "cli")
        except UserError as exc:
            raise click.ClickException(exc.render("en", bot.config.tz_name)) from None
    click.echo(f"event {event_id} updated; {outcome.facts['told']} people told")


@events_cli.command("cancel")
@click.argument("event_id", type=int)
def cancel(event_id):
    """Cancel an event; attendees and the wait-list are told."""
    bot = current_bot()
    with bot.db.session() as s:
        ev = events.get_event(s, event_id, lock=True)
        if ev is None:
            raise click.ClickException(f"no event {event_id}")
        outcome = services.apply(s, events.cancel_event(s, ev, bot.config, utcnow()), "cli")
    if outcome.facts["already"]:
        click.echo(f"event {event_id} was already cancelled; nobody told again")
    else:
        click.echo(f"event {event_id} cancelled; {outcome.facts['told']} people told")


@events_cli.command("figures")
@click.option("--year", type=int, default=None, help="default: this year")
def figures(year):
    """The share of residents who took part in a local event this year, by area and association."""
    bot = current_bot()
    year = year or utcnow().year
    with bot.db.session() as s:
        data = events.participation(s, year, bot.config.tz_name)
    for section in ("all", "area", "association"):
        click.echo(f"-- {section}")
        for name, part, total in data[section]:
            share = f"{100 * part / total:.1f}%" if total else "-"
            click.echo(f"{name}\t{part}/{total}\t{share}")
