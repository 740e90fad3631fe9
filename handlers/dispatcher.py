"""One event, one transaction: load the resident and their conversation, route, and put every
reply in the outbox. The caller owns the transaction and sends after commit."""
from __future__ import annotations

import logging
from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

import conversations
import handlers
from bot.delivery import outbox
from bot.services import residents
from bot.core.config import Config
from bot.core.prepared import Prepared, attach_row, columns
from handlers.context import Ctx
from bot.core.i18n import N_, SUPPORTED_LOCALES, normalize_locale
from bot.delivery.inbound import Inbound
from bot.core.models import Area, ConversationState, Resident
from bot.core.replies import Text
from bot.core.vocab import InboundKind

log = logging.getLogger(__name__)


def dispatch(session: Session, config: Config, inbound: Inbound, now: datetime) -> list[outbox.Sendable]:
    """Handle one event. Returns the outbox rows this request should send right after commit."""
    if inbound.mode == "standby":
        return []  # another channel owns the chat: say nothing
    ctx = Ctx(session=session, config=config, inbound=inbound, now=now)
    if inbound.source_type == "user" and inbound.user_id:
        state: ConversationState | None = None
        if inbound.kind == InboundKind.UNFOLLOW:
            ctx.resident = residents.find(session, inbound.user_id, lock=True)
            if ctx.resident is not None:
                state = session.scalar(select(ConversationState).where(ConversationState.resident_id == ctx.resident.id))
        else:
            # the resident, their area and their conversation in one statement, on the driver
            # (the hot path), attached to the session as if it had loaded them
            rows = _resident_stmt().rows(session.connection(), {"uid": inbound.user_id})
            if rows:
                ctx.resident, state, area = attach_row(session, rows[0], Resident, ConversationState, Area)
                set_committed_value(ctx.resident, "area", area)  # (Resident.area is loaded with it)
            else:
                locale = normalize_locale(inbound.profile_language) or config.default_locale
                ctx.resident = residents.get_or_create(session, inbound.user_id, inbound.channel, now, locale)
        if ctx.resident is not None and inbound.kind in (InboundKind.MESSAGE, InboundKind.POSTBACK):
            over = _over_limit(session, config, ctx.resident.id, now)
            if over:
                if over > 1:
                    return []  # already told: ignore until the minute is over
                replies = [Text(ctx.t(N_("You are sending messages very fast. Please wait a minute, then try again.")))]
                return outbox.enqueue(session, channel=inbound.channel, recipients=[inbound.user_id], replies=replies,
                                      resident_id=ctx.resident.id, reply_token=inbound.reply_token, claimed=True)
        if ctx.resident is not None:
            _load_conversation(ctx, state)
    elif inbound.source_type == "user":
        return []  # no one to answer
    name, replies = handlers.route(ctx)
    log.debug("event %s routed to %s", inbound.event_id, name)
    replies = ctx.notes + replies
    if not replies:
        return []
    if inbound.source_type != "user":
        target = inbound.group_id
        resident_id = None
    else:
        target = inbound.user_id
        resident_id = ctx.resident.id if ctx.resident is not None and not ctx.erased else None
    if not target:
        return []
    return outbox.enqueue(
        session,
        channel=inbound.channel,
        recipients=[target],
        replies=replies,
        resident_id=resident_id,
        reply_token=inbound.reply_token,
        claimed=True,
        erase_after_send=ctx.erased,
    )


@cache
def _count_stmt():
    w = bindparam("window")
    return Prepared(update(Resident.__table__).where(Resident.id == bindparam("rid"))
                    .values(rate_count=case((Resident.rate_window == w, Resident.rate_count + 1), else_=1), rate_window=w)
                    .returning(Resident.rate_count))


@cache
def _resident_stmt() -> Prepared:
    """The resident (locked for this transaction on PostgreSQL, as residents.get_or_create does)
    with their area and their conversation, if any."""
    r, c, a = Resident.__table__, ConversationState.__table__, Area.__table__
    return Prepared(select(*columns(Resident, ConversationState, Area))
                    .select_from(r.outerjoin(c, c.c.resident_id == r.c.id).outerjoin(a, a.c.id == r.c.area_id))
                    .where(r.c.line_user_id == bindparam("uid"))
                    .with_for_update(of=r))


def _over_limit(session: Session, config: Config, resident_id: int, now: datetime) -> int:
    """Count this event in the resident's current minute, atomically (one UPDATE, so processes
    and hosts share the count). Returns 0 within the limit, else how far over it (1 = the first)."""
    window = int(now.timestamp() // 60)
    row = _count_stmt().run(session.connection(), {"rid": resident_id, "window": window}).fetchone()
    count = row[0] if row else None
    limit = config.resident_events_per_minute
    return 0 if not limit or count is None or count <= limit else count - limit


def _load_conversation(ctx: Ctx, state: ConversationState | None) -> None:
    """The resident's conversation (`state`, loaded with them), unless it has timed out."""
    assert ctx.resident is not None
    if state is not None and state.expires_at <= ctx.now:
        ctx.session.delete(state)
        ctx.session.flush()
        state = None
        if ctx.inbound.kind in (InboundKind.MESSAGE, InboundKind.POSTBACK):
            ctx.notes.append(Text(ctx.t(N_("Your last conversation timed out, so we started over."))))
    ctx.conversation = state
    if state is not None:
        # A language chosen earlier in this flow (onboarding) is the one to answer in.
        flow = conversations.get(state.flow)
        chosen = (state.data or {}).get(flow.locale_key) if flow and flow.locale_key else None
        if chosen in SUPPORTED_LOCALES:
            ctx.locale_override = chosen
