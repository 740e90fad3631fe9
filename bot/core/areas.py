"""The city's areas and associations, loaded from a data file the city can replace
(`data/cities/demo.json` is a fictional demo city). Loading is an upsert: run it again after
editing the file."""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.models import Area, Association
from bot.core.prepared import Prepared

T = TypeVar("T")


class CityFileError(ValueError):
    pass


@dataclass(frozen=True)
class LoadReport:
    areas: int
    associations: int


def read_city_file(path: str | Path) -> dict:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CityFileError(f"cannot read {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise CityFileError("the file must hold one JSON object with 'areas' (and 'associations')")
    areas = doc.get("areas")
    if not isinstance(areas, list) or not areas:
        raise CityFileError("the file needs a non-empty list 'areas'")
    codes = set()
    for i, a in enumerate(areas):
        if not isinstance(a, dict) or not _text(a.get("code"), 32):
            raise CityFileError(f"area #{i + 1} needs a 'code' (text of 1 to 32 characters)")
        names = a.get("names")
        if (not isinstance(names, dict) or not _text(names.get("ja"), 60)
                or not all(isinstance(k, str) and _text(v, 60) for k, v in names.items())):
            raise CityFileError(f"area {a['code']} needs names (text of 1 to 60 characters) with at least 'ja'")
        if a["code"] in codes:
            raise CityFileError(f"area code {a['code']} appears twice")
        if ("lat" in a or "lon" in a) and not valid_place(a.get("lat"), a.get("lon")):
            raise CityFileError(f"area {a['code']}: 'lat' and 'lon' must be numbers (degrees, WGS84), given together")
        codes.add(a["code"])
    for a in areas:
        neighbours = a.get("neighbours", [])
        if not isinstance(neighbours, list) or not all(isinstance(n, str) for n in neighbours):
            raise CityFileError(f"area {a['code']}: 'neighbours' must be a list of area codes")
        for n in neighbours:
            if n not in codes:
                raise CityFileError(f"area {a['code']} names an unknown neighbour {n}")
    associations = doc.get("associations", [])
    if not isinstance(associations, list):
        raise CityFileError("'associations' must be a list")
    for i, item in enumerate(associations):
        if not isinstance(item, dict) or not _text(item.get("name"), 100) or not _text(item.get("join_code"), 32) \
                or not normalize_code(item["join_code"]):
            raise CityFileError(f"association #{i + 1} needs a 'name' (up to 100 characters) and a 'join_code' "
                                f"(up to 32)")
        names = item.get("names", {})
        if not isinstance(names, dict) or not all(isinstance(k, str) and _text(v, 100) for k, v in names.items()):
            raise CityFileError(f"association {item['name']}: 'names' must map language codes to names (up to 100 "
                                f"characters)")
        if item.get("area") is not None and (not isinstance(item["area"], str) or item["area"] not in codes):
            raise CityFileError(f"association {item['name']} names an unknown area {item['area']!r}")
    return doc


def valid_place(lat, lon) -> bool:
    """Degrees of latitude and longitude (numbers, not booleans, within range)."""
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lat, lon)) \
        and -90 <= lat <= 90 and -180 <= lon <= 180


def _text(value, max_len: int) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) and len(value) <= max_len and "\x00" not in value


def load_city(session: Session, path: str | Path) -> LoadReport:
    doc = read_city_file(path)
    by_code = {a.code: a for a in session.scalars(select(Area))}
    seen = set()
    for pos, item in enumerate(doc["areas"]):
        area = by_code.get(item["code"])
        if area is None:
            area = Area(code=item["code"])
            session.add(area)
            by_code[area.code] = area
        area.names = dict(item["names"])
        area.neighbours = list(item.get("neighbours", []))
        area.position = pos
        area.active = True
        if "lat" in item:  # else kept as it is (`flask --app bot areas locate`)
            area.lat, area.lon = float(item["lat"]), float(item["lon"])
        seen.add(area.code)
    for code, area in by_code.items():
        if code not in seen:
            area.active = False  # residents keep their area; it is no longer offered
    session.flush()
    n_assoc = 0
    for item in doc.get("associations", []):
        code = normalize_code(item["join_code"])
        assoc = session.scalar(select(Association).where(Association.join_code == code))
        if assoc is None:
            assoc = Association(join_code=code, name=item["name"])
            session.add(assoc)
        assoc.name = item["name"]
        assoc.names = {k: v for k, v in item.get("names", {}).items() if k != "ja"}
        area = by_code.get(item.get("area") or "")
        assoc.area_id = area.id if area else None
        n_assoc += 1
    session.flush()
    return LoadReport(areas=len(seen), associations=n_assoc)


