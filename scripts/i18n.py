"""Catalog chores: `python scripts/i18n.py extract|update|compile|check`.

- extract: write locales/messages.pot from every N_("...") in the code.
- update:  merge the template into each shipped locale's messages.po (new strings appear
           untranslated; English copies its msgid).
- compile: build the .mo files the bot reads (not committed; the setup scripts run this).
- check:   fail if a shipped locale lacks a translation, a translation's {placeholders}
           differ from its msgid, or a button label is longer than LINE allows (20 UTF-16
           units; 18 for choices a multiple-choice step shows with "✓ ").
- labels:  list the msgids used as button labels (found in the code, see `label_msgids`).

`check --locale xx` checks one catalog (also one not shipped yet: a translator's work).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from babel.messages.pofile import read_po, write_po  # noqa: E402

from bot.core.i18n import SUPPORTED_LOCALES, babel_locale  # noqa: E402

LOCALES = ROOT / "locales"
POT = LOCALES / "messages.pot"
PYBABEL = [sys.executable, "-m", "babel.messages.frontend"]
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Catalogs being translated, not yet offered to residents (kept up to date by `update`).
IN_PROGRESS: tuple[str, ...] = ()
# The console (staff and leaders) has its own domain, in Japanese and English only.
CONSOLE_POT = LOCALES / "console.pot"
CONSOLE_LOCALES = ("ja", "en")


def run(*args: str) -> None:
    proc = subprocess.run([*PYBABEL, *args], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(proc.returncode)


def extract() -> None:
    run("extract", "-F", "babel.cfg", "-k", "N_", "-k", "Nn_:1,2", "--no-default-keywords", "--sort-by-file",
        "--omit-header", "-o", str(POT), ".")
    run("extract", "-F", "babel_console.cfg", "-k", "ct", "-k", "cN_", "--no-default-keywords", "--sort-by-file",
        "--omit-header", "-o", str(CONSOLE_POT), ".")


def update(in_progress: bool = False) -> None:
    """Merge the template into the shipped catalogs (and, with --in-progress, into the ones
    being translated: not while a translator is writing to them)."""
    for loc in SUPPORTED_LOCALES + (IN_PROGRESS if in_progress else ()):
        po = LOCALES / loc / "LC_MESSAGES" / "messages.po"
        if po.exists():
            run("update", "-i", str(POT), "-o", str(po), "-l", babel_locale(loc), "--no-fuzzy-matching",
                "--ignore-obsolete")
        else:
            run("init", "-i", str(POT), "-o", str(po), "-l", babel_locale(loc))
    for loc in CONSOLE_LOCALES:
        po = LOCALES / loc / "LC_MESSAGES" / "console.po"
        if po.exists():
            run("update", "-i", str(CONSOLE_POT), "-o", str(po), "-l", loc, "-D", "console", "--no-fuzzy-matching",
                "--ignore-obsolete")
        else:
            run("init", "-i", str(CONSOLE_POT), "-o", str(po), "-l", loc, "-D", "console")
    for domain in ("messages", "console"):
        en = LOCALES / "en" / "LC_MESSAGES" / f"{domain}.po"
        with en.open("rb") as fh:
            cat = read_po(fh, locale="en")
        for msg in cat:
            if msg.id and not any(msg.string if isinstance(msg.string, tuple) else [msg.string]):
                msg.string = msg.id  # a (singular, plural) pair for plural entries
        with en.open("wb") as fh:
            write_po(fh, cat, width=0, omit_header=False)


def compile_() -> None:
    run("compile", "-d", str(LOCALES), "-D", "messages", "--statistics")
    for loc in CONSOLE_LOCALES:
        base = LOCALES / loc / "LC_MESSAGES"
        if (base / "console.po").exists():
            run("compile", "-i", str(base / "console.po"), "-o", str(base / "console.mo"), "-l", loc, "-D", "console")


LABEL_MAX = 20
CHECKED_LABEL_MAX = 18  # choices of a multiple-choice step get "✓ " in front
# Module-level tables whose values are button labels (some shown in multiple-choice steps).
LABEL_TABLES = {"CATEGORIES": CHECKED_LABEL_MAX, "TOPICS": CHECKED_LABEL_MAX, "ATTENDANCE": LABEL_MAX}
LABEL_CALLS = {"Option": 1, "MenuItem": 1, "Choice": 0}  # callee -> position of the label


def label_msgids() -> dict[str, int]:
    """msgid -> the most UTF-16 units its translations may have, for every N_("…") the code
    uses as a button label: Option(value, N_(…)), MenuItem(key, N_(…)), Choice(t(…, N_(…)), …),
    date_label=N_(…), and the tables in LABEL_TABLES."""
    import ast

    out: dict[str, int] = {}

    def msgids_in(node) -> list[str]:
        return [n.args[0].value for n in ast.walk(node)
                if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "N_" and n.args
                and isinstance(n.args[0], ast.Constant) and isinstance(n.args[0].value, str)]

    for folder in ("bot", "handlers", "conversations", "scheduler"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                    pos = LABEL_CALLS.get(name or "")
                    targets = []
                    if pos is not None and len(node.args) > pos:
                        targets.append(node.args[pos])
                    targets += [kw.value for kw in node.keywords if kw.arg in ("label", "date_label")]
                    for target in targets:
                        for m in msgids_in(target):
                            out[m] = min(out.get(m, LABEL_MAX), LABEL_MAX)
                elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                    names = [t.id for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                             if isinstance(t, ast.Name)]
                    for name in names:
                        if name in LABEL_TABLES and node.value is not None:
                            for m in msgids_in(node.value):
                                out[m] = min(out.get(m, LABEL_MAX), LABEL_TABLES[name])
    return out


def utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def problems(locales: list[str] | None = None) -> list[str]:
    with POT.open("rb") as fh:
        template = read_po(fh)
    labels = label_msgids()
    out = []
    for loc in locales or SUPPORTED_LOCALES:
        with (LOCALES / loc / "LC_MESSAGES" / "messages.po").open("rb") as fh:
            cat = read_po(fh, locale=babel_locale(loc))
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
            limit = labels.get(msgids[0])
            if limit and any(utf16(form) > limit for form in forms):
                out.append(f"{loc}: button label over {limit} characters: {msgids[0]!r} -> {forms[0]!r}")
    if not locales:
        out += console_problems()
    return out


def console_problems() -> list[str]:
    if not CONSOLE_POT.exists():
        return []
    with CONSOLE_POT.open("rb") as fh:
        template = read_po(fh)
    out = []
    for loc in CONSOLE_LOCALES:
        path = LOCALES / loc / "LC_MESSAGES" / "console.po"
        if not path.exists():
            out.append(f"console/{loc}: no catalog (run update)")
            continue
        with path.open("rb") as fh:
            cat = read_po(fh, locale=loc)
        for msg in template:
            if not msg.id:
                continue
            tr = cat.get(msg.id)
            if tr is None or not tr.string or tr.fuzzy:
                out.append(f"console/{loc}: untranslated: {msg.id!r}")
            elif set(PLACEHOLDER.findall(tr.string)) != set(PLACEHOLDER.findall(msg.id)):
                out.append(f"console/{loc}: placeholders differ: {msg.id!r}")
    return out


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "extract":
        extract()
    elif cmd == "update":
        extract()
        update("--in-progress" in argv)
    elif cmd == "compile":
        compile_()
    elif cmd == "labels":
        for msgid, limit in sorted(label_msgids().items()):
            print(f"{limit}\t{msgid}")
    elif cmd == "check":
        locales = [argv[argv.index("--locale") + 1]] if "--locale" in argv else None
        found = problems(locales)
        for p in found:
            print(p)
        return 1 if found else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
