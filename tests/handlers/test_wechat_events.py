"""WeChat events from wechatpy's and Senparc's samples that the bot must understand: a
follow from scanning a product's code, and the LOCATION event WeChat sends on its own."""

from __future__ import annotations

import re
import time

from sqlalchemy import select

from bot.settings import Settings
from storage.models.places import LastPlace
from storage.seed import demo_files, import_file
from tests.wechat_support import FakeWeChat, WeChatServer, message_xml, wechat_bot

WORKER = "o-place-1"
WENZHOU = ("27.9938", "120.6994")


async def test_following_after_scanning_a_product_code_gets_the_welcome(
    settings: Settings,
) -> None:
    async with wechat_bot(settings, FakeWeChat()) as (_, _, base, _):
        wechat = WeChatServer(base)
        scanned = await wechat.event(WORKER, "subscribe", "scanbarcode|EAN_13|6901234567892")
        welcome = wechat.reply_text(scanned)
        await wechat.close()
    assert welcome is not None and welcome.startswith("您好！这里是职工服务平台")


async def test_the_location_wechat_reports_is_kept_silently_and_offered_for_the_nearest(
    settings: Settings,
) -> None:
    async with wechat_bot(settings, FakeWeChat()) as (app, _, base, _):
        async with app.sessions() as session, session.begin():
            for path in demo_files():
                await import_file(session, path)
        wechat = WeChatServer(base)
        await wechat.says(WORKER, "/menu")
        before = wechat.reply_text(await wechat.event(WORKER, "CLICK", "bn"))
        latitude, longitude = WENZHOU
        reported = message_xml(
            WORKER, "event", Event="LOCATION", Latitude=latitude, Longitude=longitude
        )
        silent = await wechat.post(reported)
        later = int(time.time()) + 1  # another event, not WeChat retrying the first
        after = wechat.reply_text(await wechat.event(WORKER, "CLICK", "bn", created=later))
        offered = re.search(r"回复 (\d+)：📍 离我最近的单位", after or "")
        assert offered is not None, after
        nearest = await wechat.says(WORKER, offered.group(1))
        await wechat.close()
        async with app.sessions() as session:
            [kept] = (await session.scalars(select(LastPlace))).all()
    assert silent.text == "success", "no answer to a LOCATION event"
    assert before is not None and "离我最近" not in before
    assert nearest is not None and nearest.startswith("离您最近的单位")
    assert "温州" in nearest
    assert (kept.latitude, kept.longitude) == (float(latitude), float(longitude))
