"""The simulator process: one asyncio loop (API, control endpoints, callbacks) on one socket,
served by aiohttp's low-level server and calling back with aiohttp's client.

`make_server` binds at once (so `.port` is known before serving, port 0 picks a free one);
`serve_forever` runs the loop in the calling thread until `shutdown()` is called from another
thread; `start_in_thread` does both for tests and the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import threading
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from .aio import HttpError, make_web_server, read_body
from .api import TwilioApi, twilio_error
from .callbacks import Dispatcher, open_session
from .calls import Calls
from .config import SimulatorConfig
from .control import Control
from .state import State
from .vonage import VonageApi

log = logging.getLogger(__name__)


class SimulatorServer:
    """A running (or ready to run) simulator. Thread-safe helpers for tests: `messages()`,
    `stats()`, `configure()`, `reset()`."""

    def __init__(self, host: str, port: int, config: SimulatorConfig) -> None:
        self.state = State(config)
        self._sock: socket.socket | None = socket.create_server((host, port), backlog=1024)
        self.host: str = self._sock.getsockname()[0]
        self.port: int = self._sock.getsockname()[1]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._main_task: asyncio.Task[None] | None = None
        self._server: asyncio.Server | None = None
        self._web: web.Server | None = None
        self._session: aiohttp.ClientSession | None = None
        self._started = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()  # serve_forever() vs shutdown() from another thread
        self.dispatcher: Dispatcher | None = None
        self.calls: Calls | None = None

    @property
    def url(self) -> str:
        """Base URL for `client.api.base_url` and the /_sim endpoints."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    # -- lifecycle --------------------------------------------------------------------------

    def serve_forever(self) -> None:
        """Run until `shutdown()` (or Ctrl-C); always leaves sockets closed."""
        with self._lifecycle:
            if self._sock is None:
                raise RuntimeError("server already closed")
            loop = self._loop = asyncio.new_event_loop()
        # Keep what is alive now (imports, an embedding app) out of the collector's sight: a full
        # collection over it stalled the loop for 100-200 ms, and requests queued meanwhile were
        # stamped as arriving together, as if the sender had bunched them (bench_sending rate).
        gc.freeze()
        try:
            self._main_task = loop.create_task(self._main())
            loop.run_until_complete(self._main_task)
        except KeyboardInterrupt:
            log.info("simulator interrupted")
        finally:
            try:
                loop.run_until_complete(self._cleanup())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()
                self._started.set()
                self._stopped.set()

    def shutdown(self) -> None:
        """Stop serving and wait until every socket is closed (call from another thread)."""
        with self._lifecycle:
            loop = self._loop
            if loop is None:  # never served: a later serve_forever() will refuse to start
                self.server_close()
                return
        self._started.wait(10)
        if not self._stopped.is_set() and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._stop.set)
        self._stopped.wait(10)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)

    def server_close(self) -> None:
        """Close the listening socket of a server that was never served."""
        if self._sock is not None and self._loop is None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> SimulatorServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._session = open_session()
        self.dispatcher = Dispatcher(self.state, self._session)
        self.dispatcher.start()
        self.calls = Calls(self.state, self.dispatcher)
        self.api = TwilioApi(self.state, self.dispatcher, self.calls)
        self.vonage = VonageApi(self.state, self.dispatcher)
        self.control = Control(self.state, self.dispatcher)
        self._web = make_web_server(self._handle)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._web, sock=self._sock, backlog=1024)
        self._sock = None  # owned by the asyncio server now
        self._started.set()
        await self._stop.wait()

    async def _cleanup(self) -> None:
        tasks: list[asyncio.Task[Any]] = []
        if self._main_task is not None and not self._main_task.done():
            self._main_task.cancel()  # after Ctrl-C it is still pending
            tasks.append(self._main_task)
        if self._server is not None:
            self._server.close()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._web is not None:  # answers in progress get a moment, then connections close
            await self._web.shutdown(1.0)
        if self.dispatcher is not None:
            self.dispatcher.stop()
            tasks += self.dispatcher.workers
        if self.calls is not None:
            tasks += list(self.calls.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        for _ in range(3):  # let closed transports release their sockets
            await asyncio.sleep(0)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, req: web.BaseRequest) -> web.StreamResponse:
        twilio = req.path.startswith("/2010-04-01/")
        if twilio or self.vonage.handles(req.path):
            try:
                body = await read_body(req)
            except HttpError as exc:
                return exc.answer()
            outage = self.state.config.twilio_status
            if twilio and outage:  # Twilio's side is down (for failover tests)
                response = twilio_error(20500 if outage == 500 else 20503)
            elif twilio:
                response = self.api.handle(req, body)
            else:
                response = self.vonage.handle(req, body)
            latency = self.state.config.latency_ms
            if latency:
                await asyncio.sleep(latency / 1000)
            return response
        if req.path.startswith("/_sim/calls") or req.path.rstrip("/") == "/_sim/press":
            try:
                answer = await self.calls.control(req)
            except HttpError as exc:
                return exc.answer()
            if answer is not None:
                return answer
        return await self.control.handle(req)

    # -- thread-safe helpers for tests and the demo -----------------------------------------

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        """What each phone received (oldest first), like GET /_sim/messages."""
        return self.state.summaries(to)

    def stats(self) -> dict[str, Any]:
        with self.state.lock:
            pending = self.dispatcher.pending if self.dispatcher else 0
            return self.state.stats.to_json(pending)

    def configure(self, **changes: Any) -> SimulatorConfig:
        """Change options while running, like POST /_sim/config."""
        config = self.state.configure(changes)
        if self._loop is not None and self.dispatcher is not None:
            self._loop.call_soon_threadsafe(self.dispatcher.resize, config.callback_concurrency)
        return config

    def calls_made(self, to: str | None = None) -> list[dict[str, Any]]:
        """The calls each phone got (oldest first) with what it heard, like GET /_sim/calls."""
        calls = list(self.calls.calls.values()) if self.calls else []
        return [c.summary() for c in calls if to in (None, c.to)]

    def call_stats(self) -> dict[str, Any]:
        """Calls by status and the most ever in progress at once (the concurrency cap)."""
        return self.calls.stats.to_json() if self.calls else {}

    def reset(self) -> None:
        """Forget messages, opt-outs, stats; back to the startup options."""
        self.state.reset()


def make_server(host: str, port: int, config: SimulatorConfig) -> SimulatorServer:
    """Bind now (port 0 = a free port); serve with `.serve_forever()`."""
    return SimulatorServer(host, port, config)


def start_in_thread(
    config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> SimulatorServer:
    """A simulator already serving in a daemon thread; stop it with `.shutdown()`."""
    server = make_server(host, port, config if config is not None else SimulatorConfig())
    thread = threading.Thread(
        target=server.serve_forever, name=f"twilio-simulator-{server.port}", daemon=True
    )
    server._thread = thread
    thread.start()
    if not server._started.wait(10) or server._stopped.is_set():
        server.shutdown()
        raise RuntimeError("simulator failed to start")
    return server


def serve(host: str, port: int, config: SimulatorConfig) -> None:
    """Serve in the foreground until Ctrl-C (for `alerting simulator`)."""
    server = make_server(host, port, config)
    print(
        f"Twilio simulator on {server.url} (account {config.account_sid}); phones at {server.url}/",
        flush=True,
    )
    server.serve_forever()
