"""The register's version row and change log, which keep every process's cached arrays fresh.

A write that changes what the arrays hold (a place added, moved or removed; a resident added or
removed; a phone, its reachability or the language changed) moves `register_version.locations`
and logs the residents it touched at that version. Opt-outs move their own counter. The version
row is updated with `UPDATE ... locations + 1`, whose row lock is held until commit, so versions
commit in order: a reader that sees version V committed can read every change up to V.
A resident's other settings (pause, quiet hours, categories) move nothing: planning reads them
from the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, Select, delete, event, insert, inspect, literal, select, update
from sqlalchemy.orm import Session

from alerting.models import Location, OptOut, RegisterChange, RegisterVersion, Resident

# the columns the arrays are built from; a change to any other column leaves them valid
_SNAPSHOT_COLUMNS = {
    Resident: ("phone", "reachable", "language"),
    Location: ("resident_id", "lat", "lon"),
}


def bump_register(
    session: Session,
    residents: Iterable[int] | Select = (),
    opt_outs: bool = False,
) -> None:
    """Log the residents whose targeting data changed (ids, or a SELECT of ids for bulk writes)
    and move the counters, in the caller's transaction."""
    ids = residents if isinstance(residents, Select) else sorted(set(residents))
    if opt_outs:
        _move(session, {"opt_outs": RegisterVersion.opt_outs + 1})
    if isinstance(ids, list) and not ids:
        return
    version = _move(session, {"locations": RegisterVersion.locations + 1})
    if isinstance(ids, Select):
        rows = select(literal(version), ids.subquery().c[0])
        session.execute(insert(RegisterChange).from_select(["version", "resident_id"], rows))
    else:
        session.execute(
            insert(RegisterChange), [{"version": version, "resident_id": i} for i in ids]
        )


def _move(session: Session, values: dict) -> int:
    """Increment a counter of the one version row; the new `locations` version."""
    moved = session.execute(
        update(RegisterVersion)
        .where(RegisterVersion.id == 1)
        .values(values)
        .returning(RegisterVersion.locations)
    ).scalar()
    if moved is None:  # a database made without `alerting db upgrade`'s seed row
        session.execute(insert(RegisterVersion).values(id=1, locations=1, opt_outs=1))
        moved = 1
    return moved


def versions(conn: Connection) -> tuple[int, int]:
    """(locations, opt_outs) as committed now."""
    row = conn.execute(
        select(RegisterVersion.locations, RegisterVersion.opt_outs).where(RegisterVersion.id == 1)
    ).first()
    return (row[0], row[1]) if row else (0, 0)


def epoch(conn: Connection) -> str:
    """The token naming this database's snapshot files."""
    return conn.scalar(select(RegisterVersion.epoch).where(RegisterVersion.id == 1)) or "none"


def changed_since(conn: Connection, version: int) -> set[int] | None:
    """The residents changed after `version` (read after `versions`, so none up to it is
    missed); None when the log no longer reaches back that far (then reload everything)."""
    kept_after = conn.scalar(select(RegisterVersion.changes_after).where(RegisterVersion.id == 1))
    if kept_after and version < kept_after:
        return None
    rows = conn.execute(
        select(RegisterChange.resident_id).where(RegisterChange.version > version)
    ).scalars()
    return set(rows)


def prune_changes(session: Session, before: datetime) -> int:
    """Drop the changes logged before `before`; a process whose cache is older than what is
    left reloads it whole. How many rows went."""
    last = session.scalar(
        select(RegisterChange.version)
        .where(RegisterChange.at < before)
        .order_by(RegisterChange.version.desc())
        .limit(1)
    )
    if last is None:
        return 0
    # the mark first: a reader that sees rows gone also sees the mark (same commit)
    session.execute(
        update(RegisterVersion).where(RegisterVersion.id == 1).values(changes_after=last)
    )
    return session.execute(delete(RegisterChange).where(RegisterChange.version <= last)).rowcount


def _touched(session: Session) -> set[int]:
    """Residents whose arrays' data this flush changed (after_flush still has the history)."""
    touched: set[int] = set()
    for obj in (*session.new, *session.deleted, *session.dirty):
        columns = _SNAPSHOT_COLUMNS.get(type(obj))
        if columns is None:
            continue
        state = inspect(obj)
        if obj in session.dirty and not any(state.attrs[c].history.has_changes() for c in columns):
            continue
        if isinstance(obj, Resident):
            touched.add(obj.id)
        else:
            history = state.attrs["resident_id"].history
            touched.update(i for i in (*history.deleted, obj.resident_id) if i is not None)
    return touched


@event.listens_for(Session, "after_flush")
def _bump_on_change(session: Session, _context) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    bump_register(
        session,
        _touched(session),
        opt_outs=any(isinstance(o, OptOut) for o in changed),
    )
