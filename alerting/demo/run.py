"""`alerting demo`: migrate, seed, make a login, start the simulator and a worker, serve the app."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from urllib.parse import urlparse

import click
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import WSGIRequestHandler, make_server

from alerting import ROOT, create_app, current
from alerting.auth import hash_password
from alerting.db import db
from alerting.migrate import upgrade
from alerting.models import Resident, StaffUser
from alerting.redis_conn import stop_embedded
from alerting.register_import import import_bytes

DEMO_ADMIN = "admin@demo.alerting"
# evacuations wait for a second person's approval: the demo has one to give it
DEMO_APPROVER = "approver@demo.alerting"
DEMO_CALLS = {
    "call_busy_share": 0.15,
    "call_no_answer_share": 0.1,
    "call_press_share": 0.7,
    "call_seconds": 6.0,
}


def prepare(app: Flask, residents: int) -> str:
    """Schema, register and a fresh password for the admin and the approver (a coordinator);
    returns the password to print."""
    upgrade(app.extensions["alerting.engine"])
    session = db()
    if not session.scalar(select(func.count()).select_from(Resident)):
        from alerting.demo.register import demo_register_csv

        click.echo(f"seeding a demo register of {residents:,} residents around Bergen ...")
        settings = current.settings()
        report = import_bytes(
            session,
            "demo.csv",
            demo_register_csv(residents).encode(),
            "NO",
            settings.default_language,
        )
        click.echo(f"  {report.summary()}")
    password = secrets.token_urlsafe(9)
    for email, role in ((DEMO_ADMIN, "admin"), (DEMO_APPROVER, "coordinator")):
        user = session.scalar(select(StaffUser).where(StaffUser.email == email))
        if user is None:
            user = StaffUser(email=email, role=role, password_hash="")
            session.add(user)
        user.password_hash = hash_password(password)
        user.failed_logins = 0
        user.locked_until = None
    session.commit()
    return password


def start_worker(app: Flask) -> subprocess.Popen:
    """One RQ worker process on the same database, Redis and settings as the app."""
    settings = current.settings()
    env = dict(
        os.environ,
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        ALERTING_INSTANCE=app.instance_path,
        PUBLIC_URL=settings.public_url,
        SMS_PROVIDER=settings.sms_provider,
        SIMULATOR_URL=settings.simulator_url,
        TWILIO_ACCOUNT_SID=settings.twilio_account_sid,
        TWILIO_AUTH_TOKEN=settings.twilio_auth_token,
    )
    return subprocess.Popen([sys.executable, str(ROOT / "worker.py")], env=env)


def start_simulator(settings):
    """The Twilio-compatible simulator in a thread, on SIMULATOR_URL's port."""
    from alerting.simulator import SimulatorConfig, start_in_thread

    url = urlparse(settings.simulator_url)
    # the demo's landlines: some busy or not answering (tried again), most confirming with 1
    calls = {k: v for k, v in DEMO_CALLS.items() if not os.environ.get("SIM_" + k.upper())}
    config = SimulatorConfig.from_env().updated(
        {
            "account_sid": settings.twilio_account_sid,
            "auth_token": settings.twilio_auth_token,
            "inbound_url": f"{settings.public_url}/webhooks/twilio/inbound",
            "vonage_inbound_url": f"{settings.public_url}/webhooks/vonage/inbound",
            "callback_delay_ms": 300.0,
            **calls,
        }
    )
    return start_in_thread(config, host=url.hostname or "127.0.0.1", port=url.port or 8099)


def _stop(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


class _QuietRequestHandler(WSGIRequestHandler):
    """Logs no requests, so the login line stays on screen (`--log-requests` keeps them)."""

    def log_request(self, *_args: object) -> None:
        pass


def run(port: int, residents: int, log_requests: bool = False) -> None:
    """Everything in one command: schema, register, login, simulator, worker, web app."""
    os.environ.setdefault("PUBLIC_URL", f"http://127.0.0.1:{port}")
    app = create_app()
    with app.app_context():
        password = prepare(app, residents)
        settings = current.settings()
        simulator = None
        if settings.sms_provider == "simulator":
            simulator = start_simulator(settings)
        worker = start_worker(app)
    handler = WSGIRequestHandler if log_requests else _QuietRequestHandler
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=handler)
    # SIGTERM (and a closed terminal) must unwind like Ctrl-C, or the worker and the embedded
    # Redis outlive the demo
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    click.echo("")
    click.echo(f"  staff         {settings.public_url}/")
    click.echo(f"  residents     {settings.public_url}/me   (sign up with a phone number)")
    click.echo(f"  public map    {settings.public_url}/public   (current alerts, for anyone)")
    if simulator is not None:
        click.echo(f"  SMS phones    {simulator.url}/   (what each phone received, and the calls)")
    click.echo(f"  login         {DEMO_ADMIN} / {password}")
    click.echo(f"  approver      {DEMO_APPROVER} / {password}   (approves evacuations)")
    click.echo("  Ctrl-C stops the app, the worker, the simulator and the embedded Redis.")
    click.echo("")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        worker.terminate()
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
        if simulator is not None:
            simulator.shutdown()
        stop_embedded()
