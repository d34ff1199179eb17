"""Bad input costs a bounded amount: every input a fuzz run found answering 500 (or resetting the
connection) is a 422, 413 or 404 with a reason a person can act on. The slow inputs are bounded by
their size (vertex count, bytes, nesting), never by a timing assert."""

from __future__ import annotations

import json
import math

import pytest
from flask import request
from sqlalchemy import func, select
from stack import add_resident
from staff_helpers import csrf_token, make_staff, sign_in
from webhook_helpers import sending_message, sign

from alerting.models import Alert, InboundMessage, Resident
from alerting.sending.receipts import drain

SQUARE = [[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]
AREA = {"type": "Polygon", "coordinates": [SQUARE]}
BIG_ID = 2**31  # one past PostgreSQL's integer
HUGE_ID = 10**30  # past SQLite's 64-bit integer too


def star(vertices: int) -> dict:
    """A valid star-shaped polygon around Bergen, coordinates written compactly (4 decimals) so
    that even 200,000 vertices fit in the request-size limit and reach the area parser."""
    ring = []
    for i in range(vertices):
        r = 0.02 if i % 2 else 0.01
        a = 2 * math.pi * i / vertices
        ring.append([round(5.32 + r * math.cos(a), 4), round(60.39 + r * math.sin(a), 4)])
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def nested(depth: int) -> str:
    """`depth` lists inside each other, as raw JSON text."""
    return "[" * depth + "]" * depth


def feature_text(geometry: str, properties: str) -> str:
    return f'{{"type": "Feature", "geometry": {geometry}, "properties": {properties}}}'


POINT = '{"type": "Point", "coordinates": [5.32, 60.39]}'
DIGITS_400 = "1" + "0" * 399

# (name, raw JSON text of the `area` member, expected error) — sent to preview and create alike
BAD_AREAS = [
    ("json nested 990 deep", nested(990), "nested too deep"),
    ("objects nested 990 deep", '{"a": ' * 990 + "1" + "}" * 990, "nested too deep"),
    (
        "feature collections nested 1,000 deep",
        '{"type": "FeatureCollection", "features": [' * 1000 + "]}" * 1000,
        "nested too deep",
    ),
    ("properties as a list", feature_text(POINT, "[1, 2]"), "invalid properties"),
    ("properties as a string", feature_text(POINT, '"radius_m"'), "invalid properties"),
    (
        "400-digit integer coordinate",
        json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}).replace(
            "[1, 1]", f"[{DIGITS_400}, 1]"
        ),
        "number too long",
    ),
    (
        "400-digit decimal coordinate",
        json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}).replace(
            "[1, 1]", f"[{DIGITS_400}.5, 1]"
        ),
        "number too long",
    ),
    ("radius_m NaN", feature_text(POINT, '{"radius_m": NaN}'), "not a number"),
    ("radius_m Infinity", feature_text(POINT, '{"radius_m": Infinity}'), "not a number"),
    ("200,000-vertex star", json.dumps(star(200_000)), "too many vertices"),
    (
        "5,000 small features (25,000 vertices)",
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {}, "geometry": AREA}] * 5000,
            }
        ),
        "too many vertices",
    ),
]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("area", "error"), [a[1:] for a in BAD_AREAS], ids=[a[0] for a in BAD_AREAS]
)
def test_a_bad_area_is_a_422_with_a_reason_on_preview_and_create(client, api_key, area, error):
    for path, rest in [
        ("/api/v1/areas/preview", ""),
        (
            "/api/v1/alerts",
            ', "category": "water", "severity": "minor", "title": "T", "message": "Water off"',
        ),
    ]:
        body = f'{{"area": {area}{rest}}}'
        response = client.post(path, data=body, headers=bearer(api_key))
        assert response.status_code == 422, (path, response.get_data(as_text=True)[:300])
        assert response.json["error"] == error, response.json
        assert response.json["detail"], response.json


def test_the_1_000_000_vertex_polygon_is_refused_by_its_size(client, api_key):
    ring = [[5.0 + i * 1e-7, 60.0] for i in range(1_000_000)] + [[5.0, 61.0], [5.0, 60.0]]
    body = json.dumps({"area": {"type": "Polygon", "coordinates": [ring]}})
    response = client.post("/api/v1/areas/preview", data=body, headers=bearer(api_key))
    assert response.status_code == 413
    assert response.json["error"] == "request too large"
    assert "MB" in response.json["detail"]


