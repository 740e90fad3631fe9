"""The dashboard's pictures and the center's monthly report: each figure month by month as a chart
(inline SVG, `bot.console.charts`), the same numbers as a table and as a CSV file
(`/console/figures/<name>.csv`), and the month's report as a printable page
(`/console/report/<YYYY-MM>`) and a PDF (`…/<YYYY-MM>.pdf`, `bot.console.report_pdf`).

The numbers come from `bot.services.statistics` (its docstring defines taking part and how
messages are counted). Center staff see every figure; an association's leader sees the circulars
of their own associations only (on their dashboard, and in that figure's CSV)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from babel.dates import format_date
from flask import abort, render_template

from bot.console import audit, bot, bp, console_locale, ct, current, require
from bot.console.charts import ChartKind, Series, bar_chart, line_chart
from bot.console.circulars import bot_response
from bot.core import csvout
from bot.core.db import utcnow
from bot.core.i18n import LANGUAGES
from bot.core.vocab import StaffRole
from bot.services import statistics
from bot.services.richmenu import RichMenuError, font_for

TOP_AREAS = 10


@dataclass
class Chart:
    """What a chart shows, drawn as SVG for the pages and with fpdf2 for the PDF."""

    kind: ChartKind
    title: str
    labels: list[str]
    series: list[Series]
    key: str
    stacked: bool = False
    target: float | None = None
    target_label: str | None = None
    unit: str = ""

    def svg(self):
        common = dict(target=self.target, target_label=self.target_label, unit=self.unit, key=self.key,
                      empty_text=ct("No data yet"))
        if self.kind == ChartKind.LINE:
            return line_chart(self.title, self.labels, self.series, **common)
        return bar_chart(self.title, self.labels, self.series, stacked=self.stacked, **common)


@dataclass
class Figure:
    name: str
    title: str
    header: list[str]
    rows: list[list[Any]]
    charts: list[Chart] = field(default_factory=list)
    note: str | None = None

    def csv(self) -> bytes:
        return csvout.to_bytes(self.header, self.rows)


def month_label(key: str) -> str:
    """"2026-03" as people read a month on an axis: 3月, Mar."""
    year, month = (int(x) for x in key.split("-"))
    return format_date(date(year, month, 1), "MMM", locale=console_locale())


# -- each figure ------------------------------------------------------------------------------

def participation(s, m, config) -> Figure:
    rows = [[key, took, total, round(100 * took / total, 1) if total else 0.0]
            for key, took, total in statistics.participation(s, m)]
    target = float(config.participation_target)
    chart = Chart(ChartKind.BAR, ct("Residents taking part in local activity (%)"), [month_label(r[0]) for r in rows],
                  [Series(ct("Took part"), [r[3] for r in rows])], key="participation", target=target,
                  target_label=ct("Target"), unit="%")
    return Figure("participation", chart.title, [ct("Month"), ct("Took part"), ct("Residents"), ct("Share (%)")], rows,
                  [chart], note=ct("Taking part: signed up to an event held that month, or gave or received help "
                                   "(an offer accepted that month). Share of the residents registered by the end of "
                                   "the month. Target: {target}%.", target=_plain(target)))


def _plain(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def joined(s, m) -> tuple[Figure, Figure]:
    data = statistics.joined(s, m)
    totals: dict[str, int] = {}
    for (_, loc), n in data["by_lang"].items():
        totals[loc] = totals.get(loc, 0) + n
    langs = sorted(totals, key=lambda loc: (-totals[loc], loc))
    rows = []
    for month, key in zip(m.numbers, m.keys):
        counts = [data["by_lang"].get((month, loc), 0) for loc in langs]
        rows.append([key, *counts, sum(counts)])
    names = [LANGUAGES.get(loc, loc) for loc in langs]
    chart = Chart(ChartKind.BAR, ct("Residents joining, by language"), [month_label(k) for k in m.keys],
                  [Series(name, [r[1 + i] for r in rows]) for i, name in enumerate(names)], key="joined", stacked=True)
    by_lang = Figure("joined", chart.title, [ct("Month"), *names, ct("Total")], rows, [chart])
    per_area: dict[str | None, list[int]] = {}
    for (month, area), n in data["by_area"].items():
        counts = per_area.setdefault(area, [0, 0])
        counts[0] += n
        if month == m.last:
            counts[1] += n
    top = sorted(per_area.items(), key=lambda kv: (-kv[1][0], kv[0] or "\uffff"))[:TOP_AREAS]
    area_rows = [[area or ct("No area"), year, month] for area, (year, month) in top]
    areas = Figure("areas", ct("Residents joining, by area (top {n})", n=TOP_AREAS),
                   [ct("Area"), ct("Year so far"), month_label(m.keys[-1])], area_rows)
    return by_lang, areas


def circulars(s, m, association_ids: list[int] | None) -> Figure:
    data = statistics.circular_reads(s, m.start, m.end, association_ids)
    rows = [[r["name"], r["circulars"], r["recipients"], r["read"], r["share"], r["median_hours"]] for r in data]
    chart = Chart(ChartKind.BAR, ct("Circulars read (%), by association"), [r["name"] for r in data],
                  [Series(ct("Read"), [r["share"] for r in data])], key="circulars", unit="%")
    return Figure("circulars", chart.title, [ct("Association"), ct("Circulars"), ct("Recipients"), ct("Read"),
                                             ct("Read (%)"), ct("Median hours to read")], rows, [chart],
                  note=ct("Circulars sent from January to the end of the month; recipients are people or households, "
                          "as each association reads. Reads marked on paper are not timed."))


def aid(s, m) -> Figure:
    rows = [list(r) for r in statistics.aid(s, m)]
    labels = [month_label(r[0]) for r in rows]
    bars = Chart(ChartKind.BAR, ct("Mutual aid: requests and matches"), labels,
                 [Series(ct("Requests"), [r[1] for r in rows]), Series(ct("Matches"), [r[2] for r in rows])], key="aid")
    hours = Chart(ChartKind.LINE, ct("Mutual aid: hours of help recorded"), labels, [Series(ct("Hours"), [r[3] for r in rows])],
                  key="aid-hours")
    return Figure("aid", ct("Mutual aid"), [ct("Month"), ct("Requests"), ct("Matches"), ct("Hours")], rows,
                  [bars, hours], note=ct("A match is a neighbour's offer the requester accepted (counted in the month "
                                         "it was offered); hours as recorded in the time bank."))


def messages(s, m, config) -> Figure:
    quota = config.line_monthly_quota or None
    rows = [[key, n, quota or ""] for key, n in statistics.messages(s, m)]
    chart = Chart(ChartKind.BAR, ct("LINE messages sent against the monthly quota"), [month_label(r[0]) for r in rows],
                  [Series(ct("Messages"), [r[1] for r in rows])], key="messages", target=quota,
                  target_label=ct("Quota"))
    return Figure("messages", chart.title, [ct("Month"), ct("Messages"), ct("Quota")], rows, [chart],
                  note=ct("Pushes and multicasts count once per recipient, broadcasts once per resident following; "
                          "replies are free."))


NAMES = ("participation", "joined", "areas", "circulars", "aid", "messages")


def build(s, config, m, association_ids: list[int] | None = None, names=NAMES) -> list[Figure]:
    """The figures named, January to `m.last`."""
    out: list[Figure] = []
    if "participation" in names:
        out.append(participation(s, m, config))
    if "joined" in names or "areas" in names:
        out.extend(f for f in joined(s, m) if f.name in names)
    if "circulars" in names:
        out.append(circulars(s, m, association_ids))
    if "aid" in names:
        out.append(aid(s, m))
    if "messages" in names:
        out.append(messages(s, m, config))
    return out


def leader_associations() -> list[int] | None:
    """None for staff (every association); a leader's own associations."""
    p = current()
    return None if p.is_staff else sorted(p.scope)


