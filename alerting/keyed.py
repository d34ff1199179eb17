"""Keyed digests of personal data (phone numbers, emails) for Redis keys.

A bare SHA-256 of a phone number is no protection: there are few enough numbers to hash them all.
An HMAC under SECRET_KEY cannot be reversed without the key; the purpose keeps digests made for
one use from matching those made for another.
"""

from __future__ import annotations

import hashlib
import hmac


def keyed_digest(secret: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of `value` under `secret` for `purpose`, as 32 hex characters."""
    message = f"{purpose}\x00{value}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]
