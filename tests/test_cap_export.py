"""CAP 1.2 out: every exported document is valid against the OASIS XSD shipped in the package,
says lat,lon where GeoJSON says lon,lat, and names the messages it updates or cancels."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from lxml import etree
from shapely.geometry import Point, Polygon
from sqlalchemy import update

from alerting.cap.schema import NS, schema_errors
from alerting.models import Alert, utcnow

Q = {"c": NS}
BERGEN = (5.3245, 60.3929)  # lon, lat: inside the square below, far from its mirror image
SQUARE = [[5.30, 60.38], [5.35, 60.38], [5.35, 60.41], [5.30, 60.41], [5.30, 60.38]]
HOLE = [[5.31, 60.385], [5.315, 60.385], [5.315, 60.39], [5.31, 60.39], [5.31, 60.385]]
AREA = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {},
            "geometry": {"type": "Polygon", "coordinates": [SQUARE, HOLE]},
        },
        {
            "type": "Feature",
            "properties": {"radius_m": 1500},
            "geometry": {"type": "Point", "coordinates": [5.40, 60.30]},
        },
    ],
}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create(client, key, **fields) -> int:
    body = {
        "area": AREA,
        "area_name": "Sentrum",
        "category": "flood",
        "severity": "severe",
        "title": "Flood warning",
        "message": {"default": "Flom i sentrum. Hold deg unna kaia.", "en": "Flooding downtown."},
        "expires": "2030-01-01T00:00:00Z",
    }
    body.update(fields)
    response = client.post("/api/v1/alerts", json=body, headers=auth(key))
    assert response.status_code == 201, response.json
    return response.json["id"]


def mark_sent(session, alert_id: int, **values) -> datetime:
    started = datetime(2026, 12, 3, 7, 0, 0, 123456)  # 08:00:00 in Oslo
    session.execute(
        update(Alert)
        .where(Alert.id == alert_id)
        .values(status="sending", started_at=started, **values)
    )
    session.commit()
    return started


def cap_of(client, key, alert_id: int) -> etree._Element:
    response = client.get(f"/api/v1/alerts/{alert_id}/cap", headers=auth(key))
    assert response.status_code == 200
    assert response.mimetype == "application/cap+xml"
    assert schema_errors(response.data) == []
    return etree.fromstring(response.data)


def text(root, path: str) -> str:
    return root.findtext(path, namespaces=Q)


def test_an_alert_is_valid_cap_with_lat_lon_pairs_a_circle_and_one_info_per_language(
    client, session, api_key
):
    alert_id = create(client, api_key)
    mark_sent(session, alert_id, expires=datetime(2026, 12, 3, 17, 0))
    root = cap_of(client, api_key, alert_id)

    assert text(root, "c:msgType") == "Alert"
    assert text(root, "c:status") == "Actual"
    assert text(root, "c:sent") == "2026-12-03T08:00:00+01:00"  # TIMEZONE, no Z, no fraction
    infos = root.findall("c:info", Q)
    assert [text(i, "c:language") for i in infos] == ["nb", "en"]  # the default is DEFAULT_LANGUAGE
    assert [text(i, "c:description") for i in infos] == [
        "Flom i sentrum. Hold deg unna kaia.",
        "Flooding downtown.",
    ]
    info = infos[0]
    assert [c.text for c in info.findall("c:category", Q)] == ["Met", "Geo"]
    assert text(info, "c:severity") == "Severe"
    assert text(info, "c:urgency") == "Immediate"
    assert text(info, "c:expires") == "2026-12-03T18:00:00+01:00"

    polygons = info.findall("c:area/c:polygon", Q)
    assert len(polygons) == 1  # the hole cannot be said in CAP: left out, and the text says so
    assert "1 left out" in text(info, "c:area/c:areaDesc")
    pairs = [tuple(map(float, p.split(","))) for p in polygons[0].text.split()]
    assert pairs[0] == pairs[-1] and len(pairs) == 5
    as_lat_lon = Polygon([(lon, lat) for lat, lon in pairs])
    assert as_lat_lon.contains(Point(BERGEN))  # read as CAP says (lat,lon): Bergen is inside
    assert not Polygon(pairs).contains(Point(BERGEN))
    assert text(info, "c:area/c:circle") == "60.300000,5.400000 1.500"


def test_a_follow_up_is_an_update_naming_its_parent_and_a_cancel_names_the_alert(
    client, session, api_key
):
    parent = create(client, api_key)
    mark_sent(session, parent)
    child = client.post(
        f"/api/v1/alerts/{parent}/follow-up",
        json={"title": "All clear", "message": {"default": "Faren er over."}},
        headers=auth(api_key),
    )
    assert child.status_code == 201, child.json
    child_id = child.json["id"]
    mark_sent(session, child_id, response_type="AllClear")

    update_doc = cap_of(client, api_key, child_id)
    assert text(update_doc, "c:msgType") == "Update"
    parent_doc = cap_of(client, api_key, parent)
    assert text(update_doc, "c:references") == ",".join(
        (text(parent_doc, "c:sender"), text(parent_doc, "c:identifier"), text(parent_doc, "c:sent"))
    )
    assert text(update_doc, "c:info/c:responseType") == "AllClear"

    cancelled = create(client, api_key, category="water", severity="minor")
    mark_sent(session, cancelled)
    original = cap_of(client, api_key, cancelled)
    assert (
        client.post(f"/api/v1/alerts/{cancelled}/cancel", headers=auth(api_key)).status_code == 200
    )
    cancel = cap_of(client, api_key, cancelled)
    assert text(cancel, "c:msgType") == "Cancel"
    assert text(cancel, "c:identifier") != text(original, "c:identifier")
    assert text(cancel, "c:references").split(",")[1] == text(original, "c:identifier")
    assert text(cancel, "c:info/c:category") == "Infra"


def test_exercises_and_unsent_alerts_are_not_public_and_the_feed_links_valid_documents(
    client, session, api_key
):
    sent = create(client, api_key, title="Kokevarsel", category="water", severity="moderate")
    mark_sent(session, sent)
    exercise = create(client, api_key, title="Øvelse")
    mark_sent(session, exercise, exercise=True)
    unsent = create(client, api_key, send_at=(utcnow() + timedelta(days=2)).isoformat() + "Z")

    assert text(cap_of(client, api_key, exercise), "c:status") == "Exercise"  # staff see it
    assert client.get(f"/public/alerts/{exercise}.cap.xml").status_code == 404
    assert client.get(f"/public/alerts/{unsent}.cap.xml").status_code == 404
    public = client.get(f"/public/alerts/{sent}.cap.xml")
    assert public.status_code == 200 and schema_errors(public.data) == []

    feed = client.get("/public/alerts.atom")
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"
    atom = etree.fromstring(feed.data)
    a = {"a": "http://www.w3.org/2005/Atom"}
    assert [e.findtext("a:title", namespaces=a) for e in atom.findall("a:entry", a)] == [
        "Kokevarsel"
    ]
    link = atom.find("a:entry/a:link[@type='application/cap+xml']", a).get("href")
    assert re.fullmatch(rf"http://127\.0\.0\.1:5000/public/alerts/{sent}\.cap\.xml", link)
    linked = client.get(link.removeprefix("http://127.0.0.1:5000"))
    assert schema_errors(linked.data) == []


def test_the_api_needs_a_key_and_says_when_there_is_no_such_alert(client, api_key):
    assert client.get("/api/v1/alerts/1/cap").status_code == 401
    missing = client.get("/api/v1/alerts/999/cap", headers=auth(api_key))
    assert missing.status_code == 404 and missing.json["error"] == "not found"


def test_the_shipped_schema_refuses_what_cap_forbids():
    bad = (
        f'<alert xmlns="{NS}"><identifier>x</identifier><sender>s</sender>'
        "<sent>2026-12-03T08:00:00Z</sent><status>Actual</status><msgType>Alert</msgType>"
        "<scope>Public</scope></alert>"
    ).encode()
    errors = schema_errors(bad)
    assert errors and "sent" in errors[0]
