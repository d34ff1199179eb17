"""Two-person approval: which alerts wait for a second coordinator, and approve, reject, withdraw
through the API and the staff pages (alerting.approval)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import delete, select, update
from stack import add_resident, configure, stack_fixture, wait_for  # noqa: F401
from staff_helpers import csrf_token, make_staff, sign_in

from alerting.auth import create_api_key
from alerting.models import Alert, AppSetting, AuditEvent, Message, StaffUser, utcnow
from alerting.sending.queues import URGENT, redis_for
from alerting.sending.sweep import sweep

AREA = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}
INSIDE = (5.32, 60.39)


def default_policy(app) -> None:
    """Forget the tests' "nothing needs approval" (conftest): the product's default applies."""
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        s.execute(delete(AppSetting))
        s.commit()
        s.close()


@pytest.fixture
def rows(app):
    """A database session outside any app context: each request of a test client then has its
    own context, so one test can act as several callers (the conftest `session` keeps one)."""
    s = app.extensions["alerting.sessionmaker"]()
    yield s
    s.close()


def urgent_jobs(app) -> list[str]:
    conn = redis_for(app.extensions["alerting.settings"].redis_url)
    return Queue(URGENT, connection=conn).job_ids


def key(app, name: str, role: str = "coordinator") -> dict[str, str]:
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        _row, secret = create_api_key(s, name, role)
        s.commit()
        s.close()
    return {"Authorization": f"Bearer {secret}"}


def send(client, headers, **fields):
    body = {
        "area": AREA,
        "category": "evacuation",
        "severity": "extreme",
        "title": "Evacuate Strandvegen",
        "message": {"default": "Leave now", "nb": "Forlat området nå"},
        "expires": "2030-01-01T00:00:00Z",  # a life-safety alert needs an end time
    }
    body.update(fields)
    return client.post("/api/v1/alerts", json=body, headers=headers)


def act(client, headers, alert_id: int, action: str, **body):
    return client.post(f"/api/v1/alerts/{alert_id}/{action}", json=body, headers=headers)


def audit_actions(rows, alert_id: int) -> list[str]:
    rows = rows.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.target == f"alert:{alert_id}")
        .order_by(AuditEvent.id)
    )
    return list(rows)


def test_by_default_life_safety_and_extreme_alerts_wait_and_nothing_is_planned(app, rows, client):
    default_policy(app)
    a = key(app, "coordinator-a")
    evacuation = send(client, a)
    assert evacuation.status_code == 201, evacuation.json
    assert evacuation.json["status"] == "pending_approval"
    water_extreme = send(client, a, category="water", title="Main burst")
    assert water_extreme.json["status"] == "pending_approval"
    water = send(client, a, category="water", severity="moderate", title="Water off")
    assert water.json["status"] == "scheduled"

    assert urgent_jobs(app) == []  # no plan for the waiting alerts
    sweep(app)  # nor does the sweep plan them
    assert urgent_jobs(app) == []
    assert rows.scalar(select(Message.id).where(Message.alert_id == evacuation.json["id"])) is None
    assert audit_actions(rows, evacuation.json["id"]) == [
        "alert.create",
        "alert.approval_requested",
    ]


def test_the_author_cannot_approve_a_second_coordinator_can_and_it_sends(app, rows, client, stack):
    default_policy(app)
    configure(app, sms_rate_per_second=100.0, sweep_interval_s=0.3)
    add_resident(rows, "+4791000001", *INSIDE, language="nb")
    add_resident(rows, "+4791000002", *INSIDE, language="en")
    approver = StaffUser(
        email="b@example.org", password_hash="x", role="coordinator", phone="+4799000002"
    )
    approver.on_duty = True
    norwegian = StaffUser(
        email="n@example.org", password_hash="x", role="admin", phone="+4799000004", language="nb"
    )
    norwegian.on_duty = True
    off_duty = StaffUser(email="c@example.org", password_hash="x", role="coordinator")
    off_duty.phone, off_duty.on_duty = "+4799000003", False
    rows.add_all([approver, norwegian, off_duty])
    rows.commit()
    s = stack(workers=1)
    a, b = key(app, "coordinator-a"), key(app, "coordinator-b")

    alert_id = send(client, a).json["id"]
    wait_for(lambda: s.sim.messages(to="+4799000002"), timeout=15, message="approval SMS")
    [request] = s.sim.messages(to="+4799000002")
    assert request["body"] == f"Alert #{alert_id} waits for approval: Evacuate Strandvegen"
    wait_for(lambda: s.sim.messages(to="+4799000004"), timeout=15, message="approval SMS (nb)")
    [in_norwegian] = s.sim.messages(to="+4799000004")  # in the approver's own language
    assert (
        in_norwegian["body"] == f"Varsel nr. {alert_id} venter på godkjenning: Evacuate Strandvegen"
    )
    assert s.sim.messages(to="+4799000003") == []  # not on duty

    refused = act(client, a, alert_id, "approve")
    assert refused.status_code == 403
    assert "second person" in refused.json["detail"]
    time.sleep(1.0)  # long enough for a worker to have sent it, had it been planned
    assert s.sim.messages(to="+4791000001") == []

    approved = act(client, b, alert_id, "approve")
    assert approved.status_code == 200, approved.json
    assert approved.json["reviewed_by"] == "apikey:coordinator-b"
    wait_for(
        lambda: len(s.sim.messages(to="+4791000001")) + len(s.sim.messages(to="+4791000002")) == 2,
        timeout=20,
        message="both residents got the evacuation",
    )
    assert s.sim.messages(to="+4791000001")[0]["body"] == "Forlat området nå"
    again = act(client, b, alert_id, "approve")
    assert again.status_code == 409
    assert audit_actions(rows, alert_id)[:3] == [
        "alert.create",
        "alert.approval_requested",
        "alert.approve",
    ]


def test_a_rejected_alert_never_sends_and_needs_a_comment(app, rows, client, stack):
    default_policy(app)
    configure(app, sweep_interval_s=0.3)
    add_resident(rows, "+4791000001", *INSIDE)
    rows.commit()
    s = stack(workers=1)
    a, b = key(app, "coordinator-a"), key(app, "coordinator-b")
    alert_id = send(client, a).json["id"]

    no_reason = act(client, b, alert_id, "reject", comment="  ")
    assert no_reason.status_code == 422
    assert act(client, a, alert_id, "reject", comment="mine").status_code == 403
    rejected = act(client, b, alert_id, "reject", comment="Wrong area: Strandvegen is dry")
    assert rejected.status_code == 200
    assert rejected.json["status"] == "rejected"
    assert rejected.json["review_comment"] == "Wrong area: Strandvegen is dry"
    assert act(client, b, alert_id, "approve").status_code == 409
    assert act(client, a, alert_id, "withdraw").status_code == 409

    time.sleep(2.0)  # several sweeps of the worker (every 0.3 s)
    sweep(app)
    assert s.sim.messages() == []
    assert rows.scalar(select(Message.id).where(Message.alert_id == alert_id)) is None
    reject_event = rows.scalar(select(AuditEvent).where(AuditEvent.action == "alert.reject"))
    assert reject_event.detail["comment"] == "Wrong area: Strandvegen is dry"


def test_only_the_author_withdraws_and_a_withdrawn_alert_never_sends(app, rows, client):
    default_policy(app)
    a, b = key(app, "coordinator-a"), key(app, "coordinator-b")
    alert_id = send(client, a).json["id"]
    assert act(client, b, alert_id, "withdraw").status_code == 403
    cancelled = act(client, b, alert_id, "cancel")
    assert cancelled.status_code == 409  # not a way around the author or a rejection
    assert "withdraws" in cancelled.json["detail"]
    withdrawn = act(client, a, alert_id, "withdraw")
    assert withdrawn.status_code == 200
    assert withdrawn.json["status"] == "cancelled"
    assert act(client, b, alert_id, "approve").status_code == 409
    sweep(app)
    assert urgent_jobs(app) == []
    assert "alert.withdraw" in audit_actions(rows, alert_id)


def test_operators_and_viewers_cannot_approve(app, client):
    default_policy(app)
    alert_id = send(client, key(app, "coordinator-a")).json["id"]
    for role in ("operator", "viewer"):
        headers = key(app, f"{role}-key", role)
        response = act(client, headers, alert_id, "approve")
        assert response.status_code == 403, role
        assert response.json["error"] == "forbidden"
        assert act(client, headers, alert_id, "reject", comment="no").status_code == 403
    assert client.get(f"/api/v1/alerts/{alert_id}", headers=key(app, "look", "viewer")).json[
        "status"
    ] == ("pending_approval")


def test_self_approval_only_for_exercises_and_only_when_the_admin_allows_it(app, rows, client):
    default_policy(app)
    a = key(app, "coordinator-a")
    make_staff(app, "admin@example.org", "admin")
    exercise_id = send(client, a, exercise=True, title="Drill evacuation").json["id"]
    real_id = send(client, a).json["id"]
    not_allowed = act(client, a, exercise_id, "approve")
    assert not_allowed.status_code == 403
    assert "not allowed by the admin" in not_allowed.json["detail"]

    sign_in(client, "admin@example.org")
    page = client.get("/settings").get_data(as_text=True)
    response = client.post(
        "/settings/approval",
        data={
            "csrf_token": csrf_token(page),
            "categories": ["evacuation", "fire", "flood", "gas"],
            "severities": ["extreme"],
            "self_approve_exercises": "y",
        },
    )
    assert response.status_code == 302
    assert act(client, a, real_id, "approve").status_code == 403  # never for a real alert
    allowed = act(client, a, exercise_id, "approve")
    assert allowed.status_code == 200, allowed.json
    assert allowed.json["status"] in ("scheduled", "sending", "completed")
    event = rows.scalar(select(AuditEvent).where(AuditEvent.action == "alert.approve"))
    assert event.detail["self_approved"] is True


def test_the_admin_setting_decides_which_alerts_need_approval(app, rows, client):
    default_policy(app)
    make_staff(app, "admin@example.org", "admin")
    make_staff(app, "coord@example.org", "coordinator")
    admin = app.test_client()
    sign_in(admin, "admin@example.org")
    token = csrf_token(admin.get("/settings").get_data(as_text=True))
    assert admin.post("/settings/approval", data={"categories": ["water"]}).status_code == 400

    coordinator = app.test_client()
    sign_in(coordinator, "coord@example.org")
    coordinator_token = csrf_token(coordinator.get("/alerts").get_data(as_text=True))
    refused = coordinator.post(
        "/settings/approval", data={"csrf_token": coordinator_token, "categories": ["water"]}
    )
    assert refused.status_code == 403

    saved = admin.post("/settings/approval", data={"csrf_token": token, "categories": ["water"]})
    assert saved.status_code == 302
    page = admin.get("/settings").get_data(as_text=True)
    assert 'value="water" checked' in page
    assert 'value="evacuation" checked' not in page

    a = key(app, "coordinator-a")
    assert send(client, a).json["status"] == "scheduled"  # evacuation no longer waits
    water = send(client, a, category="water", severity="minor", title="Water off")
    assert water.json["status"] == "pending_approval"
    event = rows.scalar(select(AuditEvent).where(AuditEvent.action == "settings.approval"))
    assert event.actor == "admin@example.org"
    assert event.detail["new"]["categories"] == ["water"]
    assert "evacuation" in event.detail["old"]["categories"]


def test_an_approval_after_send_at_sends_at_once_and_the_audit_says_so(app, rows, client):
    default_policy(app)
    a, b = key(app, "coordinator-a"), key(app, "coordinator-b")
    later = (utcnow() + timedelta(hours=1)).isoformat() + "Z"
    alert_id = send(client, a, send_at=later).json["id"]
    rows.execute(
        update(Alert).where(Alert.id == alert_id).values(send_at=utcnow() - timedelta(minutes=5))
    )
    rows.commit()
    assert act(client, b, alert_id, "approve").status_code == 200
    assert f"plan-{alert_id}" in urgent_jobs(app)
    event = rows.scalar(select(AuditEvent).where(AuditEvent.action == "alert.approve"))
    assert event.detail["sends"] == "now: its send_at had passed"


def test_an_approval_before_send_at_waits_for_it(app, client):
    default_policy(app)
    a, b = key(app, "coordinator-a"), key(app, "coordinator-b")
    later = (utcnow() + timedelta(hours=1)).isoformat() + "Z"
    alert_id = send(client, a, send_at=later).json["id"]
    assert act(client, b, alert_id, "approve").json["status"] == "scheduled"
    assert urgent_jobs(app) == []  # the sweep plans it when it is due


def test_staff_pages_show_the_request_to_the_second_coordinator_with_buttons(app, rows):
    default_policy(app)
    make_staff(app, "a@example.org", "coordinator")
    make_staff(app, "b@example.org", "coordinator")
    author, approver = app.test_client(), app.test_client()
    sign_in(author, "a@example.org")
    sign_in(approver, "b@example.org")
    page = author.get("/alerts/new").get_data(as_text=True)
    sent = author.post(
        "/alerts/new",
        data={
            "csrf_token": csrf_token(page),
            "area_geojson": json.dumps(AREA),
            "category": "evacuation",
            "severity": "extreme",
            "title": "Evacuate Strandvegen",
            "text_default": "Leave now",
            "expires": "2030-01-01T00:00",
            "send_mode": "now",
            "confirmed": "1",
        },
    )
    assert sent.status_code == 302
    alert_id = rows.scalar(select(Alert.id))
    mine = author.get(f"/alerts/{alert_id}").get_data(as_text=True)
    assert 'id="withdraw-button"' in mine and 'id="approve-button"' not in mine
    assert "Waiting for your approval" not in author.get("/alerts").get_data(as_text=True)

    listing = approver.get("/alerts").get_data(as_text=True)
    assert "Waiting for your approval (1)" in listing
    make_staff(app, "nb@example.org", "coordinator", language="nb")
    norwegian = app.test_client()
    sign_in(norwegian, "nb@example.org")
    assert "Venter på din godkjenning (1)" in norwegian.get("/alerts").get_data(as_text=True)
    assert "Godkjenn" in norwegian.get(f"/alerts/{alert_id}").get_data(as_text=True)
    theirs = approver.get(f"/alerts/{alert_id}").get_data(as_text=True)
    assert 'id="approve-button"' in theirs and 'id="reject-button"' in theirs
    assert 'id="withdraw-button"' not in theirs

    own = author.post(f"/alerts/{alert_id}/approve", data={"csrf_token": csrf_token(mine)})
    assert own.status_code == 302
    assert rows.get(Alert, alert_id, populate_existing=True).status == "pending_approval"
    approved = approver.post(f"/alerts/{alert_id}/approve", data={"csrf_token": csrf_token(theirs)})
    assert approved.status_code == 302
    alert = rows.get(Alert, alert_id, populate_existing=True)
    assert alert.status == "scheduled" and alert.reviewed_by == "b@example.org"
    assert "Approved by b@example.org." in approver.get(f"/alerts/{alert_id}").get_data(
        as_text=True
    )


def test_admin_sets_a_staff_phone_and_on_duty_and_the_audit_masks_the_number(app, rows):
    make_staff(app, "admin@example.org", "admin")
    make_staff(app, "b@example.org", "coordinator")
    admin = app.test_client()
    sign_in(admin, "admin@example.org")
    user = rows.scalar(select(StaffUser).where(StaffUser.email == "b@example.org"))
    page = admin.get("/staff-users").get_data(as_text=True)
    prefix = f"u{user.id}-"
    data = {
        f"{prefix}csrf_token": csrf_token(page),
        "csrf_token": csrf_token(page),
        f"{prefix}role": "coordinator",
        f"{prefix}active": "y",
        f"{prefix}phone": "912 34 567",
        f"{prefix}on_duty": "y",
    }
    assert admin.post(f"/staff-users/{user.id}", data=data).status_code == 302
    rows.refresh(user)
    assert user.phone == "+4791234567" and user.on_duty is True
    assert 'value="+4791234567"' in admin.get("/staff-users").get_data(as_text=True)
    event = rows.scalar(select(AuditEvent).where(AuditEvent.action == "staff.update"))
    assert event.detail["phone"] == "+47•••••567"
    bad = dict(data, **{f"{prefix}phone": "not a phone"})
    admin.post(f"/staff-users/{user.id}", data=bad)
    assert "is not a phone number" in admin.get("/staff-users").get_data(as_text=True)
    rows.refresh(user)
    assert user.phone == "+4791234567"
