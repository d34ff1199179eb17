"""The one place that turns an area into recipients, for the preview and for the send alike.

The register's points live in memory as numpy arrays sorted along a Z-order curve, so every node of
a quadtree over them is one contiguous run of points. A query walks the quadtree level by level,
classifying nodes with Shapely (wholly inside / outside / on the boundary), splits only boundary
nodes that still hold many points and tests the points of the small ones, so dense towns and empty
mountains cost the same per metre of boundary and a preview runs on every vertex while a
coordinator draws. Changes reach
every process without reloading every point: each preview reads the register's version
(`alerting.register_changes`) and, when it moved, reads only the residents changed since into an
overlay that masks their old rows; a rebuild in the background folds a grown overlay into a new
snapshot while the old one goes on answering.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from sqlalchemy import Engine, select

from alerting.models import Location, OptOut, Resident
from alerting.register_changes import changed_since, epoch, versions
from alerting.register_columns import Columns, columns_of, read_columns

if TYPE_CHECKING:
    from alerting.snapshot_files import SnapshotStore

log = logging.getLogger(__name__)
COMPACT_AFTER = 50_000  # overlay residents + places: about 5 ms a preview; then a rebuild
PATCH_CHUNK = 5_000  # ids per IN (...) when reading changed residents
BUILD_TIMEOUT_S = 1800  # a child building the snapshot: 10,000,000 rows took 107-267 s
LEAF = 128  # measured (bench_targeting): testing this many points costs about one node's split
DEPTH = 16  # quadtree levels: 65,536 nodes per side, under a metre across a country
EPS = 1e-9  # node boxes are widened by this so rounding never drops a point on a node's edge


@dataclass(frozen=True)
class Snapshot:
    """The register as arrays; point i belongs to resident row loc_resident[i]."""

    version: int
    xs: np.ndarray  # float64, points in Z-order
    ys: np.ndarray
    loc_resident: np.ndarray  # int32 index into resident_ids
    codes: np.ndarray  # uint32 Z-order code of each point, ascending
    x0: float  # the quadtree's root box: x0, y0, width and height in degrees
    y0: float
    width: float
    height: float
    leaf: int  # a boundary node with at most this many points has them tested one by one
    resident_ids: np.ndarray  # int64, sorted
    resident_phone: np.ndarray  # int32 index into phones, -1 when not reachable
    resident_language: np.ndarray  # int16 index into languages
    phones: np.ndarray  # str, distinct reachable phones
    languages: list[str]
    landlines: np.ndarray  # str, distinct fixed-line phones (called, never texted)
    resident_landline: np.ndarray  # int32 index into landlines, -1 when reachable by SMS


@dataclass(frozen=True)
class Overlay:
    """The residents changed since the snapshot, as they are now. Their rows in the snapshot are
    masked; their places are tested one by one (they are few: compaction keeps it so)."""

    version: int
    masked: np.ndarray  # bool per snapshot resident: changed, so its snapshot rows do not count
    resident_ids: np.ndarray  # int64, sorted: the changed residents that still exist
    phones: np.ndarray  # str per resident, "" when not reachable
    languages: np.ndarray  # str per resident
    landlines: np.ndarray  # str per resident, "" when reachable
    xs: np.ndarray  # float64, their places
    ys: np.ndarray
    loc_resident: np.ndarray  # int64 index into resident_ids

    @property
    def size(self) -> int:
        """Residents plus places held: what a preview tests one by one."""
        return len(self.resident_ids) + len(self.xs)


def empty_overlay(s: Snapshot) -> Overlay:
    return Overlay(
        version=s.version,
        masked=np.zeros(len(s.resident_ids), dtype=bool),
        resident_ids=np.zeros(0, dtype=np.int64),
        phones=np.zeros(0, dtype=str),
        languages=np.zeros(0, dtype=str),
        landlines=np.zeros(0, dtype=str),
        xs=np.zeros(0),
        ys=np.zeros(0),
        loc_resident=np.zeros(0, dtype=np.int64),
    )


def patched(
    s: Snapshot, o: Overlay, changed: set[int], residents: list, locations: list, version: int
) -> Overlay:
    """The overlay with the changed residents' current rows, (id, phone, reachable, language)
    and (resident_id, lon, lat), in place of what it held for them."""
    ids = np.fromiter(changed, dtype=np.int64, count=len(changed))
    masked = o.masked.copy()
    at, known = positions(s.resident_ids, ids)
    masked[at[known]] = True

    kept = ~np.isin(o.resident_ids, ids)
    new_ids = np.array([r[0] for r in residents], dtype=np.int64)
    every = np.concatenate((o.resident_ids[kept], new_ids))
    order = np.argsort(every, kind="stable")
    phones = np.array([r[1] if r[2] else "" for r in residents], dtype=str)
    landlines = np.array([r[1] if not r[2] else "" for r in residents], dtype=str)
    languages = np.array([r[3] for r in residents], dtype=str)

    kept_places = kept[o.loc_resident]
    owners = np.array([r[0] for r in locations], dtype=np.int64)
    alive = np.isin(owners, new_ids)  # a resident gone meanwhile has no places
    xy = np.array([(r[1], r[2]) for r in locations], dtype=np.float64).reshape(-1, 2)[alive]
    owners = np.concatenate((o.resident_ids[o.loc_resident[kept_places]], owners[alive]))
    resident_ids = every[order]
    return Overlay(
        version=version,
        masked=masked,
        resident_ids=resident_ids,
        phones=np.concatenate((o.phones[kept], phones))[order],
        languages=np.concatenate((o.languages[kept], languages))[order],
        landlines=np.concatenate((o.landlines[kept], landlines))[order],
        xs=np.concatenate((o.xs[kept_places], xy[:, 0])),
        ys=np.concatenate((o.ys[kept_places], xy[:, 1])),
        loc_resident=np.searchsorted(resident_ids, owners),
    )


class Target:
    """Who an area reaches. Counts are cheap (the preview); lists are built on demand (the send)."""

    def __init__(
        self,
        s: Snapshot,
        o: Overlay,
        opted: np.ndarray,
        opted_phones: np.ndarray,
        hits: np.ndarray,
        overlay_hits: np.ndarray,
    ) -> None:
        self._s, self._o = s, o
        # a snapshot without changed residents (the common case) has nothing to mask
        self._hits = hits[~o.masked[s.loc_resident[hits]]] if o.masked.any() else hits
        self._overlay_hits = overlay_hits
        self._residents = distinct(s.loc_resident[self._hits], len(s.resident_ids))
        self._overlay_residents = distinct(o.loc_resident[overlay_hits], len(o.resident_ids))
        phone_idx = s.resident_phone[self._residents]
        # the overlay's phones: those the snapshot knows join its own, the others stand apart
        theirs = o.phones[self._overlay_residents]
        theirs = theirs[theirs != ""]
        at, known = positions(s.phones, theirs)
        self._phone_idx = distinct(
            np.concatenate((phone_idx[phone_idx >= 0], at[known])), len(s.phones)
        )
        self._extra = _distinct_text(theirs[~known])
        self._opted_idx = self._phone_idx[opted[self._phone_idx]]
        self._extra_opted = self._extra[np.isin(self._extra, opted_phones)]
        self._opted_phones = opted_phones

    @property
    def landlines(self) -> np.ndarray:
        """Distinct fixed-line phones inside that have not opted out: the ones called."""
        at = self._s.resident_landline[self._residents]
        theirs = self._o.landlines[self._overlay_residents]
        theirs = theirs[theirs != ""]
        known_at, known = positions(self._s.landlines, theirs)
        inside = distinct(np.concatenate((at[at >= 0], known_at[known])), len(self._s.landlines))
        every = self._s.landlines[inside]  # sorted: the snapshot's landlines are
        if not known.all():
            every = np.sort(np.concatenate((every, _distinct_text(theirs[~known]))))
        return every[~np.isin(every, self._opted_phones)]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "residents": len(self._residents) + len(self._overlay_residents),
            "phones": len(self._phone_idx) + len(self._extra),
            "opted_out": len(self._opted_idx) + len(self._extra_opted),
            "landlines": len(self.landlines),
        }

    @property
    def resident_ids(self) -> np.ndarray:
        return np.sort(
            np.concatenate(
                (
                    self._s.resident_ids[self._residents],
                    self._o.resident_ids[self._overlay_residents],
                )
            )
        )

    @property
    def phones(self) -> list[str]:
        """Distinct reachable phones, opted-out ones included."""
        return self._s.phones[self._phone_idx].tolist() + self._extra.tolist()

    @property
    def opted_out(self) -> list[str]:
        return self._s.phones[self._opted_idx].tolist() + self._extra_opted.tolist()

    @property
    def points(self) -> np.ndarray:
        """(n, 2) longitude/latitude of the locations inside."""
        return np.column_stack(
            (
                np.concatenate((self._s.xs[self._hits], self._o.xs[self._overlay_hits])),
                np.concatenate((self._s.ys[self._hits], self._o.ys[self._overlay_hits])),
            )
        )

    @property
    def languages(self) -> dict[str, int]:
        """Residents per language."""
        counts = np.bincount(
            self._s.resident_language[self._residents], minlength=len(self._s.languages)
        )
        result = {self._s.languages[i]: int(c) for i, c in enumerate(counts) if c}
        for language, n in zip(
            *np.unique(self._o.languages[self._overlay_residents], return_counts=True),
            strict=True,
        ):
            result[str(language)] = result.get(str(language), 0) + int(n)
        return result


class Register:
    """Per-process cache of the register: a snapshot of every point, patched on each preview with
    an overlay of the residents changed since (read by version from the change log), and
    rebuilt in the background once the overlay grows past `compact_after` (by a child process
    when there are snapshot files, else by a thread); until the new snapshot is ready the old one
    and its overlay answer, so no preview waits for a rebuild.
    With a store, snapshots are files every process on the machine maps (one copy)."""

    def __init__(
        self,
        engine: Engine,
        compact_after: int = COMPACT_AFTER,
        store: SnapshotStore | None = None,
    ) -> None:
        self.engine = engine
        self.compact_after = compact_after
        self.store = store  # snapshot files shared by the machine's processes, if any
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._overlay: Overlay | None = None
        self._rebuild: threading.Thread | None = None
        self._opt_out_version = -1
        self._opted = np.zeros(0, dtype=bool)
        self._opted_phones = np.zeros(0, dtype=str)

    def target(self, area) -> Target:
        s, o, opted, opted_phones = self._current()
        return Target(s, o, opted, opted_phones, points_inside(s, area), overlay_inside(o, area))

    def settle(self) -> None:
        """Wait for a background rebuild to finish (for tests and benchmarks)."""
        rebuild = self._rebuild
        if rebuild is not None:
            rebuild.join()

    def _current(self) -> tuple[Snapshot, Overlay, np.ndarray, np.ndarray]:
        with self.engine.connect() as conn:
            locations_version, opt_out_version = versions(conn)
            with self._lock:
                if self._snapshot is None:
                    self._load(conn, locations_version)
                elif self._overlay.version != locations_version:
                    changed = changed_since(conn, self._overlay.version)
                    if changed is None:  # the log was pruned past this cache: load it again
                        self._load(conn, locations_version)
                    else:
                        self._overlay = self._patch(conn, changed, locations_version)
                if self._opt_out_version != opt_out_version:
                    phones = sorted(conn.execute(select(OptOut.phone)).scalars())
                    self._opted_phones = np.array(phones, dtype=str)
                    self._opted = opted_mask(self._snapshot, frozenset(phones))
                    self._opt_out_version = opt_out_version
                if self._overlay.size > self.compact_after and self._rebuild is None:
                    self._rebuild = threading.Thread(
                        target=self._rebuild_snapshot, name="register-rebuild", daemon=True
                    )
                    self._rebuild.start()
                return self._snapshot, self._overlay, self._opted, self._opted_phones

    def _load(self, conn, version: int) -> None:
        """The newest snapshot file patched up to `version`, else every row from SQL."""
        if self.store is not None:
            mapped = self.store.newest(epoch(conn), version)
            changed = None if mapped is None else changed_since(conn, mapped.version)
            if changed is not None:
                self._install(mapped)
                self._overlay = self._patch(conn, changed, version)
                return
        self._install(self._from_sql(conn, version))

    def _from_sql(self, conn, version: int) -> Snapshot:
        fresh = load_snapshot(conn, version)
        return fresh if self.store is None else self.store.shared(fresh, epoch(conn))

    def _install(self, s: Snapshot) -> None:
        self._snapshot, self._overlay = s, empty_overlay(s)
        self._opt_out_version = -1  # the opted mask is per snapshot phone: build it again

    def _patch(self, conn, changed: set[int], version: int) -> Overlay:
        residents, locations = [], []
        ids = sorted(changed)
        for start in range(0, len(ids), PATCH_CHUNK):
            chunk = ids[start : start + PATCH_CHUNK]
            residents += conn.execute(
                select(Resident.id, Resident.phone, Resident.reachable, Resident.language).where(
                    Resident.id.in_(chunk)
                )
            ).all()
            locations += conn.execute(
                select(Location.resident_id, Location.lon, Location.lat).where(
                    Location.resident_id.in_(chunk)
                )
            ).all()
        return patched(self._snapshot, self._overlay, changed, residents, locations, version)

    def _rebuild_snapshot(self) -> None:
        try:
            fresh = self._built_apart()
            if fresh is None:
                with self.engine.connect() as conn:
                    fresh = self._from_sql(conn, versions(conn)[0])
            with self._lock:
                if fresh.version >= self._snapshot.version:
                    self._install(fresh)
        except Exception:  # the old snapshot and its overlay go on answering
            log.exception("rebuilding the register snapshot failed")
        finally:
            self._rebuild = None

    def _built_apart(self) -> Snapshot | None:
        """The new snapshot built by a child process (`alerting.snapshot_build`) and mapped from
        its file: building holds the interpreter's lock for seconds at national size, and the
        previews of this process must not wait for it. None when there is no file to share or
        the child failed (this thread builds it then)."""
        url = self.engine.url
        if self.store is None or url.database in (None, "", ":memory:"):
            return None
        try:
            done = subprocess.run(
                [sys.executable, "-m", "alerting.snapshot_build", str(self.store.folder)],
                input=url.render_as_string(hide_password=False),
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_S,
                check=True,
            )
            built = json.loads(done.stdout)
        except (OSError, subprocess.SubprocessError, ValueError) as error:
            stderr = getattr(error, "stderr", None) or ""
            log.warning("snapshot build in a child failed (%s) %s; building here", error, stderr)
            return None
        mapped = self.store.newest(built["epoch"], built["version"])
        return mapped if mapped is not None and mapped.version == built["version"] else None


SPARSE = 8  # measured (numpy 2.4, 10M): sorting k indices beats a mask of n while k < n / 8


def distinct(values: np.ndarray, n: int) -> np.ndarray:
    """The sorted distinct values of `values`, each in 0..n-1: by a mask of n when they are many,
    by sorting when they are few (a town-sized area of a national register would otherwise
    sweep masks as long as the register; np.unique hashes and is slower than either)."""
    if len(values) * SPARSE >= n:
        mask = np.zeros(n, dtype=bool)
        mask[values] = True
        return np.flatnonzero(mask)
    ordered = np.sort(values)
    keep = np.empty(len(ordered), dtype=bool)
    keep[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _distinct_text(values: np.ndarray) -> np.ndarray:
    """Sorted distinct strings (the overlay's few phones not in the snapshot)."""
    return np.unique(values) if len(values) else values


def positions(sorted_values: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of `values` sits in `sorted_values`, and whether it is there at all."""
    at = np.searchsorted(sorted_values, values)
    found = at < len(sorted_values)
    found[found] = sorted_values[at[found]] == values[found]
    return at, found


def overlay_inside(o: Overlay, area) -> np.ndarray:
    """Indices of the overlay's places inside the area or on its edge."""
    if not len(o.xs) or area.is_empty:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(shapely.intersects_xy(area, o.xs, o.ys))


def opted_mask(s: Snapshot, opted_out: frozenset[str]) -> np.ndarray:
    """Which of the snapshot's phones have opted out."""
    if not opted_out or not len(s.phones):
        return np.zeros(len(s.phones), dtype=bool)
    return np.isin(s.phones, np.array(sorted(opted_out), dtype=s.phones.dtype))


def load_snapshot(conn, version: int) -> Snapshot:
    """Read every location and resident once (alerting.register_columns: binary arrays on
    PostgreSQL, raw cursors elsewhere, because ORM rows are 100× slower)."""
    return snapshot_of(read_columns(conn), version)


def build_snapshot(
    residents: list, locations: list, version: int = 0, leaf: int = LEAF
) -> Snapshot:
    """Arrays from (id, phone, reachable, language) rows by id and (resident_id, lon, lat) rows."""
    return snapshot_of(columns_of(residents, locations), version, leaf)


def snapshot_of(c: Columns, version: int = 0, leaf: int = LEAF) -> Snapshot:
    """The Z-ordered snapshot of the register's columns."""
    phones, phone_index = np.unique(
        np.where(c.reachable, c.phones, c.phones.dtype.type()), return_inverse=True
    )
    resident_phone = phone_index.astype(np.int32)
    if len(phones) and not phones[0]:
        resident_phone -= 1  # "" sorts first: the unreachable residents become -1
        phones = phones[1:]
    languages, language_index = np.unique(c.languages, return_inverse=True)
    landlines, landline_index = np.unique(
        np.where(c.reachable, c.phones.dtype.type(), c.phones), return_inverse=True
    )
    resident_landline = landline_index.astype(np.int32)
    if len(landlines) and not landlines[0]:
        resident_landline -= 1  # the mobiles become -1
        landlines = landlines[1:]

    # places of residents committed after the residents were read: the change log (a version
    # after this snapshot's) brings them in with their resident
    loc_resident, held = positions(c.resident_ids, c.owners)
    xs, ys, loc_resident = c.xs[held], c.ys[held], loc_resident[held].astype(np.int32)
    if len(xs):
        x0, y0 = float(xs.min()), float(ys.min())
        width = max(float(xs.max()) - x0, 1e-7)
        height = max(float(ys.max()) - y0, 1e-7)
    else:
        x0, y0, width, height = 0.0, 0.0, 1.0, 1.0
    side = 1 << DEPTH
    codes = z_order(
        np.clip(((xs - x0) / width * side).astype(np.int64), 0, side - 1),
        np.clip(((ys - y0) / height * side).astype(np.int64), 0, side - 1),
    ).astype(np.uint32)
    order = np.argsort(codes, kind="stable")
    return Snapshot(
        version=version,
        xs=np.ascontiguousarray(xs[order]),
        ys=np.ascontiguousarray(ys[order]),
        loc_resident=loc_resident[order],
        codes=codes[order],
        x0=x0,
        y0=y0,
        width=width,
        height=height,
        leaf=leaf,
        resident_ids=c.resident_ids,
        resident_phone=resident_phone,
        resident_language=language_index.astype(np.int16),
        phones=_text(phones),
        languages=[str(lang) for lang in _text(languages)],
        landlines=_text(landlines),
        resident_landline=resident_landline,
    )


def z_order(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """Interleave the bits of ix (even bits) and iy (odd bits): a node's code is the prefix of
    every code beneath it."""
    return _spread(ix) | (_spread(iy) << 1)


def _spread(v: np.ndarray) -> np.ndarray:
    """The 16 low bits of v, one zero bit between each."""
    v = v.astype(np.uint64) & 0xFFFF
    v = (v | (v << 8)) & 0x00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F
    v = (v | (v << 2)) & 0x33333333
    return (v | (v << 1)) & 0x55555555


def _text(values: np.ndarray) -> np.ndarray:
    """str values; bytes padded with spaces (the binary COPY) are stripped and decoded."""
    if values.dtype.kind == "S":
        return np.char.rstrip(values).astype(str)
    return values


def query(s: Snapshot, opted_out: frozenset[str], area) -> Target:
    """Target an area against a snapshot (the Register adds caching and freshness)."""
    o = empty_overlay(s)
    opted_phones = np.array(sorted(opted_out), dtype=str)
    return Target(
        s, o, opted_mask(s, opted_out), opted_phones, points_inside(s, area), o.loc_resident
    )


def points_inside(s: Snapshot, area) -> np.ndarray:
    """Indices of the points inside the area or on its edge (`covers`), in no set order."""
    none = np.zeros(0, dtype=np.int64)
    if not len(s.xs) or area.is_empty:
        return none
    shapely.prepare(area)
    found = []
    ix = iy = np.zeros(1, dtype=np.int64)  # the root
    for level in range(DEPTH + 1):
        shift = np.uint64(2 * (DEPTH - level))
        prefix = z_order(ix, iy)
        # keys of the codes' own type: a wider key would copy all the codes at every search
        start = np.searchsorted(s.codes, (prefix << shift).astype(np.uint32))
        last = (((prefix + np.uint64(1)) << shift) - np.uint64(1)).astype(np.uint32)
        end = np.searchsorted(s.codes, last, side="right")
        held = end > start
        ix, iy, start, end = ix[held], iy[held], start[held], end[held]
        w, h = s.width / (1 << level), s.height / (1 << level)
        boxes = shapely.box(
            s.x0 + ix * w - EPS,
            s.y0 + iy * h - EPS,
            s.x0 + (ix + 1) * w + EPS,
            s.y0 + (iy + 1) * h + EPS,
        )
        touching = shapely.intersects(area, boxes)
        inside = touching.copy()
        inside[touching] = shapely.covers(area, boxes[touching])
        found.append(_ranges(start[inside], end[inside]))  # every point of a node inside
        edge = touching & ~inside
        small = edge & ((end - start <= s.leaf) | (level == DEPTH))
        candidates = _ranges(start[small], end[small])  # on the boundary: test each point
        found.append(candidates[shapely.intersects_xy(area, s.xs[candidates], s.ys[candidates])])
        split = edge & ~small
        if not split.any():
            break
        ix = (2 * ix[split])[:, None] + np.array([0, 1, 0, 1])
        iy = (2 * iy[split])[:, None] + np.array([0, 0, 1, 1])
        ix, iy = ix.ravel(), iy.ravel()
    return np.concatenate(found) if found else none


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenate arange(start, end) for every pair, without a Python loop."""
    lengths = ends - starts
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total)
