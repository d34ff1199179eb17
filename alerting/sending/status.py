"""Status changes that both the fan-out and the webhooks make: receipts (forward only, by
`states.RANK`) and opt-outs / opt-ins (STOP, START, provider 21610)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    and_,
    case,
    column,
    delete,
    func,
    insert,
    select,
    update,
    values,
)
from sqlalchemy.orm import Session

from alerting.audit import record
from alerting.db import insert_ignore
from alerting.models import ConsentEvent, DeliveryEvent, Message, OptOut, utcnow
from alerting.phones import mask
from alerting.register_changes import bump_register
from alerting.sending.provider import STATUS_MAP
from alerting.sending.states import RANK, receipt_sources, sources
from alerting.suppression import lift


def message_counts(session: Session, alert_id: int, channel: str | None = None) -> dict[str, int]:
    """How many of an alert's messages (of one channel: sms or voice) are in each status (only
    statuses that occur)."""
    query = select(Message.status, func.count()).where(Message.alert_id == alert_id)
    if channel is not None:
        query = query.where(Message.channel == channel)
    return dict(session.execute(query.group_by(Message.status)).all())


Receipt = tuple[int | None, Mapping[str, str]]  # (our message id from the URL, the fields)


@dataclass(slots=True)
class _Move:
    """What a batch does to one message: the furthest status its receipts report (the first of
    them when two finals tie: a final never changes) and the first SID they carry."""

    status: str | None = None  # ours, from STATUS_MAP; None: no status we know (SID only)
    code: str | None = None
    sid: str | None = None

    def add(self, status: str | None, code: str | None, sid: str | None) -> None:
        if status and (self.status is None or RANK[status] > RANK[self.status]):
            self.status, self.code = status, code
        self.sid = self.sid or sid


def _move_rows(conn: Connection, status: str | None, moves: dict[int, _Move]) -> None:
    """One UPDATE ... FROM (VALUES ...) for every message of the batch moving to `status`: a
    message moves only out of the states behind it (`states.receipt_sources`)."""
    m = Message.__table__
    v = (
        values(column("mid", Integer), column("sid", String), column("code", String), name="v")
        .data([(mid, move.sid, move.code) for mid, move in moves.items()])
        .cte("v")
    )
    changes: dict[str, Any] = {"provider_sid": func.coalesce(m.c.provider_sid, v.c.sid)}
    if status is not None:
        behind = m.c.status.in_(receipt_sources(status))
        changes.update(
            status=case((behind, status), else_=m.c.status),
            error_code=case((and_(behind, v.c.code.is_not(None)), v.c.code), else_=m.c.error_code),
            updated_at=utcnow(),
        )
    conn.execute(update(m).where(m.c.id == v.c.mid).values(**changes))


def apply_receipts(conn: Connection, receipts: Sequence[Receipt]) -> int:
    """Record status callbacks as events and move each message forward if it is behind (a
    final status never changes), set-based: a few statements per batch, not two per receipt.
    A receipt without our id is found by its SID; one for no message is dropped. Returns how
    many were recorded. The caller commits."""
    parsed = [
        (
            mid,
            params,
            (params.get("MessageStatus") or params.get("SmsStatus") or "").lower(),
            params.get("MessageSid") or params.get("SmsSid") or None,
        )
        for mid, params in receipts
    ]
    m = Message.__table__
    wanted = {sid for mid, _p, _r, sid in parsed if mid is None and sid}
    by_sid: dict[str, int] = {}
    if wanted:
        by_sid = dict(
            conn.execute(select(m.c.provider_sid, m.c.id).where(m.c.provider_sid.in_(wanted))).all()
        )
    # a SID first stored by an earlier receipt of this batch (one that carried our id)
    for mid, _p, _r, sid in parsed:
        if mid is not None and sid in wanted:
            by_sid.setdefault(sid, mid)
    resolved = [(mid if mid is not None else by_sid.get(sid or ""), *rest) for mid, *rest in parsed]
    ids = {mid for mid, *_rest in resolved if mid is not None}
    found = set(conn.scalars(select(m.c.id).where(m.c.id.in_(ids)))) if ids else set()
    now = utcnow()
    moves: dict[int, _Move] = {}
    events = []
    for mid, params, raw, sid in resolved:
        if mid not in found:
            continue
        code = params.get("ErrorCode") or None
        moves.setdefault(mid, _Move()).add(STATUS_MAP.get(raw), code, sid)
        events.append(
            {
                "message_id": mid,
                "provider_sid": sid or "",
                "status": raw or "?",
                "error_code": code,
                "payload": dict(params),
                "received_at": now,
            }
        )
    by_status: dict[str | None, dict[int, _Move]] = {}
    for mid, move in moves.items():
        by_status.setdefault(move.status, {})[mid] = move
    for status, group in by_status.items():
        _move_rows(conn, status, group)
    if events:
        conn.execute(insert(DeliveryEvent.__table__), events)
    return len(events)


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
