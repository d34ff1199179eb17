"""Saved areas and the map's helpers: save the drawn area, list, delete, residents' points."""

from __future__ import annotations

import json

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from alerting import audit, current
from alerting.areas import AreaError, area_km2, parse_area, to_geojson
from alerting.auth import principal, require_role
from alerting.db import db
from alerting.models import Area
from alerting.staff import bp
from alerting.staff.forms import ActionForm

MAX_POINTS = 5000  # more than this is a cloud, not information; the counts say the rest


def _area_from_json():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "area" not in body:
        raise AreaError("missing area", 'send {"area": <GeoJSON>}')
    settings = current.settings()
    return body, parse_area(body["area"], settings.max_area_km2, settings.max_area_vertices)


@bp.errorhandler(AreaError)
def _area_refused(exc: AreaError):
    return jsonify(exc.as_dict()), 422


@bp.post("/map/points.json")
@require_role("viewer")
def area_points():
    """Where the residents inside are (no names, no phones), for the map when zoomed in."""
    _body, area = _area_from_json()
    points = current.register().target(area).points
    truncated = len(points) > MAX_POINTS
    if truncated:
        points = points[:: -(-len(points) // MAX_POINTS)]
    return jsonify(
        points=[[round(x, 6), round(y, 6)] for x, y in points.tolist()], truncated=truncated
    )


@bp.get("/areas")
@require_role("viewer")
def area_list():
    areas = db().scalars(select(Area).order_by(Area.name)).all()
    sizes = {}
    for a in areas:
        try:
            sizes[a.id] = area_km2(parse_area(a.geojson))
        except AreaError:
            sizes[a.id] = None
    return render_template("staff/areas.html", areas=areas, sizes=sizes, form=ActionForm())


@bp.get("/areas/<int:area_id>.geojson")
@require_role("viewer")
def area_geojson(area_id: int):
    area = db().get(Area, area_id) or abort(404)
    return area.geojson, 200, {"Content-Type": "application/geo+json"}


@bp.post("/areas")
@require_role("operator")
def area_save():
    """Save the drawn area under a name (JSON from the map); an existing name is replaced."""
    body, geometry = _area_from_json()
    name = str(body.get("name", "")).strip()[:200]
    if not name:
        raise AreaError("missing name", _("Give the area a name."))
    s = db()
    area = s.scalar(select(Area).where(Area.name == name))
    action = "area.update" if area else "area.create"
    if area is None:
        area = Area(name=name, geojson="", created_by=principal().audit_name)
        s.add(area)
    area.geojson = json.dumps(to_geojson(geometry))
    s.flush()
    audit.record(
        s, principal(), action, f"area:{area.id}", name=name, km2=round(area_km2(geometry), 3)
    )
    s.commit()
    return jsonify(id=area.id, name=area.name), 201 if action == "area.create" else 200


@bp.post("/areas/<int:area_id>/delete")
@require_role("operator")
def area_delete(area_id: int):
    ActionForm().validate_on_submit()
    s = db()
    area = s.get(Area, area_id) or abort(404)
    audit.record(s, principal(), "area.delete", f"area:{area.id}", name=area.name)
    s.delete(area)
    s.commit()
    flash(_("Area “%(name)s” deleted.", name=area.name), "info")
    return redirect(url_for("staff.area_list"))
