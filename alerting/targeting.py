"""The one place that turns an area into recipients, for the preview and for the send alike.

The register's points live in memory as numpy arrays sorted into a grid of cells. A query classifies
the cells under the area with Shapely (wholly inside / outside / on the boundary) and tests only the
points of boundary cells, so a preview runs on every vertex while a coordinator draws. A version row
in the database tells each process when its arrays are stale, so the next preview after a change
sees it: one counter moves with what the arrays hold (a place added, moved or removed, a resident
added or removed, a phone changed), another with opt-outs. A resident's own settings (pause, quiet
hours, categories, language) do not move it: reloading every point in every process for a toggle
would be waste, and planning reads them from the database anyway. So the preview's language
breakdown shows languages as of the last reload.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import Engine, event, insert, inspect, select, update
from sqlalchemy.orm import Session

from alerting.models import Location, OptOut, RegisterVersion, Resident

POINTS_PER_CELL = 250  # measured: fewer, larger cells beat many small ones (bench_targeting)
EPS = 1e-9  # cell boxes are widened by this so rounding never drops a point on a cell edge


@dataclass(frozen=True)
class Snapshot:
    """The register as arrays; point i belongs to resident row loc_resident[i]."""

    version: int
    xs: np.ndarray  # float64, points ordered by grid cell
    ys: np.ndarray
    loc_resident: np.ndarray  # int32 index into resident_ids
    grid: int  # cells per side
    cell_start: np.ndarray  # int64, grid*grid + 1 offsets into the point arrays
    x0: float
    y0: float
    cw: float  # cell width and height in degrees
    ch: float
    resident_ids: np.ndarray  # int64, sorted
    resident_phone: np.ndarray  # int32 index into phones, -1 when not reachable
    resident_language: np.ndarray  # int16 index into languages
    phones: np.ndarray  # str, distinct reachable phones
    languages: list[str]


class Target:
    """Who an area reaches. Counts are cheap (the preview); lists are built on demand (the send)."""

    def __init__(self, s: Snapshot, opted: np.ndarray, hits: np.ndarray) -> None:
        self._s = s
        self._hits = hits
        resident_mask = np.zeros(len(s.resident_ids), dtype=bool)
        resident_mask[s.loc_resident[hits]] = True
        self._residents = np.flatnonzero(resident_mask)
        phone_idx = s.resident_phone[self._residents]
        self._phone_mask = np.zeros(len(s.phones), dtype=bool)
        self._phone_mask[phone_idx[phone_idx >= 0]] = True
        self._opted_mask = self._phone_mask & opted

    @property
    def counts(self) -> dict[str, int]:
        return {
            "residents": len(self._residents),
            "phones": int(np.count_nonzero(self._phone_mask)),
            "opted_out": int(np.count_nonzero(self._opted_mask)),
        }

    @property
    def resident_ids(self) -> np.ndarray:
        return self._s.resident_ids[self._residents]

    @property
    def phones(self) -> list[str]:
        """Distinct reachable phones, opted-out ones included."""
        return self._s.phones[self._phone_mask].tolist()

    @property
    def opted_out(self) -> list[str]:
        return self._s.phones[self._opted_mask].tolist()

    @property
    def points(self) -> np.ndarray:
        """(n, 2) longitude/latitude of the locations inside."""
        return np.column_stack((self._s.xs[self._hits], self._s.ys[self._hits]))

    @property
    def languages(self) -> dict[str, int]:
        """Residents per language."""
        counts = np.bincount(
            self._s.resident_language[self._residents], minlength=len(self._s.languages)
        )
        return {self._s.languages[i]: int(c) for i, c in enumerate(counts) if c}


class Register:
    """Per-process cache of the register, refreshed when the database version moves."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._opt_out_version = -1
        self._opted: np.ndarray = np.zeros(0, dtype=bool)

    def target(self, area) -> Target:
        snapshot, opted = self._current()
        return Target(snapshot, opted, points_inside(snapshot, area))

    def _current(self) -> tuple[Snapshot, np.ndarray]:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(RegisterVersion.locations, RegisterVersion.opt_outs).where(
                    RegisterVersion.id == 1
                )
            ).first()
            locations_version, opt_out_version = row if row else (0, 0)
            with self._lock:
                stale = self._snapshot is None or self._snapshot.version != locations_version
                if stale:
                    self._snapshot = load_snapshot(conn, locations_version)
                if stale or self._opt_out_version != opt_out_version:
                    phones = conn.execute(select(OptOut.phone)).scalars().all()
                    self._opted = opted_mask(self._snapshot, frozenset(phones))
                    self._opt_out_version = opt_out_version
                return self._snapshot, self._opted


