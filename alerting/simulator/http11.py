"""A minimal HTTP/1.1 server and keep-alive client on asyncio streams.

Why not http.server or Flask: the simulator must answer ≥ 2,500 creates/s and send ≥ 3,000
callbacks/s from one process on two cores. Measured here with a trivial handler, http.server
(threaded, TCP_NODELAY) answered ~4,900 requests/s and asyncio streams ~9,000/s. Only what
Twilio's clients and webhook receivers use is supported: Content-Length or chunked bodies,
keep-alive, pipelining."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
MAX_HEAD = 64 * 1024
_REASONS = {s.value: s.phrase for s in HTTPStatus}


class HttpError(Exception):
    """A malformed request: answered with `status` and the connection closed."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool

    def form(self) -> dict[str, str]:
        """Form fields (last value wins), from a urlencoded body."""
        return parse_form(self.body.decode("utf-8", "replace"))

    def args(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def data(self) -> dict[str, Any]:
        """JSON object or form fields, whichever the body is."""
        if "json" in self.headers.get("content-type", "") or self.body[:1] == b"{":
            try:
                value = json.loads(self.body or b"{}")
            except ValueError as exc:
                raise HttpError(400) from exc
            if not isinstance(value, dict):
                raise HttpError(400)
            return value
        return self.form()


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, value: Any, status: int = 200, **kw: Any) -> Response:
        return cls(status, json.dumps(value).encode(), **kw)

    def encode(self, keep_alive: bool) -> bytes:
        reason = _REASONS.get(self.status, "Unknown")
        head = [
            f"HTTP/1.1 {self.status} {reason}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
        ]
        head += [f"{k}: {v}" for k, v in self.headers]
        if not keep_alive:
            head.append("Connection: close")
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + self.body


Handler = Callable[[Request], Awaitable[Response]]


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


def _parse_headers(lines: list[bytes]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(b":")
        if not sep:
            raise HttpError(400)
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return headers


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise HttpError(400) from exc
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        total += size
        if total > MAX_BODY:
            raise HttpError(413)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    """Next request on the connection, or None at a clean end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise HttpError(400) from exc
        return None
    except asyncio.LimitOverrunError as exc:
        raise HttpError(431) from exc
    lines = head[:-4].split(b"\r\n")
    while lines and not lines[0]:  # tolerate stray CRLF between pipelined requests
        lines.pop(0)
    parts = lines[0].split(b" ") if lines else []
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise HttpError(400)
    method = parts[0].decode("latin-1")
    target = parts[1].decode("latin-1")
    headers = _parse_headers(lines[1:])
    connection = headers.get("connection", "").lower()
    if parts[2] == b"HTTP/1.0":
        keep_alive = "keep-alive" in connection
    else:
        keep_alive = "close" not in connection
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError as exc:
            raise HttpError(400) from exc
        if length < 0:
            raise HttpError(400)
        if length > MAX_BODY:
            raise HttpError(413)
        body = await reader.readexactly(length) if length else b""
    path, _, query = target.partition("?")
    return Request(method, path, query, headers, body, keep_alive)


async def serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler
) -> None:
    """Answer requests on one connection until the client closes it or asks to."""
    try:
        while True:
            try:
                request = await _read_request(reader)
            except HttpError as exc:
                writer.write(Response(exc.status, b"").encode(keep_alive=False))
                break
            if request is None:
                break
            try:
                response = await handler(request)
            except Exception:  # a bug must cost one answer, not the connection's client a hang
                log.exception("error answering %s %s", request.method, request.path)
                response = Response.json({"error": "internal error"}, status=500)
            writer.write(response.encode(request.keep_alive))
            if not request.keep_alive:
                break
            if writer.transport.get_write_buffer_size() > 256 * 1024:
                await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


# -- client ---------------------------------------------------------------------------------


@dataclass(slots=True)
class ClientResponse:
    status: int
    headers: dict[str, str]
    body: bytes


_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class ClientPool:
    """Keep-alive connections per (scheme, host, port), reused across requests.

    A connection found dead when reused (the receiver closed it while idle) is replaced once
    without counting as a failure, as browsers and urllib3 do.
    """

    def __init__(self) -> None:
        self._idle: dict[tuple[str, str, int], list[_Conn]] = {}
        self._open: set[asyncio.StreamWriter] = set()
        self._ssl: ssl.SSLContext | None = None

    async def request(
        self, method: str, url: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> ClientResponse:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"cannot POST to {url!r}")
        key = (scheme, parts.hostname, parts.port or (443 if scheme == "https" else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        head = [
            f"{method} {target} HTTP/1.1",
            f"Host: {parts.netloc.rpartition('@')[2]}",
            f"Content-Length: {len(body)}",
        ]
        head += [f"{k}: {v}" for k, v in headers.items()]
        data = ("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + body
        async with asyncio.timeout(timeout):
            for attempt in (0, 1):
                conn, reused = await self._acquire(key)
                try:
                    conn[1].write(data)
                    response, keep = await _read_response(conn[0], method)
                except (ConnectionError, asyncio.IncompleteReadError):
                    self._discard(conn)
                    if reused and attempt == 0:
                        continue
                    raise
                except BaseException:
                    self._discard(conn)
                    raise
                if keep:
                    self._idle.setdefault(key, []).append(conn)
                else:
                    self._discard(conn)
                return response
        raise AssertionError("unreachable")

    async def _acquire(self, key: tuple[str, str, int]) -> tuple[_Conn, bool]:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn[1].is_closing() and not conn[0].at_eof():
                return conn, True
            self._discard(conn)
        scheme, host, port = key
        ssl_ctx = None
        if scheme == "https":
            ssl_ctx = self._ssl = self._ssl or ssl.create_default_context()
        reader, writer = await asyncio.open_connection(host, port, ssl=ssl_ctx, limit=MAX_HEAD)
        self._open.add(writer)
        return (reader, writer), False

    def _discard(self, conn: _Conn) -> None:
        self._open.discard(conn[1])
        conn[1].close()

    def close(self) -> None:
        """Close every connection (idle or in use); call from the loop before it stops."""
        for writer in list(self._open):
            writer.close()
        self._open.clear()
        self._idle.clear()


async def _read_response(reader: asyncio.StreamReader, method: str) -> tuple[ClientResponse, bool]:
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        status_parts = lines[0].split(b" ", 2)
        try:
            status = int(status_parts[1])
        except (IndexError, ValueError) as exc:
            raise ConnectionError(f"bad status line {lines[0]!r}") from exc
        headers = _parse_headers(lines[1:])
        if status >= 200 or status == 101:
            break
    connection = headers.get("connection", "").lower()
    if status_parts[0] == b"HTTP/1.0":
        keep = "keep-alive" in connection
    else:
        keep = "close" not in connection
    if method == "HEAD" or status in (204, 304):
        body = b""
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body = await reader.read()
        keep = False
    return ClientResponse(status, headers, body), keep
