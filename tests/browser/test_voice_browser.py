"""Calls in the browser: the compose page counts phones (SMS) and landlines (voice) apart and
estimates a call's length from its spoken text; the alert page shows SMS and calls side by side,
and who confirmed by pressing 1."""

from __future__ import annotations

import json
import urllib.request

from browsing import screenshot, sign_in
from playwright.sync_api import Page, expect
from stack import add_resident, configure, wait_for
from staff_helpers import make_staff
from test_compose import draw_square


def test_landlines_are_counted_apart_and_their_calls_show_beside_the_sms(app, stack, page: Page):
    configure(app, sweep_interval_s=0.3)
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        add_resident(s, "+4791000001", 5.320, 60.390, "nb")
        add_resident(s, "+4791000002", 5.322, 60.391, "nb")
        add_resident(s, "+4755000001", 5.319, 60.390, "nb", reachable=False)
        s.commit()
        s.close()
    make_staff(app, "co@example.org", "coordinator")
    st = stack(workers=1, call_seconds=20)
    sign_in(page, st.url, "co@example.org")
    page.goto(f"{st.url}/alerts/new")
    draw_square(page)
    expect(page.locator("#count-phones")).to_have_text("2")
    expect(page.locator("#count-landlines")).to_have_text("1")

    page.get_by_label("Title (for staff)").fill("Vann av")
    page.locator("#text_default").fill("Vannet er stengt")
    estimate = page.locator('.text-field[data-lang="default"] .call-estimate')
    expect(estimate).to_have_text("A call says it twice and asks to press 1: about 8 s")
    page.locator("#spoken_default").fill(" ".join(["ord"] * 50))  # 110 words: 44 s, and 1
    expect(estimate).to_have_text("A call says it twice and asks to press 1: about 45 s")
    page.get_by_role("button", name="Review and send…").click()
    expect(page.locator("#confirm-text")).to_have_text("Send to 2 phones in the drawn area")
    expect(page.locator("#confirm-detail")).to_have_text("and 1 landline is called")
    page.locator("#confirm-send").click()
    expect(page.locator("#alert-status")).to_be_visible()

    call = wait_for(
        lambda: next((c for c in st.sim.calls_made() if c["status"] == "in-progress"), None),
        timeout=20,
        message="the landline answered",
    )
    assert call["said"][0]["text"] == " ".join(["ord"] * 50)
    request = urllib.request.Request(
        f"{st.sim.url}/_sim/press",
        data=json.dumps({"sid": call["sid"], "digits": "1"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()
    voice = page.locator('td[data-channel="voice"][data-group="delivered"]')
    expect(voice).to_have_text("1", timeout=15_000)
    expect(page.locator('td[data-channel="sms"][data-group="delivered"]')).to_have_text("2")
    expect(page.locator("#acknowledged")).to_have_text("1")
    expect(page.locator("#acknowledgements")).to_contain_text("+47•••••001")  # masked
    screenshot(page, "alert-calls")