def opted_mask(s: Snapshot, opted_out: frozenset[str]) -> np.ndarray:
    """Which of the snapshot's phones have opted out."""
    if not opted_out or not len(s.phones):
        return np.zeros(len(s.phones), dtype=bool)
    return np.isin(s.phones, np.array(sorted(opted_out), dtype=s.phones.dtype))


def load_snapshot(conn, version: int) -> Snapshot:
    """Read every location and resident once; raw cursors because ORM rows are 100× slower."""
    dbapi = conn.connection.dbapi_connection
    cursor = dbapi.cursor()
    cursor.execute("SELECT id, phone, reachable, language FROM residents ORDER BY id")
    residents = cursor.fetchall()
    cursor.execute("SELECT resident_id, lon, lat FROM locations")
    locations = cursor.fetchall()
    cursor.close()
    return build_snapshot(residents, locations, version)


def build_snapshot(
    residents: list, locations: list, version: int = 0, grid: int | None = None
) -> Snapshot:
    """Arrays from (id, phone, reachable, language) rows by id and (resident_id, lon, lat) rows."""
    resident_ids = np.fromiter((r[0] for r in residents), dtype=np.int64, count=len(residents))
    reachable = np.fromiter((bool(r[2]) for r in residents), dtype=bool, count=len(residents))
    phone_strings = np.array([r[1] for r in residents], dtype=str)
    phones, phone_index = np.unique(np.where(reachable, phone_strings, ""), return_inverse=True)
    resident_phone = phone_index.astype(np.int32)
    if len(phones) and phones[0] == "":
        resident_phone -= 1  # "" sorts first: the unreachable residents become -1
        phones = phones[1:]
    languages, language_index = np.unique(
        np.array([r[3] for r in residents], dtype=str), return_inverse=True
    )

    n = len(locations)
    flat = np.fromiter((v for row in locations for v in row), dtype=np.float64, count=3 * n)
    flat = flat.reshape(n, 3)
    loc_resident = np.searchsorted(resident_ids, flat[:, 0].astype(np.int64)).astype(np.int32)
    xs, ys = flat[:, 1], flat[:, 2]
    grid = grid or int(min(max(np.sqrt(n / POINTS_PER_CELL), 4), 1024))
    if n:
        x0, y0 = float(xs.min()), float(ys.min())
        cw = max((float(xs.max()) - x0) / grid, 1e-7)
        ch = max((float(ys.max()) - y0) / grid, 1e-7)
    else:
        x0 = y0 = 0.0
        cw = ch = 1.0
    cells = _cell_of(xs, ys, x0, y0, cw, ch, grid)
    order = np.argsort(cells, kind="stable")
    cell_start = np.searchsorted(cells[order], np.arange(grid * grid + 1))
    return Snapshot(
        version=version,
        xs=np.ascontiguousarray(xs[order]),
        ys=np.ascontiguousarray(ys[order]),
        loc_resident=loc_resident[order],
        grid=grid,
        cell_start=cell_start,
        x0=x0,
        y0=y0,
        cw=cw,
        ch=ch,
        resident_ids=resident_ids,
        resident_phone=resident_phone,
        resident_language=language_index.astype(np.int16),
        phones=phones,
        languages=[str(lang) for lang in languages],
    )


def _cell_of(xs, ys, x0, y0, cw, ch, grid: int) -> np.ndarray:
    cx = np.clip(((xs - x0) / cw).astype(np.int64), 0, grid - 1)
    cy = np.clip(((ys - y0) / ch).astype(np.int64), 0, grid - 1)
    return cy * grid + cx


