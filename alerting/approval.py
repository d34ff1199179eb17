"""Two-person approval: which alerts need a second person, and approve, reject, withdraw.

An admin chooses the categories and severities that need approval (app setting `approval`;
default: evacuation, fire, flood, gas and any `extreme`). Such an alert is stored as
`pending_approval` and nothing is planned. A second member of staff with the coordinator role
(or admin), never the author, approves it (→ `scheduled`, planned exactly like a normal send) or
rejects it with a comment (→ `rejected`, never sent); the author may withdraw it (→ `cancelled`).
Self-approval is possible only for exercises, and only when an admin allowed it.

An approval that comes after the alert's `send_at` sends at once, and the audit says it came late.
The staff pages and the API both call these functions, so the rules are written once.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import redis
from flask_babel import force_locale, gettext
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alerting.alerts import AlertRefused, _enqueue_plan
from alerting.audit import record
from alerting.auth import Principal, role_at_least
from alerting.i18n import LOCALES
from alerting.models import (
    CATEGORIES,
    LIFE_SAFETY,
    SEVERITIES,
    Alert,
    AppSetting,
    StaffUser,
    utcnow,
)
from alerting.sending.states import alert_may_become

log = logging.getLogger(__name__)

SETTING = "approval"
MAX_COMMENT = 2000


@dataclass(frozen=True)
class ApprovalPolicy:
    """Which alerts need a second person; whether an author may approve their own exercise."""

    categories: tuple[str, ...] = LIFE_SAFETY
    severities: tuple[str, ...] = ("extreme",)
    self_approve_exercises: bool = False

    def needs_approval(self, category: str, severity: str) -> bool:
        return category in self.categories or severity in self.severities

    def as_json(self) -> dict:
        return asdict(self) | {
            "categories": list(self.categories),
            "severities": list(self.severities),
        }


def policy(session: Session) -> ApprovalPolicy:
    """The admin's setting, or the default when none was saved."""
    row = session.get(AppSetting, SETTING)
    value = row.value if row is not None and isinstance(row.value, dict) else {}
    default = ApprovalPolicy()
    return ApprovalPolicy(
        categories=tuple(c for c in value.get("categories", default.categories) if c in CATEGORIES),
        severities=tuple(s for s in value.get("severities", default.severities) if s in SEVERITIES),
        self_approve_exercises=bool(value.get("self_approve_exercises", False)),
    )


def save_policy(session: Session, who: Principal, new: ApprovalPolicy) -> None:
    """Admins only; audited with the old and the new value."""
    if not who.has_role("admin"):
        raise AlertRefused(403, "forbidden", "only admins change which alerts need approval")
    old = policy(session)
    row = session.get(AppSetting, SETTING) or AppSetting(key=SETTING)
    row.value, row.updated_by = new.as_json(), who.audit_name
    session.add(row)
    record(session, who, "settings.approval", SETTING, old=old.as_json(), new=new.as_json())
    session.commit()


@dataclass
class Review:
    """What the caller may do with a pending alert, and why not (for the buttons)."""

    approve: bool = False
    reject: bool = False
    withdraw: bool = False
    reasons: list[str] = field(default_factory=list)


def _is_author(who: Principal, alert: Alert) -> bool:
    return who.audit_name == alert.created_by


def review_options(session: Session, who: Principal, alert: Alert) -> Review:
    """Which of approve, reject and withdraw the caller may use on this alert now."""
    options = Review()
    if alert.status != "pending_approval":
        return options
    author = _is_author(who, alert)
    options.withdraw = author
    if who.has_role("coordinator"):
        options.reject = not author
        options.approve = not author or (alert.exercise and policy(session).self_approve_exercises)
    return options


def _pending(session: Session, alert_id: int, action: str) -> Alert:
    alert = session.get(Alert, alert_id, populate_existing=True)
    if alert is None:
        raise AlertRefused(404, "not found", f"there is no alert {alert_id}")
    if alert.status != "pending_approval":
        raise AlertRefused(
            409, f"alert is {alert.status}", f"only an alert waiting for approval can be {action}"
        )
    return alert


