"""The simulator's memory: messages, opt-outs, per-sender rate windows, stats.

Everything is mutated under one lock (cheap when uncontended) so tests and the event loop may
both read it. Random draws happen at create time, in request order, so a seed makes a run
repeatable.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .config import SimulatorConfig, known_delivery_error
from .smart_encoding import smart_encoded
from .wire import (
    ALPHANUMERIC_SENDER,
    API_VERSION,
    E164,
    FINAL_STATUSES,
    RANDOM_FAILURES,
    SERVICE_SID,
    STATUS_RANK,
    iso_us,
    new_sid,
    num_segments,
    rfc2822,
)


@dataclass(slots=True)
class Step:
    """One status change of a message; `notify` = POST a status callback for it."""

    status: str
    error_code: int | None = None
    notify: bool = True
    duplicate: bool = False
    dropped: bool = False
    token: str = ""  # I-Twilio-Idempotency-Token, the same for retries and duplicates


@dataclass(slots=True)
class ApiError:
    """A create that Twilio would refuse: the error code and the text's fields."""

    code: int
    fields: dict[str, str] = field(default_factory=dict)
    retry_after: int | None = None


class Message:
    """One outbound message as Twilio keeps it."""

    __slots__ = (
        "sid",
        "account_sid",
        "to",
        "from_",
        "body",
        "service_sid",
        "status",
        "error_code",
        "created_us",
        "updated_ts",
        "sent_ts",
        "segments",
        "status_callback",
        "plan",
        "direction",
        "generation",
        "provider",
    )

    def __init__(
        self,
        *,
        account_sid: str,
        to: str,
        from_: str,
        body: str,
        service_sid: str,
        status_callback: str,
        created_us: int,
        plan: list[Step],
        generation: int,
        direction: str = "outbound-api",
        sid: str | None = None,
        provider: str = "twilio",
    ) -> None:
        self.sid = sid or new_sid()
        self.account_sid = account_sid
        self.to = to
        self.from_ = from_
        self.body = body
        self.service_sid = service_sid
        self.status = "accepted" if service_sid else "queued"
        self.error_code: int | None = None
        self.created_us = created_us
        self.updated_ts = created_us / 1e6
        self.sent_ts: float | None = None
        self.segments = num_segments(body)
        self.status_callback = status_callback
        self.plan = plan
        self.direction = direction
        self.generation = generation
        self.provider = provider  # which side of the simulator took it: twilio | vonage

    @property
    def uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"

    def resource(self) -> dict[str, Any]:
        """The Message resource JSON (api.v2010.account.message)."""
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.created_us / 1e6),
            "date_sent": rfc2822(self.sent_ts) if self.sent_ts else None,
            "date_updated": rfc2822(self.updated_ts),
            "direction": self.direction,
            "error_code": self.error_code,
            "error_message": known_delivery_error(self.error_code),
            "from": None if self.status == "accepted" else self.from_,
            "messaging_service_sid": self.service_sid or None,
            "num_media": "0",
            "num_segments": str(self.segments),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": self.uri[:-5] + "/Media.json"},
            "to": self.to,
            "uri": self.uri,
        }

    def summary(self) -> dict[str, Any]:
        """What the phone got, for /_sim/messages and the phones page."""
        return {
            "sid": self.sid,
            "to": self.to,
            "from": self.from_,
            "body": self.body,
            "status": self.status,
            "error_code": self.error_code,
            "created_at": iso_us(self.created_us),
            "messaging_service_sid": self.service_sid or None,
            "direction": self.direction,
            "num_segments": self.segments,
            "provider": self.provider,
        }


