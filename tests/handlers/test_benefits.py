"""A member looks up what they can get: partner units by category, city, keyword and
distance, a page at a time, each saying whether they may use it and why not."""

from __future__ import annotations

from typing import Any

import pytest

from bot.app import App
from storage.models.benefits import PartnerUnit
from storage.seed import demo_files, import_file
from tests.conftest import Chat, payloads

WENZHOU_FIRST_HOSPITAL = "温州医科大学附属第一医院"


async def load_demo(app: App) -> None:
    async with app.sessions() as session, session.begin():
        for path in demo_files():
            await import_file(session, path)


@pytest.fixture
async def demo(app: App) -> App:
    await load_demo(app)
    return app


def unit_names(message: dict[str, Any]) -> list[str]:
    """The units listed on a page, from their detail buttons ("1. 名称")."""
    return [
        b["label"].split(". ", 1)[1]
        for row in message["buttons"]
        for b in row
        if b.get("payload", "").startswith("bnu:")
    ]


async def press(chat: Chat, payload: str) -> dict[str, Any]:
    [message] = await chat.say({"press": payload})
    return message


async def test_the_benefits_menu_offers_categories_cities_and_other_benefits(
    demo: App, chat: Chat
) -> None:
    [menu] = await chat.say("/benefits")
    assert "22 家联盟单位" in menu["text"] and "/benefits 医院" in menu["text"]
    assert {"bnc:medical", "bnc:lodging", "bnc:culture", "bny", "bno", "mw"} <= set(payloads(menu))
    [main] = await chat.say("/menu")
    assert "bn" in payloads(main)


async def test_asking_what_one_can_get_answers_with_the_benefits_menu(
    demo: App, chat: Chat
) -> None:
    for question in ("我能享受什么福利？", "福利", "What can I get?"):
        [menu] = await chat.say(question)
        assert "尊崇劳模联盟" in menu["text"] and "bnc:medical" in payloads(menu), question
    assert "没听懂" in await chat.text_of("福利院在哪里")


async def test_browsing_a_category_lists_its_units(demo: App, chat: Chat) -> None:
    medical = await press(chat, "bnc:medical")
    assert "医疗：第 1/1 页，共 5 项" in medical["text"]
    assert set(unit_names(medical)) == {
        WENZHOU_FIRST_HOSPITAL,
        "温州市人行养院",
        "温州市中心医院",
        "温州市人民医院",
        "乐清市人民医院",
    }
    assert "bnc:medical:2" not in payloads(medical)
    assert set(unit_names(await press(chat, "bnc:lodging"))) == {
        "温州华侨饭店",
        "温州王朝大酒店",
        "雁荡山假日酒店",
    }


async def test_browsing_by_city_pages_with_buttons_that_replace_the_page(
    demo: App, chat: Chat
) -> None:
    cities = await press(chat, "bny")
    assert {"bny:1:温州", "bny:1:乐清", "bny:1:瑞安", "bny:1:永嘉"} <= set(payloads(cities))
    assert set(unit_names(await press(chat, "bny:1:乐清"))) == {
        "乐清市人民医院",
        "雁荡山假日酒店",
        "雁荡山风景旅游管理委员会",
    }
    first = await press(chat, "bny:1:温州")
    assert "第 1/4 页，共 17 项" in first["text"] and len(unit_names(first)) == 5
    assert first["text"].count("\n") < 15
    assert "bny:2:温州" in payloads(first)
    second = await press(chat, "bny:2:温州")
    assert "第 2/4 页" in second["text"]
    assert not set(unit_names(first)) & set(unit_names(second))
    assert {"bny:1:温州", "bny:3:温州"} <= set(payloads(second))
    last = await press(chat, "bny:4:温州")
    assert len(unit_names(last)) == 2 and "bny:5:温州" not in payloads(last)


@pytest.mark.parametrize(
    ("keyword", "expected"),
    [
        (
            "医院",
            {
                WENZHOU_FIRST_HOSPITAL,
                "温州市人行养院",
                "温州市中心医院",
                "温州市人民医院",
                "乐清市人民医院",
            },
        ),
        ("住宿", {"温州华侨饭店", "温州王朝大酒店", "雁荡山假日酒店"}),
        ("银行", {"温州银行股份有限公司", "瑞安农村商业银行"}),
        ("挂号", {WENZHOU_FIRST_HOSPITAL, "温州市中心医院", "乐清市人民医院"}),
        ("hotel", {"温州华侨饭店", "温州王朝大酒店", "雁荡山假日酒店"}),
        ("雁荡", {"雁荡山假日酒店", "雁荡山风景旅游管理委员会"}),
    ],
)
async def test_keyword_search_works_in_chinese(
    demo: App, chat: Chat, keyword: str, expected: set[str]
) -> None:
    [found] = await chat.say(f"/benefits {keyword}")
    assert f"搜索“{keyword}”" in found["text"]
    assert set(unit_names(found)) == expected


async def test_a_search_with_no_result_says_so_and_wildcards_are_plain_text(
    demo: App, chat: Chat
) -> None:
    assert "没有找到" in await chat.text_of("/benefits 火星")
    assert "没有找到" in await chat.text_of("/benefits %")


