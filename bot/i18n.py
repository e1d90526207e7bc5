"""Translations from the gettext catalogs in ``locales/<language>/*.po``.

Message ids are symbolic (``menu.title``) rather than English sentences, so both catalogs
are complete translations and a test can tell when either lacks one. Each service keeps
its strings in its own ``.po`` file; Babel reads them directly, no compile step.
Placeholders use ``str.format`` names: ``{name}``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"

log = logging.getLogger(__name__)


def N_(msgid: str) -> str:
    """Mark a message id that is translated later, where it is shown."""
    return msgid


def load_catalog(language: str, locales_dir: Path = LOCALES_DIR) -> dict[str, str]:
    """Every message of one language, from all its ``.po`` files."""
    messages: dict[str, str] = {}
    for path in sorted((locales_dir / language).glob("*.po")):
        with path.open("rb") as file:
            catalog = read_po(file, locale=language)
        for message in catalog:
            if message.id and isinstance(message.id, str) and isinstance(message.string, str):
                messages[message.id] = message.string
    return messages


class Translator:
    """Turns message ids into one language's text."""

    def __init__(self, language: str, messages: dict[str, str]) -> None:
        self.language = language
        self._messages = messages

    def __call__(self, msgid: str, /, **values: Any) -> str:
        text = self._messages.get(msgid)
        if not text:
            log.warning("no %s translation for %r", self.language, msgid)
            text = msgid
        return text.format(**values) if values else text

    def join(self, items: Iterable[str]) -> str:
        """Items as this language lists them: 旅行、音乐 in Chinese, travel, music in
        English (Chinese punctuation in an English text reads as a typo)."""
        return self("text.list_separator").join(items)


class Translations:
    """The translators of all languages, loaded once at start-up."""

    def __init__(self, languages: tuple[str, ...], locales_dir: Path = LOCALES_DIR) -> None:
        self._translators = {
            language: Translator(language, load_catalog(language, locales_dir))
            for language in languages
        }

    def __getitem__(self, language: str) -> Translator:
        return self._translators[language]
