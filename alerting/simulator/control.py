"""The simulator's own endpoints (/_sim/...): phones page, inspection, runtime config, inbound.

Not part of Twilio's API: tests and the demo use them to see what each phone received and to
make a phone send an SMS (a reply, STOP, ...) to the app.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from aiohttp import web

from .aio import HttpError, answer, form_or_json, json_answer, read_body
from .callbacks import Dispatcher, Reply
from .config import ConfigError
from .state import State
from .wire import API_VERSION, E164, country_of, iso_us, keyword_kind, new_sid

PHONES_HTML = (Path(__file__).with_name("phones.html")).read_bytes()


def _number(value: str | None) -> str | None:
    """A number from a query string, where an unencoded '+' arrives as a space."""
    if value is None:
        return None
    value = value.strip()
    return "+" + value if value.isdigit() else value


def _limit(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError as exc:
        raise HttpError(400) from exc


def twiml_messages(response: Reply) -> list[str]:
    """Texts of the <Message> verbs in a TwiML answer (Twilio sends them to the phone)."""
    body = response.body.strip()
    if not body.startswith(b"<"):
        return []
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return []
    if root.tag != "Response":
        return []
    texts = []
    for verb in root.iter("Message"):
        child = verb.find("Body")
        text = child.text if child is not None else verb.text
        if text and text.strip():
            texts.append(text.strip())
    return texts


class Control:
    """Handlers for /, /_sim/phones, /_sim/messages, /_sim/stats, /_sim/config, /_sim/reset,
    /_sim/inbound."""

    def __init__(self, state: State, dispatcher: Dispatcher) -> None:
        self.state = state
        self.dispatcher = dispatcher

    async def handle(self, req: web.BaseRequest) -> web.Response:
        key = (req.method, req.path.rstrip("/") or "/")
        try:
            if key in (("GET", "/"), ("GET", "/_sim/phones")):
                return web.Response(
                    body=PHONES_HTML,
                    content_type="text/html",
                    charset="utf-8",
                    headers={"Cache-Control": "no-store"},
                )
            if key == ("GET", "/_sim/messages"):
                args = req.query
                return json_answer(
                    self.state.summaries(
                        _number(args.get("to")),
                        _number(args.get("from")),
                        _limit(args.get("limit")),
                    )
                )
            if key == ("GET", "/_sim/inbound"):
                limit = _limit(req.query.get("limit"))
                with self.state.lock:
                    items = list(self.state.inbound)
                return json_answer(items[-limit:] if limit else items)
            if key == ("POST", "/_sim/inbound"):
                return await self.inbound(form_or_json(req, await read_body(req)))
            if key == ("GET", "/_sim/stats"):
                with self.state.lock:
                    stats = self.state.stats.to_json(self.dispatcher.pending)
                return json_answer(stats)
            if key == ("GET", "/_sim/config"):
                return json_answer(self.state.config.to_json())
            if key == ("POST", "/_sim/config"):
                return self.configure(form_or_json(req, await read_body(req)))
            if key == ("POST", "/_sim/reset"):
                self.state.reset()
                return json_answer({"ok": True})
            if key == ("GET", "/favicon.ico"):
                return answer(204, content_type="image/x-icon")
            if key == ("GET", "/_sim/health"):
                return json_answer({"ok": True})
        except HttpError as exc:
            return exc.answer()
        return json_answer({"error": f"no route {req.method} {req.path}"}, status=404)

    def configure(self, changes: dict[str, Any]) -> web.Response:
        try:
            config = self.state.configure(changes)
        except ConfigError as exc:
            return json_answer({"error": str(exc)}, status=400)
        self.dispatcher.resize(config.callback_concurrency)
        return json_answer(config.to_json())

    async def inbound(self, data: dict[str, Any]) -> web.Response:
        """A phone sends an SMS: opt-out keywords act at once (like Twilio), then the app's
        inbound webhook gets the signed POST; TwiML <Message> replies go back to the phone."""
        state = self.state
        phone = _number(str(data.get("from") or data.get("From") or "")) or ""
        body = str(data.get("body") if data.get("body") is not None else data.get("Body") or "")
        to = str(data.get("to") or data.get("To") or state.last_sender.get(phone) or "")
        url = str(data.get("url") or state.config.inbound_url or "")
        if not E164.match(phone):
            return json_answer({"error": "'from' must be an E.164 number"}, status=400)
        if not to:
            return json_answer(
                {"error": "'to' is required (no message was sent to this phone yet)"}, status=400
            )
        if str(data.get("provider") or "") == "vonage":
            return await self.vonage_inbound(phone, to, body, data)
        keyword = keyword_kind(body)
        if keyword == "stop":
            state.opt_out(phone)
        elif keyword == "start":
            state.opt_in(phone)
        sid = new_sid()
        record: dict[str, Any] = {
            "sid": sid,
            "from": phone,
            "to": to,
            "body": body,
            "created_at": iso_us(time.time_ns() // 1000),
            "app_status": None,
        }
        with state.lock:
            state.inbound.append(record)
        if not url:
            return json_answer({"sid": sid, "error": "no inbound_url configured"}, status=400)
        params = {
            "ToCountry": country_of(to),
            "ToState": "",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": country_of(phone),
            "To": to,
            "ToZip": "",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": state.config.account_sid,
            "From": phone,
            "ApiVersion": API_VERSION,
        }
        try:
            response = await self.dispatcher.post_signed(url, params, new_sid("ID"))
        except Exception as exc:  # the app is down or garbled: tell the caller, keep serving
            with state.lock:
                state.stats.inbound_failed += 1
            return json_answer({"sid": sid, "error": f"POST {url} failed: {exc!r}"}, status=502)
        with state.lock:
            state.stats.inbound_sent += 1
            record["app_status"] = response.status
            unsubscribed = phone in state.opted_out or phone in state.config.unsubscribed
        replies = []
        if 200 <= response.status < 300 and not unsubscribed:
            for text in twiml_messages(response):
                reply = state.record_reply(phone, to, text)
                self.dispatcher.begin(reply)
                replies.append(reply.sid)
        return _relayed(sid, response, replies)

    async def vonage_inbound(
        self, phone: str, to: str, body: str, data: dict[str, Any]
    ) -> web.Response:
        """The same SMS through Vonage's side: a signed inbound webhook to
        `vonage_inbound_url` (Vonage sends no reply from the answer: the app sends one)."""
        state = self.state
        url = str(data.get("url") or state.config.vonage_inbound_url or "")
        params = self.dispatcher.vonage.inbound(phone, to, body)
        record: dict[str, Any] = {
            "sid": params["messageId"],
            "from": phone,
            "to": to,
            "body": body,
            "provider": "vonage",
            "created_at": iso_us(time.time_ns() // 1000),
            "app_status": None,
        }
        with state.lock:
            state.inbound.append(record)
        if not url:
            return json_answer({"sid": record["sid"], "error": "no vonage_inbound_url"}, 400)
        try:
            response = await self.dispatcher.post_form(url, params)
        except Exception as exc:  # the app is down or garbled: tell the caller, keep serving
            with state.lock:
                state.stats.inbound_failed += 1
            return json_answer({"sid": record["sid"], "error": f"POST {url} failed: {exc!r}"}, 502)
        with state.lock:
            state.stats.inbound_sent += 1
            record["app_status"] = response.status
        return _relayed(record["sid"], response, [])


def _relayed(sid: str, response: Reply, replies: list[str]) -> web.Response:
    """What /_sim/inbound answers: the app's answer to the webhook."""
    return json_answer(
        {
            "sid": sid,
            "status": response.status,
            "content_type": response.headers.get("content-type", ""),
            "body": response.body.decode("utf-8", "replace"),
            "replies": replies,
        }
    )
