"""Set-based upsert of a register: rows are staged in a temporary table, then a handful of SQL
statements update, insert and log them all at once.

One statement per resident (the ORM way) held a large import to ~3,000 rows/s on PostgreSQL.
Here PostgreSQL gets the rows by COPY and SQLite by executemany, both in the import's own
transaction; what changed is decided in SQL by comparing the staged rows with the tables. The
rules are the row-by-row import's: per external_id the last row gives the resident's name, phone
and language, per (external_id, label) the last row gives the place; places the file does not
name are kept. The change log learns every resident whose targeting data changed, as the ORM's
after_flush hook would have logged it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import JSON, bindparam, column, or_, select, table, text, union
from sqlalchemy.orm import Session

from alerting.models import utcnow
from alerting.register_changes import bump_register

STAGED = (
    "line",
    "external_id",
    "name",
    "phone",
    "reachable",
    "language",
    "address",
    "lat",
    "lon",
    "label",
)
_TEMP_TABLES = ("import_places", "import_people", "import_held", "import_rows")

# the staged tables as far as the change log's SELECT needs them
_people = table("import_people", column("resident_id"), column("is_new"), column("targets_changed"))
_places = table("import_places", column("resident_id"), column("change"))


@dataclass
class Counts:
    imported: int
    updated: int
    unchanged: int


def create_staging(session: Session) -> None:
    """An empty temporary table for the rows (dropped first: a failed import on this pooled
    connection may have left one)."""
    drop_staging(session)
    postgres = _postgres(session)
    line = "line INTEGER NOT NULL" if postgres else "line INTEGER PRIMARY KEY"
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE import_rows ({line}, external_id TEXT NOT NULL, "
            "name TEXT NOT NULL, phone TEXT NOT NULL, reachable BOOLEAN NOT NULL, "
            "language TEXT NOT NULL, address TEXT NOT NULL, lat DOUBLE PRECISION NOT NULL, "
            "lon DOUBLE PRECISION NOT NULL, label TEXT NOT NULL)"
        )
    )


def stage(session: Session, rows: list[tuple]) -> None:
    """Append rows (in `STAGED` order) to the staging table: COPY on PostgreSQL, executemany on
    SQLite, both on the session's own connection and transaction."""
    raw = session.connection().connection.driver_connection
    if _postgres(session):
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY import_rows ({', '.join(STAGED)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" * len(STAGED))
        raw.cursor().executemany(f"INSERT INTO import_rows VALUES ({marks})", rows)


def staged_points(session: Session, size: int = 50_000) -> Iterator[list[tuple]]:
    """(line, lat, lon) of every staged row, a chunk at a time (a server-side cursor on
    PostgreSQL, so the rows are never all in memory)."""
    raw = session.connection().connection.driver_connection
    cursor = raw.cursor("import_points") if _postgres(session) else raw.cursor()
    try:
        cursor.execute("SELECT line, lat, lon FROM import_rows")
        while rows := cursor.fetchmany(size):
            yield rows
    finally:
        cursor.close()


def staged_median(session: Session, name: str, count: int) -> float:
    """`statistics.median` of a staged coordinate, computed by the database's sort."""
    assert name in ("lat", "lon")
    middle = (
        session.execute(
            text(f"SELECT {name} FROM import_rows ORDER BY {name} LIMIT 2 OFFSET :k"),
            {"k": (count - 1) // 2},
        )
        .scalars()
        .all()
    )
    return middle[0] if count % 2 else (middle[0] + middle[1]) / 2


def unstage(session: Session, lines: Iterable[int]) -> None:
    """Drop rows the import refused after staging them (far from the others)."""
    params = [{"line": line} for line in lines]
    if params:
        session.execute(text("DELETE FROM import_rows WHERE line = :line"), params)


def staged_phones(session: Session, size: int = 50_000) -> Iterator[list[str]]:
    result = session.execute(
        text("SELECT DISTINCT phone FROM import_rows"), execution_options={"yield_per": size}
    )
    for part in result.partitions(size):
        yield [row[0] for row in part]


def upsert(session: Session, held: Iterable[str]) -> Counts:
    """Apply the staged rows to the register; phones in `held` are suppressed (no opt-in is
    recorded for them). Logs the touched residents and moves the version; the caller commits."""
    now = utcnow()
    _analyse(session, "import_rows")
    _people_table(session)
    _places_table(session)
    _held_table(session, held)
    imported, updated, unchanged = _counts(session)
    session.execute(
        text(
            "UPDATE residents SET name = p.name, phone = p.phone, reachable = p.reachable, "
            "language = p.language, updated_at = :now FROM import_people AS p "
            "WHERE residents.id = p.resident_id AND p.fields_changed"
        ),
        {"now": now},
    )
    session.execute(
        text(
            "UPDATE locations SET lat = ip.lat, lon = ip.lon, address = ip.address "
            "FROM import_places AS ip "
            "WHERE locations.id = ip.location_id AND ip.change IN ('move', 'address')"
        )
    )
    if imported:
        _insert_new(session, now)
    session.execute(
        text(
            "INSERT INTO locations (resident_id, label, lat, lon, address) "
            "SELECT resident_id, label, lat, lon, address FROM import_places "
            "WHERE change IN ('new', 'add') ORDER BY resident_id"
        )
    )
    touched = union(
        select(_people.c.resident_id).where(or_(_people.c.is_new, _people.c.targets_changed)),
        select(_places.c.resident_id).where(_places.c.change.in_(["add", "move"])),
    ).subquery()
    if session.scalar(select(touched.c.resident_id).limit(1)) is not None:
        bump_register(session, select(touched.c.resident_id))
    drop_staging(session)
    return Counts(imported, updated, unchanged)


def drop_staging(session: Session) -> None:
    for name in _TEMP_TABLES:
        session.execute(text(f"DROP TABLE IF EXISTS {name}"))


def _people_table(session: Session) -> None:
    """One row per external_id: its last row's fields, its resident if there is one, and what
    of the resident's own columns changed."""
    session.execute(
        text(
            "CREATE TEMPORARY TABLE import_people AS "
            "SELECT r.external_id, r.name, r.phone, r.reachable, r.language, f.first_line, "
            "res.id AS resident_id, res.id IS NULL AS is_new, "
            "COALESCE(res.phone <> r.phone OR res.reachable <> r.reachable "
            "OR res.language <> r.language, false) AS targets_changed, "
            "COALESCE(res.name <> r.name OR res.phone <> r.phone OR res.reachable <> r.reachable "
            "OR res.language <> r.language, false) AS fields_changed "
            "FROM (SELECT external_id, min(line) AS first_line, max(line) AS last_line "
            "FROM import_rows GROUP BY external_id) AS f "
            "JOIN import_rows AS r ON r.line = f.last_line "
            "LEFT JOIN residents AS res ON res.external_id = f.external_id"
        )
    )
    session.execute(text("CREATE INDEX import_people_external_id ON import_people (external_id)"))
    _analyse(session, "import_people")


def _places_table(session: Session) -> None:
    """One row per (external_id, label): its last row's place, the resident's place with that
    label (the last, should there be two), and what is to happen to it."""
    session.execute(
        text(
            "CREATE TEMPORARY TABLE import_places AS "
            "SELECT r.external_id, r.label, r.lat, r.lon, r.address, p.resident_id, "
            "l.id AS location_id, CASE WHEN p.resident_id IS NULL THEN 'new' "
            "WHEN l.id IS NULL THEN 'add' WHEN l.lat <> r.lat OR l.lon <> r.lon THEN 'move' "
            "WHEN l.address <> r.address THEN 'address' ELSE 'same' END AS change "
            "FROM (SELECT max(line) AS line FROM import_rows GROUP BY external_id, label) AS m "
            "JOIN import_rows AS r ON r.line = m.line "
            "JOIN import_people AS p ON p.external_id = r.external_id "
            "LEFT JOIN (SELECT resident_id, label, max(id) AS id FROM locations "
            "WHERE resident_id IN (SELECT resident_id FROM import_people) "
            "GROUP BY resident_id, label) AS lm "
            "ON lm.resident_id = p.resident_id AND lm.label = r.label "
            "LEFT JOIN locations AS l ON l.id = lm.id"
        )
    )
    _analyse(session, "import_places")


def _held_table(session: Session, held: Iterable[str]) -> None:
    session.execute(text("CREATE TEMPORARY TABLE import_held (phone TEXT PRIMARY KEY)"))
    params = [{"phone": phone} for phone in held]
    if params:
        session.execute(text("INSERT INTO import_held (phone) VALUES (:phone)"), params)


def _counts(session: Session) -> tuple[int, int, int]:
    """(imported, updated, unchanged) residents, as the summary reports them."""
    row = session.execute(
        text(
            "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new AND "
            "(fields_changed OR resident_id IN (SELECT resident_id FROM import_places "
            "WHERE change IN ('add', 'move', 'address')))), "
            "count(*) FILTER (WHERE NOT is_new) FROM import_people"
        )
    ).one()
    imported, updated, existing = (int(v or 0) for v in row)
    return imported, updated, existing - updated


def _insert_new(session: Session, now) -> None:
    """The new residents (in the file's order), their ids back into the staging tables, and an
    opt-in for each phone that is not suppressed."""
    session.execute(
        text(
            "INSERT INTO residents (external_id, name, phone, reachable, language, source, "
            "declined_categories, paused, exercise_volunteer, created_at, updated_at) "
            "SELECT external_id, name, phone, reachable, language, 'import', :declined, false, "
            "false, :now, :now FROM import_people WHERE is_new ORDER BY first_line"
        ).bindparams(bindparam("declined", type_=JSON)),
        {"declined": [], "now": now},
    )
    session.execute(
        text(
            "UPDATE import_people SET resident_id = r.id FROM residents AS r "
            "WHERE r.external_id = import_people.external_id AND import_people.is_new"
        )
    )
    session.execute(
        text(
            "UPDATE import_places SET resident_id = p.resident_id FROM import_people AS p "
            "WHERE p.external_id = import_places.external_id AND import_places.change = 'new'"
        )
    )
    session.execute(
        text(
            "INSERT INTO consent_events (phone, action, source, at) "
            "SELECT phone, 'opt_in', 'import', :now FROM import_people "
            "WHERE is_new AND phone NOT IN (SELECT phone FROM import_held) ORDER BY first_line"
        ),
        {"now": now},
    )


def _analyse(session: Session, name: str) -> None:
    """PostgreSQL's autovacuum never analyses temporary tables: without this it plans blind."""
    if _postgres(session):
        session.execute(text(f"ANALYZE {name}"))


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
