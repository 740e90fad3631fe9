"""An iCalendar (RFC 5545) file for one event, for phones' and PCs' calendars."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.models import Event


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")


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
        f"UID:event-{event.id}@{host}",
        f"DTSTAMP:{_utc(now)}",
        f"DTSTART:{_utc(event.starts_at)}",
        f"DTEND:{_utc(end)}",
        f"SUMMARY:{_escape(event.title)}",
        f"LOCATION:{_escape(event.place)}",
        f"DESCRIPTION:{_escape(event.description or '')}",
        f"STATUS:{'CANCELLED' if event.status == 'cancelled' else 'CONFIRMED'}",
        "END:VEVENT", "END:VCALENDAR",
    ]
    return "\r\n".join(part for line in lines for part in _fold(line)) + "\r\n"
