"""The compose map with no tiles: drawing by keyboard, finding an address, saved areas' outlines."""

from __future__ import annotations

import json

from browsing import screenshot, sign_in
from playwright.sync_api import Page, expect
from stack import add_resident, configure
from staff_helpers import make_staff

from alerting.models import Area, Location, Resident

PAN = 80  # pixels Leaflet's keyboard panning moves the map per arrow key
# a triangle in pixels from the map's centre, on the keyboard's 80-pixel grid
TRIANGLE = [(0, -2 * PAN), (2 * PAN, 2 * PAN), (-2 * PAN, 2 * PAN)]


def seed_register(app) -> None:
    """Residents around the map's centre (5.32, 60.39; about 19 m per pixel at zoom 12)."""
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        add_resident(s, "+4791000001", 5.320, 60.390, "nb")  # the centre: inside
        add_resident(s, "+4791000002", 5.300, 60.380, "en")  # south-west, inside
        add_resident(s, "+4791000003", 5.335, 60.385, "nb")  # south-east, inside
        add_resident(s, "+4791000004", 5.360, 60.410, "nb")  # north-east, outside the slope
        add_resident(s, "+4791000005", 5.280, 60.410, "nb")  # north-west, outside the slope
        add_resident(s, "+4791000006", 5.320, 60.350, "nb")  # below the base, outside
        s.commit()


def map_centre(page: Page) -> tuple[float, float]:
    box = page.locator("#map").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def open_compose(page: Page, url: str) -> None:
    page.goto(f"{url}/alerts/new")
    expect(page.locator("#kbd-draw-help")).to_contain_text("arrow keys")


def draw_triangle_with_the_mouse(page: Page) -> None:
    cx, cy = map_centre(page)
    page.get_by_role("button", name="Draw polygon").click()
    for dx, dy in TRIANGLE:
        page.mouse.click(cx + dx, cy + dy)
    page.mouse.click(cx + TRIANGLE[0][0], cy + TRIANGLE[0][1])  # close on the first vertex


def ring(page: Page) -> list[list[float]]:
    """The outer ring of the one shape the form would send."""
    area = json.loads(page.locator("#area-geojson").input_value())
    assert len(area["features"]) == 1
    return area["features"][0]["geometry"]["coordinates"][0]


def press(page: Page, key: str, times: int = 1) -> None:
    for _ in range(times):
        page.keyboard.press(key)
        page.wait_for_timeout(350)  # Leaflet ignores arrow keys while a pan still animates


def draw_triangle_with_the_keyboard(page: Page) -> None:
    status = page.locator("#kbd-draw-status")
    page.locator("#map").focus()
    press(page, "ArrowUp", 2)
    press(page, "a")
    expect(status).to_have_text("Vertex 1 added.")
    press(page, "ArrowDown", 4)
    press(page, "ArrowRight", 2)
    press(page, "Enter")
    expect(status).to_have_text("Vertex 2 added.")
    press(page, "ArrowLeft", 4)
    press(page, "a")
    expect(status).to_have_text("Vertex 3 added. Press F to finish the shape.")
    # a triangle is already counted while it is being drawn, as with the mouse
    expect(page.locator("#count-residents")).to_have_text("3")


def test_a_triangle_drawn_by_keyboard_reaches_the_same_residents_as_by_mouse(app, stack, page):
    seed_register(app)
    make_staff(app, "co@example.org", "coordinator")
    s = stack(workers=0)
    sign_in(page, s.url, "co@example.org")

    open_compose(page, s.url)
    draw_triangle_with_the_mouse(page)
    expect(page.locator("#count-residents")).to_have_text("3")
    by_mouse = [
        page.locator(f"#count-{name}").inner_text() for name in ("residents", "phones", "opted-out")
    ]
    mouse_ring = ring(page)

    open_compose(page, s.url)
    draw_triangle_with_the_keyboard(page)
    expect(page.locator(".kbd-crosshair")).to_be_visible()
    screenshot(page, "keyboard_draw")
    press(page, "f")
    expect(page.locator("#kbd-draw-status")).to_have_text("Shape finished.")
    by_keyboard = [
        page.locator(f"#count-{name}").inner_text() for name in ("residents", "phones", "opted-out")
    ]
    assert by_keyboard == by_mouse == ["3", "3", "0"]
    # the same triangle: each vertex within a pixel (about 19 m) of the mouse's
    keyboard_ring = ring(page)
    assert len(keyboard_ring) == len(mouse_ring) == 4  # 3 vertices, closed
    for (x1, y1), (x2, y2) in zip(keyboard_ring, mouse_ring, strict=True):
        assert abs(x1 - x2) < 0.0004 and abs(y1 - y2) < 0.0002


def test_backspace_removes_the_last_vertex_and_escape_gives_up(app, stack, page):
    seed_register(app)
    make_staff(app, "op@example.org", "operator")
    s = stack(workers=0)
    sign_in(page, s.url, "op@example.org")
    open_compose(page, s.url)
    status = page.locator("#kbd-draw-status")
    page.locator("#map").focus()
    press(page, "a")
    press(page, "ArrowRight")
    press(page, "a")
    press(page, "f")
    expect(status).to_have_text("A shape needs at least 3 vertices.")
    press(page, "Backspace")
    expect(status).to_have_text("Last vertex removed; vertices left: 1.")
    press(page, "Escape")
    expect(status).to_have_text("Drawing cancelled.")
    expect(page.locator("#count-residents")).to_have_text("–")


