"""A resident on a phone: sign up by SMS code, places, language, quiet hours, leaving, the map."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from browsing import sign_in_by_sms
from playwright.sync_api import Page, expect
from portal_helpers import sms_to
from sqlalchemy import func, or_, select
from stack import wait_for

from alerting.models import (
    Alert,
    ConsentEvent,
    Location,
    Message,
    OptOut,
    Resident,
    utcnow,
)

PHONE = "+4791234567"
AREA = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}


def imported(session, phone=PHONE, address="Strandkaien 1, Bergen", lat=60.39, lon=5.32):
    resident = Resident(phone=phone, source="import", name="Kari Nordmann", language="en")
    resident.locations.append(Location(label="home", lat=lat, lon=lon, address=address))
    session.add(resident)
    session.add(ConsentEvent(phone=phone, action="opt_in", source="import"))
    session.commit()
    return resident


def send_alert(app, category, severity, title, text):
    from alerting.alerts import create_alert
    from alerting.auth import Principal
    from alerting.db import db

    with app.app_context():
        who = Principal(audit_name="coordinator@test", role="coordinator")
        alert = create_alert(
            db(),
            who,
            area=AREA,
            category=category,
            severity=severity,
            title=title,
            texts={"default": text},
            expires=utcnow() + timedelta(hours=1),
        )
        return alert.id


def test_sign_up_add_a_cabin_on_the_map_and_an_address_then_change_language(
    app, session, stack, phone_page: Page
):
    imported(session, phone="+4798000001", address="Strandkaien 1, Bergen")
    s = stack(workers=1)
    page = phone_page
    sign_in_by_sms(page, s, "912 34 567")
    expect(page.get_by_role("heading", name="My places")).to_be_visible()
    new = session.scalar(select(Resident).where(Resident.phone == PHONE))
    assert new.source == "self"

    page.locator("#places-map").click(position={"x": 120, "y": 90})
    expect(page.locator("#place-chosen")).to_contain_text("Point on the map")
    page.get_by_label("What is this place?").select_option("cabin")
    page.get_by_role("button", name="Add this place").click()
    expect(page.locator(".flash")).to_contain_text("Place added")

    page.get_by_label("Search for an address").fill("strandk")
    page.get_by_role("button", name="Strandkaien 1, Bergen").click()
    expect(page.locator("#place-chosen")).to_contain_text("Strandkaien 1, Bergen")
    page.get_by_label("What is this place?").select_option("home")
    page.get_by_role("button", name="Add this place").click()
    expect(page.locator(".places li")).to_have_count(2)

    session.expire_all()
    places = {
        p.label: p for p in session.scalars(select(Location).where(Location.resident_id == new.id))
    }
    assert set(places) == {"cabin", "home"}
    assert places["home"].address == "Strandkaien 1, Bergen"
    assert 59 < places["cabin"].lat < 62 and 4 < places["cabin"].lon < 7

    page.get_by_role("link", name="Back to my alerts").click()
    page.get_by_label("Language of alerts and of these pages").select_option("nb")
    page.get_by_role("button", name="Save language").click()
    expect(page.get_by_role("heading", name="Mine varsler")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "nb"
    session.expire_all()
    assert session.get(Resident, new.id).language == "nb"


def test_quiet_hours_hold_a_water_notice_but_not_an_evacuation(
    app, session, stack, phone_page: Page
):
    imported(session)
    s = stack(workers=1)
    page = phone_page
    sign_in_by_sms(page, s, PHONE)
    now = datetime.now(ZoneInfo("Europe/Oslo"))
    page.get_by_label("Use quiet hours").check()
    page.locator("#quiet-start").fill((now - timedelta(hours=1)).strftime("%H:%M"))
    page.locator("#quiet-end").fill((now + timedelta(hours=1)).strftime("%H:%M"))
    page.get_by_role("button", name="Save quiet hours").click()
    expect(page.locator(".flash")).to_contain_text("Quiet hours saved")

    water = send_alert(app, "water", "minor", "Water off", "Water off tonight")
    send_alert(app, "evacuation", "extreme", "Evacuate", "Evacuate now")
    wait_for(
        lambda: any("Evacuate now" in m["body"] for m in sms_to(s.sim.url, PHONE)),
        timeout=20,
        message="the evacuation SMS",
    )
    held = wait_for(
        lambda: session.scalar(
            select(Message)
            .where(Message.alert_id == water)
            .execution_options(populate_existing=True)
        ),
        message="the water notice's message row",
    )
    assert held.status == "pending" and held.next_attempt_at > utcnow() + timedelta(minutes=30)
    assert not any("Water off" in m["body"] for m in sms_to(s.sim.url, PHONE))


def test_unsubscribe_come_back_download_my_data_and_delete_me(
    app, session, stack, phone_page: Page, tmp_path: Path
):
    imported(session)
    s = stack(workers=1)
    page = phone_page
    sign_in_by_sms(page, s, PHONE)
    expect(page.locator("[data-state=active]")).to_be_visible()

    page.get_by_role("button", name="Unsubscribe from all alerts").click()
    expect(page.locator("[data-state=opted-out]")).to_be_visible()
    assert session.get(OptOut, PHONE, populate_existing=True).source == "portal"
    page.get_by_role("button", name="Get alerts again").click()
    expect(page.locator("[data-state=active]")).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data").click()
    data = json.loads(Path(download.value.path()).read_text())
    assert data["phone"] == PHONE
    assert data["places"][0]["address"] == "Strandkaien 1, Bergen"
    assert [(c["action"], c["source"]) for c in data["consent_history"]] == [
        ("opt_in", "import"),
        ("opt_out", "portal"),
        ("opt_in", "portal"),
    ]
    assert "quiet_start" in data["settings"] and data["alerts_received"] == []

    page.get_by_role("link", name="Delete my account").click()
    page.get_by_label("Yes, delete my account and my data").check()
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("heading", name="Get SMS alerts where you live")).to_be_visible()
    session.expire_all()
    for model, column in (
        (Resident, Resident.phone),
        (ConsentEvent, ConsentEvent.phone),
        (OptOut, OptOut.phone),
        (Message, Message.phone),
    ):
        assert session.scalar(select(func.count()).select_from(model).where(column == PHONE)) == 0
    assert session.scalar(select(func.count()).select_from(Location)) == 0


def test_stop_by_sms_shows_in_the_portal_and_start_restores(app, session, stack, phone_page: Page):
    imported(session)
    s = stack(workers=1)
    page = phone_page
    sign_in_by_sms(page, s, PHONE)
    s.inbound(PHONE, "STOP")
    wait_for(lambda: session.get(OptOut, PHONE, populate_existing=True), message="opt-out")
    page.reload()
    expect(page.locator("[data-state=opted-out]")).to_contain_text("You replied STOP by SMS")
    s.inbound(PHONE, "START")
    wait_for(lambda: session.get(OptOut, PHONE, populate_existing=True) is None, message="opt-in")
    page.reload()
    expect(page.locator("[data-state=active]")).to_be_visible()
    sources = session.scalars(
        select(ConsentEvent.source)
        .where(or_(ConsentEvent.phone == PHONE))
        .order_by(ConsentEvent.id)
    ).all()
    assert sources == ["import", "sms", "sms"]


def test_wrong_codes_in_the_browser_stop_after_five_attempts(app, session, stack, phone_page):
    s = stack(workers=1)
    page = phone_page
    page.goto(f"{s.url}/me/sign-in")
    page.get_by_label("Mobile number").fill(PHONE)
    page.get_by_role("button", name="Send me a code").click()
    for _ in range(5):
        page.get_by_label("Code").fill("000000")  # wrong unless one in a million
        page.get_by_role("button", name="Sign in").click()
        if page.get_by_label("Mobile number").count():
            break
    expect(page.locator(".flash.error")).to_contain_text("Too many wrong attempts")
    assert session.scalar(select(func.count()).select_from(Resident)) == 0


def test_the_public_map_shows_the_alert_area_and_a_shareable_link(
    app, session, stack, phone_page: Page
):
    imported(session)
    s = stack(workers=1)
    alert_id = send_alert(app, "water", "moderate", "Boil your water", "Boil water before use")
    wait_for(
        lambda: session.get(Alert, alert_id, populate_existing=True).status != "scheduled",
        message="the alert being sent",
    )
    page = phone_page
    page.goto(f"{s.url}/public")
    expect(page.get_by_role("link", name="Boil your water")).to_be_visible()
    expect(page.locator("#public-map path.leaflet-interactive")).to_have_count(1)
    expect(page.locator("body")).not_to_contain_text(PHONE)
    share = page.get_by_role("link", name="Link to this alert").get_attribute("href")
    assert share == f"{s.url}/public/alerts/{alert_id}"
    page.goto(share)
    expect(page.get_by_role("heading", name="Boil your water")).to_be_visible()
    expect(page.locator(".text")).to_contain_text("Boil water before use")
