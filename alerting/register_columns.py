"""The register's targeting columns read whole, as numpy arrays: what a process loads once when no
snapshot file serves it (the first process on a machine, or after the change log was pruned).

PostgreSQL sends each column as binary arrays of fixed-width values (text padded in SQL to the
column's widest value), which numpy reads in place: at 10,000,000 locations that is seconds where
fetching rows as Python tuples took minutes (and COPY, which psycopg hands over a row at a time,
was no faster). Any other database, or values the fixed layout cannot carry (a
non-ASCII phone), are read as rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ARRAY_HEADER = 20  # ndim, has-nulls flag, element type, then length and lower bound of dim 1
CHUNK = 1_000_000  # rows per array: a value stays far below PostgreSQL's 1 GB


@dataclass(frozen=True)
class Columns:
    """Residents by id (ascending) and their places; phone and language as bytes or str."""

    resident_ids: np.ndarray  # int64, ascending
    phones: np.ndarray  # one per resident
    reachable: np.ndarray  # bool
    languages: np.ndarray
    owners: np.ndarray  # int64 resident id of each place
    xs: np.ndarray  # float64 longitude
    ys: np.ndarray  # float64 latitude


def read_columns(conn) -> Columns:
    """Every resident and place, the fastest way the database allows."""
    dbapi = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        columns = _copy_columns(dbapi)
        if columns is not None:
            return columns
    cursor = dbapi.cursor()
    cursor.execute("SELECT id, phone, reachable, language FROM residents ORDER BY id")
    residents = cursor.fetchall()
    cursor.execute("SELECT resident_id, lon, lat FROM locations")
    locations = cursor.fetchall()
    cursor.close()
    return columns_of(residents, locations)


def columns_of(residents: list, locations: list) -> Columns:
    """Columns from (id, phone, reachable, language) rows by id and (resident_id, lon, lat) rows."""
    flat = np.fromiter(
        (v for row in locations for v in row), dtype=np.float64, count=3 * len(locations)
    ).reshape(len(locations), 3)
    return Columns(
        resident_ids=np.fromiter((r[0] for r in residents), dtype=np.int64, count=len(residents)),
        phones=np.array([r[1] for r in residents], dtype=str),
        reachable=np.fromiter((bool(r[2]) for r in residents), dtype=bool, count=len(residents)),
        languages=np.array([r[3] for r in residents], dtype=str),
        owners=flat[:, 0].astype(np.int64),
        xs=np.ascontiguousarray(flat[:, 1]),
        ys=np.ascontiguousarray(flat[:, 2]),
    )


def _copy_columns(dbapi) -> Columns | None:
    cursor = dbapi.cursor()
    try:
        cursor.execute(
            "SELECT coalesce(max(octet_length(phone)), 1),"
            " coalesce(max(octet_length(language)), 1),"
            " coalesce(bool_and(phone ~ '^[!-~]*$' AND language ~ '^[!-~]*$'), true)"
            " FROM residents"
        )
        phone_width, language_width, printable = cursor.fetchone()
        if not printable:
            return None  # padding with spaces needs values without spaces or non-ASCII
        residents = _arrays(
            cursor,
            "residents",
            {
                "id": ("id::int8", ">i8"),
                "phone": (
                    f"phone || repeat(' ', {int(phone_width)} - octet_length(phone))",
                    f"S{phone_width}",
                ),
                "reachable": ("reachable", "?"),
                "language": (
                    f"language || repeat(' ', {int(language_width)} - octet_length(language))",
                    f"S{language_width}",
                ),
            },
        )
        places = _arrays(
            cursor,
            "locations",
            {
                "owner": ("resident_id::int8", ">i8"),
                "x": ("lon::float8", ">f8"),
                "y": ("lat::float8", ">f8"),
            },
        )
    finally:
        cursor.close()
    return Columns(
        resident_ids=residents["id"],
        # trailing spaces sort below every printable character: order and uniqueness are kept
        phones=residents["phone"],
        reachable=residents["reachable"],
        languages=residents["language"],
        owners=places["owner"],
        xs=places["x"],
        ys=places["y"],
    )


def _arrays(cursor, table: str, fields: dict[str, tuple[str, str]]) -> dict[str, np.ndarray]:
    """Columns of `table` by id, each sent as one binary array per chunk of rows (array_send):
    a value of fixed width per element that numpy reads in place."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in fields}
    aggregates = ", ".join(f"array_send(array_agg(v{i}))" for i in range(len(fields)))
    selected = ", ".join(f"{sql} AS v{i}" for i, (sql, _) in enumerate(fields.values()))
    last = -(2**62)
    while True:
        cursor.execute(
            f"SELECT max(id), count(*), {aggregates} FROM (SELECT id, {selected} FROM {table}"
            f" WHERE id > %s ORDER BY id LIMIT {CHUNK}) AS chunk",
            (last,),
            binary=True,
        )
        top, count, *blobs = cursor.fetchone()
        if not count:
            break
        for (name, (_, kind)), blob in zip(fields.items(), blobs, strict=True):
            parts[name].append(_elements(blob, kind, count))
        last = top
        if count < CHUNK:
            break
    return {
        name: np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.dtype(fields[name][1]))
        for name, chunks in parts.items()
    }


def _elements(blob: bytes, kind: str, count: int) -> np.ndarray:
    """The elements of a one-dimensional binary array without NULLs, each `kind` wide."""
    width = np.dtype(kind).itemsize
    rows = np.frombuffer(
        blob, dtype=np.dtype([("length", ">i4"), ("value", kind)]), offset=ARRAY_HEADER
    )
    if len(rows) != count or not np.all(rows["length"] == width):
        raise ValueError(f"array elements are not {width} bytes wide")
    values = rows["value"]
    return (
        values.astype(values.dtype.newbyteorder("="))
        if values.dtype.byteorder == ">"
        else values.copy()
    )
