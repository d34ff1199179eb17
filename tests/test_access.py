"""Trust under faults, staff and API access: lock-out under parallel guesses, server-side session
ends, masked numbers, versioned saved areas, API keys, security headers, proxies, sealed sign-in
codes and a production start that fails closed."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from staff_helpers import PASSWORD, csrf_token, make_staff, sign_in

import alerting.staff.signin as signin_module
from alerting.alerts import create_alert
from alerting.auth import Principal, create_api_key, verify_password
from alerting.config import Settings
from alerting.models import (
    Alert,
    ApiKey,
    Area,
    AreaVersion,
    AuditEvent,
    Location,
    Resident,
    StaffUser,
    VerificationCode,
    utcnow,
)
from alerting.redis_conn import connect
from alerting.simulator import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN

ROOT = Path(__file__).resolve().parent.parent
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}
BIGGER = {
    "type": "Polygon",
    "coordinates": [[[5.28, 60.37], [5.36, 60.37], [5.36, 60.41], [5.28, 60.41], [5.28, 60.37]]],
}
COORDINATOR = Principal(audit_name="coord@example.org", role="coordinator")


def _s(app):
    return app.extensions["alerting.sessionmaker"]()


def _actions(app) -> list[str]:
    with app.app_context():
        return list(_s(app).scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# --- 10: lock-out is atomic; sessions end server-side ------------------------------------------


def test_thirty_parallel_wrong_passwords_check_at_most_the_lockout_attempts(
    app, monkeypatch, capsys
):
    make_staff(app, "op@example.org", "operator")
    with app.app_context():
        real_hash = _s(app).scalar(select(StaffUser.password_hash))
    checks: list[str] = []
    lock = threading.Lock()

    def counting_verify(password_hash: str, password: str) -> bool:
        if password_hash == real_hash:
            with lock:
                checks.append(password)
        return verify_password(password_hash, password)

    monkeypatch.setattr(signin_module, "verify_password", counting_verify)
    clients = [app.test_client() for _ in range(30)]
    tokens = [csrf_token(c.get("/login").get_data(as_text=True)) for c in clients]
    start = threading.Barrier(30)
    answers: list[int] = []

    def guess(client, token: str, n: int) -> None:
        start.wait()
        response = client.post(
            "/login",
            data={"email": "op@example.org", "password": f"wrong {n}", "csrf_token": token},
        )
        with lock:
            answers.append(response.status_code)

    threads = [
        threading.Thread(target=guess, args=(c, t, n))
        for n, (c, t) in enumerate(zip(clients, tokens, strict=True))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.app_context():
        user = _s(app).scalar(select(StaffUser))
    with capsys.disabled():
        print(
            f"\n30 parallel wrong passwords: {len(checks)} argon2 checks, "
            f"locked until {user.locked_until}"
        )
    assert sorted(answers) == [401] * 30
    assert len(checks) <= app.extensions["alerting.settings"].login_lockout_attempts
    assert user.locked_until is not None and user.locked_until > utcnow()
    # and the right password is refused while locked
    assert sign_in(app.test_client(), "op@example.org").status_code == 401


def test_the_lock_message_is_the_same_for_unknown_accounts(app):
    make_staff(app, "op@example.org", "operator")
    known, unknown = app.test_client(), app.test_client()
    for _ in range(5):
        sign_in(known, "op@example.org", "wrong password")
        sign_in(unknown, "nobody@example.org", "wrong password")
    known_text = sign_in(known, "op@example.org", "wrong password").get_data(as_text=True)
    unknown_text = sign_in(unknown, "nobody@example.org", "wrong password").get_data(as_text=True)
    assert "locked" in known_text
    assert "locked" in unknown_text

    def flash(text: str) -> str:
        return re.search(r'class="flash[^"]*"[^>]*>(.*?)<', text, re.S).group(1).strip()

    assert flash(known_text) == flash(unknown_text)


def _old_cookie_still_signs_in(app, client) -> bool:
    """Replay the session cookie the browser had before, from another client."""
    replay = app.test_client()
    replay.set_cookie("session", _saved_cookie[0])
    return replay.get("/alerts").status_code == 200


_saved_cookie: list[str] = []


def _sign_in_and_keep_cookie(app, email: str):
    client = app.test_client()
    assert sign_in(client, email).status_code == 302
    _saved_cookie[:] = [client.get_cookie("session").value]
    return client


def test_sign_out_ends_the_session_on_the_server(app):
    make_staff(app, "op@example.org", "operator")
    client = _sign_in_and_keep_cookie(app, "op@example.org")
    assert _old_cookie_still_signs_in(app, client)
    token = csrf_token(client.get("/alerts").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})
    assert not _old_cookie_still_signs_in(app, client)


@pytest.mark.parametrize("change", ["password", "deactivate"])
def test_password_change_and_deactivation_end_every_session(app, change):
    make_staff(app, "admin@example.org", "admin")
    make_staff(app, "op@example.org", "operator")
    victim = _sign_in_and_keep_cookie(app, "op@example.org")
    admin = app.test_client()
    sign_in(admin, "admin@example.org")
    with app.app_context():
        user_id = _s(app).scalar(select(StaffUser.id).where(StaffUser.email == "op@example.org"))
    token = csrf_token(admin.get("/staff-users").get_data(as_text=True))
    data = {f"u{user_id}-role": "operator", f"u{user_id}-csrf_token": token, "csrf_token": token}
    if change == "password":
        data[f"u{user_id}-active"] = "y"
        data[f"u{user_id}-password"] = "a brand new password"
    assert admin.post(f"/staff-users/{user_id}", data=data).status_code == 302
    assert victim.get("/alerts").status_code == 302
    assert not _old_cookie_still_signs_in(app, victim)


# --- 11: masked means masked ---------------------------------------------------------------------


def _resident(app, phone: str = "+4791234567", name: str = "Kari") -> None:
    with app.app_context():
        s = _s(app)
        resident = Resident(phone=phone, name=name, language="nb", source="import")
        resident.locations.append(Location(label="home", lat=60.39, lon=5.32, address="x"))
        s.add(resident)
        s.commit()


def test_below_admin_register_search_matches_whole_numbers_only_and_is_audited(app, client):
    _resident(app)
    make_staff(app, "viewer@example.org", "viewer")
    sign_in(client, "viewer@example.org")
    for fragment in ("4567", "+4791", "912345"):
        page = client.get(f"/residents?q={fragment}").get_data(as_text=True)
        assert "Kari" not in page, fragment
    whole = client.get("/residents?q=912 34 567").get_data(as_text=True)
    assert "Kari" in whole and "+4791234567" not in whole
    assert _actions(app).count("register.search") == 4
    with app.app_context():
        details = _s(app).scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "register.search")
        )
        assert "+4791234567" not in json.dumps(list(details))


def test_admin_still_finds_numbers_by_a_part(app, client):
    _resident(app)
    make_staff(app, "admin@example.org", "admin")
    sign_in(client, "admin@example.org")
    assert "+4791234567" in client.get("/residents?q=4567").get_data(as_text=True)


def test_alert_page_export_and_api_never_show_a_full_number_below_admin(app, api_key):
    """A coordinator (and a coordinator's API key) sees replies and recipients masked only."""
    from alerting.models import InboundMessage, Message

    _resident(app)
    with app.app_context():
        s = _s(app)
        alert = create_alert(
            s,
            COORDINATOR,
            area=SQUARE,
            category="fire",
            severity="severe",
            title="t",
            texts={"default": "x"},
            send_at=utcnow() + timedelta(days=1),
            expires=utcnow() + timedelta(days=2),
        )
        s.add(Message(alert_id=alert.id, phone="+4791234567", body="x", status="delivered"))
        s.add(InboundMessage(phone="+4791234567", body="ok", kind="reply", alert_id=alert.id))
        s.commit()
        alert_id = alert.id
    client, _token = _staff_client(app, "coordinator")
    pages = [
        client.get(f"/alerts/{alert_id}"),
        client.get(f"/alerts/{alert_id}/progress.json"),
        client.get(f"/alerts/{alert_id}/recipients.json"),
        client.get(f"/alerts/{alert_id}/recipients.csv"),
        client.get(f"/api/v1/alerts/{alert_id}", headers={"Authorization": f"Bearer {api_key}"}),
    ]
    for page in pages:
        assert page.status_code == 200, page.request.path
        assert "91234567" not in page.get_data(as_text=True), page.request.path
    assert pages[1].get_json()["replies"][0]["phone"] == "+47•••••567"


# --- 12: saved areas used by life-safety alerts ------------------------------------------------


def _saved_area_used_by(app, category: str) -> int:
    with app.app_context():
        s = _s(app)
        area = Area(name="Sentrum", geojson=json.dumps(SQUARE), created_by="seed")
        s.add(area)
        s.commit()
        create_alert(
            s,
            COORDINATOR,
            area_id=area.id,
            category=category,
            severity="severe",
            title="t",
            texts={"default": "x"},
            send_at=utcnow() + timedelta(days=1),
            expires=utcnow() + timedelta(days=2),
        )
        return area.id


def _staff_client(app, role: str):
    make_staff(app, f"{role}@example.org", role)
    client = app.test_client()
    sign_in(client, f"{role}@example.org")
    token = csrf_token(client.get("/areas").get_data(as_text=True))
    return client, token


def test_an_operator_cannot_change_or_delete_an_area_a_fire_alert_used(app):
    area_id = _saved_area_used_by(app, "fire")
    client, token = _staff_client(app, "operator")
    changed = client.post(
        "/areas", json={"name": "Sentrum", "area": BIGGER}, headers={"X-CSRFToken": token}
    )
    assert changed.status_code == 403
    assert "coordinator" in changed.get_json()["detail"]
    deleted = client.post(f"/areas/{area_id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 403
    assert "only a coordinator may change or delete it" in deleted.get_data(as_text=True)
    with app.app_context():
        assert json.loads(_s(app).get(Area, area_id).geojson) == SQUARE


def test_an_operator_may_change_an_area_only_water_alerts_used(app):
    _saved_area_used_by(app, "water")
    client, token = _staff_client(app, "operator")
    changed = client.post(
        "/areas", json={"name": "Sentrum", "area": BIGGER}, headers={"X-CSRFToken": token}
    )
    assert changed.status_code == 200


def test_every_change_keeps_the_previous_geometry_and_alerts_keep_their_version(app):
    area_id = _saved_area_used_by(app, "fire")
    client, token = _staff_client(app, "coordinator")
    changed = client.post(
        "/areas", json={"name": "Sentrum", "area": BIGGER}, headers={"X-CSRFToken": token}
    )
    assert changed.status_code == 200
    with app.app_context():
        s = _s(app)
        area = s.get(Area, area_id)
        assert area.version == 2 and area.updated_by == "coordinator@example.org"
        versions = {
            v.version: json.loads(v.geojson)
            for v in s.scalars(select(AreaVersion).where(AreaVersion.area_id == area_id))
        }
        assert versions[1] == SQUARE
        first = s.scalar(select(Alert).order_by(Alert.id))
        assert first.area_version == 1 and json.loads(first.area_geojson) == versions[1]
        second = create_alert(
            s,
            COORDINATOR,
            area_id=area_id,
            category="fire",
            severity="severe",
            title="t",
            texts={"default": "x"},
            send_at=utcnow() + timedelta(days=1),
            expires=utcnow() + timedelta(days=2),
        )
        assert second.area_version == 2
        assert json.loads(second.area_geojson)["coordinates"] == BIGGER["coordinates"]
    assert "area.update" in _actions(app)


# --- 13: API keys --------------------------------------------------------------------------------


def test_a_new_key_is_an_operator_by_default_in_code_and_cli(app, cli):
    with app.app_context():
        s = _s(app)
        row, _key = create_api_key(s, "default")
        s.commit()
        assert row.role == "operator"
    assert cli("apikeys", "create", "--name", "from-cli").exit_code == 0
    with app.app_context():
        assert _s(app).scalar(select(ApiKey.role).where(ApiKey.name == "from-cli")) == "operator"


def test_cli_lists_and_revokes_keys(app, cli, client, api_key):
    listed = cli("apikeys", "list")
    assert listed.exit_code == 0, listed.output
    assert "tests" in listed.output and "coordinator" in listed.output
    assert api_key not in listed.output
    with app.app_context():
        key_id = _s(app).scalar(select(ApiKey.id))
    auth = {"Authorization": f"Bearer {api_key}"}
    assert client.get("/api/v1/alerts", headers=auth).status_code == 200
    revoked = cli("apikeys", "revoke", key_id)
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/v1/alerts", headers=auth).status_code == 401
    assert "revoked" in cli("apikeys", "list").output
    assert cli("apikeys", "revoke", 9999).exit_code != 0


def test_keys_work_on_the_api_only_record_last_use_and_expire(app, client, api_key):
    auth = {"Authorization": f"Bearer {api_key}"}
    assert client.get("/alerts", headers=auth).status_code == 302  # staff page: sign in
    assert client.get("/api/v1/alerts", headers=auth).status_code == 200
    with app.app_context():
        s = _s(app)
        key = s.scalar(select(ApiKey))
        assert key.last_used_at is not None
        key.expires_at = utcnow() - timedelta(seconds=1)
        s.commit()
    assert client.get("/api/v1/alerts", headers=auth).status_code == 401


def test_admin_creates_shows_once_sets_expiry_and_revokes_a_key(app, client):
    make_staff(app, "admin@example.org", "admin")
    sign_in(client, "admin@example.org")
    page = client.get("/api-keys")
    assert page.status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    created = client.post(
        "/api-keys",
        data={"csrf_token": token, "name": "sensor", "role": "operator", "expires": "2099-01-31"},
        follow_redirects=True,
    )
    key = re.search(r"alk_[A-Za-z0-9_-]{20,}", created.get_data(as_text=True)).group(0)
    assert key not in client.get("/api-keys").get_data(as_text=True)  # shown once
    assert (
        client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    )
    with app.app_context():
        row = _s(app).scalar(select(ApiKey).where(ApiKey.name == "sensor"))
        assert row.role == "operator" and row.created_by == "admin@example.org"
        assert row.expires_at.date().isoformat() == "2099-01-31"
    revoked = client.post(f"/api-keys/{row.id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 302
    assert (
        client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    )
    assert {"apikeys.create", "apikeys.revoke"} <= set(_actions(app))


def test_the_key_page_is_for_admins_only(app, client):
    make_staff(app, "coordinator@example.org", "coordinator")
    sign_in(client, "coordinator@example.org")
    assert client.get("/api-keys").status_code == 403


# --- 14: the portal's headers and next= ----------------------------------------------------------


@pytest.mark.parametrize("path", ["/me/sign-in", "/public"])
def test_the_portal_sends_the_same_security_headers_as_staff_pages(client, path):
    response = client.get(path)
    policy = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert response.headers.get("X-Content-Type-Options") == "nosniff"


def _stays_on_the_site(location: str) -> bool:
    """What a browser would follow: no host, and nothing it reads as one (//, /\\, tab, newline)."""
    parts = urlsplit(location)
    bare = location.replace("\\", "/")
    return (
        not parts.scheme
        and not parts.netloc
        and bare.startswith("/")
        and not bare.startswith("//")
        and not any(ch in location for ch in "\t\r\n")
    )


@pytest.mark.parametrize("target", ["/%09/evil.example", "/\\evil.example", "//evil.example"])
def test_next_stays_on_the_site_in_portal_and_staff(app, client, target):
    portal = client.get(f"/me/language/en?next={target}")
    assert portal.status_code == 302
    assert _stays_on_the_site(portal.headers["Location"]), portal.headers["Location"]
    make_staff(app, "op@example.org", "operator")
    token = csrf_token(client.get("/login").get_data(as_text=True))
    staff = client.post(
        f"/login?next={target}",
        data={"email": "op@example.org", "password": PASSWORD, "csrf_token": token},
    )
    assert staff.status_code == 302
    assert _stays_on_the_site(staff.headers["Location"]), staff.headers["Location"]


def test_no_user_text_reaches_leaflet_as_html():
    """bindTooltip/bindPopup take HTML when given a string: our scripts give them DOM nodes."""
    scripts = [p for p in (ROOT / "alerting/static").rglob("*.js") if "vendor" not in p.parts]
    calls = []
    for script in scripts:
        for match in re.finditer(r"\.bind(?:Tooltip|Popup)\(\s*([^\n]*)", script.read_text()):
            calls.append((script.name, match.group(1)))
    assert calls, "the scripts bind tooltips or popups"
    for name, argument in calls:
        assert argument.startswith(("function", "textNode(", "document.createTextNode(")), (
            name,
            argument,
        )


# --- 15: proxies, HMAC keys, sealed codes --------------------------------------------------------


def _ask_code(client, phone: str, forwarded: str):
    return client.post(
        "/me/sign-in",
        data={"phone": phone},
        headers={"X-Forwarded-For": forwarded},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},  # the proxy
    )


def test_behind_a_trusted_proxy_per_ip_limits_see_the_client(app, settings):
    from alerting import create_app

    app.config["WTF_CSRF_ENABLED"] = False
    proxied = create_app(settings.replace(trusted_proxies=1, signin_codes_per_ip=2))
    proxied.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    client = proxied.test_client()
    first = [_ask_code(client, f"+479123456{i}", "203.0.113.7").status_code for i in range(3)]
    assert first == [302, 302, 429]
    assert _ask_code(client, "+4791234569", "198.51.100.4").status_code == 302
    proxied.extensions["alerting.engine"].dispose()


def test_without_trusted_proxies_forwarded_for_is_ignored(app, client):
    app.config["WTF_CSRF_ENABLED"] = False
    app.extensions["alerting.settings"].signin_codes_per_ip = 2
    answers = [_ask_code(client, f"+479123456{i}", f"203.0.113.{i}").status_code for i in range(3)]
    assert answers == [302, 302, 429]


def test_limit_keys_in_redis_are_keyed_hmacs_not_bare_digests(app, client, settings):
    app.config["WTF_CSRF_ENABLED"] = False
    phone = "+4791234567"
    _ask_code(client, phone, "203.0.113.7")
    keys = [k.decode() for k in connect(settings.redis_url).keys("alerting:signin:*")]
    assert any(":number:" in k for k in keys)
    bare = hashlib.sha256(phone.encode()).hexdigest()[:32]
    assert not any(bare in k for k in keys)
    assert not any(phone in k for k in keys)


def test_sign_in_codes_are_not_in_clear_in_the_queued_job(app, client, settings):
    from rq import Queue

    from alerting.sending.queues import URGENT

    app.config["WTF_CSRF_ENABLED"] = False
    _ask_code(client, "+4791234567", "203.0.113.7")
    jobs = Queue(URGENT, connection=connect(settings.redis_url)).get_jobs()
    assert len(jobs) == 1
    stored = repr(jobs[0].args) + repr(jobs[0].kwargs)
    with app.app_context():
        code_hash = _s(app).scalar(select(VerificationCode.code_hash))
    for candidate in re.findall(r"\d{6}", stored):
        assert not verify_password(code_hash, candidate), "the code is in clear in the job"


# --- 16: production fails closed -----------------------------------------------------------------


def _start(tmp_path, entry: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SMS_PROVIDER", "SECRET_KEY")}
    clean.update(ALERTING_INSTANCE=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-c", entry],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "entry", ["import wsgi", "from alerting.worker import main; main(burst=True)"]
)
def test_production_without_sms_provider_refuses_to_start(tmp_path, entry):
    started = _start(tmp_path, entry, ALERTING_ENV="production", SECRET_KEY="k" * 40)
    assert started.returncode != 0
    assert "SMS_PROVIDER" in started.stderr


def _environment(monkeypatch, **env: str) -> None:
    for name in (
        "SMS_PROVIDER",
        "SECRET_KEY",
        "FLASK_ENV",
        "ALERTING_ENV",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_production_without_secret_key_refuses_to_start(tmp_path, monkeypatch):
    from alerting.config import ConfigError

    _environment(monkeypatch, FLASK_ENV="production", SMS_PROVIDER="twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env(tmp_path)


def test_twilio_with_the_simulators_published_credentials_is_refused(tmp_path, monkeypatch):
    from alerting.config import ConfigError

    _environment(
        monkeypatch,
        SMS_PROVIDER="twilio",
        TWILIO_ACCOUNT_SID=DEFAULT_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=DEFAULT_AUTH_TOKEN,
    )
    with pytest.raises(ConfigError, match="simulator"):
        Settings.from_env(tmp_path)


def test_development_defaults_still_start(tmp_path, monkeypatch):
    _environment(monkeypatch)
    settings = Settings.from_env(tmp_path)
    assert settings.sms_provider == "simulator" and settings.secret_key
