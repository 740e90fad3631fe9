"""The rich menu: six large buttons under the chat, one menu per language, drawn from the
catalogs. Each button sends the word the dispatcher understands in that language, so a tap
and a typed word do the same. Beside them, disaster mode's menus (four buttons: answer the
safety check, shelters, emergency information, contact; `bot.services.disaster_menu` switches
residents to them while a safety check runs) and a drill's (the same, its chat bar marked).

`flask --app bot richmenu deploy` renders the images (Pillow, system fonts found through
fontconfig: Noto CJK for Japanese, Chinese and Korean, a Devanagari font for Nepali), creates
the menus on LINE, uploads the images, makes the Japanese one the default, links every
resident to the menu of their language (bulk, 500 at a time) and deletes the menus of the
previous deploy. A resident who chooses or changes their language is linked to theirs (an
outbox row, so it is retried like a message)."""
from __future__ import annotations

import hashlib
import io
import logging
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.core.i18n import LANGUAGES, N_, babel_locale, t
from bot.core.models import Resident, RichMenu
from bot.core.vocab import Channel, MenuKind, OutboxKind
from bot.services import Bulk, Outcome, disaster_menu

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 2500, 1686  # LINE's large rich menu
COLS, ROWS = 3, 2  # six tiles; four (disaster mode) are 2 × 2
GRIDS = {6: (3, 2), 4: (2, 2)}
MAX_IMAGE_BYTES = 1024 * 1024
CHAT_BAR_MAX = 14
BULK_MAX = 500

# A tile: (key, label msgid, the keyword msgid whose first word the button sends, colour). The
# six come from the features' records (handlers.features.rich_tiles), given by the caller.
Tile = tuple[str, str, str, str]
CHAT_BAR = N_("Menu")
CHAT_BARS = {MenuKind.NORMAL: CHAT_BAR, MenuKind.DISASTER: N_("Disaster menu"), MenuKind.DRILL: N_("Drill menu")}

# fontconfig's language tag for each catalog (for finding a font that has its letters)
FONT_LANG = {"ja": "ja", "ja_easy": "ja", "en": "en", "zh_Hans": "zh-cn", "ko": "ko", "vi": "vi", "tl": "tl",
             "pt_BR": "pt", "ne": "ne", "id": "id"}


class RichMenuError(RuntimeError):
    pass


@dataclass(frozen=True)
class Menu:
    locale: str
    body: dict
    image: bytes
    kind: str = MenuKind.NORMAL

    @property
    def sha(self) -> str:
        return hashlib.sha256(self.image).hexdigest()[:16]


def word(locale: str, keyword_msgid: str) -> str:
    return t(locale, keyword_msgid).split("|")[0].strip()


def grid(tiles: tuple[Tile, ...]) -> tuple[int, int]:
    if len(tiles) not in GRIDS:
        raise RichMenuError(f"a rich menu has {' or '.join(map(str, GRIDS))} tiles, not {len(tiles)}")
    return GRIDS[len(tiles)]


def body(locale: str, tiles: tuple[Tile, ...], kind: str = MenuKind.NORMAL) -> dict:
    cols, rows = grid(tiles)
    w, h = WIDTH // cols, HEIGHT // rows
    areas = []
    for i, (key, label, keyword, _) in enumerate(tiles):
        col, row = i % cols, i // cols
        areas.append({
            "bounds": {"x": col * w, "y": row * h, "width": WIDTH - col * w if col == cols - 1 else w,
                       "height": HEIGHT - row * h if row == rows - 1 else h},
            "action": {"type": "message", "label": t(locale, label)[:20], "text": word(locale, keyword)},
        })
    name = f"tsunagari-{locale}" if kind == MenuKind.NORMAL else f"tsunagari-{kind}-{locale}"
    return {"size": {"width": WIDTH, "height": HEIGHT}, "selected": True, "name": name,
            "chatBarText": t(locale, CHAT_BARS[kind])[:CHAT_BAR_MAX], "areas": areas}


