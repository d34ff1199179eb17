"""Portal browser tests: Debian's chromium via Playwright, a phone-sized window, the live stack.

Playwright's sync API allows one instance per process, and tests/browser keeps a session-wide
browser open; when that one is already running we borrow it instead of starting a second.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from portal_helpers import wait_for_code
from stack import configure, stack_fixture  # noqa: F401  (the `stack` fixture)

from alerting.phones import parse_phone

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


def _running_browser(request: pytest.FixtureRequest) -> Browser | None:
    """The `browser` another conftest has open, found among pytest's cached fixture values."""
    manager = request._fixturemanager
    for attr in ("_arg2node2fixturedefs", "_arg2nodeid2fixturedefs", "_arg2fixturedefs"):
        by_name = getattr(manager, attr, None)
        if not by_name or "browser" not in by_name:
            continue
        entries = by_name["browser"]
        groups = entries.values() if isinstance(entries, dict) else [entries]
        for group in groups:
            for definition in group:
                cached = getattr(definition, "cached_result", None)
                if cached and isinstance(cached[0], Browser) and cached[0].is_connected():
                    return cached[0]
    return None


@pytest.fixture(scope="module")
def portal_browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    borrowed = _running_browser(request)
    if borrowed is not None:
        yield borrowed
        return
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def phone_page(portal_browser: Browser, app) -> Iterator[Page]:
    """A page in a phone-sized window; fails the test if it loads anything from outside."""
    configure(app, tile_url=NO_TILES)
    context = portal_browser.new_context(
        locale="en-GB",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        timezone_id="Europe/Oslo",
        accept_downloads=True,
    )
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
