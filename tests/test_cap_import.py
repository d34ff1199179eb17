"""CAP 1.2 in: documents shaped like real ones (written for these tests after the OASIS spec)
become drafts, revise or cancel alerts; invalid ones are refused with the reason."""

from __future__ import annotations

import math
import time

from sqlalchemy import select, update
from stack import configure, stack_fixture, wait_for  # noqa: F401  (the `stack` fixture)

from alerting.models import Alert, Location, Resident

NS = "urn:oasis:names:tc:emergency:cap:1.2"
HEADERS_XML = {"Content-Type": "application/cap+xml"}


def ring(lat: float, lon: float, r: float, n: int) -> str:
    """n distinct pairs on a circle around lat,lon, closed (n + 1 pairs)."""
    pts = [
        (lat + r * math.sin(2 * math.pi * k / n), lon + 2 * r * math.cos(2 * math.pi * k / n))
        for k in range(n)
    ]
    pts.append(pts[0])
    return " ".join(f"{a:.5f},{b:.5f}" for a, b in pts)


def doc(
    body: str, *, identifier="NO-NVE-2026-1", msg_type="Alert", status="Actual", refs=""
) -> bytes:
    references = f"<references>{refs}</references>" if refs else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><alert xmlns="{NS}">'
        f"<identifier>{identifier}</identifier><sender>varsom@nve.no</sender>"
        f"<sent>2026-12-03T06:00:00+01:00</sent><status>{status}</status>"
        f"<msgType>{msg_type}</msgType><scope>Public</scope>{references}{body}</alert>"
    ).encode()


def info(lang="en-GB", text="River Bergselva is flooding.", area="", **extra) -> str:
    fields = {
        "category": "Geo",
        "event": "Flood",
        "responseType": "Prepare",
        "urgency": "Immediate",
        "severity": "Severe",
        "certainty": "Likely",
    } | extra
    head = "".join(
        f"<{k}>{v}</{k}>"
        for k, v in fields.items()
        if k in ("category", "event", "responseType", "urgency", "severity", "certainty")
    )
    return (
        f"<info><language>{lang}</language>{head}"
        "<expires>2026-12-04T06:00:00+01:00</expires>"
        f"<headline>Flood warning</headline><description>{text}</description>{area}</info>"
    )


FLOOD_AREA = (
    f"<area><areaDesc>Bergselva</areaDesc><polygon>{ring(60.39, 5.32, 0.01, 28)}</polygon></area>"
)


def post(client, key, body: bytes):
    return client.post(
        "/api/v1/cap", data=body, headers={**HEADERS_XML, "Authorization": f"Bearer {key}"}
    )


def add_resident(session, phone: str, lon: float, lat: float) -> None:
    session.add(Resident(phone=phone, language="nb", locations=[Location(lat=lat, lon=lon)]))
    session.commit()


def test_a_flood_warning_with_a_29_pair_polygon_becomes_a_draft_that_sends_nothing(
    client, session, api_key
):
    add_resident(session, "+4790000001", 5.32, 60.39)  # inside: lat,lon read the right way
    add_resident(session, "+4790000002", 60.39, 5.32)  # where swapped pairs would put it
    assert FLOOD_AREA.count(",") == 29
    response = post(client, api_key, doc(info(area=FLOOD_AREA)))
    assert response.status_code == 201, response.json
    assert response.json["status"] == "draft" and response.json["done"] == "created a draft"
    alert = session.get(Alert, response.json["id"])
    assert (alert.category, alert.severity, alert.recipients) == ("flood", "severe", 1)
    assert alert.texts == {
        "en": "River Bergselva is flooding.",
        "default": "River Bergselva is flooding.",
    }
    assert alert.expires.isoformat() == "2026-12-04T05:00:00"  # naive UTC
    assert alert.area_name == "Bergselva"
    again = post(client, api_key, doc(info(area=FLOOD_AREA)))
    assert again.status_code == 409 and again.json["error"] == "already received"


