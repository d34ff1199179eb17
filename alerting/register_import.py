"""Load a resident register (CSV, .xlsx or GeoJSON points) idempotently: update, never duplicate.

Each bad row is refused with its line number and reason; every good row is still imported.
Rows with one external_id and different labels are the places of one resident. How the file is
read (delimiters, encodings, workbooks, headers, coordinate systems) is `register_formats`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerting.areas import parse_area
from alerting.db import insert_ignore
from alerting.languages import normalise_language
from alerting.models import LOCATION_LABELS, Area, OptOut, utcnow
from alerting.phones import PhoneError, parse_phone
from alerting.register_changes import bump_register
from alerting.register_formats import (
    ReadOptions,
    Reason,
    Records,
    RegisterFileError,
    number,
    read_records,
)
from alerting.register_upsert import (
    create_staging,
    stage,
    staged_median,
    staged_phones,
    staged_points,
    unstage,
    upsert,
)
from alerting.suppression import suppressed

__all__ = ["ImportReport", "ReadOptions", "Reason", "RegisterFileError", "import_bytes"]

CHUNK = 50_000  # rows validated, then staged, at a time: memory stays flat in the file's size
# a register covers one municipality: a place this far from the median of its rows is a mistake
# (most often lat and lon swapped), and is refused unless the importer says it is meant
FAR_KM = 300
MEDIAN_FROM = 3  # fewer rows than this cannot tell which of them is the odd one


@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[tuple[int, Reason]] = field(default_factory=list)
    notes: list[Reason] = field(default_factory=list)  # e.g. "read as Windows-1252"

    def summary(self) -> str:
        text = (
            f"{self.imported} imported, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.refused)} refused"
        )
        return "; ".join([text, *self.notes])

    def as_dict(self) -> dict:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": [{"line": line, "reason": reason} for line, reason in self.refused],
            "notes": list(self.notes),
        }


def validate(record: dict, region: str, default_language: str, line: int = 0) -> tuple:
    """One record to a staged row (`register_upsert.STAGED`'s order); ValueError with a
    `Reason` when the row must be refused."""
    if "_error" in record:
        raise ValueError(record["_error"])
    external_id = str(record.get("external_id") or "").strip()
    if not external_id:
        raise ValueError(Reason("missing external_id"))
    raw_phone = str(record.get("phone") or "").strip()
    try:
        phone = parse_phone(raw_phone, region)
    except PhoneError:  # its text may carry phonenumbers' own words: ours instead
        if not raw_phone:
            raise ValueError(Reason("missing phone number")) from None
        raise ValueError(Reason("'%(value)s' is not a phone number", value=raw_phone)) from None
    lat = _coordinate(record.get("lat"), "lat", 90)
    lon = _coordinate(record.get("lon"), "lon", 180)
    label = str(record.get("label") or "home").strip().lower()
    if label not in LOCATION_LABELS:
        raise ValueError(
            Reason(
                "unknown label '%(value)s' (use %(choices)s)",
                value=label,
                choices=", ".join(LOCATION_LABELS),
            )
        )
    raw_language = str(record.get("language") or "")
    try:
        language = normalise_language(raw_language, default_language)
    except ValueError:
        raise ValueError(
            Reason("unknown language code '%(value)s' (use nb, sv, da, en…)", value=raw_language)
        ) from None
    name = str(record.get("name") or "").strip()
    address = str(record.get("address") or "").strip()
    return (line, external_id, name, phone.e164, phone.mobile, language, address, lat, lon, label)


def _coordinate(value: object, name: str, limit: float) -> float:
    if value is None or str(value).strip() == "":
        raise ValueError(Reason("missing %(column)s", column=name))
    try:
        value_number = number(value)
    except (TypeError, ValueError):
        raise ValueError(
            Reason("%(column)s is not a number: '%(value)s'", column=name, value=str(value))
        ) from None
    if not math.isfinite(value_number) or not -limit <= value_number <= limit:
        raise ValueError(
            Reason(
                "%(column)s %(value)s is out of range (-%(limit)s..%(limit)s)",
                column=name,
                value=str(value),
                limit=limit,
            )
        )
    return value_number


def outside_lines(session: Session, count: int, boundary: str) -> dict[int, Reason]:
    """Staged rows outside the municipality: outside the saved area named `boundary` when one
    is configured, else far from the median of the rows."""
    if not boundary:
        return far_lines(session, count)
    area = session.scalar(select(Area).where(Area.name == boundary))
    if area is None:
        raise RegisterFileError(
            "MUNICIPALITY_BOUNDARY names %(name)s, which is no saved area: save the municipality's "
            "area under that name, or change the setting",
            name=boundary,
        )
    shape = parse_area(area.geojson)
    shapely.prepare(shape)
    outside = {}
    for chunk in staged_points(session):
        points = np.array(chunk, dtype=float).reshape(-1, 3)
        out = ~shapely.intersects_xy(shape, points[:, 2], points[:, 1])
        for i in np.flatnonzero(out):
            line, row_lat, row_lon = chunk[i]
            where = {"lat": f"{row_lat:g}", "lon": f"{row_lon:g}", "name": boundary}
            if shapely.intersects_xy(shape, row_lat, row_lon):
                outside[line] = Reason("probably swapped lat/lon (%(lat)s N, %(lon)s E)", **where)
            else:
                outside[line] = Reason("outside %(name)s (%(lat)s N, %(lon)s E)", **where)
    return outside


def far_lines(session: Session, count: int) -> dict[int, Reason]:
    """Staged rows more than FAR_KM from the median of all rows: line -> why (swapped, or just
    far). The medians come from the database; numpy picks the rows that may be far and the
    exact haversine below decides, so the answer is the one row-by-row Python gave."""
    if count < MEDIAN_FROM:
        return {}
    lat, lon = staged_median(session, "lat", count), staged_median(session, "lon", count)
    far = {}
    for chunk in staged_points(session):
        points = np.array(chunk, dtype=float).reshape(-1, 3)
        maybe = np.flatnonzero(_km_array(points[:, 1], points[:, 2], lat, lon) > FAR_KM - 1)
        for i in maybe:
            line, row_lat, row_lon = chunk[i]
            reason = far_reason(row_lat, row_lon, lat, lon)
            if reason is not None:
                far[line] = reason
    return far


def far_reason(row_lat: float, row_lon: float, lat: float, lon: float) -> Reason | None:
    """Why a place more than FAR_KM from (lat, lon) is refused; None when it is near enough."""
    km = _km(row_lat, row_lon, lat, lon)
    if km <= FAR_KM:
        return None
    where = {"lat": f"{row_lat:g}", "lon": f"{row_lon:g}"}
    if abs(row_lon) <= 90 and _km(row_lon, row_lat, lat, lon) <= FAR_KM:
        return Reason("probably swapped lat/lon (%(lat)s N, %(lon)s E)", **where)
    return Reason(
        "%(km)d km from the register's other places (%(lat)s N, %(lon)s E)", km=round(km), **where
    )


def _km_array(lats: np.ndarray, lons: np.ndarray, lat: float, lon: float) -> np.ndarray:
    """`_km` for many points at once (agrees with it to far below a metre)."""
    p1, p2 = np.radians(lats), math.radians(lat)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * math.cos(p2) * np.sin(np.radians(lon - lons) / 2) ** 2
    )
    return 2 * 6371 * np.arcsin(np.sqrt(a))


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine): plenty for telling a municipality from the sea."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371 * math.asin(math.sqrt(a))


def import_file(
    session: Session,
    path: Path | str,
    region: str,
    default_language: str,
    options: ReadOptions | None = None,
) -> ImportReport:
    """Import a file from disk, read as a stream (a CSV is never held whole)."""
    path = Path(path)
    with path.open("rb") as stream:
        return import_bytes(session, path.name, stream, region, default_language, options)


def import_bytes(
    session: Session,
    name: str,
    data: bytes | BinaryIO,
    region: str,
    default_language: str,
    options: ReadOptions | None = None,
) -> ImportReport:
    """Validate every record into a staging table a chunk at a time, refuse the far ones, then
    upsert residents and their places set-based (`register_upsert`); one commit."""
    options = options or ReadOptions()
    records = read_records(name, data, options)
    try:
        return _import_records(session, records, region, default_language, options)
    finally:
        records.close()


def _import_records(
    session: Session,
    records: Records,
    region: str,
    default_language: str,
    options: ReadOptions,
) -> ImportReport:
    report = ImportReport(notes=records.notes)
    create_staging(session)
    staged = 0
    batch: list[tuple] = []
    for line, record in records.rows:
        try:
            batch.append(validate(record, region, default_language, line))
        except ValueError as exc:
            report.refused.append((line, exc.args[0]))
            continue
        if len(batch) == CHUNK:
            stage(session, batch)
            staged, batch = staged + len(batch), []
    stage(session, batch)
    staged += len(batch)
    far = {} if options.allow_outside else outside_lines(session, staged, options.boundary)
    unstage(session, far)
    report.refused.extend(far.items())
    report.refused.sort(key=lambda refusal: refusal[0])
    # a phone that said STOP and then deleted itself stays opted out when the register brings
    # it back: no opt-in is recorded for it, and its opt-out comes back
    held: dict[str, str] = {}
    for phones in staged_phones(session):
        held.update(suppressed(session, phones))
    counts = upsert(session, held)
    report.imported, report.updated, report.unchanged = (
        counts.imported,
        counts.updated,
        counts.unchanged,
    )
    if _restore_opt_outs(session, held):
        bump_register(session, opt_outs=True)
    session.commit()
    return report


def _restore_opt_outs(session: Session, held: dict[str, str]) -> int:
    """Opt-outs for the suppressed phones (with the source of their STOP); how many were new."""
    if not held:
        return 0
    now = utcnow()
    rows = [{"phone": p, "source": source, "created_at": now} for p, source in held.items()]
    return session.execute(insert_ignore(session, OptOut.__table__, ["phone"]), rows).rowcount
