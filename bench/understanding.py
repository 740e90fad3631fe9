"""How well the bot understands what residents type, and what it costs (issue 17).

    .venv/bin/python bench/understanding.py [--repeat N] [--show-misses]

The set: `tests/data/understanding/messages/<lang>.jsonl`, messages written the way residents
write in each of the ten languages (see its README), each with the intent it should reach and,
for some, a detail (the kind of help, of garbage, the language named). Each message is read as
a resident of that language would send it at the top level (`bot.core.understand.understand`,
their language tried first).

Printed, per language and overall:

* right: the intent is the expected one (for "unknown" lines: nothing was understood);
* detail right: of the right ones that name a detail, the detail is right too;
* not understood: messages with an intent that got none (the resident is shown the menu);
* wrong: understood as something else (the worse failure: the bot does the wrong thing);
* time added per message: p50 / p99 / max over `--repeat` passes of the whole set, after one
  warm-up pass (the dictionaries and word lists loaded, as at start-up).

Targets (issue 17): ≥ 90 % right overall, ≥ 80 % in every language, ≤ 10 % not understood,
≤ 5 ms p99. `tests/test_understanding_data.py` runs the same evaluation with a floor.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import vm_rss_kib  # noqa: E402
from bot.core import understand  # noqa: E402
from bot.core.i18n import LANGUAGES  # noqa: E402

DATA = ROOT / "tests" / "data" / "understanding" / "messages"
SLOTS = ("category", "kind", "language")  # details checked when the line names them


@dataclass
class Score:
    total: int = 0
    right: int = 0
    detailed: int = 0
    detail_right: int = 0
    not_understood: int = 0
    wrong: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, other: "Score") -> None:
        for name in ("total", "right", "detailed", "detail_right", "not_understood", "wrong"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.misses += other.misses

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0


def load(lang: str) -> list[dict]:
    path = DATA / f"{lang}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(lang: str, lines: list[dict]) -> Score:
    score = Score()
    for line in lines:
        got = understand.understand(line["text"], lang)
        want = None if line["intent"] == "unknown" else line["intent"]
        score.total += 1
        if got.intent == want:
            score.right += 1
            named = [k for k in SLOTS if k in line and line[k] is not None]
            if named:
                score.detailed += 1
                if all(got.slots.get(k) == line[k] for k in named):
                    score.detail_right += 1
                else:
                    score.misses.append(f"{lang} detail {line['text']!r}: want {[line[k] for k in named]}, "
                                        f"got {[got.slots.get(k) for k in named]}")
            continue
        if got.intent is None:
            score.not_understood += 1
        else:
            score.wrong += 1
        score.misses.append(f"{lang} {line['text']!r}: want {line['intent']}, got {got.intent}")
    return score


def evaluate_all() -> tuple[dict[str, Score], Score]:
    per = {lang: evaluate(lang, load(lang)) for lang in LANGUAGES}
    overall = Score()
    for s in per.values():
        overall.add(s)
    return per, overall


def timings(repeat: int) -> list[float]:
    sets = [(lang, load(lang)) for lang in LANGUAGES]
    for lang, lines in sets:  # warm-up: as after start-up
        for line in lines:
            understand.understand(line["text"], lang)
    out = []
    for _ in range(repeat):
        for lang, lines in sets:
            for line in lines:
                understand.reading.cache_clear()  # each resident's message is new: no reading cached
                t0 = time.perf_counter()
                understand.understand(line["text"], lang)
                out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    rss0 = vm_rss_kib()
    t0 = time.perf_counter()
    understand.warm()
    print(f"start-up: word lists and dictionary loaded in {(time.perf_counter() - t0) * 1000:.0f} ms, "
          f"resident memory +{(vm_rss_kib() - rss0) / 1024:.0f} MiB")
    per, overall = evaluate_all()
    print(f"{'language':10} {'messages':>8} {'right':>7} {'detail':>7} {'not und.':>8} {'wrong':>6}")
    for lang, s in [*per.items(), ("overall", overall)]:
        if not s.total:
            print(f"{lang:10} {'(no data)':>8}")
            continue
        detail = f"{s.detail_right / s.detailed:.0%}" if s.detailed else "-"
        print(f"{lang:10} {s.total:8d} {s.accuracy:7.1%} {detail:>7} {s.not_understood / s.total:8.1%} "
              f"{s.wrong / s.total:6.1%}")
    ms = timings(args.repeat)
    ms.sort()
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"time added per message over {len(ms)} readings: p50 {statistics.median(ms):.3f} ms, "
          f"p99 {p99:.3f} ms, max {ms[-1]:.3f} ms")
    if args.show_misses:
        print("\n".join(overall.misses))


if __name__ == "__main__":
    main()
