"""Who a follow-up or a resend would reach, for its compose page: the same recipients
`alerting.alerts.follow_up` counts (the parent's messages, or those in the chosen statuses, minus
numbers that opted out since) and the languages they read now (the resident's, else the
language their first message was in), so the page offers one text box per language."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerting.models import Alert, OptOut, Resident
from alerting.sending.planning import follow_up_recipients


def follow_up_audience(
    session: Session, parent: Alert, statuses: tuple[str, ...] | None = None
) -> dict:
    """{"residents", "phones", "opted_out", "landlines", "languages": {language: phones}} like a
    preview (phones texted, landlines called); `phones - opted_out + landlines` is exactly what
    `follow_up` records as the recipients."""
    probe = Alert(parent_id=parent.id, follow_up_statuses=list(statuses) if statuses else None)
    messages = follow_up_recipients(probe).subquery()
    phones = session.scalar(select(func.count()).select_from(messages)) or 0
    landlines = session.scalar(
        select(func.count()).select_from(messages).where(messages.c.channel == "voice")
    )
    opted_out = session.scalar(
        select(func.count()).select_from(messages).join(OptOut, OptOut.phone == messages.c.phone)
    )
    language = func.coalesce(Resident.language, messages.c.language)
    rows = session.execute(
        select(language, func.count())
        .select_from(messages)
        .outerjoin(Resident, Resident.id == messages.c.resident_id)
        .outerjoin(OptOut, OptOut.phone == messages.c.phone)
        .where(OptOut.phone.is_(None))
        .group_by(language)
    ).all()
    languages = {lang: n for lang, n in rows if lang and lang != "default"}
    return {
        "residents": phones,
        "phones": phones - landlines,
        "opted_out": opted_out,
        "landlines": landlines,
        "languages": languages,
    }
