"""Validity of alerts (onset, expires, CAP response type) in the API, the compose form and the
CLI; an all-clear ends its parent; times staff type and read are in TIMEZONE (Europe/Oslo)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from staff_helpers import csrf_token, make_staff, sign_in

from alerting.models import Alert, AuditEvent, utcnow
from alerting.validity import ended_at, public_status

AREA = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}


def iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds") + "Z"


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.removesuffix("Z"))


def post(client, api_key, path="/api/v1/alerts", **fields):
    body = {
        "area": AREA,
        "category": "water",
        "severity": "minor",
        "title": "Water off",
        "message": {"default": "Water off"},
    } | fields
    return client.post(path, json=body, headers={"Authorization": f"Bearer {api_key}"})


def shown(client, api_key, alert_id):
    headers = {"Authorization": f"Bearer {api_key}"}
    return client.get(f"/api/v1/alerts/{alert_id}", headers=headers).json


@pytest.mark.parametrize(
    ("fields", "error", "detail"),
    [
        (
            {"category": "evacuation", "severity": "extreme"},
            "missing expires",
            "give an end time (expires) for an evacuation alert",
        ),
        ({"category": "gas", "severity": "severe"}, "missing expires", "for a gas alert"),
        ({"expires": "2020-01-01T10:00:00Z"}, "invalid expires", "already past"),
        (
            {"onset": "2099-01-02T10:00:00Z", "expires": "2099-01-02T09:00:00Z"},
            "invalid expires",
            "must be after the start",
        ),
        ({"expires": "next week"}, "invalid expires", "ISO 8601"),
        ({"onset": ["2099-01-01"]}, "invalid onset", "ISO 8601"),
        ({"expires": "9999-12-31T23:59:59-14:00"}, "invalid expires", "years 1 to 9999"),
        ({"onset": "9999-12-31T23:00:00Z"}, "invalid onset", "too far in the future"),
        ({"response_type": "Panic"}, "unknown response_type", "AllClear"),
        ({"send_at": "2020-01-01T10:00:00Z"}, "send_at is in the past", "choose a later time"),
    ],
)
def test_bad_validity_is_422_with_a_reason(client, api_key, fields, error, detail):
    response = post(client, api_key, **fields)
    assert response.status_code == 422, response.json
    assert response.json["error"] == error
    assert detail in response.json["detail"]


@pytest.mark.parametrize(("category", "hours"), [("water", 48), ("info", 24), ("test", 1)])
def test_without_an_end_time_an_alert_is_in_force_for_its_categorys_default(
    client, api_key, category, hours
):
    before = utcnow().replace(microsecond=0)
    response = post(client, api_key, category=category)
    assert response.status_code == 201, response.json
    summary = shown(client, api_key, response.json["id"])
    onset, expires = when(summary["onset"]), when(summary["expires"])
    assert before <= onset <= utcnow()  # from when it is sent
    assert expires - onset == timedelta(hours=hours)
    assert summary["response_type"] is None


def test_an_evacuation_with_its_times_and_response_type_is_shown_with_them(client, api_key):
    response = post(
        client,
        api_key,
        category="evacuation",
        severity="extreme",
        onset="2099-03-01T08:00:00+01:00",
        expires="2099-03-01T20:00:00",  # no offset in the API: UTC
        response_type="Evacuate",
    )
    assert response.status_code == 201, response.json
    summary = shown(client, api_key, response.json["id"])
    assert summary["onset"] == "2099-03-01T07:00:00Z"
    assert summary["expires"] == "2099-03-01T20:00:00Z"
    assert summary["response_type"] == "Evacuate"
    assert summary["public_status"] is None  # not sent yet: not on /public


def test_a_scheduled_alert_is_in_force_from_when_it_is_sent(client, api_key):
    response = post(client, api_key, send_at="2099-01-01T10:00:00Z", category="test")
    summary = shown(client, api_key, response.json["id"])
    assert summary["send_at"] == summary["onset"] == "2099-01-01T10:00:00Z"
    assert summary["expires"] == "2099-01-01T11:00:00Z"


def test_a_send_at_a_few_seconds_late_is_sent_now_not_refused(client, api_key):
    response = post(client, api_key, send_at=iso(utcnow() - timedelta(seconds=20)))
    assert response.status_code == 201, response.json
    assert shown(client, api_key, response.json["id"])["send_at"] is None


def _sent(session, alert_id: int) -> None:
    """As the workers leave it once every SMS is delivered."""
    alert = session.get(Alert, alert_id)
    alert.status, alert.started_at, alert.completed_at = "completed", utcnow(), utcnow()
    session.commit()


def test_an_all_clear_follow_up_supersedes_its_parent_at_once(client, api_key, session):
    expires = utcnow().replace(microsecond=0) + timedelta(hours=6)
    parent = post(
        client, api_key, category="evacuation", severity="extreme", expires=iso(expires)
    ).json["id"]
    _sent(session, parent)
    assert shown(client, api_key, parent)["public_status"] == "in_force"
    update = post(
        client,
        api_key,
        f"/api/v1/alerts/{parent}/follow-up",
        message={"default": "Use the east exit"},
    )
    assert update.status_code == 201, update.json  # no end time needed: the parent's
    assert shown(client, api_key, update.json["id"])["expires"] == iso(expires)
    assert shown(client, api_key, parent)["superseded_by"] is None

    all_clear = post(
        client,
        api_key,
        f"/api/v1/alerts/{parent}/follow-up",
        message={"default": "All clear"},
        response_type="AllClear",
    )
    assert all_clear.status_code == 201, all_clear.json
    summary = shown(client, api_key, parent)
    assert summary["superseded_by"] == all_clear.json["id"]
    assert summary["public_status"] == "superseded"
    assert when(summary["expires"]) == expires  # the end time staff gave is kept
    child = shown(client, api_key, all_clear.json["id"])
    assert when(child["expires"]) - when(child["onset"]) == timedelta(hours=24)
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-1] == "alert.superseded"


def _all_clear(client, api_key, parent: int, **fields):
    reply = post(
        client,
        api_key,
        f"/api/v1/alerts/{parent}/follow-up",
        message={"default": "All clear"},
        response_type="AllClear",
        **fields,
    )
    assert reply.status_code == 201, reply.json
    return reply.json["id"]


def test_cancelling_an_all_clear_puts_its_parent_back_in_force(client, api_key, session):
    """Staff who cancel the all-clear have not said the danger is over: /public must not say so,
    and the evacuation is in force until the end time they gave it."""
    expires = utcnow().replace(microsecond=0) + timedelta(hours=6)
    parent = post(
        client, api_key, category="evacuation", severity="extreme", expires=iso(expires)
    ).json["id"]
    _sent(session, parent)
    all_clear = _all_clear(client, api_key, parent)
    assert shown(client, api_key, parent)["public_status"] == "superseded"

    headers = {"Authorization": f"Bearer {api_key}"}
    assert client.post(f"/api/v1/alerts/{all_clear}/cancel", headers=headers).status_code == 200
    summary = shown(client, api_key, parent)
    assert summary["public_status"] == "in_force"
    assert summary["superseded_by"] is None
    assert when(summary["expires"]) == expires
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["alert.cancel", "alert.supersession_withdrawn"]
    again = _all_clear(client, api_key, parent)  # and a later all-clear ends it as usual
    assert shown(client, api_key, parent)["superseded_by"] == again


def test_an_all_clear_from_a_later_time_leaves_its_parent_in_force_until_then(
    client, api_key, session
):
    expires = utcnow().replace(microsecond=0) + timedelta(hours=6)
    parent = post(client, api_key, category="flood", severity="severe", expires=iso(expires)).json[
        "id"
    ]
    _sent(session, parent)
    onset = utcnow().replace(microsecond=0) + timedelta(hours=2)
    all_clear = _all_clear(client, api_key, parent, onset=iso(onset))
    summary = shown(client, api_key, parent)
    assert summary["superseded_by"] == all_clear
    assert summary["public_status"] == "in_force"  # until the all-clear's own start
    assert when(summary["expires"]) == expires
    alert = session.get(Alert, parent, populate_existing=True)
    assert public_status(alert, onset - timedelta(seconds=1)) == "in_force"
    assert public_status(alert, onset) == "superseded"
    assert ended_at(alert) == onset


def test_a_resend_is_in_force_exactly_as_long_as_its_parent(client, api_key, session):
    parent = post(client, api_key, category="info").json["id"]
    _sent(session, parent)
    resend = post(
        client,
        api_key,
        f"/api/v1/alerts/{parent}/follow-up",
        only_statuses=["failed"],
    )
    assert resend.status_code == 201, resend.json
    first, again = shown(client, api_key, parent), shown(client, api_key, resend.json["id"])
    assert (again["onset"], again["expires"]) == (first["onset"], first["expires"])
    session.get(Alert, parent).expires = utcnow() - timedelta(minutes=1)
    session.commit()
    late = post(client, api_key, f"/api/v1/alerts/{parent}/follow-up", only_statuses=["failed"])
    assert late.status_code == 422 and late.json["error"] == "the alert has ended"


def test_cli_send_at_without_an_offset_is_in_timezone(session, cli, tmp_path):
    area = tmp_path / "area.geojson"
    area.write_text(json.dumps(AREA))
    base = ("alerts", "send", "--area", area, "--category", "evacuation", "--severity", "extreme")
    result = cli(
        *base,
        "--message",
        "Leave",
        "--send-at",
        "2027-01-01T10:00:00",  # Oslo is UTC+1 in winter
        "--expires",
        "2027-07-01T10:00",  # and UTC+2 in summer
        "--json",
    )
    assert result.exit_code == 0, result.output
    alert = session.get(Alert, json.loads(result.output)["id"])
    assert alert.send_at == datetime(2027, 1, 1, 9, 0)
    assert alert.onset == datetime(2027, 1, 1, 9, 0)
    assert alert.expires == datetime(2027, 7, 1, 8, 0)
    with_offset = cli(
        *base, "--message", "x", "--send-at", "2027-01-01T10:00:00Z", "--expires", "2027-02-01"
    )
    assert with_offset.exit_code == 0, with_offset.output
    assert session.scalars(select(Alert.send_at).order_by(Alert.id)).all()[-1] == datetime(
        2027, 1, 1, 10, 0
    )
    human = cli("alerts", "show", alert.id)
    assert human.exit_code == 0, repr(human.exception)
    human = human.output
    assert "in force: Jan 1, 2027, 10:00 – Jul 1, 2027, 10:00 (Europe/Oslo)" in human
    missing = cli(*base, "--message", "x")
    assert missing.exit_code != 0 and "give an end time (expires)" in missing.output
    past = cli(*base, "--message", "x", "--expires", "2099-01-01", "--send-at", "2020-01-01")
    assert past.exit_code != 0 and "send_at is in the past" in past.output
    helptext = cli("alerts", "send", "--help").output
    assert "without an offset" in helptext and "TIMEZONE" in helptext


def _compose(client, **fields):
    data = {
        "csrf_token": csrf_token(client.get("/alerts/new").get_data(as_text=True)),
        "area_geojson": json.dumps(AREA),
        "category": "evacuation",
        "severity": "extreme",
        "title": "Leave",
        "text_default": "Leave now",
        "send_mode": "now",
        "confirmed": "1",
    } | fields
    return client.post("/alerts/new", data=data)


@pytest.fixture
def coordinator(app, client):
    make_staff(app, "co@example.org", "coordinator")
    sign_in(client, "co@example.org")
    return client


def test_compose_takes_start_end_and_send_at_as_timezone_and_shows_them_so(coordinator, session):
    response = _compose(
        coordinator,
        onset="2099-06-01T08:00",
        expires="2099-06-01T20:00",
        send_mode="later",
        send_at="2099-06-01T07:30",
        response_type="Evacuate",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    alert = session.scalar(select(Alert))
    assert (alert.send_at, alert.onset, alert.expires) == (
        datetime(2099, 6, 1, 5, 30),
        datetime(2099, 6, 1, 6, 0),
        datetime(2099, 6, 1, 18, 0),
    )
    assert alert.response_type == "Evacuate"
    page = coordinator.get(response.headers["Location"]).get_data(as_text=True)
    assert "Jun 1, 2099, 07:30 (Europe/Oslo)" in page  # scheduled for
    assert "In force from Jun 1, 2099, 08:00 until Jun 1, 2099, 20:00 (Europe/Oslo)" in page
    listing = coordinator.get("/alerts").get_data(as_text=True)
    assert "Jun 1, 2099, 08:00 – Jun 1, 2099, 20:00" in listing and "Europe/Oslo" in listing
    form = coordinator.get("/alerts/new").get_data(as_text=True)
    assert 'name="onset" id="start-time"' in form and 'name="expires" id="end-time"' in form
    assert "Start (Europe/Oslo)" in form and "tz_offset" not in form


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "give an end time (expires) for an evacuation alert"),
        ({"expires": "2020-01-01T10:00"}, "already past"),
        (
            {"expires": "2099-01-01T10:00", "send_mode": "later", "send_at": "2020-01-01T10:00"},
            "send_at is in the past",
        ),
    ],
)
def test_compose_refuses_missing_or_past_times_with_a_form_error(coordinator, fields, message):
    response = _compose(coordinator, **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_the_audit_log_is_in_timezone(app, client, session):
    make_staff(app, "admin@example.org", "admin")
    sign_in(client, "admin@example.org")
    session.add(AuditEvent(actor="x", action="test.event", target="t", at=datetime(2026, 7, 1, 6)))
    session.commit()
    page = client.get("/audit?action=test.event").get_data(as_text=True)
    assert "Jul 1, 2026, 08:00" in page and "When (Europe/Oslo)" in page
