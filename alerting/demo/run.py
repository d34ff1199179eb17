"""`alerting demo`: migrate, seed, make a login, start the simulator and a worker, serve the app."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import click
from flask import Flask
from sqlalchemy import func, select

from alerting import current
from alerting.auth import hash_password
from alerting.db import db
from alerting.migrate import upgrade
from alerting.models import Resident, StaffUser
from alerting.register_import import import_bytes

DEMO_ADMIN = "admin@demo.alerting"


def prepare(app: Flask, residents: int) -> str:
    """Schema, register and a fresh admin password; returns the password to print."""
    upgrade(app.extensions["alerting.engine"])
    session = db()
    if not session.scalar(select(func.count()).select_from(Resident)):
        from alerting.demo.register import demo_register_csv

        click.echo(f"seeding a demo register of {residents:,} residents around Bergen ...")
        settings = current.settings()
        report = import_bytes(
            session, "demo.csv", demo_register_csv(residents).encode(), "NO", settings.default_language
        )
        click.echo(f"  {report.summary()}")
    password = secrets.token_urlsafe(9)
    admin = session.scalar(select(StaffUser).where(StaffUser.email == DEMO_ADMIN))
    if admin is None:
        admin = StaffUser(email=DEMO_ADMIN, role="admin", password_hash="")
        session.add(admin)
    admin.password_hash = hash_password(password)
    admin.failed_logins = 0
    admin.locked_until = None
    session.commit()
    return password


def start_worker(app: Flask) -> subprocess.Popen:
    """One RQ worker process on the same database and Redis as the app."""
    settings = current.settings()
    env = dict(os.environ, DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url,
               ALERTING_INSTANCE=app.instance_path)
    return subprocess.Popen([sys.executable, "-m", "alerting.worker_main"], env=env)
