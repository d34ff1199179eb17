"""The drill: everyone in the area, through the real provider client and rate limiter, to an
in-process simulator whatever SMS_PROVIDER says; it reports how long it took."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from stack import add_resident, configure

from alerting.models import AuditEvent, Message, OptOut

AREA = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}


def test_a_drill_reaches_everyone_in_the_area_at_the_rate_and_sends_no_real_sms(
    app, session, cli, tmp_path
):
    # twilio with a bogus base URL: had the drill used the configured provider, every send
    # would fail; it must reach its own simulator only
    configure(
        app, sms_provider="twilio", twilio_base_url="http://127.0.0.1:9", sms_rate_per_second=20.0
    )
    for i in range(40):
        add_resident(session, f"+479100{i:04d}", 5.32, 60.39, language="nb" if i % 2 else "en")
    add_resident(session, "+4791009999", 5.32, 60.39)
    session.add(OptOut(phone="+4791009999", source="sms"))
    add_resident(session, "+4791008888", 5.50, 60.50)  # outside
    session.commit()
    area = tmp_path / "area.geojson"
    area.write_text(json.dumps(AREA))

    result = cli("drill", "--area", area, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["recipients"] == 40 and report["opted_out"] == 1
    assert report["accepted"] == 40 and report["refused"] == 0
    assert report["rate"] == 20.0
    # 40 messages at 20/s: the last leaves about 2 s after the first, never much sooner
    assert 1.5 <= report["seconds"] <= 10.0
    assert report["achieved_per_second"] <= 21.0
    assert session.scalar(select(func.count()).select_from(Message)) == 0  # nothing stored
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "drill.run"))
    assert event.detail["accepted"] == 40

    text = cli("drill", "--area", area, "--rate", "100")
    assert text.exit_code == 0, text.output
    assert "40 recipients" in text.output and "at 100/s" in text.output


def test_a_drill_refuses_a_bad_area_or_rate(app, cli, tmp_path):
    area = tmp_path / "area.geojson"
    area.write_text('{"type": "Polygon", "coordinates": []}')
    result = cli("drill", "--area", area)
    assert result.exit_code != 0 and "Traceback" not in result.output
    area.write_text(json.dumps(AREA))
    assert "positive" in cli("drill", "--area", area, "--rate", "0").output
