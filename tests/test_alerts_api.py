"""The alert service and its API: roles, validation, planning rules, cancel, follow-ups."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select
from stack import add_resident, configure

from alerting.alerts import AlertRefused, alert_summary, cancel_alert, create_alert, follow_up
from alerting.auth import Principal, create_api_key
from alerting.models import Alert, AuditEvent, Message, OptOut, utcnow
from alerting.sending import planning
from alerting.sending.queues import BULK, URGENT, queue
from alerting.sending.sweep import sweep

AREA = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}
IN = (5.32, 60.39)
COORDINATOR = Principal("coord@test", "coordinator")
OPERATOR = Principal("op@test", "operator")
VIEWER = Principal("viewer@test", "viewer")
TEXTS = {"default": "Something happens", "nb": "Noko skjer"}


def in_an_hour():  # the end time a life-safety alert needs
    return utcnow() + timedelta(hours=1)


def key_for(app, role):
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        _row, key = create_api_key(s, f"k-{role}", role)
        s.commit()
        s.close()
    return {"Authorization": f"Bearer {key}"}


def new_alert(session, who=COORDINATOR, **kw):
    fields = {
        "area": AREA,
        "category": "water",
        "severity": "moderate",
        "title": "T",
        "texts": TEXTS,
    }
    fields.update(kw)
    return create_alert(session, who, **fields)


def messages(session, alert_id):
    return {
        m.phone: m for m in session.scalars(select(Message).where(Message.alert_id == alert_id))
    }


def test_post_alert_without_credentials_is_401(client):
    assert client.post("/api/v1/alerts", json={}).status_code == 401


def test_operator_may_not_send_life_safety_alerts(app, client):
    headers = key_for(app, "operator")
    body = {
        "area": AREA,
        "category": "evacuation",
        "severity": "extreme",
        "title": "Go",
        "message": {"default": "Leave now"},
    }
    response = client.post("/api/v1/alerts", json=body, headers=headers)
    assert response.status_code == 403
    assert "coordinator" in response.json["detail"]
    body["category"] = "water"
    assert client.post("/api/v1/alerts", json=body, headers=headers).status_code == 201
    viewer = key_for(app, "viewer")
    assert client.post("/api/v1/alerts", json=body, headers=viewer).status_code == 403


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"category": "party"}, "unknown category"),
        ({"severity": "meh"}, "unknown severity"),
        ({"title": ""}, "missing title"),
        ({"message": {"nb": "bare bokmål"}}, "missing default message"),
        ({"message": {"default": "x", "xx": "y"}}, "unknown language"),
        ({"message": {"default": "x" * 1601}}, "message too long"),
        ({"area": None}, "missing area"),
        (
            {
                "area": {
                    "type": "Polygon",
                    "coordinates": [[[5, 60], [6, 61], [6, 60], [5, 61], [5, 60]]],
                }
            },
            "Self-intersection",
        ),
        ({"send_at": "tomorrow"}, "invalid send_at"),
    ],
)
def test_bad_alerts_are_422_with_a_reason(app, client, api_key, change, error):
    body = {
        "area": AREA,
        "category": "water",
        "severity": "minor",
        "title": "T",
        "message": {"default": "x"},
    }
    body.update(change)
    response = client.post(
        "/api/v1/alerts", json=body, headers={"Authorization": f"Bearer {api_key}"}
    )
    assert response.status_code == 422
    assert response.json["error"] == error or error in response.json["error"]


def test_create_queues_the_plan_by_urgency_and_audits(app, session):
    with app.test_request_context():
        water = new_alert(session)
        fire = new_alert(session, category="fire", severity="extreme", expires=in_an_hour())
    assert water.status == "scheduled"
    assert f"plan-{water.id}" in queue(BULK, _conn(app)).get_job_ids()
    assert f"plan-{fire.id}" in queue(URGENT, _conn(app)).get_job_ids()
    actions = session.scalars(select(AuditEvent.action)).all()
    assert actions.count("alert.create") == 2


def _conn(app):
    from alerting.sending.queues import redis_for

    return redis_for(app.extensions["alerting.settings"].redis_url)


def test_planning_honours_preferences_opt_outs_and_shared_phones(app, session):
    configure(app, timezone="UTC")
    now = datetime.now(UTC).time()
    start = (datetime.combine(datetime.now(UTC).date(), now) - timedelta(hours=1)).time()
    end = (datetime.combine(datetime.now(UTC).date(), now) + timedelta(hours=1)).time()
    add_resident(session, "+4790000001", *IN, declined_categories=["water"])
    add_resident(session, "+4790000002", *IN, paused=True)
    add_resident(session, "+4790000003", *IN, quiet_start=start, quiet_end=end)
    add_resident(session, "+4790000004", *IN, declined_categories=["water"])  # shared phone:
    add_resident(session, "+4790000004", *IN, language="en")  # one still wants it
    add_resident(session, "+4790000005", *IN)
    session.add(OptOut(phone="+4790000005", source="portal"))
    add_resident(session, "+4790000006", *IN, quiet_start=time(0, 0), quiet_end=time(0, 0))
    session.commit()
    with app.test_request_context():
        water = new_alert(session, texts={"default": "d", "en": "e"})
        planning.plan(water.id)
        fire = new_alert(session, category="fire", severity="extreme", expires=in_an_hour())
        planning.plan(fire.id)
        rows = messages(session, water.id)
        assert set(rows) == {"+4790000003", "+4790000004", "+4790000005", "+4790000006"}
        assert rows["+4790000004"].body == "e" and rows["+4790000004"].language == "en"
        assert rows["+4790000005"].status == "skipped"
        held = rows["+4790000003"].next_attempt_at
        assert held is not None and 0 < (held - utcnow()).total_seconds() <= 3600 + 60
        assert rows["+4790000006"].next_attempt_at is None
        # life safety: declined, paused and quiet hours do not apply; opt-out still does
        fire_rows = messages(session, fire.id)
        assert {p for p, m in fire_rows.items() if m.status == "pending"} == {
            "+4790000001",
            "+4790000002",
            "+4790000003",
            "+4790000004",
            "+4790000006",
        }
        assert all(m.next_attempt_at is None for m in fire_rows.values())
        summary = alert_summary(session, water.id)
        assert summary["status"] == "sending"
        assert summary["recipients"] == 3 and summary["skipped"] == 1
        assert summary["counts"]["pending"] == 3 and summary["counts"]["delivered"] == 0
        # planning twice changes nothing
        session.get(Alert, water.id).status = "scheduled"
        session.commit()
        planning.plan(water.id)
        assert len(messages(session, water.id)) == 4


def test_scheduled_alert_is_planned_by_the_sweep_when_due(app, session):
    add_resident(session, "+4790000001", *IN)
    session.commit()
    with app.test_request_context():
        later = datetime.now(UTC) + timedelta(minutes=5)
        alert = new_alert(session, send_at=later)
        assert alert.status == "scheduled" and alert.send_at is not None
        assert f"plan-{alert.id}" not in queue(BULK, _conn(app)).get_job_ids()
        sweep(app)
        assert f"plan-{alert.id}" not in queue(BULK, _conn(app)).get_job_ids()
        session.get(Alert, alert.id).send_at = utcnow() - timedelta(seconds=1)
        session.get(Alert, alert.id).created_at = utcnow() - timedelta(seconds=10)
        session.commit()
        assert sweep(app)["planned"] == 1
        assert f"plan-{alert.id}" in queue(BULK, _conn(app)).get_job_ids()


def test_cancel_stops_pending_messages(app, session, client, api_key):
    add_resident(session, "+4790000001", *IN)
    add_resident(session, "+4790000002", *IN)
    session.commit()
    with app.test_request_context():
        alert = new_alert(session)
        planning.plan(alert.id)
    response = client.post(
        f"/api/v1/alerts/{alert.id}/cancel", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert response.status_code == 200
    assert response.json["status"] == "cancelled"
    assert response.json["counts"]["cancelled"] == 2
    with app.test_request_context(), pytest.raises(AlertRefused) as refused:
        cancel_alert(session, COORDINATOR, alert.id)
    assert refused.value.status == 422


def test_follow_up_goes_to_exactly_the_parents_recipients(app, session):
    for i in range(1, 5):
        add_resident(session, f"+479000000{i}", *IN)
    add_resident(session, "+4790000009", 5.50, 60.50)  # outside
    session.commit()
    with app.test_request_context():
        parent = new_alert(session)
        planning.plan(parent.id)
        rows = messages(session, parent.id)
        rows["+4790000001"].status = "delivered"
        rows["+4790000002"].status = "undelivered"
        rows["+4790000003"].status = "failed"
        rows["+4790000004"].status = "delivered"
        session.add(OptOut(phone="+4790000004", source="sms"))
        add_resident(session, "+4790000005", *IN)  # moved in after: not a recipient
        session.commit()
        clear = follow_up(
            session, OPERATOR, parent.id, title="All clear", texts={"default": "Water is back"}
        )
        assert clear.parent_id == parent.id and clear.category == "water"
        assert (clear.status, clear.recipients, clear.skipped) == ("scheduled", 3, 1)
        planning.plan(clear.id)  # on the queue like every alert: the worker's job
        got = messages(session, clear.id)
        assert set(got) == {"+4790000001", "+4790000002", "+4790000003", "+4790000004"}
        assert got["+4790000004"].status == "skipped"
        retry = follow_up(
            session,
            OPERATOR,
            parent.id,
            title="Again",
            texts={"default": "x"},
            only_statuses=("undelivered", "failed"),
        )
        planning.plan(retry.id)
        assert set(messages(session, retry.id)) == {"+4790000002", "+4790000003"}
        with pytest.raises(AlertRefused) as refused:
            follow_up(
                session, OPERATOR, parent.id, title="x", texts={"default": "x"}, category="gas"
            )
        assert refused.value.status == 403


def test_cli_sends_and_shows_an_alert(app, session, cli, tmp_path):
    add_resident(session, "+4790000001", *IN, language="en")
    add_resident(session, "+4790000002", *IN)
    session.commit()
    area = tmp_path / "area.geojson"
    area.write_text(json.dumps(AREA))
    result = cli(
        "alerts",
        "send",
        "--area",
        area,
        "--category",
        "fire",
        "--severity",
        "extreme",
        "--message",
        "Evacuate",
        "--message-en",
        "Leave now",
        "--expires",
        "2099-01-01T10:00",
        "--json",
    )
    assert result.exit_code == 0, result.output
    sent = json.loads(result.output)
    assert sent["recipients"] == 2 and sent["status"] == "scheduled"
    assert session.scalars(select(AuditEvent.actor)).all() == ["cli"]
    with app.app_context():
        planning.plan(sent["id"])
    shown = cli("alerts", "show", sent["id"], "--json")
    assert shown.exit_code == 0, shown.output
    summary = json.loads(shown.output)
    assert summary["texts"] == {"default": "Evacuate", "en": "Leave now"}
    assert summary["counts"]["pending"] == 2
    human = cli("alerts", "show", sent["id"])
    assert "pending 2" in human.output
    refused = cli(
        "alerts", "send", "--area", area, "--category", "fire", "--severity", "x", "--message", "m"
    )
    assert refused.exit_code == 2 and "'x' is not one of 'extreme', 'severe'" in refused.output
