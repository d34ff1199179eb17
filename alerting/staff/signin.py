"""Sign-in with lock-out after repeated failures (alerting.staff.lockout), sign-out, start page."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from alerting import audit, current
from alerting.auth import (
    end_sessions,
    hash_password,
    principal,
    remember_session_version,
    require_role,
    verify_password,
)
from alerting.db import db
from alerting.i18n import safe_next
from alerting.models import StaffUser, utcnow
from alerting.sending.queues import connection
from alerting.staff import bp
from alerting.staff.forms import ActionForm, LoginForm
from alerting.staff.lockout import clear_failures, take_attempt

# verified against when the email is unknown, so a wrong email takes as long as a wrong password
_DUMMY_HASH = hash_password("not-a-real-password-0")


@bp.get("/")
def home():
    if principal() is None:
        return redirect(url_for("staff.login"))
    return redirect(url_for("staff.alert_list"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = _authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            lang = session.get("lang")
            session.clear()  # a fresh session at sign-in: no fixation
            if lang:
                session["lang"] = lang
            login_user(user)
            remember_session_version(user)
            return redirect(safe_next(request.args.get("next"), url_for("staff.alert_list")))
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("staff/login.html", form=form), status


def _authenticate(email: str, password: str) -> StaffUser | None:
    """The user when the password is right and the account not locked; flashes why otherwise."""
    settings = current.settings()
    s = db()
    email = email.strip().lower()
    now = utcnow()
    attempt = take_attempt(
        s,
        connection(),
        settings.secret_key,
        email,
        settings.login_lockout_attempts,
        settings.login_lockout_minutes,
        now,
    )
    if not attempt.allowed:
        minutes = max(1, round(((attempt.locked_until or now) - now).total_seconds() / 60))
        audit.record(s, email, "staff.login_refused_locked", email)
        s.commit()
        flash(
            _(
                "Too many failed sign-ins: this account is locked for %(minutes)d more minutes.",
                minutes=minutes,
            ),
            "error",
        )
        return None
    user = s.get(StaffUser, attempt.user_id) if attempt.user_id is not None else None
    if user is None:
        verify_password(_DUMMY_HASH, password)  # a wrong email takes as long as a wrong password
    elif user.active and verify_password(user.password_hash, password):
        clear_failures(s, user.id)
        audit.record(s, email, "staff.login", email)
        s.commit()
        return user
    if attempt.locks:
        audit.record(s, email, "staff.locked_out", email, minutes=settings.login_lockout_minutes)
    audit.record(s, email, "staff.login_failed", email)
    s.commit()
    flash(_("Wrong email or password."), "error")
    return None


@bp.post("/logout")
@require_role("viewer")
def logout():
    form = ActionForm()
    if form.validate_on_submit():
        s = db()
        audit.record(s, principal(), "staff.logout", principal().audit_name)
        end_sessions(s, current_user.id)
        s.commit()
        logout_user()
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
        flash(_("You are signed out."), "info")
    return redirect(url_for("staff.login"))
