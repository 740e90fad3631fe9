"""The console's SVG charts (bot/console/charts.py): bars in proportion to their values, stacked
and side by side, a line, the target line, every text escaped, nothing to draw, and the text
alternative a screen reader reads."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from bot.console.charts import Series, bar_chart, line_chart, nice_max, number

NS = {"svg": "http://www.w3.org/2000/svg"}


def parse(svg) -> ET.Element:
    return ET.fromstring(str(svg))  # well-formed XML, or this raises


def bars(root) -> list[ET.Element]:
    return [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("class") == "bar"]


def test_bar_heights_are_in_proportion_to_the_values_and_share_one_baseline():
    root = parse(bar_chart("Sent", ["Jan", "Feb", "Mar"], [Series("Messages", [10, 20, 40])], key="m"))
    rects = bars(root)
    heights = [float(r.get("height")) for r in rects]
    assert heights[1] == pytest.approx(2 * heights[0]) and heights[2] == pytest.approx(4 * heights[0])
    bottoms = {round(float(r.get("y")) + float(r.get("height")), 2) for r in rects}
    assert len(bottoms) == 1
    assert [r.get("data-value") for r in rects] == ["10", "20", "40"]
    xs = [float(r.get("x")) for r in rects]
    assert xs == sorted(xs)  # January on the left


def test_stacked_bars_sit_on_each_other_and_side_by_side_bars_do_not():
    series = [Series("ja", [3, 1]), Series("en", [1, 0])]
    stacked = bars(parse(bar_chart("Joined", ["Jan", "Feb"], series, stacked=True)))
    ja_jan, en_jan = stacked[0], stacked[1]
    assert float(en_jan.get("y")) + float(en_jan.get("height")) == pytest.approx(float(ja_jan.get("y")))
    assert float(en_jan.get("x")) == float(ja_jan.get("x"))
    assert float(ja_jan.get("height")) == pytest.approx(3 * float(en_jan.get("height")))
    grouped = bars(parse(bar_chart("Joined", ["Jan", "Feb"], series)))
    assert float(grouped[1].get("x")) > float(grouped[0].get("x"))
    assert float(grouped[1].get("y")) + float(grouped[1].get("height")) == pytest.approx(
        float(grouped[0].get("y")) + float(grouped[0].get("height")))


def test_the_target_line_is_drawn_at_its_value_and_the_scale_includes_it():
    root = parse(bar_chart("Taking part", ["Jan"], [Series("Share", [30])], target=65, target_label="Target",
                           unit="%"))
    (bar,) = bars(root)
    line = next(e for e in root.iter("{http://www.w3.org/2000/svg}line") if e.get("class") == "target")
    bottom = float(bar.get("y")) + float(bar.get("height"))
    target_h = bottom - float(line.get("y1"))
    assert target_h == pytest.approx(float(bar.get("height")) * 65 / 30, abs=0.1)
    assert "Target 65%" in "".join(root.itertext())


def test_labels_and_names_are_escaped():
    evil = '<script>alert("x")</script> & "quotes"'
    svg = str(bar_chart(evil, [evil], [Series(evil, [1])], target=2, target_label=evil, key="x\"><b"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    root = parse(svg)  # still well-formed
    assert root.get("aria-label") == evil
    assert root.find("svg:title", NS).text == evil
    assert '"><b' not in svg


def test_an_empty_chart_says_there_is_nothing_yet():
    for svg in (bar_chart("Nothing", [], [], empty_text="No data yet"),
                bar_chart("Zeros", ["Jan", "Feb"], [Series("n", [0, 0])], empty_text="No data yet"),
                line_chart("Nothing", [], [Series("n", [])], empty_text="No data yet")):
        root = parse(svg)
        assert root.find("svg:desc", NS).text == "No data yet"
        assert any(e.get("class") == "empty" for e in root.iter())
        assert all(float(r.get("height")) == 0 for r in bars(root))


def test_the_text_alternative_names_every_value():
    root = parse(bar_chart("Residents joining", ["Jan", "Feb"], [Series("日本語", [2, 5]), Series("English", [1, 0])],
                           stacked=True, key="joined"))
    assert root.get("role") == "img" and root.get("aria-label") == "Residents joining"
    assert root.get("aria-describedby") == "joined-desc"
    desc = root.find("svg:desc", NS)
    assert desc.get("id") == "joined-desc"
    assert desc.text == "Jan: 日本語 2, English 1; Feb: 日本語 5, English 0."
    titles = [t.text for r in bars(root) for t in r.findall("svg:title", NS)]
    assert "Feb · 日本語: 5" in titles


def test_a_line_chart_has_a_point_per_month_higher_for_more():
    root = parse(line_chart("Hours", ["Jan", "Feb", "Mar"], [Series("Hours", [1.5, 3, 0])], key="h"))
    points = [c for c in root.iter("{http://www.w3.org/2000/svg}circle")]
    assert [p.get("data-value") for p in points] == ["1.5", "3", "0"]
    ys = [float(p.get("cy")) for p in points]
    assert ys[1] < ys[0] < ys[2]
    assert root.find("svg:polyline", NS) is not None


@pytest.mark.parametrize("top, expected", [(0, 1), (7, 8), (40, 40), (65, 80), (123, 150), (0.35, 0.4), (1000, 1000)])
def test_the_axis_ends_at_a_round_number_above_the_largest_value(top, expected):
    ymax, step = nice_max(top)
    assert ymax == pytest.approx(expected) and ymax >= top
    assert re.fullmatch(r"[125]|2\.5", f"{step / 10 ** int(f'{step:e}'.split('e')[1]):g}")


def test_numbers_read_naturally():
    assert number(12.0) == "12" and number(12.25) == "12.2" and number(1234) == "1,234" and number(None) == "-"


def test_counts_have_whole_number_ticks():
    root = parse(bar_chart("Joined", ["Jan", "Feb"], [Series("n", [1, 0])]))
    ticks = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("text-anchor") == "end"]
    assert ticks == ["0", "1"]
    assert nice_max(1, whole=True) == (1, 1) and nice_max(6, whole=True) == (6, 2)
