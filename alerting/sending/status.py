"""Status changes that both the fan-out and the webhooks make: receipts (forward only, by
`states.RANK`) and opt-outs / opt-ins (STOP, START, provider 21610)."""

from __future__ import annotations

from sqlalchemy import (
    Connection,
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from alerting.audit import record
from alerting.db import insert_ignore
from alerting.models import ConsentEvent, DeliveryEvent, Message, OptOut, utcnow
from alerting.phones import mask
from alerting.register_changes import bump_register
from alerting.sending.provider import STATUS_MAP
from alerting.sending.states import receipt_sources, sources
from alerting.suppression import lift


def message_counts(session: Session, alert_id: int, channel: str | None = None) -> dict[str, int]:
    """How many of an alert's messages (of one channel: sms or voice) are in each status (only
    statuses that occur)."""
    query = select(Message.status, func.count()).where(Message.alert_id == alert_id)
    if channel is not None:
        query = query.where(Message.channel == channel)
    return dict(session.execute(query.group_by(Message.status)).all())


def _receipt_statements():
    """Core statements for the hot path (a receipt is ~1 ms of work, most of it the ORM's)."""
    m, e = Message.__table__, DeliveryEvent.__table__
    statements = {}
    for status in set(STATUS_MAP.values()):
        behind = m.c.status.in_(receipt_sources(status))
        statements[status] = (
            update(m)
            .where(m.c.id == bindparam("mid"))
            .values(
                status=case((behind, status), else_=m.c.status),
                error_code=case(
                    (and_(behind, bindparam("code", type_=String) != None), bindparam("code")),  # noqa: E711
                    else_=m.c.error_code,
                ),
                provider_sid=func.coalesce(m.c.provider_sid, bindparam("sid")),
                updated_at=bindparam("now"),
            )
        )
    touch = (
        update(m)
        .where(m.c.id == bindparam("mid"))
        .values(provider_sid=func.coalesce(m.c.provider_sid, bindparam("sid")))
    )
    return statements, touch, insert(e)


_STATEMENTS = None


def apply_receipt(conn: Connection, message_id: int | None, params: dict[str, str]) -> bool:
    """Record a status callback as an event and move the message forward if it is behind (a
    final status never changes). Returns whether the message exists. The caller commits."""
    global _STATEMENTS
    if _STATEMENTS is None:
        _STATEMENTS = _receipt_statements()
    by_status, touch, add_event = _STATEMENTS
    raw = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    sid = params.get("MessageSid") or params.get("SmsSid") or None
    code = params.get("ErrorCode") or None
    if message_id is None:
        if not sid:
            return False
        message_id = conn.scalar(select(Message.id).where(Message.provider_sid == sid))
        if message_id is None:
            return False
    status = STATUS_MAP.get(raw)
    stmt = by_status[status] if status else touch
    values = {"mid": message_id, "sid": sid, "code": code, "now": utcnow()}
    if conn.execute(stmt, values).rowcount != 1:
        return False  # no such message
    conn.execute(
        add_event,
        {
            "message_id": message_id,
            "provider_sid": sid or "",
            "status": raw or "?",
            "error_code": code,
            "payload": dict(params),
            "received_at": values["now"],
        },
    )
    return True


def opt_out(session: Session, phone: str, source: str, actor: str | None = None) -> bool:
    """Stop all SMS to `phone` at once: an OptOut row, a consent event, and its messages that
    are still waiting become `skipped`. Returns False when it was opted out already. Safe when
    two opt-outs of one phone race (a STOP while the provider reports 21610)."""
    session.add(ConsentEvent(phone=phone, action="opt_out", source=source))
    skipped = session.execute(
        update(Message)
        .where(Message.phone == phone, Message.status.in_(sources("opt_out")))
        .values(status="skipped", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    added = session.execute(
        insert_ignore(session, OptOut.__table__, ["phone"]),
        {"phone": phone, "source": source, "created_at": utcnow()},
    ).rowcount
    if not added:
        return False
    bump_register(session, opt_outs=True)
    record(
        session,
        actor or f"{source}:{mask(phone)}",
        "resident.opt_out",
        mask(phone),
        source=source,
        skipped=skipped,
    )
    return True


def opt_in(session: Session, phone: str, source: str, actor: str | None = None) -> bool:
    """START, the portal's subscribe or a new sign-up: the number receives alerts again, and a
    STOP kept from before a deletion (its suppression) is lifted. Returns False when nothing
    stopped it."""
    session.add(ConsentEvent(phone=phone, action="opt_in", source=source))
    removed = session.execute(delete(OptOut).where(OptOut.phone == phone)).rowcount
    lifted = lift(session, phone)
    if not (removed or lifted):
        return False
    if removed:
        bump_register(session, opt_outs=True)
    record(
        session, actor or f"{source}:{mask(phone)}", "resident.opt_in", mask(phone), source=source
    )
    return True