def for_dashboard(s, config) -> list[Figure]:
    """The pictures on the dashboard: every figure for staff, the circulars of their own
    associations for a leader, none for a 班長."""
    p = current()
    m = statistics.this_year(config.tz_name, utcnow())
    if p.is_staff:
        return build(s, config, m)
    if p.role == StaffRole.LEADER:
        return build(s, config, m, leader_associations(), names=("circulars",))
    return []


# -- routes -------------------------------------------------------------------------------------

@bp.get("/figures/<name>.csv")
@require(StaffRole.STAFF, StaffRole.LEADER)
def figure_csv(name: str):
    if name not in NAMES:
        abort(404)
    p = current()
    if not p.is_staff and name != "circulars":
        abort(403)
    config = bot().config
    with bot().db.read() as s:
        m = statistics.this_year(config.tz_name, utcnow())
        fig = build(s, config, m, leader_associations(), names=(name,))[0]
    with bot().db.session() as s:
        audit(s, "export_figure_csv", f"figure:{name}", year=m.year)
    return bot_response(fig.csv(), "text/csv; charset=utf-8",
                        {"Content-Disposition": f"attachment; filename={name}-{m.year}.csv"})


def _report_months(year: int, month: int):
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        abort(404)
    now = utcnow()
    m = statistics.months_of(year, month, bot().config.tz_name, now)
    if m.start > now:
        abort(404)  # a month to come has no report yet
    return m


