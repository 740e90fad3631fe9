"""Imports go at the top of a module; one inside a function is kept only where a comment says why
(issue 16): on the line directly above it (`# late: bot.app imports this module`) or on its own
line. Imports under `if TYPE_CHECKING:` are not counted."""
from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "conversations", "scheduler")

def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None) if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports_in_functions(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                continue
            if in_function and isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return found


def offenders(path: Path) -> list[int]:
    """Line numbers of the imports inside functions in `path` with no comment saying why."""
    source = path.read_text(encoding="utf-8")
    comments = {tok.start[0]: tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.COMMENT}
    lines = source.splitlines()
    bad = []
    for node in _imports_in_functions(ast.parse(source, str(path))):
        above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
        commented_above = above.startswith("#") and (node.lineno - 1) in comments
        commented_on_it = any(n in comments for n in range(node.lineno, (node.end_lineno or node.lineno) + 1))
        if not (commented_above or commented_on_it):
            bad.append(node.lineno)
    return bad


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_imports_inside_functions_say_why():
    found = [f"{_rel(p)}:{line}" for p in _modules() for line in offenders(p)]
    assert not found, ("imports inside functions with no comment on the line above: move them to the top of the "
                       "module, or say why they must stay (`# late: …`):\n" + "\n".join(found))


def test_the_check_sees_an_uncommented_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\n"
        "from typing import TYPE_CHECKING\n\n\n"
        "def f():\n"
        "    import json\n"                                  # 6: offends
        "    # late: a reason\n"
        "    import csv\n"                                   # 8: said why
        "    import re  # late: a reason\n"                  # 9: said why
        "    x = '# not a comment'\n"
        "    import io\n"                                    # 11: offends (a string is no comment)
        "    if TYPE_CHECKING:\n"
        "        import typing\n"                            # 13: for type checkers only
        "\n"
        "    class C:\n"
        "        def g(self):\n"
        "            from pathlib import Path\n"             # 17: offends
        "            return Path\n"
        "    return json, csv, re, io, x, C\n",
        encoding="utf-8",
    )
    assert offenders(sample) == [6, 11, 17]
