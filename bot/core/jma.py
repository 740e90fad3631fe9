"""The Japan Meteorological Agency's disaster-prevention XML (気象庁防災情報XML): its Atom feeds
(`eqvol.xml` earthquakes and volcanoes, `extra.xml` warnings), fetched with a conditional GET,
and the two kinds of document the bot acts on, read with defusedxml (never the standard
library's parser on what comes from the network):

* 震度速報 (VXSE51) and 震源・震度に関する情報 (VXSE53): `Body/Intensity/Observation/Pref/Area`
  (and `…/Area/City`) with `Code` and `MaxInt`, the event's `Head/EventID`;
* 気象特別警報・警報・注意報 (VPWW53, and VPWW54): `Body/Warning/Item` with `Kind/Code` (32, 33,
  35, 36, 37, 38 are 特別警報) and `Area/Code`.

`describe(event, locale)` says what happened in the resident's language. Nothing here touches
the database; the rules (thresholds, one check per event) are in `bot.services.jma`."""
from __future__ import annotations

from dataclasses import dataclass, field

import requests
from defusedxml import ElementTree

from bot.core.i18n import N_, t
from bot.core.vocab import JmaReportKind

ATOM = "{http://www.w3.org/2005/Atom}"
JMX = "{http://xml.kishou.go.jp/jmaxml1/}"
IB = "{http://xml.kishou.go.jp/jmaxml1/informationBasis1/}"
SEIS = "{http://xml.kishou.go.jp/jmaxml1/body/seismology1/}"
METE = "{http://xml.kishou.go.jp/jmaxml1/body/meteorology1/}"

FEEDS = ("eqvol.xml", "extra.xml")
QUAKE_TITLES = ("震度速報", "震源・震度に関する情報")
WARNING_TITLES = ("気象特別警報・警報・注意報",)
MAX_BYTES = 5 * 1024 * 1024  # a feed or a document larger than this is refused

# Seismic intensity (震度), weakest first; "5-" is 5弱, "5+" 5強.
INTENSITIES = ("1", "2", "3", "4", "5-", "5+", "6-", "6+", "7")
_INTENSITY_ALIASES = {"5弱": "5-", "5強": "5+", "6弱": "6-", "6強": "6+", "5L": "5-", "5U": "5+", "6L": "6-", "6U": "6+"}
INTENSITY_WORDS = {"5-": N_("5 lower"), "5+": N_("5 upper"), "6-": N_("6 lower"), "6+": N_("6 upper")}
# 特別警報 (Kind/Code of VPWW53)
SPECIAL_WARNINGS = {
    "32": N_("snowstorm special warning"),
    "33": N_("heavy rain special warning"),
    "35": N_("storm special warning"),
    "36": N_("heavy snow special warning"),
    "37": N_("high waves special warning"),
    "38": N_("storm surge special warning"),
}


class JmaError(RuntimeError):
    """A feed or a document that could not be had or read (the clock logs it, tries again)."""


def intensity(value: str | None) -> str | None:
    """「5弱」, "5-", "5L" → "5-"; None for what is not an intensity."""
    v = (value or "").strip().translate(str.maketrans("０１２３４５６７＋－", "01234567+-"))
    v = _INTENSITY_ALIASES.get(v, v)
    return v if v in INTENSITIES else None


def check(config) -> None:
    """Refuse at start-up a threshold that is not an intensity (JMA_MIN_INTENSITY)."""
    if config.jma_area_codes and intensity(config.jma_min_intensity) is None:
        raise ValueError(f"JMA_MIN_INTENSITY must be one of {', '.join(INTENSITIES)} (or 5弱, 5強, 6弱, 6強)")


def at_least(value: str | None, threshold: str) -> bool:
    return value in INTENSITIES and INTENSITIES.index(value) >= INTENSITIES.index(threshold)


# -- fetching ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fetched:
    status: int  # 200, or 304 (not modified)
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None


