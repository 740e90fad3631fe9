"""Command-line interface: `flask --app bot <command>`. Thin wrappers over plain functions."""
from __future__ import annotations

import json
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from bot.cli.circulars import circulars_cli
from bot.cli.clock import announce_cmd, announcements_cli, richmenu_cli
from bot.cli.garbage import garbage_cli
from bot.cli.safety import safety_cli
from bot.cli.shelters import shelters_cli
from bot.cli import demo
from bot.cli.events import events_cli
from bot.console.cli import staff_cli
from bot.core import garbage5374
from bot.core.areas import CityFileError, load_city, valid_place
from bot.core.config import ROOT
from bot.core.db import utcnow
from bot.core.models import Area, Association, HelpRequest, RelayMessage, Resident
from bot.core.vocab import OutboxStatus
from bot.delivery import worker
from bot.delivery.outbox import dead_letters, requeue, status_counts
from bot import services
from bot.services import aid, garbage, mutual_aid, residents, timebank
from bot.wiring import current_bot
from scheduler.clock import AnotherClockRunning, run_clock

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
areas_cli = AppGroup("areas", help="The city's areas and associations.")
demo_cli = AppGroup("demo", help="Demo data for the local web chat.")
outbox_cli = AppGroup("outbox", help="Outgoing messages: status, dead letters, requeue.")
aid_cli = AppGroup("aid", help="Mutual aid, for the center's staff.")



def alembic_config():
    # late: alembic (with mako) adds ~50 ms and ~8 MB to every process; only the db commands use it
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["engine"] = current_bot().db.engine
    return cfg


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Bring the database to the current schema (or to REVISION)."""
    # late: alembic is heavy and only the db commands need it (see alembic_config)
    from alembic import command

    command.upgrade(alembic_config(), revision)
    click.echo(f"database upgraded to {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Step the schema back to REVISION (e.g. -1, or base)."""
    # late: alembic is heavy and only the db commands need it (see alembic_config)
    from alembic import command

    command.downgrade(alembic_config(), revision)


@db_cli.command("current")
def db_current() -> None:
    # late: alembic is heavy and only the db commands need it (see alembic_config)
    from alembic import command

    command.current(alembic_config())


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    # late: alembic is heavy and only the db commands need it (see alembic_config)
    from alembic import command

    command.revision(alembic_config(), message=message, autogenerate=True)


@areas_cli.command("load")
@click.argument("path", required=False)
def areas_load(path: str | None) -> None:
    """Load (or reload) the city's areas and associations from a JSON file."""
    bot = current_bot()
    path = path or bot.config.area_file
    try:
        with bot.db.session() as s:
            report = load_city(s, path)
    except CityFileError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"loaded {report.areas} areas and {report.associations} associations from {path}")


@areas_cli.command("locate")
@click.argument("code")
@click.argument("lat", type=float)
@click.argument("lon", type=float)
def areas_locate(code: str, lat: float, lon: float) -> None:
    """Say where an area is (its centre, degrees WGS84): residents of it get the open shelters
    nearest it first. The city file's "lat" and "lon" do the same at `areas load`."""
    if not valid_place(lat, lon):
        raise click.BadParameter("latitude -90..90 and longitude -180..180")
    with current_bot().db.session() as s:
        area = s.scalar(select(Area).where(Area.code == code))
        if area is None:
            raise click.ClickException(f"no area with code {code}")
        area.lat, area.lon = lat, lon
    click.echo(f"area {code} is at {lat}, {lon}")


@demo_cli.command("seed")
def demo_seed() -> None:
    """Load the demo city, its residents, roster, events, a circular, shelters and console accounts
    (safe to run again); print the join codes and the console's accounts with their passwords."""
    bot = current_bot()
    now = utcnow()
    with bot.db.session() as s:
        load_city(s, bot.config.area_file)
        names = demo.seed(s)
        if garbage.current(s) is None:  # a sample garbage calendar (5374 format) to try 「ごみの日」
            demo_cal = ROOT / "data" / "garbage" / "demo"
            garbage.store(s, garbage5374.load_dir(demo_cal), str(demo_cal), now)
        made = demo.seed_events(s, bot.config, now)
        circ = demo.seed_circular(s, bot.config, now)
        demo.seed_shelters(s, now)
        lines = demo.seed_accounts(s, current_app.instance_path)
        codes = [(a.name, a.join_code) for a in s.scalars(select(Association).order_by(Association.id))]
        happenings = [f"event {e.id} {e.title}" for e in made] + ([f"circular {circ.id} {circ.title}"] if circ else [])
    click.echo("demo residents (the local chat, /chat): " + ", ".join(names))
    click.echo("demo content: " + "; ".join(happenings))
    click.echo("join codes (a new resident types one when asked for their association): "
               + ", ".join(f"{name} {code}" for name, code in codes))
    click.echo("console (/console), demo accounts:")
    for line in lines:
        a = line.account
        shown = f"password {line.password}" if line.password else "(its password was changed since the demo made it)"
        click.echo(f"  user {a.username:<12} {shown}  [{a.role}{' ' + a.han if a.han else ''}]")
    if lines:
        click.echo(f"  (kept in {demo.accounts_file(current_app.instance_path)}; a new password: "
                   "flask --app bot staff password USER [--generate])")
    else:
        click.echo("  none made: this console has accounts of its own (flask --app bot staff list)")


