"""The rich menu: drawn from the catalogs for every language, deployed to the fake LINE API
(which checks LINE's rules for menus and images), residents linked to the menu of their
language. Drawing needs fonts with each language's letters (fontconfig; Debian's
fonts-noto-cjk and fonts-lohit-deva): without them these tests skip, unless
TSUNAGARI_REQUIRE_FONTS=1 (CI) makes that a failure."""
from __future__ import annotations

import io
import os

import pytest
from sqlalchemy import select

from bot.services import richmenu
from handlers import FEATURES
from handlers.features import rich_tiles

from bot.delivery import worker
from bot.core.i18n import LANGUAGES, keywords, normalize_text
from bot.core.models import Resident, RichMenu

try:
    for _loc in LANGUAGES:
        richmenu.font_for(_loc)
    FONTS = True
except richmenu.RichMenuError:
    FONTS = False
    if os.environ.get("TSUNAGARI_REQUIRE_FONTS"):
        raise
pytestmark = pytest.mark.skipif(not FONTS, reason="fonts for every language are not installed (see the docstring)")


@pytest.mark.parametrize("locale", list(LANGUAGES))
def test_each_language_gets_a_legible_menu_within_lines_rules(locale):
    from PIL import Image

    from tests.fakeline import validate_rich_menu

    menu = richmenu.build(rich_tiles(FEATURES), (locale,))[0]
    assert validate_rich_menu(menu.body) is None
    assert len(menu.image) <= 1024 * 1024
    with Image.open(io.BytesIO(menu.image)) as im:
        assert im.size == (2500, 1686)
        # Words were drawn (white pixels on every coloured tile), not left blank.
        rgb = im.convert("RGB")
        for area in menu.body["areas"]:
            b = area["bounds"]
            tile = rgb.crop((b["x"] + 100, b["y"] + 100, b["x"] + b["width"] - 100, b["y"] + b["height"] - 100))
            assert (255, 255, 255) in {c for _, c in tile.getcolors(1 << 20)}
    # Each button sends a word the dispatcher understands.
    wanted = [kw for _, _, kw, _ in rich_tiles(FEATURES)]
    for area, kw in zip(menu.body["areas"], wanted):
        assert normalize_text(area["action"]["text"]) in keywords(kw)


def test_deploy_sets_the_japanese_default_links_everyone_and_replaces_old_menus(runner, bot, db, fake_line, joined):
    ja, en = "U" + "c1" * 16, "U" + "c2" * 16
    joined(ja, name="花子", locale_label="日本語")
    joined(en, name="Emma")
    first = runner.invoke(args=["richmenu", "deploy"])
    assert first.exit_code == 0, first.output
    # everyday, disaster mode's and a drill's, per language
    assert len(fake_line.rich_menus) == 3 * len(LANGUAGES) and len(fake_line.rich_menu_images) == 3 * len(LANGUAGES)
    with db.session() as s:
        ids = {r.locale: r.rich_menu_id for r in s.scalars(select(RichMenu).where(RichMenu.kind == "normal"))}
    assert fake_line.default_rich_menu == ids["ja"]
    assert fake_line.user_rich_menu[en] == ids["en"] and fake_line.user_rich_menu[ja] == ids["ja"]
    second = runner.invoke(args=["richmenu", "deploy"])  # a redeploy replaces, leaves no old menus behind
    assert second.exit_code == 0, second.output
    assert len(fake_line.rich_menus) == 3 * len(LANGUAGES)
    with db.session() as s:
        new_en = s.scalar(select(RichMenu.rich_menu_id).where(RichMenu.kind == "normal", RichMenu.locale == "en"))
    assert new_en != ids["en"] and fake_line.user_rich_menu[en] == new_en


def test_changing_language_links_the_menu_of_the_new_language(line, runner, bot, db, fake_line, joined):
    user = "U" + "c3" * 16
    joined(user, name="Emma")
    assert runner.invoke(args=["richmenu", "deploy"]).exit_code == 0
    line.say(user, "settings")
    line.tap(user, "Language")
    line.tap(user, "日本語")
    while worker.run_once(bot):
        pass
    with db.session() as s:
        ja_menu = s.scalar(select(RichMenu.rich_menu_id).where(RichMenu.kind == "normal", RichMenu.locale == "ja"))
    assert fake_line.user_rich_menu[user] == ja_menu


def test_bulk_links_go_500_at_a_time(runner, bot, db, fake_line):
    from sqlalchemy import insert

    from bot.core.db import utcnow

    with db.session() as s:
        s.execute(insert(Resident.__table__), [
            {"line_user_id": f"Ud{i:031x}", "channel": "line", "locale": "en", "following": True, "consent_at": utcnow(),
             "digest": False, "interests": [], "created_at": utcnow()} for i in range(1200)])
    assert runner.invoke(args=["richmenu", "deploy", "--locale", "ja", "--locale", "en"]).exit_code == 0
    bulk = [c for c in fake_line.calls if c.path == "/v2/bot/richmenu/bulk/link"]
    assert sorted(len(c.body["userIds"]) for c in bulk) == [200, 500, 500]
    assert len(fake_line.user_rich_menu) == 1200
