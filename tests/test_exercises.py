"""Exercises: only the test group (staff phones, volunteers inside the area) gets them, each SMS
prefixed in the recipient's language, and they are counted apart from real alerts."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select
from stack import add_resident, configure, stack_fixture, wait_for  # noqa: F401
from staff_helpers import csrf_token, make_staff, sign_in

from alerting.auth import create_api_key
from alerting.exercises import prefix
from alerting.models import Alert, Message, Resident, StaffUser

AREA = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}
INSIDE = (5.32, 60.39)
OUTSIDE = (5.40, 60.45)


@pytest.fixture
def rows(app):
    """A session outside any app context (each test request then gets its own)."""
    s = app.extensions["alerting.sessionmaker"]()
    yield s
    s.close()


def key(app, name: str = "coordinator", role: str = "coordinator") -> dict[str, str]:
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        _row, secret = create_api_key(s, name, role)
        s.commit()
        s.close()
    return {"Authorization": f"Bearer {secret}"}


def staff(rows, email: str, phone: str | None, language: str = "en", active: bool = True):
    user = StaffUser(email=email, password_hash="x", role="operator", language=language)
    user.phone, user.active = phone, active
    rows.add(user)


def test_the_prefix_is_in_the_recipients_language():
    assert prefix("nb") == "ØVELSE: "
    assert prefix("nn") == "ØVELSE: "
    assert prefix("da") == "ØVELSE: "
    assert prefix("sv") == "ÖVNING: "
    assert prefix("en") == "EXERCISE: "
    assert prefix("pl") == "EXERCISE: "
    assert prefix("") == "EXERCISE: "


def test_an_exercise_reaches_only_the_test_group_prefixed_in_each_language(
    app, rows, client, stack
):
    configure(app, sms_rate_per_second=100.0, sweep_interval_s=0.3)
    add_resident(rows, "+4791000001", *INSIDE, language="nb", exercise_volunteer=True)
    add_resident(rows, "+4791000002", *INSIDE, language="sv", exercise_volunteer=True)
    add_resident(rows, "+4791000003", *INSIDE, language="pl", exercise_volunteer=True)
    add_resident(rows, "+4791000004", *INSIDE, language="nb")  # not a volunteer
    add_resident(rows, "+4791000005", *OUTSIDE, language="nb", exercise_volunteer=True)
    staff(rows, "en@example.org", "+4799000001", "en")
    staff(rows, "da@example.org", "+4799000002", "da")
    staff(rows, "gone@example.org", "+4799000003", active=False)
    staff(rows, "nophone@example.org", None)
    rows.commit()
    s = stack(workers=1)
    headers = key(app)

    response = client.post(
        "/api/v1/alerts",
        json={
            "area": AREA,
            "category": "water",
            "severity": "moderate",
            "title": "Exercise: water off",
            "message": {"default": "Water off 10-14", "nb": "Vatnet er stengt 10-14"},
            "exercise": True,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.json
    assert response.json["recipients"] == 5  # 3 volunteers inside + 2 active staff phones
    alert_id = response.json["id"]
    wait_for(
        lambda: (
            client.get(f"/api/v1/alerts/{alert_id}", headers=headers).json["status"] == "completed"
        ),
        timeout=20,
        message="exercise completed",
    )
    bodies = {m["to"]: m["body"] for m in s.sim.messages()}
    assert bodies == {
        "+4791000001": "ØVELSE: Vatnet er stengt 10-14",
        "+4791000002": "ÖVNING: Water off 10-14",
        "+4791000003": "EXERCISE: Water off 10-14",
        "+4799000001": "EXERCISE: Water off 10-14",
        "+4799000002": "ØVELSE: Water off 10-14",
    }
    summary = client.get(f"/api/v1/alerts/{alert_id}", headers=headers).json
    assert summary["exercise"] is True
    assert summary["counts"]["delivered"] == 5


def test_exercises_are_counted_apart_in_the_api_and_the_alerts_list(app, rows, client):
    make_staff(app, "viewer@example.org", "viewer")
    staff(rows, "en@example.org", "+4799000001")
    add_resident(rows, "+4791000001", *INSIDE)
    rows.commit()
    headers = key(app)
    body = {
        "area": AREA,
        "category": "info",
        "severity": "minor",
        "title": "Real notice",
        "message": {"default": "Road closed"},
    }
    real = client.post("/api/v1/alerts", json=body, headers=headers).json["id"]
    drill = client.post(
        "/api/v1/alerts", json=body | {"title": "Practice", "exercise": True}, headers=headers
    ).json["id"]
    only = client.get("/api/v1/alerts?exercise=true", headers=headers).json["alerts"]
    assert [a["id"] for a in only] == [drill]
    assert [
        a["id"] for a in client.get("/api/v1/alerts?exercise=false", headers=headers).json["alerts"]
    ] == [real]
    assert (
        client.post("/api/v1/alerts", json=body | {"exercise": "yes"}, headers=headers).status_code
        == 422
    )

    page = app.test_client()
    sign_in(page, "viewer@example.org")
    listing = page.get("/alerts?kind=exercise").get_data(as_text=True)
    assert "Practice" in listing and "Real notice" not in listing
    assert 'class="badge exercise"' in listing
    assert "Practice" not in page.get("/alerts?kind=real").get_data(as_text=True)
    assert 'id="exercise-badge"' in page.get(f"/alerts/{drill}").get_data(as_text=True)


def test_the_compose_form_sends_an_exercise_and_previews_the_test_group(app, rows):
    make_staff(app, "op@example.org", "operator")
    staff(rows, "en@example.org", "+4799000001")
    add_resident(rows, "+4791000001", *INSIDE, exercise_volunteer=True)
    add_resident(rows, "+4791000002", *INSIDE)
    rows.commit()
    client = app.test_client()
    sign_in(client, "op@example.org")
    page = client.get("/alerts/new").get_data(as_text=True)
    assert 'id="exercise"' in page
    token = csrf_token(page)
    counts = client.post(
        "/api/v1/areas/exercise-preview", json={"area": AREA}, headers={"X-CSRFToken": token}
    )
    assert counts.json == {"phones": 2, "staff": 1, "volunteers": 1, "opted_out": 0}
    sent = client.post(
        "/alerts/new",
        data={
            "csrf_token": token,
            "area_geojson": json.dumps(AREA),
            "category": "water",
            "severity": "minor",
            "title": "Practice",
            "text_default": "Water off",
            "send_mode": "now",
            "confirmed": "1",
            "exercise": "1",
        },
    )
    assert sent.status_code == 302
    alert = rows.scalar(select(Alert))
    assert alert.exercise is True and alert.recipients == 2


def test_a_resident_volunteers_for_exercises_in_the_portal(app, rows):
    resident = Resident(phone="+4791234567", language="nb")
    rows.add(resident)
    rows.commit()
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["resident_id"] = resident.id
        sess["lang"] = "nb"
    page = client.get("/me/settings").get_data(as_text=True)
    assert 'id="exercise-volunteer"' in page and "Øvelser" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/me/exercises", data={"csrf_token": token, "volunteer": "1"}).status_code
    rows.refresh(resident)
    assert resident.exercise_volunteer is True
    assert (
        "checked"
        in client.get("/me/settings")
        .get_data(as_text=True)
        .split('id="exercise-volunteer"')[1][:40]
    )
    client.post("/me/exercises", data={"csrf_token": token})
    rows.refresh(resident)
    assert resident.exercise_volunteer is False
    assert client.post("/me/exercises", data={"volunteer": "1"}).status_code == 400  # no CSRF


def test_a_follow_up_to_an_exercise_is_an_exercise_to_the_same_test_group(app, rows):
    from alerting.alerts import create_alert, follow_up
    from alerting.auth import Principal
    from alerting.sending.planning import plan

    who = Principal("coord@test", "coordinator")
    add_resident(rows, "+4791000001", *INSIDE, language="sv", exercise_volunteer=True)
    add_resident(rows, "+4791000002", *INSIDE, language="nb")
    staff(rows, "en@example.org", "+4799000001", "en")
    rows.commit()
    with app.app_context():
        from alerting.db import db

        first = create_alert(
            db(),
            who,
            area=AREA,
            category="info",
            severity="minor",
            title="Practice",
            texts={"default": "Practice"},
            exercise=True,
        )
        plan(first.id)
        child = follow_up(db(), who, first.id, title="Over", texts={"default": "Practice over"})
        assert child.exercise is True
        plan(child.id)
        child_id = child.id
    bodies = {
        m.phone: m.body for m in rows.scalars(select(Message).where(Message.alert_id == child_id))
    }
    assert bodies == {
        "+4791000001": "ÖVNING: Practice over",
        "+4799000001": "EXERCISE: Practice over",
    }
