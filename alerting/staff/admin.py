"""Admin pages: the audit log, staff accounts (with phones and on-duty for exercises and approval
requests), the provider settings (read-only) and which alerts need approval."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from alerting import approval, audit, current
from alerting.auth import (
    create_staff_user,
    end_sessions,
    hash_password,
    principal,
    require_role,
)
from alerting.db import db
from alerting.models import CATEGORIES, SEVERITIES, AuditEvent, StaffUser
from alerting.phones import PhoneError, mask, parse_phone
from alerting.staff import bp
from alerting.staff.forms import ApprovalPolicyForm, StaffUserEditForm, StaffUserForm

PAGE = 100


@bp.get("/audit")
@require_role("admin")
def audit_log():
    s = db()
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    action = request.args.get("action", "").strip()
    actor = request.args.get("actor", "").strip()
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if actor:
        query = query.where(AuditEvent.actor.contains(actor))
    page = max(request.args.get("page", 1, type=int), 1)
    total = s.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    events = s.scalars(query.limit(PAGE).offset((page - 1) * PAGE)).all()
    return render_template(
        "staff/audit.html",
        events=events,
        action=action,
        actor=actor,
        page=page,
        pages=max(1, -(-total // PAGE)),
    )


@bp.route("/staff-users", methods=["GET", "POST"])
@require_role("admin")
def staff_users():
    form = StaffUserForm()
    s = db()
    status = 200
    if form.validate_on_submit():
        try:
            user = create_staff_user(s, form.email.data, form.role.data, form.password.data)
            user.language = form.language.data
            s.flush()
        except (ValueError, IntegrityError) as exc:
            s.rollback()
            message = (
                str(exc) if isinstance(exc, ValueError) else _("That email already has an account.")
            )
            flash(message, "error")
            status = 422
        else:
            audit.record(s, principal(), "staff.create", user.email, role=user.role)
            s.commit()
            flash(_("Account %(email)s created.", email=user.email), "info")
            return redirect(url_for("staff.staff_users"))
    elif request.method == "POST":
        status = 400
    users = s.scalars(select(StaffUser).order_by(StaffUser.email)).all()
    edit_forms = {}
    for u in users:
        f = StaffUserEditForm(
            prefix=f"u{u.id}",
            formdata=None,
            role=u.role,
            active=u.active,
            phone=u.phone or "",
            on_duty=u.on_duty,
        )
        edit_forms[u.id] = f
    return render_template(
        "staff/staff_users.html", form=form, users=users, edit_forms=edit_forms
    ), status


@bp.post("/staff-users/<int:user_id>")
@require_role("admin")
def staff_user_update(user_id: int):
    s = db()
    user = s.get(StaffUser, user_id) or abort(404)
    form = StaffUserEditForm(prefix=f"u{user.id}")
    if not form.validate_on_submit():
        flash("; ".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("staff.staff_users"))
    me = principal()
    if user.id == me.staff_user_id and (form.role.data != "admin" or not form.active.data):
        flash(_("You cannot remove your own admin role or deactivate yourself."), "error")
        return redirect(url_for("staff.staff_users"))
    changes: dict = {}
    if form.role.data != user.role:
        changes["role"] = [user.role, form.role.data]
        user.role = form.role.data
    if bool(form.active.data) != user.active:
        changes["active"] = bool(form.active.data)
        user.active = bool(form.active.data)
    try:
        changes |= staff_phone_changes(user, form.phone.data, bool(form.on_duty.data))
    except PhoneError:
        flash(_("%(phone)s is not a phone number.", phone=(form.phone.data or "")[:30]), "error")
        return redirect(url_for("staff.staff_users"))
    if form.unlock.data and (user.locked_until or user.failed_logins):
        user.locked_until = None
        user.failed_logins = 0
        changes["unlocked"] = True
    if form.password.data:
        user.password_hash = hash_password(form.password.data)
        changes["password"] = "changed"
    if "password" in changes or changes.get("active") is False:
        end_sessions(s, user.id)  # whoever had the old password or the account is out at once
    if changes:
        audit.record(s, me, "staff.update", user.email, **changes)
        s.commit()
        flash(_("Account %(email)s updated.", email=user.email), "info")
    return redirect(url_for("staff.staff_users"))


def staff_phone_changes(user: StaffUser, raw: str | None, on_duty: bool) -> dict:
    """Set the phone (E.164; empty removes it; not in the form keeps it) and on-duty flag; what
    changed, for the audit (the number masked: more people read the audit log than this page)."""
    if raw is None:
        phone = user.phone
    elif raw.strip():
        phone = parse_phone(raw, current.settings().default_region).e164
    else:
        phone = None
    changes: dict = {}
    if phone != user.phone:
        changes["phone"] = mask(phone) if phone else None
        user.phone = phone
    if on_duty != user.on_duty:
        changes["on_duty"] = on_duty
        user.on_duty = on_duty
    return changes


@bp.get("/settings")
@require_role("admin")
def provider_settings():
    """What the service is configured with; secrets are shown only as set / not set."""
    st = current.settings()
    rows = [
        ("SMS_PROVIDER", st.sms_provider),
        ("SMS_RATE_PER_SECOND", st.sms_rate_per_second),
        ("TWILIO_ACCOUNT_SID", (st.twilio_account_sid[:6] + "…") if st.twilio_account_sid else ""),
        ("TWILIO_AUTH_TOKEN", _("set") if st.twilio_auth_token else _("not set")),
        ("TWILIO_FROM", st.twilio_from),
        ("TWILIO_MESSAGING_SERVICE_SID", st.twilio_messaging_service_sid),
        ("TWILIO_BASE_URL", st.twilio_base_url),
        ("SIMULATOR_URL", st.simulator_url if st.sms_provider == "simulator" else ""),
        ("PUBLIC_URL", st.public_url),
        ("TILE_URL", st.tile_url),
        ("DEFAULT_REGION", st.default_region),
        ("DEFAULT_LANGUAGE", st.default_language),
        ("MAX_AREA_KM2", st.max_area_km2),
        ("LOGIN_LOCKOUT_ATTEMPTS", st.login_lockout_attempts),
        ("LOGIN_LOCKOUT_MINUTES", st.login_lockout_minutes),
    ]
    policy = approval.policy(db())
    approval_form = ApprovalPolicyForm(
        formdata=None,
        categories=list(policy.categories),
        severities=list(policy.severities),
        self_approve_exercises=policy.self_approve_exercises,
    )
    return render_template(
        "staff/settings.html",
        rows=rows,
        approval_form=approval_form,
        categories=CATEGORIES,
        severities=SEVERITIES,
    )