def test_a_metalerts_style_document_gives_a_text_per_language_then_update_and_cancel(
    client, session, api_key
):
    parameters = "<parameter><valueName>municipality</valueName><value>Bergen</value></parameter>"
    body = info("no", "Flom i Bergselva.", parameters + FLOOD_AREA, category="Met") + info(
        "en-GB", "Flooding in Bergselva.", parameters + FLOOD_AREA, category="Met"
    )
    created = post(client, api_key, doc(body, identifier="2.49.0.1.578.0.NO.1"))
    assert created.status_code == 201, created.json
    alert_id = created.json["id"]
    alert = session.get(Alert, alert_id)
    assert alert.texts == {
        "nb": "Flom i Bergselva.",
        "en": "Flooding in Bergselva.",
        "default": "Flom i Bergselva.",
    }

    # an Update without an area (a tsunami warning's next message): texts and validity change
    ref = "varsom@nve.no,2.49.0.1.578.0.NO.1,2026-12-03T06:00:00+01:00"
    revised = post(
        client,
        api_key,
        doc(info("en-GB", "Water still rising."), identifier="NO.2", msg_type="Update", refs=ref),
    )
    assert revised.status_code == 200 and revised.json == {
        "id": alert_id,
        "status": "draft",
        "done": "revised",
    }
    session.expire_all()
    assert session.get(Alert, alert_id).texts["en"] == "Water still rising."

    cancel = post(client, api_key, doc("", identifier="NO.3", msg_type="Cancel", refs=ref))
    assert cancel.status_code == 200 and cancel.json["status"] == "cancelled"


def test_our_own_cap_imported_again_reaches_the_same_recipients_with_the_same_texts(
    client, session, api_key
):
    for i, (lon, lat) in enumerate([(5.321, 60.391), (5.325, 60.395), (5.5, 60.5)]):
        add_resident(session, f"+479100000{i}", lon, lat)
    area = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[5.31, 60.38], [5.33, 60.38], [5.33, 60.40], [5.31, 60.40], [5.31, 60.38]]
                    ],
                },
            },
            {
                "type": "Feature",
                "properties": {"radius_m": 800},
                "geometry": {"type": "Point", "coordinates": [5.325, 60.395]},
            },
        ],
    }
    headers = {"Authorization": f"Bearer {api_key}"}
    sent = client.post(
        "/api/v1/alerts",
        json={
            "area": area,
            "category": "water",
            "severity": "minor",
            "title": "Vann",
            "message": {"default": "Vannet stenges.", "en": "Water off."},
        },
        headers=headers,
    ).json
    session.execute(update(Alert).where(Alert.id == sent["id"]).values(status="sent"))
    session.commit()
    document = client.get(f"/api/v1/alerts/{sent['id']}/cap", headers=headers).data
    again = post(client, api_key, document)
    assert again.status_code == 201, again.json
    original, imported = session.get(Alert, sent["id"]), session.get(Alert, again.json["id"])
    assert imported.recipients == original.recipients == 2
    assert {k: v for k, v in imported.texts.items()} == {
        "nb": "Vannet stenges.",
        "en": "Water off.",
        "default": "Vannet stenges.",
    }
    assert imported.category == "water"


def refused(client, key, body: bytes) -> dict:
    response = post(client, key, body)
    assert response.status_code == 422, response.json
    return response.json


