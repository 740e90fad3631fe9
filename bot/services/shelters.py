"""Shelters (指定緊急避難場所): the city's designated emergency evacuation sites, imported from the
national open data of the Geospatial Information Authority of Japan (国土地理院, 指定緊急避難場所
データ, CSV); staff mark which are open; residents get the open ones nearest their area (or a
place they send), with a map link, in their language.

* `read_csv` reads GSI's CSV (UTF-8 with or without BOM, or Shift_JIS/cp932) by its header
  names, with or without the leading column 都道府県名及び市町村名 of the national file; rows
  without a 共通ID, a name or usable coordinates are skipped and counted by reason.
* `store` upserts by 共通ID: a re-import updates names, addresses, hazards and places and keeps
  whether a shelter is open.
* `set_open` opens or closes one (an audit entry); `nearest` / `for_resident` choose the open
  ones to show; `listing` is what a resident reads.
"""
from __future__ import annotations

import csv
import io
import math
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import timefmt
from bot.core.i18n import N_, t
from bot.core.models import Area, Resident, Shelter
from bot.services import Audit, Outcome

# The hazard columns of GSI's CSV, in its order: (code, column, msgid). A shelter's `hazards`
# holds bit i for HAZARDS[i].
HAZARDS: tuple[tuple[str, str, str], ...] = (
    ("flood", "洪水", N_("Flood")),
    ("landslide", "崖崩れ、土石流及び地滑り", N_("Landslide")),
    ("storm_surge", "高潮", N_("Storm surge")),
    ("earthquake", "地震", N_("Earthquake")),
    ("tsunami", "津波", N_("Tsunami")),
    ("fire", "大規模な火事", N_("Large fire")),
    ("inland_flood", "内水氾濫", N_("Inland flooding")),
    ("volcano", "火山現象", N_("Volcano")),
)
REQUIRED = ("共通ID", "施設・場所名", "緯度", "経度")
MARKS = {"◎", "○", "〇", "●", "1", "１"}  # a hazard the site is designated for
SHOWN = 5  # shelters in a resident's list
MAP_URL = "https://www.google.com/maps/search/?api=1&query={lat:.6f},{lon:.6f}"
# Japan, with its outlying islands: coordinates outside are a mistake in the file.
LAT_RANGE, LON_RANGE = (20.0, 46.0), (122.0, 154.0)


class ShelterFileError(ValueError):
    pass


@dataclass
class ImportReport:
    rows: int = 0
    added: int = 0
    updated: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason → rows
    hazards: Counter = field(default_factory=Counter)  # hazard code → shelters
    encoding: str = ""
    not_in_file: int = 0  # shelters in the database the file no longer lists (kept)


@dataclass(frozen=True)
class Site:
    common_id: str
    name: str
    address: str
    hazards: int
    lat: float
    lon: float


def _decode(raw: bytes) -> tuple[str, str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "utf-8-sig"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp932"), "cp932"
    except UnicodeDecodeError as exc:
        raise ShelterFileError("the file is neither UTF-8 nor Shift_JIS (cp932)") from exc


def _clean(value: str | None) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


def _coordinate(value: str | None, bounds: tuple[float, float]) -> float | None:
    try:
        x = float(_clean(value))
    except ValueError:
        return None
    return x if bounds[0] <= x <= bounds[1] and math.isfinite(x) else None


def read_csv(raw: bytes) -> tuple[list[Site], ImportReport]:
    """The usable rows of GSI's CSV, and what was skipped and why."""
    text, encoding = _decode(raw)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [_clean(h) for h in reader.fieldnames or []]
    missing = [h for h in REQUIRED if h not in header]
    if missing:
        raise ShelterFileError(f"not GSI's shelter CSV: no column {', '.join(missing)} "
                               f"(found: {', '.join(header[:6]) or 'nothing'})")
    reader.fieldnames = header
    report = ImportReport(encoding=encoding)
    sites: list[Site] = []
    seen: set[str] = set()
    for row in reader:
        report.rows += 1
        common_id, name = _clean(row.get("共通ID"))[:40], _clean(row.get("施設・場所名"))[:200]
        lat, lon = _coordinate(row.get("緯度"), LAT_RANGE), _coordinate(row.get("経度"), LON_RANGE)
        if not common_id:
            report.skipped["no 共通ID"] += 1
        elif not name:
            report.skipped["no name"] += 1
        elif lat is None or lon is None:
            report.skipped["no usable coordinates"] += 1
        elif common_id in seen:
            report.skipped["共通ID repeated in the file"] += 1
        else:
            seen.add(common_id)
            mask = sum(1 << i for i, (_, column, _) in enumerate(HAZARDS) if _clean(row.get(column)) in MARKS)
            sites.append(Site(common_id, name, _clean(row.get("住所"))[:200], mask, lat, lon))
    return sites, report


def store(session: Session, sites: list[Site], report: ImportReport, now: datetime) -> ImportReport:
    """Upsert by 共通ID, in the file's order; whether a shelter is open is kept."""
    known = {s.common_id: s for s in session.scalars(select(Shelter))}
    for pos, site in enumerate(sites):
        row = known.get(site.common_id)
        if row is None:
            row = Shelter(common_id=site.common_id, names={}, is_open=False, created_at=now)
            session.add(row)
            report.added += 1
        else:
            report.updated += 1
        row.name, row.address, row.hazards, row.lat, row.lon = site.name, site.address, site.hazards, site.lat, site.lon
        row.position, row.updated_at = pos, now
        for code in hazard_codes(site.hazards):
            report.hazards[code] += 1
    listed = {s.common_id for s in sites}
    report.not_in_file = sum(1 for cid in known if cid not in listed)
    session.flush()
    return report


def hazard_codes(mask: int) -> list[str]:
    return [code for i, (code, _, _) in enumerate(HAZARDS) if mask & (1 << i)]


def hazard_names(mask: int, locale: str) -> list[str]:
    return [t(locale, msgid) for i, (_, _, msgid) in enumerate(HAZARDS) if mask & (1 << i)]


def find(session: Session, name_or_id: str) -> list[Shelter]:
    """Shelters by id, 共通ID or name (the whole name, else a part of it)."""
    key = _clean(name_or_id)
    if not key:
        return []
    if key.isdigit():
        found = session.get(Shelter, int(key))
        if found is not None:
            return [found]
    rows = list(session.scalars(select(Shelter).order_by(Shelter.position, Shelter.id)))
    for test in (lambda s: s.common_id == key, lambda s: _clean(s.name) == key, lambda s: key in _clean(s.name)):
        hits = [s for s in rows if test(s)]
        if hits:
            return hits
    return []


def set_open(session: Session, shelter: Shelter, is_open: bool, now: datetime) -> Outcome:
    """Open or close a shelter. Facts: changed (False when it already was)."""
    out = Outcome()
    out.facts["changed"] = shelter.is_open != is_open
    if out.facts["changed"]:
        shelter.is_open = is_open
        shelter.opened_at = now if is_open else None
        out.audit.append(Audit("open_shelter" if is_open else "close_shelter", f"shelter:{shelter.id}",
                               {"name": shelter.name, "common_id": shelter.common_id}))
    return out


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(min(1.0, h)))


