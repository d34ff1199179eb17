"""Portal browser tests: Debian's chromium via Playwright, a phone-sized window, the live stack.

The browser itself is the session-wide `browser` fixture of tests/browsing.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browsing import local_page
from playwright.sync_api import Browser, Page
from stack import stack_fixture  # noqa: F401  (the `stack` fixture)


@pytest.fixture
def phone_page(browser: Browser, app) -> Iterator[Page]:
    """A page in a phone-sized window; fails the test if it loads anything from outside."""
    with local_page(
        browser,
        app,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        accept_downloads=True,
    ) as page:
        yield page
