"""Browser tests: Debian's chromium driven by Playwright against the live stack (tests/stack.py).

Tiles point at a closed local port, so the pages are tested the way they run with no tile server
reachable; every request the page makes must stay on 127.0.0.1.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from stack import configure, stack_fixture  # noqa: F401
from staff_helpers import PASSWORD

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NO_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, app) -> Iterator[Page]:
    configure(app, tile_url=NO_TILES)
    context = browser.new_context(
        locale="en-GB", viewport={"width": 1280, "height": 900}, timezone_id="Europe/Oslo"
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


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("header .who")).to_contain_text(email)
