"""Saved areas and the map's helpers: save the drawn area, list, delete, residents' points."""

from __future__ import annotations

import json

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from alerting import audit, current
from alerting.address_search import MAX_CHARS, MIN_CHARS, find_addresses, normalise
from alerting.areas import AreaError, area_km2, parse_area, to_geojson
from alerting.auth import principal, require_role
from alerting.db import db
from alerting.models import LIFE_SAFETY, Alert, Area, AreaVersion, utcnow
from alerting.staff import bp
from alerting.staff.forms import ActionForm, confirmed

MAX_POINTS = 5000  # more than this is a cloud, not information; the counts say the rest
SEARCH_LIMIT = 10  # addresses offered for one search: enough to choose, short enough to read


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


@bp.get("/map/search.json")
@require_role("viewer")
def map_search():
    """Addresses of the register matching `q`, to centre the map on (no names, no phones)."""
    q = normalise(request.args.get("q", ""))
    if not MIN_CHARS <= len(q) <= MAX_CHARS:
        detail = _(
            "Type between %(low)d and %(high)d characters of the address.",
            low=MIN_CHARS,
            high=MAX_CHARS,
        )
        return jsonify(error="bad search", detail=detail), 422
    found = find_addresses(db(), q, SEARCH_LIMIT, imported_only=False)
    return jsonify(addresses=[a.as_dict() for a in found])


@bp.get("/map/areas.geojson")
@require_role("viewer")
def saved_outlines():
    """Every saved area as one FeatureCollection, drawn faintly on the compose map to orient;
    each library is a layer there that can be shown or hidden."""
    features = []
    for area in db().scalars(select(Area).order_by(Area.name)):
        try:
            geometry = to_geojson(parse_area(area.geojson))
        except AreaError:
            continue  # an area that no longer parses is listed on the areas page, not drawn
        features.append(
            {
                "type": "Feature",
                # the library (a GIS layer it came from) makes a layer of its own on the map
                "properties": {"id": area.id, "name": area.name, "library": area.library},
                "geometry": geometry,
            }
        )
    return jsonify(type="FeatureCollection", features=features)


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


def _life_safety_refusal(area: Area) -> str | None:
    """Why the caller may not change `area`, or None. A saved area a life-safety alert used is
    where people were told to evacuate: only coordinators and admins may move or remove it."""
    if principal().has_role("coordinator"):
        return None
    used = db().scalar(
        select(Alert.id).where(Alert.area_id == area.id, Alert.category.in_(LIFE_SAFETY)).limit(1)
    )
    if used is None:
        return None
    return _("A life-safety alert used this area: only a coordinator may change or delete it.")


def _keep_version(area: Area) -> None:
    """Keep the area's current geometry as its version, so an alert's `area_version` always
    names the exact geometry it was sent to, however often the area changes later."""
    s = db()
    kept = s.scalar(
        select(AreaVersion.id).where(
            AreaVersion.area_id == area.id, AreaVersion.version == area.version
        )
    )
    if kept is None:
        s.add(
            AreaVersion(
                area_id=area.id,
                version=area.version,
                name=area.name,
                geojson=area.geojson,
                changed_by=area.updated_by or area.created_by,
                changed_at=area.updated_at or area.created_at,
            )
        )


@bp.post("/areas")
@require_role("operator")
def area_save():
    """Save the drawn area under a name (JSON from the map); an existing name gets a new version."""
    body, geometry = _area_from_json()
    name = str(body.get("name", "")).strip()[:200]
    if not name:
        raise AreaError("missing name", _("Give the area a name."))
    s = db()
    who = principal().audit_name
    area = s.scalar(select(Area).where(Area.name == name))
    action = "area.update" if area else "area.create"
    if area is None:
        area = Area(name=name, geojson="", created_by=who, version=0)
        s.add(area)
    elif refusal := _life_safety_refusal(area):
        return jsonify(error="forbidden", detail=refusal), 403
    else:
        _keep_version(area)  # areas saved before versions were kept have no row for theirs
    area.geojson = json.dumps(to_geojson(geometry))
    area.version = (area.version or 0) + 1
    area.updated_by, area.updated_at = who, utcnow()
    try:
        s.flush()
        _keep_version(area)
        s.flush()
    except IntegrityError:  # someone saved this name or version at the same moment
        s.rollback()
        return jsonify(error="conflict", detail=_("The area changed meanwhile; save again.")), 409
    audit.record(
        s,
        principal(),
        action,
        f"area:{area.id}",
        name=name,
        version=area.version,
        km2=round(area_km2(geometry), 3),
    )
    s.commit()
    return jsonify(id=area.id, name=area.name, version=area.version), (
        201 if action == "area.create" else 200
    )


@bp.post("/areas/<int:area_id>/delete")
@require_role("operator")
def area_delete(area_id: int):
    ActionForm().validate_on_submit()
    s = db()
    area = s.get(Area, area_id) or abort(404)
    if refusal := _life_safety_refusal(area):
        flash(refusal, "error")
        return area_list(), 403
    if not confirmed():
        flash(_("Confirm the deletion: the area was kept."), "error")
        return area_list(), 422
    audit.record(s, principal(), "area.delete", f"area:{area.id}", name=area.name)
    s.delete(area)
    s.commit()
    flash(_("Area “%(name)s” deleted.", name=area.name), "info")
    return redirect(url_for("staff.area_list"))
