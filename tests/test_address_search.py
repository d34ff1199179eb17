"""Finding where you are with no map tiles: the staff map's address search, the saved areas'
outlines, and the public map's "is my address inside?" (which never tells who lives there)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from staff_helpers import make_staff, sign_in

from alerting.models import Alert, Area, Location, Resident, utcnow

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}


def register(session) -> None:
    """Three imported households and one self-registered resident's private address."""
    rows = [
        ("+4791000001", "Kari Nordmann", "Strandgaten 5, Bergen", 60.395, 5.320, "import"),
        ("+4791000002", "Ola Nordmann", "Strandgaten 5, Bergen", 60.395, 5.320, "import"),
        ("+4791000003", "Per Hansen", "Nye Strandgaten 2, Bergen", 60.390, 5.330, "import"),
        ("+4791000004", "Far Away", "Fjellveien 9, Bergen", 60.420, 5.400, "import"),
        ("+4791000005", "Secret Person", "Strandgaten 77, Bergen", 60.391, 5.321, "self"),
    ]
    for phone, name, address, lat, lon, source in rows:
        resident = Resident(phone=phone, name=name, language="nb", source=source)
        resident.locations.append(Location(label="home", lat=lat, lon=lon, address=address))
        session.add(resident)
    session.commit()


def public_alert(session, title: str = "Evacuate Strandgaten", area=SQUARE) -> int:
    """An alert being in force now, as /public shows it."""
    now = utcnow()
    alert = Alert(
        category="evacuation",
        severity="extreme",
        title=title,
        texts={"default": "Leave now."},
        area_geojson=json.dumps(area),
        area_name="Sentrum",
        status="sent",
        started_at=now - timedelta(minutes=5),
        onset=now - timedelta(minutes=5),
        expires=now + timedelta(hours=6),
    )
    session.add(alert)
    session.commit()
    return alert.id


# --- staff: centre the map on an address ---------------------------------------------------


def test_staff_search_finds_addresses_prefix_first_with_positions_and_no_people(
    app, client, session
):
    register(session)
    make_staff(app, "viewer@example.org", "viewer")
    sign_in(client, "viewer@example.org")
    r = client.get("/map/search.json?q=STRANDGATEN")
    assert r.status_code == 200
    found = r.get_json()["addresses"]
    # one row per address, however many live there; the one starting with the text first
    assert [a["address"] for a in found] == [
        "Strandgaten 5, Bergen",
        "Strandgaten 77, Bergen",
        "Nye Strandgaten 2, Bergen",
    ]
    assert found[0] == {"address": "Strandgaten 5, Bergen", "lat": 60.395, "lon": 5.320}
    body = r.get_data(as_text=True)
    for private in ("Kari", "Nordmann", "Secret", "+4791", "91000001"):
        assert private not in body


def test_search_ignores_the_case_of_letters_beyond_ascii(app, client, session):
    resident = Resident(phone="+4791000009", name="Å", source="import")
    resident.locations.append(Location(lat=60.39, lon=5.32, address="Øvre Ole Bulls plass 1"))
    session.add(resident)
    session.commit()
    make_staff(app, "viewer@example.org", "viewer")
    sign_in(client, "viewer@example.org")
    found = client.get("/map/search.json?q=øvre ole").get_json()["addresses"]
    assert [a["address"] for a in found] == ["Øvre Ole Bulls plass 1"]
    found = client.get("/public/address-check.json?q=ØVRE OLE").get_json()["addresses"]
    assert [a["address"] for a in found] == ["Øvre Ole Bulls plass 1"]


def test_staff_search_answers_at_most_ten(app, client, session):
    for i in range(15):
        resident = Resident(phone=f"+479200{i:04d}", name=f"N{i}", source="import")
        resident.locations.append(Location(lat=60.39, lon=5.32, address=f"Bryggen {i}"))
        session.add(resident)
    session.commit()
    make_staff(app, "viewer@example.org", "viewer")
    sign_in(client, "viewer@example.org")
    assert len(client.get("/map/search.json?q=bryggen").get_json()["addresses"]) == 10


@pytest.mark.parametrize("q", ["", "st", "  s  ", "x" * 101])
def test_staff_search_refuses_too_short_or_too_long_text_with_a_reason(app, client, q):
    make_staff(app, "viewer@example.org", "viewer")
    sign_in(client, "viewer@example.org")
    r = client.get("/map/search.json", query_string={"q": q})
    assert r.status_code == 422
    assert r.get_json()["detail"] == "Type between 3 and 100 characters of the address."