def active_areas(session: Session) -> list[Area]:
    return list(session.scalars(select(Area).where(Area.active.is_(True)).order_by(Area.position, Area.id)))


_ACTIVE_NAMES = Prepared(select(Area.code, Area.names).where(Area.active.is_(True)).order_by(Area.position, Area.id))


def active_area_names(session: Session) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """(code, its names as sorted pairs) of the active areas, in the city's order, as plain rows:
    the area question asks for them at every answer (no ORM objects needed)."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()  # as the ORM's own execution would: an area added in this transaction counts
    return tuple((code, tuple(sorted((names or {}).items()))) for code, names in _ACTIVE_NAMES.rows(session.connection()))


def find_association_by_code(session: Session, code: str) -> Association | None:
    code = normalize_code(code)
    if not code or len(code) > 32:
        return None
    return session.scalar(select(Association).where(Association.join_code == code))


_PLACE_PARENS = re.compile(r"\(.*?\)")  # "Ekimae (station)"
_PLACE_GAPS = re.compile(r"[\s\-‐‑–—―・.,、]+")  # not 「ー」: it is part of a word (センター)
_PLACE_BLOCK = re.compile(r"丁目|chōme|choume|chome")
_PLACE_TOWN = re.compile(r"(?:町|まち|ちょう|machi|chō|cho)(?=\d)")  # あさひ町2丁目 = あさひ2丁目


def place_key(name: str) -> str:
    """A place's name as it is matched against what a resident typed: "Asahi 2-chome", "asahi 2
    chome", 「あさひ町２丁目」 and 「あさひ2丁目」 all give the same key (width, case, spaces and
    hyphens, 丁目 / chome, a 町 / machi / cho before the block number, a note in brackets)."""
    key = unicodedata.normalize("NFKC", name).casefold()
    key = _PLACE_GAPS.sub("", _PLACE_PARENS.sub("", key))
    return _PLACE_TOWN.sub("", _PLACE_BLOCK.sub("", key))


def match_places(typed: str, candidates: Iterable[tuple[T, Iterable[str]]]) -> list[T]:
    """Of `candidates` ((what is chosen, its names in every form it is shown)), those with a
    name that is what was typed, as `place_key` reads both; else those with it as a part. Typed
    in Japanese script and found so in none, it is compared by its reading: 「朝日2丁目」 (kanji
    a Chinese or Japanese resident would guess) finds あさひ町2丁目."""
    key = place_key(typed)
    if not key:
        return []
    candidates = [(value, tuple(names)) for value, names in candidates]
    found = _match_keys(key, [(value, {place_key(name) for name in names}) for value, names in candidates])
    if found or not _JAPANESE.search(typed):
        return found
    by_reading = [(value, {_reading_key(name) for name in names if _JAPANESE.search(name)}) for value, names in candidates]
    return _match_keys(_reading_key(typed), by_reading)


def _match_keys(key: str, keyed: list[tuple[T, set[str]]]) -> list[T]:
    if not key:
        return []
    return [v for v, keys in keyed if key in keys] or [v for v, keys in keyed if any(key in k for k in keys)]


_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


def _reading_key(name: str) -> str:
    # late: SudachiPy's dictionary is loaded by the understanding module (warm in the web process)
    from bot.core.understand import reading

    return place_key(reading(unicodedata.normalize("NFKC", name)))


def normalize_code(code: str) -> str:
    """Join codes are compared without regard to width, case or surrounding spaces."""
    return unicodedata.normalize("NFKC", code).strip().upper().replace(" ", "")
