"""Multi-step forms: ask, validate, re-ask with the reason, confirm, save.

A form's progress lives in ``dialog_states`` (one row per member and channel chat), so a
restart or another process carries on the same conversation: it is ``ctx.dialog`` here,
and the dispatcher stores what became of it with the rest of the message. Field values are
kept as JSON, so parsers return plain values (str, int, list...).

Inside a form a member answers with text; choice fields also take a pressed button or the
option's number. Form buttons carry ``f:`` payloads, which only the form engine reads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.context import Context
from bot.i18n import Translator
from bot.messages import MAX_PAYLOAD_BYTES, Button, rows
from bot.numbers import read_number
from storage.message_state import Dialog
from storage.types import utcnow

FORM_PAYLOAD = "f"
CHOICE_PAYLOAD = "f:c:"
SKIP_PAYLOAD = "f:skip"
CONFIRM_PAYLOAD = "f:ok"
CANCEL_PAYLOAD = "f:no"
BUTTONS_PER_ROW = 2
YES_WORDS = frozenset({"1", "是", "确认", "确定", "好", "y", "yes", "ok"})
NO_WORDS = frozenset({"2", "否", "取消", "不", "n", "no"})
SKIP_WORDS = frozenset({"跳过", "skip", "-"})
"""Typed answers that work like the buttons, for channels that show buttons as text."""
LEAVE_WORDS = frozenset({"取消", "退出", "cancel"})
"""Typed at any step, these leave the form as ``/cancel`` does rather than being saved as
the answer: members on WeChat type what they would say to a person."""


class Invalid(Exception):
    """An answer the form cannot take; ``msgid`` says why, in the member's language."""

    def __init__(self, msgid: str, **values: Any) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.values = values


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


Options = Callable[[Context], Awaitable[Sequence[Choice]]]
Search = Callable[[Context, str], Awaitable[Sequence[Choice]]]
Parser = Callable[[str], Any]
CHOICES_SHOWN = 8
"""A choice field with a search lists at most this many at a time (its first ones, or
those found)."""
SEARCH_KEY = "_search"
"""Where a choice field keeps the word the member searched for, until they pick."""


@dataclass(frozen=True)
class Field:
    name: str
    prompt: str
    parse: Parser | None = None
    options: Options | None = None
    optional: bool = False
    search: Search | None = None
    """For a choice among more than a message can list (1,005 enterprises): typed words
    that are not a choice search, and the choices found are listed instead."""


@dataclass(frozen=True)
class Form:
    name: str
    fields: tuple[Field, ...]
    on_done: Callable[[Context, dict[str, Any]], Awaitable[None]]
    summary: Callable[[Context, dict[str, Any]], Awaitable[str]] | None = None
    """Text shown before saving; without it the form saves after its last field."""


def text_field(
    name: str, prompt: str, *, min_length: int = 1, max_length: int = 100, optional: bool = False
) -> Field:
    def parse(answer: str) -> str:
        answer = answer.strip()
        if len(answer) < min_length:
            raise Invalid("form.too_short", minimum=min_length)
        if len(answer) > max_length:
            raise Invalid("form.too_long", maximum=max_length, length=len(answer))
        return answer

    return Field(name, prompt, parse=parse, optional=optional)


def integer_field(name: str, prompt: str, *, minimum: int, maximum: int) -> Field:
    """A whole number from ``minimum`` (at least 0) to ``maximum``."""

    def parse(answer: str) -> int:
        digits = answer.strip()
        number = read_number(digits)
        if number is None and not (digits.isascii() and digits.isdigit()):
            raise Invalid("form.not_a_number", minimum=minimum, maximum=maximum)
        if number is None or not minimum <= number <= maximum:
            raise Invalid("form.out_of_range", minimum=minimum, maximum=maximum)
        return number

    return Field(name, prompt, parse=parse)


def choice_field(
    name: str,
    prompt: str,
    options: Options,
    *,
    optional: bool = False,
    search: Search | None = None,
) -> Field:
    return Field(name, prompt, options=options, optional=optional, search=search)


def fixed_choices(*choices: tuple[str, str]) -> Options:
    """Options whose labels are message ids: ``fixed_choices(("m", "gender.male"), ...)``."""

    async def options(ctx: Context) -> list[Choice]:
        return [Choice(value, ctx.t(label)) for value, label in choices]

    return options


async def start_form(ctx: Context, form: Form, initial: dict[str, Any] | None = None) -> None:
    """Open ``form`` for this member in this chat, replacing any form already open."""
    await _ask(ctx, form, _open(ctx, form, 0, dict(initial or {})))


def _open(ctx: Context, form: Form, step: int, data: dict[str, Any]) -> Dialog:
    if ctx.dialog is None:
        ctx.dialog = Dialog(form.name, step, data, utcnow())
    _save(ctx.dialog, form.name, step, data)
    return ctx.dialog


async def cancel_form(ctx: Context) -> bool:
    """Leave the open form, if any; returns whether there was one."""
    if ctx.dialog is None:
        return False
    ctx.dialog = None
    return True


async def continue_form(ctx: Context, form: Form) -> None:
    """Take the member's answer (text or an ``f:`` payload) to the open form's current step."""
    state = ctx.dialog
    assert state is not None
    typed = (ctx.message.text or "").strip().lower()
    if ctx.message.payload == CANCEL_PAYLOAD or typed in LEAVE_WORDS:
        await cancel_form(ctx)
        ctx.reply(ctx.t("form.cancelled"))
        return
    if state.step >= len(form.fields):
        await _confirm_answer(ctx, form, state)
        return
    field = form.fields[state.step]
    try:
        value = await _parse_answer(ctx, field)
    except Invalid as invalid:
        ctx.reply(ctx.t(invalid.msgid, **invalid.values))
        await _ask(ctx, form, state)
        return
    data = dict(state.data)
    data.pop(SEARCH_KEY, None)
    data[field.name] = value
    _save(state, form.name, state.step + 1, data)
    await _ask(ctx, form, state)


