"""The Twilio simulator, spoken to over real HTTP by the unmodified twilio SDK.

A tiny threaded HTTP server stands in for the app: it records the status callbacks and
inbound webhooks the simulator POSTs, so signatures and ordering are checked as Twilio's
receivers see them.
"""

from __future__ import annotations

import email.utils
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.error import HTTPError
from urllib.parse import parse_qsl, urlencode

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from alerting.simulator import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    ConfigError,
    SimulatorConfig,
    SimulatorServer,
    make_server,
    start_in_thread,
)

SENDER = "+4759440000"
PHONE = "+4790000001"
OTHER = "+4790000002"


# -- a receiving "app" ----------------------------------------------------------------------


@dataclass
class Posted:
    url: str
    headers: dict[str, str]
    params: dict[str, str]

    def signed_by(self, token: str) -> bool:
        signature = self.headers.get("X-Twilio-Signature", "")
        return RequestValidator(token).validate(self.url, self.params, signature)


class Receiver(ThreadingHTTPServer):
    """Records every POST; answers with `reply` (status, content type, body), or with the
    next of `script` while it lasts."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.posts: list[Posted] = []
        self.cond = threading.Condition()
        self.reply: tuple[int, str, bytes] = (200, "text/plain", b"")
        self.script: list[int] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def wait_for(self, count: int, path: str = "", timeout: float = 5.0) -> list[Posted]:
        """The first `count` posts to URLs containing `path`, waiting for them."""

        def matching() -> list[Posted]:
            return [p for p in self.posts if path in p.url]

        with self.cond:
            assert self.cond.wait_for(lambda: len(matching()) >= count, timeout), (
                f"only {len(matching())} of {count} posts to {path!r}: {self.posts}"
            )
            return matching()


class _ReceiverHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Receiver
    timeout = 10

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        posted = Posted(
            self.server.url(self.path),
            dict(self.headers.items()),
            dict(parse_qsl(body.decode(), keep_blank_values=True)),
        )
        with self.server.cond:
            status, ctype, payload = self.server.reply
            if self.server.script:
                status = self.server.script.pop(0)
            self.server.posts.append(posted)
            self.server.cond.notify_all()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def make_sim(receiver: Receiver) -> Iterator[Callable[..., SimulatorServer]]:
    """Start simulators (callbacks immediate, inbound to the receiver); all stopped after."""
    started: list[SimulatorServer] = []

    def make(**options: Any) -> SimulatorServer:
        options.setdefault("callback_delay_ms", 0)
        options.setdefault("inbound_url", receiver.url("/inbound"))
        server = start_in_thread(SimulatorConfig(**options))
        started.append(server)
        return server

    yield make
    for server in started:
        server.shutdown()


@pytest.fixture
def sim(make_sim: Callable[..., SimulatorServer]) -> SimulatorServer:
    return make_sim()


@pytest.fixture
def make_client() -> Iterator[Callable[..., Client]]:
    """twilio SDK clients pointed at a simulator (timeouts set, sessions closed after)."""
    http_clients: list[TwilioHttpClient] = []

    def make(
        server: SimulatorServer, sid: str = DEFAULT_ACCOUNT_SID, token: str = DEFAULT_AUTH_TOKEN
    ) -> Client:
        http_client = TwilioHttpClient(timeout=5)
        http_clients.append(http_client)
        client = Client(sid, token, http_client=http_client)
        client.api.base_url = server.url
        return client

    yield make
    for http_client in http_clients:
        assert http_client.session is not None
        http_client.session.close()


@pytest.fixture
def client(sim: SimulatorServer, make_client: Callable[..., Client]) -> Client:
    return make_client(sim)


def call(
    server: SimulatorServer, method: str, path: str, data: Any = None
) -> tuple[int, dict[str, str], Any]:
    """Plain HTTP to the simulator: (status, headers, decoded JSON or text)."""
    body = None
    headers = {}
    if isinstance(data, dict) and method == "POST":
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    elif isinstance(data, bytes):
        body = data
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(server.url + path, body, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status, raw, head = response.status, response.read(), dict(response.headers)
    except HTTPError as exc:
        with exc:
            status, raw, head = exc.code, exc.read(), dict(exc.headers)
    if head.get("Content-Type", "").startswith("application/json"):
        return status, head, json.loads(raw)
    return status, head, raw.decode()


def send(client: Client, to: str = PHONE, **kw: Any) -> Any:
    kw.setdefault("from_", SENDER)
    kw.setdefault("body", "Vannet stenges i Strandvegen 10:00–14:00.")
    return client.messages.create(to=to, **kw)


def wait_status(client: Client, sid: str, status: str, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        message = client.messages(sid).fetch()
        if message.status == status or time.monotonic() > deadline:
            return message
        time.sleep(0.01)


# -- the Messages API -------------------------------------------------------------------------


def test_create_answers_like_twilio(client: Client) -> None:
    message = send(client, body="Kokevarsel: kok vannet før bruk.")
    assert message.sid.startswith("SM") and len(message.sid) == 34
    int(message.sid[2:], 16)
    assert message.status == "queued"
    assert message.account_sid == DEFAULT_ACCOUNT_SID
    assert (message.to, message.from_) == (PHONE, SENDER)
    assert message.body == "Kokevarsel: kok vannet før bruk."
    assert message.direction == "outbound-api"
    assert message.num_segments == "1"
    assert message.price is None and message.error_code is None
    assert isinstance(message.date_created, datetime)
    assert message.uri == f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages/{message.sid}.json"

    fetched = wait_status(client, message.sid, "delivered")
    assert fetched.status == "delivered" and fetched.date_sent is not None
    assert [m.sid for m in client.messages.list(to=PHONE)] == [message.sid]


def test_list_filters_by_to_from_and_pages_newest_first(
    make_sim: Callable[..., SimulatorServer], make_client: Callable[..., Client]
) -> None:
    client = make_client(make_sim())
    mine = [send(client, body=f"n{i}").sid for i in range(7)]
    send(client, to=OTHER)
    send(client, from_="Other")
    listed = client.messages.list(to=PHONE, from_=SENDER, page_size=3)  # three pages
    assert [m.sid for m in listed] == mine[::-1]
    page = client.messages.page(to=PHONE, from_=SENDER, page_size=3)
    assert page.next_page_url and "PageToken=PA" in page.next_page_url
    assert [m.sid for m in page.next_page()] == mine[::-1][3:6]


def test_list_date_sent_filters_skip_messages_not_sent_yet(
    make_sim: Callable[..., SimulatorServer], make_client: Callable[..., Client]
) -> None:
    client = make_client(make_sim(outcomes={OTHER: "queued"}))  # OTHER's never leaves Twilio
    sent = send(client)
    waiting = send(client, to=OTHER)
    wait_status(client, sent.sid, "delivered")
    today = datetime.now(UTC)
    earlier = today - timedelta(hours=1)

    def sids(**filters: Any) -> set[str]:
        return {m.sid for m in client.messages.list(**filters)}

    assert sids() == {sent.sid, waiting.sid}
    assert sids(date_sent_after=earlier) == {sent.sid}  # the SDK's date-time form
    assert sids(date_sent_after=today + timedelta(hours=1)) == set()
    assert sids(date_sent_before=earlier) == set()
    assert sids(date_sent=today.strftime("%Y-%m-%d")) == {sent.sid}  # a day
    assert sids(date_sent_before=today.strftime("%Y-%m-%d")) == {sent.sid}  # on or before
    rfc = email.utils.format_datetime(earlier)  # Twilio's own format
    assert sids(date_sent_after=rfc, to=PHONE) == {sent.sid}
    with pytest.raises(TwilioException) as refused:  # what the SDK raises for a list page
        client.messages.list(date_sent_after="next tuesday")
    assert '"code": 20001' in str(refused.value)


def test_segments_count_gsm7_and_ucs2(client: Client) -> None:
    assert send(client, body="x" * 161).num_segments == "2"
    assert send(client, body="€" * 80).num_segments == "1"  # extension chars count twice
    assert send(client, body="Ж" * 71).num_segments == "2"  # UCS-2: 70 per single segment


def test_messaging_service_is_accepted_without_from(client: Client) -> None:
    service = "MG" + "a" * 32
    message = client.messages.create(to=PHONE, messaging_service_sid=service, body="hei")
    assert message.status == "accepted"
    assert message.from_ is None
    assert message.messaging_service_sid == service


def test_bad_credentials_are_20003(
    sim: SimulatorServer, make_client: Callable[..., Client]
) -> None:
    with pytest.raises(TwilioRestException) as err:
        send(make_client(sim, token="wrong-token"))
    assert (err.value.code, err.value.status) == (20003, 401)
    with pytest.raises(TwilioRestException) as err:
        send(make_client(sim, sid="AC" + "1" * 32))
    assert err.value.code == 20003


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"to": "12345"}, 21211),
        ({"to": "+47 900 00 001"}, 21211),
        ({"to": "+4733000000"}, 21614),  # listed as a landline
        ({"to": "+4790000666"}, 21610),  # listed as unsubscribed
        ({"to": "+4790000777"}, 21612),  # per-number API outcome
        ({"body": ""}, 21602),
        ({"from_": None}, 21603),
        ({"body": "x" * 1601}, 21617),
        ({"status_callback": "not a url"}, 21609),
    ],
)
def test_refusals_carry_twilio_codes(
    make_sim: Callable[..., SimulatorServer],
    make_client: Callable[..., Client],
    kwargs: dict[str, Any],
    code: int,
) -> None:
    sim = make_sim(
        landlines=["+4733000000"], unsubscribed=["+4790000666"], outcomes={"+4790000777": "21612"}
    )
    client = make_client(sim)
    args = {"to": PHONE, "from_": SENDER, "body": "hei", **kwargs}
    if args["from_"] is None:
        del args["from_"]
    with pytest.raises(TwilioRestException) as err:
        client.messages.create(**args)
    assert (err.value.code, err.value.status) == (code, 400)
    status, _, body = call(sim, "GET", "/_sim/stats")
    assert body["rejected"] == {str(code): 1}
    assert body["accepted"] == 0


def test_error_body_shape(sim: SimulatorServer) -> None:
    import base64

    auth = base64.b64encode(f"{DEFAULT_ACCOUNT_SID}:{DEFAULT_AUTH_TOKEN}".encode()).decode()
    request = urllib.request.Request(
        f"{sim.url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json",
        urlencode({"To": "nope", "From": SENDER, "Body": "x"}).encode(),
        {"Authorization": f"Basic {auth}"},
        method="POST",
    )
    with pytest.raises(HTTPError) as err:
        urllib.request.urlopen(request, timeout=5)
    with err.value as response:
        assert json.loads(response.read()) == {
            "code": 21211,
            "message": "The 'To' number nope is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400,
        }


def test_fetch_unknown_message_is_20404(client: Client) -> None:
    with pytest.raises(TwilioRestException) as err:
        client.messages("SM" + "0" * 32).fetch()
    assert (err.value.code, err.value.status) == (20404, 404)


# -- status callbacks -----------------------------------------------------------------------


def test_callbacks_sent_then_delivered_and_signed(client: Client, receiver: Receiver) -> None:
    url = receiver.url("/sms/status/42?attempt=1")
    message = send(client, status_callback=url)
    posts = receiver.wait_for(2, "/sms/status/42")
    assert [p.params["MessageStatus"] for p in posts] == ["sent", "delivered"]
    for post in posts:
        assert post.url == url
        assert post.params["MessageSid"] == post.params["SmsSid"] == message.sid
        assert post.params["SmsStatus"] == post.params["MessageStatus"]
        assert post.params["AccountSid"] == DEFAULT_ACCOUNT_SID
        assert (post.params["To"], post.params["From"]) == (PHONE, SENDER)
        assert post.params["ApiVersion"] == "2010-04-01"
        assert "ErrorCode" not in post.params
        assert post.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert post.headers["I-Twilio-Idempotency-Token"]
        assert post.signed_by(DEFAULT_AUTH_TOKEN)
    # sanity: the validator is not a rubber stamp
    forged = Posted(posts[0].url, {"X-Twilio-Signature": "Zm9yZ2Vk"}, posts[0].params)
    assert not forged.signed_by(DEFAULT_AUTH_TOKEN)
    assert not posts[0].signed_by("another-token")
    tampered = Posted(posts[0].url, posts[0].headers, {**posts[0].params, "MessageStatus": "x"})
    assert not tampered.signed_by(DEFAULT_AUTH_TOKEN)
    assert client.messages(message.sid).fetch().status == "delivered"


def test_failure_share_ends_undelivered_or_failed(
    make_sim: Callable[..., SimulatorServer], make_client: Callable[..., Client], receiver: Receiver
) -> None:
    client = make_client(make_sim(failure_rate=1.0, seed=3))
    for i in range(8):
        send(client, to=f"+47900001{i:02d}", status_callback=receiver.url(f"/s/{i}"))
    for i in range(8):
        posts = receiver.wait_for(1, f"/s/{i}")
        final = posts[-1] if posts[-1].params["MessageStatus"] != "sent" else None
        if final is None:
            posts = receiver.wait_for(2, f"/s/{i}")
            final = posts[-1]
        assert final.params["MessageStatus"] in ("undelivered", "failed")
        assert 30000 <= int(final.params["ErrorCode"]) < 31000
        if final.params["MessageStatus"] == "failed":
            assert len(posts) == 1  # never handed to a carrier: no `sent`
        else:
            assert [p.params["MessageStatus"] for p in posts] == ["sent", "undelivered"]


def test_seed_makes_outcomes_repeatable(
    make_sim: Callable[..., SimulatorServer], make_client: Callable[..., Client]
) -> None:
    runs = []
    for _ in range(2):
        client = make_client(make_sim(failure_rate=0.5, seed=42))
        sids = [send(client, to=f"+47911000{i:02d}").sid for i in range(20)]
        time.sleep(0.2)
        runs.append(
            [(m.status, m.error_code) for m in (client.messages(sid).fetch() for sid in sids)]
        )
    assert runs[0] == runs[1]
    assert {status for status, _ in runs[0]} >= {"delivered"}
    assert len({status for status, _ in runs[0]}) > 1


def test_per_number_outcome(
    make_sim: Callable[..., SimulatorServer], make_client: Callable[..., Client], receiver: Receiver
) -> None:
    client = make_client(make_sim(outcomes={OTHER: "undelivered:30005"}))
    message = send(client, to=OTHER, status_callback=receiver.url("/st"))
    posts = receiver.wait_for(2, "/st")
    assert [(p.params["MessageStatus"], p.params.get("ErrorCode")) for p in posts] == [
        ("sent", None),
        ("undelivered", "30005"),
    ]
    fetched = client.messages(message.sid).fetch()
    assert (fetched.status, fetched.error_code) == ("undelivered", 30005)
    assert fetched.error_message == "Unknown destination handset"


def test_duplicated_callbacks(
    make_sim: Callable[..., SimulatorServer], make_client: Callable[..., Client], receiver: Receiver
) -> None:
    client = make_client(make_sim(duplicate_rate=1.0))
    send(client, status_callback=receiver.url("/dup"))
    posts = receiver.wait_for(4, "/dup")
    assert [p.params["MessageStatus"] for p in posts] == ["sent", "sent", "delivered", "delivered"]
    assert (
        posts[0].headers["I-Twilio-Idempotency-Token"]
        == (posts[1].headers["I-Twilio-Idempotency-Token"])
    )
    assert all(p.signed_by(DEFAULT_AUTH_TOKEN) for p in posts)


def test_reordered_callbacks(
    make_sim: Callable[..., SimulatorServer], make_client: Callable[..., Client], receiver: Receiver
) -> None:
    client = make_client(make_sim(reorder_rate=1.0))
    message = send(client, status_callback=receiver.url("/re"))
    posts = receiver.wait_for(2, "/re")
    assert [p.params["MessageStatus"] for p in posts] == ["delivered", "sent"]
    assert client.messages(message.sid).fetch().status == "delivered"  # never moves back


def test_dropped_callbacks_still_deliver(
    make_sim: Callable[..., SimulatorServer], make_client: Callable[..., Client], receiver: Receiver
) -> None:
    sim = make_sim(drop_rate=1.0)
    client = make_client(sim)
    message = send(client, status_callback=receiver.url("/drop"))
    assert wait_status(client, message.sid, "delivered").status == "delivered"
    assert sim.stats()["callbacks_dropped"] == 2
    assert not [p for p in receiver.posts if "/drop" in p.url]


def test_callbacks_retried_then_given_up(
    make_sim: Callable[..., SimulatorServer], make_client: Callable[..., Client], receiver: Receiver
) -> None:
    sim = make_sim(callback_retries=2, callback_retry_ms=20)
    client = make_client(sim)
    receiver.script = [503]  # first POST fails, its retry succeeds
    send(client, status_callback=receiver.url("/retry"))
    posts = receiver.wait_for(3, "/retry")
    assert [p.params["MessageStatus"] for p in posts] == ["sent", "sent", "delivered"]

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/status"
        send(client, to=OTHER, status_callback=dead)
        deadline = time.monotonic() + 5
        while sim.stats()["callbacks_failed"] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    stats = sim.stats()
    assert stats["callbacks_failed"] == 2  # `sent` and `delivered`, each after 2 retries
    assert stats["callbacks_retried"] >= 5
    assert send(client).status == "queued"  # and the API is unaffected


def test_callback_delay_and_latency(
    make_sim: Callable[..., SimulatorServer], make_client: Callable[..., Client], receiver: Receiver
) -> None:
    client = make_client(make_sim(latency_ms=150, callback_delay_ms=100))
    start = time.monotonic()
    send(client, status_callback=receiver.url("/slow"))
    assert time.monotonic() - start >= 0.15
    posts = receiver.wait_for(2, "/slow")
    assert time.monotonic() - start >= 0.2  # two steps of 100 ms from arrival
    assert [p.params["MessageStatus"] for p in posts] == ["sent", "delivered"]


# -- rate limit -----------------------------------------------------------------------------


def test_rate_limit_429_and_no_window_over_cap(
    make_sim: Callable[..., SimulatorServer], make_client: Callable[..., Client]
) -> None:
    cap = 20
    sim = make_sim(mps=cap)
    refusals: list[TwilioRestException] = []
    accepted = [0]
    lock = threading.Lock()
    clients = [make_client(sim) for _ in range(3)]
    deadline = time.monotonic() + 1.3

    def hammer(client: Client, n: int) -> None:
        i = 0
        while time.monotonic() < deadline:
            i += 1
            try:
                send(client, to=f"+479{n}{i:07d}")
                with lock:
                    accepted[0] += 1
            except TwilioRestException as exc:
                with lock:
                    refusals.append(exc)

    threads = [threading.Thread(target=hammer, args=(c, n)) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    # meanwhile another sender is not held back by this one's cap
    assert send(make_client(sim), from_="+4759440001", to=OTHER).status == "queued"
    for t in threads:
        t.join()

    assert refusals and {(e.code, e.status) for e in refusals} == {(20429, 429)}
    assert cap <= accepted[0] <= 2 * cap + 1
    times = sorted(
        datetime.fromisoformat(m["created_at"]).timestamp()
        for m in sim.messages()
        if m["from"] == SENDER
    )
    assert len(times) == accepted[0]
    for i, t in enumerate(times):  # every closed one-second window starting at an arrival
        in_window = sum(1 for u in times[i:] if u - t <= 1.0)
        assert in_window <= cap

    # the raw answer carries Retry-After
    sim.configure(mps=1)
    body = urlencode({"To": PHONE, "From": "+4759440002", "Body": "x"}).encode()
    path = f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
    import base64

    auth = base64.b64encode(f"{DEFAULT_ACCOUNT_SID}:{DEFAULT_AUTH_TOKEN}".encode()).decode()
    answers = []
    for _ in range(2):
        request = urllib.request.Request(
            sim.url + path, body, {"Authorization": f"Basic {auth}"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                answers.append((response.status, None, None))
        except HTTPError as exc:
            with exc:
                answers.append((exc.code, exc.headers["Retry-After"], json.loads(exc.read())))
    assert answers[0][0] == 201
    status, retry_after, error = answers[1]
    assert status == 429 and int(retry_after) >= 1
    assert error["code"] == 20429 and error["status"] == 429
    assert sim.stats()["rate_limited"] == len(refusals) + 1


# -- inbound --------------------------------------------------------------------------------


def test_inbound_reaches_app_signed(sim: SimulatorServer, receiver: Receiver) -> None:
    receiver.reply = (200, "text/plain", b"thanks")
    status, _, answer = call(
        sim, "POST", "/_sim/inbound", {"from": PHONE, "to": SENDER, "body": "Er vannet trygt?"}
    )
    assert status == 200
    assert (answer["status"], answer["body"]) == (200, "thanks")
    [post] = receiver.wait_for(1, "/inbound")
    assert post.url == receiver.url("/inbound")
    params = post.params
    assert (params["From"], params["To"], params["Body"]) == (PHONE, SENDER, "Er vannet trygt?")
    assert params["MessageSid"] == params["SmsSid"] == answer["sid"]
    assert params["AccountSid"] == DEFAULT_ACCOUNT_SID
    assert (params["NumMedia"], params["SmsStatus"], params["FromCountry"]) == (
        "0",
        "received",
        "NO",
    )
    assert post.signed_by(DEFAULT_AUTH_TOKEN)


def test_inbound_accepts_form_and_reports_app_down(
    make_sim: Callable[..., SimulatorServer],
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        sim = make_sim(inbound_url=f"http://127.0.0.1:{closed.getsockname()[1]}/in")
        status, _, answer = call(
            sim,
            "POST",
            "/_sim/inbound",
            urlencode({"From": PHONE, "To": SENDER, "Body": "hi"}).encode(),
        )
    assert status == 502 and "failed" in answer["error"]
    assert sim.stats()["inbound_failed"] == 1


def test_stop_unsubscribes_and_start_resubscribes(
    sim: SimulatorServer, client: Client, receiver: Receiver
) -> None:
    send(client)
    status, _, _ = call(sim, "POST", "/_sim/inbound", {"from": PHONE, "body": " stop "})
    assert status == 200
    [post] = receiver.wait_for(1, "/inbound")
    assert post.params["To"] == SENDER  # defaulted to who last texted this phone
    with pytest.raises(TwilioRestException) as err:
        send(client)
    assert (err.value.code, err.value.status) == (21610, 400)
    assert send(client, to=OTHER).status == "queued"

    call(sim, "POST", "/_sim/inbound", {"from": PHONE, "to": SENDER, "body": "START"})
    assert send(client).status == "queued"


def test_twiml_reply_reaches_the_phone(sim: SimulatorServer, receiver: Receiver) -> None:
    receiver.reply = (
        200,
        "text/xml",
        b"<?xml version='1.0'?><Response><Message>Svar STOPP for a avslutte</Message></Response>",
    )
    _, _, answer = call(sim, "POST", "/_sim/inbound", {"from": PHONE, "to": SENDER, "body": "HELP"})
    assert len(answer["replies"]) == 1
    [reply] = sim.messages(to=PHONE)
    assert reply["body"] == "Svar STOPP for a avslutte"
    assert (reply["from"], reply["direction"]) == (SENDER, "outbound-reply")


# -- inspection and control -----------------------------------------------------------------


def test_sim_messages_filter_and_timestamps(sim: SimulatorServer, client: Client) -> None:
    first = send(client, body="one")
    send(client, to=OTHER, body="two")
    third = send(client, body="three")
    # an unencoded '+' in the query string decodes to a space: still understood
    status, _, mine = call(sim, "GET", f"/_sim/messages?to={PHONE}")
    assert status == 200
    assert [m["sid"] for m in mine] == [first.sid, third.sid]
    assert set(mine[0]) >= {"sid", "to", "from", "body", "status", "created_at"}
    assert mine[0]["body"] == "one" and mine[0]["from"] == SENDER
    created = [datetime.fromisoformat(m["created_at"]) for m in mine]
    assert created[0] < created[1] and created[0].utcoffset() is not None
    assert "." in mine[0]["created_at"]  # sub-second precision
    _, _, everything = call(sim, "GET", "/_sim/messages")
    assert len(everything) == 3
    _, _, last = call(sim, "GET", "/_sim/messages?limit=1")
    assert [m["sid"] for m in last] == [third.sid]


def test_config_endpoint_and_reset(sim: SimulatorServer, client: Client) -> None:
    status, _, config = call(sim, "POST", "/_sim/config", {"mps": 5, "landlines": [OTHER]})
    assert status == 200 and config["mps"] == 5 and config["landlines"] == [OTHER]
    assert "auth_token" not in config
    assert call(sim, "GET", "/_sim/config")[2]["mps"] == 5
    with pytest.raises(TwilioRestException) as err:
        send(client, to=OTHER)
    assert err.value.code == 21614

    assert call(sim, "POST", "/_sim/config", {"nope": 1})[0] == 400
    assert call(sim, "POST", "/_sim/config", {"failure_rate": 2})[0] == 400
    assert call(sim, "POST", "/_sim/config", {"outcomes": {PHONE: "bogus"}})[0] == 400

    send(client)
    assert call(sim, "POST", "/_sim/reset", {})[0] == 200
    assert sim.messages() == []
    assert call(sim, "GET", "/_sim/config")[2]["mps"] == 0  # back to startup options
    assert call(sim, "GET", "/_sim/stats")[2]["accepted"] == 0
    assert send(client, to=OTHER).status == "queued"


def test_stats_count_outcomes(sim: SimulatorServer, client: Client, receiver: Receiver) -> None:
    send(client, status_callback=receiver.url("/c"))
    with pytest.raises(TwilioRestException):
        send(client, to="bad")
    receiver.wait_for(2, "/c")
    deadline = time.monotonic() + 2
    while sim.stats()["callbacks_sent"] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    _, _, stats = call(sim, "GET", "/_sim/stats")
    assert stats["accepted"] == 1
    assert stats["rejected"] == {"21211": 1}
    assert stats["callbacks_sent"] == 2 and stats["callbacks_failed"] == 0
    assert stats["by_status"] == {"delivered": 1}


def test_phones_page_is_self_contained(sim: SimulatorServer) -> None:
    for path in ("/", "/_sim/phones"):
        status, headers, html = call(sim, "GET", path)
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert "<script>" in html and "/_sim/messages" in html and "setInterval" in html
        assert "http://" not in html and "https://" not in html and " src=" not in html


def test_unknown_sim_route_is_404(sim: SimulatorServer) -> None:
    assert call(sim, "GET", "/_sim/nothing")[0] == 404


def raw_exchange(server: SimulatorServer, data: bytes) -> bytes:
    """Send raw bytes, read everything the server answers until it closes the connection (the
    last request asks it to: a client's half-close ends the connection for aiohttp)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_http_pipelining_chunked_and_bad_requests(sim: SimulatorServer) -> None:
    health = b"GET /_sim/health HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /_sim/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = raw_exchange(sim, health + last)
    assert answer.count(b"HTTP/1.1 200 OK") == 2

    body = b'{"mps": 7}'
    chunked = (
        b"POST /_sim/config HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n0\r\n\r\n"
    )
    answer = raw_exchange(sim, chunked)
    assert answer.startswith(b"HTTP/1.1 200") and b'"mps": 7' in answer

    answer = raw_exchange(sim, b"GET /_sim/health HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200") and b"Connection: close" in answer

    assert raw_exchange(sim, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400")
    too_big = b"POST /_sim/config HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"
    assert raw_exchange(sim, too_big).startswith(b"HTTP/1.1 413")
    assert call(sim, "GET", "/_sim/health")[0] == 200  # still serving


# -- configuration --------------------------------------------------------------------------


def test_config_from_env() -> None:
    config = SimulatorConfig.from_env(
        {
            "TWILIO_ACCOUNT_SID": "AC" + "f" * 32,
            "TWILIO_AUTH_TOKEN": "secret",
            "SIM_MPS": "30",
            "SIM_LATENCY_MS": "12.5",
            "SIM_FAILURE_RATE": "0.1",
            "SIM_SEED": "9",
            "SIM_LANDLINES": "+4733000000, +4733000001",
            "SIM_UNSUBSCRIBED": "+4790000666",
            "SIM_OUTCOMES": "+4790000001=undelivered:30006,+4790000002=21610,+4790000003=failed",
            "SIM_INBOUND_URL": "http://127.0.0.1:5000/sms/inbound",
            "SIM_CALLBACK_DELAY_MS": "0",
        }
    )
    assert (config.account_sid, config.auth_token) == ("AC" + "f" * 32, "secret")
    assert (config.mps, config.latency_ms, config.failure_rate, config.seed) == (30, 12.5, 0.1, 9)
    assert config.landlines == {"+4733000000", "+4733000001"}
    assert config.unsubscribed == {"+4790000666"}
    assert config.outcomes["+4790000001"].error_code == 30006
    assert config.outcomes["+4790000002"].api_error == 21610
    assert config.outcomes["+4790000003"].final == "failed"
    assert config.inbound_url == "http://127.0.0.1:5000/sms/inbound"
    assert config.callback_delay_ms == 0

    defaults = SimulatorConfig.from_env({})
    assert defaults.account_sid == DEFAULT_ACCOUNT_SID
    assert DEFAULT_ACCOUNT_SID.startswith("AC") and len(DEFAULT_ACCOUNT_SID) == 34
    assert defaults.auth_token == DEFAULT_AUTH_TOKEN
    with pytest.raises(ConfigError):
        SimulatorConfig.from_env({"SIM_REORDER_RATE": "1.5"})


def test_make_server_serve_forever_and_shutdown() -> None:
    server = make_server("127.0.0.1", 0, SimulatorConfig())
    assert server.port > 0
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        with urllib.request.urlopen(server.url + "/_sim/health", timeout=5) as response:
            assert json.loads(response.read()) == {"ok": True}
    finally:
        server.shutdown()
        thread.join(5)
    assert not thread.is_alive()
    unused = make_server("127.0.0.1", 0, SimulatorConfig())
    unused.shutdown()  # never served: just closes the socket
    with pytest.raises(RuntimeError):
        unused.serve_forever()
