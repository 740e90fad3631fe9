"""What a handler or a conversation step gets: the transaction, the resident, the event, the
time, and translation in the resident's own locale."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.core.config import Config
from bot.core.i18n import DEFAULT_LOCALE, t
from bot.delivery.inbound import Inbound
from bot.core.models import ConversationState, Resident
from bot.core.replies import Reply
from bot.services import Outcome, apply


@dataclass
class Ctx:
    session: Session
    config: Config
    inbound: Inbound
    now: datetime
    resident: Resident | None = None
    conversation: ConversationState | None = None
    locale_override: str | None = None
    # Replies to show before whatever the route answers (e.g. "your last conversation expired").
    notes: list[Reply] = field(default_factory=list)
    # Set when the resident's data was deleted during this event: the reply still goes out once.
    erased: bool = False
    # Lookups worth doing once per event (e.g. the city's areas for a choice step).
    cache: dict = field(default_factory=dict)

    @property
    def locale(self) -> str:
        if self.locale_override:
            return self.locale_override
        if self.resident is not None and self.resident.locale:
            return self.resident.locale
        return self.config.default_locale or DEFAULT_LOCALE

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.tz_name)

    def t(self, msgid: str, /, **named: object) -> str:
        return t(self.locale, msgid, **named)

    def apply(self, outcome: Outcome) -> Outcome:
        """Queue a service's notices (and audit entries) in this event's transaction."""
        return apply(self.session, outcome, f"resident:{self.resident.id}" if self.resident else "resident")
