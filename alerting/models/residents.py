"""The resident register: people, their places, opt-outs and consent history."""

from __future__ import annotations

import secrets
from datetime import datetime, time

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from alerting.models.base import Base, utcnow

LOCATION_LABELS = ("home", "cabin", "work", "other")


class Resident(Base):
    """A person who may be alerted. Several residents may share one phone (a household)."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(20), index=True)
    # mobile numbers can receive SMS; fixed-line numbers are kept but never counted as reachable
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(8), default="nb")
    source: Mapped[str] = mapped_column(String(20), default="import")  # import | self
    # categories the resident declined; life-safety categories can never be declined
    declined_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # volunteered for exercises: part of the test group exercise alerts go to
    exercise_volunteer: Mapped[bool] = mapped_column(Boolean, default=False)
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    locations: Mapped[list[Location]] = relationship(
        back_populates="resident", cascade="all, delete-orphan", order_by="Location.id"
    )


class Location(Base):
    """One place of a resident (home, cabin, work, other); alerts target these points."""

    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(20), default="home")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(300), default="")

    resident: Mapped[Resident] = relationship(back_populates="locations")


class OptOut(Base):
    """A phone number that replied STOP (or unsubscribed): never sent to until it opts back in."""

    __tablename__ = "opt_outs"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    source: Mapped[str] = mapped_column(String(20))  # sms | portal | provider
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Suppression(Base):
    """A STOP that outlives the resident: the HMAC of the phone (never the number) of someone who
    opted out and then deleted themselves. Planning, the preview and imports honour it until the
    same phone opts in again (START or a new portal sign-up)."""

    __tablename__ = "suppressions"

    phone_hmac: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ConsentEvent(Base):
    """When and how a phone opted in or out; kept as the consent history."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # E.164, or its HMAC (64 hex) once the resident is deleted
    phone: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(10))  # opt_in | opt_out
    source: Mapped[str] = mapped_column(
        String(20)
    )  # import | self_signup | sms | portal | provider
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class VerificationCode(Base):
    """A hashed one-time code sent by SMS to prove a resident owns a phone."""

    __tablename__ = "verification_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    ip: Mapped[str] = mapped_column(String(64), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class RegisterVersion(Base):
    """One row counting changes to locations and opt-outs, so cached targeting data stays fresh."""

    __tablename__ = "register_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    locations: Mapped[int] = mapped_column(Integer, default=0)
    opt_outs: Mapped[int] = mapped_column(Integer, default=0)
    # the change log holds every change after this `locations` version (older ones are pruned)
    changes_after: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # names this database's snapshot files (alerting.snapshot_files): a database made again
    # starts its versions again, and must not be mistaken for the one the files came from
    epoch: Mapped[str | None] = mapped_column(String(32), default=lambda: secrets.token_hex(8))


class RegisterChange(Base):
    """A resident whose targeting data (places, phone, language) changed at a `locations`
    version: each process reads these to patch its cached arrays instead of reloading them all.
    No foreign key: the row must outlive a deleted resident, whose deletion is the change."""

    __tablename__ = "register_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, index=True)
    resident_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


__all__ = [
    "LOCATION_LABELS",
    "ConsentEvent",
    "Location",
    "OptOut",
    "RegisterChange",
    "RegisterVersion",
    "Resident",
    "Suppression",
    "VerificationCode",
]
