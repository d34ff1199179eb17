"""Plain helpers for the staff UI tests: make accounts, read CSRF tokens, sign in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy.orm import Session

from alerting.auth import create_staff_user

PASSWORD = "correct horse battery"


def make_staff(app: Flask, email: str, role: str, language: str = "en") -> None:
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        user = create_staff_user(s, email, role, PASSWORD)
        user.language = language
        s.commit()
        s.close()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client, email: str, password: str = PASSWORD):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@contextmanager
def db_session(app: Flask) -> Iterator[Session]:
    """A database session for a test's own checks, inside an app context of its own: a context
    held across client requests would share `g` between them (and with it a stale CSRF token)."""
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        try:
            yield s
        finally:
            s.close()
