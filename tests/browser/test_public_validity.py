"""/public in chromium: an evacuation is in force until its end time however soon its SMS are
delivered, ended after it, and ended by an all-clear follow-up sent from the staff pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from browsing import screenshot, sign_in
from playwright.sync_api import Page, expect
from stack import wait_for
from staff_helpers import make_staff
from test_compose import draw_square, seed_register

from alerting.alerts import create_alert
from alerting.auth import Principal
from alerting.models import Alert, utcnow

AREA = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}


def card(page: Page, title: str):
    return page.locator("li.alert", has=page.get_by_role("link", name=title, exact=True))


def status_of(app, alert_id: int) -> str:
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        try:
            return s.get(Alert, alert_id).status
        finally:
            s.close()


def test_public_says_in_force_until_expires_then_ended_and_superseded_after_an_all_clear(
    app, stack, page
):
    seed_register(app)
    make_staff(app, "co@example.org", "coordinator")
    s = stack(workers=1)
    s.wait_workers()
    with app.app_context():
        session = app.extensions["alerting.sessionmaker"]()
        short = create_alert(
            session,
            Principal("co@example.org", "coordinator"),
            area=AREA,
            category="evacuation",
            severity="extreme",
            title="Leave the quay",
            texts={"default": "Leave the quay now"},
            expires=utcnow() + timedelta(seconds=20),
        )
        short_id, expires_at = short.id, short.expires
        session.close()

    # the second evacuation is composed in the browser, its End typed in Europe/Oslo
    sign_in(page, s.url, "co@example.org")
    page.goto(f"{s.url}/alerts/new")
    draw_square(page)
    expect(page.locator("#count-phones")).to_have_text("3")
    page.get_by_label("Area name").fill("Strandvegen")
    page.get_by_label("Template").select_option("evacuation")
    expect(page.locator("#response-type")).to_have_value("Evacuate")
    end = datetime.now(ZoneInfo("Europe/Oslo")) + timedelta(hours=6)
    page.get_by_label("End (Europe/Oslo)").fill(end.strftime("%Y-%m-%dT%H:%M"))
    screenshot(page, "compose_validity")
    page.get_by_role("button", name="Review and send…").click()
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#progress-text")).to_contain_text("3 of 3 delivered", timeout=30_000)
    expect(page.locator("#validity")).to_contain_text(end.strftime("%H:%M") + " (Europe/Oslo)")
    long_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    wait_for(lambda: status_of(app, short_id) == "completed", timeout=30, message="delivered")
    wait_for(lambda: status_of(app, long_id) == "completed", timeout=30, message="delivered")

    # every SMS delivered, and still in force: delivery is not the end of an evacuation
    assert utcnow() < expires_at, "the machine was too slow to see the alert in force"
    page.goto(f"{s.url}/public")
    expect(card(page, "Leave the quay")).to_contain_text("in force")
    expect(card(page, "Evacuation")).to_contain_text("in force")

    wait_for(lambda: utcnow() >= expires_at, timeout=30, message="the end time")
    page.reload()
    ended = page.locator("#recently-ended + ul.alerts")
    expect(ended.get_by_role("link", name="Leave the quay")).to_be_visible()
    expect(card(page, "Leave the quay")).to_contain_text("ended")
    expect(card(page, "Evacuation")).to_contain_text("in force")

    # the all clear, from the follow-up page: it ends the evacuation on /public at once
    page.goto(f"{s.url}/alerts/{long_id}/follow-up")
    expect(page.locator("#template")).to_have_value("all_clear")
    expect(page.locator("#response-type")).to_have_value("AllClear")
    page.get_by_role("button", name="Review and send…").click()
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#progress-text")).to_contain_text("3 of 3 delivered", timeout=30_000)
    page.goto(f"{s.url}/public")
    expect(card(page, "Evacuation")).to_contain_text("ended by an all-clear")
    expect(ended.get_by_role("link", name="Evacuation")).to_be_visible()
    expect(page.locator("#current-alerts").get_by_role("link", name="All clear")).to_be_visible()
    expect(card(page, "All clear")).to_contain_text("in force")
    screenshot(page, "public_status")
