"""`flask --app bot announce …`, `announcements …` and `richmenu …`: the center's announcements
and the rich menus, for staff and scripts."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from bot import services
from bot.core import media, timefmt
from bot.core.db import utcnow
from bot.core.models import Announcement
from bot.core.recurrence import ParseError, parse
from bot.core.vocab import MenuKind, RuleKind
from bot.services import announcements, richmenu
from bot.services.announcements import AnnouncementError
from bot.wiring import current_bot
from handlers import FEATURES
from handlers.features import disaster_tiles, rich_tiles


def _fail(exc) -> click.ClickException:
    return click.ClickException(exc.render("en", current_bot().config.tz_name))


@click.command("announce")
@with_appcontext
@click.option("--text", required=True, help="the notice, in Japanese")
@click.option("--translation", "translation_opts", multiple=True, metavar="LANG=TEXT", help="e.g. en=\"…\" (repeat)")
@click.option("--translations", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSON: {"en": "…", …}')
@click.option("--link", help="an https:// link")
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="a photo (JPEG/PNG)")
@click.option("--at", "at", help="local time to send, e.g. 2026-12-20T09:00 (default: now)")
@click.option("--every", help="repeat, e.g. 「毎週火曜 7:00」, 「第2火曜 10:00」, \"every day 8:00\"")
@click.option("--to", "to", multiple=True, default=("all",), show_default=True,
              help="all | area:NAME | association:NAME | lang:CODE | topic:CODE (repeat; kinds combine with AND)")
@click.option("--urgent", is_flag=True, help="防災・防犯・緊急: marked urgent, sent through quiet hours and digests")
@click.option("--preview", is_flag=True, help="show the message and the audience, send nothing")
@click.option("--yes", is_flag=True, help="confirm an urgent notice without asking")
def announce_cmd(text, translation_opts, translations, link, image, at, every, to, urgent, preview, yes):
    """Send an announcement now, at a time, or repeatedly."""

    bot = current_bot()
    tz = bot.config.tz_name
    now = utcnow()
    tr = json.loads(translations.read_text(encoding="utf-8")) if translations else {}
    for opt in translation_opts:
        lang, sep, value = opt.partition("=")
        if not sep:
            raise click.BadParameter("--translation takes LANG=TEXT")
        tr[lang.strip()] = value
    when = timefmt.parse_local(at, tz) if at else None
    rule = None
    if every:
        try:
            rule, _ = parse(f"{every} _", now, tz)
        except ParseError as exc:
            raise click.BadParameter(f"--every: {exc.reason}") from None
        if rule.kind == RuleKind.ONCE:
            raise click.BadParameter("--every needs a repeating time (毎週…, 毎月…, every day …); use --at for once")
    raw = image.read_bytes() if image else None
    with bot.db.read() as s:  # counting a city takes a while: no write lock meanwhile
        try:
            audience = announcements.parse_audience(s, list(to))
        except AnnouncementError as exc:
            raise _fail(exc) from None
        counts = announcements.count(s, audience)
    total = sum(counts.values())
    click.echo(f"audience: {announcements.describe_audience(audience)} — {total} residents "
               + "(" + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ")")
    missing = sorted(loc for loc in counts if loc != "ja" and loc not in tr)
    if missing:
        click.echo(f"no translation for: {', '.join(missing)} (they get the Japanese with a note)")
    if preview:
        probe = Announcement(text=text, translations=tr, link_url=link, urgent=urgent)
        for loc in sorted(counts) or ["ja"]:
            click.echo(f"--- {loc} ---\n{announcements.text_for(probe, loc)}")
        return
    if urgent and not yes:  # asked before any transaction: a person may take their time
        click.confirm(f"URGENT notice to {total} residents, sent at once even in their quiet hours. Send it?",
                      abort=True)
    with bot.db.session() as s:
        try:
            image_id = media.store(s, raw).id if raw is not None else None
        except media.NotAnImage:
            raise click.BadParameter("--image is not a JPEG/PNG photo of at most 10 MB") from None
        try:
            ann, out = announcements.create(s, text=text, audience=audience, now=now, at=when, rule=rule,
                                            translations=tr, link=link, image_id=image_id, urgent=urgent,
                                            created_by="cli", tz_name=tz)
            services.apply(s, out, "cli")
        except AnnouncementError as exc:
            raise _fail(exc) from None
        first = timefmt.show(ann.next_fire_at, "en", tz) if ann.next_fire_at else "-"
    click.echo(f"announcement {ann.id} scheduled for {first}" + (" (urgent)" if urgent else "")
               + (f", repeating: {every}" if rule else ""))


announcements_cli = AppGroup("announcements", help="The center's announcements: list, cancel.")


@announcements_cli.command("list")
@click.option("--limit", type=int, default=20, show_default=True)
def list_cmd(limit):
    """Recent announcements with their runs and delivery status."""
    bot = current_bot()
    tz = bot.config.tz_name
    with bot.db.read() as s:
        for ann, runs, status in announcements.history(s, limit):
            nxt = timefmt.show(ann.next_fire_at, "en", tz) if ann.next_fire_at else "-"
            flag = " URGENT" if ann.urgent else ""
            click.echo(f"announcement {ann.id} [{ann.status}{flag}] next: {nxt} to {announcements.describe_audience(ann.audience)}: "
                       f"{ann.text[:40]!r}")
            for run in runs:
                click.echo(f"  run {timefmt.show(run.fire_time, 'en', tz)}: {run.status}, {run.recipients} residents, "
                           f"{run.digested} in digests, {run.calls} LINE calls ({run.method or '-'})")
            if status:
                click.echo("  messages: " + ", ".join(f"{k} {v}" for k, v in sorted(status.items())))


@announcements_cli.command("cancel")
@click.argument("announcement_id", type=int)
def cancel_cmd(announcement_id):
    """Cancel an announcement before it goes out (or stop a repeating one)."""

    with current_bot().db.session() as s:
        ann = s.get(Announcement, announcement_id)
        if ann is None:
            raise click.ClickException(f"no announcement {announcement_id}")
        try:
            services.apply(s, announcements.cancel(s, ann), "cli")
        except AnnouncementError as exc:
            raise _fail(exc) from None
    click.echo(f"announcement {announcement_id} cancelled")


richmenu_cli = AppGroup("richmenu", help="The rich menu: six large buttons, one menu per language (and disaster mode's).")


@richmenu_cli.command("images")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--locale", "locales", multiple=True, help="only these languages")
def richmenu_images(out, locales):
    """Draw the menus' pictures into a folder, to look at before deploying."""

    out.mkdir(parents=True, exist_ok=True)
    try:
        menus = richmenu.build(rich_tiles(FEATURES), tuple(locales) or None, disaster_tiles(FEATURES))
    except richmenu.RichMenuError as exc:
        raise click.ClickException(str(exc)) from None
    for menu in menus:
        if menu.kind == MenuKind.DRILL:
            continue  # the disaster menu's picture
        path = out / (f"richmenu-{menu.locale}.png" if menu.kind == MenuKind.NORMAL else
                      f"richmenu-{menu.kind}-{menu.locale}.png")
        path.write_bytes(menu.image)
        click.echo(f"{path} ({len(menu.image) // 1024} KB): " + " / ".join(a["action"]["label"] for a in menu.body["areas"]))


@richmenu_cli.command("deploy")
@click.option("--locale", "locales", multiple=True, help="only these languages (default: all the bot speaks)")
def richmenu_deploy(locales):
    """Create the menus on LINE (the everyday ones, disaster mode's and a drill's), make the
    Japanese one the default, link every resident to the menu of their language (disaster
    mode's while a safety check asks them), and delete the previous ones."""

    bot = current_bot()
    if bot.line is None:
        raise click.ClickException("no LINE channel configured (LINE_CHANNEL_ACCESS_TOKEN)")
    try:
        menus = richmenu.build(rich_tiles(FEATURES), tuple(locales) or None, disaster_tiles(FEATURES))
        ids = richmenu.deploy(bot.db.session, bot.line, menus, utcnow(), bot.config.default_locale, log_to=click.echo)
    except richmenu.RichMenuError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"deployed {len(ids)} rich menus ({len({loc for _, loc in ids})} languages; everyday, disaster and drill)")
