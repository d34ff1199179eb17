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
FLOOR = 1.0  # messages per second a throttled sender never goes below
RAISE_EVERY_S = 1.0  # a throttled rate is raised this often while no 429 comes
HOLD_S = 0.25  # one halving per this: the answers in flight when the provider says 429 all say it

# The effective rate (AIMD) lives next to the schedule as `<key>:aimd`, a hash of `iv` (slot
# spacing, µs), `t` (last change) and `d` (last halving); absent means the configured rate.
_EFFECTIVE = """
local function effective(now, base, raise_every, step)
  local cur = redis.call('HMGET', KEYS[2], 'iv', 't')
  if not cur[1] then return base end
  local iv, t = tonumber(cur[1]), tonumber(cur[2])
  local periods = math.floor((now - t) / raise_every)
  if periods < 1 then return iv end
  local rate = 1000000 / iv + periods * step
  local new_iv = math.floor(1000000 / rate)
  if new_iv <= base then
    redis.call('DEL', KEYS[2])
    return base
  end
  redis.call('HSET', KEYS[2], 'iv', string.format('%d', new_iv),
    't', string.format('%d', t + periods * raise_every))
  return new_iv
end
"""

_ACQUIRE = (
    _EFFECTIVE
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = effective(now, tonumber(ARGV[1]), tonumber(ARGV[4]), tonumber(ARGV[5]))
local want = tonumber(ARGV[2])
local horizon = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local room = now + horizon - tat
if room < 0 then
  return {0, tat - horizon - now, string.format('%d', tat), interval}
end
local k = math.floor(room / interval) + 1
if k > want then k = want end
local new_tat = tat + k * interval
local ttl = math.floor((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl)
return {k, tat - now, string.format('%d', tat), interval}
"""
)

_PENALIZE = (
    _EFFECTIVE
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < until_ then
  local ttl = math.floor((until_ - now) / 1000) + 1000
  redis.call('SET', KEYS[1], string.format('%d', until_), 'PX', ttl)
end
local base, floor, hold = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local iv = effective(now, base, tonumber(ARGV[5]), tonumber(ARGV[6]))
local halved = tonumber(redis.call('HGET', KEYS[2], 'd') or '0')
if now - halved >= hold then
  iv = math.min(floor, iv * 2)
  redis.call('HSET', KEYS[2], 'iv', string.format('%d', iv), 't', string.format('%d', now),
    'd', string.format('%d', now))
else
  redis.call('HSET', KEYS[2], 't', string.format('%d', now))
end
redis.call('PEXPIRE', KEYS[2], 3600000)
return iv
"""
)


@dataclass(frozen=True)
class Grant:
    """`count` slots: the first `first` seconds from now, then one every `interval` seconds;
    with count 0, `first` is how long to wait before asking again."""

    count: int
    first: float
    interval: float
    first_at: float = 0.0  # the first slot as a Unix time (Redis's clock)


def _spacing_us(rate: float) -> int:
    return max(1, int(1_000_000 / (rate * SAFETY)))


class RateLimiter:
    """Messages per second for one sender, shared through Redis.

    The provider decides what it accepts, so a 429 also lowers the rate every caller gets
    (AIMD, like TCP): it is halved (at most once per HOLD_S, never below FLOOR) and raised by a
    tenth of the configured rate every RAISE_EVERY_S without a 429, back to the configured one.
    During a 429 storm the sender then asks at about the rate the provider accepts instead of
    sending 15-25 requests per accepted SMS."""

    def __init__(self, conn: redis.Redis, sender: str, rate: float, horizon: float = 0.5) -> None:
        if rate <= 0:
            raise ValueError("the rate must be positive")
        self.conn = conn
        self.key = f"alerting:rate:{sender}"
        self.keys = [self.key, f"{self.key}:aimd"]
        self.rate = rate
        self.interval_us = _spacing_us(rate)
        self.floor_us = max(self.interval_us, _spacing_us(FLOOR))
        self.horizon_us = int(horizon * 1_000_000)
        self._raise = [int(RAISE_EVERY_S * 1_000_000), max(FLOOR, rate / 10) * SAFETY]
        self._acquire = conn.register_script(_ACQUIRE)
        self._penalize = conn.register_script(_PENALIZE)

    def acquire(self, n: int) -> Grant:
        count, first, first_at, interval = self._acquire(
            keys=self.keys, args=[self.interval_us, max(1, n), self.horizon_us, *self._raise]
        )
        return Grant(int(count), int(first) / 1e6, int(interval) / 1e6, int(first_at) / 1e6)

    def slow_down(self, seconds: float) -> float:
        """The provider said 429: no slot for anyone before `seconds` from now, and a lower
        rate after that. Returns the new effective rate (messages per second)."""
        iv = self._penalize(
            keys=self.keys,
            args=[
                int(seconds * 1_000_000),
                self.interval_us,
                self.floor_us,
                int(HOLD_S * 1_000_000),
                *self._raise,
            ],
        )
        return 1_000_000 / int(iv)


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
