"""A leader writes a circular in LINE: title → text → link → photo → question → deadline → who
gets it → preview → send. Every step can be left with 「やめる」; nothing is sent before the preview."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy import select

from bot.services import circulars
from bot.core import timefmt
from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.models import Association, Household, Media
from bot.core.replies import Choice, Question, Reply, Text, postback
from bot.core.vocab import CircularQuestion
from conversations import common
from conversations.engine import Answer, Flow, Invalid, Option, Step, YES, branch

NONE = "none"
WHOLE = "__all"


def led_association(ctx: Ctx) -> Association | None:
    ids = [a for a, han in circulars.led_by(ctx.session, ctx.resident) if han is None] if ctx.resident else []
    return ctx.session.get(Association, ids[0]) if ids else None


def accept_link(ctx: Ctx, data: dict, answer: Answer) -> str:
    text = (answer.text or "").strip()
    if re.fullmatch(r"https?://[^\s<>\"]{3,490}", text):
        return text
    raise Invalid(N_("Please send a link starting with https://, or tap “No link”."))


def accept_photo(ctx: Ctx, data: dict, answer: Answer) -> str:
    if answer.photo:
        return answer.photo  # the webhook stored it (bot/web/webhook.py)
    if answer.photo == "":
        raise Invalid(N_("Sorry, that photo could not be used. Please send another one (JPEG or PNG), or tap “No photo”."))
    raise Invalid(N_("Please send a photo, or tap “No photo”."))


def accept_choices(ctx: Ctx, data: dict, answer: Answer) -> list[str]:
    text = unicodedata.normalize("NFKC", answer.text or "")
    parts = [p.strip() for p in re.split(r"[,、/\n]", text) if p.strip()]
    if not 2 <= len(parts) <= 6 or any(len(p) > 20 for p in parts):
        raise Invalid(N_("Please write 2 to 6 choices of up to 20 characters, separated by “、”."))
    return parts


def audience_options(ctx: Ctx, data: dict) -> list[Option]:
    assoc = led_association(ctx)
    opts = [Option(WHOLE, N_("Whole association"))]
    if assoc is not None:
        hans = sorted(set(ctx.session.scalars(
            select(Household.han).where(Household.association_id == assoc.id, Household.han.is_not(None)))))
        opts += [Option(h, h, literal=True) for h in hans[:10]]
    return opts


def preview(ctx: Ctx, data: dict) -> str:
    q = {CircularQuestion.NONE: ctx.t(N_("No question")), CircularQuestion.ATTENDANCE: ctx.t(N_("Attendance (attending / not / not sure)"))}.get(
        data["question"], "、".join(data.get("choices") or []))
    deadline = ctx.t(N_("None")) if data["deadline"] == NONE else timefmt.show(
        datetime.fromisoformat(data["deadline"]), ctx.locale, ctx.config.tz_name)
    who = ctx.t(N_("Whole association")) if data["audience"] == WHOLE else data["audience"]
    return ctx.t(
        N_("Preview:\n【{title}】\n{body}\n{link}\nQuestion: {question}\nDeadline: {deadline}\nTo: {who}\n\nSend it now?"),
        title=data["title"], body=data["body"],
        link="\n".join(x for x in (
            data.get("link") if data.get("link") not in (None, NONE) else "",
            ctx.t(N_("(with a photo)")) if data.get("photo") not in (None, NONE) else "") if x),
        question=q, deadline=deadline, who=who,
    )


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    assoc = led_association(ctx)
    if assoc is None:
        return [Text(ctx.t(N_("Only the association's leader can send circulars.")))]
    _, sent, outcome = circulars.create_and_send(ctx.session, dict(
        association_id=assoc.id, han=None if data["audience"] == WHOLE else data["audience"], title=data["title"],
        body=data["body"], link_url=None if data.get("link") in (None, NONE) else data["link"],
        image_id=_photo_id(ctx, data.get("photo")),
        question=data["question"], choices=list(data.get("choices") or []),
        deadline=None if data["deadline"] == NONE else datetime.fromisoformat(data["deadline"]),
    ), ctx.config, ctx.now, created_by_id=ctx.resident.id)
    ctx.apply(outcome)
    said = (ctx.t(N_("Sent to {members} members in LINE. Paper households: {paper} (print the sheet for them). See who has read it with “Circular status”."),
                  members=sent["members"], paper=sent["paper_households"]) if sent["paper_households"] else
            ctx.t(N_("Sent to {members} members in LINE; no household gets it on paper. See who has read it with “Circular status”."),
                  members=sent["members"]))
    return [Question(said, (Choice(ctx.t(N_("Read status")), postback(a="circ", x="status")),))]  # the next step


def _photo_id(ctx: Ctx, token: str | None) -> int | None:
    if token in (None, NONE):
        return None
    return ctx.session.scalar(select(Media.id).where(Media.token == token))


accept_deadline = common.accept_future(
    N_("Please choose the deadline with the button, type it like “12/24 18:00”, or tap “No deadline”."),
    circulars.DEADLINE_MAX, N_("Please choose a deadline within the next year."))


FLOW = Flow(
    name="compose_circular",
    first="title",
    on_finish=finish,
    steps={
        "title": Step(ask=N_("Title of the circular?"), accept=common.free_text(100, N_("Please write a title.")), next="body"),
        "body": Step(ask=N_("Write the text of the circular."), accept=common.free_text(2000, N_("Please write the text.")), next="link"),
        "link": Step(ask=N_("Add a link (https://…)?"), options=[Option(NONE, N_("No link"))], accept=accept_link, next="photo"),
        "photo": Step(ask=N_("Add a photo? Send it now (e.g. a map or the flyer)."), options=[Option(NONE, N_("No photo"))],
                      accept=accept_photo, photo=True, next="question"),
        "question": Step(ask=N_("Ask the members something?"),
                         options=[Option(CircularQuestion.NONE, N_("No question")), Option(CircularQuestion.ATTENDANCE, N_("Attendance")),
                                  Option(CircularQuestion.CHOICES, N_("My own choices"))],
                         next=branch({CircularQuestion.NONE: "deadline", CircularQuestion.ATTENDANCE: "deadline",
                                      CircularQuestion.CHOICES: "choices"}, "question")),
        "choices": Step(ask=N_("Write the choices, separated by “、” (e.g. 「はい、いいえ」)."), accept=accept_choices, next="deadline"),
        "deadline": Step(ask=N_("Deadline for reading and answering?"), date_mode="datetime", date_label=N_("Choose date and time"),
                         options=[Option(NONE, N_("No deadline"))], accept=accept_deadline, next="audience"),
        "audience": Step(ask=N_("Who gets it?"), options=audience_options, next="confirm"),
        "confirm": Step(ask=preview, options=[Option("send", N_("Send"), says=YES)], next=None),
    },
)
