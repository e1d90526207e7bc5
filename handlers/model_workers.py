"""Model workers (劳模): claiming a register entry, the model-worker code (/code), its check
by partner-unit staff (/verify or the QR content), the services used, and revoking entries.

The ID number a member types is hashed at once and compared with the register's hashes;
it is the claim form's last field, so the form's state holding it is deleted in the same
transaction that reads it, and it is never written to the log.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression
from sqlalchemy.ext.asyncio import AsyncSession

from bot.audience import Audience
from bot.context import Context, MessageBuilder
from bot.dialogs import Field, Form, Invalid, start_form, text_field
from bot.i18n import N_, Translator
from bot.messages import Button, Outgoing, rows
from bot.numbers import read_id
from bot.payloads import Payload
from bot.router import FreeText, Router
from handlers.benefits import level_label, parse_id, today
from storage import benefits, members, model_workers
from storage.model_worker_code import TOKEN_PREFIX, hash_id_number, write_qr
from storage.model_workers import (
    ENTRY_LOCK_WINDOW,
    MAX_CHECKS_PER_MINUTE,
    MAX_CLAIMS_PER_DAY,
    MAX_ENTRY_FAILURES,
    MAX_FAILURES_OVERALL,
    OVERALL_WINDOW,
    ClaimOutcome,
    ClaimResult,
    Status,
)
from storage.models import Role
from storage.models.benefits import ModelWorker
from storage.types import utcnow

router = Router("model_workers")

STATUS_MESSAGES = {
    Status.VALID: N_("mw.verify.valid"),
    Status.EXPIRED: N_("mw.verify.expired"),
    Status.REVOKED: N_("mw.verify.revoked"),
    Status.FORGED: N_("mw.verify.forged"),
    Status.UNKNOWN: N_("mw.verify.unknown"),
}
CLAIM_MESSAGES = {
    ClaimResult.MATCHED: N_("mw.claim.matched"),
    ClaimResult.ALREADY_YOURS: N_("mw.claim.already_yours"),
    ClaimResult.REFUSED: N_("mw.claim.refused"),
    ClaimResult.LIMIT: N_("mw.claim.limit"),
    ClaimResult.PAUSED: N_("mw.claim.paused"),
}


def day_start(ctx: Context) -> datetime:
    """Midnight today in the federation's time zone: the daily claim limit resets then."""
    local = utcnow().astimezone(ctx.settings.zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def local_time(ctx: Context, moment: datetime) -> str:
    return moment.astimezone(ctx.settings.zone).strftime("%Y-%m-%d %H:%M")


def _parse_id_number(answer: str) -> str:
    number = model_workers.normal_id_number(answer)
    if number is None:
        raise Invalid("mw.bad_id_number")
    return number


async def save_claim(ctx: Context, data: dict[str, Any]) -> None:
    key_dir = ctx.settings.key_dir
    id_hash = hash_id_number(key_dir, data["id_number"])
    outcome = await model_workers.claim(
        ctx.session, key_dir, ctx.member.id, data["name"], id_hash, utcnow(), day_start(ctx)
    )
    left = MAX_CLAIMS_PER_DAY - await model_workers.claims_since(
        ctx.session, ctx.member.id, day_start(ctx)
    )
    ctx.reply(ctx.t(CLAIM_MESSAGES[outcome.result], left=max(left, 0)), _status_buttons(ctx))
    await _tell_officers_of_locks(ctx, outcome)


async def _tell_officers_of_locks(ctx: Context, outcome: ClaimOutcome) -> None:
    """A lock-out means someone is guessing the register, or an owner is locked out:
    officers hear of it when it starts, with the entry they can look up (/mwfind)."""
    notices = [
        _officer_notice(
            "mw.claim.entry_locked_officers",
            id=entry.id,
            name=entry.name,
            tries=MAX_ENTRY_FAILURES,
            hours=int(ENTRY_LOCK_WINDOW.total_seconds() // 3600),
        )
        for entry in outcome.newly_locked
    ]
    if outcome.newly_paused:
        notices.append(
            _officer_notice(
                "mw.claim.paused_officers",
                tries=MAX_FAILURES_OVERALL,
                minutes=int(OVERALL_WINDOW.total_seconds() // 60),
            )
        )
    if notices:
        for officer_id in await members.role_holders(ctx.session, Role.OFFICER):
            for notice in notices:
                ctx.send(officer_id, notice)


def _officer_notice(msgid: str, **values: object) -> MessageBuilder:
    return lambda t: Outgoing(t(msgid, **values))


claim_form = router.form(
    Form(
        name="mw_claim",
        fields=(
            text_field("name", N_("mw.ask_name"), min_length=2, max_length=20),
            Field("id_number", N_("mw.ask_id_number"), parse=_parse_id_number),
        ),
        on_done=save_claim,
    )
)


def _status_buttons(ctx: Context) -> tuple[tuple[Button, ...], ...]:
    return rows(
        [Button(ctx.t("mw.button.code"), "mwcode"), Button(ctx.t("mw.button.uses"), "mwuses")],
        [Button(ctx.t("benefits.back"), "bn")],
    )


@router.button("mw", private=True)
async def status(ctx: Context) -> None:
    worker = await model_workers.worker_of(ctx.session, ctx.member.id)
    if worker is None:
        ctx.reply(
            ctx.t("mw.status.none"),
            rows(
                [Button(ctx.t("mw.button.claim"), "mwclaim")],
                [Button(ctx.t("benefits.back"), "bn")],
            ),
        )
    elif worker.revoked_at is not None:
        ctx.reply(ctx.t("mw.status.revoked"))
    else:
        ctx.reply(_describe(ctx, worker), _status_buttons(ctx))


def _describe(ctx: Context, worker: ModelWorker) -> str:
    return ctx.t(
        "mw.status.verified",
        level=level_label(ctx.t, worker.level),
        city=worker.city,
        year=worker.year,
    )


@router.command("claim", help=N_("help.claim"), private=True)
@router.button("mwclaim", private=True)
async def start_claim(ctx: Context) -> None:
    tries = await model_workers.claims_since(ctx.session, ctx.member.id, day_start(ctx))
    if tries >= MAX_CLAIMS_PER_DAY:
        ctx.reply(ctx.t("mw.claim.limit", left=0))
        return
    if await model_workers.claims_paused(ctx.session, utcnow()):
        ctx.reply(ctx.t("mw.claim.paused"))
        return
    await start_form(ctx, claim_form)


@router.command("code", help=N_("help.code"), private=True)
@router.button("mwcode", private=True)
async def show_code(ctx: Context) -> None:
    worker = await model_workers.worker_of(ctx.session, ctx.member.id)
    if worker is None:
        ctx.reply(ctx.t("mw.status.none"), rows([Button(ctx.t("mw.button.claim"), "mwclaim")]))
        return
    if worker.revoked_at is not None:
        ctx.reply(ctx.t("mw.status.revoked"))
        return
    minutes = ctx.settings.model_worker_code_minutes
    lifetime = timedelta(minutes=minutes)
    code = await model_workers.issue_code(
        ctx.session, worker, ctx.settings.key_dir, utcnow(), lifetime
    )
    image = await asyncio.to_thread(
        write_qr, ctx.settings.media_dir, code.token_id, code.token, 2 * lifetime
    )
    ctx.reply(
        ctx.t(
            "mw.code",
            number=code.number,
            until=local_time(ctx, code.expires_at),
            minutes=minutes,
        ),
        image=str(image),
    )


@router.command("verify", help=N_("help.verify"), role=Role.UNIT_STAFF, private=True)
async def verify_command(ctx: Context) -> None:
    if not ctx.args:
        ctx.reply(ctx.t("mw.verify.how"))
        return
    await verify(ctx, ctx.args)


@router.text(FreeText.SHAPED)
async def scanned_token(ctx: Context) -> bool:
    """Staff may paste or scan the QR content: a token, recognised by its prefix."""
    text = (ctx.message.text or "").strip()
    if not text.startswith(TOKEN_PREFIX):
        return False
    if not (await ctx.roles()).has(Role.UNIT_STAFF):
        ctx.reply(ctx.t("mw.verify.staff_only"))
        return True
    await verify(ctx, text)
    return True


async def verify(ctx: Context, text: str) -> None:
    now = utcnow()
    if not await model_workers.allow_check(ctx.session, ctx.member.id, now):
        ctx.reply(ctx.t("mw.verify.too_many", maximum=MAX_CHECKS_PER_MINUTE))
        return
    verdict = await model_workers.check_code(ctx.session, ctx.settings.key_dir, text, now)
    claims = verdict.claims
    if claims is None or verdict.status in (Status.FORGED, Status.UNKNOWN):
        ctx.reply(ctx.t(STATUS_MESSAGES[verdict.status]))
        return
    who = ctx.t(
        "mw.verify.who",
        name=claims.masked_name,
        level=level_label(ctx.t, claims.level),
        city=claims.city,
        until=local_time(ctx, claims.expires_at),
    )
    lines = [ctx.t(STATUS_MESSAGES[verdict.status]), who]
    if verdict.status is not Status.VALID or verdict.code is None:
        ctx.reply("\n".join(lines))
        return
    unit_ids = [s for s in map(read_id, (await ctx.roles()).scopes(Role.UNIT_STAFF)) if s]
    unit = await benefits.get_unit(ctx.session, unit_ids[0]) if unit_ids else None
    if unit is None:
        lines.append(ctx.t("mw.verify.no_unit"))
        ctx.reply("\n".join(lines))
        return
    usable = benefits.usable_services(unit, claims.level, today(ctx))
    chosen = usable[0].id if len(usable) == 1 else None
    use = await model_workers.record_use(
        ctx.session, verdict.code, unit.id, ctx.member.id, chosen, now
    )
    if use is None:
        ctx.reply("\n".join([ctx.t("mw.verify.used_elsewhere"), who]))
        return
    if usable:
        lines.append(ctx.t("mw.verify.services", unit=unit.name))
        lines += [f"{n}. {s.what}" for n, s in enumerate(usable, 1)]
    else:
        lines.append(ctx.t("mw.verify.no_services", unit=unit.name))
    lines.append(ctx.t("mw.verify.recorded"))
    buttons = (
        []
        if chosen is not None
        else [
            [
                Button(
                    ctx.t("mw.button.record", what=s.what[:20]), RecordService(use.id, s.id).pack()
                )
            ]
            for s in usable
        ]
    )
    ctx.reply("\n".join(lines), rows(*buttons))


@dataclass(frozen=True)
class RecordService(Payload, prefix="mwsvc"):
    use_id: int
    service_id: int


@router.button(RecordService, role=Role.UNIT_STAFF, private=True)
async def record_service(ctx: Context, press: RecordService) -> None:
    unit_ids = [s for s in map(read_id, (await ctx.roles()).scopes(Role.UNIT_STAFF)) if s]
    use = await model_workers.set_use_service(ctx.session, press.use_id, unit_ids, press.service_id)
    ctx.reply(ctx.t("mw.use_recorded") if use else ctx.t("input.stale_button"))


@router.command("uses", help=N_("help.uses"), private=True)
@router.button("mwuses", private=True)
async def list_uses(ctx: Context) -> None:
    worker = await model_workers.worker_of(ctx.session, ctx.member.id)
    if worker is None:
        ctx.reply(ctx.t("mw.status.none"), rows([Button(ctx.t("mw.button.claim"), "mwclaim")]))
        return
    uses = await model_workers.uses_of(ctx.session, worker.id)
    if not uses:
        ctx.reply(ctx.t("mw.uses.none"))
        return
    lines = [ctx.t("mw.uses.title", count=len(uses))]
    for use in uses:
        service = use.service or ctx.t("mw.uses.unspecified")
        lines.append(f"• {local_time(ctx, use.used_at)} {use.unit}：{service}")
    ctx.reply("\n".join(lines))


@router.command("mwfind", help=N_("help.mwfind"), role=Role.OFFICER, private=True)
async def find_entries(ctx: Context) -> None:
    if not ctx.args:
        ctx.reply(ctx.t("mw.find.how"))
        return
    entries = await model_workers.find_register(ctx.session, ctx.args)
    if not entries:
        ctx.reply(ctx.t("mw.find.none", name=ctx.args[:20]))
        return
    lines = []
    for entry in entries:
        state = (
            ctx.t("mw.find.revoked")
            if entry.revoked_at
            else ctx.t("mw.find.claimed")
            if entry.member_id
            else ctx.t("mw.find.unclaimed")
        )
        lines.append(
            f"#{entry.id} {entry.name} · {level_label(ctx.t, entry.level)} · "
            f"{entry.city} · {entry.year} · {state}"
        )
    ctx.reply("\n".join(lines) + "\n" + ctx.t("mw.find.revoke_hint"))


@router.command("mwrevoke", help=N_("help.mwrevoke"), role=Role.OFFICER, private=True)
async def revoke_entry(ctx: Context) -> None:
    entry = parse_id(ctx.args)
    worker = await model_workers.revoke(ctx.session, entry, utcnow()) if entry else None
    if worker is None:
        ctx.reply(ctx.t("mw.revoke.unknown"))
        return
    ctx.reply(ctx.t("mw.revoke.done", id=worker.id, name=worker.name))


# The "model workers" audience for officers' notices: verified, unrevoked entries only.


async def _audience_choices(
    session: AsyncSession, t: Translator, word: str
) -> list[tuple[str, str]]:
    return [("", t("mw.audience"))]


def _audience_members(value: SQLColumnExpression[str]) -> ColumnElement[bool]:
    return model_workers.is_verified_model_worker()


async def _audience_label(session: AsyncSession, t: Translator, value: str) -> str:
    return t("mw.audience")


router.audience("model_workers", Audience(_audience_choices, _audience_members, _audience_label))
