"""The monthly report as a PDF (A4) with fpdf2: the month's numbers, then each figure's chart
(drawn with fpdf2's own lines and rectangles, from the same `Chart` the pages draw as SVG) and
its table. Japanese needs a CJK font: the caller finds one (`bot.services.richmenu.font_for`)
and refuses without it."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.fonts import FontFace

from bot.console.charts import PALETTE, ChartKind, TARGET_COLOUR, nice_max, number, value_at, whole_numbers

CHART_W, CHART_H = 170.0, 55.0  # mm, the plot area
LEFT = 25.0


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


class _Report(FPDF):
    def __init__(self, title: str, page_word: str):
        super().__init__(format="A4")
        self.report_title, self.page_word = title, page_word

    def footer(self):
        self.set_y(-12)
        self.set_font(size=8)
        self.set_text_color(90)
        self.cell(0, 6, f"{self.report_title} — {self.page_word} {self.page_no()}", align="C")
        self.set_text_color(0)


def render(data: dict, font: tuple[str, int], *, generated: datetime, tz_name: str, labels: dict) -> bytes:
    path, index = font
    pdf = _Report(data["title"], labels["page"])
    pdf.set_title(data["title"])
    pdf.set_creator("Tsunagari")
    pdf.add_font("jp", "", path, collection_font_number=index)
    pdf.set_font("jp", size=10)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()
    pdf.set_font(size=16)
    pdf.cell(0, 10, data["title"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(size=9)
    made = generated.astimezone(ZoneInfo(tz_name)).strftime("%Y-%m-%d %H:%M")
    pdf.cell(0, 6, f"{labels['generated']} {made}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _heading(pdf, labels["this_month"])
    pdf.set_fill_color(255)
    with pdf.table(col_widths=(90, 90), first_row_as_headings=False, line_height=6) as table:
        for name, value in data["summary"]:
            row = table.row()
            row.cell(name)
            row.cell(value)
    pdf.ln(4)
    _heading(pdf, labels["figures"])
    for fig in data["figures"]:
        if pdf.get_y() > pdf.h - 90:
            pdf.add_page()
        _heading(pdf, fig.title, size=11)
        for chart in fig.charts:
            draw_chart(pdf, chart)
        _table(pdf, fig.header, fig.rows)
        if fig.note:
            pdf.set_font(size=8)
            pdf.multi_cell(0, 4.5, fig.note, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(size=10)
        pdf.ln(4)
    return bytes(pdf.output())


def _heading(pdf: FPDF, text: str, size: int = 13) -> None:
    pdf.set_font(size=size)
    pdf.multi_cell(0, size * 0.6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(size=10)
    pdf.ln(1)


def _table(pdf: FPDF, header: list[str], rows: list[list]) -> None:
    pdf.set_font(size=8)
    pdf.set_fill_color(255)
    with pdf.table(line_height=5, text_align="LEFT", headings_style=FontFace(fill_color=(225, 225, 225)),
                   cell_fill_color=(246, 246, 246), cell_fill_mode="ROWS", repeat_headings=1) as table:
        head = table.row()
        for h in header:
            head.cell(str(h))
        for r in rows:
            row = table.row()
            for v in r:
                row.cell(number(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v or "-"))
    pdf.set_font(size=10)


def draw_chart(pdf: FPDF, chart) -> None:
    """The chart's bars or lines, the y axis with its grid, the month labels, the target line and
    the legend: about 80 mm of the page."""
    if pdf.get_y() + CHART_H + 25 > pdf.h - 16:
        pdf.add_page()
    n = len(chart.labels)
    if chart.kind == ChartKind.BAR and chart.stacked:
        top = max((sum(value_at(s, i) for s in chart.series) for i in range(n)), default=0.0)
    else:
        top = max((value_at(s, i) for s in chart.series for i in range(n)), default=0.0)
    ymax, step = nice_max(max(top, chart.target or 0), whole=whole_numbers(chart.series, chart.target))
    x0, y0 = LEFT, pdf.get_y() + 2
    bottom = y0 + CHART_H
    pdf.set_font(size=7)
    pdf.set_line_width(0.2)
    k = 0
    while k * step <= ymax + 1e-9:
        yy = bottom - CHART_H * (k * step) / ymax
        pdf.set_draw_color(*(_rgb("#444444") if k == 0 else _rgb("#dddddd")))
        pdf.line(x0, yy, x0 + CHART_W, yy)
        pdf.set_xy(x0 - 16, yy - 2)
        pdf.cell(15, 4, number(k * step), align="R")
        k += 1
    pdf.set_draw_color(*_rgb("#444444"))
    pdf.line(x0, y0, x0, bottom)
    slot = CHART_W / max(n, 1)
    for i, label in enumerate(chart.labels):
        pdf.set_xy(x0 + i * slot, bottom + 1)
        pdf.cell(slot, 4, label[:14], align="C")
    if chart.kind == ChartKind.LINE:
        for k, s in enumerate(chart.series):
            pdf.set_draw_color(*_rgb(PALETTE[k % len(PALETTE)]))
            pdf.set_fill_color(*_rgb(PALETTE[k % len(PALETTE)]))
            pdf.set_line_width(0.6)
            pts = [(x0 + (i + 0.5) * slot, bottom - CHART_H * value_at(s, i) / ymax) for i in range(n)]
            for a, b in zip(pts, pts[1:]):
                pdf.line(a[0], a[1], b[0], b[1])
            for px, py in pts:
                pdf.circle(px, py, 0.9, style="F")
        pdf.set_line_width(0.2)
    else:
        inner = slot * 0.7
        for i in range(n):
            base = bottom
            for k, s in enumerate(chart.series):
                v = value_at(s, i)
                h = CHART_H * max(v, 0) / ymax
                if chart.stacked:
                    bx, bw = x0 + i * slot + (slot - inner) / 2, inner
                else:
                    bw = inner / max(len(chart.series), 1)
                    bx = x0 + i * slot + (slot - inner) / 2 + k * bw
                if h > 0:
                    pdf.set_fill_color(*_rgb(PALETTE[k % len(PALETTE)]))
                    pdf.rect(bx, base - h, bw, h, style="F")
                if chart.stacked:
                    base -= h
    if chart.target:
        yy = bottom - CHART_H * chart.target / ymax
        pdf.set_draw_color(*_rgb(TARGET_COLOUR))
        pdf.set_line_width(0.5)
        with pdf.local_context():
            pdf.set_dash_pattern(dash=2, gap=1.2)
            pdf.line(x0, yy, x0 + CHART_W, yy)
        pdf.set_line_width(0.2)
        pdf.set_text_color(*_rgb(TARGET_COLOUR))
        pdf.set_xy(x0 + CHART_W - 60, yy - 4.5)
        pdf.cell(60, 4, f"{chart.target_label or ''} {number(chart.target)}{chart.unit}", align="R")
        pdf.set_text_color(0)
    # the legend
    x, y = x0, bottom + 7
    for k, s in enumerate(chart.series):
        pdf.set_fill_color(*_rgb(PALETTE[k % len(PALETTE)]))
        pdf.rect(x, y + 0.5, 3, 3, style="F")
        pdf.set_xy(x + 4, y)
        w = pdf.get_string_width(s.name) + 2
        pdf.cell(w, 4, s.name)
        x += w + 8
        if x > x0 + CHART_W - 20:
            x, y = x0, y + 5
    pdf.set_draw_color(0)
    pdf.set_fill_color(255)
    pdf.set_font(size=10)
    pdf.set_xy(pdf.l_margin, y + 7)
