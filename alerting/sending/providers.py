"""Which SMS provider takes the next batch, and how healthy each one is.

SMS_PROVIDERS lists the providers with weights (`twilio:3,vonage:1`; default `twilio` alone, so
a single-provider setup behaves as before). Every send's outcome is counted in Redis per provider
and second, so every worker sees the same health: an *error* is an answer that proves nothing was
taken because the provider failed (5xx, a refused or lost connection) or no answer in time; a
429 is the provider pacing us (the limiter handles it) and is not counted at all (counted as a
try, a 429 storm hid an outage: 5 errors in 13 tries stayed under one half); a permanent refusal
is about the number and counts as a try that worked.
A provider whose error share passes PROVIDER_ERROR_THRESHOLD (with at least MIN_ATTEMPTS tries)
over the last FAST_WINDOW_S seconds, or over the last minute, is demoted for PROBE_AFTER_S: the
other providers take its share at once. Then it gets traffic again (the probe) and is demoted
again at once if it still fails. The fast window is why traffic moves within seconds: over a
whole minute of earlier successes the error share of an outage passes one half only after a
minute; STREAK_ERRORS errors in a row (no success between) demote at once. A message claimed
for a provider that is demoted while it waits for its slot is put back unsent and taken again
for a healthy one. When every provider is demoted they all keep sending (a slow alert beats
none).

A message's provider is written into `messages.provider` when it is claimed, so receipts, the
lookup of an `unknown` message and the status page all know where it went; an `unknown` message
is looked up at its own provider only (alerting.sending.reconcile), never sent elsewhere before
that provider says it does not hold it.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import redis

from alerting.config import PROVIDER_NAMES, Settings
from alerting.sending.provider import Provider, ProviderError, sender_of
from alerting.sending.ratelimit import RateLimiter
from alerting.sending.vonage import VonageProvider

WINDOW_S = 60  # the health the status page shows: the last minute
FAST_WINDOW_S = 5  # demotion also looks at this recent stretch (see above)
MIN_ATTEMPTS = 5  # fewer tries than this in a window say nothing
PROBE_AFTER_S = 15.0  # a demoted provider gets traffic again after this
CACHE_S = 0.25  # a job reads the shared health at most this often
HEALTH = "alerting:provider-health:"  # + name + ":" + unix second → hash attempts, errors
DEMOTED = "alerting:provider-demoted:"  # + name, with a TTL of PROBE_AFTER_S
STREAK = "alerting:provider-error-streak:"  # + name: errors since its last success
STREAK_ERRORS = 10  # this many errors in a row demote at once
CALLBACK_PATHS = {"twilio": "/webhooks/twilio/status/{id}", "vonage": "/webhooks/vonage/dlr/{id}"}


THROTTLED = ("429", "20429", "vonage-1")


def is_throttled(exc: ProviderError | None) -> bool:
    """The provider pacing us: the limiter's business, and no evidence either way."""
    return exc is not None and not exc.unknown and exc.code in THROTTLED


def is_error(exc: ProviderError | None) -> bool:
    """Whether an outcome counts against the provider's health."""
    return exc is not None and (exc.unknown or exc.transient) and not is_throttled(exc)


def open_provider(settings: Settings, name: str) -> Provider | VonageProvider:
    return VonageProvider(settings) if name == "vonage" else Provider(settings)


def limiter_for(conn: redis.Redis, settings: Settings, name: str) -> RateLimiter:
    """Each provider's own rate limit (its own sender key in Redis)."""
    if name == "vonage":
        return RateLimiter(conn, f"vonage:{settings.vonage_from}", settings.vonage_rate_per_second)
    return RateLimiter(conn, sender_of(settings), settings.sms_rate_per_second)


@dataclass(frozen=True)
class Lane:
    """One provider as a send job uses it: the client and its own rate limit."""

    name: str
    provider: Provider | VonageProvider
    limiter: RateLimiter

    def callback_url(self, public_url: str, message_id: int) -> str:
        return public_url + CALLBACK_PATHS[self.name].format(id=message_id)


@contextlib.asynccontextmanager
async def open_lanes(conn: redis.Redis, settings: Settings) -> AsyncIterator[dict[str, Lane]]:
    """Every known provider, configured or not: a message an earlier configuration sent
    through one may still have to be looked up there."""
    lanes: dict[str, Lane] = {}
    async with contextlib.AsyncExitStack() as stack:
        for name in PROVIDER_NAMES:
            provider = await stack.enter_async_context(open_provider(settings, name))
            lanes[name] = Lane(name, provider, limiter_for(conn, settings, name))
        yield lanes


@dataclass(frozen=True)
class Health:
    """One provider as the status page shows it."""

    name: str
    weight: float
    attempts: int
    errors: int
    demoted: bool

    @property
    def error_rate(self) -> float:
        return self.errors / self.attempts if self.attempts else 0.0


