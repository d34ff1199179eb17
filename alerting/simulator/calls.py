"""Twilio's Calls API (Programmable Voice) as the SDK's `calls` resource speaks it.

`POST .../Calls.json` with `Twiml` or `Url` places a call; each call then walks queued → ringing
→ in-progress → completed, or ends busy / no-answer / failed (by number in `call_outcomes`, else
by the configured shares), POSTing a signed status callback for each event the create asked for
(`StatusCallbackEvent`; the final one always), one after the other. A call made with `Url` fetches
its TwiML from there when answered, signed, like Twilio does. `POST /_sim/press` is a key press
on an answered call: it is POSTed, signed, to the action URL of the call's `<Gather>`, and a
`<Hangup/>` in the answer ends the call. `call_press_share` of answered calls press 1 by
themselves (the demo's residents).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from aiohttp import web

from .aio import form_or_json, json_answer, read_body
from .callbacks import Dispatcher
from .state import ApiError, State
from .wire import API_VERSION, E164, new_sid, rfc2822

log = logging.getLogger(__name__)

FINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
# the StatusCallbackEvent that announces each status ("completed" covers every final one)
EVENT_OF = {"queued": "initiated", "ringing": "ringing", "in-progress": "answered"}
DIGITS = re.compile(r"^[0-9*#]{1,20}$")


@dataclass
class Gather:
    """The `<Gather>` of a call's TwiML: where a key press is POSTed."""

    action: str
    method: str = "POST"


@dataclass
class Call:
    """One outbound call as Twilio keeps it, with what the phone heard."""

    sid: str
    account_sid: str
    to: str
    from_: str
    twiml: str
    url: str
    status_callback: str
    events: frozenset[str]
    outcome: str  # completed | busy | no-answer | failed
    press: bool  # presses 1 by itself once answered
    generation: int
    status: str = "queued"
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    start: float | None = None
    end: float | None = None
    said: list[dict[str, str]] = field(default_factory=list)  # [{"text", "language", "voice"}]
    gather: Gather | None = None
    digits: list[str] = field(default_factory=list)
    heard_after: list[str] = field(default_factory=list)  # what the app said after a press
    sequence: int = 0
    hangup: asyncio.Event | None = None

    @property
    def uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}.json"

    @property
    def duration(self) -> int | None:
        if self.start is None or self.end is None:
            return None
        return int(round(self.end - self.start))

    def resource(self) -> dict[str, Any]:
        """The Call resource JSON (api.v2010.account.call)."""
        return {
            "account_sid": self.account_sid,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": rfc2822(self.created),
            "date_updated": rfc2822(self.updated),
            "direction": "outbound-api",
            "duration": None if self.duration is None else str(self.duration),
            "end_time": rfc2822(self.end) if self.end else None,
            "forwarded_from": None,
            "from": self.from_,
            "from_formatted": self.from_,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": self.sid,
            "start_time": rfc2822(self.start) if self.start else None,
            "status": self.status,
            "subresource_uris": {"recordings": self.uri[:-5] + "/Recordings.json"},
            "to": self.to,
            "to_formatted": self.to,
            "trunk_sid": None,
            "uri": self.uri,
        }

    def summary(self) -> dict[str, Any]:
        """What the phone heard, for /_sim/calls and the phones page."""
        return {
            "sid": self.sid,
            "to": self.to,
            "from": self.from_,
            "status": self.status,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.created))
            + f".{int(self.created * 1e6) % 1_000_000:06d}+00:00",
            "said": self.said,
            "digits": self.digits,
            "heard_after": self.heard_after,
            "duration": self.duration,
        }


def read_twiml(text: str) -> tuple[list[dict[str, str]], Gather | None, bool] | None:
    """(the `<Say>` verbs, the first `<Gather>`, whether it hangs up) of a TwiML document; None
    when it is not one (Twilio's 12100)."""
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError:
        return None
    if root.tag != "Response":
        return None
    said = [
        {
            "text": (verb.text or "").strip(),
            "language": verb.get("language", "en-US"),
            "voice": verb.get("voice", "man"),
        }
        for verb in root.iter("Say")
    ]
    element = next(root.iter("Gather"), None)
    gather = None
    if element is not None:
        gather = Gather(element.get("action", ""), element.get("method", "POST").upper())
    return said, gather, next(root.iter("Hangup"), None) is not None