def fetch(url: str, *, etag: str | None = None, last_modified: str | None = None, timeout: float = 10.0,
          session: requests.Session | None = None) -> Fetched:
    """GET with If-None-Match / If-Modified-Since. Raises JmaError on anything but 200 or 304."""
    headers = {"User-Agent": "tsunagari (safety checks)", "Accept": "application/atom+xml, application/xml"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        resp = (session or requests).get(url, headers=headers, timeout=timeout, stream=True)
    except requests.RequestException as exc:
        raise JmaError(f"{type(exc).__name__}") from None
    with resp:
        if resp.status_code == 304:
            return Fetched(304, etag=etag, last_modified=last_modified)
        if resp.status_code != 200:
            raise JmaError(f"HTTP {resp.status_code}")
        body = resp.raw.read(MAX_BYTES + 1, decode_content=True)
        if len(body) > MAX_BYTES:
            raise JmaError("too large")
        return Fetched(200, body, resp.headers.get("ETag"), resp.headers.get("Last-Modified"))


def _parse(body: bytes):
    try:
        return ElementTree.fromstring(body, forbid_dtd=True)
    except Exception as exc:  # defusedxml's refusals and ordinary syntax errors alike
        raise JmaError(f"not readable XML ({type(exc).__name__})") from None


# -- the feed ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    link: str


def entries(body: bytes) -> list[Entry]:
    """The Atom feed's entries, oldest first."""
    root = _parse(body)
    out = []
    for e in root.iter(f"{ATOM}entry"):
        link = next((lk.get("href") for lk in e.iter(f"{ATOM}link") if lk.get("href")), None)
        ident = (e.findtext(f"{ATOM}id") or link or "").strip()
        if ident and link:
            out.append(Entry(ident, (e.findtext(f"{ATOM}title") or "").strip(), link.strip()))
    return list(reversed(out))


def wanted(entry: Entry) -> bool:
    return entry.title in QUAKE_TITLES or entry.title in WARNING_TITLES


# -- documents --------------------------------------------------------------------------------

@dataclass
class Report:
    """What a document says for the city's area codes."""

    kind: str  # JmaReportKind
    event_id: str | None = None
    report_time: str | None = None
    max_int: str | None = None  # the strongest intensity in the city's areas
    places: list[str] = field(default_factory=list)  # where (Japanese names, as the JMA writes them)
    epicenter: str | None = None
    warnings: list[str] = field(default_factory=list)  # 特別警報 codes in effect in the city's areas
    live: bool = True  # not a drill or a test (Control/Status 通常), not a cancellation (取消)


def read(body: bytes, area_codes: set[str]) -> Report:
    root = _parse(body)
    title = (root.findtext(f"{JMX}Control/{JMX}Title") or "").strip()
    status = (root.findtext(f"{JMX}Control/{JMX}Status") or "").strip()
    head = root.find(f"{IB}Head")
    info_type = (head.findtext(f"{IB}InfoType") if head is not None else "") or ""
    rep = Report(JmaReportKind.OTHER, live=status == "通常" and info_type.strip() != "取消")
    if head is not None:
        rep.event_id = (head.findtext(f"{IB}EventID") or "").strip() or None
        rep.report_time = (head.findtext(f"{IB}ReportDateTime") or "").strip() or None
    if title in QUAKE_TITLES:
        rep.kind = JmaReportKind.QUAKE
        rep.epicenter = (root.findtext(f"{SEIS}Body/{SEIS}Earthquake/{SEIS}Hypocenter/{SEIS}Area/{SEIS}Name") or
                         "").strip() or None
        strongest = None
        for pref in root.iterfind(f"{SEIS}Body/{SEIS}Intensity/{SEIS}Observation/{SEIS}Pref"):
            for area in pref.iterfind(f"{SEIS}Area"):
                places = [(area.findtext(f"{SEIS}Code"), area.findtext(f"{SEIS}Name"), area.findtext(f"{SEIS}MaxInt"))]
                places += [(c.findtext(f"{SEIS}Code"), c.findtext(f"{SEIS}Name"), c.findtext(f"{SEIS}MaxInt"))
                           for c in area.iterfind(f"{SEIS}City")]
                for code, name, max_int in places:
                    value = intensity(max_int)
                    if (code or "").strip() in area_codes and value:
                        if name and name.strip() not in rep.places:
                            rep.places.append(name.strip())
                        if strongest is None or INTENSITIES.index(value) > INTENSITIES.index(strongest):
                            strongest = value
        rep.max_int = strongest
    elif title in WARNING_TITLES:
        rep.kind = JmaReportKind.WARNING
        for warning in root.iterfind(f"{METE}Body/{METE}Warning"):
            for item in warning.iterfind(f"{METE}Item"):
                areas = list(item.iterfind(f"{METE}Area")) + list(item.iterfind(f"{METE}Areas/{METE}Area"))
                hit = [a for a in areas if (a.findtext(f"{METE}Code") or "").strip() in area_codes]
                if not hit:
                    continue
                for kind in item.iterfind(f"{METE}Kind"):
                    code = (kind.findtext(f"{METE}Code") or "").strip()
                    if code in SPECIAL_WARNINGS and (kind.findtext(f"{METE}Status") or "").strip() != "解除" \
                            and code not in rep.warnings:
                        rep.warnings.append(code)
                        for a in hit:
                            name = (a.findtext(f"{METE}Name") or "").strip()
                            if name and name not in rep.places:
                                rep.places.append(name)
    return rep


# -- words ------------------------------------------------------------------------------------

def describe(event: dict, locale: str) -> str:
    """What happened, in the resident's language (places as the JMA names them)."""
    places = "、".join(event.get("places") or []) or "-"
    if event.get("kind") == JmaReportKind.QUAKE:
        value = event.get("max_int") or "-"
        shown = t(locale, INTENSITY_WORDS[value]) if value in INTENSITY_WORDS else value
        return t(locale, N_("Earthquake: seismic intensity {intensity} was observed in {places} "
                            "(Japan Meteorological Agency)."), intensity=shown, places=places)
    names = ", ".join(t(locale, SPECIAL_WARNINGS[c]) for c in event.get("warnings") or [] if c in SPECIAL_WARNINGS)
    return t(locale, N_("A special warning is in effect for {places}: {warnings} (Japan Meteorological Agency)."),
             places=places, warnings=names or "-")
