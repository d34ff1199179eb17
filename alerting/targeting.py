"""The one place that turns an area into recipients, for the preview and for the send alike.

The register's points live in memory as numpy arrays sorted into a grid of cells. A query classifies
the cells under the area with Shapely (wholly inside / outside / on the boundary) and tests only the
points of boundary cells, so a preview runs on every vertex while a coordinator draws. A version row
in the database, bumped by every change to residents, locations or opt-outs, tells each process when
its arrays are stale, so the next preview after a change sees it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import Engine, event, insert, select, update
from sqlalchemy.orm import Session

from alerting.models import Location, OptOut, RegisterVersion, Resident

GRID = 256  # cells per side; a boundary cell holds ~1/65,000 of the points
EPS = 1e-9  # cell boxes are widened by this so rounding never drops a point on a cell edge


@dataclass(frozen=True)
class Snapshot:
    """The register as arrays; point i belongs to resident row loc_resident[i]."""

    version: int
    xs: np.ndarray  # float64, points ordered by grid cell
    ys: np.ndarray
    loc_resident: np.ndarray  # int32 index into resident_ids
    cell_start: np.ndarray  # int64, GRID*GRID + 1 offsets into the point arrays
    x0: float
    y0: float
    cw: float  # cell width and height in degrees
    ch: float
    resident_ids: np.ndarray  # int64, sorted
    resident_phone: np.ndarray  # int32 index into phones, -1 when not reachable
    resident_language: np.ndarray  # int16 index into languages
    phones: np.ndarray  # str, distinct reachable phones
    languages: list[str]


@dataclass(frozen=True)
class Target:
    """Who an area reaches. The preview shows the counts; the send uses the ids and phones."""

    resident_ids: np.ndarray
    phones: list[str]  # distinct reachable phones, including opted-out ones
    opted_out: list[str]
    points: np.ndarray  # (n, 2) lon/lat of the locations inside
    languages: dict[str, int]  # residents per language

    @property
    def counts(self) -> dict[str, int]:
        return {
            "residents": int(len(self.resident_ids)),
            "phones": len(self.phones),
            "opted_out": len(self.opted_out),
        }


class Register:
    """Per-process cache of the register, refreshed when the database version moves."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._opt_out_version = -1
        self._opted_out: frozenset[str] = frozenset()

    def target(self, area) -> Target:
        snapshot, opted_out = self._current()
        return query(snapshot, opted_out, area)

    def _current(self) -> tuple[Snapshot, frozenset[str]]:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(RegisterVersion.locations, RegisterVersion.opt_outs).where(
                    RegisterVersion.id == 1
                )
            ).first()
            locations_version, opt_out_version = row if row else (0, 0)
            with self._lock:
                if self._snapshot is None or self._snapshot.version != locations_version:
                    self._snapshot = load_snapshot(conn, locations_version)
                if self._opt_out_version != opt_out_version:
                    phones = conn.execute(select(OptOut.phone)).scalars()
                    self._opted_out = frozenset(phones)
                    self._opt_out_version = opt_out_version
                return self._snapshot, self._opted_out


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


def build_snapshot(residents: list, locations: list, version: int = 0) -> Snapshot:
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
    if n:
        x0, y0 = float(xs.min()), float(ys.min())
        cw = max((float(xs.max()) - x0) / GRID, 1e-7)
        ch = max((float(ys.max()) - y0) / GRID, 1e-7)
    else:
        x0 = y0 = 0.0
        cw = ch = 1.0
    cells = _cell_of(xs, ys, x0, y0, cw, ch)
    order = np.argsort(cells, kind="stable")
    cell_start = np.searchsorted(cells[order], np.arange(GRID * GRID + 1))
    return Snapshot(
        version=version,
        xs=np.ascontiguousarray(xs[order]),
        ys=np.ascontiguousarray(ys[order]),
        loc_resident=loc_resident[order],
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


def _cell_of(xs, ys, x0, y0, cw, ch) -> np.ndarray:
    cx = np.clip(((xs - x0) / cw).astype(np.int64), 0, GRID - 1)
    cy = np.clip(((ys - y0) / ch).astype(np.int64), 0, GRID - 1)
    return cy * GRID + cx


def query(s: Snapshot, opted_out: frozenset[str], area) -> Target:
    point_mask = _points_inside(s, area)
    hits = np.flatnonzero(point_mask)
    resident_mask = np.zeros(len(s.resident_ids), dtype=bool)
    resident_mask[s.loc_resident[hits]] = True
    residents = np.flatnonzero(resident_mask)
    phone_idx = s.resident_phone[residents]
    phone_mask = np.zeros(len(s.phones), dtype=bool)
    phone_mask[phone_idx[phone_idx >= 0]] = True
    phones = s.phones[phone_mask].tolist()
    counts = np.bincount(s.resident_language[residents], minlength=len(s.languages))
    return Target(
        resident_ids=s.resident_ids[residents],
        phones=phones,
        opted_out=[p for p in phones if p in opted_out] if opted_out else [],
        points=np.column_stack((s.xs[hits], s.ys[hits])),
        languages={s.languages[i]: int(c) for i, c in enumerate(counts) if c},
    )


def _points_inside(s: Snapshot, area) -> np.ndarray:
    """Boolean mask over the points: inside the area or on its edge (`covers`)."""
    mask = np.zeros(len(s.xs), dtype=bool)
    if not len(s.xs) or area.is_empty:
        return mask
    minx, miny, maxx, maxy = area.bounds
    c0 = max(int((minx - s.x0) / s.cw) - 1, 0)
    c1 = min(int((maxx - s.x0) / s.cw) + 1, GRID - 1)
    r0 = max(int((miny - s.y0) / s.ch) - 1, 0)
    r1 = min(int((maxy - s.y0) / s.ch) + 1, GRID - 1)
    if c0 > c1 or r0 > r1:
        return mask
    cx, cy = np.meshgrid(np.arange(c0, c1 + 1), np.arange(r0, r1 + 1))
    cx, cy = cx.ravel(), cy.ravel()
    cells = cy * GRID + cx
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

    # whole cells: mark their point ranges with a difference array
    full_starts, full_ends = starts[inside], ends[inside]
    if len(full_starts):
        diff = np.zeros(len(s.xs) + 1, dtype=np.int32)
        np.add.at(diff, full_starts, 1)
        np.add.at(diff, full_ends, -1)
        mask |= np.cumsum(diff[:-1]) > 0

    edge = touching & ~inside
    edge_starts, edge_ends = starts[edge], ends[edge]
    if len(edge_starts):
        lengths = edge_ends - edge_starts
        idx = np.repeat(edge_starts - np.cumsum(lengths) + lengths, lengths) + np.arange(
            lengths.sum()
        )
        mask[idx[shapely.intersects_xy(area, s.xs[idx], s.ys[idx])]] = True
    return mask


# --- keeping the version row current -------------------------------------------------------

_LOCATION_TYPES = (Resident, Location)


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


@event.listens_for(Session, "after_flush")
def _bump_on_change(session: Session, _context) -> None:
    changed = list(session.new) + list(session.dirty) + list(session.deleted)
    bump_register(
        session,
        locations=any(isinstance(o, _LOCATION_TYPES) for o in changed),
        opt_outs=any(isinstance(o, OptOut) for o in changed),
    )
