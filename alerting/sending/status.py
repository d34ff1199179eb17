"""Status changes that both the fan-out and the webhooks make: receipts (forward only, by
`states.RANK`) and opt-outs / opt-ins (STOP, START, provider 21610)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    Update,
    and_,
    bindparam,
    case,
    column,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from alerting.audit import record
from alerting.db import insert_ignore
from alerting.models import ConsentEvent, DeliveryEvent, Message, OptOut, utcnow
from alerting.phones import mask
from alerting.register_changes import bump_register
from alerting.sending.provider import STATUS_MAP
from alerting.sending.states import RANK, behind, sources
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


def _changes(status: str | None, sid, code, now) -> dict[str, Any]:
    """The SET of a receipt's UPDATE: the status moves only out of the states behind it
    (`states.behind`), the error code with it; the first SID is kept."""
    m = Message.__table__
    changes: dict[str, Any] = {"provider_sid": func.coalesce(m.c.provider_sid, sid)}
    if status is not None:
        moves = behind(m.c.status, status)
        changes.update(
            status=case((moves, status), else_=m.c.status),
            error_code=case((and_(moves, code.is_not(None)), code), else_=m.c.error_code),
            updated_at=now,
        )
    return changes


@functools.cache
def _update(status: str | None, dialect: str) -> Update:
    """The UPDATE for every message of a batch whose receipts reach `status`, built once per
    status (so compiled once): on PostgreSQL one statement over the batch as arrays (`UPDATE
    ... FROM unnest(...)`), on SQLite one row's statement run as an executemany (a C loop)."""
    m = Message.__table__
    if dialect == "postgresql":
        v = (
            func.unnest(
                bindparam("mids", type_=ARRAY(Integer)),
                bindparam("sids", type_=ARRAY(String)),
                bindparam("codes", type_=ARRAY(String)),
            )
            .table_valued(column("mid", Integer), column("sid", String), column("code", String))
            .render_derived(name="v")
        )
        mid, sid, code = v.c.mid, v.c.sid, v.c.code
    else:
        mid, sid, code = (
            bindparam(n, type_=t) for n, t in (("mid", Integer), ("sid", String), ("code", String))
        )
    return update(m).where(m.c.id == mid).values(_changes(status, sid, code, bindparam("now")))


def _move_rows(
    conn: Connection, status: str | None, moves: dict[int, _Move], now: datetime
) -> None:
    """Every message of the batch whose receipts reach `status`, in one statement."""
    stmt = _update(status, conn.dialect.name)
    if conn.dialect.name == "postgresql":
        sids, codes = [mv.sid for mv in moves.values()], [mv.code for mv in moves.values()]
        conn.execute(stmt, {"mids": list(moves), "sids": sids, "codes": codes, "now": now})
    else:
        conn.execute(
            stmt,
            [{"mid": mid, "sid": mv.sid, "code": mv.code, "now": now} for mid, mv in moves.items()],
        )


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
        _move_rows(conn, status, group, now)
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
