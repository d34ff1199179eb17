"""Area preview: who an area reaches, before anything is sent; and GIS files as saved areas."""

from __future__ import annotations

from flask import jsonify

from alerting import current
from alerting.api import bp
from alerting.api.alerts import WRITE
from alerting.api.answer_models import ImportReport, Preview
from alerting.api.contract import operation
from alerting.api.request_models import AreaImport, AreaRequest
from alerting.areas import parse_area
from alerting.auth import principal, require_role
from alerting.db import db


def checked_area(body: AreaRequest):
    """The request's area, validated against the limits; AreaError (422) otherwise."""
    settings = current.settings()
    return parse_area(body.area, settings.max_area_km2, settings.max_area_vertices)


@bp.post("/areas/preview")
@require_role("viewer", api=True)
@operation(
    "Who an area reaches, before anything is sent",
    body=AreaRequest,
    ok={200: (Preview, "done")},
    errors=WRITE,
)
def preview(body: AreaRequest):
    area = checked_area(body)
    target = current.register().target(area)
    return jsonify(
        **target.counts,
        languages=target.languages,
        bbox=[round(v, 6) for v in area.bounds],
    )


@bp.post("/areas/import")
@require_role("operator", api=True)
@operation(
    "Save the areas of a GIS file, one per feature (a library)",
    description="GeoJSON, zipped Shapefile (with its .prj), GeoPackage, KML or KMZ, in the "
    "coordinate system the file declares (`crs` only for a file that declares none). 422 with "
    '{"error", "detail"} (and "refused") when no area was saved.',
    body=AreaImport,
    body_media="multipart/form-data",
    ok={201: (ImportReport, "at least one area saved; `refused` lists the features that were not")},
    errors=WRITE,
)
def import_file(body: AreaImport):
    """Save the areas of a GIS file, one per feature, as a library."""
    from alerting.area_files import save_areas

    settings = current.settings()
    report = save_areas(
        db(),
        principal(),
        body.file.read(),
        body.file.filename or "upload",
        crs=body.crs,
        name_by=body.name_field,
        library=body.library,
        replace=body.replace,
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
