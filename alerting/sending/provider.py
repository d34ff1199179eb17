"""The SMS provider: Twilio's Messages API through the official `twilio` SDK (async client).

`SMS_PROVIDER=twilio` talks to api.twilio.com (or `TWILIO_BASE_URL`); `simulator` is the same code
with the base URL pointed at `SIMULATOR_URL`, so the SDK is exercised on the wire either way.
Every request has a timeout (the SDK's default is none). Errors come out as `ProviderError`:
transient when the provider proved it did not take the message (429, 5xx, 20429, a refused or
timed-out connect: try again later), `unknown` when it may have (a timeout or a dropped connection
after the request was written: look it up with `find_sent` before sending again), else permanent
(21211, 21610, 21614, ...: never again).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from alerting.config import Settings

TRANSIENT_CODES = {20429, 20500, 20503, 30001}
UNSUBSCRIBED = "21610"
LOOKUP_PATIENCE = 5.0  # a read may take this many times SMS_TIMEOUT

# Twilio's message statuses → ours (our "sending" means claimed by a worker; Twilio's means
# handed to the carrier, which is still "queued" for us)
STATUS_MAP = {
    "accepted": "accepted",
    "scheduled": "accepted",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}


@dataclass(frozen=True)
class SendResult:
    sid: str
    status: str  # ours, from STATUS_MAP


class ProviderError(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        unknown: bool = False,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.transient = transient
        self.retry_after = retry_after
        self.unknown = unknown  # the request may have reached the provider: do not resend blindly


def sender_of(settings: Settings) -> str:
    """The rate-limited identity: the messaging service, else the From number or name."""
    return settings.twilio_messaging_service_sid or settings.twilio_from


def base_url(settings: Settings) -> str | None:
    if settings.sms_provider == "simulator":
        return settings.simulator_url
    if settings.sms_provider == "twilio":
        return settings.twilio_base_url or None
    raise ValueError(f"unknown SMS_PROVIDER {settings.sms_provider!r} (twilio or simulator)")


def same_text(ours: str, theirs: str | None) -> bool:
    """Whether the body the provider returns is the one we sent: equal, or equal in every letter
    and digit. A Messaging Service's Smart Encoding (on by default) rewrites quotes, dashes,
    spaces and ellipses, never letters or digits; a strict comparison took our own message for
    another and sent the alert again."""
    if theirs == ours:
        return True
    return theirs is not None and _letters(theirs) == _letters(ours)


def _letters(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class _HttpClient(AsyncTwilioHttpClient):
    """aiohttp with a total timeout and a connection cap; 429 and 5xx raise a transient
    ProviderError carrying Retry-After (the SDK would drop the header). Reads (GET: lookups,
    status fetches) wait LOOKUP_PATIENCE times longer: waiting costs nothing there, and a
    provider slower than SMS_TIMEOUT must still be able to say what it holds."""

    def __init__(self, timeout: float, connections: int) -> None:
        super().__init__(pool_connections=False, timeout=timeout)
        self._connections = connections
        self._read_timeout = aiohttp.ClientTimeout(total=timeout * LOOKUP_PATIENCE)
        self._session: aiohttp.ClientSession | None = None

    async def request(
        self,
        method,
        url,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout=None,
        allow_redirects=False,
    ) -> Response:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=self._connections),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,  # and no Accept-Encoding: answers come uncompressed
                skip_auto_headers=("Accept-Encoding",),
            )
        headers = dict(headers or {})
        if auth:
            headers["Authorization"] = self._basic(auth)
        body = None
        if data:  # encoded here: aiohttp's FormData costs more than the rest of the request
            body = urlencode(data, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        # (no `timeout` argument means the session's; None would mean none at all)
        patient = {"timeout": self._read_timeout} if method.upper() == "GET" else {}
        try:
            async with self._session.request(
                method.upper(),
                url,
                params=params,
                data=body,
                headers=headers,
                allow_redirects=allow_redirects,
                **patient,
            ) as resp:
                text = (await resp.read()).decode("utf-8", "replace")
                status, resp_headers = resp.status, resp.headers
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # no connection was made: nothing was written
            raise ProviderError(
                "connection", str(exc) or type(exc).__name__, transient=True
            ) from None
        except TimeoutError:
            raise ProviderError(
                "timeout", "no answer in time", transient=True, unknown=True
            ) from None
        except aiohttp.ClientError as exc:  # reset or closed once the request was on its way
            raise ProviderError(
                "connection-lost", str(exc) or type(exc).__name__, transient=True, unknown=True
            ) from None
        if status == 429 or status >= 500:
            code, message = str(status), text[:200]
            with contextlib.suppress(ValueError, AttributeError):
                body = json.loads(text)
                code, message = str(body.get("code") or status), str(body.get("message", ""))
            raise ProviderError(
                code,
                message,
                transient=True,
                retry_after=_retry_after(resp_headers.get("Retry-After")),
            )
        return Response(status, text, resp_headers)

    @functools.cache  # noqa: B019 (two strings per client)
    def _basic(self, auth: tuple[str, str]) -> str:
        # what aiohttp.BasicAuth(...).encode() gave (deprecated in aiohttp 3.13: a warning,
        # an error under the tests' filterwarnings, when a provider runs in-process)
        user, password = auth
        return "Basic " + base64.b64encode(f"{user}:{password}".encode("latin1")).decode()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class Provider:
    """One per event loop: `async with Provider(settings) as p: await p.send(...)`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._http = _HttpClient(settings.sms_timeout_s, max(1, settings.sms_concurrency))
        # environment={} keeps TWILIO_REGION/TWILIO_EDGE from rewriting a local base URL
        self.client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            http_client=self._http,
            environment={},
        )
        url = base_url(settings)
        if url:
            self.client.api.base_url = url.rstrip("/")

    async def __aenter__(self) -> Provider:
        return self

    async def __aexit__(self, *_exc) -> None:
        await self._http.close()

    async def send(self, to: str, body: str, callback_url: str | None = None) -> SendResult:
        kwargs: dict = {"to": to, "body": body}
        if self.settings.twilio_messaging_service_sid:
            kwargs["messaging_service_sid"] = self.settings.twilio_messaging_service_sid
        else:
            kwargs["from_"] = self.settings.twilio_from
        if callback_url:
            kwargs["status_callback"] = callback_url
        try:
            message = await self.client.messages.create_async(**kwargs)
        except TwilioRestException as exc:
            code = str(exc.code or exc.status)
            transient = exc.status == 429 or exc.status >= 500 or exc.code in TRANSIENT_CODES
            raise ProviderError(code, str(exc.msg), transient=transient) from None
        return SendResult(sid=message.sid, status=STATUS_MAP.get(message.status, "queued"))

    async def find_sent(
        self, to: str, body: str, since: datetime, taken: frozenset[str] = frozenset()
    ) -> SendResult | None:
        """The message with this body the provider holds for `to` from our sender, created at
        or after `since` (UTC, naive), whose SID is not in `taken`; None if it holds none.

        Why not the callback URL (which carries our message id): Twilio's Message resource does
        not return `status_callback`, so what identifies our message is the recipient, the
        sender, the body (as `same_text` compares it) and the time; `taken` (SIDs other rows
        already hold) keeps two alerts with the same text to the same phone apart. Why not the
        `DateSent>` filter: `date_sent` stays null until Twilio hands the message to a carrier,
        so a message still queued at Twilio (the very case after a timeout) would not be listed.
        The list is newest first, so it is read page by page until `date_created` is older than
        `since` (second precision, hence the one-second margin)."""
        kwargs: dict = {"to": to, "page_size": 20}
        service = self.settings.twilio_messaging_service_sid
        if not service:
            kwargs["from_"] = self.settings.twilio_from
        floor = since.replace(microsecond=0) - timedelta(seconds=1)
        try:
            stream = await self.client.messages.stream_async(**kwargs)
            async for message in stream:
                created = message.date_created
                if created is not None and created.replace(tzinfo=None) < floor:
                    return None
                if message.sid in taken or not same_text(body, message.body):
                    continue
                if service and message.messaging_service_sid != service:
                    continue
                return SendResult(message.sid, STATUS_MAP.get(message.status or "", "queued"))
        except TwilioException as exc:  # a list page the provider refused: ask again later
            raise ProviderError("lookup", str(exc), transient=True) from None
        return None


