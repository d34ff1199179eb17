"""Twilio's 2010-04-01 REST API, the part the SDK's `messages`, `calls` and `accounts` use
(calls: alerting.simulator.calls).

Synchronous on purpose: this is the hot path (≥ 2,500 creates/s), so no coroutine per request;
the server adds the configured latency around it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import urlencode

from aiohttp import web

from .aio import answer, json_answer, parse_form
from .callbacks import Dispatcher
from .calls import Calls
from .state import ApiError, SentFilter, State
from .wire import API_VERSION, error_body, parse_date_filter, rfc2822


def twilio_error(error: ApiError | int, **fields: str) -> web.Response:
    """A Twilio error answer (JSON body and, for 401/429, the header clients expect)."""
    if isinstance(error, int):
        error = ApiError(error, dict(fields))
    status, body = error_body(error.code, **error.fields)
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return answer(status, body, headers=headers)


class TwilioApi:
    """Routes /2010-04-01/... requests: auth, create, fetch, list, account."""

    def __init__(self, state: State, dispatcher: Dispatcher, calls: Calls) -> None:
        self.state = state
        self.dispatcher = dispatcher
        self.calls = calls
        self._auth_key = ("", "")
        self._good_auth = ""  # the exact header the SDK sends, for a string-compare fast path

    def handle(self, req: web.BaseRequest, body: bytes) -> web.Response:
        parts = req.path.split("/")
        # ['', '2010-04-01', 'Accounts', '<sid>' or '<sid>.json', ...]
        if len(parts) < 4 or parts[2] != "Accounts":
            return twilio_error(20404, path=req.path)
        account = parts[3].removesuffix(".json")
        if not self._authorized(req.headers.get("Authorization", ""), account):
            return twilio_error(20003)
        rest = parts[4:]
        if not rest and parts[3].endswith(".json"):
            return self._account()
        if rest and rest[0].startswith("Calls"):
            return self.calls.handle(req, rest, body)
        if rest == ["Messages.json"]:
            if req.method == "POST":
                return self._create(body)
            if req.method == "GET":
                return self._list(req)
            return twilio_error(20004)
        if len(rest) == 2 and rest[0] == "Messages" and rest[1].endswith(".json"):
            if req.method != "GET":
                return twilio_error(20004)
            msg = self.state.get(rest[1][:-5])
            if msg is None:
                return twilio_error(20404, path=req.path)
            with self.state.lock:
                return json_answer(msg.resource())
        return twilio_error(20404, path=req.path)

    def _authorized(self, header: str, account: str) -> bool:
        """HTTP Basic with the account SID and auth token, as the SDK sends it."""
        cfg = self.state.config
        if account != cfg.account_sid:
            return False
        key = (cfg.account_sid, cfg.auth_token)
        if self._auth_key != key:
            self._auth_key = key
            self._good_auth = "Basic " + base64.b64encode(":".join(key).encode()).decode()
        if header == self._good_auth:
            return True
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = (
                base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user.encode(), cfg.account_sid.encode()) and (
            hmac.compare_digest(password.encode(), cfg.auth_token.encode())
        )

    def _create(self, body: bytes) -> web.Response:
        result = self.state.create(parse_form(body.decode("utf-8", "replace")))
        if isinstance(result, ApiError):
            return twilio_error(result)
        self.dispatcher.begin(result)
        with self.state.lock:
            return json_answer(result.resource(), status=201)

    def _list(self, req: web.BaseRequest) -> web.Response:
        """ListMessage: filters To, From, DateSent, DateSent<, DateSent>; PageSize, Page and
        PageToken (the SID after which the next page starts), newest first."""
        args = req.query
        try:
            size = max(1, min(1000, int(args.get("PageSize", "50"))))
            page = max(0, int(args.get("Page", "0")))
        except ValueError:
            size, page = 50, 0
        bounds = {}
        for key in ("DateSent", "DateSent<", "DateSent>"):
            if args.get(key):
                bound = parse_date_filter(args[key])
                if bound is None:
                    return twilio_error(20001, field=key, value=args[key])
                bounds[key] = bound
        sent = None
        if bounds:
            on = bounds.get("DateSent")
            sent = SentFilter(
                on=(on[0], on[0] + (86400 if on[1] else 1)) if on else None,
                before=bounds.get("DateSent<"),
                after=bounds.get("DateSent>"),
            )
        token = args.get("PageToken", "")
        items, last = self.state.resources(
            args.get("To"), args.get("From"), size, sent, token[2:] if token else None
        )
        filters = [(k, args[k]) for k in ("To", "From", *bounds) if args.get(k)]

        def page_uri(number: int, page_token: str | None = None) -> str:
            query = [*filters, ("PageSize", size), ("Page", number)]
            if page_token:
                query.append(("PageToken", page_token))
            return f"{req.path}?{urlencode(query)}"

        return json_answer(
            {
                "messages": items,
                "end": page * size + max(0, len(items) - 1),
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1, "PA" + last) if last else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": None,  # pages go forward only (PageToken)
                "start": page * size,
                "uri": page_uri(page, token or None),
            }
        )

    def _account(self) -> web.Response:
        cfg = self.state.config
        created = rfc2822(self.state.stats.started)
        return json_answer(
            {
                "auth_token": cfg.auth_token,
                "date_created": created,
                "date_updated": created,
                "friendly_name": "Twilio simulator",
                "owner_account_sid": cfg.account_sid,
                "sid": cfg.account_sid,
                "status": "active",
                "subresource_uris": {
                    "messages": f"/{API_VERSION}/Accounts/{cfg.account_sid}/Messages.json",
                    "calls": f"/{API_VERSION}/Accounts/{cfg.account_sid}/Calls.json",
                },
                "type": "Full",
                "uri": f"/{API_VERSION}/Accounts/{cfg.account_sid}.json",
            }
        )