def open_shelters(session: Session) -> list[Shelter]:
    """The open shelters in the order of the city's list."""
    return list(session.scalars(select(Shelter).where(Shelter.is_open.is_(True)).order_by(Shelter.position, Shelter.id)))


def nearest(session: Session, lat: float, lon: float, limit: int = SHOWN) -> list[tuple[Shelter, float]]:
    """The open shelters nearest a point, with their distance in km."""
    found = [(s, distance_km(lat, lon, s.lat, s.lon)) for s in open_shelters(session)
             if s.lat is not None and s.lon is not None]
    return sorted(found, key=lambda x: (x[1], x[0].position))[:limit]


@dataclass(frozen=True)
class Nearby:
    shelters: tuple[tuple[Shelter, float | None], ...]
    origin: str  # "area" (nearest the resident's area), "point" (a place they sent), "list" (the city's order)
    area: Area | None = None


def for_resident(session: Session, resident: Resident | None, limit: int = SHOWN) -> Nearby:
    """The open shelters for a resident: nearest their area when it has a place, else the city's order."""
    area = session.get(Area, resident.area_id) if resident is not None and resident.area_id else None
    if area is not None and area.lat is not None and area.lon is not None:
        return Nearby(tuple(nearest(session, area.lat, area.lon, limit)), "area", area)
    return Nearby(tuple((s, None) for s in open_shelters(session)[:limit]), "list", area)


def near_point(session: Session, lat: float, lon: float, limit: int = SHOWN) -> Nearby:
    return Nearby(tuple(nearest(session, lat, lon, limit)), "point")


def map_url(shelter: Shelter) -> str:
    return MAP_URL.format(lat=shelter.lat or 0.0, lon=shelter.lon or 0.0)


def listing(found: Nearby, locale: str, fallback: str = "en") -> str:
    """What a resident reads: the open shelters (name in their language, distance, address,
    hazards, a map link), or what to do when none is open."""
    if not found.shelters:
        return t(locale, N_("No shelter is open now. If you are in danger, move to a safe place nearby (a sturdy building, "
                            "an upper floor, higher ground), follow the city's announcements, and call 119 in an "
                            "emergency. Type “shelters” again later."))
    if found.origin == "area":
        lines = [t(locale, N_("Open shelters nearest {area}:"), area=found.area.name(locale, fallback) if found.area else "-")]
    elif found.origin == "point":
        lines = [t(locale, N_("Open shelters nearest the place you sent:"))]
    else:
        lines = [t(locale, N_("Open shelters, in the order of the city's list (the bot does not know where your area "
                              "is, so they are not sorted by distance):"))]
    for n, (shelter, km) in enumerate(found.shelters, 1):
        head = f"{n}. {shelter.shown(locale, fallback)}"
        if km is not None:
            head += " — " + t(locale, N_("{distance} km"), distance=timefmt.number(round(km, 1), locale))
        lines.append("")
        lines.append(head)
        if shelter.address and locale in ("ja", "ja_easy"):  # others: the map link (a Japanese address in
            lines.append(shelter.address)                       # Latin letters helps nobody find it)
        hazards = hazard_names(shelter.hazards, locale)
        if hazards:
            lines.append(t(locale, N_("For: {hazards}"), hazards=timefmt.show_list(hazards, locale)))
        lines.append(map_url(shelter))
    lines.append("")
    lines.append(t(locale, N_("Send your location (LINE: “+” → “Location”) to see the open shelters nearest where you are.")))
    return "\n".join(lines)
