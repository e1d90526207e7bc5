"""CSV for officers' spreadsheets, with no cell a spreadsheet would run as a formula.

Names and texts come from members: a nickname such as ``=HYPERLINK("http://…","点我")``
would be a live formula in Excel or WPS when an officer opens the export. A cell starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``, which
spreadsheets show as text and do not display (OWASP's advice for CSV injection).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def write_rows(file: TextIO, rows: Iterable[Iterable[str]]) -> None:
    csv.writer(file).writerows([safe_cell(cell) for cell in row] for row in rows)
