"""The sealed urn: known votes cast in a known order, and nothing the database keeps, in
any order it keeps it (SQLite pages and WAL frames, PostgreSQL xmin and ctid), pairs a
voter with a choice, before or after closing. The private key lives in the key folder only
and is erased at closing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from nacl.encoding import Base64Encoder
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox
from sqlalchemy import select, text

from bot.app import App
from storage import urn
from storage.bargaining import Refused
from storage.models.bargaining import Ballot, BallotPaper
from tests.storage.test_ballots import close, congress, session_at, vote, workers

CHOICES = ["for", "against", "abstain", "for", "for", "against"]


def sqlite_bytes(app: App) -> bytes:
    """The database file and its write-ahead log, as a thief copying them would get them."""
    path = Path(str(app.engine.url.database))
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def voters_and_papers(
    app: App,
) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, bytes]]]:
    """PostgreSQL's hidden columns: the transaction that wrote each row and where it lies."""
    async with app.engine.connect() as connection:
        voters = (
            await connection.execute(
                text("SELECT xmin::text, ctid::text, member_id FROM ballot_voters ORDER BY ctid")
            )
        ).all()
        papers = (
            await connection.execute(
                text("SELECT xmin::text, ctid::text, sealed FROM ballot_papers ORDER BY ctid")
            )
        ).all()
    return [tuple(v) for v in voters], [tuple(p) for p in papers]  # type: ignore[misc]


def no_choice_near_a_receipt(raw: bytes, receipts: list[str]) -> None:
    for receipt in receipts:
        for choice in ("for", "against", "abstain"):
            near = re.compile(re.escape(receipt.encode()) + rb".{0,40}" + choice.encode(), re.S)
            assert not near.search(raw), (receipt, choice)


async def test_no_order_the_database_keeps_pairs_a_voter_with_a_choice(app: App) -> None:
    enterprise, people = await workers(app, len(CHOICES))
    session_id = await session_at(app, enterprise, 7, people)
    ballot_id = await congress(app, session_id)
    receipts = [await vote(app, ballot_id, m, c) for m, c in zip(people, CHOICES, strict=True)]
    async with app.sessions() as session:
        ballot = await session.get(Ballot, ballot_id)
        assert ballot is not None and ballot.public_key is not None
        public_key = ballot.public_key
        sealed = list(await session.scalars(select(BallotPaper.sealed)))
    key_file = urn.key_path(app.settings.key_dir, ballot_id, public_key)
    private = key_file.read_bytes()
    assert key_file.stat().st_mode & 0o777 == 0o600

    # Before closing: every paper is a ciphertext of one length, opened by no other key.
    assert len(sealed) == len(CHOICES) and len({len(s) for s in sealed}) == 1
    stranger = SealedBox(PrivateKey.generate())
    for paper in sealed:
        with pytest.raises(CryptoError):
            stranger.decrypt(paper)
        assert not any(r.encode() in paper for r in receipts)
    if app.engine.dialect.name == "sqlite":
        raw = sqlite_bytes(app)
        assert b'"v":' not in raw and private not in raw
        assert not any(r.encode() in raw for r in receipts)
    else:
        voters, papers = await voters_and_papers(app)
        # The attack of the issue still links each voter row to a paper row...
        by_transaction = {xmin: member for xmin, _, member in voters}
        linked = [(by_transaction[xmin], paper) for xmin, _, paper in papers]
        assert sorted(member for member, _ in linked) == sorted(people)
        # ...but what it finds is a sealed blob that holds no receipt and no choice.
        for _, paper in linked:
            assert b'"v":' not in paper and not any(r.encode() in paper for r in receipts)
        async with app.engine.connect() as connection:
            dump = str((await connection.execute(text("SELECT * FROM ballots"))).all())
        assert private.hex() not in dump and "for" not in dump

    # Closing counts in memory, keeps sorted receipts and totals, erases papers and key.
    closed = await close(app, ballot_id)
    assert closed.result == {
        "voted": 6,
        "counts": {"for": 3, "against": 2, "abstain": 1},
        "receipts": sorted(receipts),
    }
    assert not key_file.exists()
    async with app.sessions() as session:
        assert (await session.scalars(select(BallotPaper))).all() == []
    if app.engine.dialect.name == "sqlite":
        raw = sqlite_bytes(app)
        assert b'"v":' not in raw and private not in raw
        no_choice_near_a_receipt(raw, receipts)
    else:
        voters, papers = await voters_and_papers(app)
        assert len(voters) == 6 and papers == []


async def test_a_ballot_whose_key_is_lost_is_not_counted_and_says_why(app: App) -> None:
    enterprise, people = await workers(app, 2)
    session_id = await session_at(app, enterprise, 7, people)
    ballot_id = await congress(app, session_id)
    await vote(app, ballot_id, people[0], "for")
    for path in (app.settings.key_dir / urn.URN_DIR).iterdir():
        path.unlink()
    with pytest.raises(Refused) as refused:
        await close(app, ballot_id)
    assert refused.value.msgid == "ballots.key_missing"
    async with app.sessions() as session:
        assert len((await session.scalars(select(BallotPaper))).all()) == 1


def test_every_paper_of_a_ballot_has_one_length() -> None:
    private = PrivateKey.generate()
    size = urn.paper_size(3, 12)
    key = private.public_key.encode(Base64Encoder).decode()
    papers = [urn.seal(key, {"r": "ABCDEFGH", "c": c}, size) for c in ([1], [2, 11], [10, 11, 12])]
    assert len({len(p) for p in papers}) == 1
    assert SealedBox(private).decrypt(papers[2]).rstrip() == b'{"r":"ABCDEFGH","c":[10,11,12]}'