@dataclass
class Stats:
    """Counters for /_sim/stats and benchmarks."""

    accepted: int = 0
    rejected: Counter[int] = field(default_factory=Counter)
    rate_limited: int = 0
    callbacks_sent: int = 0  # POSTs answered 2xx (duplicates included)
    callbacks_rejected: int = 0  # answered 4xx (e.g. signature refused): not retried
    callbacks_retried: int = 0
    callbacks_failed: int = 0  # given up after retries
    callbacks_dropped: int = 0  # lost on purpose (drop_rate)
    inbound_sent: int = 0
    inbound_failed: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.time)

    def to_json(self, pending: int) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": {str(k): v for k, v in sorted(self.rejected.items())},
            "rate_limited": self.rate_limited,
            "callbacks_sent": self.callbacks_sent,
            "callbacks_rejected": self.callbacks_rejected,
            "callbacks_retried": self.callbacks_retried,
            "callbacks_failed": self.callbacks_failed,
            "callbacks_dropped": self.callbacks_dropped,
            "callbacks_pending": pending,
            "inbound_sent": self.inbound_sent,
            "inbound_failed": self.inbound_failed,
            "by_status": {k: v for k, v in sorted(self.by_status.items()) if v},
            "uptime_s": round(time.time() - self.started, 3),
            "process_cpu_s": round(time.process_time(), 3),  # for benchmarks: cost per request
        }


