"""The audit log: one call records who did what to what."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from alerting.models import AuditEvent


def record(
    session: Session, actor: Any, action: str, target: str = "", **detail: Any
) -> AuditEvent:
    """Add an audit event to the session; it is committed with the change it describes."""
    name = getattr(actor, "audit_name", None) or str(actor or "system")
    event = AuditEvent(
        actor=name,
        action=action,
        target=target,
        detail=detail,
        staff_user_id=getattr(actor, "staff_user_id", None),
    )
    session.add(event)
    return event
