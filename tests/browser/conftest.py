"""Browser tests: Debian's chromium driven by Playwright against the live stack (tests/stack.py).

Tiles point at a closed local port, so the pages are tested the way they run with no tile server
reachable; every request the page makes must stay on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browsing import local_page
from playwright.sync_api import Browser, Page
from stack import configure, stack_fixture  # noqa: F401


@pytest.fixture
def page(browser: Browser, app) -> Iterator[Page]:
    with local_page(browser, app, viewport={"width": 1280, "height": 900}) as page:
        yield page
