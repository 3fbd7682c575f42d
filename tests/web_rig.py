"""A daemon serving the web page, and a real Chromium (Debian's) driven by Playwright."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TABLET = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}
SCENES = Path(__file__).resolve().parent.parent / "scenes"


@contextlib.contextmanager
def chromium():
    """A headless Chromium with a fresh profile; yields a Playwright Browser."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install chromium (see .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Debian's chromium, never Playwright's own download. launch() gives it a fresh
        # temporary profile (user-data-dir) of its own and removes it on close.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url: str, viewport: dict | None = None):
    """A new browser context (its own cookies and storage: a second tablet) on the page, connected."""
    # bypass_csp: Playwright evaluates the tests' string predicates with eval, which the page's own CSP forbids
    context = browser.new_context(viewport=viewport or TABLET, bypass_csp=True)
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("window.mrtd && window.mrtd.frames > 0 && document.getElementById('conn').classList.contains('on')")
    return page


def page_state(page, address: str):
    return page.evaluate("(a) => window.mrtd.state[a]", address)
