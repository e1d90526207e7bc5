"""A member's singles' profile: consent first, then a guided form; view, edit, pause, forget.

Nothing is stored before the member agrees to the consent text, which says what is kept,
who sees it (matchmakers only, never other members) and how to withdraw; the time of
consent and the text's version are saved with the profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bot.context import Context
from bot.dialogs import (
    Field,
    Form,
    Invalid,
    choice_field,
    describe_choice,
    fixed_choices,
    start_form,
    text_field,
)
from bot.i18n import N_, Translator
from bot.messages import Button, rows
from bot.numbers import read_number
from bot.payloads import Payload
from bot.router import Router
from handlers.events import tell_promoted
from storage import profiles
from storage.models.singles import CONSENT_VERSION, HOBBIES, Education, Gender, Profile
from storage.types import utcnow


@dataclass(frozen=True)
class ProfilePress(Payload, prefix="prof"):
    """The profile (``prof``), or what to do with it (``prof:agree``, ``prof:edit``, …)."""

    action: Literal["show", "agree", "edit", "pause", "forget"] = "show"


@dataclass(frozen=True)
class ForgetPress(Payload, prefix="forget"):
    """The "yes, delete" button of :func:`ask_to_forget`."""

    answer: Literal["yes"]


router = Router("profiles")
router.menu(N_("menu.profile"), ProfilePress().pack(), order=300)

MIN_AGE, MAX_AGE = 18, 60
HOBBY_NAMES = {
    "travel": "hobby.travel",
    "sports": "hobby.sports",
    "music": "hobby.music",
    "reading": "hobby.reading",
    "cooking": "hobby.cooking",
    "films": "hobby.films",
    "games": "hobby.games",
    "outdoors": "hobby.outdoors",
    "photography": "hobby.photography",
    "pets": "hobby.pets",
}
GENDER_NAMES = {Gender.FEMALE: "profile.gender.f", Gender.MALE: "profile.gender.m"}
EDUCATION_NAMES = {
    Education.SECONDARY: "profile.education.secondary",
    Education.COLLEGE: "profile.education.college",
    Education.BACHELOR: "profile.education.bachelor",
    Education.MASTER: "profile.education.master",
}
PHONE = re.compile(r"^1[3-9]\d{9}$")
WECHAT_ID = re.compile(r"^[a-zA-Z][-_a-zA-Z0-9]{5,19}$")
"""Mainland mobile numbers, and WeChat ids as WeChat allows them (6–20, starting with a letter)."""
LIST_SEPARATORS = re.compile(r"[,，、;；\s]+")

GENDERS = fixed_choices(*GENDER_NAMES.items())
YES_NO = fixed_choices(("yes", "profile.yes"), ("no", "profile.no"))
EDUCATIONS = fixed_choices(*EDUCATION_NAMES.items())


def parse_birth_year(answer: str) -> int:
    year = utcnow().year
    earliest, latest = year - MAX_AGE, year - MIN_AGE
    try:
        number = int(answer.strip())
    except ValueError:
        raise Invalid("profile.bad_birth_year", earliest=earliest, latest=latest) from None
    if not earliest <= number <= latest:
        raise Invalid("profile.bad_birth_year", earliest=earliest, latest=latest)
    return number


def parse_height(answer: str) -> int:
    try:
        number = int(answer.strip().lower().removesuffix("cm"))
    except ValueError:
        raise Invalid("profile.bad_height") from None
    if not 120 <= number <= 230:
        raise Invalid("profile.bad_height")
    return number


def parse_hobbies(answer: str) -> list[str]:
    """Several numbers from the list in the prompt, e.g. ``1 3 5`` or ``1,3``."""
    picked: list[str] = []
    for part in LIST_SEPARATORS.split(answer.strip()):
        if not part:
            continue
        number = read_number(part, maximum=len(HOBBIES))
        if not number:
            raise Invalid("profile.bad_hobbies", maximum=len(HOBBIES))
        if HOBBIES[number - 1] not in picked:
            picked.append(HOBBIES[number - 1])
    if not picked:
        raise Invalid("profile.bad_hobbies", maximum=len(HOBBIES))
    return picked


def parse_age_range(answer: str) -> list[int]:
    numbers = [int(n) for n in re.findall(r"\d+", answer)]
    if len(numbers) != 2 or not MIN_AGE <= numbers[0] <= numbers[1] <= 99:
        raise Invalid("profile.bad_age_range", minimum=MIN_AGE)
    return numbers


def parse_towns(answer: str) -> list[str]:
    towns = [t for t in LIST_SEPARATORS.split(answer.strip()) if t]
    if len(towns) > 5 or any(len(t) > 20 for t in towns):
        raise Invalid("profile.bad_towns")
    return towns


def parse_contact(answer: str) -> str:
    """A phone number may be typed with spaces or dashes (138 0000 0000); a WeChat id not."""
    contact = answer.strip()
    if contact[:1].isdigit():
        contact = contact.replace(" ", "").replace("-", "")
    if not (PHONE.match(contact) or WECHAT_ID.match(contact)):
        raise Invalid("profile.bad_contact")
    return contact


def hobby_names(t: Translator, codes: list[str]) -> str:
    return t.join(t(HOBBY_NAMES[code]) for code in codes) or "-"


def describe(t: Translator, values: dict[str, Any], *, private: bool) -> str:
    """A profile's fields as text; ``private`` adds what only its owner sees (name, contact)."""
    lines = []
    if private:
        lines.append(t("profile.line.name", name=values["display_name"]))
    year = utcnow().year
    lines.append(
        t(
            "profile.line.basics",
            gender=t(GENDER_NAMES[Gender(values["gender"])]),
            age=year - values["birth_year"],
            town=values["town"],
        )
    )
    if values.get("employer") and (private or values.get("show_employer")):
        lines.append(t("profile.line.employer", employer=values["employer"]))
    lines.append(
        t(
            "profile.line.work",
            occupation=values["occupation"],
            education=t(EDUCATION_NAMES[Education(values["education"])]),
        )
    )
    if values.get("height_cm"):
        lines.append(t("profile.line.height", height=values["height_cm"]))
    lines.append(t("profile.line.hobbies", hobbies=hobby_names(t, values["hobbies"])))
    lines.append(t("profile.line.intro", intro=values["intro"]))
    towns = t.join(values["seek_towns"]) or t("profile.anywhere")
    lines.append(
        t(
            "profile.line.seeking",
            minimum=values["seek_age_min"],
            maximum=values["seek_age_max"],
            towns=towns,
        )
    )
    if private:
        lines.append(t("profile.line.contact", contact=values["contact"]))
    return "\n".join(lines)


