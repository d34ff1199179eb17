"""One-time sign-in codes: six digits, sent by SMS, stored only as an argon2 hash.

Argon2 rather than a fast hash: a million possible codes would fall to a fast hash in a moment if
the table leaked, while argon2 makes that take hours, long after the code has expired.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alerting.auth import hash_password, verify_password
from alerting.models import VerificationCode, utcnow


class Check(enum.Enum):
    OK = "ok"
    WRONG = "wrong"  # wrong code, attempts remain
    EXHAUSTED = "exhausted"  # too many wrong attempts: ask for a new code
    EXPIRED = "expired"  # no live code for this number


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def issue_code(session: Session, phone: str, ip: str, minutes: int) -> str:
    """Store a fresh code for `phone` (older ones stop working) and return it in clear, once."""
    return _issue(session, phone, ip, minutes)[1]


def issue_sealed_code(
    session: Session, phone: str, ip: str, minutes: int, secret: str
) -> tuple[int, str]:
    """Like `issue_code`, but answer (row id, the code sealed for that row), for a send job:
    what is queued in Redis must not be a live code in clear."""
    row, code = _issue(session, phone, ip, minutes)
    session.flush()
    return row.id, seal_code(secret, row.id, code)


def _pad(secret: str, code_id: int) -> int:
    # a pseudo-random pad from the secret key, used for one row only: a one-time pad in effect
    digest = hmac.new(secret.encode(), f"signin-code\x00{code_id}".encode(), hashlib.sha256)
    return int(digest.hexdigest()[:16], 16) % 1_000_000


def seal_code(secret: str, code_id: int, code: str) -> str:
    return f"{(int(code) + _pad(secret, code_id)) % 1_000_000:06d}"


def unseal_code(secret: str, code_id: int, sealed: str) -> str:
    return f"{(int(sealed) - _pad(secret, code_id)) % 1_000_000:06d}"


def _issue(session: Session, phone: str, ip: str, minutes: int) -> tuple[VerificationCode, str]:
    now = utcnow()
    session.execute(
        update(VerificationCode)
        .where(VerificationCode.phone == phone, VerificationCode.used_at.is_(None))
        .values(used_at=now)
    )
    code = new_code()
    row = VerificationCode(
        phone=phone,
        code_hash=hash_password(code),
        ip=ip[:64],
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    session.add(row)
    return row, code


def check_code(session: Session, phone: str, code: str, max_attempts: int) -> Check:
    """Check `code` against the live code of `phone`; a right code can be used only once.

    The attempt is counted with one conditional UPDATE before the hash is compared, so parallel
    guesses cannot share an attempt; the caller commits.
    """
    now = utcnow()
    row = session.scalar(
        select(VerificationCode)
        .where(
            VerificationCode.phone == phone,
            VerificationCode.used_at.is_(None),
            VerificationCode.expires_at > now,
        )
        .order_by(VerificationCode.id.desc())
        .limit(1)
    )
    if row is None:
        return Check.EXPIRED
    counted = session.execute(
        update(VerificationCode)
        .where(VerificationCode.id == row.id, VerificationCode.attempts < max_attempts)
        .values(attempts=VerificationCode.attempts + 1)
        .returning(VerificationCode.attempts)
    ).scalar()
    if counted is None:
        return Check.EXHAUSTED
    typed = "".join(ch for ch in code if ch.isdigit())
    if len(typed) == 6 and verify_password(row.code_hash, typed):
        session.execute(
            update(VerificationCode).where(VerificationCode.id == row.id).values(used_at=now)
        )
        return Check.OK
    if counted >= max_attempts:
        session.execute(
            update(VerificationCode).where(VerificationCode.id == row.id).values(used_at=now)
        )
        return Check.EXHAUSTED
    return Check.WRONG
