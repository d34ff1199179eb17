"""Triggers: named rules a sensor or another system fires with a signed call
(alerting.triggers), and every firing, kept for replay protection, de-duplication and audit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from alerting.models.base import Base, utcnow


class Trigger(Base):
    __tablename__ = "triggers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # the HMAC-SHA256 key the caller signs with (shown once, when the trigger is made)
    secret: Mapped[str] = mapped_column(String(128))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    category: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    # {"default": "...", "nb": "..."} with {placeholders} filled from the call's values
    texts: Mapped[dict] = mapped_column(JSON)
    # send at once; else the alert is a draft that waits for a person
    auto_send: Mapped[bool] = mapped_column(Boolean, default=False)
    # a firing within this many minutes of the last one that made an alert, while that alert
    # is not cancelled or ended, returns that alert instead of making another
    dedup_minutes: Mapped[int] = mapped_column(Integer, default=60)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TriggerFiring(Base):
    __tablename__ = "trigger_firings"

    id: Mapped[int] = mapped_column(primary_key=True)
    trigger_id: Mapped[int] = mapped_column(
        ForeignKey("triggers.id", ondelete="CASCADE"), index=True
    )
    # unique: the same signed request is taken once (a replay within the window is refused)
    signature: Mapped[str] = mapped_column(String(64), unique=True)
    fired_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(20))  # created | deduplicated | refused
    detail: Mapped[str] = mapped_column(Text, default="")
