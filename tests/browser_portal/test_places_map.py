"""A resident's places on a map with no tiles: each is labelled, and the list centres on one."""

from __future__ import annotations

from browsing import sign_in_by_sms
from playwright.sync_api import Page, expect
from stack import configure

from alerting.models import ConsentEvent, Location, Resident

PHONE = "+4791234567"


def test_my_places_are_labelled_on_the_map_and_the_list_centres_on_one(
    app, session, stack, phone_page: Page
):
    resident = Resident(phone=PHONE, source="import", name="Kari", language="en")
    resident.locations.append(
        Location(label="home", lat=60.39, lon=5.32, address="Strandkaien 1, Bergen")
    )
    resident.locations.append(
        Location(label="cabin", lat=61.20, lon=7.10, address="Fjellstølen 3, Sogndal")
    )
    session.add(resident)
    session.add(ConsentEvent(phone=PHONE, action="opt_in", source="import"))
    session.commit()
    configure(app, tile_attribution='© Kartverket <img id="injected" src="x">')
    s = stack(workers=1)
    page = phone_page
    sign_in_by_sms(page, s, PHONE)
    page.goto(f"{s.url}/me/places")
    credit = page.locator(".leaflet-control-attribution")
    expect(credit).to_contain_text('© Kartverket <img id="injected" src="x">')  # text, not HTML
    assert page.locator("#injected").count() == 0
    labels = page.locator("#places-map .leaflet-tooltip")
    expect(labels).to_have_count(2)
    expect(labels.nth(0)).to_have_text("Home: Strandkaien 1, Bergen")
    expect(labels.nth(1)).to_have_text("Cabin: Fjellstølen 3, Sogndal")

    cabin = page.locator("li", has_text="Fjellstølen 3, Sogndal")
    cabin.get_by_role("button", name="Show on the map").click()
    page.wait_for_timeout(500)  # the map's move animation
    box = page.locator("#places-map").bounding_box()
    dot = page.locator("#places-map path.leaflet-interactive").nth(1).bounding_box()
    assert abs(dot["x"] + dot["width"] / 2 - (box["x"] + box["width"] / 2)) <= 3
    assert abs(dot["y"] + dot["height"] / 2 - (box["y"] + box["height"] / 2)) <= 3