@outbox_cli.command("status")
def outbox_status() -> None:
    """How many messages are pending, sending, sent, dead or cancelled."""
    with current_bot().db.session() as s:
        counts = status_counts(s)
    for status in OutboxStatus:
        click.echo(f"{status:10} {counts.get(status, 0)}")


@outbox_cli.command("dead")
@click.option("--limit", default=50, show_default=True)
def outbox_dead(limit: int) -> None:
    """Messages that could not be sent, newest first (ids and errors only, no content)."""
    with current_bot().db.session() as s:
        rows = dead_letters(s, limit)
        for r in rows:
            click.echo(f"{r.id:>8}  {r.created_at:%Y-%m-%d %H:%M}Z  attempts={r.attempts}  recipients={len(r.recipients)}  {r.last_error or ''}")
    if not rows:
        click.echo("no dead letters")


@outbox_cli.command("requeue")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True, help="Requeue every dead letter.")
def outbox_requeue(ids: tuple[int, ...], all_: bool) -> None:
    """Send dead-lettered messages again (by id, or --all)."""
    if not ids and not all_:
        raise click.UsageError("give message ids, or --all")
    with current_bot().db.session() as s:
        n = requeue(s, None if all_ else list(ids))
    click.echo(f"requeued {n} messages")


@aid_cli.command("record-hours")
@click.argument("request_id", type=int)
@click.argument("hours", type=float)
def aid_record_hours(request_id: int, hours: float) -> None:
    """Record HOURS of help for a matched request, for a resident who cannot do it in LINE."""
    with current_bot().db.session() as s:
        req = mutual_aid.get_request(s, request_id)
        helper = mutual_aid.counterpart(s, req, req.requester) if req is not None else None
        if helper is None:
            raise click.ClickException(f"request {request_id} is not matched with a helper")
        try:
            services.apply(s, aid.record_hours_by_staff(s, req, round(hours * 60), utcnow()), "cli")
        except timebank.LedgerError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"recorded {timebank.format_minutes(round(hours * 60))} hours for request {request_id}")


@aid_cli.command("close")
@click.argument("request_id", type=int)
def aid_close(request_id: int) -> None:
    """Close a request (for example one reported as inappropriate)."""
    with current_bot().db.session() as s:
        req = mutual_aid.get_request(s, request_id)
        if req is None:
            raise click.ClickException(f"no request {request_id}")
        try:
            services.apply(s, aid.close_by_staff(s, req, utcnow()), "cli")
        except mutual_aid.AidError:
            raise click.ClickException(f"request {request_id} is already finished ({req.status})") from None
    click.echo(f"request {request_id} closed")


@aid_cli.command("reported")
def aid_reported() -> None:
    """Requests and relayed messages hidden after reports, for staff review (ids only)."""
    with current_bot().db.session() as s:
        for r in s.scalars(select(HelpRequest).where(HelpRequest.report_count > 0)).unique():
            click.echo(f"request {r.id}: {r.report_count} reports, status {r.status}")
        for m in s.scalars(select(RelayMessage).where(RelayMessage.report_count > 0)):
            click.echo(f"message {m.id} (request {m.request_id}): {m.report_count} reports, hidden={m.hidden}")


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Make one pass and exit.")
def worker_cmd(once: bool) -> None:
    """Send what is in the outbox (the Procfile's `worker`)."""
    if once:
        click.echo(f"sent or attempted {worker.run_once(current_bot())} rows")
        return
    worker.run_forever(current_bot())


@click.command("clock")
@with_appcontext
def clock_cmd() -> None:
    """Run the one scheduler process (the Procfile's `clock`)."""
    try:
        run_clock(current_bot())
    except AnotherClockRunning as exc:
        click.echo(f"clock: {exc}", err=True)
        raise SystemExit(1) from None


def init_app(app: Flask) -> None:
    for cmd in (db_cli, areas_cli, demo_cli, outbox_cli, aid_cli, events_cli, circulars_cli, worker_cmd, clock_cmd,
                announce_cmd, announcements_cli, garbage_cli, richmenu_cli, staff_cli, residents_cli, safety_cli,
                shelters_cli):
        app.cli.add_command(cmd)


residents_cli = AppGroup("residents", help="Residents' data: export on request.")


@residents_cli.command("export")
@click.option("--nickname", help="find the resident by nickname (must be unique)")
@click.option("--id", "resident_id", type=int, help="the resident's number (console, `circulars members`)")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="a JSON file")
def residents_export(nickname, resident_id, out):
    """Everything kept about one resident, when they ask to see it (APPI)."""
    if bool(nickname) == bool(resident_id):
        raise click.UsageError("give --nickname or --id")
    bot = current_bot()
    with bot.db.read() as s:
        if resident_id:
            found = [s.get(Resident, resident_id)] if s.get(Resident, resident_id) else []
        else:
            found = list(s.scalars(select(Resident).where(Resident.nickname == nickname)))
        if len(found) != 1:
            raise click.ClickException(f"{len(found)} residents match; use --id")
        data = residents.export(s, found[0], bot.config.tz_name)
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2)
    click.echo(f"wrote {out}: " + ", ".join(f"{k} {len(v) if isinstance(v, list) else 1}" for k, v in data.items()))
