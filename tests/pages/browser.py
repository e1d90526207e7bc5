"""Headless Chromium (Debian's ``chromium`` package) driven by Playwright, for the page tests
that need a real browser. Where Chromium or Playwright is missing the tests skip, saying
why; with ``UNIONBOT_REQUIRE_BROWSER=1`` (set by CI) they fail instead.

Playwright's own browser downloads are never used: it launches the system's Chromium.
Screenshots go to ``tests/artifacts/`` (ignored by git), kept after the run.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("UNIONBOT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
REQUIRE_BROWSER = os.environ.get("UNIONBOT_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
"""A phone's screen: the pages are built for the in-app browsers of WeChat and Telegram."""


def _require_browser() -> None:
    """Skip (or, under CI, fail) saying what is missing."""
    reason = None
    if importlib.util.find_spec("playwright") is None:
        reason = "Playwright for Python is not installed (pip install playwright)"
    elif not Path(CHROMIUM).exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)"
    elif not _chinese_fonts():
        reason = "no font for Chinese text (apt-get install fonts-noto-cjk)"
    if reason and REQUIRE_BROWSER:
        pytest.fail(reason)
    if reason:
        pytest.skip(reason)


def _chinese_fonts() -> bool:
    listing = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
    )
    return bool(listing.stdout.strip())


async def chromium() -> AsyncIterator[Any]:
    """A fresh browser context on Debian's Chromium, closed afterwards."""
    _require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = await browser.new_context(viewport=PHONE, locale="zh-CN")
        try:
            yield context
        finally:
            await context.close()
            await browser.close()


async def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
