"""Triggers: a signed call from a sensor starts an alert to a saved area; unsigned, forged,
stale and replayed calls are refused; a call while the alert is in force makes no second one."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from stack import add_resident, configure, stack_fixture, wait_for  # noqa: F401
from staff_helpers import csrf_token, db_session, make_staff, sign_in

from alerting.models import Alert, Area, AuditEvent, Trigger
from alerting.triggers import signature

AREA = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}


def saved_area(session) -> int:
    area = Area(name="Nordnes", geojson=json.dumps(AREA))
    session.add(area)
    session.commit()
    return area.id


def make(cli, area_id: int, *args: str) -> str:
    result = cli("triggers", "create", "--area-id", area_id, *args)
    assert result.exit_code == 0, result.output
    return result.output.split("secret (shown once): ")[1].strip()


def signed(secret: str, payload: dict, stamp: int | None = None) -> tuple[bytes, dict]:
    body = json.dumps(payload).encode()
    ts = str(stamp or int(time.time()))
    return body, {
        "Content-Type": "application/json",
        "X-Alerting-Timestamp": ts,
        "X-Alerting-Signature": signature(secret, ts, body),
    }


def fire(client, name: str, body: bytes, headers: dict):
    return client.post(f"/api/v1/triggers/{name}/fire", data=body, headers=headers)


def test_a_signed_call_over_http_sends_a_boil_water_notice_to_the_saved_area(
    app, session, cli, stack
):
    configure(app, sms_rate_per_second=100.0, sweep_interval_s=0.3)
    add_resident(session, "+4790000001", 5.32, 60.39, language="nb")
    add_resident(session, "+4790000002", 5.32, 60.39, language="en")
    add_resident(session, "+4790000003", 5.50, 60.50)  # outside
    session.commit()
    area_id = saved_area(session)
    secret = make(
        cli, area_id, "--name", "pressure-nordnes", "--template", "boil_water", "--auto-send"
    )
    s = stack(workers=1)
    body, headers = signed(secret, {"values": {"start": "2026-12-03T14:00:00+01:00"}})
    request = urllib.request.Request(
        f"{s.url}/api/v1/triggers/pressure-nordnes/fire", data=body, headers=headers
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
        assert response.status == 201
    assert answer["deduplicated"] is False
    wait_for(lambda: len(s.sim.messages()) == 2, timeout=20, message="two SMS")
    bodies = {m["to"]: m["body"] for m in s.sim.messages()}
    assert "Nordnes" in bodies["+4790000001"] and "3. des. 14:00" in bodies["+4790000001"]
    assert bodies["+4790000002"].startswith("Boil your tap water")
    assert "3 Dec 14:00" in bodies["+4790000002"]
    try:  # the very same request again: a replay
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("a replayed request was taken")
    except urllib.error.HTTPError as exc:
        assert exc.code == 409 and json.loads(exc.read())["error"] == "replayed"


def test_unsigned_forged_and_stale_calls_are_refused_and_nothing_is_made(client, session, cli):
    secret = make(cli, saved_area(session), "--name", "t1", "--template", "water_shutoff")
    body, headers = signed(secret, {"values": {}})
    assert (
        fire(client, "t1", body, {"Content-Type": "application/json"}).json["error"] == "unsigned"
    )
    forged = dict(
        headers,
        **{
            "X-Alerting-Signature": signature(
                "not-the-secret", headers["X-Alerting-Timestamp"], body
            )
        },
    )
    response = fire(client, "t1", body, forged)
    assert response.status_code == 401 and response.json["error"] == "bad signature"
    tampered = fire(client, "t1", body.replace(b"{}", b'{"area": "x"}'), headers)
    assert tampered.json["error"] == "bad signature"
    old_body, old = signed(secret, {"values": {}}, stamp=int(time.time()) - 301)
    assert fire(client, "t1", old_body, old).json["error"] == "stale timestamp"
    assert fire(client, "nope", body, headers).status_code == 404
    assert session.scalars(select(Alert)).all() == []


def test_a_second_call_while_the_alert_is_in_force_returns_it_and_after_a_cancel_makes_a_new_one(
    client, session, cli, api_key
):
    secret = make(cli, saved_area(session), "--name", "t2", "--template", "water_shutoff")
    first = fire(client, "t2", *signed(secret, {"values": {"start": "kl. 10"}}))
    assert first.status_code == 201 and first.json["status"] == "draft"  # not --auto-send
    alert = session.get(Alert, first.json["id"])
    assert alert.texts["default"].startswith("Vannet blir stengt i Nordnes fra kl. 10")
    time.sleep(1.1)  # a new timestamp: a new request, not a replay
    second = fire(client, "t2", *signed(secret, {"values": {"start": "kl. 11"}}))
    assert second.status_code == 200 and second.json == {
        "id": alert.id,
        "status": "draft",
        "deduplicated": True,
    }
    cancel = client.post(
        f"/api/v1/alerts/{alert.id}/cancel", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert cancel.status_code == 200
    time.sleep(1.1)
    third = fire(client, "t2", *signed(secret, {"values": {}}))
    assert third.status_code == 201 and third.json["id"] != alert.id
    fired = session.scalars(select(AuditEvent).where(AuditEvent.action == "trigger.fire")).all()
    assert [e.detail["outcome"] for e in fired] == ["created", "deduplicated", "created"]
    assert fired[0].detail["payload"] == {"values": {"start": "kl. 10"}}


def test_life_safety_waits_for_a_person_unless_the_admin_says_otherwise(client, session, cli):
    area_id = saved_area(session)
    refused = cli(
        "triggers",
        "create",
        "--area-id",
        area_id,
        "--name",
        "e1",
        "--template",
        "evacuation",
        "--auto-send",
    )
    assert refused.exit_code != 0 and "waits for a person" in refused.output
    secret = make(cli, area_id, "--name", "e2", "--template", "evacuation")
    missing = fire(client, "e2", *signed(secret, {}))
    assert missing.status_code == 422 and missing.json["error"] == "missing expires"
    time.sleep(1.1)
    until = {"values": {"until": "2030-01-01T12:00:00+01:00"}}
    made = fire(client, "e2", *signed(secret, until))
    assert made.status_code == 201 and made.json["status"] == "draft"
    make(
        cli,
        area_id,
        "--name",
        "e3",
        "--template",
        "evacuation",
        "--auto-send",
        "--life-safety-auto-send",
    )
    assert session.scalar(select(Trigger.auto_send).where(Trigger.name == "e3")) is True


def test_bad_values_get_a_clear_error(client, session, cli):
    area_id = saved_area(session)
    secret = make(
        cli,
        area_id,
        "--name",
        "v1",
        "--category",
        "water",
        "--severity",
        "minor",
        "--title",
        "Trykkfall",
        "--text",
        "default=Lavt trykk i {street}.",
    )
    missing = fire(client, "v1", *signed(secret, {"values": {}}))
    assert missing.status_code == 422 and "'street'" in missing.json["detail"]
    wrong = fire(client, "v1", *signed(secret, {"values": {"street": 5}}))
    assert wrong.status_code == 422 and wrong.json["error"] == "invalid values"
    body = b"{not json"
    ts = str(int(time.time()))
    bad = fire(
        client,
        "v1",
        body,
        {"X-Alerting-Timestamp": ts, "X-Alerting-Signature": signature(secret, ts, body)},
    )
    assert bad.status_code == 400 and bad.json["error"] == "invalid JSON"
    ok = fire(client, "v1", *signed(secret, {"values": {"street": "Strandgaten"}}))
    assert ok.status_code == 201
    assert session.get(Alert, ok.json["id"]).texts == {"default": "Lavt trykk i Strandgaten."}


def test_an_admin_sets_up_a_trigger_on_its_page_and_sees_its_calls(app, client):
    """The secret is shown once with the call to make; a signed call is listed with its
    outcome; switched off, the trigger refuses calls."""
    with db_session(app) as s:
        area_id = saved_area(s)
    make_staff(app, "admin@example.org", "admin")
    sign_in(client, "admin@example.org")
    page = client.get("/triggers")
    assert page.status_code == 200 and "Nordnes" in page.text
    form = {
        "csrf_token": csrf_token(page.text),
        "name": "level-nordnes",
        "area_id": str(area_id),
        "category": "flood",
        "severity": "severe",
        "title": "Flood warning",
        "text": "The sea is at {level} cm",
        "auto_send": "y",
        "dedup_minutes": "60",
    }
    refused = client.post("/triggers", data=form)
    assert refused.status_code == 422  # life-safety sending at once needs the second box
    assert "needs this box ticked too" in refused.text
    bad_name = client.post("/triggers", data=form | {"name": "Level Nordnes!"})
    assert bad_name.status_code == 400 and "lower-case letters" in bad_name.text
    with db_session(app) as s:
        assert s.scalar(select(Trigger)) is None

    del form["auto_send"]
    created = client.post("/triggers", data=form)
    assert created.status_code == 201
    secret = re.search(r'<code id="new-secret">([^<]+)</code>', created.text).group(1)
    assert "/api/v1/triggers/level-nordnes/fire" in created.text
    assert secret not in client.get("/triggers").text  # shown only once

    sensor = app.test_client()  # a sensor has no staff session (whose cookie would ask for CSRF)
    until = (datetime.now(UTC) + timedelta(hours=6)).isoformat(timespec="seconds")
    body, headers = signed(secret, {"values": {"level": "212", "expires": until}})
    fired = fire(sensor, "level-nordnes", body, headers)
    assert fired.status_code == 201, fired.json
    listed = client.get("/triggers").text
    calls = listed[listed.index('id="firings"') :]
    assert "level-nordnes" in calls and "alert made" in calls
    with db_session(app) as s:
        draft = s.scalars(select(Alert)).one()
        assert draft.status == "draft" and draft.texts["default"] == "The sea is at 212 cm"
        trigger_id = s.scalar(select(Trigger.id))

    off = client.post(f"/triggers/{trigger_id}/active", data={"csrf_token": csrf_token(listed)})
    assert off.status_code == 302
    body, headers = signed(secret, {"values": {"level": "230", "expires": until}})
    assert fire(sensor, "level-nordnes", body, headers).status_code == 404
    with db_session(app) as s:
        actions = s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert "trigger.disable" in actions


def test_only_admins_see_the_triggers_page(app, client):
    make_staff(app, "coord@example.org", "coordinator")
    sign_in(client, "coord@example.org")
    assert client.get("/triggers").status_code == 403
    assert "/triggers" not in client.get("/alerts").text  # nor a link to it
