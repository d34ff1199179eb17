"""Find addresses of the register by typing part of them: text and position, never who lives there.

One search for the staff map, the residents' places and the public "is my address inside?", so
each answers the same way: addresses starting with the text first, then those containing it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from alerting.models import Location, Resident

MIN_CHARS = 3
MAX_CHARS = 100


@dataclass(frozen=True)
class Address:
    address: str
    lat: float
    lon: float

    def as_dict(self) -> dict[str, str | float]:
        return {"address": self.address, "lat": self.lat, "lon": self.lon}


def normalise(text: str) -> str:
    """The query as matched: runs of white space as one space."""
    return " ".join(text.split())


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def find_addresses(
    session: Session, text: str, limit: int, *, imported_only: bool = True
) -> list[Address]:
    """Up to `limit` distinct addresses containing `text` (case-insensitive), prefix matches first.

    `imported_only` keeps to places from the register import: what self-registered residents
    typed is theirs, and must not be discoverable by others (the staff, who see the register,
    search everything).
    """
    q = normalise(text)[:MAX_CHARS]
    if len(q) < MIN_CHARS:
        return []
    starts = Location.address.ilike(f"{_like(q)}%", escape="\\")
    query = (
        select(Location.address, func.min(Location.lat), func.min(Location.lon))
        .where(Location.address.ilike(f"%{_like(q)}%", escape="\\"))
        .group_by(Location.address)
        .order_by(func.min(case((starts, 0), else_=1)), Location.address)
        .limit(limit)
    )
    if imported_only:
        query = query.join(Resident, Resident.id == Location.resident_id).where(
            Resident.source == "import"
        )
    return [Address(a, float(lat), float(lon)) for a, lat, lon in session.execute(query)]
