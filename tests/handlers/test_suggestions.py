"""The suggestion box: members suggest, the chair adopts or answers, the author is told."""

from __future__ import annotations

import re

from bot.app import App
from tests.conftest import Chat, payloads
from tests.handlers.test_bargaining import as_, running_session, to


async def test_a_suggestion_is_adopted_and_its_author_told(app: App) -> None:
    chat = Chat(app, "chair")
    _, code = await running_session(app, chat)
    assert "还没有加入" in to(await as_(chat, "xiaozhang", "/suggest 提高夜班津贴"), "xiaozhang")
    await as_(chat, "xiaozhang", f"/join {code}")
    await as_(chat, "xiaowang", f"/join {code}")
    assert "请在命令后写建议" in to(await as_(chat, "xiaozhang", "/suggest"), "xiaozhang")
    thanks = to(await as_(chat, "xiaozhang", "/suggest 希望提高夜班津贴"), "xiaozhang")
    assert "已经交给工会主席" in thanks
    assert "已匿名" in to(await as_(chat, "xiaowang", "/suggest_anon 食堂伙食要改善"), "xiaowang")

    listing = await chat.say("/suggestions")
    text = "\n".join(m["text"] for m in listing)
    assert "（小张，待处理）希望提高夜班津贴" in text
    assert "（匿名，待处理）食堂伙食要改善" in text and "小王" not in text
    night, canteen = (int(n) for n in re.findall(r"#(\d+)（", text))
    assert [payloads(m) for m in listing[1:]] == [[f"sg:{night}"], [f"sg:{canteen}"]]

    adopted = await chat.say({"press": f"sg:{night}"})
    assert "已采纳" in to(adopted, "chair")
    assert "您对《2027 年度工资集体协商》的建议被采纳了：希望提高夜班津贴" in to(
        adopted, "xiaozhang"
    )
    assert "已经处理过" in await chat.text_of(f"/adopt {night}")
    assert "请这样写" in await chat.text_of(f"/answer {canteen}")
    answered = await chat.say(f"/answer {canteen} 已和食堂商量，下月起增加菜品")
    assert "下月起增加菜品" in to(answered, "xiaowang")
    assert "没有这条建议" in await chat.text_of("/adopt 99999")
    assert "工会主席" in to(await as_(chat, "xiaozhang", "/suggestions"), "xiaozhang")
