"""Signing in: passwords, lock-out, sign-out, CSRF and the audit trail."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from staff_helpers import PASSWORD, csrf_token, make_staff, sign_in

from alerting.models import AuditEvent, StaffUser, utcnow


def _user(app, email):
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        return s.scalar(select(StaffUser).where(StaffUser.email == email))


def _actions(app) -> list[str]:
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/alerts")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_right_password_signs_in_and_is_audited(app, client):
    make_staff(app, "op@example.org", "operator")
    response = sign_in(client, "op@example.org")
    assert response.status_code == 302
    assert client.get("/alerts").status_code == 200
    assert "staff.login" in _actions(app)


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(app, client):
    make_staff(app, "op@example.org", "operator")
    response = sign_in(client, "op@example.org", "wrong password")
    assert response.status_code == 401
    assert "Wrong email or password" in response.get_data(as_text=True)
    unknown = sign_in(client, "nobody@example.org", "wrong password")
    assert "Wrong email or password" in unknown.get_data(as_text=True)
    assert _actions(app).count("staff.login_failed") == 2


def test_five_failures_lock_the_account_even_for_the_right_password(app, client):
    make_staff(app, "op@example.org", "operator")
    for _ in range(5):
        sign_in(client, "op@example.org", "wrong password")
    user = _user(app, "op@example.org")
    assert user.locked_until is not None
    assert user.locked_until > utcnow() + timedelta(minutes=14)
    response = sign_in(client, "op@example.org", PASSWORD)
    assert response.status_code == 401
    assert "locked" in response.get_data(as_text=True)
    assert client.get("/alerts").status_code == 302
    assert "staff.locked_out" in _actions(app)


def test_the_right_password_on_the_last_allowed_attempt_still_signs_in(app, client):
    make_staff(app, "op@example.org", "operator")
    for _ in range(4):
        sign_in(client, "op@example.org", "wrong password")
    assert sign_in(client, "op@example.org").status_code == 302
    user = _user(app, "op@example.org")
    assert (user.failed_logins, user.locked_until) == (0, None)


def test_lock_out_ends_after_its_time(app, client):
    make_staff(app, "op@example.org", "operator")
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        user = s.scalar(select(StaffUser))
        user.locked_until = utcnow() - timedelta(seconds=1)
        s.commit()
    assert sign_in(client, "op@example.org").status_code == 302


def test_sign_in_form_without_csrf_token_is_refused(app, client):
    make_staff(app, "op@example.org", "operator")
    response = client.post("/login", data={"email": "op@example.org", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/alerts").status_code == 302


def test_sign_out_needs_the_form_and_ends_the_session(app, client):
    make_staff(app, "op@example.org", "operator")
    sign_in(client, "op@example.org")
    assert client.post("/logout").status_code == 400  # no CSRF token
    token = csrf_token(client.get("/alerts").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/alerts").status_code == 302
    assert "staff.logout" in _actions(app)


def test_next_never_leaves_the_site(app, client):
    make_staff(app, "op@example.org", "operator")
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login?next=//evil.example/x",
        data={"email": "op@example.org", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/alerts"


def test_staff_pages_load_nothing_from_outside(app, client):
    make_staff(app, "op@example.org", "operator")
    sign_in(client, "op@example.org")
    response = client.get("/alerts/new")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    html = response.get_data(as_text=True)
    assert "https://" not in html.replace(app.extensions["alerting.settings"].tile_url, "")