async def test_a_shared_location_gives_the_nearest_units_first(demo: App, chat: Chat) -> None:
    [near] = await chat.say({"location": [27.9470, 120.7060]})
    assert "离您最近的单位" in near["text"]
    assert unit_names(near)[0] == WENZHOU_FIRST_HOSPITAL
    assert "0.0 公里" in near["text"]
    [yandang] = await chat.say({"location": [28.38, 121.06]})
    assert unit_names(yandang)[:2] == ["雁荡山风景旅游管理委员会", "雁荡山假日酒店"]
    next_page = [p for p in payloads(yandang) if p.startswith("bnl:2:")]
    assert next_page and len(next_page[0].encode()) <= 64
    assert "第 2/5 页" in (await press(chat, next_page[0]))["text"]


async def test_a_member_who_is_no_model_worker_is_told_how_to_become_eligible(
    demo: App, chat: Chat
) -> None:
    medical = await press(chat, "bnc:medical")
    assert "仅限市级及以上劳模" in medical["text"] and "/claim" in medical["text"]


async def test_each_answer_says_why_a_model_worker_may_not_use_a_service(demo: App) -> None:
    laomo = Chat(demo, "laomo")
    for line in ("/claim", "王建明", "999999197805120013"):
        await laomo.say(line)
    travel = await press(laomo, "bnc:travel")
    assert "已于 2024-12-31 结束" in travel["text"]
    assert "✅ 您可以享受 1 项服务" in travel["text"]
    [first] = await laomo.say("/benefits 温州医科大学")
    details = await press(laomo, next(p for p in payloads(first) if p.startswith("bnu:")))
    assert "挂号就诊优先\n   ✅" in details["text"]
    assert "需要省级及以上劳模，您是市级劳模" in details["text"]
    assert "/code" in details["text"]
    [theatre] = await laomo.say("/benefits 大剧院")
    concert = await press(laomo, next(p for p in payloads(theatre) if p.startswith("bnu:")))
    assert "2030-01-01 起才开始" in concert["text"]


async def test_other_benefits_are_listed_a_page_at_a_time(demo: App, chat: Chat) -> None:
    first = await press(chat, "bno")
    assert "其他福利：第 1/2 页，共 7 项" in first["text"]
    assert "爱心基金" in first["text"] and "bno:2" in payloads(first)
    second = await press(chat, "bno:2")
    assert "慈溪市职工技能运动会" in second["text"] or "尊崇劳模" in second["text"]
    baby = next(b["payload"] for row in first["buttons"] for b in row if "宝宝关爱金" in b["label"])
    details = await press(chat, baby)
    assert "新生宝宝" in details["text"] and "2000 元" in details["text"]
    assert "现在可以申请" in details["text"]


@pytest.mark.parametrize(
    "payload",
    [
        "bnu:9999",
        "bnu:",
        "bnu:1:2",
        "bnu:99999999999999999999",
        "bnb:99999999999999999999",
        "bnb:①",
        "bnc:spaceship",
        "bnc:medical:abc",
        "bnc:medical:",
        "bny:1:火星",
        "bny:x:温州",
        "bny:1:",
        "bns:1:",
        "bns:x:医院",
        "bnl:1:north:east",
        "bnl:1:nan:120",
        "bnl:1:inf:120",
        "bnl:1:95:120",
        "bnl:1:27.9",
        "bno:x",
        "bno:1:2",
    ],
)
async def test_stale_or_made_up_buttons_are_refused(demo: App, chat: Chat, payload: str) -> None:
    assert "这个按钮已失效" in (await press(chat, payload))["text"]


async def test_buttons_sent_before_the_codec_still_read(demo: App, chat: Chat) -> None:
    """Payloads as the hand-made buttons wrote them, already in members' chats."""
    assert "第 2/4 页" in (await press(chat, "bny:2:温州"))["text"]
    assert "医疗：第 1/1 页" in (await press(chat, "bnc:medical"))["text"]
    assert "第 2/5 页" in (await press(chat, "bnl:2:28.3800:121.0600"))["text"]
    assert "其他福利：第 2/2 页" in (await press(chat, "bno:2"))["text"]
    assert "乐清市人民医院" in (await press(chat, "bns:1:医院"))["text"]


async def test_a_city_or_keyword_too_long_for_a_button_still_works(demo: App, chat: Chat) -> None:
    city = "新疆维吾尔自治区伊犁哈萨克自治州察布查尔锡伯自治县孙扎齐牛录镇"
    async with demo.sessions() as session, session.begin():
        for n in range(7):
            session.add(
                PartnerUnit(name=f"边疆医院{n}", category="medical", city=city, address="某路")
            )
    cities = await press(chat, "bny")
    [button] = [p for p in payloads(cities) if p.startswith("bny:1:新疆")]
    assert len(button.encode()) <= 64 < len(f"bny:1:{city}".encode())
    first = await press(chat, button)
    assert f"{city}：第 1/2 页，共 7 项" in first["text"]
    [next_page] = [p for p in payloads(first) if p.startswith("bny:2:")]
    assert len(unit_names(await press(chat, next_page))) == 2
    [found] = await chat.say(f"/benefits {city}")
    [later] = [p for p in payloads(found) if p.startswith("bns:2:")]
    assert len(later.encode()) <= 64 < len(f"bns:2:{city[:20]}".encode())
    assert len(unit_names(await press(chat, later))) == 2


async def test_english_members_get_english(demo: App) -> None:
    amy = Chat(demo, "amy")
    [found] = await amy.say("/benefits hotel")
    assert "page 1 of 1" in found["text"] and "Only for city-level" in found["text"]
