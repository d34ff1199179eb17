"""The global rate limit: one GCRA schedule in Redis shared by every caller."""

from __future__ import annotations

import threading
import time

import pytest

from alerting.sending import ratelimit
from alerting.sending.queues import redis_for
from alerting.sending.ratelimit import RateLimiter, max_in_window


@pytest.fixture
def conn(app):
    return redis_for(app.extensions["alerting.settings"].redis_url)


def take_slots(limiter: RateLimiter, until: float, out: list[float]) -> None:
    """Like a sender: ask for a few slots, record when each would be sent."""
    while time.time() < until:
        grant = limiter.acquire(7)
        now = time.time()
        if not grant.count:
            time.sleep(grant.first)
            continue
        out.extend(now + grant.first + i * grant.interval for i in range(grant.count))
        time.sleep(max(0.0, grant.first + grant.count * grant.interval - 0.2))


def test_many_callers_never_exceed_the_rate_and_use_97_percent(conn):
    rate = 200.0
    limiters = [RateLimiter(conn, "test-sender", rate) for _ in range(4)]
    slots: list[float] = []
    until = time.time() + 2.0
    threads = [threading.Thread(target=take_slots, args=(lim, until, slots)) for lim in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max_in_window(slots) <= rate
    span = max(slots) - min(slots)
    assert (len(slots) - 1) / span >= 0.97 * rate


def test_slots_are_never_handed_out_beyond_the_horizon(conn):
    limiter = RateLimiter(conn, "horizon", 10.0, horizon=0.5)
    first = limiter.acquire(100)
    assert first.count == 5  # 0, 0.102, ..., 0.408 s; the sixth (0.51 s) is beyond 0.5
    second = limiter.acquire(1)
    assert second.count == 0 and 0 < second.first <= 0.2


def test_senders_have_separate_limits(conn):
    a = RateLimiter(conn, "a", 1.0)
    b = RateLimiter(conn, "b", 1.0)
    assert a.acquire(1).count == 1 and b.acquire(1).count == 1
    assert a.acquire(1).count == 0


def test_a_429_slows_every_caller_down(conn):
    limiter = RateLimiter(conn, "slow", 1000.0)
    limiter.slow_down(2.0)
    grant = RateLimiter(conn, "slow", 1000.0).acquire(1)
    assert grant.count == 0 and 1.0 < grant.first <= 2.0


def test_429s_lower_the_rate_of_every_caller_and_it_comes_back_as_they_stop(conn, monkeypatch):
    monkeypatch.setattr(ratelimit, "RAISE_EVERY_S", 0.3)
    monkeypatch.setattr(ratelimit, "HOLD_S", 0.05)
    limiter = RateLimiter(conn, "aimd", 100.0)
    other = RateLimiter(conn, "aimd", 100.0)  # another worker
    assert limiter.slow_down(0.0) == pytest.approx(49.0, rel=0.01)
    assert limiter.slow_down(0.0) == pytest.approx(49.0, rel=0.01)  # same burst: one halving
    time.sleep(0.06)
    assert limiter.slow_down(0.0) == pytest.approx(24.5, rel=0.01)
    assert 1 / other.acquire(1).interval == pytest.approx(24.5, rel=0.01)
    for _ in range(8):  # a long storm: never below FLOOR
        time.sleep(0.06)
        rate = limiter.slow_down(0.0)
    assert rate == pytest.approx(ratelimit.FLOOR * ratelimit.SAFETY, rel=0.01)
    time.sleep(0.65)  # two quiet periods: +10/s each
    assert 1 / other.acquire(1).interval == pytest.approx(20.6, rel=0.02)
    time.sleep(3.0)  # back to the configured rate, and no higher
    assert 1 / other.acquire(1).interval == pytest.approx(98.0, rel=0.01)
