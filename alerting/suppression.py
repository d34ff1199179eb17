"""Phone numbers we must remember without keeping them: an HMAC of the E.164 number.

A STOP has to outlive "delete me": otherwise the next register import brings the number back and
the person gets alerts they refused. So deleting an opted-out phone leaves a suppression, the
HMAC of the number under a key derived from SECRET_KEY (the number itself is gone), and imports
turn a suppressed phone back into an opt-out. START or a new portal sign-up lifts it. Retention
and deletion use the same HMAC, so every pseudonymised row of one phone still matches the others.

A keyed HMAC rather than a plain hash: Norwegian mobile numbers are few enough (~10^8) to hash
them all in minutes, so without the key the table would be the numbers in disguise. Changing
SECRET_KEY therefore forgets every suppression.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from alerting import current
from alerting.db import insert_ignore
from alerting.models import Suppression, utcnow

LOOKUP_CHUNK = 2000


@functools.lru_cache(maxsize=8)
def _keyed(secret_key: str) -> hmac.HMAC:
    # a key of its own (domain-separated from session signing), derived so nothing new to keep;
    # the keyed state is copied per number, which halves the cost of each HMAC
    key = hmac.new(secret_key.encode(), b"alerting phone hmac v1", hashlib.sha256).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


def phone_hasher() -> Callable[[str], str]:
    """`phone_hmac` bound to the current app's key, for many numbers in a row."""
    keyed = _keyed(current.settings().secret_key)

    def hashed(phone: str) -> str:
        h = keyed.copy()
        h.update(phone.encode())
        return h.hexdigest()

    return hashed


def phone_hmac(phone: str) -> str:
    """64 hex digits standing for `phone` (E.164) wherever the number may not be kept."""
    return phone_hasher()(phone)


def suppress(session: Session, phone: str, source: str) -> None:
    """Remember that `phone` opted out (by `source`), without the number."""
    row = {"phone_hmac": phone_hmac(phone), "source": source, "created_at": utcnow()}
    session.execute(insert_ignore(session, Suppression.__table__, ["phone_hmac"]), row)


def lift(session: Session, phone: str) -> bool:
    """`phone` opted in again: forget its suppression. Returns whether there was one."""
    gone = session.execute(delete(Suppression).where(Suppression.phone_hmac == phone_hmac(phone)))
    return gone.rowcount > 0


def suppressed(session: Session, phones: Iterable[str]) -> dict[str, str]:
    """Those of `phones` that are suppressed, each with the source of its opt-out."""
    if session.scalar(select(Suppression.phone_hmac).limit(1)) is None:
        return {}  # the usual case: no HMAC to compute at all
    hashed = phone_hasher()
    by_hmac = {hashed(p): p for p in set(phones)}
    hashes = list(by_hmac)
    found: dict[str, str] = {}
    for i in range(0, len(hashes), LOOKUP_CHUNK):
        rows = session.execute(
            select(Suppression.phone_hmac, Suppression.source).where(
                Suppression.phone_hmac.in_(hashes[i : i + LOOKUP_CHUNK])
            )
        )
        found.update({by_hmac[h]: source for h, source in rows})
    return found
