"""CAP messages received from other systems, so their later Updates and Cancels find the alert
they refer to (our own messages' identifiers name the alert: `<sender>.alert.<id>`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from alerting.models.base import Base, utcnow


class CapMessage(Base):
    __tablename__ = "cap_messages"
    __table_args__ = (UniqueConstraint("sender", "identifier", name="uq_cap_messages_sender_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), index=True
    )
    sender: Mapped[str] = mapped_column(String(254))
    identifier: Mapped[str] = mapped_column(String(254))
    sent: Mapped[str] = mapped_column(String(40))
    msg_type: Mapped[str] = mapped_column(String(10))
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