def profile_values(profile: Profile) -> dict[str, Any]:
    return {name: getattr(profile, name) for name in profiles.PROFILE_FIELDS}


def _form_values(data: dict[str, Any]) -> dict[str, Any]:
    values = dict(data)
    values["show_employer"] = data.get("show_employer") == "yes"
    values["seek_age_min"], values["seek_age_max"] = data["seek_ages"]
    values["seek_towns"] = data.get("seek_towns") or []
    return values


async def summarise(ctx: Context, data: dict[str, Any]) -> str:
    shown = describe_choice(ctx.t, await YES_NO(ctx), data.get("show_employer"))
    return (
        describe(ctx.t, _form_values(data), private=True)
        + "\n"
        + ctx.t("profile.line.show_employer", shown=shown)
    )


async def save(ctx: Context, data: dict[str, Any]) -> None:
    consented_at = datetime.fromisoformat(data["consented_at"])
    await profiles.save_profile(
        ctx.session,
        ctx.member.id,
        _form_values(data),
        consented_at,
        utcnow(),
        data["consent_version"],
    )
    ctx.reply(ctx.t("profile.saved"), profile_buttons(ctx, paused=False))


profile_form = router.form(
    Form(
        name=profiles.PROFILE_FORM,
        fields=(
            text_field("display_name", N_("profile.ask.display_name"), max_length=20),
            choice_field("gender", N_("profile.ask.gender"), GENDERS),
            Field("birth_year", N_("profile.ask.birth_year"), parse=parse_birth_year),
            text_field("town", N_("profile.ask.town"), min_length=2, max_length=40),
            text_field("employer", N_("profile.ask.employer"), max_length=100, optional=True),
            choice_field("show_employer", N_("profile.ask.show_employer"), YES_NO),
            choice_field("education", N_("profile.ask.education"), EDUCATIONS),
            Field("height_cm", N_("profile.ask.height"), parse=parse_height, optional=True),
            text_field("occupation", N_("profile.ask.occupation"), max_length=40),
            Field("hobbies", N_("profile.ask.hobbies"), parse=parse_hobbies),
            text_field("intro", N_("profile.ask.intro"), min_length=5, max_length=200),
            Field("seek_ages", N_("profile.ask.seek_ages"), parse=parse_age_range),
            Field("seek_towns", N_("profile.ask.seek_towns"), parse=parse_towns, optional=True),
            Field("contact", N_("profile.ask.contact"), parse=parse_contact),
        ),
        on_done=save,
        summary=summarise,
    )
)


