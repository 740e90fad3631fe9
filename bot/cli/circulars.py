"""`flask --app bot circulars …`: circulars for leaders and the center's staff (leaders also
write them in LINE, 「回覧板を作る」, and in the console, /console/circulars/new)."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from bot import services
from bot.core import media, timefmt
from bot.core.areas import find_association_by_code
from bot.core.db import utcnow
from bot.core.models import Association, Circular, Household, Membership, Resident
from bot.core.vocab import CircularQuestion, ReadPer, Role
from bot.services import circulars, roster
from bot.web import circular_page
from bot.wiring import current_bot

circulars_cli = AppGroup("circulars", help="Electronic circulars (回覧板).")


def _association(s, code: str):
    assoc = find_association_by_code(s, code)
    if assoc is None:
        raise click.BadParameter(f"no association with join code {code}")
    return assoc


@circulars_cli.command("household")
@click.option("--association", "code", required=True, help="the association's join code")
@click.option("--label", required=True, help="how the leader knows it, e.g. 3番 山田")
@click.option("--han", help="the 班 (block)")
@click.option("--paper", is_flag=True, help="no one in LINE: gets the paper circular")
def household(code, label, han, paper):
    """Add a household to an association's roster."""
    with current_bot().db.session() as s:
        h, out = roster.add_household(s, _association(s, code).id, label, han, paper)
        services.apply(s, out, "cli")
        click.echo(f"household {h.id} added")


@circulars_cli.command("members")
@click.option("--association", "code", required=True, help="the association's join code")
def members(code):
    """The roster: members (number, name, role, household) and paper households."""
    with current_bot().db.session() as s:
        assoc = _association(s, code)
        rows = s.execute(
            select(Membership.id, Resident.nickname, Membership.role, Household.label, Household.han)
            .join(Resident, Resident.id == Membership.resident_id)
            .outerjoin(Household, Household.id == Membership.household_id)
            .where(Membership.association_id == assoc.id).order_by(Household.han, Household.label, Membership.id))
        for mid, name, role, label, han in rows:
            click.echo(f"member {mid}\t{name or '?'}\t{role}\t{label or '-'}\t{han or '-'}")
        for hid, label, han in s.execute(select(Household.id, Household.label, Household.han).where(
                Household.association_id == assoc.id, Household.paper.is_(True))):
            click.echo(f"paper household {hid}\t{label}\t{han or '-'}")


@circulars_cli.command("role")
@click.option("--association", "code", required=True, help="the association's join code")
@click.option("--member", "member_id", type=int, required=True, help="the member number from `members`")
@click.argument("role", type=click.Choice([Role.LEADER.value, Role.HAN_LEADER.value, Role.MEMBER.value]))
def role(code, member_id, role):
    """Make a member the association's leader (会長), a 班長, or a plain member."""
    with current_bot().db.session() as s:
        m = _member(s, code, member_id)
        services.apply(s, roster.set_role(s, m, role), "cli")  # a leader's console sessions end with the role
    click.echo(f"member {member_id} is now {role}")


@circulars_cli.command("assign")
@click.option("--association", "code", required=True, help="the association's join code")
@click.option("--member", "member_id", type=int, required=True, help="the member number from `members`")
@click.option("--household", "household_id", type=int, required=True)
def assign(code, member_id, household_id):
    """Put a member in a household of the roster."""
    with current_bot().db.session() as s:
        m = _member(s, code, member_id)
        h = s.get(Household, household_id)
        if h is None or h.association_id != m.association_id:
            raise click.BadParameter(f"no household {household_id} in this association")
        try:
            services.apply(s, roster.assign_household(s, m, h), "cli")
        except roster.RosterError as exc:
            raise click.ClickException(exc.render("en", current_bot().config.tz_name)) from None
    click.echo(f"member {member_id} is in household {household_id}")


def _member(s, code: str, member_id: int):
    assoc = _association(s, code)
    m = s.get(Membership, member_id)
    if m is None or m.association_id != assoc.id:
        raise click.BadParameter(f"no member {member_id} in {code}")
    return m


@circulars_cli.command("read-per")
@click.option("--association", "code", required=True, help="the association's join code")
@click.argument("mode", type=click.Choice([e.value for e in ReadPer]))
def read_per(code, mode):
    """Count a circular as read per household (any member confirms) or per member."""
    with current_bot().db.session() as s:
        _association(s, code).read_per = mode
    click.echo(f"circulars of {code} now count as read per {mode}")


