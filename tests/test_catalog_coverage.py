"""Every word a resident reads comes from the catalogs: no string literal with letters in a
reply, a button, an error shown to a resident, or a t() call without N_() (which extraction
would miss). Checked on the source (ast), so a new handler cannot slip one in."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("bot", "handlers", "conversations", "scheduler")
# Calls whose text arguments a resident reads, and which arguments those are.
REPLY_CALLS = {
    "Text": ("text",), "Question": ("text",), "Card": ("title", "body"), "Choice": ("label",),
    "Carousel": ("alt",), "DateQuestion": ("text", "label"), "Invalid": ("msgid",),
    "UserError": ("msgid",), "CircularError": ("msgid",), "AnnouncementError": ("msgid",),
    "ReminderError": ("msgid",), "GarbageError": ("msgid",), "EventError": ("msgid",), "AidError": ("msgid",),
}
LETTERS = re.compile(r"[A-Za-z\u3040-\u30ff\u4e00-\u9fff]{2,}")
# Modules that talk to staff on the command line (English, not for residents) or build data.
EXEMPT = {"bot/cli.py", "bot/cli/events.py", "bot/cli/circulars.py", "bot/cli/clock.py", "bot/cli/demo.py"}


def _literal_text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    if isinstance(node, ast.BinOp):
        return (_literal_text(node.left) or "") + (_literal_text(node.right) or "")
    return None


def _positional_names(name: str) -> tuple[str, ...]:
    return {"Text": ("text",), "Question": ("text",), "Card": ("title", "body"), "Choice": ("label",),
            "Carousel": ("alt",), "DateQuestion": ("text", "mode", "data", "label")}.get(name, ("msgid",))


def problems() -> list[str]:
    out = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in EXEMPT:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in REPLY_CALLS:
                    wanted = REPLY_CALLS[name]
                    args = [(n, a) for n, a in zip(_positional_names(name), node.args)]
                    args += [(kw.arg, kw.value) for kw in node.keywords]
                    for arg_name, value in args:
                        text = _literal_text(value) if arg_name in wanted else None
                        if text and LETTERS.search(text):
                            out.append(f"{rel}:{node.lineno}: {name}({text[:40]!r}) is not from the catalogs")
                if name == "t" and len(node.args) >= 2 or (name == "t" and isinstance(node.func, ast.Attribute) and node.args):
                    msg = node.args[1] if isinstance(node.func, ast.Name) else node.args[0]
                    if isinstance(msg, (ast.Constant, ast.JoinedStr)):
                        out.append(f"{rel}:{node.lineno}: t() with a literal: mark it N_(…) so it is extracted")
    return out


def test_no_resident_facing_text_outside_the_catalogs():
    assert problems() == []


def test_the_check_would_catch_one(tmp_path, monkeypatch):
    bad = ROOT / "handlers" / "_tmp_catalog_probe.py"
    bad.write_text('from bot.core.replies import Text\n\ndef f(ctx):\n    return [Text("Hello there")]\n', encoding="utf-8")
    try:
        assert any("_tmp_catalog_probe.py" in p for p in problems())
    finally:
        bad.unlink()