async def fetch_statuses(settings: Settings, sids: list[str]) -> dict[str, tuple[str, str]]:
    """sid → (Twilio status, error code) from the Messages API, for receipts that never came."""
    out: dict[str, tuple[str, str]] = {}

    async with Provider(settings) as provider:

        async def one(sid: str) -> None:
            try:
                message = await provider.client.messages(sid).fetch_async()
            except (TwilioRestException, ProviderError):
                return
            out[sid] = (message.status or "", str(message.error_code or ""))

        await asyncio.gather(*(one(sid) for sid in sids))
    return out


def send_now(settings: Settings, to: str, body: str, callback_url: str | None = None) -> SendResult:
    """One message from synchronous code (a fresh event loop and connection)."""

    async def run() -> SendResult:
        async with Provider(settings) as provider:
            return await provider.send(to, body, callback_url)

    return asyncio.run(run())


class _Fields(dict[str, str]):
    """Form fields as RequestValidator reads them: with `getall` it takes its first lookup
    instead of two raised AttributeErrors per field."""

    def getall(self, name: str) -> list[str]:
        return [self[name]]


@functools.lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def signature_valid(settings: Settings, url: str, params: dict, signature: str) -> bool:
    """Twilio's X-Twilio-Signature over the public URL and the form parameters. One HMAC for
    the URL as we gave it to Twilio; only a mismatch (forged, or signed with the port added or
    removed) pays for the SDK's full check."""
    if not signature or not settings.twilio_auth_token:
        return False
    validator = _validator(settings.twilio_auth_token)
    fields = _Fields(params)
    expected = validator.compute_signature(url, fields)
    if hmac.compare_digest(expected.encode(), signature.encode(errors="replace")):
        return True
    return validator.validate(url, fields, signature)