@dataclass
class CallStats:
    created: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    in_progress: int = 0  # placed and not final: what a small exchange has to carry
    max_in_progress: int = 0
    presses: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "by_status": {k: v for k, v in sorted(self.by_status.items()) if v},
            "in_progress": self.in_progress,
            "max_in_progress": self.max_in_progress,
            "presses": self.presses,
        }


class Calls:
    """The calls, their lifecycles and the /_sim endpoints about them; on the server's loop."""

    def __init__(self, state: State, dispatcher: Dispatcher) -> None:
        self.state = state
        self.dispatcher = dispatcher
        self.calls: dict[str, Call] = {}
        self.stats = CallStats()
        self.generation = state.generation
        self.tasks: set[asyncio.Task[None]] = set()

    def _fresh(self) -> None:
        """Forget everything after /_sim/reset (the state's generation moved)."""
        if self.generation != self.state.generation:
            self.generation = self.state.generation
            self.calls = {}
            self.stats = CallStats()

    # -- the REST API -----------------------------------------------------------------------

    def handle(self, req: web.BaseRequest, rest: list[str], body: bytes) -> web.Response:
        """Routes .../Calls.json and .../Calls/{Sid}.json (auth already checked)."""
        from .api import twilio_error

        self._fresh()
        if rest == ["Calls.json"]:
            if req.method == "POST":
                result = self.create(parse_qsl(body.decode("utf-8", "replace"), True))
                if isinstance(result, ApiError):
                    return twilio_error(result)
                return json_answer(result.resource(), status=201)
            if req.method == "GET":
                return self._list(req)
            return twilio_error(20004)
        if len(rest) == 2 and rest[0] == "Calls" and rest[1].endswith(".json"):
            call = self.calls.get(rest[1][:-5])
            if call is None:
                return twilio_error(20404, path=req.path)
            if req.method == "POST":
                self._update(call, dict(parse_qsl(body.decode("utf-8", "replace"), True)))
            elif req.method != "GET":
                return twilio_error(20004)
            return json_answer(call.resource())
        return twilio_error(20404, path=req.path)

    def create(self, pairs: list[tuple[str, str]]) -> Call | ApiError:
        """Validate a Calls.json POST like Twilio does and start the call."""
        params = dict(pairs)
        to, from_ = params.get("To", "").strip(), params.get("From", "").strip()
        twiml, url = params.get("Twiml", ""), params.get("Url", "").strip()
        callback = params.get("StatusCallback", "").strip()
        if not to:
            return ApiError(21201, {"field": "To"})
        if not E164.match(to):
            return ApiError(21211, {"to": to})
        if not from_:
            return ApiError(21213)
        if not E164.match(from_):
            return ApiError(21212, {"from_": from_})
        if not twiml and not url:
            return ApiError(21205)
        for link in (url, callback):
            parts = urlsplit(link)
            if link and (parts.scheme not in ("http", "https") or not parts.hostname):
                return ApiError(21609, {"url": link})
        said: list[dict[str, str]] = []
        gather = None
        if twiml:
            parsed = read_twiml(twiml)
            if parsed is None:
                return ApiError(12100)
            said, gather, _hangup = parsed
        events = frozenset(v.strip() for k, v in pairs if k == "StatusCallbackEvent")
        cfg = self.state.config
        with self.state.lock:
            outcome = self._outcome(to)
            press = bool(cfg.call_press_share) and self.state.rng.random() < cfg.call_press_share
        call = Call(
            sid=new_sid("CA"),
            account_sid=cfg.account_sid,
            to=to,
            from_=from_,
            twiml=twiml,
            url=url,
            status_callback=callback,
            events=events | {"completed"},
            outcome=outcome,
            press=press,
            generation=self.generation,
            said=said,
            gather=gather,
            hangup=asyncio.Event(),
        )
        self.calls[call.sid] = call
        self.stats.created += 1
        self._count(None, "queued")
        task = asyncio.get_running_loop().create_task(self._lifecycle(call))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return call

    def _outcome(self, to: str) -> str:
        """The next outcome listed for this number, else a draw from the shares (under the
        state's lock: the same seed gives the same calls)."""
        cfg = self.state.config
        listed = cfg.call_outcomes.get(to)
        if listed:
            done = sum(1 for c in self.calls.values() if c.to == to)
            return listed[min(done, len(listed) - 1)]
        draw = self.state.rng.random()
        if draw < cfg.call_busy_share:
            return "busy"
        if draw < cfg.call_busy_share + cfg.call_no_answer_share:
            return "no-answer"
        return "completed"

    def _list(self, req: web.BaseRequest) -> web.Response:
        """ListCall: To, From, Status; PageSize and PageToken (the SID the next page starts
        after), newest first."""
        args = req.query
        try:
            size = max(1, min(1000, int(args.get("PageSize", "50"))))
            page = max(0, int(args.get("Page", "0")))
        except ValueError:
            size, page = 50, 0
        token = args.get("PageToken", "")[2:]
        items: list[dict[str, Any]] = []
        skipping, last = bool(token), None
        for call in reversed(list(self.calls.values())):
            if skipping:
                skipping = call.sid != token
                continue
            if any(
                args.get(key) and args[key] != value
                for key, value in (("To", call.to), ("From", call.from_), ("Status", call.status))
            ):
                continue
            if len(items) == size:
                last = items[-1]["sid"]
                break
            items.append(call.resource())
        filters = [(k, args[k]) for k in ("To", "From", "Status") if args.get(k)]

        def page_uri(number: int, page_token: str | None = None) -> str:
            query = [*filters, ("PageSize", size), ("Page", number)]
            if page_token:
                query.append(("PageToken", page_token))
            return f"{req.path}?{urlencode(query)}"

        return json_answer(
            {
                "calls": items,
                "end": page * size + max(0, len(items) - 1),
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1, "PA" + last) if last else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": None,
                "start": page * size,
                "uri": page_uri(page, args.get("PageToken") or None),
            }
        )

    def _update(self, call: Call, params: dict[str, str]) -> None:
        """Status=canceled (not answered yet) or completed (hang up): ends the call."""
        wanted = params.get("Status", "")
        if (wanted == "canceled" and call.status in ("queued", "ringing")) or (
            wanted == "completed" and call.status == "in-progress"
        ):
            call.outcome = wanted
            call.hangup.set()

    # -- the lifecycle ----------------------------------------------------------------------

    def _count(self, old: str | None, new: str) -> None:
        stats = self.stats
        if old is not None:
            stats.by_status[old] -= 1
        stats.by_status[new] += 1
        if old is None:
            stats.in_progress += 1
            stats.max_in_progress = max(stats.max_in_progress, stats.in_progress)
        elif new in FINAL:
            stats.in_progress -= 1

    async def _move(self, call: Call, status: str) -> None:
        """The call is now `status`; its status callback, when asked for, is POSTed (and waited
        for) before anything else happens to the call."""
        if call.generation != self.generation:
            return
        self._count(call.status, status)
        call.status, call.updated = status, time.time()
        if status == "in-progress":
            call.start = call.updated
        if status in FINAL:
            call.end = call.updated
        await self._notify(call)

    async def _pause(self, call: Call, seconds: float) -> bool:
        """Wait, or less when the call is hung up meanwhile; True when it was."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(call.hangup.wait(), seconds)
        return call.hangup.is_set()

    async def _lifecycle(self, call: Call) -> None:
        cfg = self.state.config
        step = cfg.callback_delay_ms / 1000
        try:
            if await self._pause(call, step):  # Twilio answers the create before it calls back
                await self._move(call, "canceled")
                return
            await self._notify(call)  # initiated (queued)
            if await self._pause(call, step):
                await self._move(call, "canceled")
                return
            await self._move(call, "ringing")
            if await self._pause(call, step) and call.outcome == "canceled":
                await self._move(call, "canceled")
                return
            if call.outcome != "completed":
                await self._move(call, call.outcome)
                return
            await self._move(call, "in-progress")
            if call.url:
                await self._fetch_twiml(call)
            if call.press and call.gather is not None:
                await asyncio.sleep(min(step, cfg.call_seconds / 2))
                await self.press(call, "1")
            await self._pause(call, cfg.call_seconds)
            await self._move(call, "completed")
        except Exception:  # one broken call must not stop the others
            log.exception("call %s failed in the simulator", call.sid)

    def _params(self, call: Call) -> dict[str, str]:
        return {
            "AccountSid": call.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": call.status,
            "Called": call.to,
            "Caller": call.from_,
            "Direction": "outbound-api",
            "From": call.from_,
            "To": call.to,
        }

    async def _notify(self, call: Call) -> None:
        event = "completed" if call.status in FINAL else EVENT_OF.get(call.status)
        if not call.status_callback or event not in call.events:
            return
        params = self._params(call) | {
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(call.sequence),
            "Timestamp": rfc2822(call.updated),
        }
        call.sequence += 1
        if call.status in FINAL:
            params["CallDuration"] = str(call.duration or 0)
            params["Duration"] = str(-(-(call.duration or 0) // 60))
        cfg = self.state.config
        for attempt in range(cfg.callback_retries + 1):
            try:
                reply = await self.dispatcher.post_signed(
                    call.status_callback, params, new_sid("ID")
                )
            except Exception as exc:
                log.warning("call status callback to %s failed: %r", call.status_callback, exc)
            else:
                with self.state.lock:
                    if 200 <= reply.status < 300:
                        self.state.stats.callbacks_sent += 1
                        return
                    if reply.status < 500 and reply.status != 429:
                        self.state.stats.callbacks_rejected += 1
                        return
            await asyncio.sleep(cfg.callback_retry_ms / 1000 * 2**attempt)
        with self.state.lock:
            self.state.stats.callbacks_failed += 1

    async def _fetch_twiml(self, call: Call) -> None:
        """A call made with `Url`: its TwiML, fetched (signed POST) when it is answered."""
        reply = await self.dispatcher.post_signed(call.url, self._params(call), new_sid("ID"))
        parsed = read_twiml(reply.body.decode("utf-8", "replace")) if reply.status < 300 else None
        if parsed is None:
            log.warning("call %s: %s answered no TwiML (%d)", call.sid, call.url, reply.status)
            return
        call.said, call.gather, _hangup = parsed

    async def press(self, call: Call, digits: str) -> dict[str, Any]:
        """A key press: POSTed to the `<Gather>` action, signed; a `<Hangup/>` in the answer
        ends the call."""
        if call.status != "in-progress":
            return {"error": f"the call is {call.status}, not in progress", "status": 409}
        if call.gather is None or not call.gather.action:
            return {"error": "the call's TwiML has no <Gather action=...>", "status": 409}
        action = urljoin(call.url or "", call.gather.action)
        params = self._params(call) | {"Digits": digits, "FinishedOnKey": ""}
        call.digits.append(digits)
        self.stats.presses += 1
        reply = await self.dispatcher.post_signed(action, params, new_sid("ID"))
        text = reply.body.decode("utf-8", "replace")
        parsed = read_twiml(text) if 200 <= reply.status < 300 else None
        if parsed is not None:
            said, _gather, hangup = parsed
            call.heard_after += [s["text"] for s in said if s["text"]]
            if hangup:
                call.hangup.set()
        return {"sid": call.sid, "status": reply.status, "body": text}

    # -- /_sim endpoints --------------------------------------------------------------------

    async def control(self, req: web.BaseRequest) -> web.Response | None:
        """GET /_sim/calls, GET /_sim/calls/stats, POST /_sim/press; None for other paths."""
        self._fresh()
        path = req.path.rstrip("/")
        if (req.method, path) == ("GET", "/_sim/calls"):
            to = req.query.get("to")
            to = "+" + to.strip() if to and to.strip().isdigit() else to
            return json_answer([c.summary() for c in self.calls.values() if to in (None, c.to)])
        if (req.method, path) == ("GET", "/_sim/calls/stats"):
            return json_answer(self.stats.to_json())
        if (req.method, path) == ("POST", "/_sim/press"):
            data = form_or_json(req, await read_body(req))
            call = self.calls.get(str(data.get("sid", "")))
            digits = str(data.get("digits", "1"))
            if call is None:
                return json_answer({"error": "no such call"}, status=404)
            if not DIGITS.match(digits):
                return json_answer({"error": "digits are 0-9, * and #"}, status=400)
            answer = await self.press(call, digits)
            return json_answer(
                answer, status=answer.pop("status", 200) if "error" in answer else 200
            )
        return None
