"""Status callbacks and inbound webhooks, signed and POSTed like Twilio does.

Each message walks its planned steps (sent → delivered, ...) one at a time: a step's callback
is POSTed before the next step is scheduled, so callbacks of one message arrive in order unless
reordering was asked for. A fixed pool of worker tasks bounds the callbacks in flight; the
API never waits for them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import aiohttp
from twilio.request_validator import RequestValidator

from .state import Message, State, Step
from .wire import API_VERSION

log = logging.getLogger(__name__)

USER_AGENT = "TwilioProxy/1.1"
FORM = "application/x-www-form-urlencoded"

# (message, step index, attempt)
Job = tuple[Message, int, int]


def status_params(msg: Message, step: Step) -> dict[str, str]:
    """The form fields of a Twilio SMS status callback."""
    params = {
        "SmsSid": msg.sid,
        "SmsStatus": step.status,
        "MessageStatus": step.status,
        "To": msg.to,
        "MessageSid": msg.sid,
        "AccountSid": msg.account_sid,
        "From": msg.from_,
        "ApiVersion": API_VERSION,
    }
    if msg.service_sid:
        params["MessagingServiceSid"] = msg.service_sid
    if step.error_code:
        params["ErrorCode"] = str(step.error_code)
    return params


class _Params(dict[str, str]):
    """Form fields as RequestValidator reads them: with `getall` it takes its first lookup
    instead of two raised AttributeErrors per field (a third of the signing cost)."""

    def getall(self, name: str) -> list[str]:
        return [self[name]]


_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")


def encode_form(params: dict[str, str]) -> str:
    """`urlencode` for str values, quoting only the values that need it (most are SIDs)."""
    return "&".join(
        f"{quote_plus(k)}={v if _SAFE.fullmatch(v) else quote_plus(v)}" for k, v in params.items()
    )


class Signer:
    """X-Twilio-Signature for the current auth token (re-made when the token changes)."""

    def __init__(self) -> None:
        self._token = ""
        self._validator: RequestValidator | None = None

    def sign(self, token: str, url: str, params: dict[str, str]) -> str:
        if self._validator is None or token != self._token:
            self._token, self._validator = token, RequestValidator(token)
        return self._validator.compute_signature(url, _Params(params))


class _Throttled:
    """Log at most one warning a second, with how many were suppressed, so a dead receiver
    at 1,500 messages/s does not flood the log."""

    def __init__(self) -> None:
        self._last = 0.0
        self._suppressed = 0

    def warning(self, text: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last < 1.0:
            self._suppressed += 1
            return
        if self._suppressed:
            text += f" (and {self._suppressed} similar since the last report)"
        self._last, self._suppressed = now, 0
        log.warning(text, *args)


@dataclass(slots=True)
class Reply:
    """A receiver's answer to a callback or webhook, read to its end."""

    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes


