"""The areas page's upload: a GIS file's features as saved areas (alerting.area_files)."""

from __future__ import annotations

from flask import flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _

from alerting import current
from alerting.areas import AreaError, to_geojson
from alerting.auth import principal, require_role
from alerting.db import db
from alerting.staff import bp
from alerting.staff.areas import area_list

MAX_REFUSALS_SHOWN = 20  # the rest are in the count; a layer with more needs fixing in the GIS


@bp.post("/areas/read")
@require_role("operator")
def area_read():
    """The compose page's upload of a GIS file: its features in WGS84 as one FeatureCollection
    for the drawing (nothing is saved); the features the checks refuse are named, not drawn."""
    from alerting.area_files import read_features

    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return jsonify(error=_("Choose a GIS file to import.")), 422
    settings = current.settings()
    try:
        features, refused = read_features(
            upload.read(),
            upload.filename,
            crs=request.form.get("crs", "").strip() or None,
            max_area_km2=settings.max_area_km2,
            max_vertices=settings.max_area_vertices,
        )
    except AreaError as exc:
        return jsonify(error=exc.error, detail=exc.detail), 422
    if not features:
        _number, reason = refused[0]
        return jsonify(error=_("No area in the file could be used."), detail=reason), 422
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": to_geojson(f.geometry)}
            for f in features
        ],
    }
    return jsonify(area=collection, refused=[{"feature": n, "reason": r} for n, r in refused])


@bp.post("/areas/import")
@require_role("operator")
def area_import():
    from alerting.area_files import save_areas  # GDAL takes 0.25 s to load: only when used

    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a GIS file to import."), "error")
        return area_list(), 422
    settings = current.settings()
    s = db()
    try:
        report = save_areas(
            s,
            principal(),
            upload.read(),
            upload.filename,
            crs=request.form.get("crs", "").strip() or None,
            name_by=request.form.get("name_field", "").strip() or None,
            library=request.form.get("library", "").strip() or None,
            replace=request.form.get("replace") == "1",
            max_area_km2=settings.max_area_km2,
            max_vertices=settings.max_area_vertices,
        )
    except AreaError as exc:
        s.rollback()
        flash(_("The file was not imported: %(reason)s", reason=str(exc)), "error")
        return area_list(), 422
    s.commit()
    flash(
        _(
            "%(created)d areas saved, %(updated)d updated, %(refused)d refused.",
            created=len(report.created),
            updated=len(report.updated),
            refused=len(report.refused),
        ),
        "error" if report.refused else "info",
    )
    for number, name, reason in report.refused[:MAX_REFUSALS_SHOWN]:
        flash(
            _("Feature %(number)d %(name)s: %(reason)s", number=number, name=name, reason=reason),
            "error",
        )
    return redirect(url_for("staff.area_list"))