def alert_body(**changes) -> dict:
    body = {
        "area": AREA,
        "category": "water",
        "severity": "minor",
        "title": "Water off",
        "message": {"default": "Water off"},
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"area": None, "area_id": BIG_ID}, "unknown area"),
        ({"area": None, "area_id": HUGE_ID}, "unknown area"),
        ({"area": None, "area_id": -1}, "unknown area"),
        ({"area": None, "area_id": True}, "invalid area_id"),
        ({"send_at": "0001-01-01T00:00:00+14:00"}, "invalid send_at"),
        ({"send_at": "9999-12-31T23:59:59-14:00"}, "invalid send_at"),
        ({"send_at": ["2026-12-01T10:00:00Z"]}, "invalid send_at"),
        ({"area_name": "x" * 201}, "invalid area_name"),
        ({"area_name": ["Sentrum"]}, "invalid area_name"),
    ],
    ids=lambda v: str(v)[:40] if not isinstance(v, dict) else "",
)
def test_bad_alert_fields_are_422_with_a_reason(client, api_key, session, changes, error):
    body = {k: v for k, v in alert_body(**changes).items() if v is not None}
    response = client.post("/api/v1/alerts", json=body, headers=bearer(api_key))
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert response.json["error"] == error
    assert response.json["detail"]
    assert session.scalar(select(func.count()).select_from(Alert)) == 0


@pytest.mark.parametrize(
    ("only", "detail"),
    [([[1]], "a list of message statuses"), ("failed", "a list of message statuses")],
)
def test_bad_only_statuses_is_422_and_sends_nothing(client, api_key, session, only, detail):
    created = client.post("/api/v1/alerts", json=alert_body(), headers=bearer(api_key))
    assert created.status_code == 201
    response = client.post(
        f"/api/v1/alerts/{created.json['id']}/follow-up",
        json={"title": "Again", "message": "Again", "only_statuses": only},
        headers=bearer(api_key),
    )
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert response.json["error"] == "invalid only_statuses"
    assert detail in response.json["detail"]
    assert session.scalar(select(func.count()).select_from(Alert)) == 1


@pytest.mark.parametrize("alert_id", [BIG_ID, 2**63, HUGE_ID, "9" * 5000])
@pytest.mark.parametrize(
    ("method", "suffix"), [("get", ""), ("post", "/cancel"), ("post", "/follow-up")]
)
def test_alert_ids_beyond_the_database_integer_are_json_404(
    client, api_key, alert_id, method, suffix
):
    response = getattr(client, method)(
        f"/api/v1/alerts/{alert_id}{suffix}", json={}, headers=bearer(api_key)
    )
    assert response.status_code == 404
    assert response.json["error"] == "not found"
    assert response.json["detail"]


@pytest.mark.parametrize(
    "path", [f"/alerts/{BIG_ID}", f"/areas/{BIG_ID}.geojson", f"/public/alerts/{BIG_ID}"]
)
def test_page_ids_beyond_the_database_integer_are_404(app, client, path):
    make_staff(app, "viewer@example.org", "viewer")
    sign_in(client, "viewer@example.org")
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/no-such-thing", 404),
        ("get", "/api/v2/alerts", 404),
        ("delete", "/api/v1/alerts", 405),
        ("put", "/api/v1/areas/preview", 405),
    ],
)
def test_api_routing_errors_answer_json(client, api_key, method, path, status):
    response = getattr(client, method)(path, headers=bearer(api_key))
    assert response.status_code == status
    assert response.is_json, response.get_data(as_text=True)[:200]
    assert set(response.json) == {"error", "detail"}
    assert response.json["detail"]


def test_an_api_body_over_the_limit_is_a_json_413(client, api_key):
    body = '{"area": ' + " " * (5 * 1024 * 1024) + "null}"
    response = client.post("/api/v1/areas/preview", data=body, headers=bearer(api_key))
    assert response.status_code == 413
    assert response.json == {
        "error": "request too large",
        "detail": "the body may be at most 4 MB",
    }


@pytest.mark.parametrize(
    ("view_error", "status", "error"),
    [(lambda: request.args["missing"], 400, "bad request"), (lambda: 1 / 0, 500, "internal error")],
    ids=["missing argument", "crash"],
)
def test_errors_raised_under_the_api_answer_json_without_internals(app, view_error, status, error):
    app.config["TESTING"] = False  # as in production: the error handler answers, nothing raises
    app.add_url_rule("/api/v1/_fails", "fails", view_error)
    response = app.test_client().get("/api/v1/_fails")
    assert response.status_code == status
    assert response.json["error"] == error
    assert response.json["detail"]
    assert "division" not in response.json["detail"]


# webhooks: signed by the provider, but the body is still bounded and must fit the columns


@pytest.fixture
def message(session):
    return sending_message(session)


def test_a_10_mb_signed_webhook_body_is_413_and_buffers_nothing(app, client, session, message):
    path = f"/webhooks/twilio/status/{message.id}"
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "Pad": "x" * 10_000_000}
    response = client.post(
        path, data=params, headers={"X-Twilio-Signature": sign(app, path, params)}
    )
    assert response.status_code == 413
    assert drain(app) == 0