def test_staff_search_and_outlines_need_a_staff_sign_in(app, client, session, api_key):
    register(session)
    for url in ("/map/search.json?q=strand", "/map/areas.geojson"):
        r = client.get(url)
        assert r.status_code == 302 and "/login" in r.headers["Location"]
        # an API key is for /api/ only, never for the staff pages
        r = client.get(url, headers={"Authorization": f"Bearer {api_key}"})
        assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_saved_areas_come_as_one_collection_of_outlines(app, client, session):
    session.add(Area(name="Sentrum", geojson=json.dumps(SQUARE)))
    circle = {
        "type": "Feature",
        "properties": {"radius_m": 500},
        "geometry": {"type": "Point", "coordinates": [5.32, 60.39]},
    }
    session.add(Area(name="Sirkel", geojson=json.dumps(circle)))
    session.commit()
    make_staff(app, "viewer@example.org", "viewer")
    sign_in(client, "viewer@example.org")
    outlines = client.get("/map/areas.geojson").get_json()
    assert outlines["type"] == "FeatureCollection"
    assert [f["properties"]["name"] for f in outlines["features"]] == ["Sentrum", "Sirkel"]
    # a circle is drawn as the polygon it targets
    assert {f["geometry"]["type"] for f in outlines["features"]} == {"Polygon"}


# --- public: is my address inside? -----------------------------------------------------------


def test_public_check_says_which_alert_an_address_is_inside_and_never_who_lives_there(
    app, client, session
):
    register(session)
    inside_id = public_alert(session)
    r = client.get("/public/address-check.json?q=strandgaten 5")
    assert r.status_code == 200
    answer = r.get_json()
    assert answer["addresses"] == [
        {
            "address": "Strandgaten 5, Bergen",
            "lat": 60.395,
            "lon": 5.32,
            "inside": [
                {
                    "id": inside_id,
                    "title": "Evacuate Strandgaten",
                    "url": f"/public/alerts/{inside_id}",
                }
            ],
        }
    ]
    outside = client.get("/public/address-check.json?q=fjellveien").get_json()
    assert outside["addresses"][0]["address"] == "Fjellveien 9, Bergen"
    assert outside["addresses"][0]["inside"] == []
    # what a self-registered resident typed is not searchable by anyone
    assert client.get("/public/address-check.json?q=strandgaten 77").get_json()["addresses"] == []
    for body in (r.get_data(as_text=True), json.dumps(outside)):
        for private in ("Kari", "Nordmann", "Far Away", "+4791"):
            assert private not in body


def test_public_check_only_looks_at_the_alerts_the_page_shows(app, client, session):
    register(session)
    first = public_alert(session, "First")
    second = public_alert(session, "Second")
    r = client.get(f"/public/address-check.json?q=strandgaten 5&alerts={second}")
    assert [a["title"] for a in r.get_json()["addresses"][0]["inside"]] == ["Second"]
    assert [a["id"] for a in r.get_json()["alerts"]] == [second]
    every = client.get("/public/address-check.json?q=strandgaten 5").get_json()
    assert {a["id"] for a in every["addresses"][0]["inside"]} == {first, second}


def test_public_check_ignores_alerts_that_are_not_public(app, client, session):
    register(session)
    draft = public_alert(session, "Not sent yet")
    session.get(Alert, draft).status = "draft"
    session.commit()
    answer = client.get("/public/address-check.json?q=strandgaten 5").get_json()
    assert answer["alerts"] == []
    assert answer["addresses"][0]["inside"] == []


@pytest.mark.parametrize("q", ["", "ab", "y" * 101])
def test_public_check_refuses_bad_text_with_a_reason(client, q):
    r = client.get("/public/address-check.json", query_string={"q": q})
    assert r.status_code == 422
    assert r.get_json()["detail"] == "Type between 3 and 100 characters of your address."


def test_public_check_is_limited_per_client_address(app, client, session):
    from stack import configure

    configure(app, address_checks_per_ip=3)
    register(session)
    public_alert(session)
    for _ in range(3):
        assert client.get("/public/address-check.json?q=strandgaten").status_code == 200
    r = client.get("/public/address-check.json?q=strandgaten")
    assert r.status_code == 429
    assert "Too many searches" in r.get_json()["detail"]
    # another network is not held back
    other = client.get(
        "/public/address-check.json?q=strandgaten", environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("lang", "search", "keyboard"),
    [
        ("nb", "Finn en adresse", "Tastatur: gå til kartet"),
        ("sv", "Hitta en adress", "Tangentbord: gå till kartan"),
        ("da", "Find en adresse", "Tastatur: gå til kortet"),
    ],
)
def test_the_map_tools_speak_the_staff_members_language(app, client, lang, search, keyboard):
    make_staff(app, "op@example.org", "operator", language=lang)
    sign_in(client, "op@example.org")
    page = client.get("/alerts/new").get_data(as_text=True)
    assert search in page and keyboard in page


@pytest.mark.parametrize(
    ("lang", "question"),
    [
        ("nb", "Er adressen min innenfor?"),
        ("sv", "Ligger min adress inom?"),
        ("da", "Ligger min adresse inden for?"),
    ],
)
def test_the_public_address_check_speaks_the_visitors_language(client, session, lang, question):
    public_alert(session)
    page = client.get("/public", headers={"Accept-Language": lang}).get_data(as_text=True)
    assert question in page
