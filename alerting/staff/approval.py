"""Approval on the staff pages: the approve, reject and withdraw buttons, the requests waiting for
the signed-in coordinator, and the admin's choice of which alerts need a second person.

The rules are `alerting.approval`'s; these views turn forms into its calls and its refusals into
messages on the alert page.
"""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from alerting import approval
from alerting.alerts import AlertRefused
from alerting.auth import principal, require_role
from alerting.db import db
from alerting.models import Alert
from alerting.staff import bp
from alerting.staff.forms import ActionForm, ApprovalPolicyForm


@bp.context_processor
def _approval_helpers() -> dict:
    """For the alert page's buttons and the top of the alerts list."""

    def review(alert: Alert) -> approval.Review:
        who = principal()
        return approval.review_options(db(), who, alert) if who else approval.Review()

    def waiting() -> list[Alert]:
        who = principal()
        return approval.waiting_for(db(), who) if who else []

    return {"approval_review": review, "approval_waiting": waiting}


def _act(alert_id: int, done: str, action, *args) -> object:
    if not ActionForm().validate_on_submit():
        abort(400)
    s = db()
    try:
        action(s, principal(), alert_id, *args)
    except AlertRefused as exc:
        s.rollback()
        flash(f"{exc.error}: {exc.detail}" if exc.detail else exc.error, "error")
    else:
        flash(done, "info")
    return redirect(url_for("staff.alert_page", alert_id=alert_id))


@bp.post("/alerts/<int:alert_id>/approve")
@require_role("coordinator")
def alert_approve(alert_id: int):
    return _act(alert_id, _("Alert approved: it is being sent."), approval.approve)


@bp.post("/alerts/<int:alert_id>/reject")
@require_role("coordinator")
def alert_reject(alert_id: int):
    comment = request.form.get("comment", "")
    return _act(alert_id, _("Alert rejected: it will not be sent."), approval.reject, comment)


@bp.post("/alerts/<int:alert_id>/withdraw")
@require_role("operator")
def alert_withdraw(alert_id: int):
    return _act(alert_id, _("Alert withdrawn: it will not be sent."), approval.withdraw)


@bp.post("/settings/approval")
@require_role("admin")
def approval_settings():
    form = ApprovalPolicyForm()
    if not form.validate_on_submit():
        abort(400)
    approval.save_policy(
        db(),
        principal(),
        approval.ApprovalPolicy(
            categories=tuple(form.categories.data or ()),
            severities=tuple(form.severities.data or ()),
            self_approve_exercises=bool(form.self_approve_exercises.data),
        ),
    )
    flash(_("Approval settings saved."), "info")
    return redirect(url_for("staff.provider_settings"))
