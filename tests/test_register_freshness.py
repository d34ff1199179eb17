"""Incremental freshness: after any sequence of adds, moves, removals, phone changes and opt-outs,
interleaved with previews, a process's cached register (snapshot + overlay of changed residents,
rebuilt in the background as the overlay grows) answers exactly what a slow point-by-point
`covers` over the database answers. Each preview must see every change committed before it."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon
from sqlalchemy import delete, select, update
from test_targeting import areas

from alerting import targeting
from alerting.models import Location, OptOut, RegisterChange, RegisterVersion, Resident, utcnow
from alerting.register_changes import bump_register
from alerting.register_import import import_bytes
from alerting.retention import apply_retention
from alerting.snapshot_files import SnapshotStore
from alerting.targeting import Register

xs = st.floats(9.7, 10.9)
ys = st.floats(59.7, 60.4)
phones = st.integers(0, 5).map(lambda n: f"+4791{n:06d}")  # few: households share them
pick = st.integers(0, 10_000)  # which existing resident or place (modulo how many there are)


def adds(phones=phones):
    return st.tuples(st.just("add"), phones, st.booleans(), st.lists(st.tuples(xs, ys), max_size=3))


operations = st.one_of(
    adds(),
    st.tuples(st.just("move"), pick, xs, ys),
    st.tuples(st.just("place"), pick, xs, ys),
    st.tuples(st.just("unplace"), pick),
    st.tuples(st.just("remove"), pick),
    st.tuples(st.just("phone"), pick, phones, st.booleans()),
    st.tuples(st.just("language"), pick, st.sampled_from(["nb", "en", "pl"])),
    st.tuples(st.just("opt_out"), phones),
    st.tuples(st.just("opt_in"), phones),
    st.tuples(st.just("preview")),
)


def apply(sessionmaker, op: tuple) -> None:
    """One committed change to the register, through the ORM as the portal and staff pages do
    (each in a session of its own, as each request has)."""
    with sessionmaker() as s:
        change(s, op)
        s.commit()


def change(s, op: tuple) -> None:
    kind, *args = op
    residents = s.scalars(select(Resident).order_by(Resident.id)).all()
    places = s.scalars(select(Location).order_by(Location.id)).all()
    if kind == "add":
        phone, mobile, points = args
        s.add(
            Resident(
                phone=phone,
                reachable=mobile,
                locations=[Location(label="home", lon=x, lat=y) for x, y in points],
            )
        )
    elif kind in ("move", "unplace") and places:
        place = places[args[0] % len(places)]
        if kind == "move":
            place.lon, place.lat = args[1], args[2]
        else:
            s.delete(place)
    elif kind == "place" and residents:
        residents[args[0] % len(residents)].locations.append(
            Location(label="cabin", lon=args[1], lat=args[2])
        )
    elif kind in ("remove", "phone", "language") and residents:
        resident = residents[args[0] % len(residents)]
        if kind == "remove":
            s.delete(resident)
        elif kind == "phone":
            resident.phone, resident.reachable = args[1], args[2]
        else:
            resident.language = args[1]
    elif kind == "opt_out" and s.get(OptOut, args[0]) is None:
        s.add(OptOut(phone=args[0], source="sms"))
    elif kind == "opt_in":
        s.execute(delete(OptOut).where(OptOut.phone == args[0]))
        bump_register(s, opt_outs=True)


def exact(sessionmaker, area) -> dict:
    """What the register holds now, point by point."""
    with sessionmaker() as s:
        return _exact(s, area)


def _exact(s, area) -> dict:
    inside = {
        rid
        for rid, x, y in s.execute(select(Location.resident_id, Location.lon, Location.lat))
        if area.covers(Point(x, y))
    }
    residents = {r.id: r for r in s.scalars(select(Resident))}
    reached = {residents[i].phone for i in inside if residents[i].reachable}
    opted = set(s.scalars(select(OptOut.phone)))
    places = sum(area.covers(Point(x, y)) for x, y in s.execute(select(Location.lon, Location.lat)))
    return {
        "ids": sorted(inside),
        "phones": reached,
        "opted": reached & opted,
        "landlines": {residents[i].phone for i in inside if not residents[i].reachable} - opted,
        "places": places,
        "languages": dict(Counter(residents[i].language for i in inside)),
    }


def seen(register: Register, area) -> dict:
    got = register.target(area)
    assert got.counts == {
        "residents": len(got.resident_ids),
        "phones": len(got.phones),
        "opted_out": len(got.opted_out),
        "landlines": len(got.landlines),
    }
    return {
        "ids": got.resident_ids.tolist(),
        "phones": set(got.phones),
        "opted": set(got.opted_out),
        "landlines": set(got.landlines.tolist()),
        "places": len(got.points),
        "languages": got.languages,
    }


def empty(s) -> None:
    for table in (Location, Resident, OptOut, RegisterChange):
        s.execute(delete(table))
    s.commit()


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    area=areas(),
    # phones 3-5 first come with later changes: numbers the snapshot does not know
    start=st.lists(adds(st.integers(0, 2).map(lambda n: f"+4791{n:06d}")), min_size=1, max_size=8),
    ops=st.lists(operations, min_size=1, max_size=20),
    compact_after=st.sampled_from([1, 4, 10**9, 10**9]),
)
def test_previews_after_interleaved_changes_match_the_database(
    app, area, start, ops, compact_after
):
    sessionmaker = app.extensions["alerting.sessionmaker"]
    with app.app_context():
        with sessionmaker() as s:
            empty(s)
        for op in start:  # the register as the process first loads it
            apply(sessionmaker, op)
        register = Register(app.extensions["alerting.engine"], compact_after=compact_after)
        assert seen(register, area) == exact(sessionmaker, area)
        for op in ops:
            apply(sessionmaker, op)
            if op[0] == "preview" or len(ops) < 4:
                assert seen(register, area) == exact(sessionmaker, area)
        assert seen(register, area) == exact(sessionmaker, area)
        register.settle()  # and once any rebuild has landed
        assert seen(register, area) == exact(sessionmaker, area)


SQUARE = Polygon([(10, 60), (11, 60), (11, 61), (10, 61), (10, 60)])


def test_a_change_patches_the_cached_arrays_instead_of_reloading_them(app, session):
    """The snapshot object survives a move; only the changed resident is read again."""
    register = app.extensions["alerting.register"]
    session.add_all(
        Resident(phone=f"+479100{i:04d}", locations=[Location(lon=10.5, lat=60.5)])
        for i in range(50)
    )
    session.commit()
    assert register.target(SQUARE).counts["residents"] == 50
    snapshot = register._snapshot
    moved = session.scalars(select(Location).order_by(Location.id)).first()
    moved.lon = 12.0
    session.commit()
    assert register.target(SQUARE).counts == {
        "residents": 49,
        "phones": 49,
        "opted_out": 0,
        "landlines": 0,
    }
    assert register._snapshot is snapshot
    assert register._overlay.resident_ids.tolist() == [moved.resident_id]


def grow_past_compaction(session, register: Register) -> None:
    """300 residents imported after the register was loaded: an overlay past its 100."""
    assert register.target(SQUARE).counts["residents"] == 0
    rows = "".join(f"r{i},+4792{i:06d},60.5,10.{i % 9 + 1}\n" for i in range(300))
    import_bytes(session, "r.csv", f"external_id,phone,lat,lon\n{rows}".encode(), "NO", "nb")


def test_an_import_is_seen_by_the_next_preview_and_a_grown_overlay_is_folded_in(app, session):
    register = Register(app.extensions["alerting.engine"], compact_after=100)
    grow_past_compaction(session, register)
    assert register.target(SQUARE).counts == {
        "residents": 300,
        "phones": 300,
        "opted_out": 0,
        "landlines": 0,
    }
    register.settle()  # the overlay passed 100: rebuilt into a new snapshot in the background
    assert len(register._snapshot.resident_ids) == 300
    assert register._overlay.size == 0
    assert register.target(SQUARE).counts["residents"] == 300
    assert np.asarray(register.target(SQUARE).points).shape == (300, 2)


def test_with_snapshot_files_a_rebuild_is_built_by_a_child_process_and_mapped(
    app, session, tmp_path, monkeypatch
):
    """Building holds the interpreter's lock for seconds at national size: the web process's
    previews must not wait for it, so the arrays are built elsewhere and only mapped here."""
    engine = app.extensions["alerting.engine"]
    register = Register(engine, compact_after=100, store=SnapshotStore(tmp_path / "snapshots"))
    grow_past_compaction(session, register)

    def built_here(*args):  # this process must not build the new snapshot itself
        raise AssertionError("the snapshot was rebuilt in the web process")

    monkeypatch.setattr(targeting, "load_snapshot", built_here)
    assert register.target(SQUARE).counts["residents"] == 300  # old snapshot + overlay
    register.settle()
    assert len(register._snapshot.resident_ids) == 300 and register._overlay.size == 0
    assert isinstance(register._snapshot.xs, np.memmap)
    assert register.target(SQUARE).counts["residents"] == 300


def test_a_rebuild_whose_child_cannot_write_the_file_is_built_here_instead(app, session, tmp_path):
    engine = app.extensions["alerting.engine"]
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")  # the snapshot folder cannot be made: no file to share
    register = Register(engine, compact_after=100, store=SnapshotStore(blocked))
    grow_past_compaction(session, register)
    assert register.target(SQUARE).counts["residents"] == 300
    register.settle()
    assert len(register._snapshot.resident_ids) == 300 and register._overlay.size == 0
    assert register.target(SQUARE).counts["residents"] == 300


def test_a_reimport_that_moves_renumbers_and_adds_places_is_seen_by_the_next_preview(app, session):
    """The set-based import bypasses the ORM's flush: it must log what it changed itself."""
    register = Register(app.extensions["alerting.engine"])
    header = "external_id,phone,lat,lon,label\n"
    first = (
        "a,+4792000001,60.5,10.5,home\nb,+4792000002,60.5,10.6,home\nc,+4792000003,60.5,10.7,home\n"
    )
    import_bytes(session, "r.csv", (header + first).encode(), "NO", "nb")
    assert register.target(SQUARE).counts == {
        "residents": 3,
        "phones": 3,
        "opted_out": 0,
        "landlines": 0,
    }
    # a moves out of the square, b gets c's phone (a household), c gains a cabin outside it
    again = (
        "a,+4792000001,59.5,10.5,home\nb,+4792000003,60.5,10.6,home\n"
        "c,+4792000003,60.5,10.7,home\nc,+4792000003,62.0,10.7,cabin\n"
    )
    report = import_bytes(session, "r.csv", (header + again).encode(), "NO", "nb")
    assert (report.imported, report.updated, report.unchanged) == (0, 3, 0)
    assert register.target(SQUARE).counts == {
        "residents": 2,
        "phones": 1,
        "opted_out": 0,
        "landlines": 0,
    }
    north = Polygon([(10, 61.5), (11, 61.5), (11, 62.5), (10, 62.5), (10, 61.5)])
    assert register.target(north).counts == {
        "residents": 1,
        "phones": 1,
        "opted_out": 0,
        "landlines": 0,
    }
    # the same file once more changes nothing, and moves no version
    version = session.scalar(select(RegisterVersion.locations))
    report = import_bytes(session, "r.csv", (header + again).encode(), "NO", "nb")
    assert (report.updated, report.unchanged) == (0, 3)
    assert session.scalar(select(RegisterVersion.locations)) == version


