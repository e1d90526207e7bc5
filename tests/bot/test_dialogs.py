"""Forms: asking, re-asking with the reason, confirming, saving, cancelling, timing out,
and carrying on in another process."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.app import App
from bot.settings import Settings
from storage.core_seed import CONSOLE
from storage.members import member_by_identity
from storage.models import DialogState, Enterprise, Member
from storage.types import utcnow
from tests.conftest import Chat, payloads
from unionbot.app import build_app


async def add_enterprises(app: App) -> None:
    async with app.sessions() as session, session.begin():
        session.add_all(
            [
                Enterprise(name="浙江顺虎铝业有限公司", city="永康"),
                Enterprise(name="宁波速普电子有限公司", city="慈溪", town="坎墩街道"),
            ]
        )


async def member(app: App, name: str) -> Member:
    async with app.sessions() as session:
        found = await member_by_identity(session, CONSOLE, name)
        assert found is not None
        return found


async def test_details_form_validates_confirms_and_saves(app: App, chat: Chat) -> None:
    await add_enterprises(app)
    assert "真实姓名" in await chat.text_of("/me")
    too_short = await chat.text_of("李")
    assert "太短" in too_short and "真实姓名" in too_short
    assert "镇" in await chat.text_of("李晓梅")
    [ask_enterprise] = await chat.say("坎墩街道")
    assert "1. 浙江顺虎铝业有限公司（永康）" in ask_enterprise["text"]
    assert {"f:c:1", "f:c:2", "f:skip", "f:no"} <= set(payloads(ask_enterprise))
    not_a_number = await chat.text_of("abc")
    assert "序号" in not_a_number and "1 到 2" in not_a_number
    assert "序号" in await chat.text_of("7")
    assert "工号或手机号" in await chat.text_of("2")
    [confirm] = await chat.say("跳过")
    assert "宁波速普电子有限公司" in confirm["text"] and "李晓梅" in confirm["text"]
    assert payloads(confirm) == ["f:ok", "f:no"]
    unsaved = await member(app, "xiaoming")
    assert unsaved.real_name is None
    assert "已保存" in await chat.text_of({"press": "f:ok"})
    saved = await member(app, "xiaoming")
    assert (saved.real_name, saved.town, saved.enterprise_id) == ("李晓梅", "坎墩街道", 2)
    async with app.sessions() as session:
        assert await session.scalar(select(DialogState)) is None


async def test_an_optional_choice_can_be_skipped_by_button_or_word(app: App, chat: Chat) -> None:
    await add_enterprises(app)
    await chat.say("/me")
    await chat.say("张伟")
    await chat.say("永康")
    await chat.say("跳过")
    [confirm] = await chat.say("跳过")
    assert "（未填）" in confirm["text"]
    await chat.say("1")
    assert (await member(app, "xiaoming")).enterprise_id is None


async def test_pressing_a_choice_button_answers(app: App, chat: Chat) -> None:
    await add_enterprises(app)
    for line in ("/me", "张伟", "永康"):
        await chat.say(line)
    await chat.say({"press": "f:c:1"})
    [confirm] = await chat.say({"press": "f:skip"})
    assert "浙江顺虎铝业有限公司" in confirm["text"]


async def test_cancel_leaves_the_form_and_saves_nothing(app: App, chat: Chat) -> None:
    await chat.say("/me")
    await chat.say("李晓梅")
    assert "已取消" in await chat.text_of("/cancel")
    assert "没听懂" in await chat.text_of("坎墩街道")
    assert (await member(app, "xiaoming")).town is None
    assert "没有需要取消" in await chat.text_of("/cancel")


async def test_cancel_button_and_declining_the_summary(app: App, chat: Chat) -> None:
    await chat.say("/me")
    assert "已取消" in await chat.text_of({"press": "f:no"})
    for line in ("/me", "李晓梅", "坎墩街道", "跳过", "跳过"):
        await chat.say(line)
    assert "1 确认" in await chat.text_of("也许吧")
    assert "已取消" in await chat.text_of("2")
    assert (await member(app, "xiaoming")).real_name is None


async def test_form_buttons_outside_a_form_are_stale(chat: Chat) -> None:
    assert "失效" in await chat.text_of({"press": "f:ok"})


async def test_commands_still_work_inside_a_form(chat: Chat) -> None:
    await chat.say("/me")
    assert "/cancel" in await chat.text_of("/help")
    assert "镇" in await chat.text_of("李晓梅")


async def test_a_form_continues_after_a_restart(settings: Settings) -> None:
    first = build_app(settings)
    await Chat(first, "xiaoming").say("/me")
    await Chat(first, "xiaoming").say("李晓梅")
    await first.close()
    second = build_app(settings)
    try:
        resumed = Chat(second, "xiaoming")
        assert "跳过" in await resumed.text_of("坎墩街道")
        await resumed.say("跳过")
        await resumed.say("跳过")
        await resumed.say("1")
        assert (await member(second, "xiaoming")).town == "坎墩街道"
    finally:
        await second.close()


async def test_each_member_has_their_own_form(app: App, chat: Chat) -> None:
    await chat.say("/me")
    assert "没听懂" in await chat.text_of({"as": "xiaoli", "text": "李晓梅"})
    assert "镇" in await chat.text_of("李晓梅")


async def test_an_idle_form_times_out(app: App, chat: Chat) -> None:
    await chat.say("/me")
    idle = timedelta(minutes=app.settings.form_idle_minutes + 1)
    async with app.sessions() as session, session.begin():
        await session.execute(update(DialogState).values(updated_at=utcnow() - idle))
    expired = await chat.text_of("李晓梅")
    assert "长时间未操作" in expired and "没听懂" in expired
    assert (await member(app, "xiaoming")).real_name is None


async def test_an_enterprise_beyond_the_first_few_is_found_by_part_of_its_name(
    app: App, chat: Chat
) -> None:
    async with app.sessions() as session, session.begin():
        session.add_all(Enterprise(name=f"慈溪第{n:02d}电器厂", city="慈溪") for n in range(30))
    await chat.say("/me")
    await chat.say("李晓梅")
    [asked] = await chat.say("坎墩街道")
    assert asked["text"].count("电器厂") == 8 and "第29" not in asked["text"]
    found = await chat.say("第29")
    assert "找到 1 个" in found[0]["text"] and "1. 慈溪第29电器厂（慈溪）" in found[-1]["text"]
    await chat.say("1")
    [confirm] = await chat.say("跳过")
    assert "慈溪第29电器厂" in confirm["text"]
    await chat.say({"press": "f:ok"})
    async with app.sessions() as session:
        chosen = await session.scalar(select(Enterprise.id).where(Enterprise.name.like("%第29%")))
    assert (await member(app, "xiaoming")).enterprise_id == chosen
