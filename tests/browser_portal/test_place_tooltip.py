"""A place's typed address reaches the map's tooltip as text, never as HTML."""

from __future__ import annotations

from browsing import sign_in_by_sms
from playwright.sync_api import Page, expect

from alerting.models import ConsentEvent, Location, Resident

PHONE = "+4791234567"
ADDRESS = '<img id="injected" src="x" onerror="document.title=\'pwned\'">Strandkaien 1'


def test_an_address_with_markup_shows_as_text_in_the_tooltip(app, session, stack, phone_page):
    resident = Resident(phone=PHONE, source="import", name="Kari", language="en")
    resident.locations.append(Location(label="home", lat=60.39, lon=5.32, address=ADDRESS))
    session.add(resident)
    session.add(ConsentEvent(phone=PHONE, action="opt_in", source="import"))
    session.commit()
    s = stack(workers=1)
    page: Page = phone_page
    sign_in_by_sms(page, s, PHONE)
    page.goto(f"{s.url}/me/places")
    page.locator("#places-map path.leaflet-interactive").first.hover()
    tooltip = page.locator(".leaflet-tooltip")
    expect(tooltip).to_contain_text('Home: <img id="injected"')
    assert page.locator("#injected").count() == 0
    assert page.title() != "pwned"