class State:
    """All mutable simulator state; `reset()` returns to the startup configuration."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.lock = threading.Lock()
        self.initial = config
        self.generation = 0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.config = self.initial.updated({})
            self.messages: OrderedDict[str, Message] = OrderedDict()
            self.by_to: dict[str, deque[Message]] = {}
            self.inbound: deque[dict[str, Any]] = deque(maxlen=10_000)
            self.opted_out: set[str] = set()
            self.windows: dict[str, deque[int]] = {}
            self.last_sender: dict[str, str] = {}
            self.rng = random.Random(self.config.seed)
            self.stats = Stats()
            self.generation += 1

    def configure(self, changes: Mapping[str, Any]) -> SimulatorConfig:
        """Apply option changes (raises ConfigError); a new seed restarts the random stream."""
        with self.lock:
            self.config = self.config.updated(changes)
            if "seed" in changes:
                self.rng = random.Random(self.config.seed)
            return self.config

    # -- creating messages ------------------------------------------------------------------

    def create(
        self, params: Mapping[str, str], sid: str | None = None, provider: str = "twilio"
    ) -> Message | ApiError:
        """Validate a Messages.json POST like Twilio does and record the message (Vonage's side
        passes its request in Twilio's field names, its own id and `provider`)."""
        cfg = self.config
        to = params.get("To", "").strip()
        from_ = params.get("From", "").strip()
        service = params.get("MessagingServiceSid", "").strip()
        body = params.get("Body", "")
        error = self._validate(cfg, to, from_, service, body, params)
        if error is not None:
            return self._reject(error)
        with self.lock:
            if to in cfg.unsubscribed or to in self.opted_out:
                return self._reject_locked(ApiError(21610))
            now_us = time.time_ns() // 1000
            sender = service or from_
            if cfg.mps:
                retry_after = self._take_slot(sender, now_us, cfg.mps)
                if retry_after is not None:
                    self.stats.rate_limited += 1
                    return ApiError(20429, retry_after=retry_after)
            msg = Message(
                account_sid=cfg.account_sid,
                to=to,
                from_=from_ or cfg.service_from,
                body=smart_encoded(body) if service else body,
                service_sid=service,
                status_callback=params.get("StatusCallback", ""),
                created_us=now_us,
                plan=self._plan(cfg, to, bool(service)),
                generation=self.generation,
                sid=sid,
                provider=provider,
            )
            self._store(msg, cfg)
            self.last_sender[to] = from_ or cfg.service_from
            self.stats.accepted += 1
            return msg

    def record_reply(self, to: str, from_: str, body: str) -> Message:
        """A TwiML <Message> the app answered an inbound SMS with: goes to the phone."""
        with self.lock:
            cfg = self.config
            msg = Message(
                account_sid=cfg.account_sid,
                to=to,
                from_=from_,
                body=body,
                service_sid="",
                status_callback="",
                created_us=time.time_ns() // 1000,
                plan=[Step("sent"), Step("delivered")],
                generation=self.generation,
                direction="outbound-reply",
            )
            self._store(msg, cfg)
            return msg

    @staticmethod
    def _validate(
        cfg: SimulatorConfig,
        to: str,
        from_: str,
        service: str,
        body: str,
        params: Mapping[str, str],
    ) -> ApiError | None:
        if not to:
            return ApiError(21604)
        if not E164.match(to):
            return ApiError(21211, {"to": to})
        if not from_ and not service:
            return ApiError(21603)
        if service and not SERVICE_SID.match(service):
            return ApiError(21701, {"service": service})
        if from_ and not (E164.match(from_) or ALPHANUMERIC_SENDER.match(from_)):
            return ApiError(21212, {"from_": from_})
        if from_ and cfg.allowed_senders and from_ not in cfg.allowed_senders:
            return ApiError(21606, {"from_": from_})
        if not body.strip() and not params.get("MediaUrl") and not params.get("ContentSid"):
            return ApiError(21602)
        if len(body) > 1600:
            return ApiError(21617)
        callback = params.get("StatusCallback", "")
        if callback:
            parts = urlsplit(callback)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return ApiError(21609, {"url": callback})
        outcome = cfg.outcomes.get(to)
        if outcome is not None and outcome.api_error is not None:
            return ApiError(outcome.api_error, {"to": to, "from_": from_ or service})
        if to in cfg.landlines:
            return ApiError(21614, {"to": to})
        return None

    def _reject(self, error: ApiError) -> ApiError:
        with self.lock:
            return self._reject_locked(error)

    def _reject_locked(self, error: ApiError) -> ApiError:
        self.stats.rejected[error.code] += 1
        return error

    def _take_slot(self, sender: str, now_us: int, mps: int) -> int | None:
        """Sliding one-second log: accept only if fewer than `mps` accepted in [now-1s, now],
        so no closed one-second window ever holds more than `mps`. Returns Retry-After (s)."""
        window = self.windows.get(sender)
        if window is None:
            window = self.windows[sender] = deque()
        cutoff = now_us - 1_000_000
        while window and window[0] < cutoff:
            window.popleft()
        if len(window) >= mps:
            wait_us = window[len(window) - mps] + 1_000_001 - now_us
            return max(1, -(-wait_us // 1_000_000))
        window.append(now_us)
        return None

    def _plan(self, cfg: SimulatorConfig, to: str, via_service: bool) -> list[Step]:
        """The status steps this message will go through, with every random draw made now."""
        outcome = cfg.outcomes.get(to)
        rng = self.rng
        if outcome is not None:
            final, code = outcome.final, outcome.error_code
        elif cfg.failure_rate and rng.random() < cfg.failure_rate:
            final, code = rng.choice(RANDOM_FAILURES)
        else:
            final, code = "delivered", None
        steps = [Step("queued", notify=False)] if via_service else []
        if final == "failed":
            steps.append(Step("failed", code))
        elif final == "sent":
            steps.append(Step("sent"))
        elif final != "queued":
            steps += [Step("sent"), Step(final, code)]
        notified = [s for s in steps if s.notify]
        if len(notified) >= 2 and cfg.reorder_rate and rng.random() < cfg.reorder_rate:
            i, j = steps.index(notified[-2]), steps.index(notified[-1])
            steps[i], steps[j] = steps[j], steps[i]
        for step in notified:
            step.token = new_sid("ID")
            if cfg.duplicate_rate:
                step.duplicate = rng.random() < cfg.duplicate_rate
            if cfg.drop_rate:
                step.dropped = rng.random() < cfg.drop_rate
        return steps

    def _store(self, msg: Message, cfg: SimulatorConfig) -> None:
        self.messages[msg.sid] = msg
        inbox = self.by_to.get(msg.to)
        if inbox is None:
            inbox = self.by_to[msg.to] = deque()
        inbox.append(msg)
        self.stats.by_status[msg.status] += 1
        while len(self.messages) > cfg.max_messages:
            _, old = self.messages.popitem(last=False)
            old_inbox = self.by_to[old.to]
            old_inbox.popleft()
            if not old_inbox:
                del self.by_to[old.to]

    # -- status changes ---------------------------------------------------------------------

    def apply(self, msg: Message, step: Step) -> None:
        """Move the message forward to `step` (a late, lower step never moves it back)."""
        with self.lock:
            if msg.status in FINAL_STATUSES:
                return
            if step.status not in FINAL_STATUSES and (
                STATUS_RANK.get(step.status, 0) <= STATUS_RANK.get(msg.status, 0)
            ):
                return
            self.stats.by_status[msg.status] -= 1
            self.stats.by_status[step.status] += 1
            msg.status = step.status
            msg.error_code = step.error_code
            msg.updated_ts = time.time()
            if step.status in ("sent", "delivered", "undelivered") and msg.sent_ts is None:
                msg.sent_ts = msg.updated_ts

    # -- inbound ----------------------------------------------------------------------------

    def opt_out(self, number: str) -> None:
        with self.lock:
            self.opted_out.add(number)

    def opt_in(self, number: str) -> None:
        with self.lock:
            self.opted_out.discard(number)
            if number in self.config.unsubscribed:
                self.config = self.config.updated(
                    {"unsubscribed": self.config.unsubscribed - {number}}
                )

    # -- reading ----------------------------------------------------------------------------

    def get(self, sid: str) -> Message | None:
        with self.lock:
            return self.messages.get(sid)

    def summaries(
        self, to: str | None = None, from_: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Messages in arrival order (oldest first), optionally filtered; `limit` keeps the
        newest."""
        with self.lock:
            if to is not None:
                source: list[Message] = list(self.by_to.get(to, ()))
            else:
                source = list(self.messages.values())
            if from_ is not None:
                source = [m for m in source if m.from_ == from_ or m.service_sid == from_]
            if limit is not None:
                source = source[-limit:] if limit > 0 else []
            return [m.summary() for m in source]

    def resources(
        self,
        to: str | None,
        from_: str | None,
        limit: int,
        sent: SentFilter | None = None,
        after_sid: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the list endpoint, newest first like Twilio's: up to `limit` resources
        after the message `after_sid` (the previous page's last), and the SID to continue
        after (None on the last page)."""
        with self.lock:
            source = self.by_to.get(to, ()) if to is not None else self.messages.values()
            out: list[dict[str, Any]] = []
            skipping = after_sid is not None
            for m in reversed(source):
                if skipping:
                    skipping = m.sid != after_sid
                    continue
                if from_ is not None and m.from_ != from_:
                    continue
                if sent is not None and not sent.matches(m.sent_ts):
                    continue
                if len(out) == limit:
                    return out, out[-1]["sid"]
                out.append(m.resource())
            return out, None


@dataclass(frozen=True)
class SentFilter:
    """Twilio's `DateSent`, `DateSent<`, `DateSent>` filters (inclusive: "on", "on and before",
    "on and after"). A date-only bound compares the sent date, a date-time bound the sent time.
    Messages not sent yet (`date_sent` null) match no filter."""

    on: tuple[float, float] | None = None  # [start, end) of a day, or one instant
    before: tuple[float, bool] | None = None  # (bound, date only)
    after: tuple[float, bool] | None = None

    def matches(self, sent_ts: float | None) -> bool:
        if sent_ts is None:
            return False
        t = int(sent_ts)  # date_sent has one-second precision
        if self.on is not None and not self.on[0] <= t < self.on[1]:
            return False
        if self.before is not None:
            bound, day = self.before
            if t >= bound + (86400 if day else 1):
                return False
        return not (self.after is not None and t < self.after[0])