async def _parse_answer(ctx: Context, field: Field) -> Any:
    payload = ctx.message.payload
    typed = (ctx.message.text or "").strip().lower()
    if payload == SKIP_PAYLOAD or (field.optional and typed in SKIP_WORDS):
        if not field.optional:
            raise Invalid("form.required")
        return None
    if field.options is not None:
        return await _pick(ctx, field)
    if payload is not None or ctx.message.text is None:
        raise Invalid("form.answer_with_text")
    assert field.parse is not None
    return field.parse(ctx.message.text)


async def _choices(ctx: Context, field: Field) -> Sequence[Choice]:
    """The field's choices, or those found by the word the member searched for."""
    assert field.options is not None
    word = ctx.dialog.data.get(SEARCH_KEY) if ctx.dialog is not None else None
    if field.search is not None and word:
        return await field.search(ctx, word)
    return await field.options(ctx)


async def _pick(ctx: Context, field: Field) -> str:
    assert field.options is not None
    choices = await _choices(ctx, field)
    payload = ctx.message.payload
    if payload is not None and payload.startswith(CHOICE_PAYLOAD):
        value = payload.removeprefix(CHOICE_PAYLOAD)
        offered = [*choices, *(await field.options(ctx) if field.search else ())]
        if any(choice.value == value for choice in offered):
            return value
    if not choices and field.search is None:
        raise Invalid("form.no_options")
    answer = (ctx.message.text or "").strip()
    for choice in choices:
        if answer == choice.label:
            return choice.value
    number = read_number(answer, maximum=len(choices))
    if number:
        return choices[number - 1].value
    if field.search is not None and answer and read_number(answer) is None:
        found = await field.search(ctx, answer)
        if not found:
            raise Invalid("form.found_none", word=answer, maximum=len(choices))
        assert ctx.dialog is not None
        ctx.dialog.data = {**ctx.dialog.data, SEARCH_KEY: answer}
        raise Invalid("form.found", count=len(found), word=answer)
    raise Invalid("form.pick_a_number", maximum=len(choices))


async def _ask(ctx: Context, form: Form, state: Dialog) -> None:
    if state.step >= len(form.fields):
        if form.summary is None:
            await _finish(ctx, form, state)
            return
        summary = await form.summary(ctx, state.data)
        ctx.reply(
            ctx.t("form.confirm", summary=summary),
            rows(
                [
                    Button(ctx.t("form.button.confirm"), CONFIRM_PAYLOAD),
                    Button(ctx.t("form.button.cancel"), CANCEL_PAYLOAD),
                ]
            ),
        )
        return
    field = form.fields[state.step]
    buttons: list[list[Button]] = []
    text = ctx.t(field.prompt)
    if field.options is not None:
        choices = await _choices(ctx, field)
        text += "\n" + "\n".join(f"{n}. {c.label}" for n, c in enumerate(choices, 1))
        if field.search is not None:
            text += "\n" + ctx.t("form.search_hint")
        buttons = _grid(
            [Button(c.label, CHOICE_PAYLOAD + c.value) for c in choices if _fits(c.value)]
        )
    if field.optional:
        buttons.append([Button(ctx.t("form.button.skip"), SKIP_PAYLOAD)])
    buttons.append([Button(ctx.t("form.button.cancel"), CANCEL_PAYLOAD)])
    ctx.reply(text, rows(*buttons))


async def _confirm_answer(ctx: Context, form: Form, state: Dialog) -> None:
    answer = (ctx.message.text or "").strip().lower()
    if ctx.message.payload == CONFIRM_PAYLOAD or answer in YES_WORDS:
        await _finish(ctx, form, state)
    elif answer in NO_WORDS:
        await cancel_form(ctx)
        ctx.reply(ctx.t("form.cancelled"))
    else:
        ctx.reply(ctx.t("form.confirm_or_cancel"))
        await _ask(ctx, form, state)


async def _finish(ctx: Context, form: Form, state: Dialog) -> None:
    """Save through ``on_done``; if it refuses, nothing it wrote stays and the form waits."""
    data = dict(state.data)
    await cancel_form(ctx)
    try:
        async with ctx.session.begin_nested():
            await form.on_done(ctx, data)
    except Invalid as invalid:
        ctx.reply(ctx.t(invalid.msgid, **invalid.values))
        await _ask(ctx, form, _open(ctx, form, len(form.fields), data))


def _save(state: Dialog, form: str, step: int, data: dict[str, Any]) -> None:
    state.form = form
    state.step = step
    state.data = data
    state.updated_at = utcnow()


def _fits(value: str) -> bool:
    """Whether a choice's button payload is within Telegram's 64 bytes; a longer value (a
    town of twenty Chinese characters) is still listed, and picked by its number."""
    return len((CHOICE_PAYLOAD + value).encode("utf-8")) <= MAX_PAYLOAD_BYTES


def _grid(buttons: list[Button]) -> list[list[Button]]:
    return [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]


def describe_choice(t: Translator, choices: Sequence[Choice], value: str | None) -> str:
    """The label of a chosen value, for summaries; a dash when the field was skipped."""
    if value is None:
        return t("form.skipped")
    return next((choice.label for choice in choices if choice.value == value), value)
