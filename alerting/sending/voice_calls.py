"""Calls through Twilio Programmable Voice with the official SDK (`calls.create` with TwiML), on
the same HTTP client as SMS (alerting.sending.provider: timeouts, 429/5xx as transient errors,
a timeout after the request was written as `unknown`), against Twilio or the simulator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from twilio.base.exceptions import TwilioException, TwilioRestException

from alerting.sending.provider import TRANSIENT_CODES, Provider, ProviderError

RING_TIMEOUT_S = 30  # Twilio's `Timeout`: how long it rings before no-answer
TIME_LIMIT_S = 600  # Twilio's `TimeLimit`: a call never lasts longer
EVENTS = ["initiated", "ringing", "answered", "completed"]


@dataclass(frozen=True)
class CallResult:
    sid: str
    status: str  # Twilio's call status


async def place_call(provider: Provider, to: str, twiml: str, callback_url: str) -> CallResult:
    """One call; ProviderError as for SMS (transient, unknown or permanent)."""
    try:
        call = await provider.client.calls.create_async(
            to=to,
            from_=provider.settings.voice_from,
            twiml=twiml,
            status_callback=callback_url,
            status_callback_event=EVENTS,
            status_callback_method="POST",
            timeout=RING_TIMEOUT_S,
            time_limit=TIME_LIMIT_S,
        )
    except TwilioRestException as exc:
        code = str(exc.code or exc.status)
        transient = exc.status == 429 or exc.status >= 500 or exc.code in TRANSIENT_CODES
        raise ProviderError(code, str(exc.msg), transient=transient) from None
    return CallResult(call.sid, call.status or "queued")


async def find_call(
    provider: Provider, to: str, since: datetime, taken: frozenset[str]
) -> CallResult | None:
    """The call to `to` from our caller id created at or after `since` (naive UTC) whose SID no
    other row holds: what a create that timed out may have placed. None if there is none."""
    floor = since.replace(microsecond=0) - timedelta(seconds=1)
    try:
        stream = await provider.client.calls.stream_async(
            to=to, from_=provider.settings.voice_from, page_size=20
        )
        async for call in stream:
            created = call.date_created
            if created is not None and created.replace(tzinfo=None) < floor:
                return None
            if call.sid not in taken:
                return CallResult(call.sid, call.status or "queued")
    except TwilioException as exc:
        raise ProviderError("lookup", str(exc), transient=True) from None
    return None


async def fetch_call(provider: Provider, sid: str) -> str | None:
    """A call's status now (for one whose final callback never came); None if unknown."""
    try:
        call = await provider.client.calls(sid).fetch_async()
    except (TwilioRestException, ProviderError):
        return None
    return call.status


# how a call that has not ended is stopped: cancelled while it rings, hung up once answered
ENDING = {
    "queued": "canceled",
    "initiated": "canceled",
    "ringing": "canceled",
    "in-progress": "completed",
}


async def end_call(provider: Provider, sid: str) -> bool:
    """Stop a call of a cancelled alert, so nobody goes on hearing a warning that was withdrawn;
    False when it had ended already (or cannot be reached now)."""
    wanted = ENDING.get(await fetch_call(provider, sid) or "")
    if wanted is None:
        return False
    try:
        await provider.client.calls(sid).update_async(status=wanted)
    except (TwilioRestException, ProviderError):
        return False  # it ended meanwhile, or Twilio is away: its own status callback tells
    return True
