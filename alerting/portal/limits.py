"""Abuse limits on sign-in codes: per number, per IP address and in total, per rolling hour.

Every code we send costs money and can be abused for SMS pumping fraud (a bot requesting codes to
premium numbers), so each request is counted in Redis in three sliding windows at once. One Lua
script checks all three and records the request only when none is full, so parallel requests on
several app processes can never overshoot a limit.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import redis

from alerting.keyed import keyed_digest

WINDOW_SECONDS = 3600
PREFIX = "alerting:signin:"

# KEYS: one sorted set per window; ARGV: now, window, then one limit per key, then a member id.
# Answers 0 when recorded, else the 1-based index of the first full window.
_CHECK_AND_RECORD = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then
    return i
  end
end
local member = ARGV[3 + #KEYS]
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('EXPIRE', key, window + 60)
end
return 0
"""


@dataclass(frozen=True)
class LimitHit:
    """Which limit refused a request: "number", "ip" or "total"."""

    scope: str


def record_code_request(
    conn: redis.Redis,
    phone: str,
    ip: str,
    per_number: int,
    per_ip: int,
    total: int,
    now: float | None = None,
    *,
    secret: str,
) -> LimitHit | None:
    """Count one code request; None when allowed, else the limit it hit (nothing is counted).

    Phone numbers and addresses are personal data: the keys hold only an HMAC of them under
    `secret` (SECRET_KEY), which, unlike a bare hash, cannot be undone by hashing every number.
    """
    scopes = ("number", "ip", "total")
    keys = [
        f"{PREFIX}number:{keyed_digest(secret, 'signin-number', phone)}",
        f"{PREFIX}ip:{keyed_digest(secret, 'signin-ip', ip)}",
        f"{PREFIX}total",
    ]
    moment = time.time() if now is None else now
    hit = conn.eval(
        _CHECK_AND_RECORD,
        len(keys),
        *keys,
        moment,
        WINDOW_SECONDS,
        per_number,
        per_ip,
        total,
        uuid.uuid4().hex,
    )
    return LimitHit(scopes[int(hit) - 1]) if int(hit) else None
