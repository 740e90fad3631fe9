"""`flask --app bot garbage check|import|days`: the city's garbage calendar (5374.jp open-data
format). `check` reads a city's files and says what an import would bring, without importing;
`import` says the same, shows what changes for residents, and replaces the calendar."""
from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup

from bot.core import garbage5374, timefmt
from bot.core.db import utcnow
from bot.services import garbage
from bot.wiring import current_bot

garbage_cli = AppGroup("garbage", help="The city's garbage collection calendar (5374.jp open-data format).")

SHOWN_WARNINGS = 20


def _source(f):
    f = click.option("--dir", "folder", type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="a folder with area_days.csv and, if the city has them, center.csv, description.csv, "
                          "target.csv, remarks.csv")(f)
    f = click.option("--url", help="the base URL the same files are published under")(f)
    f = click.option("--max-dropped", type=click.FloatRange(0, 100), default=5.0, show_default=True,
                     help="refuse when more than this percentage of the written cells cannot be read in full")(f)
    f = click.option("--warnings-file", type=click.Path(dir_okay=False, path_type=Path),
                     help=f"where all warnings go when there are more than {SHOWN_WARNINGS} "
                          "(default: garbage-warnings.txt in the instance folder)")(f)
    return f


def _read(folder, url, max_dropped, warnings_file):
    """Load, print the summary and the warnings; (calendar, why it must not be imported)."""
    if bool(folder) == bool(url):
        raise click.UsageError("give --dir or --url")
    try:
        cal = garbage5374.load_dir(folder) if folder else garbage5374.load_url(url)
    except garbage5374.CalendarError as exc:
        raise click.ClickException(str(exc)) from None
    bot = current_bot()
    today = utcnow().astimezone(ZoneInfo(bot.config.tz_name)).date()
    summary = garbage5374.summarize(cal, today)
    click.echo(f"garbage calendar from {folder or url}")
    for line in summary.lines():
        click.echo(f"  {line}")
    for w in cal.warnings[:SHOWN_WARNINGS]:
        click.echo(f"warning: {w}")
    if len(cal.warnings) > SHOWN_WARNINGS:
        path = warnings_file or Path(current_app.instance_path) / "garbage-warnings.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(cal.warnings) + "\n", encoding="utf-8")
        click.echo(f"… {len(cal.warnings) - SHOWN_WARNINGS} more warnings: all {len(cal.warnings)} are in {path}")
    problems = summary.problems(max_dropped / 100)
    for p in problems:
        click.echo(f"problem: {p}", err=True)
    return cal, problems


@garbage_cli.command("check")
@_source
def check_cmd(folder, url, max_dropped, warnings_file):
    """Read a city's files and say what an import would bring (nothing is imported). Exits 1
    when too much cannot be read or no area has a collection in the next 30 days."""

    _, problems = _read(folder, url, max_dropped, warnings_file)
    click.echo("Where this reader differs from the original 5374 app:")
    for d in garbage5374.DIFFERENCES:
        click.echo(f"  - {d}")
    if problems:
        raise click.exceptions.Exit(1)
    click.echo("ok: this calendar can be imported")


@garbage_cli.command("import")
@_source
@click.option("--yes", is_flag=True, help="replace the calendar without asking")
@click.option("--force", is_flag=True, help="import even when the check finds a problem")
def import_cmd(folder, url, max_dropped, warnings_file, yes, force):
    """Load (or replace) the calendar: the summary, what changes for residents, then (asked, or
    --yes) the import. Residents of removed areas are asked to choose again at the next evening
    reminder; residents of renamed areas are moved to the new name."""

    cal, problems = _read(folder, url, max_dropped, warnings_file)
    if problems and not force:
        click.echo("nothing imported (fix the files, or give --force)", err=True)
        raise click.exceptions.Exit(1)
    bot = current_bot()
    with bot.db.read() as s:
        old = garbage.current(s)
        counts = garbage.subscribers_by_area(s)
    if old is not None:
        changes = garbage5374.compare(old, cal)
        click.echo("changes from the calendar in use:")
        for line in changes.lines():
            click.echo(f"  {line}")
        moved = sum(counts.get(a, 0) for a in changes.renamed)
        asked = sum(n for a, n in counts.items() if a not in cal.areas and a not in changes.renamed)
        if moved:
            click.echo(f"  {moved} residents' areas were renamed: they are moved to the new names")
        if asked:
            click.echo(f"  {asked} residents chose areas the new calendar does not have: "
                       "they will be asked to choose again at the next evening reminder")
        if not yes and not click.confirm("Replace the calendar in use?", default=False):
            click.echo("nothing imported")
            raise click.exceptions.Exit(1)
        renamed = changes.renamed
    else:
        renamed = {}
    with bot.db.session() as s:
        _, gone, moved_rows = garbage.store(s, cal, str(folder or url), utcnow(), renamed=renamed)
    click.echo(f"imported: {len(cal.areas)} areas, {len(cal.categories)} categories"
               + (f"; {moved_rows} residents moved to renamed areas" if moved_rows else ""))
    if gone:
        click.echo("areas residents chose that the new calendar does not have: " + ", ".join(gone))


@garbage_cli.command("days")
@click.argument("area")
@click.option("--days", type=int, default=14, show_default=True)
def days_cmd(area, days):
    """The next collection days of an area (and the city's notes on them)."""

    bot = current_bot()
    with bot.db.read() as s:
        cal = garbage.current(s)
    if cal is None:
        raise click.ClickException("no calendar imported yet: flask --app bot garbage import …")
    if area not in cal.areas:
        raise click.ClickException(f"no area {area!r}")

    today = utcnow().astimezone(ZoneInfo(bot.config.tz_name)).date()
    for day, labels in cal.upcoming(area, today, days):
        click.echo(f"{timefmt.show_day(day, 'ja')} {'、'.join(labels)}")
    for label, notes in cal.areas[area].remarks.items():
        for note in notes:
            click.echo(f"※ {label}: {note}")
