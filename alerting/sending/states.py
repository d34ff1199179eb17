"""The one table of message and alert states and the moves between them.

Every conditional UPDATE that changes a status (claim, store, reconcile, receipts, cancel,
opt-out, sweep) takes its `WHERE status IN (...)` from `MOVES` here, so what may follow what is
written once. `ALLOWED_TRANSITIONS` is the same table read per state (GOV.UK Emergency Alerts'
`ALLOWED_STATUS_TRANSITIONS`), for readers, the UI and the tests.

The state names live in `alerting.models` (models import nothing from sending); this module
refuses to load when the two disagree.
"""

from __future__ import annotations

from sqlalchemy import or_

from alerting.models import FINAL_MESSAGE_STATES, MESSAGE_STATES

# What the provider can tell us about a message it holds (our names, see provider.STATUS_MAP).
PROVIDER_STATES = ("queued", "accepted", "sent", "delivered", "undelivered", "failed")
# A claim holds the message: a request may be on the wire (`sending`) or may have reached the
# provider without an answer (`unknown`). Only the claim's own job may settle it.
HELD = ("sending", "unknown")

# How far along a message is. Receipts only ever move a status to a higher rank; finals (4)
# never move. `pending` is below every provider state so a receipt for a message that was put
# back (a late answer) still records that the provider has it.
RANK = {
    "pending": 0,
    "sending": 1,
    "unknown": 1,
    "queued": 2,
    "accepted": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "skipped": 4,
    "cancelled": 4,
}

# Each way a message's status changes: (states it may come from, states it may go to).
MOVES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # a send job takes it (one conditional UPDATE: only one job can)
    "claim": (("pending",), ("sending",)),
    # the provider answered with its id, or reconciling found the message at the provider
    "answered": (HELD, ("queued", "accepted", "sent", "delivered", "undelivered", "failed")),
    # the provider proved it did not take it (429, 5xx, refused connection): try again later,
    # until the alert's send deadline (then `rejected` with the provider's code)
    "refused": (("sending",), ("pending",)),
    # a permanent refusal (21211, 21610, 21614, ...), or a transient one past the deadline
    "rejected": (("sending",), ("failed",)),
    # a timeout, a reset after the request was written, a claim whose job died: the provider
    # may hold it, so it is looked up before any resend
    "no_answer": (("sending",), ("unknown",)),
    # reconciled: the provider holds no such message; send again (or not: cancelled, or past
    # the alert's send deadline)
    "not_found": (("unknown",), ("pending", "cancelled", "failed")),
    # the alert was cancelled after the claim, before the message was handed to the provider
    "withdrawn": (("sending",), ("cancelled",)),
    "cancel": (("pending",), ("cancelled",)),
    "opt_out": (("pending",), ("skipped",)),
}

# Alerts: what may follow what. Messages go out only while the alert is in SENDING_ALERT_STATES
# (a plan enqueues its first send jobs while the alert is still `scheduled`).
ALERT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("pending_approval", "scheduled", "cancelled"),
    # two-person approval: a second coordinator approves (scheduled) or rejects; the author
    # may withdraw (cancelled)
    "pending_approval": ("scheduled", "rejected", "cancelled"),
    "rejected": (),
    "scheduled": ("sending", "completed", "cancelled"),
    "sending": ("sent", "completed", "cancelled"),
    "sent": ("completed", "cancelled"),
    "completed": (),
    "cancelled": (),
}
SENDING_ALERT_STATES = ("scheduled", "sending", "sent")


def receipt_sources(status: str) -> tuple[str, ...]:
    """States a receipt saying `status` moves a message out of: every lower rank."""
    return tuple(s for s, r in RANK.items() if r < RANK[status])


def sources(move: str) -> tuple[str, ...]:
    """The states `move` applies to: the `WHERE status IN (...)` of its UPDATE."""
    return MOVES[move][0]


def status_in(column, move: str, only: tuple[str, ...] | None = None):
    """`column IN (sources(move))` as plain comparisons, so the statement also runs as an
    executemany (an expanding IN cannot); `only` narrows it (e.g. to HELD)."""
    states = [s for s in sources(move) if only is None or s in only]
    return or_(*(column == s for s in states))


def behind(column, status: str):
    """`column IN (receipt_sources(status))` as plain comparisons (see `status_in`): the guard
    of every receipt's UPDATE."""
    return or_(*(column == s for s in receipt_sources(status)))


def may_move(move: str, old: str, new: str) -> bool:
    before, after = MOVES[move]
    return old in before and new in after


def _allowed() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {s: set() for s in MESSAGE_STATES}
    for before, after in MOVES.values():
        for old in before:
            table[old].update(after)
    for status in PROVIDER_STATES:  # receipts
        for old in receipt_sources(status):
            table[old].add(status)
    return {s: frozenset(n - {s}) for s, n in table.items()}


ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = _allowed()


def alert_may_become(old: str, new: str) -> bool:
    return new in ALERT_TRANSITIONS.get(old, ())


def alert_sources(new: str) -> tuple[str, ...]:
    """Alert states that may move to `new` (the guard of that UPDATE)."""
    return tuple(s for s, after in ALERT_TRANSITIONS.items() if new in after)


def _check() -> None:
    """The message state names in alerting.models and the table here must be the same states
    (the alert states are compared by the tests: other parts add alert states)."""
    final = tuple(s for s, r in RANK.items() if r == max(RANK.values()))
    if set(RANK) != set(MESSAGE_STATES) or set(final) != set(FINAL_MESSAGE_STATES):
        raise RuntimeError("alerting.models MESSAGE_STATES disagree with sending.states.RANK")
    if any(ALLOWED_TRANSITIONS[s] for s in FINAL_MESSAGE_STATES):
        raise RuntimeError("a final message state has a way out")


_check()
