"""Load a resident register (CSV or GeoJSON points) idempotently: update, never duplicate.

Each bad row is refused with its line number and reason; every good row is still imported.
Rows with one external_id and different labels are the places of one resident.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from alerting.db import insert_ignore
from alerting.languages import normalise_language
from alerting.models import LOCATION_LABELS, ConsentEvent, Location, OptOut, Resident, utcnow
from alerting.phones import PhoneError, parse_phone
from alerting.suppression import suppressed
from alerting.targeting import bump_register

COLUMNS = ("external_id", "name", "phone", "language", "address", "lat", "lon", "label")
CHUNK = 2000


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
    refused: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.imported} imported, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.refused)} refused"
        )

    def as_dict(self) -> dict:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": [{"line": line, "reason": reason} for line, reason in self.refused],
        }


class RegisterFileError(ValueError):
    """The file as a whole cannot be read (not a row problem)."""


def read_records(name: str, data: bytes) -> Iterator[tuple[int, dict]]:
    """(line number, raw fields) from CSV, or (feature number, properties + coordinates)."""
    text = data.decode("utf-8-sig")
    if name.lower().endswith((".geojson", ".json")) or text.lstrip().startswith("{"):
        yield from _geojson_records(text)
    else:
        yield from _csv_records(text)


def _csv_records(text: str) -> Iterator[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [
        c for c in ("external_id", "phone", "lat", "lon") if c not in (reader.fieldnames or [])
    ]
    if missing:
        raise RegisterFileError(
            f"the CSV header lacks {', '.join(missing)}; expected columns {','.join(COLUMNS)}"
        )
    for record in reader:
        if None in record:
            yield reader.line_num, {"_error": "more fields than the header has columns"}
            continue
        yield reader.line_num, record


def _geojson_records(text: str) -> Iterator[tuple[int, dict]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegisterFileError(f"invalid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise RegisterFileError("a GeoJSON register must be a FeatureCollection of Point features")
    for number, feature in enumerate(doc.get("features") or [], start=1):
        geometry = (feature or {}).get("geometry") or {}
        record = dict((feature or {}).get("properties") or {})
        if geometry.get("type") != "Point":
            record["_error"] = f"geometry is {geometry.get('type')}, not a Point"
        else:
            coords = geometry.get("coordinates") or [None, None]
            record["lon"], record["lat"] = (coords + [None, None])[:2]
        yield number, record


def validate(record: dict, region: str, default_language: str) -> Row:
    """One raw record to a Row; ValueError with the reason when the row must be refused."""
    if "_error" in record:
        raise ValueError(record["_error"])
    external_id = str(record.get("external_id") or "").strip()
    if not external_id:
        raise ValueError("missing external_id")
    phone = parse_phone(str(record.get("phone") or ""), region)
    lat = _coordinate(record.get("lat"), "lat", 90)
    lon = _coordinate(record.get("lon"), "lon", 180)
    label = str(record.get("label") or "home").strip().lower()
    if label not in LOCATION_LABELS:
        raise ValueError(f"unknown label {label!r} (use {', '.join(LOCATION_LABELS)})")
    return Row(
        line=0,
        external_id=external_id,
        name=str(record.get("name") or "").strip(),
        phone=phone.e164,
        mobile=phone.mobile,
        language=normalise_language(str(record.get("language") or ""), default_language),
        address=str(record.get("address") or "").strip(),
        lat=lat,
        lon=lon,
        label=label,
    )


def _coordinate(value: object, name: str, limit: float) -> float:
    if value is None or str(value).strip() == "":
        raise ValueError(f"missing {name}")
    try:
        number = (
            float(str(value).strip().replace(",", ".")) if isinstance(value, str) else float(value)
        )
    except (TypeError, ValueError):
        raise ValueError(f"{name} is not a number: {value!r}") from None
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise ValueError(f"{name} {value} is out of range (-{limit}..{limit})")
    return number


def import_file(
    session: Session, path: Path | str, region: str, default_language: str
) -> ImportReport:
    path = Path(path)
    return import_bytes(session, path.name, path.read_bytes(), region, default_language)


def import_bytes(
    session: Session, name: str, data: bytes, region: str, default_language: str
) -> ImportReport:
    """Validate every record, then upsert residents and their places in chunks; one commit."""
    report = ImportReport()
    residents: dict[str, list[Row]] = {}
    for line, record in read_records(name, data):
        try:
            row = validate(record, region, default_language)
        except (ValueError, PhoneError) as exc:
            report.refused.append((line, str(exc)))
            continue
        row.line = line
        residents.setdefault(row.external_id, []).append(row)
    # a phone that said STOP and then deleted itself stays opted out when the register brings
    # it back: no opt-in is recorded for it, and its opt-out comes back
    held = suppressed(session, (row.phone for rows in residents.values() for row in rows))
    ids = list(residents)
    for start in range(0, len(ids), CHUNK):
        chunk = {i: residents[i] for i in ids[start : start + CHUNK]}
        _upsert_chunk(session, chunk, report, held)
    restored = _restore_opt_outs(session, held)
    # bulk inserts bypass the ORM's own bump; updates go through the ORM, which bumps only for
    # what the snapshot holds
    bump_register(session, locations=report.imported > 0, opt_outs=restored > 0)
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
) -> None:
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
    if new:
        _insert_residents(session, new, held)
        report.imported += len(new)


def _insert_residents(session: Session, groups: list[list[Row]], held: dict[str, str]) -> None:
    """Bulk INSERT ... RETURNING: ORM objects would make a large import 10× slower."""
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
