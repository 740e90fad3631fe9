"""Joining: language → area → association (optional, with a join code) → nickname → consent.

Nothing is stored until the resident agrees to the privacy notice."""
from __future__ import annotations

from bot.core import areas, understand

from bot.services import residents, richmenu, translated
from handlers.context import Ctx
from bot.core.i18n import N_, normalize_locale, t
from bot.core.replies import Reply, Text
from conversations import common
from conversations.engine import Flow, NO, Option, Step, YES
from handlers.menu import main_menu

AGREE, DISAGREE = "agree", "disagree"


def initial(ctx: Ctx) -> dict:
    # The LINE profile's language; else the language of the first message ("Xin chào")
    written = understand.language_of(ctx.inbound.text) if ctx.inbound.text else None
    preferred = normalize_locale(ctx.inbound.profile_language) or written or ctx.locale
    data: dict = {"preferred_locale": preferred, "locale": preferred}
    name = residents.clean_nickname(ctx.inbound.profile_name or "") if ctx.inbound.profile_name else None
    if name:
        data["display_name"] = name
    return data


CONSENT = N_(
    "Last step: privacy.\n"
    "We keep your name for neighbours, your language and your area, and what you send to this bot, "
    "only to run this service for the city. We never show your LINE account to other residents. "
    "You can delete everything at any time by sending “Delete my data”.\n"
    "Do you agree?"
)


def consent_text(ctx: Ctx, data: dict) -> str:
    """The privacy notice; when the city turned machine translation on, it says what goes to the
    provider (before the question on its last line)."""
    locale = data.get("locale") or ctx.locale
    text = t(locale, CONSENT)
    extra = translated.privacy_note(ctx.config, locale)
    if not extra:
        return text
    body, _, question = text.rpartition("\n")
    return f"{body}\n{extra}\n{question}" if body else f"{text}\n{extra}"


def nickname_options(ctx: Ctx, data: dict) -> list[Option]:
    name = data.get("display_name")
    if not name:
        return []
    return [Option("__display", N_("Use “{name}”"), named={"name": name})]


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    resident = ctx.resident
    assert resident is not None
    if data.get("consent") != AGREE:
        return [Text(ctx.t(N_("All right. We have not saved anything. Whenever you want to start, send “Start”.")))]
    resident.locale = data["locale"]
    area = next((a for a in areas.active_areas(ctx.session) if a.code == data.get("area")), None)
    resident.area_id = area.id if area else None
    nickname = data.get("nickname")
    resident.nickname = data.get("display_name") if nickname == "__display" else nickname
    resident.consent_at = ctx.now
    joined = ""
    if isinstance(data.get("association"), int):
        residents.join_association(ctx.session, resident, data["association"], ctx.now)
        joined = "\n" + ctx.t(N_("You have joined your neighbourhood association."))
    ctx.session.flush()
    if resident.locale != ctx.config.default_locale:
        ctx.apply(richmenu.link_later(ctx.session, resident))  # the default menu is the Japanese one
    welcome = ctx.t(N_("Thank you, {name}! You are all set."), name=resident.nickname) + joined
    return [Text(welcome), main_menu(ctx)]


FLOW = Flow(
    name="onboarding",
    first="language",
    initial=initial,
    locale_key="locale",
    on_finish=finish,
    steps={
        "language": Step(
            ask=N_("Welcome to Tsunagari, your neighbourhood's helping hand. Which language do you prefer?"),
            options=common.language_options,
            accept=common.accept_language,
            store="locale",
            next="area",
        ),
        "area": Step(
            ask=N_("Which area do you live in? We use it to show you what happens nearby. We never ask for your address."),
            options=common.area_options,
            accept=common.accept_area,
            next="association",
        ),
        "association": Step(
            ask=N_("If your neighbourhood association gave you a join code, type it now. If not, tap “Skip”."),
            options=[Option(common.SKIP, N_("Skip"))],
            accept=common.accept_join_code,
            next="nickname",
        ),
        "nickname": Step(
            ask=N_("What name should your neighbours see? A nickname is fine."),
            options=nickname_options,
            accept=common.accept_nickname,
            next="consent",
        ),
        "consent": Step(
            ask=consent_text,
            options=[Option(AGREE, N_("I agree"), says=YES), Option(DISAGREE, N_("I do not agree"), says=NO)],
            next=None,
        ),
    },
)