def test_invalid_documents_are_refused_with_the_reason(client, session, api_key):
    def area(pairs: str) -> str:
        return f"<area><areaDesc>x</areaDesc><polygon>{pairs}</polygon></area>"

    bowtie = "60.0,5.0 60.1,5.1 60.0,5.1 60.1,5.0 60.0,5.0"
    assert "Self-intersection" in refused(client, api_key, doc(info(area=area(bowtie))))["detail"]
    three = "60.0,5.0 60.1,5.1 60.0,5.0"
    assert "3 pairs" in refused(client, api_key, doc(info(area=area(three))))["detail"]
    unclosed = "60.0,5.0 60.1,5.0 60.1,5.1 60.0,5.1"
    assert "not closed" in refused(client, api_key, doc(info(area=area(unclosed))))["detail"]
    north = "95.0,5.0 60.1,5.0 60.1,5.1 95.0,5.0"
    assert "outside latitude" in refused(client, api_key, doc(info(area=area(north))))["detail"]
    unknown = doc(
        "", identifier="C1", msg_type="Cancel", refs="x@y,nothing,2026-12-03T06:00:00+01:00"
    )
    assert refused(client, api_key, unknown)["error"] == "unknown reference"
    assert refused(client, api_key, b"<alert>")["error"] == "not XML"
    cap11 = doc(info(area=FLOOD_AREA)).replace(b"cap:1.2", b"cap:1.1")
    assert refused(client, api_key, cap11)["error"] == "not a CAP 1.2 document"
    bad_sent = doc(info(area=FLOOD_AREA)).replace(b"06:00:00+01:00</sent>", b"06:00:00Z</sent>")
    assert refused(client, api_key, bad_sent)["error"] == "invalid CAP 1.2"
    no_area = refused(client, api_key, doc(info()))
    assert no_area["error"] == "no area to target"
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + doc(info(text="&x;", area=FLOOD_AREA)).split(b"?>", 1)[1]
    )
    assert refused(client, api_key, xxe)["error"] == "DOCTYPE not accepted"
    assert session.scalars(select(Alert)).all() == []  # nothing was created by any of them


def test_a_viewer_cannot_import_and_the_cli_imports_a_file(client, app, cli, tmp_path):
    from alerting.auth import create_api_key

    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        _row, viewer = create_api_key(s, "viewer", "viewer")
        s.commit()
        s.close()
    assert post(client, viewer, doc(info(area=FLOOD_AREA))).status_code == 403
    path = tmp_path / "flood.xml"
    path.write_bytes(doc(info(area=FLOOD_AREA), identifier="CLI-1"))
    result = cli("cap", "import", path)
    assert result.exit_code == 0, result.output
    assert "Alert CLI-1: created a draft alert" in result.output
    again = cli("cap", "import", path)
    assert again.exit_code != 0 and "already received" in again.output


def test_an_imported_draft_sends_only_when_staff_send_it_and_reaches_those_inside(
    app, client, session, api_key, stack
):
    configure(app, sms_rate_per_second=100.0, sweep_interval_s=0.3)
    add_resident(session, "+4790000001", 5.32, 60.39)
    add_resident(session, "+4790000002", 60.39, 5.32)
    s = stack(workers=1)
    alert_id = post(client, api_key, doc(info(area=FLOOD_AREA))).json["id"]
    time.sleep(1.5)  # a worker and a sweep had the time to send it if anything would
    assert s.sim.messages() == []
    headers = {"Authorization": f"Bearer {api_key}"}
    sent = client.post(f"/api/v1/alerts/{alert_id}/send", headers=headers)
    assert sent.status_code == 200, sent.json
    wait_for(lambda: len(s.sim.messages()) == 1, timeout=20, message="the SMS")
    assert [(m["to"], m["body"]) for m in s.sim.messages()] == [
        ("+4790000001", "River Bergselva is flooding.")
    ]
    again = client.post(f"/api/v1/alerts/{alert_id}/send", headers=headers)
    assert again.status_code == 422 and "only a draft" in again.json["detail"]


def test_an_imported_evacuation_sent_by_staff_waits_for_a_second_person(client, session, api_key):
    from sqlalchemy import delete

    from alerting.models import AppSetting

    session.execute(delete(AppSetting))  # the product's default policy: evacuations wait
    session.commit()
    body = doc(info(area=FLOOD_AREA, responseType="Evacuate"), identifier="EVAC-1")
    alert_id = post(client, api_key, body).json["id"]
    assert session.get(Alert, alert_id).category == "evacuation"
    sent = client.post(
        f"/api/v1/alerts/{alert_id}/send", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert sent.status_code == 200 and sent.json["status"] == "pending_approval"
