"""The one way the bot writes a CSV file (the console's and the command line's exports).

UTF-8 with a BOM, so Excel opens it as UTF-8. Every text cell that a spreadsheet would run as a
formula is neutralised with a leading apostrophe: nicknames, answers and notes are typed by
residents, and a cell such as ``=HYPERLINK("https://…","…")`` must stay text. Numbers stay
numbers. Use `to_bytes` for every CSV the project writes; never `csv.writer` directly.
"""
from __future__ import annotations

import csv
import io
from typing import Any, Iterable, Sequence

# What makes Excel, LibreOffice or Google Sheets read a cell as a formula (OWASP's list), and
# the full-width forms a Japanese keyboard types.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def cell(value: Any) -> str | int | float:
    """One cell: numbers as they are, anything else as text a spreadsheet will not run."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def to_bytes(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> bytes:
    """A whole CSV file: the header, then the rows, every cell through `cell`."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([cell(c) for c in header])
    for row in rows:
        w.writerow([cell(c) for c in row])
    return buf.getvalue().encode("utf-8-sig")  # the BOM tells Excel it is UTF-8
