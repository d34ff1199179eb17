"""Load a resident register (CSV, .xlsx or GeoJSON points) idempotently: update, never duplicate.

Each bad row is refused with its line number and reason; every good row is still imported.
Rows with one external_id and different labels are the places of one resident. How the file is
read (delimiters, encodings, workbooks, headers, coordinate systems) is `register_formats`.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from alerting.db import insert_ignore
from alerting.languages import normalise_language
from alerting.models import LOCATION_LABELS, ConsentEvent, Location, OptOut, Resident, utcnow
from alerting.phones import PhoneError, parse_phone
from alerting.register_changes import bump_register
from alerting.register_formats import ReadOptions, Reason, RegisterFileError, number, read_records
from alerting.suppression import suppressed

__all__ = ["ImportReport", "ReadOptions", "Reason", "RegisterFileError", "import_bytes"]

CHUNK = 2000
# a register covers one municipality: a place this far from the median of its rows is a mistake
# (most often lat and lon swapped), and is refused unless the importer says it is meant
FAR_KM = 300
MEDIAN_FROM = 3  # fewer rows than this cannot tell which of them is the odd one


@dataclass
class Row:
    line: int
    external_id: str
    name: str
    phone: str
    mobile: bool
    language: str
    address: str
    lat: float
    lon: float
    label: str


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


def validate(record: dict, region: str, default_language: str) -> Row:
    """One record to a Row; ValueError with a `Reason` when the row must be refused."""
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
    return Row(
        line=0,
        external_id=external_id,
        name=str(record.get("name") or "").strip(),
        phone=phone.e164,
        mobile=phone.mobile,
        language=language,
        address=str(record.get("address") or "").strip(),
        lat=lat,
        lon=lon,
        label=label,
    )


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


def far_rows(rows: list[Row]) -> dict[int, Reason]:
    """Rows more than FAR_KM from the median of all rows: line -> why (swapped, or just far)."""
    if len(rows) < MEDIAN_FROM:
        return {}
    lat = statistics.median(r.lat for r in rows)
    lon = statistics.median(r.lon for r in rows)
    far = {}
    for row in rows:
        km = _km(row.lat, row.lon, lat, lon)
        if km <= FAR_KM:
            continue
        where = {"lat": f"{row.lat:g}", "lon": f"{row.lon:g}"}
        if abs(row.lon) <= 90 and _km(row.lon, row.lat, lat, lon) <= FAR_KM:
            far[row.line] = Reason("probably swapped lat/lon (%(lat)s N, %(lon)s E)", **where)
        else:
            far[row.line] = Reason(
                "%(km)d km from the register's other places (%(lat)s N, %(lon)s E)",
                km=round(km),
                **where,
            )
    return far


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
    path = Path(path)
    return import_bytes(session, path.name, path.read_bytes(), region, default_language, options)


def import_bytes(
    session: Session,
    name: str,
    data: bytes,
    region: str,
    default_language: str,
    options: ReadOptions | None = None,
) -> ImportReport:
    """Validate every record, then upsert residents and their places in chunks; one commit."""
    options = options or ReadOptions()
    records = read_records(name, data, options)
    report = ImportReport(notes=records.notes)
    good: list[Row] = []
    for line, record in records.rows:
        try:
            row = validate(record, region, default_language)
        except ValueError as exc:
            report.refused.append((line, exc.args[0]))
            continue
        row.line = line
        good.append(row)
    far = {} if options.allow_outside else far_rows(good)
    report.refused.extend((line, reason) for line, reason in far.items())
    report.refused.sort(key=lambda refusal: refusal[0])
    residents: dict[str, list[Row]] = {}
    for row in good:
        if row.line not in far:
            residents.setdefault(row.external_id, []).append(row)
    # a phone that said STOP and then deleted itself stays opted out when the register brings
    # it back: no opt-in is recorded for it, and its opt-out comes back
    held = suppressed(session, (row.phone for rows in residents.values() for row in rows))
    ids = list(residents)
    inserted: list[int] = []
    for start in range(0, len(ids), CHUNK):
        chunk = {i: residents[i] for i in ids[start : start + CHUNK]}
        inserted += _upsert_chunk(session, chunk, report, held)
    restored = _restore_opt_outs(session, held)
    # bulk inserts bypass the ORM's own change log; updates go through the ORM, which logs only
    # what the cached arrays hold
    bump_register(session, inserted, opt_outs=restored > 0)
    session.commit()
    return report


def _restore_opt_outs(session: Session, held: dict[str, str]) -> int:
    """Opt-outs for the suppressed phones (with the source of their STOP); how many were new."""
    if not held:
        return 0
    now = utcnow()
    rows = [{"phone": p, "source": source, "created_at": now} for p, source in held.items()]
    return session.execute(insert_ignore(session, OptOut.__table__, ["phone"]), rows).rowcount


def _upsert_chunk(
    session: Session, chunk: dict[str, list[Row]], report: ImportReport, held: dict[str, str]
) -> list[int]:
    """Update the residents the register has, insert the others; the inserted ids."""
    existing = {
        r.external_id: r
        for r in session.scalars(
            select(Resident)
            .where(Resident.external_id.in_(list(chunk)))
            .options(selectinload(Resident.locations))
        )
    }
    new = [rows for ext_id, rows in chunk.items() if ext_id not in existing]
    for ext_id, resident in existing.items():
        if _update_resident(session, resident, chunk[ext_id]):
            report.updated += 1
        else:
            report.unchanged += 1
    if not new:
        return []
    report.imported += len(new)
    return _insert_residents(session, new, held)


def _insert_residents(session: Session, groups: list[list[Row]], held: dict[str, str]) -> list[int]:
    """Bulk INSERT ... RETURNING: ORM objects would make a large import 10× slower. The ids."""
    values = []
    for rows in groups:
        last = rows[-1]
        values.append(
            {
                "external_id": last.external_id,
                "name": last.name,
                "phone": last.phone,
                "reachable": last.mobile,
                "language": last.language,
                "source": "import",
                "declined_categories": [],
                "paused": False,
            }
        )
    returned = session.execute(
        insert(Resident).returning(Resident.id, Resident.external_id, sort_by_parameter_order=True),
        values,
    ).all()
    locations, consents = [], []
    for (resident_id, _ext), rows in zip(returned, groups, strict=True):
        for row in _by_label(rows).values():
            locations.append(
                {
                    "resident_id": resident_id,
                    "label": row.label,
                    "lat": row.lat,
                    "lon": row.lon,
                    "address": row.address,
                }
            )
        if rows[-1].phone not in held:
            consents.append({"phone": rows[-1].phone, "action": "opt_in", "source": "import"})
    session.execute(insert(Location), locations)
    if consents:
        session.execute(insert(ConsentEvent), consents)
    return [resident_id for resident_id, _ext in returned]


def _by_label(rows: list[Row]) -> dict[str, Row]:
    """The last row for each label wins, like a later line correcting an earlier one."""
    return {row.label: row for row in rows}


def _update_resident(session: Session, resident: Resident, rows: list[Row]) -> bool:
    last = rows[-1]
    changed = False
    for attr, value in (
        ("name", last.name),
        ("phone", last.phone),
        ("reachable", last.mobile),
        ("language", last.language),
    ):
        if getattr(resident, attr) != value:
            setattr(resident, attr, value)
            changed = True
    places = {loc.label: loc for loc in resident.locations}
    for label, row in _by_label(rows).items():
        place = places.get(label)
        if place is None:
            resident.locations.append(
                Location(label=label, lat=row.lat, lon=row.lon, address=row.address)
            )
            changed = True
            continue
        for attr, value in (("lat", row.lat), ("lon", row.lon), ("address", row.address)):
            if getattr(place, attr) != value:
                setattr(place, attr, value)
                changed = True
    return changed
