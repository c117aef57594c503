"""Browser tests: Playwright for Python driving Debian's Chromium (/usr/bin/chromium; `.ci/run` installs it).
Never `playwright install`: no browser is downloaded. Without Chromium these tests skip with the reason,
and fail under DROPBRIDGE_REQUIRE_SERVICES=1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..conftest import _unavailable

CHROMIUM = os.environ.get("DROPBRIDGE_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    # Module scope: Playwright's sync API keeps an event loop running in this thread while it is started,
    # which would break later tests that call asyncio.run().
    if not Path(CHROMIUM).exists():
        _unavailable("Chromium", f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable("Playwright for Python", str(exc))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    contexts = []

    def make(base_url: str, width: int = 1280, height: int = 900):
        context = browser.new_context(base_url=base_url, viewport={"width": width, "height": height})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
