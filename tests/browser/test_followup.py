"""Follow-up and resend open the compose page pre-filled: the first alert's area, the exact
count of its recipients in the panel and in "Send to N phones", one text box per language the
recipients read, and each recipient gets the text in their language. Live stack, real chromium."""

from __future__ import annotations

import re

from browsing import screenshot, sign_in
from playwright.sync_api import Page, expect
from stack import add_resident, wait_for
from staff_helpers import make_staff
from test_sending import AREA, INSIDE, OUTSIDE

from alerting.models import Message

INSIDE_BY_LANGUAGE = {"+4791000001": "nb", "+4791000002": "en", "+4791000003": "nb"}
INSIDE_BY_LANGUAGE |= {"+4791000005": "sv", "+4791000006": "en"}


def seed(app) -> None:
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        for i, (phone, language) in enumerate(INSIDE_BY_LANGUAGE.items()):
            add_resident(s, phone, INSIDE[0] + i * 0.001, INSIDE[1], language)
        add_resident(s, "+4791000004", *OUTSIDE, "en")
        s.commit()
        s.close()


def send_first_alert(client, api_key, **fields) -> int:
    """A water alert with only the default (Norwegian) text, as the demo's coordinator sent."""
    body = {
        "area": AREA,
        "category": "water",
        "severity": "moderate",
        "title": "Water off",
        "area_name": "Strandvegen",
        "message": {"default": "Vannet er stengt i Strandvegen."},
    } | fields
    auth = {"Authorization": f"Bearer {api_key}"}
    response = client.post("/api/v1/alerts", json=body, headers=auth)
    assert response.status_code == 201, response.json
    return response.json["id"]


def finished(client, api_key, alert_id: int) -> dict:
    def done():
        r = client.get(f"/api/v1/alerts/{alert_id}", headers={"Authorization": f"Bearer {api_key}"})
        return r.json["status"] == "completed" and r.json

    return wait_for(done, timeout=30, message=f"alert {alert_id} completed")


def test_follow_up_shows_the_exact_count_and_a_text_per_language_and_each_gets_their_own(
    app, client, api_key, stack, page: Page
):
    seed(app)
    make_staff(app, "co@example.org", "coordinator")
    s = stack(workers=1)
    first = send_first_alert(client, api_key)
    finished(client, api_key, first)
    sign_in(page, s.url, "co@example.org")
    page.goto(f"{s.url}/alerts/{first}")
    page.get_by_role("link", name="Send follow-up").click()

    expect(page.locator("#count-phones")).to_have_text("5")
    expect(page.locator("#count-opted-out")).to_have_text("0")
    expect(page.locator("#audience")).to_contain_text("5 recipients")
    expect(page.locator("#languages")).to_contain_text("English 2")
    # one box per language the recipients read (their first message was in the default text);
    # the DEFAULT_LANGUAGE's (nb) stays empty: the template's nb text is the default itself
    for language in ("en", "sv"):
        expect(page.locator(f"#text_{language}")).not_to_have_value("")
    expect(page.locator("#text_nb")).to_have_value("")
    expect(page.locator("#text_default")).to_have_value(re.compile("^Faren er over"))
    expect(page.locator(".text-field")).to_have_count(4)  # and the default
    texts = {lang: page.locator(f"#text_{lang}").input_value() for lang in ("en", "sv")}
    texts["nb"] = page.locator("#text_default").input_value()
    assert texts["en"].startswith("All clear") and texts["sv"].startswith("Faran är över")
    page.wait_for_timeout(500)  # the map settled (a zoomend once blanked the counts)
    expect(page.locator("#count-phones")).to_have_text("5")
    screenshot(page, "followup_compose")

    page.get_by_role("button", name="Review and send…").click()
    expect(page.locator("#confirm-text")).to_contain_text("Send to 5 phones")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#progress-text")).to_contain_text("5 of 5 delivered", timeout=30_000)
    for phone, language in INSIDE_BY_LANGUAGE.items():
        bodies = [m["body"] for m in s.sim.messages(to=phone)]
        assert bodies == ["Vannet er stengt i Strandvegen.", texts[language]], phone
    assert len(s.sim.messages(to="+4791000004")) == 0


def test_resend_shows_its_count_and_confirms_like_a_send(app, client, api_key, stack, page):
    seed(app)
    make_staff(app, "op@example.org", "operator")
    s = stack(workers=1, outcomes={"+4791000002": "undelivered:30003"})
    first = send_first_alert(client, api_key)
    finished(client, api_key, first)
    sign_in(page, s.url, "op@example.org")
    page.goto(f"{s.url}/alerts/{first}")
    page.get_by_role("link", name="Resend to undelivered and failed (1)").click()
    expect(page.locator("#count-phones")).to_have_text("1")
    expect(page.locator("#audience")).to_contain_text(re.compile(r"\b1 recipients?\b"))
    expect(page.locator("#text_default")).to_have_value("Vannet er stengt i Strandvegen.")
    expect(page.locator("#title")).to_have_value("Water off")
    expect(page.locator(".text-field")).to_have_count(2)  # default and English
    s.sim.configure(outcomes={})
    page.get_by_role("button", name="Review and send…").click()
    expect(page.locator("#confirm-text")).to_contain_text(re.compile(r"Send to 1 phones?\b"))
    page.get_by_role("button", name="Back").click()
    assert len(s.sim.messages(to="+4791000002")) == 1  # nothing sent before the confirmation
    page.get_by_role("button", name="Review and send…").click()
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#progress-text")).to_contain_text("1 of 1 delivered", timeout=30_000)
    assert len(s.sim.messages(to="+4791000002")) == 2
    assert all(len(s.sim.messages(to=p)) == 1 for p in INSIDE_BY_LANGUAGE if p != "+4791000002")


def test_a_resend_posted_without_the_confirmation_sends_nothing(app, client, api_key, stack):
    from staff_helpers import csrf_token
    from staff_helpers import sign_in as client_sign_in

    seed(app)
    make_staff(app, "op@example.org", "operator")
    stack(workers=1, outcomes={"+4791000002": "undelivered:30003"})
    first = send_first_alert(client, api_key)
    finished(client, api_key, first)
    client_sign_in(client, "op@example.org")
    page = client.get(f"/alerts/{first}/resend")
    assert page.status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    form = {"csrf_token": token, "title": "Again", "text_default": "Vannet er stengt."}
    refused = client.post(f"/alerts/{first}/resend", data=form)
    assert refused.status_code == 422
    assert "Confirm the number of phones" in refused.get_data(as_text=True)
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        assert s.query(Message).count() == len(INSIDE_BY_LANGUAGE)  # no second alert's rows
        s.close()