# -- drawing ----------------------------------------------------------------------------------

def font_for(locale: str, bold: bool = True) -> tuple[str, int]:
    """(file, index) of a font that has the letters of `locale`, found through fontconfig."""
    if not shutil.which("fc-match"):
        raise RichMenuError("fontconfig (fc-match) is needed to draw the rich menu")
    lang = FONT_LANG.get(locale, babel_locale(locale))
    pattern = f"sans-serif:lang={lang}" + (":weight=bold" if bold else "")
    out = subprocess.run(["fc-match", "-f", "%{file}\n%{index}\n%{lang}", pattern], capture_output=True, text=True,
                         check=False).stdout.split("\n")
    if len(out) < 3 or lang.split("-")[0] not in {x.split("-")[0] for x in out[2].split("|")}:
        raise RichMenuError(f"no font with {lang} letters; install fonts-noto-cjk and fonts-lohit-deva (Debian)")
    return out[0], int(out[1] or 0)


def _wrap(draw, text: str, font, max_width: int) -> list[str]:
    """Break at spaces for languages that use them, else between characters."""
    words = text.split(" ") if " " in text else list(text)
    joiner = " " if " " in text else ""
    lines, current = [], ""
    for w in words:
        trial = (current + joiner + w) if current else w
        if draw.textlength(trial, font=font) <= max_width:
            current = trial
        else:
            if current:
                lines.append(current)
            current = w
    if current:
        lines.append(current)
    return lines


def image(locale: str, tiles: tuple[Tile, ...]) -> bytes:
    """The menu's picture: six (or four) coloured tiles with large white words (PNG, well
    under 1 MB)."""
    path, index = font_for(locale)
    img = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(img)
    cols, rows = grid(tiles)
    w, h = WIDTH // cols, HEIGHT // rows
    pad = 18
    for i, (_, label, _, colour) in enumerate(tiles):
        col, row = i % cols, i // cols
        box = (col * w + pad, row * h + pad, (col + 1) * w - pad, (row + 1) * h - pad)
        draw.rounded_rectangle(box, radius=48, fill=colour)
        text = t(locale, label)
        size = 150
        while True:  # the largest size at which the words fit in at most 3 lines
            font = ImageFont.truetype(path, size, index=index)
            lines = _wrap(draw, text, font, box[2] - box[0] - 80)
            line_h = int(size * 1.25)
            if (len(lines) <= 3 and line_h * len(lines) <= box[3] - box[1] - 80) or size <= 60:
                break
            size -= 6
        top = (box[1] + box[3]) // 2 - line_h * len(lines) // 2
        for n, line in enumerate(lines):
            x = (box[0] + box[2]) // 2 - draw.textlength(line, font=font) // 2
            draw.text((x, top + n * line_h), line, font=font, fill="white")
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    data = out.getvalue()
    if len(data) > MAX_IMAGE_BYTES:
        raise RichMenuError(f"the {locale} menu image is {len(data)} bytes, over LINE's 1 MB")
    return data


def build(tiles: tuple[Tile, ...], locales: tuple[str, ...] | None = None,
          disaster: tuple[Tile, ...] = ()) -> list[Menu]:
    """The menus of each language; with `disaster` tiles, disaster mode's and a drill's too
    (one picture for both: only the chat bar differs)."""
    out = []
    for loc in locales or tuple(LANGUAGES):
        out.append(Menu(loc, body(loc, tiles), image(loc, tiles)))
        if disaster:
            picture = image(loc, disaster)
            out += [Menu(loc, body(loc, disaster, kind), picture, kind) for kind in (MenuKind.DISASTER, MenuKind.DRILL)]
    return out


# -- LINE -------------------------------------------------------------------------------------

