"""How well typed answers are read, in every language, and what it costs (issue 17).

    .venv/bin/python bench/answers.py [--repeat N] [--show-misses]

Two sets of what residents type at a question (`tests/data/understanding/`, see its README):
`answers/` (the set the word lists of `locales/<lang>/answers.toml` were written with in view)
and `answers_heldout/` (written afterwards by someone who had not read the word lists). Each line
is read as a resident of that language would type it (`bot.core.answers`, their language first),
the question asked on Friday 2026-12-04 at 10:00 in Tokyo.

Printed, per language and overall, for each set: the share read right, by kind (yes/no, when,
number), the share not read at all (the step asks again and says which buttons it has) and
the share read wrongly (the worse failure); then the time reading one answer takes (p50 / p99 /
max over `--repeat` passes, after a warm-up pass) and the memory the word lists take.
`tests/test_answers.py` runs the same evaluation with a floor.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import vm_rss_kib  # noqa: E402
from bot.core.i18n import LANGUAGES  # noqa: E402

DATA = ROOT / "tests" / "data" / "understanding"
SETS = ("answers", "answers_heldout")
ASKED = datetime(2026, 12, 4, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
KINDS = ("yes_no", "when", "number")


def load(lang: str, which: str = "answers") -> list[dict]:
    path = DATA / which / f"{lang}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read(line: dict, lang: str):
    """What the bot reads from one answer, in the set's own notation."""
    from bot.core import answers

    if line["kind"] == "yes_no":
        return answers.yes_no(line["text"], lang)
    if line["kind"] == "number":
        return answers.number(line["text"], lang)
    found = answers.when(line["text"], ASKED, lang)
    if found is None:
        return None
    day, clock = found
    return day.isoformat() + (f"T{clock:%H:%M}" if clock else "")


@dataclass
class Score:
    total: int = 0
    right: int = 0
    unread: int = 0
    by_kind: dict = field(default_factory=lambda: {k: [0, 0] for k in KINDS})
    misses: list = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 1.0

    def add(self, other: "Score") -> None:
        self.total += other.total
        self.right += other.right
        self.unread += other.unread
        for k in KINDS:
            self.by_kind[k][0] += other.by_kind[k][0]
            self.by_kind[k][1] += other.by_kind[k][1]
        self.misses += other.misses


def evaluate(lang: str, which: str = "answers") -> Score:
    score = Score()
    for line in load(lang, which):
        got = read(line, lang)
        score.total += 1
        score.by_kind[line["kind"]][1] += 1
        if got == line["expected"]:
            score.right += 1
            score.by_kind[line["kind"]][0] += 1
        else:
            score.unread += got is None
            score.misses.append(f"{which}/{lang}: {line['text']!r} read {got!r}, meant {line['expected']!r}")
    return score


def evaluate_all(which: str = "answers") -> tuple[dict[str, Score], Score]:
    per = {lang: evaluate(lang, which) for lang in LANGUAGES}
    overall = Score()
    for s in per.values():
        overall.add(s)
    return per, overall


def _pct(a: int, b: int) -> str:
    return f"{a / b:6.1%}" if b else "     -"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--show-misses", action="store_true")
    args = ap.parse_args()

    before = vm_rss_kib()
    started = time.perf_counter()
    from bot.core import answers

    for lang in LANGUAGES:
        answers.words(lang)
    loaded = time.perf_counter() - started
    print(f"start-up: word lists loaded in {loaded * 1000:.0f} ms, resident memory "
          f"+{(vm_rss_kib() - before) / 1024:.0f} MiB (with bot.core.understand, which it imports)")
    for which in SETS:
        per, overall = evaluate_all(which)
        if not overall.total:
            print(f"\n{which}: no data")
            continue
        print(f"\n{which}/")
        print(f"{'language':10} {'answers':>7} {'right':>7} {'yes/no':>7} {'when':>7} {'number':>7} {'unread':>7} {'wrong':>7}")
        for lang, s in [*per.items(), ("overall", overall)]:
            kinds = " ".join(_pct(*s.by_kind[k]) + " " for k in KINDS)
            print(f"{lang:10} {s.total:7} {s.accuracy:7.1%} {kinds}{_pct(s.unread, s.total)}  "
                  f"{_pct(s.total - s.right - s.unread, s.total)}")
        if args.show_misses:
            print("\n".join(overall.misses))

    lines = [(line, lang) for which in SETS for lang in LANGUAGES for line in load(lang, which)]
    for line, lang in lines:  # warm-up
        read(line, lang)
    times = []
    for _ in range(args.repeat):
        for line, lang in lines:
            t0 = time.perf_counter()
            read(line, lang)
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p99 = times[int(len(times) * 0.99) - 1]
    print(f"\ntime per answer over {len(times)} readings: p50 {statistics.median(times):.3f} ms, "
          f"p99 {p99:.3f} ms, max {times[-1]:.3f} ms")


if __name__ == "__main__":
    main()
