"""An iCalendar (RFC 5545) file for one event, for phones' and PCs' calendars."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone

from bot.core.models import Event
from bot.core.vocab import EventStatus


# Line breaks of any kind (CRLF, a bare CR or LF, NEL, U+2028/2029) become the escaped "\\n";
# every other control character goes: a bare CR would end the property line early in some
# calendar programs and let the rest of the text be read as a property of its own.
_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _plain(text: str) -> str:
    return "".join(ch for ch in text.replace("\t", " ") if unicodedata.category(ch) != "Cc")


def _escape(text: str) -> str:
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return "\\n".join(_plain(part) for part in _BREAKS.split(text))


def _utc(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> list[str]:
    """Lines longer than 75 octets continue on the next line after a space."""
    out, current = [], b""
    for ch in line:
        enc = ch.encode("utf-8")
        if len(current) + len(enc) > (75 if not out else 74):
            out.append(current.decode("utf-8"))
            current = b""
        current += enc
    out.append(current.decode("utf-8"))
    return [out[0]] + [" " + part for part in out[1:]]


def event_ics(event: Event, host: str = "tsunagari", now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    end = event.ends_at or event.starts_at + timedelta(hours=1)
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Tsunagari//Community events//JA", "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH", "BEGIN:VEVENT",
        f"UID:event-{event.id}@{_plain(host)}",
        f"DTSTAMP:{_utc(now)}",
        f"DTSTART:{_utc(event.starts_at)}",
        f"DTEND:{_utc(end)}",
        f"SUMMARY:{_escape(event.title)}",
        f"LOCATION:{_escape(event.place)}",
        f"DESCRIPTION:{_escape(event.description or '')}",
        f"STATUS:{'CANCELLED' if event.status == EventStatus.CANCELLED else 'CONFIRMED'}",
        "END:VEVENT", "END:VCALENDAR",
    ]
    return "\r\n".join(part for line in lines for part in _fold(line)) + "\r\n"
