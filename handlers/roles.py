"""Officers take a role back in the chat (``/revoke MEMBER ROLE [SCOPE]``), as
``unionbot revoke`` does on the command line.

Officer and admin roles are taken back only by an admin, so one officer cannot lock the
others out. The member is told, in their own language.
"""

from __future__ import annotations

import logging

from bot.context import Context
from bot.i18n import N_, Translator
from bot.messages import Outgoing
from bot.router import Router
from storage.models import Member, Role
from storage.roles import revoke_role

log = logging.getLogger(__name__)

router = Router("roles")

REVOCABLE = {role.value: role for role in Role if role is not Role.MEMBER}
ADMIN_ONLY = (Role.OFFICER, Role.ADMIN)


@router.command("revoke", help=N_("help.revoke"), role=Role.OFFICER, private=True)
async def revoke(ctx: Context) -> None:
    words = ctx.args.split()
    if (
        len(words) not in (2, 3)
        or not (words[0].isascii() and words[0].isdigit())
        or words[1] not in REVOCABLE
    ):
        ctx.reply(ctx.t("roles.revoke_usage"))
        return
    member_id, role, scope = int(words[0]), REVOCABLE[words[1]], "".join(words[2:])
    if role in ADMIN_ONLY and not (await ctx.roles()).has(Role.ADMIN):
        ctx.reply(ctx.t("role.refused", role=ctx.t("role.admin")))
        return
    member = await ctx.session.get(Member, member_id)
    if member is None or not await revoke_role(ctx.session, member.id, role, scope):
        ctx.reply(ctx.t("roles.not_held", member=member_id, role=ctx.t(f"role.{role.value}")))
        return
    log.info(
        "role %s %r taken back from member %s by member %s", role, scope, member_id, ctx.member.id
    )
    ctx.reply(ctx.t("roles.revoked", name=member.display_name, role=ctx.t(f"role.{role.value}")))

    def told(t: Translator) -> Outgoing:
        return Outgoing(t("roles.yours_revoked", role=t(f"role.{role.value}")))

    ctx.send(member.id, told)
