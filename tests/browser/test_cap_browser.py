"""CAP in the browser: an alert drawn and sent in the UI comes out as valid CAP covering the
residents it reached; a CAP file uploaded on the compose page fills in area, title and text."""

from __future__ import annotations

import re

from browsing import screenshot, sign_in
from lxml import etree
from playwright.sync_api import expect
from shapely.geometry import Point, Polygon
from staff_helpers import make_staff
from test_compose import seed_register
from test_send import compose_water_alert

from alerting.cap.schema import NS, schema_errors

INSIDE = [(5.320, 60.390), (5.322, 60.391), (5.318, 60.389)]  # seed_register's three


def test_an_alert_drawn_in_the_ui_comes_out_as_valid_cap_around_its_recipients(app, stack, page):
    seed_register(app)
    make_staff(app, "co@example.org", "coordinator")
    s = stack(workers=0)
    sign_in(page, s.url, "co@example.org")
    compose_water_alert(page, s.url)
    page.get_by_role("button", name="Review and send…").click()
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page).to_have_url(re.compile(rf"{re.escape(s.url)}/alerts/\d+$"))
    alert_id = page.url.rsplit("/", 1)[1]  # ids are not reset between tests on PostgreSQL
    response = page.request.get(f"{s.url}/api/v1/alerts/{alert_id}/cap")
    assert response.ok and response.headers["content-type"].startswith("application/cap+xml")
    body = response.body()
    assert schema_errors(body) == []
    root = etree.fromstring(body)
    polygon = root.findtext("c:info/c:area/c:polygon", namespaces={"c": NS})
    ring = Polygon([tuple(reversed([float(v) for v in p.split(",")])) for p in polygon.split()])
    assert all(ring.contains(Point(p)) for p in INSIDE)
    assert not ring.contains(Point(5.40, 60.42))  # seed_register's resident far away


def test_a_cap_file_uploaded_on_the_compose_page_fills_area_title_and_text(
    app, stack, page, tmp_path
):
    seed_register(app)
    make_staff(app, "co@example.org", "coordinator")
    s = stack(workers=0)
    sign_in(page, s.url, "co@example.org")
    page.goto(f"{s.url}/alerts/new")
    pairs = "60.385,5.31 60.385,5.33 60.395,5.33 60.395,5.31 60.385,5.31"
    path = tmp_path / "flood.xml"
    path.write_text(
        f'<alert xmlns="{NS}"><identifier>NVE-1</identifier><sender>varsom@nve.no</sender>'
        "<sent>2026-12-03T06:00:00+01:00</sent><status>Actual</status><msgType>Alert</msgType>"
        "<scope>Public</scope><info><language>no</language><category>Geo</category>"
        "<event>Flom</event><urgency>Immediate</urgency><severity>Severe</severity>"
        "<certainty>Likely</certainty><headline>Flomvarsel Bergselva</headline>"
        "<description>Flom i Bergselva. Hold deg unna elvebredden.</description>"
        f"<area><areaDesc>Bergselva</areaDesc><polygon>{pairs}</polygon></area></info></alert>",
        encoding="utf-8",
    )
    page.get_by_label(re.compile("^Upload an area")).set_input_files(str(path))
    expect(page.locator("#count-residents")).to_have_text("3")
    expect(page.locator("#title")).to_have_value("Flomvarsel Bergselva")
    expect(page.locator("#text_default")).to_have_value(
        "Flom i Bergselva. Hold deg unna elvebredden."
    )
    expect(page.locator("#severity")).to_have_value("severe")
    expect(page.locator("#category")).to_have_value("flood")
    screenshot(page, "compose_cap_upload")

    path.write_text(path.read_text().replace("60.385,5.31</polygon>", "60.39,5.31</polygon>"))
    page.get_by_label(re.compile("^Upload an area")).set_input_files(str(path))
    expect(page.locator("#area-message")).to_contain_text("not closed")
