"""Area preview: who an area reaches, before anything is sent."""

from __future__ import annotations

from flask import jsonify, request

from alerting import current
from alerting.api import bp
from alerting.areas import AreaError, parse_area
from alerting.auth import principal, require_role
from alerting.bounded_json import request_object
from alerting.db import db


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


@bp.post("/areas/import")
@require_role("operator", api=True)
def import_file():
    """Save the areas of a GIS file, one per feature (multipart/form-data).

    Fields: `file` (GeoJSON, zipped Shapefile with its .prj, GeoPackage, KML or KMZ), and
    optionally `crs` (e.g. EPSG:25833, only for a file that declares none), `name_field`
    (the attribute naming the areas), `library` and `replace` ("1": update saved areas of the
    same name, each a new version). 201 with {"library", "created": [{"id", "name"}],
    "updated": [{"id", "name", "version"}], "refused": [{"feature", "name", "reason"}]} when at
    least one area was saved; 422 with {"error", "detail"} (and "refused") otherwise."""
    from alerting.area_files import save_areas

    upload = request.files.get("file")
    if upload is None:
        raise AreaError("missing file", "send the GIS file as the multipart field `file`")
    settings = current.settings()
    report = save_areas(
        db(),
        principal(),
        upload.read(),
        upload.filename or "upload",
        crs=request.form.get("crs") or None,
        name_by=request.form.get("name_field") or None,
        library=request.form.get("library") or None,
        replace=request.form.get("replace", "") in ("1", "true", "on"),
        max_area_km2=settings.max_area_km2,
        max_vertices=settings.max_area_vertices,
    )
    db().commit()
    if not (report.created or report.updated):
        first = report.refused[0] if report.refused else (0, "", "")
        return jsonify(
            error="nothing imported", detail=f"feature {first[0]}: {first[2]}", **report.as_dict()
        ), 422
    return jsonify(report.as_dict()), 201