def test_an_opt_out_of_a_number_the_snapshot_never_held_is_counted(app, session):
    register = Register(app.extensions["alerting.engine"])
    session.add(Resident(phone="+4791000001", locations=[Location(lon=10.5, lat=60.5)]))
    session.commit()
    assert register.target(SQUARE).counts == {
        "residents": 1,
        "phones": 1,
        "opted_out": 0,
        "landlines": 0,
    }
    session.add(Resident(phone="+4791000009", locations=[Location(lon=10.6, lat=60.5)]))
    session.add(OptOut(phone="+4791000009", source="sms"))
    session.commit()
    got = register.target(SQUARE)
    assert got.counts == {"residents": 2, "phones": 2, "opted_out": 1, "landlines": 0}
    assert got.opted_out == ["+4791000009"]


def test_a_cache_older_than_the_pruned_change_log_reloads_whole(app, session):
    register = Register(app.extensions["alerting.engine"])
    session.add(Resident(phone="+4791000001", locations=[Location(lon=10.5, lat=60.5)]))
    session.commit()
    assert register.target(SQUARE).counts["residents"] == 1
    session.add(Resident(phone="+4791000002", locations=[Location(lon=10.6, lat=60.5)]))
    session.commit()
    counts = apply_retention(app, now=utcnow() + timedelta(days=2))
    assert counts["register_changes"] == 2  # both residents' changes were a day old
    stale = register._snapshot
    assert register.target(SQUARE).counts["residents"] == 2
    assert register._snapshot is not stale  # the log could not patch it: reloaded


