"""The second SMS provider: Vonage's SMS API through the official `vonage` SDK.

Same interface as alerting.sending.provider.Provider (`send`, `find_sent`, ProviderError with
transient / unknown / permanent), so the fan-out and reconciliation treat both alike. What the
SDK needed to be safe here:
- its HTTP client always builds `https://rest.nexmo.com/...`: a requests adapter mounted on its
  session sends to VONAGE_BASE_URL (the simulator) instead;
- it re-POSTs a request up to 10 times by itself when the connection drops after the request was
  written (a doubled SMS), and urllib3 retries under it: the adapter has max_retries=0 and turns
  every connection error into a ProviderError, so the SDK never sees one to retry;
- it has no timeout by default: the adapter sets SMS_TIMEOUT on every request;
- its signature-secret request signing is not used (key/secret auth): webhooks are verified
  with the signature secret (alerting.vonage_webhooks).
The SDK is synchronous: calls run in a thread pool, so one send job keeps SMS_CONCURRENCY
requests in flight as it does with Twilio's async client.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import requests
from pydantic import ValidationError
from requests.adapters import HTTPAdapter
from vonage import Auth, HttpClientOptions, Vonage
from vonage_http_client.errors import HttpRequestError
from vonage_sms import SmsMessage
from vonage_sms.errors import SmsError

from alerting.config import Settings
from alerting.sending.provider import LOOKUP_PATIENCE, ProviderError, SendResult, same_text

# SMS API `status` codes that mean "not taken, try again": throttled, internal error
TRANSIENT_STATUSES = {"1", "5"}
# the status a send answer or a delivery receipt gives → ours
STATUS_MAP = {
    "submitted": "queued",  # the SMS API took it (status 0)
    "accepted": "sent",  # the carrier took it
    "buffered": "sent",
    "delivered": "delivered",
    "expired": "undelivered",
    "failed": "failed",
    "rejected": "failed",
}
_STATUS_IN_ERROR = re.compile(r"error code (\d+)")
HOSTS = ("rest.nexmo.com", "api.nexmo.com")
CALLBACK_MAX = 100  # the SMS API's limit for a per-message receipt URL


def base_url(settings: Settings) -> str | None:
    """Where the SDK's requests go: the simulator in simulator mode, else VONAGE_BASE_URL, else
    Vonage's own hosts (None)."""
    if settings.sms_provider == "simulator":
        return settings.vonage_base_url or settings.simulator_url
    return settings.vonage_base_url or None


class _Adapter(HTTPAdapter):
    """Every request of the SDK: to `base` when set, with a timeout, never retried, connection
    errors classified (nothing written: transient; maybe written: unknown)."""

    def __init__(self, base: str | None, timeout: float, connections: int) -> None:
        super().__init__(pool_connections=1, pool_maxsize=connections, max_retries=0)
        self.base = base.rstrip("/") if base else None
        self.timeout = timeout

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        if self.base:
            for host in HOSTS:
                request.url = request.url.replace(f"https://{host}", self.base, 1)
        patient = LOOKUP_PATIENCE if request.method == "GET" else 1.0
        try:
            return super().send(request, stream, self.timeout * patient, verify, cert, proxies)
        except requests.exceptions.ConnectTimeout:
            raise ProviderError("connection", "no connection in time", transient=True) from None
        except requests.exceptions.ReadTimeout:
            raise ProviderError(
                "timeout", "no answer in time", transient=True, unknown=True
            ) from None
        except requests.exceptions.ConnectionError as exc:
            if _refused(exc):
                raise ProviderError("connection", "connection refused", transient=True) from None
            raise ProviderError(
                "connection-lost", type(exc).__name__, transient=True, unknown=True
            ) from None


def _refused(exc: Exception) -> bool:
    """Whether no connection was made at all (so nothing was written)."""
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text


