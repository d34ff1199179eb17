"""A global rate limit per sender: GCRA in one Lua script, so every worker on every machine
shares one schedule of send slots.

`acquire(n)` hands out up to `n` consecutive slots no further ahead than `horizon` seconds; the
caller sends message i at `first + i * interval` (seconds from now). Slots are spaced by
1 / (rate × SAFETY): exact spacing keeps every one-second window at or under the rate even when
requests arrive a few milliseconds early or late, and a long send still runs at SAFETY of it.
The schedule is kept in Redis's clock (`TIME`); senders turn a slot into local time with their
wall clock (`first_at - time.time()`), so a process paused between the answer and the
conversion still sends on the shared schedule (clocks synced by NTP, as usual).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

SAFETY = 0.98  # share of the configured rate the schedule uses: room for arrival jitter

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local horizon = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local room = now + horizon - tat
if room < 0 then
  return {0, tat - horizon - now, string.format('%d', tat)}
end
local k = math.floor(room / interval) + 1
if k > want then k = want end
local new_tat = tat + k * interval
local ttl = math.floor((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl)
return {k, tat - now, string.format('%d', tat)}
"""

_PENALIZE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < until_ then
  local ttl = math.floor((until_ - now) / 1000) + 1000
  redis.call('SET', KEYS[1], string.format('%d', until_), 'PX', ttl)
end
return 1
"""


@dataclass(frozen=True)
class Grant:
    """`count` slots: the first `first` seconds from now, then one every `interval` seconds;
    with count 0, `first` is how long to wait before asking again."""

    count: int
    first: float
    interval: float
    first_at: float = 0.0  # the first slot as a Unix time (Redis's clock)


class RateLimiter:
    """Messages per second for one sender, shared through Redis."""

    def __init__(self, conn: redis.Redis, sender: str, rate: float, horizon: float = 0.5) -> None:
        if rate <= 0:
            raise ValueError("the rate must be positive")
        self.conn = conn
        self.key = f"alerting:rate:{sender}"
        self.rate = rate
        self.interval_us = max(1, int(1_000_000 / (rate * SAFETY)))
        self.horizon_us = int(horizon * 1_000_000)
        self._acquire = conn.register_script(_ACQUIRE)
        self._penalize = conn.register_script(_PENALIZE)

    def acquire(self, n: int) -> Grant:
        count, first, first_at = self._acquire(
            keys=[self.key], args=[self.interval_us, max(1, n), self.horizon_us]
        )
        return Grant(int(count), int(first) / 1e6, self.interval_us / 1e6, int(first_at) / 1e6)

    def slow_down(self, seconds: float) -> None:
        """The provider said 429: no slot for anyone before `seconds` from now."""
        self._penalize(keys=[self.key], args=[int(seconds * 1_000_000)])


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most events in any `window` seconds: what the limiter promises never exceeds the rate
    (used by its tests and the rate benchmark on the provider's own arrival times)."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best
