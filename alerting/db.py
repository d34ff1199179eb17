"""Engine and sessions: one engine per app, one session per request or job."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from sqlalchemy import Engine, Insert, Table, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """Accept the usual postgres:// spellings and use psycopg 3 for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        # psycopg would switch to server-side prepared generic plans after 5 runs; see DESIGN.md
        kwargs["connect_args"] = {"prepare_threshold": None}
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "connect", _sqlite_unicode_lower)
    return engine


def _sqlite_unicode_lower(dbapi_connection: Any, _record: Any) -> None:
    """SQLite's lower() folds ASCII only, PostgreSQL's every letter: make them agree, so that
    case-insensitive searches (ILIKE is lower() LIKE lower()) find "Øvre" when typed "øvre"."""
    dbapi_connection.create_function(
        "lower", 1, lambda v: v.lower() if isinstance(v, str) else v, deterministic=True
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the web app read while a worker writes; foreign keys are off by default."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def db() -> Session:
    """The session of the current app context, closed when the context ends."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["alerting.sessionmaker"]()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def insert_ignore(session: Session, table: Table, conflict: list[str]) -> Insert:
    """INSERT ... ON CONFLICT (`conflict`) DO NOTHING: a race or a replay inserts nothing and
    raises nothing (both SQLite and PostgreSQL speak it)."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(table).on_conflict_do_nothing(index_elements=conflict)
    return sqlite_insert(table).on_conflict_do_nothing(index_elements=conflict)
