"""An error a resident will read: a catalog msgid and its named values, rendered in their
language (dates shown in the city's time)."""
from __future__ import annotations

from datetime import datetime

from bot.core import timefmt
from bot.core.i18n import t


class UserError(Exception):
    def __init__(self, msgid: str, **named: object):
        super().__init__(msgid)
        self.msgid = msgid
        self.named = named

    def render(self, locale: str, tz_name: str) -> str:
        named = {k: timefmt.show(v, locale, tz_name) if isinstance(v, datetime) else v for k, v in self.named.items()}
        return t(locale, self.msgid, **named)