def profile_buttons(ctx: Context, *, paused: bool) -> tuple[tuple[Button, ...], ...]:
    pause = Button(
        ctx.t("profile.button.resume" if paused else "profile.button.pause"),
        ProfilePress("pause").pack(),
    )
    return rows(
        [Button(ctx.t("profile.button.edit"), ProfilePress("edit").pack()), pause],
        [Button(ctx.t("profile.button.forget"), ProfilePress("forget").pack())],
    )


@router.command("profile", help=N_("help.profile"), private=True)
async def show_profile(ctx: Context) -> None:
    await profile_button(ctx, ProfilePress())


@router.button(ProfilePress, private=True)
async def profile_button(ctx: Context, press: ProfilePress) -> None:
    action = press.action
    if action == "agree":
        consent = {"consented_at": utcnow().isoformat(), "consent_version": CONSENT_VERSION}
        await start_form(ctx, profile_form, consent)
        return
    profile = await profiles.get_profile(ctx.session, ctx.member.id)
    if profile is None or profile.consent_version != CONSENT_VERSION:
        ctx.reply(
            ctx.t("profile.consent_text", version=CONSENT_VERSION),
            rows(
                [
                    Button(ctx.t("profile.button.agree"), ProfilePress("agree").pack()),
                    Button(ctx.t("profile.button.not_now"), "menu"),
                ]
            ),
        )
        return
    if action == "edit":
        consent = {
            "consented_at": profile.consented_at.isoformat(),
            "consent_version": profile.consent_version,
        }
        await start_form(ctx, profile_form, consent)
    elif action == "pause":
        profile.paused = not profile.paused
        ctx.reply(ctx.t("profile.paused" if profile.paused else "profile.resumed"))
    elif action == "forget":
        await ask_to_forget(ctx)
    else:
        status = ctx.t("profile.status.paused" if profile.paused else "profile.status.active")
        text = describe(ctx.t, profile_values(profile), private=True)
        ctx.reply(
            ctx.t("profile.yours", status=status, profile=text),
            profile_buttons(ctx, paused=profile.paused),
        )


@router.command("forget", help=N_("help.forget"), private=True)
async def ask_to_forget(ctx: Context) -> None:
    """Always offered, profile or not: sign-ups for events open to all are personal data too."""
    ctx.reply(
        ctx.t("profile.forget_confirm"),
        rows(
            [
                Button(ctx.t("profile.button.forget_yes"), ForgetPress("yes").pack()),
                Button(ctx.t("profile.button.keep"), "menu"),
            ]
        ),
    )


@router.button(ForgetPress, private=True)
async def forget(ctx: Context, press: ForgetPress) -> None:
    if ctx.dialog is not None and ctx.dialog.form == profiles.PROFILE_FORM:
        ctx.dialog = None
    promoted = await profiles.forget(ctx.session, ctx.member.id, utcnow())
    for row in promoted:
        await tell_promoted(ctx, row)
    ctx.reply(ctx.t("profile.forgotten"), ctx.dispatcher.menu_button(ctx))