@circulars_cli.command("send")
@click.option("--association", "codes", multiple=True, help="join code; repeat for several associations")
@click.option("--all-associations", is_flag=True, help="(center staff) every association")
@click.option("--title", required=True)
@click.option("--body", required=True)
@click.option("--link", help="an https:// link")
@click.option("--deadline", help="local time, e.g. 2026-12-20T18:00")
@click.option("--question", default="none", help="none | attendance | choices:A,B,C")
@click.option("--han", help="only this 班")
@click.option("--translations", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSON: {"en": {"title": "…", "body": "…"}, …}')
@click.option("--public-answers", is_flag=True)
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a photo (JPEG/PNG); its metadata is removed")
@click.option("--remind-days", type=int, default=1, show_default=True,
              help="remind the unread this many days before the deadline")
def send(codes, all_associations, title, body, link, deadline, question, han, translations, public_answers,
         image, remind_days):
    """Send a circular now, to one, several or all associations."""

    bot = current_bot()
    raw = image.read_bytes() if image else None
    if raw is not None:
        try:
            media.encode(raw)
        except media.NotAnImage:
            raise click.BadParameter("--image is not a JPEG/PNG photo of at most 10 MB") from None
    if link and not link.startswith(("https://", "http://")):
        raise click.BadParameter("--link must start with https://")
    kind, _, rest = question.partition(":")
    if kind not in (CircularQuestion.NONE, CircularQuestion.ATTENDANCE, CircularQuestion.CHOICES) or (kind == CircularQuestion.CHOICES and not rest):
        raise click.BadParameter("--question takes none, attendance or choices:A,B")
    tr = json.loads(translations.read_text(encoding="utf-8")) if translations else {}
    when = timefmt.parse_local(deadline, bot.config.tz_name) if deadline else None
    with bot.db.session() as s:
        targets = list(s.scalars(select(Association))) if all_associations else [_association(s, c) for c in codes]
        if not targets:
            raise click.UsageError("give --association CODE or --all-associations")
        photo_id = media.store(s, raw).id if raw is not None else None
        for assoc in targets:
            circ, sent, outcome = circulars.create_and_send(s, dict(
                association_id=assoc.id, han=han, title=title, body=body, link_url=link, translations=tr,
                image_id=photo_id, question=kind, choices=[c.strip() for c in rest.split(",") if c.strip()],
                public_answers=public_answers, deadline=when, remind_days_before=remind_days), bot.config, utcnow())
            services.apply(s, outcome, "cli")
            click.echo(f"circular {circ.id} to {assoc.name}: {sent['members']} members in LINE, "
                       f"{sent['paper_households']} paper households, {sent['messages']} messages")


@circulars_cli.command("status")
@click.argument("circular_id", type=int)
@click.option("--han", help="only this 班")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="UTF-8 with BOM")
def status(circular_id, han, csv_path):
    """Read and answers per household (LINE and paper in one tally)."""

    with current_bot().db.session() as s:
        circ = s.get(Circular, circular_id)
        if circ is None:
            raise click.ClickException(f"no circular {circular_id}")
        tl = circulars.tally(s, circ, han)
        data = circulars.status_csv(s, circ, han) if csv_path else None
    if csv_path:
        csv_path.write_bytes(data)
        click.echo(f"wrote {csv_path}")
        return
    click.echo(f"read: {tl.read}/{tl.households}")
    for answer, n in sorted(tl.answers.items()):
        click.echo(f"  {answer}: {n}")
    if tl.unread:
        click.echo("not yet read: " + ", ".join(tl.unread))


@circulars_cli.command("print")
@click.argument("circular_id", type=int)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def print_sheet(circular_id, out):
    """A print-ready sheet: the circular and a sign-off table for the paper households."""

    bot = current_bot()
    with bot.db.session() as s:
        circ = s.get(Circular, circular_id)
        if circ is None:
            raise click.ClickException(f"no circular {circular_id}")
        paper = circulars.paper_households(s, circ)
        html = circular_page.print_sheet(s, circ, bot.config, households=paper)
    out.write_text(html, encoding="utf-8")
    click.echo(f"wrote {out} ({len(paper)} paper households)")


@circulars_cli.command("remind")
@click.argument("circular_id", type=int)
def remind(circular_id):
    """Remind the members whose household has not read it (once a day at most)."""

    bot = current_bot()
    with bot.db.session() as s:
        circ = s.get(Circular, circular_id)
        if circ is None:
            raise click.ClickException(f"no circular {circular_id}")
        try:
            n = services.apply(s, circulars.remind_unread(s, circ, bot.config, utcnow()), "cli").facts["reminded"]
        except circulars.CircularError as exc:
            raise click.ClickException(exc.render("en", bot.config.tz_name)) from None
    click.echo(f"reminder queued for {n} members")


@circulars_cli.command("mark")
@click.argument("circular_id", type=int)
@click.option("--household", "household_id", type=int, required=True)
@click.option("--answer")
def mark(circular_id, household_id, answer):
    """Mark a paper household as read (and its answer), from the signed sheet."""

    with current_bot().db.session() as s:
        circ, hh = s.get(Circular, circular_id), s.get(Household, household_id)
        if circ is None or hh is None:
            raise click.ClickException("no such circular or household")
        try:
            services.apply(s, circulars.mark_paper(s, circ, hh, answer=answer, now=utcnow()), "cli")
        except circulars.CircularError as exc:
            raise click.ClickException(exc.render("en", "Asia/Tokyo")) from None
    click.echo(f"household {household_id} marked")