def report_data(s, config, m) -> dict:
    """What the report shows: the month's numbers and the year so far's figures."""
    figs = build(s, config, m)
    by = {f.name: f for f in figs}
    month_start, month_end = m.start_of(m.last), m.start_of(m.last + 1)
    reads = statistics.circular_reads(s, month_start, month_end)
    recipients, read = sum(r["recipients"] for r in reads), sum(r["read"] for r in reads)
    part, joined_row, aid_row, msg_row = (by[n].rows[-1] for n in ("participation", "joined", "aid", "messages"))
    summary = [
        (ct("Residents taking part"), f"{part[3]}% ({part[1]}/{part[2]})"),
        (ct("Target"), f"{_plain(config.participation_target)}%"),
        (ct("Residents joining"), str(joined_row[-1])),
        (ct("Circulars read"), f"{round(100 * read / recipients, 1) if recipients else 0}% ({read}/{recipients})"),
        (ct("Mutual aid: requests, matches, hours"), f"{aid_row[1]} / {aid_row[2]} / {aid_row[3]}"),
        (ct("LINE messages sent"), f"{msg_row[1]}" + (f" / {msg_row[2]}" if msg_row[2] else "")),
    ]
    return {"figures": figs, "summary": summary, "key": m.keys[-1], "year": m.year, "month": m.last,
            "title": ct("Monthly report {month}", month=m.keys[-1])}


@bp.get("/report/<int:year>-<int:month>")
@require(StaffRole.STAFF)
def report(year: int, month: int):
    m = _report_months(year, month)
    with bot().db.read() as s:
        data = report_data(s, bot().config, m)
    return render_template("console/report.html", **data, generated=utcnow())


@bp.get("/report/<int:year>-<int:month>.pdf")
@require(StaffRole.STAFF)
def report_pdf(year: int, month: int):
    # late: fpdf2 (and fontTools) take ~40 ms and memory only the PDF needs
    from bot.console import report_pdf as pdf

    m = _report_months(year, month)
    try:
        font = font_for("ja", bold=False)
    except RichMenuError:
        return (ct("The PDF cannot be made: no Japanese font is installed on the server. Install fonts-noto-cjk "
                   "(Debian) or open the printable page and print it."), 503,
                {"Content-Type": "text/plain; charset=utf-8"})
    with bot().db.read() as s:
        data = report_data(s, bot().config, m)
    body = pdf.render(data, font, generated=utcnow(), tz_name=bot().config.tz_name,
                      labels={"figures": ct("Figures, January to the month"), "page": ct("Page"),
                              "generated": ct("Made on"), "this_month": ct("This month")})
    with bot().db.session() as s:
        audit(s, "export_report_pdf", f"report:{data['key']}")
    return bot_response(body, "application/pdf",
                        {"Content-Disposition": f"attachment; filename=tsunagari-report-{data['key']}.pdf"})
