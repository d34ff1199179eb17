"""Area preview: who an area reaches, before anything is sent."""

from __future__ import annotations

from flask import jsonify

from alerting import current
from alerting.api import bp
from alerting.areas import AreaError, parse_area
from alerting.auth import require_role
from alerting.bounded_json import request_object


def area_from_request():
    """The `area` member of the JSON body, validated; AreaError (422) otherwise."""
    body = request_object('send a JSON object like {"area": <GeoJSON>}')
    if "area" not in body:
        raise AreaError("missing area", 'send {"area": <GeoJSON Polygon, Feature, ...>}')
    settings = current.settings()
    return parse_area(body["area"], settings.max_area_km2, settings.max_area_vertices)


@bp.post("/areas/preview")
@require_role("viewer", api=True)
def preview():
    area = area_from_request()
    target = current.register().target(area)
    return jsonify(
        **target.counts,
        languages=target.languages,
        bbox=[round(v, 6) for v in area.bounds],
    )