class VonageProvider:
    """`async with VonageProvider(settings) as p: await p.send(...)`, like Provider."""

    name = "vonage"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        connections = max(1, settings.sms_concurrency)
        self.client = Vonage(
            Auth(api_key=settings.vonage_api_key, api_secret=settings.vonage_api_secret),
            HttpClientOptions(pool_maxsize=connections, max_retries=0),
        )
        session = self.client.http_client._session
        adapter = _Adapter(base_url(settings), settings.sms_timeout_s, connections)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._pool = ThreadPoolExecutor(connections, thread_name_prefix="vonage")

    async def __aenter__(self) -> VonageProvider:
        return self

    async def __aexit__(self, *_exc) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.http_client._session.close()

    async def _call(self, func, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, func, *args)

    async def send(self, to: str, body: str, callback_url: str | None = None) -> SendResult:
        """Hand one SMS to Vonage. The receipt goes to `callback_url` when it fits the API's
        100 characters, else to the account's default webhook (`/webhooks/vonage/dlr`, which
        finds the row by Vonage's message id)."""
        if callback_url and len(callback_url) > CALLBACK_MAX:
            callback_url = None
        try:
            message = SmsMessage(
                to=to.lstrip("+"),
                from_=self.settings.vonage_from,
                text=body,
                type="text" if body.isascii() else "unicode",
                status_report_req=True,
                callback=callback_url,
            )
        except ValidationError as exc:  # e.g. VONAGE_FROM of a shape the SDK refuses
            raise ProviderError("vonage-invalid", str(exc)[:200], transient=False) from None
        try:
            answer = await self._call(self.client.sms.send, message)
        except SmsError as exc:
            found = _STATUS_IN_ERROR.search(str(exc))
            status = found.group(1) if found else "?"
            transient = status in TRANSIENT_STATUSES
            retry_after = 1.0 if status == "1" else None
            raise ProviderError(
                f"vonage-{status}", str(exc), transient=transient, retry_after=retry_after
            ) from None
        except HttpRequestError as exc:
            raise _http_error(exc) from None
        sent = answer.messages[0]
        return SendResult(sid=sent.message_id or "", status="queued")

    async def find_sent(
        self, to: str, body: str, since: datetime, taken: frozenset[str] = frozenset()
    ) -> SendResult | None:
        """The message with this body Vonage holds for `to` from our sender, created at or
        after `since` (UTC, naive), whose id is not in `taken`, from the Reports API (the SMS
        API has no lookup, and the SDK no Reports client: its HTTP client makes the request
        with the same credentials). None when it holds none."""
        start = since.replace(microsecond=0) - timedelta(seconds=1)
        params = {
            "account_id": self.settings.vonage_api_key,
            "product": "SMS",
            "direction": "outbound",
            "to": to.lstrip("+"),
            "from": self.settings.vonage_from,
            "date_start": start.replace(tzinfo=UTC).isoformat(),
            "date_end": datetime.now(UTC).isoformat(),
            "include_message": "true",
        }
        http = self.client.http_client
        try:
            answer = await self._call(
                lambda: http.get(http.api_host, "/v2/reports/records", params, "basic")
            )
        except HttpRequestError as exc:
            raise ProviderError("lookup", str(exc)[:200], transient=True) from None
        for record in (answer or {}).get("records", []):
            sid = record.get("message_id", "")
            if sid in taken or not same_text(body, record.get("message_body")):
                continue
            return SendResult(sid, STATUS_MAP.get(str(record.get("status", "")).lower(), "queued"))
        return None


def _http_error(exc: HttpRequestError) -> ProviderError:
    """An HTTP error answer: 429 and 5xx prove the message was not taken; the rest (401, 403,
    a 4xx) will not change by trying again."""
    status = exc.response.status_code
    transient = status == 429 or status >= 500
    retry_after = exc.response.headers.get("Retry-After")
    return ProviderError(
        str(status),
        exc.response.text[:200],
        transient=transient,
        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
    )
