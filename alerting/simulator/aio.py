"""The simulator's use of aiohttp's low-level server: HTTP/1.1 answers, bodies, JSON answers.

The low-level `web.Server` (not an `Application` with its router): the simulator routes its
few paths itself, and the create hot path (≥ 2,500/s) pays for no middleware or route lookup.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web
from aiohttp.http import HttpVersion11

MAX_BODY = 1024 * 1024
MAX_HEAD = 64 * 1024

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class HttpError(Exception):
    """A request the simulator cannot read: answered with `status`."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status

    def answer(self) -> web.Response:
        """Its JSON answer, saying `Connection: close` when the body is left unread (413)."""
        response = json_answer({"error": HTTPStatus(self.status).phrase.lower()}, self.status)
        if self.status == 413:
            response.force_close()
        return response


def make_web_server(handler: Handler) -> web.Server:
    """An aiohttp protocol factory for `loop.create_server`, answering every request (even a
    HTTP/1.0 or unparsable one) as HTTP/1.1, with `Connection: close` when it closes: RFC 9110
    §2.5 has a server answer with the highest version it conforms to, and clients of the old
    simulator saw exactly that (aiohttp alone would echo HTTP/1.0)."""
    loop = asyncio.get_running_loop()

    def make_request(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> Any:
        message = message._replace(version=HttpVersion11)
        return web.BaseRequest(
            message, payload, protocol, writer, task, loop, client_max_size=MAX_BODY
        )

    return web.Server(
        handler,
        request_factory=make_request,
        access_log=None,  # one log line per create would cost more than the create
        lingering_time=0,  # a body left unread (413) closes the connection, not drained
        max_line_size=MAX_HEAD,
        max_field_size=MAX_HEAD,
    )


async def read_body(request: web.BaseRequest) -> bytes:
    """The whole body, refused (413) beyond MAX_BODY before reading it when its length says so."""
    if (request.content_length or 0) > MAX_BODY:
        raise HttpError(413)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:  # chunked, and over the limit
        raise HttpError(413) from exc


def parse_form(text: str) -> dict[str, str]:
    """`parse_qsl` semantics (blank values kept, last wins), but only unquoting the fields that
    need it: a third of the cost of urllib's on the create hot path."""
    fields: dict[str, str] = {}
    for pair in text.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        fields[name] = value
    return fields


def form_or_json(request: web.BaseRequest, body: bytes) -> dict[str, Any]:
    """A JSON object or form fields, whichever the body is."""
    if "json" in request.headers.get("Content-Type", "") or body[:1] == b"{":
        try:
            value = json.loads(body or b"{}")
        except ValueError as exc:
            raise HttpError(400) from exc
        if not isinstance(value, dict):
            raise HttpError(400)
        return value
    return parse_form(body.decode("utf-8", "replace"))


def answer(
    status: int,
    body: bytes = b"",
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> web.Response:
    return web.Response(status=status, body=body, content_type=content_type, headers=headers)


def json_answer(value: Any, status: int = 200) -> web.Response:
    return answer(status, json.dumps(value).encode())
