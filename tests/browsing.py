"""One Playwright-driven Debian chromium for every browser test, and pages that must stay local.

Playwright's sync API allows one instance per process, so the browser is a single session-wide
fixture (registered in tests/conftest.py) that the staff and the portal tests share.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from portal_helpers import wait_for_code
from stack import configure
from staff_helpers import PASSWORD

from alerting.phones import parse_phone

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # screenshots, kept by CI
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NO_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # a closed port: no tile server reachable
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@contextmanager
def local_page(browser: Browser, app, **context_options) -> Iterator[Page]:
    """A page on a fresh context; fails the test if it loads anything from outside the app."""
    configure(app, tile_url=NO_TILES)
    context = browser.new_context(locale="en-GB", timezone_id="Europe/Oslo", **context_options)
    page = context.new_page()
    outside: list[str] = []
    page.on(
        "request",
        lambda r: (
            outside.append(r.url) if urlsplit(r.url).hostname not in ("127.0.0.1", None) else None
        ),
    )
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not outside, f"the page loaded from outside the app: {outside}"


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    """A staff member's way in."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("header .who")).to_contain_text(email)


def sign_in_by_sms(page: Page, s, phone: str, codes_before: int = 0) -> None:
    """The resident's way in: number, code from the SMS (read from the simulator), done."""
    page.goto(f"{s.url}/me/sign-in")
    page.get_by_label("Mobile number").fill(phone)
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    code = wait_for_code(s.sim.url, parse_phone(phone).e164, count=codes_before + 1)
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
