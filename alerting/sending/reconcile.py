"""Reconciliation: settle `unknown` messages with the provider before anything is sent again.

A message is `unknown` when its request may have reached the provider without our getting the
answer: a timeout, a connection lost after the request was written, or a claim whose job died
between the provider's acceptance and our storing its id (measured on a 30,000-phone run with
SIGKILLs: the id reached the database 0.06-1.4 s after acceptance). Resending blindly gave those
phones the alert two to eight times. Here the provider is asked whether it holds the message
(`Provider.find_sent`), the provider the message was claimed for (`messages.provider`) and no
other, so a message is never sent through a second provider while the first may hold it. If
it holds it, its SID and status are adopted (`answered`); if not, the message goes back to
`pending` and is sent again (`not_found`), on any provider, until the alert's send deadline
(alerting.sending.deadline) has passed: then it is `failed` with `timeout`. Each update is
guarded by the attempt count that was looked up, so a stale lookup never settles a later claim.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, bindparam, select, update

from alerting.config import Settings
from alerting.models import Alert, Message, utcnow
from alerting.sending.deadline import send_deadline
from alerting.sending.provider import Provider, ProviderError, SendResult
from alerting.sending.states import SENDING_ALERT_STATES, status_in

M = Message.__table__
BATCH = 100  # lookups per round
RECONCILE_AFTER_S = 2.0  # an `unknown` message is looked up this long after its request ended


@dataclass(frozen=True)
class Unknown:
    id: int
    phone: str
    body: str
    attempts: int
    since: datetime  # the alert's creation: every attempt of this message is younger
    provider: str | None  # where its last attempt went (None: before providers were recorded)


def due(engine: Engine, alert_id: int, lo: int, hi: int, settle_s: float) -> list[Unknown]:
    """`unknown` messages of the range whose request ended at least `settle_s` ago."""
    cutoff = utcnow() - timedelta(seconds=settle_s)
    query = (
        select(M.c.id, M.c.phone, M.c.body, M.c.attempts, Alert.created_at, M.c.provider)
        .join(Alert, Alert.id == M.c.alert_id)
        .where(
            M.c.alert_id == alert_id,
            M.c.id.between(lo, hi),
            M.c.channel == "sms",  # a call's unknown create: alerting.sending.voice
            M.c.status == "unknown",
            M.c.updated_at <= cutoff,
        )
        .order_by(M.c.id)
        .limit(BATCH)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [Unknown(*row) for row in rows]


def taken(engine: Engine, rows: list[Unknown]) -> frozenset[str]:
    """SIDs other messages to these phones already hold (so a lookup never adopts them; a
    row's own SID, stored by an early receipt, may be found again)."""
    phones = {r.phone for r in rows}
    with engine.connect() as conn:
        sids = conn.scalars(
            select(M.c.provider_sid).where(
                M.c.phone.in_(phones),
                M.c.provider_sid.is_not(None),
                M.c.id.not_in([r.id for r in rows]),
            )
        )
        return frozenset(sids)


# the rows being reconciled (`unknown`, the states `not_found` leaves) at the attempt looked up
_GUARD = and_(
    M.c.id == bindparam("mid"),
    M.c.attempts == bindparam("tries"),
    status_in(M.c.status, "not_found"),
)
_FOUND = (
    update(M)
    .where(_GUARD)
    .values(
        status=bindparam("st"),
        provider_sid=bindparam("sid"),
        error_code=None,
        sent_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
)
_NOT_FOUND = (
    update(M)
    .where(_GUARD)
    .values(
        status=bindparam("st"),
        next_attempt_at=bindparam("now"),
        error_code=bindparam("code"),
        updated_at=bindparam("now"),
    )
)


def settle(
    engine: Engine,
    settings: Settings,
    alert_id: int,
    found: dict[int, SendResult | None],
    rows: list[Unknown],
) -> None:
    """Apply the lookups: adopt what the provider holds; the rest is sent again, unless the
    alert was cancelled meanwhile or its send deadline has passed."""
    now = utcnow()
    with engine.begin() as conn:
        alert_status, category, started, created = conn.execute(
            select(Alert.status, Alert.category, Alert.started_at, Alert.created_at).where(
                Alert.id == alert_id
            )
        ).one()
        past_deadline = now >= send_deadline(settings, category, started or created)
        adopted, again = [], []
        for row in rows:
            if row.id not in found:
                continue  # the lookup itself failed: try again next round
            result = found[row.id]
            base = {"mid": row.id, "tries": row.attempts, "now": now}
            if result is not None:
                adopted.append(base | {"st": result.status, "sid": result.sid})
            elif alert_status not in SENDING_ALERT_STATES:
                again.append(base | {"st": "cancelled", "code": None})
            elif past_deadline:
                again.append(base | {"st": "failed", "code": "timeout"})
            else:
                again.append(base | {"st": "pending", "code": "timeout"})
        if adopted:
            conn.execute(_FOUND, adopted)
        if again:
            conn.execute(_NOT_FOUND, again)


async def reconcile(
    engine: Engine,
    settings: Settings,
    providers: dict[str, Provider],
    alert_id: int,
    lo: int,
    hi: int,
    settle_s: float,
    sem: asyncio.Semaphore,
) -> int:
    """Look up the due `unknown` messages of a range, each at its own provider, and settle
    them; returns how many."""
    rows = await asyncio.to_thread(due, engine, alert_id, lo, hi, settle_s)
    if not rows:
        return 0
    held = await asyncio.to_thread(taken, engine, rows)
    found: dict[int, SendResult | None] = {}

    async def look(row: Unknown) -> None:
        # a lookup the provider did not answer is asked again next round
        async with sem:
            with contextlib.suppress(ProviderError):
                provider = providers[row.provider or "twilio"]
                found[row.id] = await provider.find_sent(row.phone, row.body, row.since, held)

    await asyncio.gather(*(look(r) for r in rows))
    await asyncio.to_thread(settle, engine, settings, alert_id, found, rows)
    return len(found)
