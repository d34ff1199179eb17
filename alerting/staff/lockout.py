"""Lock-out after repeated failed sign-ins, counted so that parallel guesses cannot share a slot.

Every attempt first takes a slot with one `UPDATE ... RETURNING`: it adds one to `failed_logins`
and, on the last allowed attempt, sets `locked_until` in the same statement, and a locked account
matches no row at all. Only an attempt that got a slot may run the slow argon2 check, so any number
of parallel guesses check at most LOGIN_LOCKOUT_ATTEMPTS passwords. A read-then-write counter
would let every guess in flight pass the check and lose increments.

Unknown emails are counted the same way in Redis (under a keyed HMAC of the email), so the lock
message cannot tell an attacker which accounts exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session

from alerting.keyed import keyed_digest
from alerting.models import StaffUser

log = logging.getLogger(__name__)
PREFIX = "alerting:login:"
FORGET_UNKNOWN_S = 24 * 3600  # an unknown email's failures are forgotten after a quiet day

# KEYS: failures, lock; ARGV: attempts, lock ms, forget ms. Answers {allowed, lock ms left}.
_UNKNOWN_ATTEMPT = """
local left = redis.call('PTTL', KEYS[2])
if left > 0 then return {0, left} end
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if n >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
  return {1, tonumber(ARGV[2])}
end
return {1, 0}
"""


@dataclass(frozen=True)
class Attempt:
    """What one sign-in attempt may do: check the password (allowed), or say it is locked."""

    allowed: bool
    user_id: int | None = None
    # when allowed: this attempt was the last one and locked the account; else: the lock's end
    locks: bool = False
    locked_until: datetime | None = None


def take_attempt(
    session: Session,
    conn: redis.Redis,
    secret: str,
    email: str,
    attempts: int,
    minutes: float,
    now: datetime,
) -> Attempt:
    """Count one attempt for `email` before its password is checked; commits at once."""
    lock_until = now + timedelta(minutes=minutes)
    last = StaffUser.failed_logins + 1 >= attempts
    row = session.execute(
        update(StaffUser)
        .where(
            StaffUser.email == email,
            or_(StaffUser.locked_until.is_(None), StaffUser.locked_until <= now),
        )
        .values(
            failed_logins=case((last, 0), else_=StaffUser.failed_logins + 1),
            locked_until=case((last, lock_until), else_=None),
        )
        .returning(StaffUser.id, StaffUser.locked_until)
        .execution_options(synchronize_session=False)
    ).first()
    session.commit()
    if row is not None:
        return Attempt(allowed=True, user_id=row.id, locks=row.locked_until is not None)
    locked = session.scalar(select(StaffUser.locked_until).where(StaffUser.email == email))
    if locked is not None:
        return Attempt(allowed=False, locked_until=locked)
    return _unknown_attempt(conn, secret, email, attempts, minutes, now)


def _unknown_attempt(
    conn: redis.Redis, secret: str, email: str, attempts: int, minutes: float, now: datetime
) -> Attempt:
    digest = keyed_digest(secret, "login", email)
    try:
        allowed, left_ms = conn.eval(
            _UNKNOWN_ATTEMPT,
            2,
            f"{PREFIX}failures:{digest}",
            f"{PREFIX}locked:{digest}",
            attempts,
            int(minutes * 60_000),
            FORGET_UNKNOWN_S * 1000,
        )
    except redis.RedisError:  # no account to protect: only the message differs while Redis is out
        log.warning("Redis is unreachable; unknown sign-in emails are not counted")
        return Attempt(allowed=True)
    until = now + timedelta(milliseconds=int(left_ms)) if int(left_ms) else None
    if int(allowed):
        return Attempt(allowed=True, locks=until is not None)
    return Attempt(allowed=False, locked_until=until)


def clear_failures(session: Session, user_id: int) -> None:
    """The right password: forget the failures and any lock the same attempt set."""
    session.execute(
        update(StaffUser)
        .where(StaffUser.id == user_id)
        .values(failed_logins=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )
