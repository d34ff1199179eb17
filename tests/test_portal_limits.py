"""Sign-in codes: hashed, short-lived, few attempts, and limited per number, IP and in total."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from alerting.models import VerificationCode, utcnow
from alerting.portal.codes import Check, check_code, issue_code
from alerting.portal.limits import record_code_request
from alerting.redis_conn import connect

PHONE = "+4791234567"


@pytest.fixture
def s(session):
    """The test session, closed afterwards so SQLite's write lock never outlives a test."""
    yield session
    session.rollback()
    session.close()


def test_codes_are_stored_hashed_and_work_once(s):
    code = issue_code(s, PHONE, "10.0.0.1", minutes=10)
    s.commit()
    row = s.scalar(select(VerificationCode))
    assert len(code) == 6 and code.isdigit()
    assert code not in row.code_hash and row.code_hash.startswith("$argon2")
    assert check_code(s, PHONE, code, max_attempts=5) is Check.OK
    assert check_code(s, PHONE, code, max_attempts=5) is Check.EXPIRED


def test_a_code_dies_after_five_wrong_attempts(s):
    code = issue_code(s, PHONE, "10.0.0.1", minutes=10)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    results = [check_code(s, PHONE, wrong, max_attempts=5) for _ in range(5)]
    assert results == [Check.WRONG] * 4 + [Check.EXHAUSTED]
    assert check_code(s, PHONE, code, max_attempts=5) is Check.EXPIRED


def test_an_expired_code_is_refused(s):
    code = issue_code(s, PHONE, "10.0.0.1", minutes=10)
    s.flush()
    row = s.scalar(select(VerificationCode))
    row.expires_at = utcnow() - timedelta(seconds=1)
    assert check_code(s, PHONE, code, max_attempts=5) is Check.EXPIRED


def test_a_new_code_replaces_the_old_one(s):
    old = issue_code(s, PHONE, "10.0.0.1", minutes=10)
    new = issue_code(s, PHONE, "10.0.0.1", minutes=10)
    if old != new:
        assert check_code(s, PHONE, old, max_attempts=5) is Check.WRONG
    assert check_code(s, PHONE, new, max_attempts=5) is Check.OK


def test_limits_per_number_per_ip_and_in_total(settings):
    conn = connect(settings.redis_url)
    conn.flushdb()

    def ask(phone: str, ip: str, now: float):
        return record_code_request(
            conn, phone, ip, per_number=3, per_ip=5, total=8, now=now, secret="k"
        )

    assert [ask(PHONE, f"10.0.0.{i}", 1000.0) for i in range(3)] == [None] * 3
    assert ask(PHONE, "10.0.0.9", 1001.0).scope == "number"
    assert [ask(f"+479000000{i}", "10.0.1.1", 1002.0) for i in range(5)] == [None] * 5
    assert ask("+4790000009", "10.0.1.1", 1003.0).scope == "ip"
    assert ask("+4790000010", "10.0.2.1", 1004.0).scope == "total"
    # a refused request is not counted, and the window rolls after an hour
    assert ask("+4790000011", "10.0.4.1", 1005.0 + 3600) is None
    conn.flushdb()


def test_limit_keys_do_not_hold_phone_numbers(settings):
    conn = connect(settings.redis_url)
    conn.flushdb()
    record_code_request(conn, PHONE, "10.0.0.1", 3, 10, 200, secret="k")
    keys = [k.decode() for k in conn.keys("alerting:signin:*")]
    assert len(keys) == 3 and not any("4791234567" in k or "10.0.0.1" in k for k in keys)
    conn.flushdb()