def open_session() -> aiohttp.ClientSession:
    """Keep-alive connections to every receiver (as many as workers post at once), no cookie
    jar and no Accept-Encoding: Twilio's webhook client keeps no state between POSTs."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("Accept-Encoding",),
    )


class Dispatcher:
    """Runs message lifecycles and POSTs their callbacks; lives on the server's event loop."""

    def __init__(self, state: State, session: aiohttp.ClientSession) -> None:
        self.state = state
        self.session = session
        self.signer = Signer()
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.workers: list[asyncio.Task[None]] = []
        self.timers: set[asyncio.TimerHandle] = set()
        self.in_flight = 0
        self._warn = _Throttled()
        self.vonage: Any = None  # Vonage's side (alerting.simulator.vonage) builds its receipts

    def start(self) -> None:
        self.resize(self.state.config.callback_concurrency)

    def resize(self, n: int) -> None:
        """More workers now; extra ones stop after their current job."""
        loop = asyncio.get_running_loop()
        self.workers = [w for w in self.workers if not w.done()]
        while len(self.workers) < n:
            self.workers.append(loop.create_task(self._work(len(self.workers))))

    def stop(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()
        for worker in self.workers:
            worker.cancel()

    @property
    def pending(self) -> int:
        return self.queue.qsize() + len(self.timers) + self.in_flight

    def begin(self, msg: Message) -> None:
        """Start a new message's lifecycle (call on the loop)."""
        if not msg.plan:
            return
        delay = self.state.config.callback_delay_ms / 1000
        if msg.status_callback:
            self._schedule((msg, 0, 0), delay)
        else:  # nothing to POST: plain timers, no worker round trip (the hot path)
            self._later(delay, self._advance_silently, msg, 0)

    def _advance_silently(self, msg: Message, index: int) -> None:
        if msg.generation != self.state.generation:
            return
        self.state.apply(msg, msg.plan[index])
        if index + 1 < len(msg.plan):
            self._later(
                self.state.config.callback_delay_ms / 1000, self._advance_silently, msg, index + 1
            )

    @staticmethod
    def _later(delay: float, func: Callable[..., None], *args: Any) -> None:
        loop = asyncio.get_running_loop()
        if delay <= 0:
            loop.call_soon(func, *args)
        else:
            loop.call_later(delay, func, *args)

    def _schedule(self, job: Job, delay: float) -> None:
        if delay <= 0:
            self.queue.put_nowait(job)
            return
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle

        def fire() -> None:
            self.timers.discard(timer)
            self.queue.put_nowait(job)

        timer = loop.call_later(delay, fire)
        self.timers.add(timer)

    async def _work(self, index: int) -> None:
        while True:
            job = await self.queue.get()
            self.in_flight += 1
            try:
                await self._run(job)
            except Exception:  # never let one bad job kill a worker
                log.exception("status callback job failed")
            finally:
                self.in_flight -= 1
            if index >= self.state.config.callback_concurrency:
                self.workers = [w for w in self.workers if w is not asyncio.current_task()]
                return

    async def _run(self, job: Job) -> None:
        msg, index, attempt = job
        state = self.state
        if msg.generation != state.generation:  # /_sim/reset happened
            return
        step = msg.plan[index]
        cfg = state.config
        if attempt == 0:
            state.apply(msg, step)
        if step.notify and msg.status_callback:
            if step.dropped:
                with state.lock:
                    state.stats.callbacks_dropped += 1
            else:
                outcome = await self._post_status(msg, step)
                if outcome == "retry":
                    if attempt < cfg.callback_retries:
                        with state.lock:
                            state.stats.callbacks_retried += 1
                        self._schedule(
                            (msg, index, attempt + 1), cfg.callback_retry_ms / 1000 * 2**attempt
                        )
                        return
                    with state.lock:
                        state.stats.callbacks_failed += 1
                    self._warn.warning(
                        "status callback for %s dropped after %d attempts", msg.sid, attempt + 1
                    )
                elif outcome == "ok" and step.duplicate:
                    await self._post_status(msg, step)
        if index + 1 < len(msg.plan):
            self._schedule((msg, index + 1, 0), cfg.callback_delay_ms / 1000)

    async def _post_status(self, msg: Message, step: Step) -> str:
        """POST one status callback: "ok", "rejected" (4xx, not retried) or "retry"."""
        try:
            if msg.provider == "vonage":
                response = await self.post_form(msg.status_callback, self.vonage.receipt(msg, step))
            else:
                params = status_params(msg, step)
                response = await self.post_signed(msg.status_callback, params, step.token)
        except Exception as exc:  # refused, reset, timed out, garbled: all worth a retry
            self._warn.warning("status callback to %s failed: %r", msg.status_callback, exc)
            return "retry"
        stats = self.state.stats
        with self.state.lock:
            if 200 <= response.status < 300:
                stats.callbacks_sent += 1
                return "ok"
            if response.status == 429 or response.status >= 500:
                return "retry"
            stats.callbacks_rejected += 1
        self._warn.warning(
            "status callback to %s answered %d", msg.status_callback, response.status
        )
        return "rejected"

    async def post_signed(self, url: str, params: dict[str, str], token: str) -> Reply:
        """POST `params` form-encoded to `url` with Twilio's signature and headers."""
        cfg = self.state.config
        url = url.partition("#")[0]  # Twilio keeps connection overrides (#rc=..) to itself
        headers = {
            "User-Agent": USER_AGENT,
            "X-Twilio-Signature": self.signer.sign(cfg.auth_token, url, params),
            "I-Twilio-Idempotency-Token": token,
        }
        return await self.post_form(url, params, headers)

    async def post_form(
        self, url: str, params: dict[str, str], headers: dict[str, str] | None = None
    ) -> Reply:
        """POST `params` form-encoded (Vonage's webhooks carry their signature in the fields)."""
        cfg = self.state.config
        headers = {"Content-Type": FORM, "Accept": "*/*", "User-Agent": "Vonage", **(headers or {})}
        body = encode_form(params).encode()
        timeout = aiohttp.ClientTimeout(total=cfg.callback_timeout_s)
        for attempt in (0, 1):
            try:
                async with self.session.post(
                    url, data=body, headers=headers, timeout=timeout
                ) as response:
                    return Reply(response.status, response.headers, await response.read())
            except aiohttp.ServerDisconnectedError:
                # A receiver closing an idle keep-alive connection as it is reused: POSTed
                # again once, not counted as a failure (aiohttp retries only idempotent methods).
                if attempt:
                    raise
        raise AssertionError("unreachable")
