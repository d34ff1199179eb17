"""Sign-in with lock-out after repeated failures, sign-out, and the start page."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from sqlalchemy import select

from alerting import audit, current
from alerting.auth import hash_password, principal, require_role, verify_password
from alerting.db import db
from alerting.i18n import safe_next
from alerting.models import StaffUser, utcnow
from alerting.staff import bp
from alerting.staff.forms import ActionForm, LoginForm

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
    user = s.scalar(select(StaffUser).where(StaffUser.email == email))
    now = utcnow()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        verify_password(_DUMMY_HASH, password)
        minutes = max(1, round((user.locked_until - now).total_seconds() / 60))
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
    if user is not None and user.active and verify_password(user.password_hash, password):
        user.failed_logins = 0
        user.locked_until = None
        audit.record(s, email, "staff.login", email)
        s.commit()
        return user
    if user is None:
        verify_password(_DUMMY_HASH, password)
    else:
        user.failed_logins += 1
        if user.failed_logins >= settings.login_lockout_attempts:
            user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
            audit.record(
                s, email, "staff.locked_out", email, minutes=settings.login_lockout_minutes
            )
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
        s.commit()
        logout_user()
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
        flash(_("You are signed out."), "info")
    return redirect(url_for("staff.login"))