def _move(session: Session, alert: Alert, new: str, **values) -> None:
    """pending_approval → new, guarded in SQL: of two reviewers at once only one wins."""
    assert alert_may_become("pending_approval", new)
    done = session.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.status == "pending_approval")
        .values(status=new, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        session.rollback()
        raise AlertRefused(409, "alert was reviewed meanwhile", "reload the alert")
    session.refresh(alert)


def approve(session: Session, who: Principal, alert_id: int) -> Alert:
    """A second coordinator approves: the alert is planned now (or at its send_at)."""
    if not who.has_role("coordinator"):
        raise AlertRefused(403, "forbidden", "approving an alert needs the coordinator role")
    alert = _pending(session, alert_id, "approved")
    if _is_author(who, alert):
        if not alert.exercise:
            raise AlertRefused(403, "forbidden", "a second person must approve an alert you wrote")
        if not policy(session).self_approve_exercises:
            raise AlertRefused(
                403, "forbidden", "self-approval of exercises is not allowed by the admin"
            )
    now = utcnow()
    late = alert.send_at is not None and alert.send_at <= now
    when = "at send_at" if alert.send_at else "now"
    _move(session, alert, "scheduled", reviewed_by=who.audit_name, reviewed_at=now)
    record(
        session,
        who,
        "alert.approve",
        f"alert:{alert.id}",
        self_approved=_is_author(who, alert),
        send_at=alert.send_at.isoformat(timespec="seconds") + "Z" if alert.send_at else None,
        sends="now: its send_at had passed" if late else when,
    )
    session.commit()
    if alert.send_at is None or late:
        _enqueue_plan(alert)
    return alert


def check_comment(comment: Any) -> str:
    """Why an alert is rejected: a text of 1 to MAX_COMMENT characters, stripped."""
    comment = (comment or "").strip() if isinstance(comment, str) else ""
    if not comment:
        raise AlertRefused(422, "missing comment", "say why the alert is rejected")
    if len(comment) > MAX_COMMENT:
        raise AlertRefused(422, "comment too long", f"at most {MAX_COMMENT} characters")
    return comment


def reject(session: Session, who: Principal, alert_id: int, comment: str) -> Alert:
    """A second coordinator rejects, saying why: the alert never sends."""
    if not who.has_role("coordinator"):
        raise AlertRefused(403, "forbidden", "rejecting an alert needs the coordinator role")
    comment = check_comment(comment)
    alert = _pending(session, alert_id, "rejected")
    if _is_author(who, alert):
        raise AlertRefused(403, "forbidden", "withdraw your own alert instead of rejecting it")
    _move(
        session,
        alert,
        "rejected",
        reviewed_by=who.audit_name,
        reviewed_at=utcnow(),
        review_comment=comment,
    )
    record(session, who, "alert.reject", f"alert:{alert.id}", comment=comment)
    session.commit()
    return alert


def withdraw(session: Session, who: Principal, alert_id: int) -> Alert:
    """The author takes back an alert still waiting for approval."""
    alert = _pending(session, alert_id, "withdrawn")
    if not _is_author(who, alert):
        raise AlertRefused(403, "forbidden", "only the author can withdraw an alert")
    now = utcnow()
    _move(session, alert, "cancelled", cancelled_at=now)
    record(session, who, "alert.withdraw", f"alert:{alert.id}")
    session.commit()
    return alert


def waiting_for(session: Session, who: Principal) -> list[Alert]:
    """Alerts this caller could approve now, oldest first (the top of the alerts list)."""
    if not who.has_role("coordinator"):
        return []
    pending = session.scalars(
        select(Alert).where(Alert.status == "pending_approval").order_by(Alert.id)
    ).all()
    return [a for a in pending if review_options(session, who, a).approve]


def on_duty_approvers(session: Session, author: str) -> list[tuple[str, str]]:
    """(phone, interface language) of active, on-duty coordinators and admins other than the
    author."""
    rows = session.execute(
        select(StaffUser.phone, StaffUser.language, StaffUser.role).where(
            StaffUser.active,
            StaffUser.on_duty,
            StaffUser.phone.is_not(None),
            StaffUser.phone != "",
            StaffUser.email != author,
        )
    ).all()
    approvers = {
        phone: language for phone, language, role in rows if role_at_least(role, "coordinator")
    }
    return sorted(approvers.items())


def notify_approvers(session: Session, alert: Alert) -> int:
    """SMS "Alert #N waits for approval: <title>" to the on-duty approvers, each in their own
    interface language (transactional path); a Redis outage loses the SMS, never the request:
    the alerts list shows it anyway."""
    from alerting.sending.transactional import enqueue_transactional

    sent = 0
    for phone, language in on_duty_approvers(session, alert.created_by):
        with force_locale(language if language in LOCALES else "en"):
            body = gettext(
                "Alert #%(id)s waits for approval: %(title)s", id=alert.id, title=alert.title
            )
        try:
            enqueue_transactional(phone, body)
            sent += 1
        except redis.RedisError:
            log.warning("could not queue the approval SMS of alert %s", alert.id)
    return sent
