"""Outgoing messages as WeChat text: buttons become numbered options, links inline,
and long text is split to stay under WeChat's size limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.dialogs import CANCEL_PAYLOAD, CHOICE_PAYLOAD, CONFIRM_PAYLOAD, FORM_PAYLOAD, SKIP_PAYLOAD
from bot.i18n import Translator
from bot.messages import Outgoing

MAX_TEXT_BYTES = 2000
"""WeChat takes about 2048 bytes of text in a passive reply or a customer-service message."""
FORM_PREFIX = FORM_PAYLOAD + ":"


@dataclass(frozen=True)
class Rendered:
    parts: list[str]
    """The text in pieces of at most :data:`MAX_TEXT_BYTES` bytes each."""
    payloads: list[str]
    """The payload each option number presses (1 is the first)."""


def render(messages: Sequence[Outgoing], t: Translator) -> Rendered:
    """All messages as one text; options are numbered across them.

    A form's own buttons are not numbered, since inside a form a number answers the form
    (its choices are numbered in its text); they show what to type instead.
    """
    blocks: list[str] = []
    payloads: list[str] = []
    for message in messages:
        lines = [message.text] if message.text else []
        buttons = [button for row in message.buttons for button in row]
        in_form = any(b.payload and b.payload.startswith(FORM_PREFIX) for b in buttons)
        has_confirm = any(b.payload == CONFIRM_PAYLOAD for b in buttons)
        for button in buttons:
            if button.url is not None:
                lines.append(f'<a href="{_attribute(button.url)}">{button.label}</a>')
            elif not in_form:
                payloads.append(str(button.payload))
                lines.append(t("wechat.option", number=len(payloads), label=button.label))
            elif button.payload == CONFIRM_PAYLOAD:
                lines.append(t("wechat.option", number=1, label=button.label))
            elif button.payload == CANCEL_PAYLOAD:
                if has_confirm:
                    lines.append(t("wechat.option", number=2, label=button.label))
                else:
                    lines.append(t("wechat.option_word", word="/cancel", label=button.label))
            elif button.payload == SKIP_PAYLOAD:
                lines.append(
                    t("wechat.option_word", word=t("wechat.skip_word"), label=button.label)
                )
            elif button.payload and not button.payload.startswith(CHOICE_PAYLOAD):
                lines.append(f"[{button.label}]")
        if lines:
            blocks.append("\n".join(lines))
    return Rendered(split("\n\n".join(blocks)), payloads)


def split(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Pieces of at most ``limit`` UTF-8 bytes, cut at line ends where possible."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if _size(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        current = ""
        while _size(line) > limit:
            cut = _fit(line, limit)
            parts.append(line[:cut])
            line = line[cut:]
        current = line
    if current or not parts:
        parts.append(current)
    return parts


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _fit(line: str, limit: int) -> int:
    """How many characters of ``line`` fit in ``limit`` bytes."""
    encoded = line.encode("utf-8")[:limit]
    return len(encoded.decode("utf-8", errors="ignore"))


def _attribute(url: str) -> str:
    return url.replace('"', "%22").replace("<", "%3C").replace(">", "%3E")


def mass_text(message: Outgoing, t: Translator) -> str:
    """A message as one mass-send text: the text and its links. A mass send goes to
    thousands at once, so it carries no numbered options (they are remembered per member)
    and no image; when it had buttons or an image, or its text had to be cut to WeChat's
    size, a last line says where the member finds the whole (``/notices``)."""
    buttons = [button for row in message.buttons for button in row]
    links = "".join(
        f'\n<a href="{_attribute(b.url)}">{b.label}</a>' for b in buttons if b.url is not None
    )
    text = message.text
    more = message.image is not None or any(b.url is None for b in buttons)
    if not more and _size(text + links) <= MAX_TEXT_BYTES:
        return text + links
    hint = "\n\n" + t("wechat.mass_more")
    room = MAX_TEXT_BYTES - _size(links + hint)
    if _size(text) > room:
        text = text[: _fit(text, room - _size("…"))] + "…"
    return text + links + hint
