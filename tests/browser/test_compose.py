"""Drawing an area and composing: the count follows every vertex, templates and counters work."""

from __future__ import annotations

import json
import re

from browsing import screenshot, sign_in
from playwright.sync_api import Page, expect
from stack import add_resident
from staff_helpers import make_staff
from test_sms_parts import EXAMPLES

CENTRE = (5.32, 60.39)  # the map opens here, zoom 12 (about 19 m per pixel)


def seed_register(app) -> None:
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        add_resident(s, "+4791000001", 5.320, 60.390, "nb", name="A")
        add_resident(s, "+4791000002", 5.322, 60.391, "en", name="B")
        add_resident(s, "+4791000003", 5.318, 60.389, "nb", name="C")
        add_resident(s, "+4791000004", 5.40, 60.42, "nb", name="Far away")
        s.commit()


def draw_square(page: Page, half: int = 60) -> None:
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.get_by_role("button", name="Draw polygon").click()
    corners = [(-half, -half), (half, -half), (half, half), (-half, half)]
    for i, (dx, dy) in enumerate(corners):
        page.mouse.click(cx + dx, cy + dy)
        if i == 2:  # three vertices: the preview already counts the triangle
            expect(page.locator("#count-residents")).not_to_have_text("–")
    page.mouse.click(cx + corners[0][0], cy + corners[0][1])  # close on the first vertex


def test_drawing_a_polygon_updates_the_count_and_compose_fills_the_template(app, stack, page):
    seed_register(app)
    make_staff(app, "co@example.org", "coordinator")
    s = stack(workers=0)
    sign_in(page, s.url, "co@example.org")
    page.goto(f"{s.url}/alerts/new")
    draw_square(page)
    expect(page.locator("#count-residents")).to_have_text("3")
    expect(page.locator("#count-phones")).to_have_text("3")
    expect(page.locator("#count-opted-out")).to_have_text("0")
    expect(page.locator("#languages")).to_contain_text("2")
    # one text field per language in the area, plus the default
    expect(page.locator("#text_nb")).to_be_visible()
    expect(page.locator("#text_en")).to_be_visible()

    page.get_by_label("Area name").fill("Strandvegen")
    page.get_by_label("Template").select_option("water_shutoff")
    expect(page.locator("#text_default")).to_have_value(
        re.compile("Vannet blir stengt i Strandvegen")
    )
    expect(page.locator("#text_en")).to_have_value(
        "The water will be shut off in Strandvegen. Fill a few bottles before then."
    )
    page.get_by_label("Start").fill("2030-03-14T10:00")
    expect(page.locator("#text_en")).to_have_value(re.compile(r"from 14[^.]*10:00\. Fill"))
    expect(page.locator('.text-field[data-lang="en"] .counter')).to_contain_text(
        "GSM-7 · 1 SMS part"
    )
    expect(page.locator("#total-parts")).to_contain_text("About 3 SMS parts")
    screenshot(page, "compose")

    # the JS counter agrees with the Python one on every shared example
    for text, encoding, units, parts in EXAMPLES:
        result = page.evaluate("t => SmsParts.countParts(t)", text)
        assert (result["encoding"], result["units"], result["parts"]) == (encoding, units, parts)

    # zoomed in, residents' locations show as points
    page.locator("#map").focus()
    for _ in range(3):
        page.keyboard.press("NumpadAdd")
        page.wait_for_timeout(300)
    expect(page.locator("#points-hint")).to_have_text("Residents' locations are shown as dots.")

    # save the area under a name; it is listed
    page.get_by_label("Save area as").fill("Sentrum")
    page.get_by_role("button", name="Save area", exact=True).click()
    expect(page.locator("#area-message")).to_contain_text("Sentrum")
    page.goto(f"{s.url}/areas")
    expect(page.get_by_role("cell", name="Sentrum", exact=True)).to_be_visible()
    screenshot(page, "areas")


def test_uploaded_geojson_is_previewed_and_invalid_rings_are_explained(app, stack, page, tmp_path):
    seed_register(app)
    make_staff(app, "op@example.org", "operator")
    s = stack(workers=0)
    sign_in(page, s.url, "op@example.org")
    page.goto(f"{s.url}/alerts/new")
    square = {
        "type": "Polygon",
        "coordinates": [
            [[5.31, 60.385], [5.33, 60.385], [5.33, 60.395], [5.31, 60.395], [5.31, 60.385]]
        ],
    }
    path = tmp_path / "area.geojson"
    path.write_text(json.dumps(square))
    page.get_by_label(re.compile("^Upload an area")).set_input_files(str(path))
    expect(page.locator("#count-residents")).to_have_text("3")
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[5.31, 60.38], [5.33, 60.40], [5.33, 60.38], [5.31, 60.40], [5.31, 60.38]]
        ],
    }
    path.write_text(json.dumps(bowtie))
    page.get_by_label(re.compile("^Upload an area")).set_input_files(str(path))
    expect(page.locator("#preview-error")).to_contain_text("Self-intersection")


def test_a_zipped_shapefile_in_utm_uploaded_on_compose_reaches_the_same_residents(
    app, stack, page, tmp_path
):
    """A GIS export (Shapefile in EUREF89 UTM 32 with its .prj) is reprojected by the server and
    drawn; one without a coordinate system is refused with what to do, never guessed."""
    from shapely.geometry import box
    from test_area_files import zipped_shapefile

    seed_register(app)
    make_staff(app, "op@example.org", "operator")
    s = stack(workers=0)
    sign_in(page, s.url, "op@example.org")
    page.goto(f"{s.url}/alerts/new")
    upload = page.get_by_label(re.compile("^Upload an area"))
    square = box(5.31, 60.385, 5.33, 60.395)
    upload.set_input_files(str(zipped_shapefile(tmp_path, "EPSG:25832", [square], ["Sentrum"])))
    expect(page.locator("#count-residents")).to_have_text("3")
    expect(page.locator("#area-message")).to_have_text("soner.zip")

    bare = tmp_path / "bare"
    bare.mkdir()
    archive = zipped_shapefile(bare, "EPSG:25832", [square], ["Sentrum"], declare_crs=False)
    upload.set_input_files(str(archive))
    expect(page.locator("#area-message")).to_contain_text("coordinate system")
