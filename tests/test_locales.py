"""Every message the code uses is translated into both languages, with the same placeholders."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from bot.app import App
from bot.i18n import load_catalog
from bot.settings import LANGUAGES
from storage.models import Role
from tests.conftest import Chat
from tests.singles import add_profile

ROOT = Path(__file__).resolve().parent.parent
MSGID = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_0-9]*)+$")
TEMPLATE_MSGID = re.compile(r"""\bt\("([a-z][a-z_]*(?:\.[a-z][a-z_0-9]*)+)"\)""")


def used_message_ids() -> set[str]:
    """String literals shaped like message ids in the code, ``t("...")`` in the web pages'
    templates, plus the role names.

    Column references (``ForeignKey("members.id")``) have the same shape and are left out.
    """
    found = {f"role.{role.value}" for role in Role}
    for template in (ROOT / "bot" / "pages" / "templates").glob("*.html"):
        found |= set(TEMPLATE_MSGID.findall(template.read_text(encoding="utf-8")))
    for package in ("bot", "handlers", "storage", "unionbot"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            columns = {
                id(arg)
                for node in ast.walk(tree)
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "ForeignKey"
                for arg in node.args
            }
            found |= {
                node.value
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and MSGID.match(node.value)
                and id(node) not in columns
            }
    return found


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_used_message_is_translated(language: str) -> None:
    catalog = load_catalog(language)
    missing = sorted(m for m in used_message_ids() if not catalog.get(m))
    assert missing == [], f"{language} lacks translations"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_catalog_entry_is_unused(language: str) -> None:
    assert sorted(set(load_catalog(language)) - used_message_ids()) == []


def test_both_languages_use_the_same_placeholders() -> None:
    chinese, english = (load_catalog(language) for language in LANGUAGES)
    different = [m for m in chinese if placeholders(chinese[m]) != placeholders(english.get(m, ""))]
    assert different == []


CHINESE_PUNCTUATION = re.compile("[、，。：；！？（）《》【】]")


def test_chinese_texts_address_the_member_one_way() -> None:
    informal = sorted(m for m, text in load_catalog("zh_CN").items() if "你" in text)
    assert informal == [], "use 您"


def test_english_texts_use_english_punctuation() -> None:
    english = load_catalog("en")
    assert sorted(m for m, text in english.items() if CHINESE_PUNCTUATION.search(text)) == []


async def test_an_english_profile_lists_hobbies_the_english_way(app: App) -> None:
    await add_profile(app, "amy", "f", 1995, seek_towns=["新安江街道", "寿昌镇"])
    chat = Chat(app, "amy")
    await chat.say("/lang en")
    text = await chat.text_of("/profile")
    assert "Travel, music" in text or "travel, music" in text, text
    assert "新安江街道, 寿昌镇" in text and "、" not in text
