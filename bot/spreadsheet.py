"""CSV that a spreadsheet opens without running anything in it.

Excel, LibreOffice and WPS treat a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return as a formula (CSV injection, OWASP): a member's name such as
``=HYPERLINK(...)`` would run in an officer's spreadsheet. Such a cell gets a leading
apostrophe, which the spreadsheet shows as text and does not display.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: Iterable[object], rows: Iterable[Iterable[object]]) -> str:
    """The CSV of a table, every cell made safe, with a UTF-8 BOM so that Excel reads the
    Chinese text as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(cell) for cell in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return "\ufeff" + buffer.getvalue()