def test_processes_on_one_machine_share_the_snapshot_file(app, session, tmp_path, monkeypatch):
    """The first process writes the arrays beside the database's epoch; the next maps them and
    patches what changed since from the log, without reading every row again."""
    engine = app.extensions["alerting.engine"]
    session.add_all(
        Resident(phone=f"+479100{i:04d}", locations=[Location(lon=10.5, lat=60.5)])
        for i in range(20)
    )
    session.commit()
    first = Register(engine, store=SnapshotStore(tmp_path / "snapshots"))
    assert first.target(SQUARE).counts["residents"] == 20
    assert isinstance(first._snapshot.xs, np.memmap)  # its own copy dropped for the file's
    session.add(Resident(phone="+4791009999", locations=[Location(lon=10.7, lat=60.5)]))
    session.commit()

    full_loads = []
    monkeypatch.setattr(targeting, "load_snapshot", lambda *a: full_loads.append(a))
    second = Register(engine, store=SnapshotStore(tmp_path / "snapshots"))
    assert second.target(SQUARE).counts == {
        "residents": 21,
        "phones": 21,
        "opted_out": 0,
        "landlines": 0,
    }
    assert full_loads == [] and isinstance(second._snapshot.xs, np.memmap)


def test_snapshot_files_of_a_database_made_again_are_not_used(app, session, tmp_path):
    engine = app.extensions["alerting.engine"]
    session.add(Resident(phone="+4791000001", locations=[Location(lon=10.5, lat=60.5)]))
    session.commit()
    assert (
        Register(engine, store=SnapshotStore(tmp_path / "snapshots"))
        .target(SQUARE)
        .counts["residents"]
        == 1
    )
    # the database is made again: versions start over, the register is different
    empty(session)
    session.execute(update(RegisterVersion).values(locations=0, epoch="another"))
    session.commit()
    assert (
        Register(engine, store=SnapshotStore(tmp_path / "snapshots"))
        .target(SQUARE)
        .counts["residents"]
        == 0
    )
    epochs = {p.name.split("-")[1] for p in (tmp_path / "snapshots").iterdir()}
    assert len(epochs) == 2 and "another" in epochs  # each database's own file
