"""Sender pools: which of our Twilio senders a phone gets its SMS from, and at what rate.

A provider caps each sender (Twilio: about 10 SMS/s per long number or alphanumeric id abroad,
more for short codes), so national throughput comes from several. TWILIO_SENDERS lists them with
their own rates (`+4790000001:50,+4790000002:50,Alerting:10`); a Messaging Service
(TWILIO_MESSAGING_SERVICE_SID) picks among its own pool, so it is one sender here whose rate is
its pool size times each one's (TWILIO_MESSAGING_SERVICE_SENDERS=5:50). Without either, the one
sender is TWILIO_FROM at SMS_RATE_PER_SECOND, as before pools.

Each sender has its own limiter in Redis (its key is the sender id, the key a single sender
always had). SMS_RATE_PER_SECOND stays the total: when the senders' rates add up to more, each is
scaled down in the same proportion, so the sum of the limiters never exceeds it. Why not a
second, global limiter acquired as well: a message would then hold two slots on two schedules and
be sent at the later one, off its global slot, so the global limiter's one-second windows would
no longer hold (and every message would cost two Redis round trips).

A phone always gets its SMS from the same sender (`sender_for`), so a follow-up or an all-clear
comes from the number the first alert came from, and STOP or a reply goes back to a number of
ours (the inbound webhook takes messages to any of them; STOP opts out of every sender). The
choice is rendezvous (highest random weight) hashing of the E.164 number, weighted by rate: a
sender with twice the rate gets twice the phones, so all senders finish an alert together, and
adding a sender moves only the phones it now wins (about 1/n of them), nobody else. The sender
is derived, not stored on the message row: the same configuration always gives the same answer,
and the lookup of an `unknown` message does not depend on it (Provider.find_sent accepts the
message from any sender of a pool, so a pool changed between the send and the lookup still finds
it).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import redis

from alerting.config import Settings
from alerting.sending.ratelimit import RateLimiter


@dataclass(frozen=True)
class Sender:
    """One sender as the fan-out paces it: a number, an alphanumeric id or a Messaging Service."""

    id: str
    rate: float  # messages per second, after the scaling to SMS_RATE_PER_SECOND
    service: bool = False  # a Messaging Service SID: Twilio picks the number

    def limiter(self, conn: redis.Redis) -> RateLimiter:
        return RateLimiter(conn, self.id, self.rate)


def twilio_senders(settings: Settings) -> tuple[Sender, ...]:
    """The configured Twilio senders with their rates, which add up to SMS_RATE_PER_SECOND at
    most (see the module docstring)."""
    total = settings.sms_rate_per_second
    if settings.twilio_senders:
        wanted = [(sid, rate or total, False) for sid, rate in settings.twilio_senders]
    elif settings.twilio_messaging_service_sid:
        size, each = settings.twilio_messaging_service_senders
        wanted = [(settings.twilio_messaging_service_sid, size * (each or total), True)]
    else:
        wanted = [(settings.twilio_from, total, False)]
    scale = min(1.0, total / sum(rate for _, rate, _ in wanted))
    return tuple(Sender(sid, rate * scale, service) for sid, rate, service in wanted)


def pool_rate(senders: tuple[Sender, ...]) -> float:
    """Messages per second the pool sends at, every sender busy."""
    return sum(s.rate for s in senders)


def sender_for(senders: tuple[Sender, ...], phone: str) -> Sender:
    """The sender `phone` always gets its SMS from (weighted rendezvous hashing)."""
    if len(senders) == 1:
        return senders[0]
    return max(senders, key=lambda sender: _score(sender, phone))


def _score(sender: Sender, phone: str) -> float:
    """-rate / ln(u), u uniform in (0, 1) from a hash of the pair: the largest score wins, and
    a sender wins in proportion to its rate (Schindelhauer & Schomaker's weighted form)."""
    digest = hashlib.blake2b(f"{sender.id}\n{phone}".encode(), digest_size=8).digest()
    u = (int.from_bytes(digest, "big") + 0.5) / 2**64
    return -sender.rate / math.log(u)


def label(senders: tuple[Sender, ...], size: int = 64) -> str:
    """What an alert records as its sender: the ids, or the first and how many more."""
    ids = ",".join(s.id for s in senders)
    if len(ids) <= size:
        return ids
    return f"{senders[0].id} and {len(senders) - 1} more"
