"""When an alert is in force, and what the public is told about it.

An alert is in force from `onset` until `expires` (both naive UTC), or until an all-clear
follow-up supersedes it; how far its SMS delivery has come never changes that. The one table of
default validity per category and the one public-status function live here, so the API, the
staff pages and /public cannot disagree.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from alerting.models import RESPONSE_TYPES, Alert

# how long an alert is in force when the sender gives no end time; None: the sender must say
# (an evacuation is over when the emergency services say so, not after a default)
DEFAULT_VALIDITY: dict[str, timedelta | None] = {
    "evacuation": None,
    "fire": None,
    "flood": None,
    "gas": None,
    "water": timedelta(hours=48),
    "info": timedelta(hours=24),
    "test": timedelta(hours=1),
    # an all-clear (CAP responseType AllClear) of any category, life-safety included
    "AllClear": timedelta(hours=24),
}
ALL_CLEAR = "AllClear"
# the response type a message template (alerting.templates_text) sets on the compose form
TEMPLATE_RESPONSE_TYPES = {"evacuation": "Evacuate", "all_clear": ALL_CLEAR}
# a send_at this little in the past is taken as "now" (the sender's clock may be a bit behind)
CLOCK_SKEW = timedelta(minutes=1)
# /public lists alerts that ended (expired, cancelled, superseded) this recently below the others
RECENTLY_ENDED = timedelta(hours=24)

PUBLIC_STATUSES = ("in_force", "upcoming", "ended", "cancelled", "superseded")
CURRENT = ("in_force", "upcoming")
# alert states in which residents have been sent the alert; a draft, one pending approval,
# rejected or still scheduled is nobody's business yet (cancelled: only once sending started)
PUBLISHED_STATES = ("sending", "sent", "completed", "cancelled")


class ValidityError(ValueError):
    """Times or a response type we refuse (422), with a reason a person can act on."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(f"{error}: {detail}")
        self.error = error
        self.detail = detail


def check_response_type(value: object) -> str | None:
    """CAP responseType, or None when not given."""
    if value in (None, ""):
        return None
    if value not in RESPONSE_TYPES:
        raise ValidityError("unknown response_type", f"choose one of {', '.join(RESPONSE_TYPES)}")
    return str(value)


def default_validity(category: str, response_type: str | None) -> timedelta | None:
    key = ALL_CLEAR if response_type == ALL_CLEAR else category
    return DEFAULT_VALIDITY.get(key, DEFAULT_VALIDITY["info"])


def validity(
    category: str,
    response_type: str | None,
    onset: datetime | None,
    expires: datetime | None,
    *,
    starts: datetime,
    now: datetime,
) -> tuple[datetime, datetime]:
    """(onset, expires) of a new alert: onset defaults to when it starts sending, expires to the
    category's default after onset; refused when expires is missing for life-safety, not after
    onset, or already past."""
    onset = onset or starts
    if expires is None:
        duration = default_validity(category, response_type)
        if duration is None:
            article = "an" if category[0] in "aeiou" else "a"
            raise ValidityError(
                "missing expires",
                f"give an end time (expires) for {article} {category} alert: "
                "until when must residents act on it?",
            )
        try:
            expires = onset + duration
        except OverflowError:
            raise ValidityError("invalid onset", "onset is too far in the future") from None
    if expires <= now:
        raise ValidityError("invalid expires", "the end time (expires) is already past")
    if expires <= onset:
        raise ValidityError("invalid expires", "the end time (expires) must be after the start")
    return onset, expires


def in_force_between(alert: Alert) -> tuple[datetime, datetime]:
    """The alert's validity; alerts stored before it was recorded count from when they started
    for their category's default (life-safety: like info)."""
    onset = alert.onset or alert.started_at or alert.send_at or alert.created_at
    if alert.expires is not None:
        return onset, alert.expires
    duration = default_validity(alert.category, alert.response_type) or DEFAULT_VALIDITY["info"]
    return onset, onset + duration


def public_status(alert: Alert, now: datetime) -> str:
    """in_force, upcoming, ended, cancelled or superseded: from the times and the alert's status,
    never from delivery progress."""
    if alert.status == "cancelled":
        return "cancelled"
    ends = superseded_at(alert)
    if ends is not None and now >= ends:
        return "superseded"
    onset, expires = in_force_between(alert)
    if now >= expires:
        return "ended"
    if now < onset:
        return "upcoming"
    return "in_force"


def superseded_at(alert: Alert) -> datetime | None:
    """When the all-clear that supersedes the alert takes effect (its onset), if one does."""
    all_clear = alert.superseder
    return None if all_clear is None else in_force_between(all_clear)[0]


def ended_at(alert: Alert) -> datetime:
    """When an alert stopped (or stops) being in force: cancelled, superseded or expired."""
    if alert.status == "cancelled" and alert.cancelled_at is not None:
        return alert.cancelled_at
    expires = in_force_between(alert)[1]
    ends = superseded_at(alert)
    return expires if ends is None else min(expires, ends)


def is_published(alert: Alert) -> bool:
    """May /public show it at all: never an exercise, never before residents were sent it."""
    if alert.exercise or alert.status not in PUBLISHED_STATES:
        return False
    return alert.status != "cancelled" or alert.started_at is not None


def supersede(parent: Alert, all_clear: Alert) -> None:
    """An all-clear ends its parent from the all-clear's onset (at once, unless staff gave it a
    later start). The parent's own end time is kept, so cancelling the all-clear (`withdraw`)
    puts it back in force exactly as it was."""
    parent.superseder = all_clear


def withdraw(parent: Alert | None, all_clear: Alert) -> bool:
    """A cancelled all-clear no longer ends its parent: staff have not said the danger is over.
    True when the parent is in force again (until its own end time)."""
    if parent is None or parent.superseder is not all_clear:
        return False
    parent.superseder = None
    return True