class Router:
    """Per send job: records outcomes (flushed to Redis in batches) and picks providers."""

    def __init__(self, conn: redis.Redis, settings: Settings) -> None:
        self.conn = conn
        self.weights = dict(settings.sms_providers)
        self.threshold = settings.provider_error_threshold
        self.pending: Counter[tuple[str, str]] = Counter()  # (name, attempts|errors) → n
        self._demoted: set[str] = set()
        self._read_at = -1e9

    @property
    def names(self) -> list[str]:
        return list(self.weights)

    def record(self, name: str, exc: ProviderError | None) -> None:
        """One send's outcome (None: taken); a 429 is not counted at all."""
        if is_throttled(exc):
            return
        self.pending[(name, "attempts")] += 1
        if is_error(exc):
            self.pending[(name, "errors")] += 1

    def flush(self) -> None:
        self.write(self.take())

    def take(self) -> Counter[tuple[str, str]]:
        """The counts since the last take (on the event loop, where `record` runs)."""
        counts, self.pending = self.pending, Counter()
        return counts

    def write(self, counts: Counter[tuple[str, str]]) -> None:
        """Counts into this second's buckets; demote who failed (blocking: Redis). Without
        Redis the counts are dropped: health only steers traffic, and sending goes on."""
        if not counts:
            return
        with contextlib.suppress(redis.RedisError):
            self._write(counts)

    def _write(self, counts: Counter[tuple[str, str]]) -> None:
        second = int(time.time())
        names = sorted({name for name, _ in counts})
        with self.conn.pipeline(transaction=False) as pipe:
            for (name, field), n in counts.items():
                key = f"{HEALTH}{name}:{second}"
                pipe.hincrby(key, field, n)
                pipe.expire(key, WINDOW_S + 5)
            for name in names:  # errors in a row: any success ends the streak
                errors = counts[(name, "errors")]
                if errors < counts[(name, "attempts")]:
                    pipe.set(STREAK + name, 0, ex=WINDOW_S)
                else:
                    pipe.incrby(STREAK + name, errors)
                    pipe.expire(STREAK + name, WINDOW_S)
            pipe.execute()
        if len(self.weights) == 1:
            return  # nowhere to move traffic to: counted for the status page only
        for name in names:
            if self._failing(name):
                self.conn.set(DEMOTED + name, "1", px=int(PROBE_AFTER_S * 1000), nx=True)
        self._read_at = -1e9

    def _failing(self, name: str) -> bool:
        """STREAK_ERRORS errors in a row; else the recent window when it says enough (so a
        probe that succeeds is believed over the minute's old errors), else the minute."""
        if int(self.conn.get(STREAK + name) or 0) >= STREAK_ERRORS:
            return True
        attempts, errors = counts_for(self.conn, name, FAST_WINDOW_S)
        if attempts < MIN_ATTEMPTS:
            attempts, errors = counts_for(self.conn, name, WINDOW_S)
        return attempts >= MIN_ATTEMPTS and errors / attempts >= self.threshold

    def _healthy(self) -> list[str]:
        """The providers not demoted (all of them if every one is), read at most every
        CACHE_S."""
        now = time.monotonic()
        if now - self._read_at > CACHE_S:
            self._read_at = now
            with contextlib.suppress(redis.RedisError):  # without Redis: as last seen
                flags = self.conn.mget([DEMOTED + n for n in self.names])
                self._demoted = {n for n, flag in zip(self.names, flags, strict=True) if flag}
        return [n for n in self.names if n not in self._demoted] or self.names

    def choose(self) -> str:
        """A provider by weight among the healthy ones."""
        if len(self.weights) == 1:
            return self.names[0]
        healthy = self._healthy()
        return random.choices(healthy, [self.weights[n] for n in healthy])[0]

    def usable(self, name: str) -> bool:
        """Whether a message claimed for `name` should still go there: not once it was
        demoted while the message waited for its slot (while another provider is healthy)."""
        return len(self.weights) == 1 or name in self._healthy()


def counts_for(conn: redis.Redis, name: str, seconds: int) -> tuple[int, int]:
    """(attempts, errors) of the last `seconds` seconds."""
    now = int(time.time())
    with conn.pipeline(transaction=False) as pipe:
        for second in range(now - seconds + 1, now + 1):
            pipe.hmget(f"{HEALTH}{name}:{second}", "attempts", "errors")
        rows = pipe.execute()
    attempts = sum(int(a or 0) for a, _ in rows)
    errors = sum(int(e or 0) for _, e in rows)
    return attempts, errors


def health(conn: redis.Redis, settings: Settings) -> list[Health]:
    """Each configured provider's last minute, for the staff status page."""
    out = []
    for name, weight in settings.sms_providers:
        attempts, errors = counts_for(conn, name, WINDOW_S)
        demoted = bool(conn.exists(DEMOTED + name)) and len(settings.sms_providers) > 1
        out.append(Health(name, weight, attempts, errors, demoted))
    return out
