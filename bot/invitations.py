"""``unionbot invite``: how the first administrator, and anyone after, gets a role without
the operator knowing their platform id. The operator hands over the printed code, deep
link or QR code; whoever sends it to the bot first, before it expires, gets the role."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

import httpx

from bot.app import App
from handlers.invites import InviteLink
from storage import invites, roles
from storage.model_worker_code import qr_png
from storage.models import Role
from storage.types import utcnow


async def print_invitation(app: App, role: Role, scope: str, hours: int, qr: Path | None) -> int:
    now = utcnow()
    async with app.sessions() as session, session.begin():
        if not await roles.scope_exists(session, role, scope):
            print(f"unionbot: {roles.no_such_scope(role, scope)}", file=sys.stderr)
            return 2
        code = await invites.create_invite(session, role, scope, now, timedelta(hours=hours))
    until = (now + timedelta(hours=hours)).astimezone(app.settings.zone)
    payload = InviteLink(code).pack()
    print(f"invitation: {role}{f' {scope}' if scope else ''}, once, until {until:%Y-%m-%d %H:%M}")
    print(f"code: {code}  (the person sends it to the bot)")
    link = await _telegram_link(app, payload)
    if link:
        print(f"Telegram: {link}")
    if app.settings.wechat_app_id:
        print(f"WeChat QR: unionbot wechat qrcode {payload} --days {max(1, -(-hours // 24))}")
    if qr is not None:
        await asyncio.to_thread(qr.write_bytes, qr_png(link or code))
        print(f"QR code: {qr}")
    return 0


async def _telegram_link(app: App, payload: str) -> str | None:
    """``https://t.me/<bot>?start=…`` when a token is set and Telegram names the bot."""
    token = app.settings.telegram_token
    if not token:
        return None
    url = f"{app.settings.telegram_api_url.rstrip('/')}/bot{token}/getMe"
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            username = (await client.get(url)).json()["result"]["username"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        print("Telegram: the bot's name could not be read (getMe); send the code instead")
        return None
    return f"https://t.me/{username}?start={payload}"
