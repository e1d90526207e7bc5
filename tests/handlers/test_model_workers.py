"""A model worker claims their status, shows a code, and partner-unit staff check it: valid,
then refused once expired, once the register entry is revoked, and whenever altered or
forged. The claim has a daily limit; the ID number is never kept."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

import handlers.model_workers
from bot.app import App
from storage import members
from storage.model_worker_code import TOKEN_PREFIX, TokenClaims, qr_png, sign_token
from storage.model_workers import (
    MAX_CHECKS_PER_MINUTE,
    MAX_ENTRY_FAILURES,
    MAX_FAILURES_OVERALL,
)
from storage.models import DialogState, Role
from storage.models.benefits import (
    ClaimAttempt,
    CodeCheck,
    ModelWorker,
    PartnerUnit,
    ServiceUse,
    WorkerCode,
)
from storage.types import utcnow
from tests.conftest import Chat, payloads
from tests.handlers.test_benefits import load_demo

WANG_ID = "999999197805120013"


@pytest.fixture
async def demo(app: App) -> App:
    await load_demo(app)
    return app


@pytest.fixture
def laomo(demo: App) -> Chat:
    return Chat(demo, "laomo")


async def claim(chat: Chat, name: str = "王建明", id_number: str = WANG_ID) -> str:
    await chat.say("/claim")
    await chat.say(name)
    return await chat.text_of(id_number)


async def get_code(chat: Chat) -> tuple[str, str]:
    """The numeric code and the image path of a fresh model-worker code."""
    [message] = await chat.say("/code")
    match = re.search(r"劳模码：(\d{10})", message["text"])
    assert match and message["image"], message
    return match.group(1), message["image"]


async def token_of(app: App, number: str) -> str:
    async with app.sessions() as session:
        token = await session.scalar(select(WorkerCode.token).where(WorkerCode.number == number))
        assert token is not None
        return token


def assert_qr_of(image: Path, token: str) -> None:
    """The PNG is the QR code of the signed token (rendering it again gives the same bytes)."""
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert qr_png(token) == image.read_bytes()


async def staff_says(chat: Chat, text: str) -> dict[str, object]:
    [reply] = await chat.say({"as": "hospital", "text": text})
    return reply


async def test_claim_then_code_then_staff_verify_as_valid(demo: App, laomo: Chat) -> None:
    assert "还没有认证" in await laomo.text_of("/code")
    assert "认证成功" in await claim(laomo)
    assert "市级劳模，温州，2021 年获评" in (await laomo.say({"press": "mw"}))[0]["text"]
    number, image = await get_code(laomo)
    token = await token_of(demo, number)
    assert_qr_of(Path(image), token)

    reply = await staff_says(laomo, f"/verify {number}")
    text = str(reply["text"])
    assert "✅ 劳模码有效" in text and "王*明 · 市级劳模 · 温州" in text
    assert "挂号就诊优先" in text and "劳模年度健康体检" in text
    assert "专家门诊优先安排" not in text, "a provincial-level service does not apply"
    assert "已记录" in text
    record = [p for p in payloads(reply) if p.startswith("mwsvc:")]  # type: ignore[arg-type]
    assert len(record) == 2
    [recorded] = await laomo.say({"as": "hospital", "press": record[0]})
    assert "已记录服务项目" in recorded["text"]

    scanned = await staff_says(laomo, token)
    assert "✅ 劳模码有效" in str(scanned["text"])
    async with demo.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ServiceUse)) == 1

    uses = await laomo.text_of("/uses")
    assert "温州医科大学附属第一医院：挂号就诊优先" in uses


async def test_a_unit_with_one_applicable_service_records_it_at_once(
    demo: App, laomo: Chat
) -> None:
    async with demo.sessions() as session, session.begin():
        xiaoli = await members.find_member(session, "xiaoli")
        shop = await session.scalar(select(PartnerUnit.id).where(PartnerUnit.name == "县前汤圆店"))
        assert xiaoli is not None and shop is not None
        await members.grant_role(session, xiaoli.id, Role.UNIT_STAFF, str(shop))
    await claim(laomo)
    number, _ = await get_code(laomo)
    [reply] = await laomo.say({"as": "xiaoli", "text": f"/verify {number}"})
    assert "劳模免排队" in reply["text"] and "已记录" in reply["text"]
    assert not [p for p in payloads(reply) if p.startswith("mwsvc:")]
    assert "县前汤圆店：劳模免排队" in await laomo.text_of("/uses")
    assert "/verify 数字码" in await laomo.text_of({"as": "xiaoli", "text": "/verify"})


async def test_the_same_code_is_refused_after_it_expires(
    demo: App, laomo: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    await claim(laomo)
    number, _ = await get_code(laomo)
    later = utcnow() + timedelta(minutes=demo.settings.model_worker_code_minutes, seconds=1)
    monkeypatch.setattr(handlers.model_workers, "utcnow", lambda: later)
    reply = await staff_says(laomo, f"/verify {number}")
    assert "已过期" in str(reply["text"]) and "王*明" in str(reply["text"])
    assert "已记录" not in str(reply["text"])
    async with demo.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ServiceUse)) == 0


async def test_the_same_code_is_refused_after_the_entry_is_revoked(demo: App, laomo: Chat) -> None:
    await claim(laomo)
    number, _ = await get_code(laomo)
    found = await laomo.text_of({"as": "officer", "text": "/mwfind 王建明"})
    match = re.search(r"#(\d+) 王建明 · 市级 · 温州 · 2021 · 已认证", found)
    assert match, found
    done = await laomo.text_of({"as": "officer", "text": f"/mwrevoke {match.group(1)}"})
    assert "已撤销" in done
    assert "已撤销" in await laomo.text_of({"as": "officer", "text": "/mwfind 王建明"})
    assert "已被撤销" in str((await staff_says(laomo, f"/verify {number}"))["text"])
    assert "已被撤销" in await laomo.text_of("/code")
    medical = await laomo.text_of({"press": "bnc:medical"})
    assert "仅限市级及以上劳模" in medical


async def test_only_officers_revoke_and_unknown_entries_are_refused(demo: App, laomo: Chat) -> None:
    assert "只对" in await laomo.text_of("/mwrevoke 1")
    assert "没有这个编号" in await laomo.text_of({"as": "officer", "text": "/mwrevoke 999"})
    too_big = {"as": "officer", "text": "/mwrevoke 99999999999999999999"}
    assert "没有这个编号" in await laomo.text_of(too_big)
    assert "名册里没有" in await laomo.text_of({"as": "officer", "text": "/mwfind 张三"})


async def test_altered_forged_and_unknown_codes_are_refused(
    demo: App, laomo: Chat, tmp_path: Path
) -> None:
    await claim(laomo)
    number, _ = await get_code(laomo)
    token = await token_of(demo, number)
    payload, signature = token.removeprefix(TOKEN_PREFIX).split(".")
    altered_payload = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    unused_bit = alphabet[alphabet.index(signature[-1]) ^ 1]
    for altered in (
        f"{TOKEN_PREFIX}{altered_payload}.{signature}",
        f"{TOKEN_PREFIX}{payload}.{signature[:-1]}{unused_bit}",
        f"{TOKEN_PREFIX}{payload}.{signature[:-3]}xyz",
        f"{TOKEN_PREFIX}not-base64!.???",
        TOKEN_PREFIX,
    ):
        assert "签名不对" in str((await staff_says(laomo, altered))["text"]), altered
    forger_key = tmp_path / "forger"
    forged = sign_token(
        forger_key,
        TokenClaims("abc", "national", "温州", "王*明", utcnow() + timedelta(minutes=5)),
    )
    assert "签名不对" in str((await staff_says(laomo, forged))["text"])
    assert "签名不对" in str((await staff_says(laomo, f"/verify {forged}"))["text"])
    wrong_number = str((int(number) + 1) % 10**10).zfill(10)
    assert "没有这个数字码" in str((await staff_says(laomo, f"/verify {wrong_number}"))["text"])
    assert "没有这个数字码" in str((await staff_says(laomo, "/verify 12345"))["text"])
    spaced = f"/verify {number[:4]} {number[4:]}"
    assert "✅ 劳模码有效" in str((await staff_says(laomo, spaced))["text"])


async def test_only_unit_staff_verify(demo: App, laomo: Chat) -> None:
    await claim(laomo)
    number, _ = await get_code(laomo)
    assert "只对" in await laomo.text_of({"as": "xiaoli", "text": f"/verify {number}"})
    token = await token_of(demo, number)
    assert "只有联盟单位的工作人员" in await laomo.text_of({"as": "xiaoli", "text": token})


async def test_a_wrong_claim_counts_and_the_sixth_try_a_day_is_refused(
    demo: App, laomo: Chat
) -> None:
    assert "还可以再试 4 次" in await claim(laomo, "王建明", "999999197805120014")
    assert "还可以再试 3 次" in await claim(laomo, "王小明", WANG_ID)
    for _ in range(3):
        await claim(laomo, "王建明", "999999197805129999")
    assert "请明天再试" in await laomo.text_of("/claim")
    async with demo.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ClaimAttempt)) == 5
        worker = await session.scalar(select(ModelWorker).where(ModelWorker.name == "王建明"))
        assert worker is not None and worker.member_id is None


async def test_the_limit_resets_the_next_day(demo: App, laomo: Chat) -> None:
    for _ in range(5):
        await claim(laomo, "王建明", "999999197805129999")
    async with demo.sessions() as session, session.begin():
        for attempt in await session.scalars(select(ClaimAttempt)):
            attempt.attempted_at -= timedelta(days=1)
    assert "认证成功" in await claim(laomo)


async def test_a_bad_id_number_is_asked_again_and_the_number_is_not_kept(
    demo: App, laomo: Chat
) -> None:
    await laomo.say("/claim")
    await laomo.say("王建明")
    assert "18 位" in await laomo.text_of("12345")
    assert "认证成功" in await laomo.text_of("9999991978 0512 0013")
    async with demo.sessions() as session:
        assert await session.scalar(select(DialogState)) is None
        worker = await session.scalar(select(ModelWorker).where(ModelWorker.name == "王建明"))
        assert worker is not None and re.fullmatch(r"[0-9a-f]{64}", worker.id_hash)
        assert WANG_ID not in worker.id_hash
    assert "已经认证过" in await claim(laomo)


async def test_an_entry_claimed_by_another_reads_the_same_as_a_wrong_number(
    demo: App, laomo: Chat
) -> None:
    """No answer tells whether a name and ID number are in the register."""
    await claim(laomo)
    taken = await claim(Chat(demo, "xiaozhang"))
    wrong = await claim(Chat(demo, "xiaowang"), "王建明", "999999197805129999")
    unknown = await claim(Chat(demo, "xiaoli"), "张三", "999999199001010011")
    assert taken == wrong == unknown and "没能用这个账号认证" in taken
    async with demo.sessions() as session:
        worker = await session.scalar(select(ModelWorker).where(ModelWorker.name == "王建明"))
        owner = await members.find_member(session, "laomo")
        assert worker is not None and owner is not None and worker.member_id == owner.id


async def test_guesses_spread_over_new_accounts_lock_the_entry_and_officers_are_told(
    demo: App, laomo: Chat
) -> None:
    """Each new account guesses the ID number once: the tries add up on the entry, which
    locks, answers the true number like any wrong one, and officers hear of it once."""
    told: list[str] = []
    for n in range(MAX_ENTRY_FAILURES):
        guesser = Chat(demo, f"guesser{n}")
        await guesser.say("/claim")
        await guesser.say("王建明")
        for message in await guesser.say(f"99999919780512{n:04d}"[:18]):
            if message["to"] == "officer":
                told.append(message["text"])
            else:
                assert "没能用这个账号认证" in message["text"]
    [notice] = told
    assert "王建明" in notice and "已锁定" in notice and f"{MAX_ENTRY_FAILURES} 次" in notice
    owner = await claim(laomo)
    assert "没能用这个账号认证" in owner and "还可以再试 4 次" in owner
    async with demo.sessions() as session:
        worker = await session.scalar(select(ModelWorker).where(ModelWorker.name == "王建明"))
        assert worker is not None and worker.member_id is None
    async with demo.sessions() as session, session.begin():
        for attempt in await session.scalars(select(ClaimAttempt)):
            attempt.attempted_at -= timedelta(days=1)
    assert "认证成功" in await claim(laomo), "the lock lasts a day"


async def test_many_failures_overall_pause_every_claim_and_officers_are_told(
    demo: App, laomo: Chat
) -> None:
    async with demo.sessions() as session, session.begin():
        guesser = await members.find_member(session, "xiaoli")
        assert guesser is not None
        session.add_all(
            ClaimAttempt(member_id=guesser.id, attempted_at=utcnow(), matched=False)
            for _ in range(MAX_FAILURES_OVERALL - 1)
        )
    messages = await Chat(demo, "newcomer").say("/claim")
    messages += await Chat(demo, "newcomer").say("张三")
    messages += await Chat(demo, "newcomer").say("999999199001010011")
    to = {m["to"]: m["text"] for m in messages}
    assert "暂停" in to["officer"] and f"{MAX_FAILURES_OVERALL} 次" in to["officer"]
    assert "暂停" in await laomo.text_of("/claim")
    async with demo.sessions() as session, session.begin():
        for attempt in await session.scalars(select(ClaimAttempt)):
            attempt.attempted_at -= timedelta(hours=1)
    assert "认证成功" in await claim(laomo), "the pause lasts an hour"


async def test_uses_for_members_without_status_or_without_visits(demo: App, laomo: Chat) -> None:
    assert "还没有认证" in await laomo.text_of("/uses")
    await claim(laomo)
    assert "还没有使用记录" in await laomo.text_of("/uses")


async def test_staff_cannot_record_a_service_for_another_unit(demo: App, laomo: Chat) -> None:
    await claim(laomo)
    number, _ = await get_code(laomo)
    reply = await staff_says(laomo, f"/verify {number}")
    record = [p for p in payloads(reply) if p.startswith("mwsvc:")]  # type: ignore[arg-type]
    [refused] = await laomo.say({"as": "bank", "press": record[0]})
    assert "失效" in refused["text"]


async def test_a_staff_account_checks_at_most_ten_codes_a_minute(demo: App, laomo: Chat) -> None:
    """Guessing numbers by trying them: the eleventh check in a minute is not made, not
    even for the right number."""
    await claim(laomo)
    number, _ = await get_code(laomo)
    for n in range(MAX_CHECKS_PER_MINUTE):
        guess = str((int(number) + 1 + n) % 10**10).zfill(10)
        assert "没有这个数字码" in str((await staff_says(laomo, f"/verify {guess}"))["text"])
    refused = str((await staff_says(laomo, f"/verify {number}"))["text"])
    assert "核验太频繁" in refused and "有效" not in refused
    assert "核验太频繁" in str((await staff_says(laomo, await token_of(demo, number)))["text"])
    other, _ = await get_code(laomo)
    [bank] = await laomo.say({"as": "bank", "text": f"/verify {other}"})
    assert "✅ 劳模码有效" in bank["text"], "another account is not held up"
    async with demo.sessions() as session, session.begin():
        for check in await session.scalars(select(CodeCheck)):
            check.checked_at -= timedelta(minutes=1)
    assert "✅ 劳模码有效" in str((await staff_says(laomo, f"/verify {number}"))["text"])


async def test_a_code_used_at_one_unit_is_refused_at_another(demo: App, laomo: Chat) -> None:
    """A code passed on (a screenshot) buys nothing at a second unit; checking it again at
    the first is the same use."""
    await claim(laomo)
    number, _ = await get_code(laomo)
    assert "✅ 劳模码有效" in str((await staff_says(laomo, f"/verify {number}"))["text"])
    [elsewhere] = await laomo.say({"as": "bank", "text": f"/verify {number}"})
    assert "已在另一家联盟单位使用过" in elsewhere["text"] and "已记录" not in elsewhere["text"]
    assert "王*明" in elsewhere["text"] and not payloads(elsewhere)
    assert "✅ 劳模码有效" in str((await staff_says(laomo, f"/verify {number}"))["text"])
    async with demo.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ServiceUse)) == 1
    fresh, _ = await get_code(laomo)
    [bank] = await laomo.say({"as": "bank", "text": f"/verify {fresh}"})
    assert "✅ 劳模码有效" in bank["text"] and "已记录" in bank["text"]
