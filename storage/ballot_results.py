"""A closed ballot's published result as the web page reads it: totals to chart and the
receipts that were counted, and nothing that ties a receipt to a choice.

The one place the page reads ``Ballot.result``, so that the page follows the tally's
shape wherever the ballots' storage takes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.models.bargaining import Ballot

CONGRESS_CHOICES = ("for", "against", "abstain")


@dataclass(frozen=True)
class Totals:
    voted: int
    eligible: int
    counts: list[tuple[str, int]]
    """(candidate's name, votes) for an election; (``for``/``against``/``abstain``, votes)
    for a congress."""
    receipts: frozenset[str]


def totals(ballot: Ballot) -> Totals | None:
    """The result of a closed ballot; None while it is open."""
    if ballot.closed_at is None or ballot.result is None:
        return None
    result = ballot.result
    if ballot.kind == "congress":
        counts = [(choice, int(result["counts"][choice])) for choice in CONGRESS_CHOICES]
    else:
        counts = [(str(name), int(n)) for name, n in result["counts"]]
    return Totals(
        int(result.get("voted", 0)), ballot.eligible, counts, frozenset(result["receipts"])
    )


def normal_receipt(text: str) -> str:
    """A receipt as typed (spaces, lower case, full-width letters) in the form it was given."""
    return (
        "".join(text.split())
        .upper()
        .translate({code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)})
    )
