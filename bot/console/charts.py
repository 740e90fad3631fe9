"""Small charts drawn on the server as inline SVG: bars (side by side or stacked) and lines, with
axes, a title, a legend and an optional horizontal line for a target or a quota. No JavaScript,
no plotting library; the same markup prints.

Every chart is an image with a text alternative: `role="img"`, an `aria-label` (the title), a
`<title>` and a `<desc>` listing every value ("Jan: Residents 3, …"), and each bar or point
carries its own `<title>` (a tooltip on hover). Every text is escaped. The table beside the chart
(the console's templates put it in a `<details>`) holds the same numbers.

    svg = bar_chart("Messages", ["Jan", "Feb"], [Series("Sent", [120, 90])], target=100,
                    target_label="Quota", key="messages")
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Sequence

from markupsafe import Markup, escape

# Okabe & Ito's palette: told apart by people with any colour vision.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
TARGET_COLOUR = "#C0392B"
WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 36, 64  # margins: y labels, -, title, x labels + legend


class ChartKind(StrEnum):
    BAR = "bar"
    LINE = "line"


@dataclass
class Series:
    name: str
    values: list[float] = field(default_factory=list)


def number(v: float | int | None) -> str:
    """A value as people read it: 12, 12.5, 1,234 (no trailing .0)."""
    if v is None:
        return "-"
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:,.1f}"


def nice_max(top: float, ticks: int = 4, whole: bool = False) -> tuple[float, float]:
    """(axis maximum, tick step) for values up to `top`: steps of 1, 2, 2.5 or 5 × 10ⁿ (whole
    numbers only for counts, `whole=True`)."""
    if top <= 0:
        return (1.0, 1.0) if whole else (1.0, 0.25)
    raw = top / ticks
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    if whole:
        step = max(1.0, step if float(step).is_integer() else math.ceil(step))
    return step * math.ceil(top / step - 1e-9), step


def whole_numbers(series: Sequence[Series], target: float | None = None) -> bool:
    """Whether every value (and the target) is a whole number: a count."""
    values = [v for s in series for v in s.values if v is not None] + ([target] if target is not None else [])
    return all(float(v).is_integer() for v in values)


def _describe(labels: Sequence[str], series: Sequence[Series], unit: str, target: float | None,
              target_label: str | None) -> str:
    parts = []
    for i, label in enumerate(labels):
        vals = ", ".join(f"{s.name} {number(value_at(s, i))}{unit}" for s in series)
        parts.append(f"{label}: {vals}")
    text = "; ".join(parts)
    if target is not None:
        text += f". {target_label or ''} {number(target)}{unit}".rstrip()
    return text + ("." if text and not text.endswith(".") else "")


def value_at(s: Series, i: int) -> float:
    return float(s.values[i]) if i < len(s.values) and s.values[i] is not None else 0.0


class _Canvas:
    """The frame every chart shares: the text alternative, the title, the y axis and its grid,
    the x labels, the legend and the target line."""

    def __init__(self, title: str, labels: Sequence[str], series: Sequence[Series], *, key: str, unit: str,
                 top: float, target: float | None, target_label: str | None, y_label: str | None,
                 empty_text: str, width: int, height: int, description: str | None):
        self.labels, self.series, self.unit = list(labels), list(series), unit
        self.width, self.height = width, height
        self.plot_w = width - LEFT - RIGHT
        self.plot_h = height - TOP - BOTTOM
        self.ymax, self.step = nice_max(max(top, target or 0), whole=whole_numbers(series, target))
        self.key = "".join(c if c.isalnum() or c in "-_" else "-" for c in key) or "chart"
        self.empty = not self.labels or not self.series or all(value_at(s, i) == 0 for s in self.series
                                                                  for i in range(len(self.labels)))
        desc = description or (empty_text if self.empty else _describe(labels, series, unit, target, target_label))
        e = escape
        self.out: list[str] = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
            f'width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{e(title)}" '
            f'aria-describedby="{self.key}-desc" data-chart="{self.key}" font-family="sans-serif" font-size="12">',
            f'<title id="{self.key}-title">{e(title)}</title>',
            f'<desc id="{self.key}-desc">{e(desc)}</desc>',
            f'<text x="{LEFT}" y="20" font-size="14" font-weight="bold" fill="#222">{e(title)}</text>',
        ]
        self._axes(y_label)
        if self.empty:
            self.out.append(f'<text x="{LEFT + self.plot_w / 2:.1f}" y="{TOP + self.plot_h / 2:.1f}" text-anchor="middle" '
                            f'fill="#555" class="empty">{e(empty_text)}</text>')
        self.target, self.target_label = target, target_label

    def y(self, value: float) -> float:
        """The y coordinate of `value` (the plot's bottom is 0)."""
        return TOP + self.plot_h - self.h(value)

    def h(self, value: float) -> float:
        return self.plot_h * max(value, 0.0) / self.ymax

    def slot(self, i: int) -> tuple[float, float]:
        """(left, width) of the i-th label's place on the x axis."""
        w = self.plot_w / max(len(self.labels), 1)
        return LEFT + i * w, w

    def _axes(self, y_label: str | None) -> None:
        e = escape
        bottom = TOP + self.plot_h
        n = round(self.ymax / self.step)
        for k in range(n + 1):
            v = k * self.step
            yy = self.y(v)
            self.out.append(f'<line x1="{LEFT}" x2="{LEFT + self.plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" '
                            f'stroke="{"#444" if k == 0 else "#ddd"}" stroke-width="1"/>')
            self.out.append(f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="#333">{e(number(v))}</text>')
        self.out.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}" stroke="#444" stroke-width="1"/>')
        if y_label:
            self.out.append(f'<text x="12" y="{TOP + self.plot_h / 2:.1f}" text-anchor="middle" fill="#333" '
                            f'transform="rotate(-90 12 {TOP + self.plot_h / 2:.1f})">{e(y_label)}</text>')
        for i, label in enumerate(self.labels):
            x, w = self.slot(i)
            self.out.append(f'<text x="{x + w / 2:.1f}" y="{bottom + 16}" text-anchor="middle" fill="#333" '
                            f'class="x-label">{e(label)}</text>')

    def finish(self) -> Markup:
        e = escape
        if self.target is not None and self.target > 0:
            yy = self.y(self.target)
            self.out.append(f'<line class="target" x1="{LEFT}" x2="{LEFT + self.plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" '
                            f'stroke="{TARGET_COLOUR}" stroke-width="2" stroke-dasharray="6 4">'
                            f'<title>{e(self.target_label or "")} {e(number(self.target))}{e(self.unit)}</title></line>')
            self.out.append(f'<text x="{LEFT + self.plot_w - 2}" y="{yy - 5:.1f}" text-anchor="end" '
                            f'fill="{TARGET_COLOUR}" class="target-label">{e(self.target_label or "")} '
                            f'{e(number(self.target))}{e(self.unit)}</text>')
        # the legend, under the x labels
        x, y = LEFT, self.height - 14
        items = [(s.name, PALETTE[k % len(PALETTE)]) for k, s in enumerate(self.series)]
        for name, colour in items:
            self.out.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>'
                            f'<text x="{x + 16}" y="{y}" fill="#222" class="legend">{e(name)}</text>')
            x += 28 + 7 * len(name) + (5 * sum(1 for c in name if ord(c) > 0x2E80))  # wide letters
        self.out.append("</svg>")
        return Markup("".join(self.out))


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series], *, stacked: bool = False,
              target: float | None = None, target_label: str | None = None, unit: str = "",
              y_label: str | None = None, key: str = "chart", empty_text: str = "No data yet",
              width: int = WIDTH, height: int = HEIGHT, description: str | None = None) -> Markup:
    """Bars for each label: one per series side by side, or stacked (`stacked=True`)."""
    n = len(labels)
    if stacked:
        top = max((sum(value_at(s, i) for s in series) for i in range(n)), default=0.0)
    else:
        top = max((value_at(s, i) for s in series for i in range(n)), default=0.0)
    c = _Canvas(title, labels, series, key=key, unit=unit, top=top, target=target, target_label=target_label,
                y_label=y_label, empty_text=empty_text, width=width, height=height, description=description)
    e = escape
    for i, label in enumerate(labels):
        x, w = c.slot(i)
        inner = w * 0.7
        base = TOP + c.plot_h
        for k, s in enumerate(series):
            v = value_at(s, i)
            colour = PALETTE[k % len(PALETTE)]
            if stacked:
                bx, bw = x + (w - inner) / 2, inner
            else:
                bw = inner / max(len(series), 1)
                bx = x + (w - inner) / 2 + k * bw
            bh = c.h(v)
            top_y = base - bh
            c.out.append(f'<rect class="bar" x="{bx:.2f}" y="{top_y:.2f}" width="{bw:.2f}" height="{bh:.2f}" '
                         f'fill="{colour}" data-value="{e(number(v))}" data-series="{k}">'
                         f'<title>{e(label)} · {e(s.name)}: {e(number(v))}{e(unit)}</title></rect>')
            if stacked:
                base = top_y
    return c.finish()


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], *, target: float | None = None,
               target_label: str | None = None, unit: str = "", y_label: str | None = None, key: str = "chart",
               empty_text: str = "No data yet", width: int = WIDTH, height: int = HEIGHT,
               description: str | None = None) -> Markup:
    """A line with a dot per label for each series."""
    n = len(labels)
    top = max((value_at(s, i) for s in series for i in range(n)), default=0.0)
    c = _Canvas(title, labels, series, key=key, unit=unit, top=top, target=target, target_label=target_label,
                y_label=y_label, empty_text=empty_text, width=width, height=height, description=description)
    e = escape
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        points = []
        for i in range(n):
            x, w = c.slot(i)
            points.append((x + w / 2, c.y(value_at(s, i))))
        if len(points) > 1:
            path = " ".join(f"{px:.2f},{py:.2f}" for px, py in points)
            c.out.append(f'<polyline class="line" points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for i, (px, py) in enumerate(points):
            v = value_at(s, i)
            c.out.append(f'<circle class="point" cx="{px:.2f}" cy="{py:.2f}" r="4" fill="{colour}" '
                         f'data-value="{e(number(v))}" data-series="{k}">'
                         f'<title>{e(labels[i])} · {e(s.name)}: {e(number(v))}{e(unit)}</title></circle>')
    return c.finish()