def query(s: Snapshot, opted_out: frozenset[str], area) -> Target:
    """Target an area against a snapshot (the Register adds caching and freshness)."""
    return Target(s, opted_mask(s, opted_out), points_inside(s, area))


def points_inside(s: Snapshot, area) -> np.ndarray:
    """Indices of the points inside the area or on its edge (`covers`), in no set order."""
    none = np.zeros(0, dtype=np.int64)
    if not len(s.xs) or area.is_empty:
        return none
    minx, miny, maxx, maxy = area.bounds
    c0 = max(int((minx - s.x0) / s.cw) - 1, 0)
    c1 = min(int((maxx - s.x0) / s.cw) + 1, s.grid - 1)
    r0 = max(int((miny - s.y0) / s.ch) - 1, 0)
    r1 = min(int((maxy - s.y0) / s.ch) + 1, s.grid - 1)
    if c0 > c1 or r0 > r1:
        return none
    cx, cy = np.meshgrid(np.arange(c0, c1 + 1), np.arange(r0, r1 + 1))
    cx, cy = cx.ravel(), cy.ravel()
    cells = cy * s.grid + cx
    nonempty = s.cell_start[cells + 1] > s.cell_start[cells]
    cells, cx, cy = cells[nonempty], cx[nonempty], cy[nonempty]
    boxes = shapely.box(
        s.x0 + cx * s.cw - EPS,
        s.y0 + cy * s.ch - EPS,
        s.x0 + (cx + 1) * s.cw + EPS,
        s.y0 + (cy + 1) * s.ch + EPS,
    )
    shapely.prepare(area)
    touching = shapely.intersects(area, boxes)
    inside = touching.copy()
    inside[touching] = shapely.covers(area, boxes[touching])
    starts, ends = s.cell_start[cells], s.cell_start[cells + 1]
    whole = _ranges(starts[inside], ends[inside])  # every point of a cell wholly inside
    edge = touching & ~inside
    candidates = _ranges(starts[edge], ends[edge])  # points of cells on the boundary: test each
    tested = candidates[shapely.intersects_xy(area, s.xs[candidates], s.ys[candidates])]
    return np.concatenate((whole, tested))


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenate arange(start, end) for every pair, without a Python loop."""
    lengths = ends - starts
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total)


# --- keeping the version row current -------------------------------------------------------

# the columns the snapshot is built from; a change to any other column leaves it valid
_SNAPSHOT_COLUMNS = {Resident: ("phone", "reachable"), Location: ("resident_id", "lat", "lon")}


def bump_register(session: Session, locations: bool = False, opt_outs: bool = False) -> None:
    """Mark the cached arrays stale in every process (for bulk writes that bypass the ORM)."""
    values = {}
    if locations:
        values["locations"] = RegisterVersion.locations + 1
    if opt_outs:
        values["opt_outs"] = RegisterVersion.opt_outs + 1
    if not values:
        return
    result = session.execute(update(RegisterVersion).where(RegisterVersion.id == 1).values(values))
    if result.rowcount == 0:
        session.execute(insert(RegisterVersion).values(id=1, locations=1, opt_outs=1))


def _moves_snapshot(session: Session) -> bool:
    """Whether this flush changed what the snapshot holds (after_flush still has the history)."""
    for obj in (*session.new, *session.deleted):
        if type(obj) in _SNAPSHOT_COLUMNS:
            return True
    for obj in session.dirty:
        columns = _SNAPSHOT_COLUMNS.get(type(obj))
        if columns and any(inspect(obj).attrs[c].history.has_changes() for c in columns):
            return True
    return False


@event.listens_for(Session, "after_flush")
def _bump_on_change(session: Session, _context) -> None:
    changed = list(session.new) + list(session.dirty) + list(session.deleted)
    bump_register(
        session,
        locations=_moves_snapshot(session),
        opt_outs=any(isinstance(o, OptOut) for o in changed),
    )
