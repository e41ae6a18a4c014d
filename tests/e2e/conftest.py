"""Browser tests: Debian's chromium driven by Playwright, against the session's real server.

Without /usr/bin/chromium these tests are skipped (and reported as skipped) — unless
MALL_E2E_REQUIRED=1, as in CI, where a missing browser is a failure."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("MALL_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture(scope="session")
async def browser():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        if os.environ.get("MALL_E2E_REQUIRED") == "1":
            pytest.fail(f"chromium not found at {CHROMIUM} (MALL_E2E_REQUIRED=1)")
        pytest.skip(f"chromium not found at {CHROMIUM}; install Debian's chromium to run the browser tests")
    from playwright.async_api import async_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    playwright = await async_playwright().start()
    launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
    yield launched
    await launched.close()
    await playwright.stop()


@pytest.fixture
async def page_factory(browser):
    contexts = []

    async def new_page():
        context = await browser.new_context(viewport={"width": 420, "height": 900})
        contexts.append(context)
        return await context.new_page()

    yield new_page
    for context in contexts:
        await context.close()
