"""The compose page's template texts, filled on the server so dates follow each reader's language.

The page posts the chosen template, the area name and the start/end inputs (wall-clock time in
TIMEZONE) whenever one changes, and gets one text per language the template has (the one in
DEFAULT_LANGUAGE as "default"). Errors are 422 with a short code and a translated detail.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import jsonify, request
from flask_babel import gettext as _

from alerting import current
from alerting.alerts import MAX_AREA_NAME
from alerting.auth import require_role
from alerting.sms_dates import parse_local
from alerting.staff import bp
from alerting.templates_text import TEMPLATES, template_texts


def _refused(error: str, detail: str):
    return jsonify(error=error, detail=detail), 422


@bp.post("/alerts/template-texts.json")
@require_role("operator")
def template_texts_json():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _refused("invalid request", 'send {"template": "...", "area": "...", ...}')
    key = body.get("template")
    if not isinstance(key, str) or key not in TEMPLATES:
        return _refused("unknown template", _("Choose one of the templates in the list."))
    area = body.get("area") or ""
    if not isinstance(area, str) or len(area) > MAX_AREA_NAME:
        return _refused("invalid area name", _("At most %(n)d characters.", n=MAX_AREA_NAME))
    settings = current.settings()
    zone = ZoneInfo(settings.timezone)
    times = {}
    for name in ("start", "end"):
        value = body.get(name) or ""
        try:
            if not isinstance(value, str):
                raise ValueError
            times[name] = parse_local(value, zone)
        except (ValueError, OverflowError):
            return _refused("invalid time", _("Write the start and end as YYYY-MM-DD HH:MM."))
    texts = template_texts(
        key,
        area=area.strip(),
        start=times["start"],
        end=times["end"],
        default_language=settings.default_language,
        zone=zone,
    )
    return jsonify(texts=texts)
