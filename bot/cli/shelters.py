"""`flask --app bot shelters …`: the city's shelters (指定緊急避難場所) from GSI's open data;
open and close them."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from bot import services
from bot.core.db import utcnow
from bot.core.i18n import LANGUAGES
from bot.core.models import Shelter
from bot.services import shelters
from bot.wiring import current_bot

shelters_cli = AppGroup("shelters", help="Shelters (指定緊急避難場所): import GSI's CSV, open and close them.")


@shelters_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_cmd(path):
    """Import (or re-import) GSI's CSV of designated emergency evacuation sites. Sites are matched
    by 共通ID: a re-import updates them and keeps which are open."""
    try:
        sites, report = shelters.read_csv(Path(path).read_bytes())
    except shelters.ShelterFileError as exc:
        raise click.ClickException(str(exc)) from None
    with current_bot().db.session() as s:
        shelters.store(s, sites, report, utcnow())
    skipped = sum(report.skipped.values())
    click.echo(f"read {report.rows} rows ({report.encoding}): {report.added} shelters added, {report.updated} updated, "
               f"{skipped} rows skipped")
    for reason, n in report.skipped.most_common():
        click.echo(f"  skipped {n}: {reason}")
    click.echo("hazards: " + (", ".join(f"{code} {report.hazards[code]}" for code, _, _ in shelters.HAZARDS
                                        if report.hazards[code]) or "none marked"))
    if report.not_in_file:
        click.echo(f"{report.not_in_file} shelters already in the database are not in this file (kept as they are)")


def _one(s, name_or_id: str) -> Shelter:
    found = shelters.find(s, name_or_id)
    if not found:
        raise click.ClickException(f"no shelter {name_or_id!r} (give its number from `shelters list`, its 共通ID or its name)")
    if len(found) > 1:
        raise click.ClickException(f"{len(found)} shelters match {name_or_id!r}: "
                                   + ", ".join(f"{x.id} {x.name}" for x in found[:10]) + " — give the number")
    return found[0]


def _set(name_or_id: str, is_open: bool) -> None:
    with current_bot().db.session() as s:
        shelter = _one(s, name_or_id)
        outcome = shelters.set_open(s, shelter, is_open, utcnow())
        services.apply(s, outcome, "cli")
        what = f"{shelter.id} {shelter.name}"
    state = "open" if is_open else "closed"
    click.echo(f"shelter {what} is now {state}" if outcome.facts["changed"] else f"shelter {what} was already {state}")


@shelters_cli.command("open")
@click.argument("name_or_id")
def open_cmd(name_or_id):
    """Mark a shelter open (by its number, 共通ID or name): residents are shown it."""
    _set(name_or_id, True)


@shelters_cli.command("close")
@click.argument("name_or_id")
def close_cmd(name_or_id):
    """Mark a shelter closed."""
    _set(name_or_id, False)


@shelters_cli.command("name")
@click.argument("name_or_id")
@click.argument("language", type=click.Choice([code for code in LANGUAGES if code != "ja"]))
@click.argument("text")
def name_cmd(name_or_id, language, text):
    """Give a shelter's name in another language (empty TEXT removes it); without one, readers of
    other languages get the name in Latin letters."""
    with current_bot().db.session() as s:
        shelter = _one(s, name_or_id)
        names = dict(shelter.names or {})
        if text.strip():
            names[language] = text.strip()[:200]
        else:
            names.pop(language, None)
        shelter.names = names
    click.echo(f"shelter {shelter.id}: {language} name {'set' if text.strip() else 'removed'}")


@shelters_cli.command("list")
@click.option("--open", "only_open", is_flag=True, help="only the open ones")
def list_cmd(only_open):
    """The shelters in the order of the city's list: number, open or closed, name, hazards."""
    with current_bot().db.read() as s:
        stmt = select(Shelter).order_by(Shelter.position, Shelter.id)
        if only_open:
            stmt = stmt.where(Shelter.is_open.is_(True))
        rows = list(s.scalars(stmt))
        for x in rows:
            click.echo(f"{x.id}\t{'OPEN' if x.is_open else 'closed'}\t{x.name}\t{x.address}\t"
                       f"{','.join(shelters.hazard_codes(x.hazards)) or '-'}")
    if not rows:
        click.echo("no shelters" + (" open" if only_open else " (import GSI's CSV with `shelters import FILE`)"))
