"""Irreversible actions ask first: cancelling an alert and deleting a saved area open a dialog
(Back changes nothing), and the server refuses the bare POST, so neither a script nor a
double-click without the confirmation does anything. Resend confirms like a send
(test_followup.py)."""

from __future__ import annotations

import json

from browsing import local_page, sign_in
from playwright.sync_api import Page, expect
from stack import Stack
from staff_helpers import csrf_token, make_staff
from staff_helpers import sign_in as client_sign_in
from test_sending import AREA

from alerting.models import Alert, Area


def scheduled_alert(client, api_key) -> int:
    response = client.post(
        "/api/v1/alerts",
        json={
            "area": AREA,
            "category": "water",
            "severity": "minor",
            "title": "Water off on Monday",
            "message": {"default": "Vannet blir stengt."},
            "send_at": "2030-01-01T08:00:00+01:00",
        },
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.status_code == 201, response.json
    return response.json["id"]


def saved_area(app, name: str = "Strandvegen") -> int:
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        area = Area(name=name, geojson=json.dumps(AREA), created_by="test")
        s.add(area)
        s.commit()
        area_id = area.id
        s.close()
    return area_id


def status_of(app, alert_id: int) -> str:
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        try:
            return s.get(Alert, alert_id).status
        finally:
            s.close()


def area_count(app) -> int:
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        try:
            return s.query(Area).count()
        finally:
            s.close()


def test_cancel_asks_in_a_dialog_and_back_keeps_the_alert(app, client, api_key, stack, page: Page):
    make_staff(app, "op@example.org", "operator")
    s = stack(workers=0)
    alert_id = scheduled_alert(client, api_key)
    sign_in(page, s.url, "op@example.org")
    page.goto(f"{s.url}/alerts/{alert_id}")
    expect(page.get_by_label("Yes, cancel the alert")).to_be_hidden()  # the dialog asks instead
    page.get_by_role("button", name="Cancel alert").click()
    dialog = page.locator("#action-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"Cancel alert #{alert_id}?")
    page.get_by_role("button", name="Back").click()
    expect(dialog).to_be_hidden()
    page.wait_for_timeout(300)
    assert status_of(app, alert_id) == "scheduled"
    page.get_by_role("button", name="Cancel alert").click()
    page.get_by_role("button", name="Yes, cancel the alert").click()
    expect(page.locator("#alert-status")).to_have_attribute("data-status", "cancelled")
    assert status_of(app, alert_id) == "cancelled"


def test_deleting_a_saved_area_asks_in_a_dialog(app, stack, page: Page):
    make_staff(app, "op@example.org", "operator")
    saved_area(app)
    s = stack(workers=0)
    sign_in(page, s.url, "op@example.org")
    page.goto(f"{s.url}/areas")
    expect(page.get_by_label("Yes, delete the area")).to_be_hidden()  # the dialog will ask
    page.get_by_role("button", name="Delete Strandvegen").click()
    expect(page.locator("#action-dialog")).to_contain_text("Delete the area “Strandvegen”?")
    page.get_by_role("button", name="Back").click()
    assert area_count(app) == 1
    page.get_by_role("button", name="Delete Strandvegen").click()
    page.get_by_role("button", name="Yes, delete the area").click()
    expect(page.get_by_role("status")).to_contain_text("Area “Strandvegen” deleted.")
    assert area_count(app) == 0


def test_without_javascript_the_box_must_be_ticked(app, client, api_key, browser):
    """With JS off the form shows a "Yes, …" box the browser requires before posting."""
    make_staff(app, "op@example.org", "operator")
    saved_area(app)
    with Stack(app, workers=0) as s, local_page(browser, app, java_script_enabled=False) as page:
        sign_in(page, s.url, "op@example.org")
        page.goto(f"{s.url}/areas")
        page.get_by_role("button", name="Delete Strandvegen").click()
        assert area_count(app) == 1  # the required box stopped the form
        page.get_by_label("Yes, delete the area").check()
        page.get_by_role("button", name="Delete Strandvegen").click()
        expect(page.get_by_role("status")).to_contain_text("deleted")
        assert area_count(app) == 0


def test_the_server_refuses_a_cancel_or_delete_without_the_confirmation(app, client, api_key):
    make_staff(app, "op@example.org", "operator")
    alert_id = scheduled_alert(client, api_key)
    area_id = saved_area(app)
    client_sign_in(client, "op@example.org")
    token = csrf_token(client.get(f"/alerts/{alert_id}").get_data(as_text=True))

    refused = client.post(f"/alerts/{alert_id}/cancel", data={"csrf_token": token})
    assert refused.status_code == 422
    assert "Confirm the cancellation" in refused.get_data(as_text=True)
    assert status_of(app, alert_id) == "scheduled"
    refused = client.post(f"/areas/{area_id}/delete", data={"csrf_token": token})
    assert refused.status_code == 422
    assert "Confirm the deletion" in refused.get_data(as_text=True)
    assert area_count(app) == 1
    assert client.get(f"/alerts/{alert_id}/cancel").status_code == 405  # never by a GET

    yes = {"csrf_token": token, "confirmed": "1"}
    assert client.post(f"/alerts/{alert_id}/cancel", data=yes).status_code == 302
    assert status_of(app, alert_id) == "cancelled"
    assert client.post(f"/areas/{area_id}/delete", data=yes).status_code == 302
    assert area_count(app) == 0
    assert client.post(f"/alerts/{alert_id}/cancel", data={"confirmed": "1"}).status_code == 400