def deploy(session_factory, line, menus: list[Menu], now: datetime, default_locale: str = "ja",
           log_to=print) -> dict[str, str]:
    """Create and upload the menus, set the default, link residents, delete the old menus.
    Returns {(kind, locale): richMenuId}. `session_factory()` gives a transaction
    (Database.session). Residents in disaster mode now are linked to its new menus."""
    ids: dict[tuple[str, str], str] = {}
    for menu in menus:
        res = line.call("POST", "/v2/bot/richmenu", menu.body)
        if not res.ok or not (res.data or {}).get("richMenuId"):
            raise RichMenuError(f"creating the {menu.locale} menu failed: {res.status} {res.error}")
        rid = res.data["richMenuId"]
        up = line.call("POST", f"/v2/bot/richmenu/{rid}/content", menu.image, data_host=True, content_type="image/png")
        if not up.ok:
            raise RichMenuError(f"uploading the {menu.locale} image failed: {up.status} {up.error}")
        ids[(menu.kind, menu.locale)] = rid
        log_to(f"{menu.locale}{'' if menu.kind == MenuKind.NORMAL else ' ' + menu.kind}: menu {rid} "
               f"({len(menu.image) // 1024} KB)")
    default = ids.get((MenuKind.NORMAL, default_locale))
    if default:
        res = line.call("POST", f"/v2/bot/user/all/richmenu/{default}", None)
        if not res.ok:
            raise RichMenuError(f"setting the default menu failed: {res.status} {res.error}")
    with session_factory() as s:
        old = {(row.kind, row.locale): row.rich_menu_id for row in s.scalars(select(RichMenu))}
        s.execute(delete(RichMenu).where(RichMenu.kind.in_({kind for kind, _ in ids})))
        s.add_all(RichMenu(kind=kind, locale=loc, rich_menu_id=rid, deployed_at=now) for (kind, loc), rid in ids.items())
        live = disaster_menu.live_kinds(s)
    linked = 0
    for (kind, loc), rid in ids.items():
        with session_factory() as s:
            rows = s.execute(select(Resident.id, Resident.line_user_id).where(
                Resident.locale == loc, Resident.following.is_(True), Resident.channel == Channel.LINE)).all()
        users = [u for r, u in rows if live.get(r, MenuKind.NORMAL) == kind]
        for i in range(0, len(users), BULK_MAX):
            _with_retry(line, "POST", "/v2/bot/richmenu/bulk/link", {"richMenuId": rid, "userIds": users[i:i + BULK_MAX]})
            linked += len(users[i:i + BULK_MAX])
    log_to(f"linked {linked} residents to the menu of their language")
    for key, rid in old.items():
        if rid not in ids.values() and key[0] in {kind for kind, _ in ids}:
            line.call("DELETE", f"/v2/bot/richmenu/{rid}", None)
    return ids


def _with_retry(line, method: str, path: str, body, attempts: int = 6):
    for n in range(attempts):
        res = line.call(method, path, body)
        if res.ok:
            return res
        if res.status not in (429, 500, 502, 503, 504, None, 0):
            raise RichMenuError(f"{path} failed: {res.status} {res.error}")
        time.sleep(min(60.0, res.retry_after or 2.0 ** n))
    raise RichMenuError(f"{path} kept failing: {res.status} {res.error}")


def link_later(session: Session, resident: Resident) -> Outcome:
    """Link a resident to the menu of their (new) language: an outbox row, sent by the worker."""
    out = Outcome()
    if resident.channel != Channel.LINE or not resident.following:
        return out
    kind = disaster_menu.live_kinds(session).get(resident.id, MenuKind.NORMAL)  # disaster mode stays
    rid = session.scalar(select(RichMenu.rich_menu_id).where(RichMenu.kind == kind, RichMenu.locale == resident.locale))
    if rid is not None:
        out.bulks.append(Bulk(Channel.LINE, (resident.line_user_id,), (), source="richmenu", rank=1,
                              kind=OutboxKind.RICHMENU, resident_id=resident.id, payload=({"richMenuId": rid},)))
    return out
