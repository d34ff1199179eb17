"""`python -m alerting.simulator.bench`: how fast the simulator answers and calls back.

Each party runs in its own process, as in real use: the simulator, a minimal webhook receiver
(so the receiver is not what is measured), and N client processes posting `Messages.json`
over keep-alive connections with raw http.client (the twilio SDK itself tops out near
~840 creates/s per process, see DESIGN.md, so it would measure the client). A last phase uses
the real SDK from threads for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import multiprocessing as mp
import threading
import time
from multiprocessing.queues import Queue
from typing import Any
from urllib.parse import urlencode

from .config import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, SimulatorConfig
from .server import start_in_thread

PATH = f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
AUTH = "Basic " + base64.b64encode(f"{DEFAULT_ACCOUNT_SID}:{DEFAULT_AUTH_TOKEN}".encode()).decode()


def _simulator(ports: Queue) -> None:
    server = start_in_thread(SimulatorConfig(callback_delay_ms=0, callback_concurrency=64))
    ports.put(server.port)
    threading.Event().wait()


def _receiver(ports: Queue) -> None:
    """Answers every POST with 200 and an empty body, as fast as asyncio allows."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        ports.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def _client(
    port: int, seconds: float, callback: str, rate: float, index: int, go: Any, results: Queue
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": AUTH}
    done = refused = 0
    go.wait()
    start = time.perf_counter()
    deadline = start + seconds
    while (now := time.perf_counter()) < deadline:
        if rate and (ahead := (done + refused) / rate - (now - start)) > 0:
            time.sleep(ahead)
            continue
        fields = {
            "To": f"+47{90000000 + index * 1_000_000 + done}",
            "From": "+4759440000",
            "Body": "Vannet stenges i Strandvegen 10:00-14:00.",
        }
        if callback:
            fields["StatusCallback"] = callback
        conn.request("POST", PATH, urlencode(fields), headers)
        response = conn.getresponse()
        response.read()
        if response.status == 201:
            done += 1
        else:
            refused += 1
    conn.close()
    results.put((done, refused))


def _get(port: int, path: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", path)
    body = conn.getresponse().read()
    conn.close()
    return json.loads(body)


def _post(port: int, path: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("POST", path, b"{}", {"Content-Type": "application/json"})
    conn.getresponse().read()
    conn.close()


def _load(
    ctx: Any, port: int, clients: int, seconds: float, callback: str = "", rate: float = 0.0
) -> tuple[float, float, dict[str, Any]]:
    """Creates/s over the timed window, its length, and the simulator's stats at its end."""
    results = ctx.Queue()
    go = ctx.Event()
    procs = [
        ctx.Process(target=_client, args=(port, seconds, callback, rate / clients, i, go, results))
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    time.sleep(2.0)  # let the spawned interpreters import; only the timed part counts
    start = time.perf_counter()
    go.set()
    totals = [results.get() for _ in procs]
    end = time.perf_counter()
    snapshot = _get(port, "/_sim/stats")
    for p in procs:
        p.join()
    return sum(t[0] for t in totals) / (end - start), end - start, snapshot


def _callbacks(
    ctx: Any, sim_port: int, receiver_port: int, clients: int, seconds: float, rate: float
) -> None:
    """Creates with a StatusCallback (2 callbacks each), then wait for the backlog to drain."""
    _post(sim_port, "/_sim/reset")
    cpu_before = _get(sim_port, "/_sim/stats")["process_cpu_s"]
    callback = f"http://127.0.0.1:{receiver_port}/status"
    peak = [0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.25):
            peak[0] = max(peak[0], _get(sim_port, "/_sim/stats")["callbacks_pending"])

    watcher = threading.Thread(target=watch)
    watcher.start()
    created, elapsed, at_end = _load(ctx, sim_port, clients, seconds, callback, rate)
    stop.set()
    watcher.join()
    waited = time.perf_counter()
    while _get(sim_port, "/_sim/stats")["callbacks_pending"]:
        time.sleep(0.01)
    stats = _get(sim_port, "/_sim/stats")
    label = f"at {rate:,.0f}/s offered" if rate else "flat out"
    print(
        f"creates with callbacks ({label}): {created:8,.0f} /s; "
        f"{at_end['callbacks_sent'] / elapsed:,.0f} callbacks/s during load, "
        f"peak backlog {peak[0]:,}, backlog at end {at_end['callbacks_pending']:,} "
        f"(drained in {time.perf_counter() - waited:.2f}s), "
        f"{stats['callbacks_sent']:,} sent, {stats['callbacks_failed']} failed; simulator CPU "
        f"{(stats['process_cpu_s'] - cpu_before) / stats['accepted'] * 1e6:.0f} us per message "
        f"(create + 2 callbacks)"
    )


def _sdk(port: int, threads: int, seconds: float) -> float:
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    counts = [0] * threads

    def work(i: int) -> None:
        http_client = TwilioHttpClient(timeout=10)
        client = Client(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, http_client=http_client)
        client.api.base_url = f"http://127.0.0.1:{port}"
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            client.messages.create(
                to=f"+4791{i:02d}{counts[i]:04d}", from_="+4759440000", body="hello"
            )
            counts[i] += 1
        http_client.session.close()

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m alerting.simulator.bench")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--rate", type=float, default=1500.0, help="offered creates/s for the paced callback run"
    )
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    ports = ctx.Queue()
    sim = ctx.Process(target=_simulator, args=(ports,), daemon=True)
    receiver = ctx.Process(target=_receiver, args=(ports,), daemon=True)
    sim.start()
    sim_port = ports.get(timeout=30)
    receiver.start()
    receiver_port = ports.get(timeout=30)
    try:
        before = _get(sim_port, "/_sim/stats")["process_cpu_s"]
        rate, _, after = _load(ctx, sim_port, args.clients, args.seconds)
        cpu_us = (after["process_cpu_s"] - before) / after["accepted"] * 1e6
        print(
            f"creates, no callbacks: {rate:8,.0f} /s  ({args.clients} client processes; "
            f"simulator CPU {cpu_us:.0f} us per create)"
        )
        _callbacks(ctx, sim_port, receiver_port, args.clients, args.seconds, args.rate)
        _callbacks(ctx, sim_port, receiver_port, args.clients, args.seconds, 0.0)
        _post(sim_port, "/_sim/reset")
        rate = _sdk(sim_port, args.clients, min(args.seconds, 3.0))
        print(f"creates via twilio SDK: {rate:8,.0f} /s  ({args.clients} threads, one process)")
    finally:
        sim.terminate()
        receiver.terminate()
        sim.join()
        receiver.join()


if __name__ == "__main__":
    main()
