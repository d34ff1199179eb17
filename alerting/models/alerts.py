"""Saved areas, alerts, the messages they fan out to, receipts and replies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from alerting.categories import CATEGORIES as CATEGORIES
from alerting.categories import LIFE_SAFETY as LIFE_SAFETY
from alerting.categories import RESPONSE_TYPES as RESPONSE_TYPES
from alerting.categories import SEVERITIES as SEVERITIES
from alerting.models.base import Base, utcnow

ALERT_STATES = (
    "draft",
    "pending_approval",
    "rejected",
    "scheduled",
    "sending",
    "sent",
    "completed",
    "cancelled",
)
# the transitions between them: alerting.sending.states (which checks it agrees with these)
MESSAGE_STATES = (
    "pending",
    "sending",
    "unknown",
    "queued",
    "accepted",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "skipped",
    "cancelled",
)
FINAL_MESSAGE_STATES = ("delivered", "undelivered", "failed", "skipped", "cancelled")


class Area(Base):
    """A named, saved area (GeoJSON as drawn or uploaded)."""

    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    geojson: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # bumped on every change of the geometry; each version is kept in area_versions
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(254), default="")
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    # the GIS layer it was imported from with its neighbours (water-supply zones, ...); None: drawn
    library: Mapped[str | None] = mapped_column(String(100))


class AreaVersion(Base):
    """A saved area's geometry as it was: kept so an alert's area can always be shown exactly."""

    __tablename__ = "area_versions"
    __table_args__ = (UniqueConstraint("area_id", "version", name="uq_area_versions_area_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    geojson: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(254), default="")
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Alert(Base):
    """One alert to everyone inside an area; its messages are the durable record of delivery."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    # {"default": "...", "nb": "...", "en": "..."}
    texts: Mapped[dict] = mapped_column(JSON)
    area_geojson: Mapped[str] = mapped_column(Text)
    area_name: Mapped[str] = mapped_column(String(200), default="")
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"))
    # the saved area's version the alert was sent to (its geometry is copied to area_geojson)
    area_version: Mapped[int | None] = mapped_column(Integer)
    # a follow-up ("all clear") goes to exactly the recipients of its parent
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    # a follow-up only to the parent's messages in these statuses (a resend to failures);
    # None: to all of the parent's recipients
    follow_up_statuses: Mapped[list[str] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    sender: Mapped[str] = mapped_column(String(64), default="")
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    send_at: Mapped[datetime | None] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    # validity: in force from onset (None: from when it was sent) until expires (naive UTC)
    onset: Mapped[datetime | None] = mapped_column(DateTime)
    expires: Mapped[datetime | None] = mapped_column(DateTime)
    response_type: Mapped[str | None] = mapped_column(String(20))
    # the all-clear that ends this alert from its onset (public status "superseded"); cleared
    # when that all-clear is cancelled. `expires` keeps the end time staff gave.
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    superseder: Mapped[Alert | None] = relationship(
        foreign_keys=[superseded_by], remote_side="Alert.id"
    )
    # an exercise goes only to the test group, prefixed, and never shows on /public
    exercise: Mapped[bool] = mapped_column(Boolean, default=False)
    # two-person approval: who approved or rejected it, when, and their comment
    reviewed_by: Mapped[str] = mapped_column(String(254), default="")
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    review_comment: Mapped[str] = mapped_column(Text, default="")
    # set when retention replaced the alert's phone numbers by their HMAC (RETENTION_DAYS)
    redacted_at: Mapped[datetime | None] = mapped_column(DateTime)
    # text spoken to landlines per language (None: the SMS texts are spoken)
    spoken_texts: Mapped[dict | None] = mapped_column(JSON)
    # call mobiles whose SMS is still undelivered this many minutes after sending (None: never)
    call_undelivered_after: Mapped[int | None] = mapped_column(Integer)


class Message(Base):
    """One SMS or one voice call to one phone for one alert; unique per (alert, phone, channel)
    so a replay cannot double."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("alert_id", "phone", "channel", name="uq_messages_alert_phone_channel"),
        Index("ix_messages_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    # E.164, or its HMAC (64 hex) once retention has redacted the alert
    phone: Mapped[str] = mapped_column(String(64), index=True)
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("residents.id", ondelete="SET NULL"), index=True
    )
    language: Mapped[str] = mapped_column(String(8), default="")
    body: Mapped[str] = mapped_column(Text)
    # sms | voice (a landline is called and the text spoken)
    channel: Mapped[str] = mapped_column(String(10), default="sms", server_default="sms")
    # a call's "press 1": the recipient confirmed hearing the message
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    # which SMS provider took the message (twilio | vonage); None before hand-over
    provider: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # the send job that holds the claim: a dead job's claims are reconciled, not waited out
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    # how often the provider was asked for a receipt that never came (bounded)
    receipt_polls: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class DeliveryEvent(Base):
    """Every status callback as received, kept even when it no longer changes the message."""

    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    provider_sid: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(20))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class InboundMessage(Base):
    """An SMS a phone sent to us: STOP/START/HELP keywords or a reply to an alert."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    # unique: a webhook the provider retries is recognised and handled once
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone: Mapped[str] = mapped_column(String(64), index=True)
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10))  # stop | start | help | reply
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="SET NULL"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
