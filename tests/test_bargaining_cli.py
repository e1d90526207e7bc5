"""``unionbot close-ballots``: closing ballots from the command line (a cron job, or by hand)
queues the results for members whose channel runs in another process."""

from __future__ import annotations

import re

from bot.app import App
from tests.conftest import Chat
from tests.handlers.test_bargaining import as_, make_due, member_id, running_session, to
from tests.test_cli import unionbot


async def test_close_ballots_closes_due_ballots_and_queues_the_results(
    app: App, database_url: str
) -> None:
    chat = Chat(app, "chair")
    _, code = await running_session(app, chat, step=2)
    await as_(chat, "xiaowang", f"/join {code}")
    wang = await member_id(app, "xiaowang")
    opened = await chat.say(f"/election 1 24 {wang} {await member_id(app, 'xiaozhang')}")
    ballot = int(re.findall(r"v:(\d+):1", str(opened))[0])
    voted = to(await as_(chat, "xiaowang", {"press": f"v:{ballot}:1"}), "xiaowang")
    receipt = re.search(r"回执码是 ([A-Z2-9]{8})", voted).group(1)  # type: ignore[union-attr]

    keys = {"UNIONBOT_KEY_DIR": str(app.settings.key_dir)}  # where the urn's key is
    early = unionbot("close-ballots", url=database_url, env=keys)
    assert early.returncode == 0 and early.stdout.decode().strip() == "closed 0 ballots"
    await make_due(app)
    done = unionbot("close-ballots", url=database_url, env=keys)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip() == "closed 1 ballot"
    waiting = await Chat(app, "xiaowang").start()
    published = to(waiting, "xiaowang")
    assert "当选：小王" in published and receipt in published and f"{receipt}：" not in published


def test_close_ballots_has_help() -> None:
    result = unionbot("close-ballots", "--help")
    assert result.returncode == 0 and b"closing time" in result.stdout
