"""Staff pages without a browser: roles on every route, compose refusals, imports, languages."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from staff_helpers import csrf_token, make_staff, sign_in

from alerting.models import Alert, Area, AuditEvent

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}
REGISTER = (
    "external_id,name,phone,language,address,lat,lon,label\n"
    "r1,Kari,+4791234567,nb,Strandvegen 1,60.39,5.32,home\n"
    "r2,Ola,+4791234568,en,Strandvegen 2,60.391,5.321,home\n"
    "r3,Bad,not-a-phone,nb,Somewhere,60.39,5.32,home\n"
)

GET_ROUTES = {
    "/alerts": "viewer",
    "/areas": "viewer",
    "/residents": "viewer",
    "/alerts/new": "operator",
    "/residents/import": "admin",
    "/audit": "admin",
    "/staff-users": "admin",
    "/settings": "admin",
    "/api-keys": "admin",
}
ROLES = ("viewer", "operator", "coordinator", "admin")


@pytest.mark.parametrize("role", ROLES)
def test_each_page_is_open_to_its_role_and_above_only(app, client, role):
    make_staff(app, f"{role}@example.org", role)
    sign_in(client, f"{role}@example.org")
    for path, minimum in GET_ROUTES.items():
        expected = 200 if ROLES.index(role) >= ROLES.index(minimum) else 403
        assert client.get(path).status_code == expected, (path, role)


def _compose_token(client) -> str:
    return csrf_token(client.get("/alerts/new").get_data(as_text=True))


def _post_alert(client, category: str, **extra):
    data = {
        "csrf_token": _compose_token(client),
        "area_geojson": json.dumps(SQUARE),
        "area_name": "Strandvegen",
        "category": category,
        "severity": "extreme" if category == "evacuation" else "minor",
        "title": "Test",
        "text_default": "Evacuate now" if category == "evacuation" else "Water off",
        "send_mode": "now",
        "confirmed": "1",
        "expires": "2099-01-01T10:00",  # the End field: a life-safety alert needs one
    }
    data.update(extra)
    return client.post("/alerts/new", data=data)


def test_operator_is_refused_an_evacuation_alert(app, client):
    make_staff(app, "op@example.org", "operator")
    sign_in(client, "op@example.org")
    page = client.get("/alerts/new").get_data(as_text=True)
    assert 'value="evacuation"' not in page  # not even offered
    response = _post_alert(client, "evacuation")
    assert response.status_code == 403
    assert "needs a coordinator" in response.get_data(as_text=True)
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        assert s.scalar(select(Alert)) is None


def test_compose_without_csrf_token_is_refused(app, client):
    make_staff(app, "co@example.org", "coordinator")
    sign_in(client, "co@example.org")
    response = _post_alert(client, "water", csrf_token="")
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)


def test_sending_needs_the_confirmation(app, client):
    make_staff(app, "co@example.org", "coordinator")
    sign_in(client, "co@example.org")
    response = _post_alert(client, "water", confirmed="")
    assert response.status_code == 422
    assert "Confirm" in response.get_data(as_text=True)


def test_coordinator_sends_and_lands_on_the_alert_page(app, client, cli, tmp_path):
    path = tmp_path / "register.csv"
    path.write_text(REGISTER)
    cli("residents", "import", path)
    make_staff(app, "co@example.org", "coordinator")
    sign_in(client, "co@example.org")
    response = _post_alert(client, "evacuation", text_nb="Evakuer nå")
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        alert = s.scalar(select(Alert))
        assert alert.recipients == 2
        assert alert.texts == {"default": "Evacuate now", "nb": "Evakuer nå"}
    progress = client.get(f"/alerts/{alert.id}/progress.json").get_json()
    assert progress["recipients"] == 2


def test_csv_export_masks_phones_unless_admin(app, client, cli, tmp_path):
    path = tmp_path / "register.csv"
    path.write_text(REGISTER)
    cli("residents", "import", path)
    make_staff(app, "co@example.org", "coordinator")
    make_staff(app, "ad@example.org", "admin")
    sign_in(client, "co@example.org")
    location = _post_alert(client, "water").headers["Location"]
    alert_id = int(location.rstrip("/").split("/")[-1])
    with app.app_context():
        from alerting.models import Message

        s = app.extensions["alerting.sessionmaker"]()
        if not s.scalar(select(Message).where(Message.alert_id == alert_id)):
            s.add(Message(alert_id=alert_id, phone="+4791234567", body="x", language="nb"))
            s.commit()
    masked = client.get(f"/alerts/{alert_id}/recipients.csv").get_data(as_text=True)
    assert "+4791234567" not in masked
    assert "•" in masked
    client2 = app.test_client()
    sign_in(client2, "ad@example.org")
    assert "+4791234567" in client2.get(f"/alerts/{alert_id}/recipients.csv").get_data(as_text=True)


def test_admin_import_shows_refused_rows_with_reasons(app, client):
    make_staff(app, "ad@example.org", "admin")
    sign_in(client, "ad@example.org")
    token = csrf_token(client.get("/residents/import").get_data(as_text=True))
    import io

    response = client.post(
        "/residents/import",
        data={"csrf_token": token, "file": (io.BytesIO(REGISTER.encode()), "register.csv")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2 imported" in html and "1 refused" in html
    assert 'id="refused"' in html
    residents = client.get("/residents?q=Kari").get_data(as_text=True)
    assert "Kari" in residents and "Ola" not in residents


def test_saving_an_area_is_audited_and_listed(app, client):
    make_staff(app, "op@example.org", "operator")
    sign_in(client, "op@example.org")
    token = _compose_token(client)
    response = client.post(
        "/areas", json={"name": "Sentrum", "area": SQUARE}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 201
    assert "Sentrum" in client.get("/areas").get_data(as_text=True)
    refused = client.post("/areas", json={"name": "x", "area": SQUARE})
    assert refused.status_code == 400  # no CSRF header
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        assert s.scalar(select(Area.name)) == "Sentrum"
        assert s.scalar(select(AuditEvent.action).where(AuditEvent.action == "area.create"))


def test_language_switch_is_remembered_for_the_session_and_the_account(app, client):
    make_staff(app, "op@example.org", "operator", language="en")
    sign_in(client, "op@example.org")
    token = _compose_token(client)
    client.post("/language", data={"lang": "sv", "csrf_token": token, "next": "/alerts"})
    assert "Larm" in client.get("/alerts").get_data(as_text=True)
    other = app.test_client()
    sign_in(other, "op@example.org")
    assert "Larm" in other.get("/alerts").get_data(as_text=True)


def test_accept_language_chooses_for_anonymous_visitors(client):
    html = client.get("/login", headers={"Accept-Language": "da,en;q=0.5"}).get_data(as_text=True)
    assert "Log ind" in html


def test_admin_unlocks_and_changes_roles(app, client):
    make_staff(app, "ad@example.org", "admin")
    make_staff(app, "op@example.org", "operator")
    sign_in(client, "ad@example.org")
    page = client.get("/staff-users").get_data(as_text=True)
    with app.app_context():
        from alerting.models import StaffUser

        s = app.extensions["alerting.sessionmaker"]()
        op = s.scalar(select(StaffUser).where(StaffUser.email == "op@example.org"))
    token = csrf_token(page)
    response = client.post(
        f"/staff-users/{op.id}",
        data={
            f"u{op.id}-csrf_token": token,
            f"u{op.id}-role": "coordinator",
            f"u{op.id}-active": "y",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        assert s.get(StaffUser, op.id).role == "coordinator"
        assert s.scalar(select(AuditEvent.action).where(AuditEvent.action == "staff.update"))
