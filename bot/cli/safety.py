"""`flask --app bot safety …`: safety checks (安否確認) for the center's staff."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from bot import services
from bot.core import jma as jma_words
from bot.core import timefmt
from bot.core.areas import find_association_by_code
from bot.core.db import utcnow
from bot.core.errors import UserError
from bot.core.models import Area, PreparedCheck, SafetyCheck
from bot.services import jma, safety
from bot.wiring import current_bot

safety_cli = AppGroup("safety", help="Safety checks (安否確認): ask residents whether they are safe.")


def _scope(s, to: str) -> dict:
    kind, _, value = to.partition(":")
    if kind == "all" and not value:
        return {"all": True}
    if kind == "area":
        codes = [c for c in value.split(",") if c]
        known = set(s.scalars(select(Area.code).where(Area.code.in_(codes))))
        if not codes or known != set(codes):
            raise click.BadParameter(f"unknown area code(s): {', '.join(sorted(set(codes) - known)) or '(none given)'}")
        return {"areas": codes}
    if kind == "association":
        assoc = find_association_by_code(s, value)
        if assoc is None:
            raise click.BadParameter(f"no association with join code {value}")
        return {"association": assoc.id}
    raise click.BadParameter("--to takes all, area:CODE[,CODE…] or association:JOIN-CODE")


@safety_cli.command("start")
@click.option("--to", "to", required=True, help="all | area:CODE[,CODE…] | association:JOIN-CODE")
@click.option("--drill", is_flag=True, help="a drill (訓練): marked as such in every message")
@click.option("--note", default="", help="one line for residents, e.g. 「震度5弱の地震がありました」")
@click.option("--reask-minutes", type=click.IntRange(0, 24 * 60), default=30, show_default=True,
              help="ask those who have not answered once more after this long (0: never)")
@click.option("--yes", is_flag=True, help="start without asking for confirmation")
def start(to, drill, note, reask_minutes, yes):
    """Ask every resident in scope now (through quiet hours) whether they are safe."""
    bot = current_bot()
    with bot.db.read() as s:
        scope = _scope(s, to)
        n = len(safety.audience(s, scope))
    what = "DRILL safety check" if drill else "safety check"
    if not yes and not click.confirm(f"Start a {what} asking {n} residents now?"):
        raise SystemExit(1)
    with bot.db.session() as s:
        check, outcome = safety.start(s, scope, utcnow(), drill=drill, note=note or None, started_by="cli",
                                      reask_minutes=reask_minutes)
        services.apply(s, outcome, "cli")
        check_id = check.id
    f = outcome.facts
    click.echo(f"{what} {check_id} started: {f['residents']} residents asked ({f['messages']} messages), "
               f"{f['paper_households']} paper households for their leaders to mark")


@safety_cli.command("status")
@click.argument("check_id", type=int)
@click.option("--association", "code", help="the households of one association (join code)")
def status(check_id, code):
    """The tally of a check; with --association, its households, the most urgent first."""
    with current_bot().db.read() as s:
        check = s.get(SafetyCheck, check_id)
        if check is None:
            raise click.ClickException(f"no safety check {check_id}")
        tally = safety.tally(s, check)
        click.echo(f"check {check.id}{' (drill)' if check.drill else ''}{' ended' if check.ended_at else ''}: "
                   f"safe {tally['safe']}, needs help {tally['help']}, evacuated {tally['evacuated']}, "
                   f"no answer {tally['none']}")
        evacuated = safety.by_shelter(s, check)
        if evacuated:
            click.echo("evacuated, by shelter: " + ", ".join(f"{x.name if x else '(not said)'} {n}" for x, n in evacuated))
        if code:
            assoc = find_association_by_code(s, code)
            if assoc is None:
                raise click.BadParameter(f"no association with join code {code}")
            for h in safety.households(s, check, assoc.id):
                click.echo(f"{h.status or 'no answer'}\t{h.han or ''}\t{h.household}{' (paper)' if h.paper else ''}"
                           + (f"\t{' / '.join(h.notes)}" if h.notes else ""))


@safety_cli.command("end")
@click.argument("check_id", type=int)
def end(check_id):
    """End a check: answers are no longer taken, nobody is asked again."""
    bot = current_bot()
    with bot.db.session() as s:
        check = s.get(SafetyCheck, check_id)
        if check is None:
            raise click.ClickException(f"no safety check {check_id}")
        try:
            outcome = safety.end(s, check, utcnow(), "cli")
        except UserError:
            raise click.ClickException(f"safety check {check_id} has already ended") from None
        services.apply(s, outcome, "cli")
    click.echo(f"safety check {check_id} ended: " + ", ".join(f"{k} {v}" for k, v in outcome.facts.items()))


@safety_cli.command("list")
def list_cmd():
    """Running checks, and the checks prepared from the JMA's feeds waiting for a tap."""
    bot = current_bot()
    tz = bot.config.tz_name
    with bot.db.read() as s:
        for check in safety.active(s):
            t = safety.tally(s, check)
            click.echo(f"running: check {check.id}{' (drill)' if check.drill else ''} since "
                       f"{timefmt.show(check.created_at, 'en', tz)}, menus {check.menu_state or '-'}: "
                       f"safe {t['safe']}, needs help {t['help']}, evacuated {t['evacuated']}, no answer {t['none']}")
        for p in jma.open_prepared(s):
            click.echo(f"prepared: {p.id} at {timefmt.show(p.created_at, 'en', tz)}: "
                       f"{jma_words.describe(p.event, 'en')} — start with: flask --app bot safety start-prepared {p.id}")


def _prepared(s, prepared_id: int) -> PreparedCheck:
    p = s.get(PreparedCheck, prepared_id)
    if p is None:
        raise click.ClickException(f"no prepared check {prepared_id}")
    return p


@safety_cli.command("start-prepared")
@click.argument("prepared_id", type=int)
def start_prepared(prepared_id):
    """Start a check prepared from the JMA's feeds: everyone is asked now."""
    bot = current_bot()
    with bot.db.session() as s:
        try:
            check, outcome = jma.start(s, _prepared(s, prepared_id), bot.config, utcnow(), "cli")
        except UserError as exc:
            raise click.ClickException(exc.render("en", bot.config.tz_name)) from None
        services.apply(s, outcome, "cli")
        check_id = check.id
    click.echo(f"safety check {check_id} started: {outcome.facts['residents']} residents asked "
               f"({outcome.facts['messages']} messages)")


@safety_cli.command("dismiss")
@click.argument("prepared_id", type=int)
def dismiss(prepared_id):
    """Set a prepared check aside without asking anyone."""
    bot = current_bot()
    with bot.db.session() as s:
        try:
            services.apply(s, jma.dismiss(s, _prepared(s, prepared_id), utcnow(), "cli"), "cli")
        except UserError as exc:
            raise click.ClickException(exc.render("en", bot.config.tz_name)) from None
    click.echo(f"prepared check {prepared_id} dismissed")
