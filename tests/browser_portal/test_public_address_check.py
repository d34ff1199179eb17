"""Anyone on /public, on a phone, with no map tiles: "is my address inside?" answers in words."""

from __future__ import annotations

from browsing import screenshot
from playwright.sync_api import Page, expect
from test_address_search import public_alert, register


def test_an_address_is_said_to_be_inside_or_outside_the_alerts_shown(
    app, session, stack, phone_page: Page
):
    register(session)
    public_alert(session, "Evacuate Strandgaten")
    s = stack(workers=0)
    page = phone_page
    page.goto(f"{s.url}/public")
    check = page.get_by_label("Is my address inside?")
    answer = page.locator("#address-check-answer")

    check.fill("Strandgaten 5")
    page.get_by_role("button", name="Check").click()
    expect(answer).to_contain_text("Strandgaten 5, Bergen is inside:")
    expect(answer.get_by_role("link", name="Evacuate Strandgaten")).to_be_visible()
    screenshot(page, "public_address_check")

    check.fill("fjellveien")
    page.get_by_role("button", name="Check").click()
    expect(answer).to_have_text("Fjellveien 9, Bergen is outside every alert shown here.")
    # a self-registered resident's address is nobody else's to find; nor are names
    check.fill("Strandgaten 77")
    page.get_by_role("button", name="Check").click()
    expect(answer).to_contain_text("No address in the register matches")
    expect(page.locator("body")).not_to_contain_text("Nordmann")

    # the link goes to the alert's own page, where the check looks at that alert
    check.fill("strandgaten 5")
    page.get_by_role("button", name="Check").click()
    answer.get_by_role("link", name="Evacuate Strandgaten").click()
    expect(page.get_by_role("heading", name="Evacuate Strandgaten")).to_be_visible()
    page.get_by_label("Is my address inside?").fill("strandgaten 5")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#address-check-answer")).to_contain_text("is inside")