def test_the_search_box_centres_the_map_on_an_address_and_saved_areas_are_outlined(
    app, stack, page
):
    seed_register(app)
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        far = Resident(phone="+4791000099", name="Not shown", source="import")
        far.locations.append(Location(lat=60.45, lon=5.45, address="Fjellveien 9, Bergen"))
        s.add(far)
        square = [[5.44, 60.445], [5.46, 60.445], [5.46, 60.455], [5.44, 60.455], [5.44, 60.445]]
        s.add(
            Area(name="Fjellet", geojson=json.dumps({"type": "Polygon", "coordinates": [square]}))
        )
        s.commit()
    make_staff(app, "op@example.org", "operator")
    configure(app, tile_attribution="© Kartverket")  # the credit a national service asks for
    st = stack(workers=0)
    sign_in(page, st.url, "op@example.org")
    open_compose(page, st.url)
    expect(page.locator(".leaflet-control-attribution")).to_contain_text("© Kartverket")
    expect(page.locator(".leaflet-control-attribution")).not_to_contain_text("OpenStreetMap")

    page.get_by_label("Find an address").fill("fjellv")
    page.get_by_role("button", name="Fjellveien 9, Bergen").click()
    expect(page.locator("#map-search-status")).to_have_text("Map centred on Fjellveien 9, Bergen.")
    # the pin on the address sits at the map's centre, labelled with the address
    pin = page.locator(".search-pin")
    expect(pin).to_be_visible()
    box = pin.bounding_box()
    cx, cy = map_centre(page)
    assert abs(box["x"] + box["width"] / 2 - cx) <= 2
    assert abs(box["y"] + box["height"] / 2 - cy) <= 2
    expect(page.locator(".leaflet-tooltip", has_text="Fjellveien 9, Bergen")).to_be_visible()

    # the saved area around it is outlined: its name shows over it, and a click picks it
    page.mouse.move(cx + 60, cy + 40)
    expect(page.locator(".leaflet-tooltip", has_text="Fjellet")).to_be_visible()
    page.mouse.click(cx + 60, cy + 40)
    expect(page.locator("#saved-area option:checked")).to_have_text("Fjellet")
    expect(page.locator("#count-residents")).to_have_text("1")
    screenshot(page, "map_search")

    # Enter takes the first address found
    open_compose(page, st.url)
    page.get_by_label("Find an address").fill("fjellveien")
    page.get_by_label("Find an address").press("Enter")
    expect(page.locator("#map-search-status")).to_have_text("Map centred on Fjellveien 9, Bergen.")


def test_each_library_of_saved_areas_is_a_layer_of_the_map_and_a_click_picks_a_zone(
    app, stack, page
):
    """Water-supply zones imported from a GIS layer show as one layer that can be hidden, the
    other saved areas as another; a click on a zone picks it as the alert's area."""
    seed_register(app)

    def square(x: float, y: float) -> str:
        ring = [[x, y], [x + 0.01, y], [x + 0.01, y + 0.006], [x, y + 0.006], [x, y]]
        return json.dumps({"type": "Polygon", "coordinates": [ring]})

    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        # zone Nord holds the resident at the map's centre (5.320, 60.390)
        s.add(Area(name="Nord", geojson=square(5.315, 60.387), library="Vannforsyningssoner"))
        s.add(Area(name="Sør", geojson=square(5.295, 60.377), library="Vannforsyningssoner"))
        s.add(Area(name="Hytta", geojson=square(5.40, 60.40)))
        s.commit()
    make_staff(app, "op@example.org", "operator")
    st = stack(workers=0)
    sign_in(page, st.url, "op@example.org")
    open_compose(page, st.url)

    layers = page.locator(".leaflet-control-layers")
    expect(layers).to_contain_text("Vannforsyningssoner (2)")
    expect(layers).to_contain_text("Other saved areas (1)")
    # the saved-area list groups the library's zones under its name
    expect(page.locator('#saved-area optgroup[label="Vannforsyningssoner"] option')).to_have_text(
        ["Nord", "Sør"]
    )

    # hidden, the zones neither show their names nor take a click
    cx, cy = map_centre(page)
    page.get_by_label("Vannforsyningssoner (2)").uncheck()
    page.mouse.move(cx, cy)
    page.mouse.click(cx, cy)
    expect(page.locator(".leaflet-tooltip", has_text="Nord")).to_have_count(0)
    expect(page.locator("#saved-area")).to_have_value("")

    page.get_by_label("Vannforsyningssoner (2)").check()
    page.mouse.move(cx + 5, cy + 5)
    expect(page.locator(".leaflet-tooltip", has_text="Nord")).to_be_visible()
    page.mouse.click(cx, cy)
    expect(page.locator("#saved-area option:checked")).to_have_text("Nord")
    expect(page.locator("#count-residents")).to_have_text("1")
    screenshot(page, "map_libraries")
