"""Abuse limits on the portal's public endpoints, per rolling hour.

Every sign-in code we send costs money and can be abused for SMS pumping fraud (a bot requesting
codes to premium numbers), so each request is counted in Redis in three sliding windows at once
(per number, per IP address, in total). The public "is my address inside?" lookup searches the
register, so it is counted per IP address, or a bot could list every address. One Lua script
checks all windows and records the request only when none is full, so parallel requests on
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
    hit = _check_and_record(conn, keys, [per_number, per_ip, total], now)
    return LimitHit(scopes[hit - 1]) if hit else None


def record_address_check(
    conn: redis.Redis, ip: str, per_ip: int, now: float | None = None, *, secret: str
) -> bool:
    """Count one public address lookup from `ip`; False (nothing counted) when over `per_ip`."""
    key = f"alerting:public:address-ip:{keyed_digest(secret, 'address-ip', ip)}"
    return _check_and_record(conn, [key], [per_ip], now) == 0


def _check_and_record(
    conn: redis.Redis, keys: list[str], limits: list[int], now: float | None
) -> int:
    """0 when recorded in every window, else the 1-based index of the first full one."""
    moment = time.time() if now is None else now
    hit = conn.eval(
        _CHECK_AND_RECORD, len(keys), *keys, moment, WINDOW_SECONDS, *limits, uuid.uuid4().hex
    )
    return int(hit)
