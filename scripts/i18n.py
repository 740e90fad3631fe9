"""Catalog chores: `python scripts/i18n.py extract|update|compile|check`.

- extract: write locales/messages.pot from every N_("...") in the code.
- update:  merge the template into each shipped locale's messages.po (new strings appear
           untranslated; English copies its msgid).
- compile: build the .mo files the bot reads (not committed; the setup scripts run this).
- check:   fail if a shipped locale lacks a translation or a translation's {placeholders}
           differ from its msgid.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from babel.messages.pofile import read_po, write_po  # noqa: E402

from bot.i18n import SUPPORTED_LOCALES  # noqa: E402

LOCALES = ROOT / "locales"
POT = LOCALES / "messages.pot"
PYBABEL = [sys.executable, "-m", "babel.messages.frontend"]
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def run(*args: str) -> None:
    proc = subprocess.run([*PYBABEL, *args], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(proc.returncode)


def extract() -> None:
    run("extract", "-F", "babel.cfg", "-k", "N_", "-k", "Nn_:1,2", "--no-default-keywords", "--sort-by-file",
        "--omit-header", "-o", str(POT), ".")


def update() -> None:
    for loc in SUPPORTED_LOCALES:
        po = LOCALES / loc / "LC_MESSAGES" / "messages.po"
        if po.exists():
            run("update", "-i", str(POT), "-o", str(po), "-l", loc, "--no-fuzzy-matching", "--ignore-obsolete")
        else:
            run("init", "-i", str(POT), "-o", str(po), "-l", loc)
    en = LOCALES / "en" / "LC_MESSAGES" / "messages.po"
    with en.open("rb") as fh:
        cat = read_po(fh, locale="en")
    for msg in cat:
        if msg.id and not any(msg.string if isinstance(msg.string, tuple) else [msg.string]):
            msg.string = msg.id  # a (singular, plural) pair for plural entries
    with en.open("wb") as fh:
        write_po(fh, cat, width=0, omit_header=False)


def compile_() -> None:
    run("compile", "-d", str(LOCALES), "-D", "messages", "--statistics")


def problems() -> list[str]:
    with POT.open("rb") as fh:
        template = read_po(fh)
    out = []
    for loc in SUPPORTED_LOCALES:
        with (LOCALES / loc / "LC_MESSAGES" / "messages.po").open("rb") as fh:
            cat = read_po(fh, locale=loc)
        for msg in template:
            if not msg.id:
                continue
            tr = cat.get(msg.id)
            forms = list(tr.string) if tr is not None and isinstance(tr.string, tuple) else [tr.string if tr else ""]
            if tr is None or not all(forms) or tr.fuzzy:
                out.append(f"{loc}: untranslated: {msg.id!r}")
                continue
            msgids = msg.id if isinstance(msg.id, tuple) else (msg.id,)
            wanted = set(PLACEHOLDER.findall(msgids[0]))
            if any(set(PLACEHOLDER.findall(form)) != wanted for form in forms):
                out.append(f"{loc}: placeholders differ: {msgids[0]!r}")
    return out


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "extract":
        extract()
    elif cmd == "update":
        extract()
        update()
    elif cmd == "compile":
        compile_()
    elif cmd == "check":
        found = problems()
        for p in found:
            print(p)
        return 1 if found else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