def test_a_webhook_claiming_an_absurd_length_is_413_without_reading_it(app, client, message):
    path = f"/webhooks/twilio/status/{message.id}"
    response = client.post(path, data=b"", environ_overrides={"CONTENT_LENGTH": "9" * 5000})
    assert response.status_code == 413
    assert drain(app) == 0


# callbacks whose fields cannot fit the columns: tests/test_webhooks.py


def test_a_signed_inbound_sms_from_a_number_too_long_to_store_is_400(app, client, session):
    path = "/webhooks/twilio/inbound"
    params = {"MessageSid": "SM" + "c" * 32, "From": "+47" + "9" * 100, "Body": "STOP"}
    response = client.post(
        path, data=params, headers={"X-Twilio-Signature": sign(app, path, params)}
    )
    assert response.status_code == 400
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_a_signed_callback_for_an_id_beyond_the_integer_is_404(app, client, message):
    path = f"/webhooks/twilio/status/{BIG_ID}"
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered"}
    response = client.post(
        path, data=params, headers={"X-Twilio-Signature": sign(app, path, params)}
    )
    assert response.status_code == 404
    assert drain(app) == 0


def test_a_register_upload_keeps_its_own_larger_limit(app, client):
    make_staff(app, "ad@example.org", "admin")
    sign_in(client, "ad@example.org")
    token = csrf_token(client.get("/residents/import").get_data(as_text=True))
    header = "external_id,name,phone,language,address,lat,lon,label\n"
    rows = "".join(
        f"r{i},Kari {i},+479{i:07d},nb,Strandvegen {i} {'x' * 250},60.39,5.32,home\n"
        for i in range(19_000)
    )
    data = (header + rows).encode()
    assert len(data) > 5 * 1024 * 1024  # more than the API may take
    # encoded here: the test client spools a large multipart body to a file it never closes
    parts = [
        b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n' + token.encode(),
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="register.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + data,
        b"--b--\r\n",
    ]
    response = client.post(
        "/residents/import",
        data=b"\r\n".join(parts),
        content_type="multipart/form-data; boundary=b",
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        assert s.scalar(select(func.count()).select_from(Resident)) == 19_000


# the staff compose form: the same refusals, as a message on the page (never a 500)


def compose(client, **changes):
    token = csrf_token(client.get("/alerts/new").get_data(as_text=True))
    data = {
        "csrf_token": token,
        "area_geojson": json.dumps(AREA),
        "area_name": "Strandvegen",
        "category": "water",
        "severity": "minor",
        "title": "Test",
        "text_default": "Water off",
        "send_mode": "now",
        "confirmed": "1",
    }
    data.update(changes)
    return client.post("/alerts/new", data=data)


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        ({"area_geojson": "", "area_id": str(BIG_ID)}, "no saved area"),
        ({"area_geojson": "", "area_id": str(HUGE_ID)}, "no saved area"),
        ({"area_geojson": nested(5000)}, "nested too deep"),
        ({"area_geojson": "{not json"}, "invalid JSON"),
        ({"area_geojson": json.dumps(star(30_000))}, "too many vertices"),
        ({"send_mode": "later", "send_at": "tomorrow"}, "Write the time as"),
        ({"send_mode": "later", "send_at": "2020-12-01T10:00"}, "send_at is in the past"),
        ({"send_mode": "later", "send_at": "0001-01-01T00:00"}, "invalid send_at"),
        ({"expires": "0001-01-01T00:00"}, "invalid expires"),
        ({"expires": "soon"}, "Write the time as"),
        ({"onset": "2099-01-02T10:00", "expires": "2099-01-01T10:00"}, "must be after the start"),
        ({"response_type": "Panic"}, "unknown response_type"),
        ({"area_name": "x" * 201}, "invalid area_name"),
    ],
    ids=lambda v: str(v)[:30] if not isinstance(v, dict) else "",
)
def test_compose_refuses_bad_fields_with_a_message(app, client, changes, shown):
    make_staff(app, "co@example.org", "coordinator")
    sign_in(client, "co@example.org")
    response = compose(client, **changes)
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html[:300]
    assert shown in html
    for library_text in ("invalid literal", "Invalid isoformat", "Traceback"):
        assert library_text not in html


def test_a_circle_across_the_antimeridian_reaches_both_sides_and_not_bergen(
    client, api_key, session
):
    add_resident(session, "+4790000001", 5.32, 60.39)  # Bergen
    add_resident(session, "+4790000002", 179.96, 65.0)  # east of the line, inside
    add_resident(session, "+4790000003", -179.97, 65.0)  # west of the line, inside
    add_resident(session, "+4790000004", -179.0, 65.0)  # west, outside the 10 km
    session.commit()
    circle = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [179.95, 65.0]},
        "properties": {"radius_m": 10_000},
    }
    response = client.post("/api/v1/areas/preview", json={"area": circle}, headers=bearer(api_key))
    assert response.status_code == 200, response.json
    assert response.json["residents"] == 2
