"""The alert page during a send: counts move with the receipts, delivered per second and the
time left at the rate limit are shown, and a message held by quiet hours says until when."""

from __future__ import annotations

import re

from browsing import screenshot, sign_in
from playwright.sync_api import Page, expect
from stack import configure
from staff_helpers import make_staff
from test_progress import quiet_now
from test_sending import add_many, post_alert


def test_alert_page_shows_rate_time_left_and_held_until_during_a_send(
    app, session, client, api_key, stack, page: Page
):
    configure(app, sms_rate_per_second=40.0, sweep_interval_s=1.0)
    phones = add_many(session, 400)  # about 10 s at 40/s
    until = quiet_now(session, phones[-1])
    make_staff(app, "viewer@example.org", "viewer")
    s = stack(workers=1)
    s.wait_workers()
    sign_in(page, s.url, "viewer@example.org")
    alert_id = post_alert(client, api_key).json["id"]
    page.goto(f"{s.url}/alerts/{alert_id}")
    expect(page.locator("#held")).to_have_text(f"held until {until} (1)", timeout=20_000)
    expect(page.locator("#progress-rate")).to_contain_text(
        re.compile(r"[1-9]\d* delivered/s"), timeout=20_000
    )
    expect(page.locator("#progress-rate")).to_contain_text(re.compile(r"left at 40(\.0)?/s"))
    shown = []
    for _ in range(6):  # the delivered count keeps moving while the page is open
        shown.append(int(page.locator('[data-count="delivered"]').inner_text()))
        page.wait_for_timeout(1000)
    assert all(b > a for a, b in zip(shown, shown[1:], strict=False) if b < 399), shown
    screenshot(page, "alert_progress")
    expect(page.locator("#progress-text")).to_contain_text("399 of 400 delivered", timeout=30_000)
    expect(page.locator("#held")).to_have_text(f"held until {until} (1)")
