"""Numbers a member types or a payload carries, read in one place.

``str.isdigit`` is true for ``①``, ``²`` and Arabic-Indic digits, and ``int()`` then fails on
some of them and accepts others; so a number here is ASCII digits or full-width ones
(``１２``, what a Chinese input method types), nothing else. Ids stop at the database's
integer range: PostgreSQL's ``integer`` holds at most 2**31 - 1, and a larger id would make
the query fail instead of finding nothing.
"""

from __future__ import annotations

MAX_ID = 2**31 - 1
"""The largest value of a PostgreSQL ``integer`` column, which every id is."""

_FULL_WIDTH = str.maketrans("０１２３４５６７８９", "0123456789")
_ASCII_DIGITS = frozenset("0123456789")


def read_number(text: str, *, maximum: int = MAX_ID) -> int | None:
    """``text`` (surrounding spaces aside) as a whole number from 0 to ``maximum``, or None."""
    digits = text.strip().translate(_FULL_WIDTH)
    if not digits or not _ASCII_DIGITS.issuperset(digits) or len(digits) > len(str(maximum)):
        return None
    number = int(digits)
    return number if number <= maximum else None


def read_id(text: str) -> int | None:
    """A record's id typed or carried as text: a number from 1 to :data:`MAX_ID`, or None."""
    number = read_number(text)
    return number if number else None


def read_numbers(text: str, *, maximum: int = MAX_ID) -> list[int] | None:
    """Space-separated numbers (``/vote 3 1 2``), or None if any word is not one."""
    found = [read_number(word, maximum=maximum) for word in text.split()]
    return None if None in found else [n for n in found if n is not None]
