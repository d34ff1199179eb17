"""A resident's places: pick an address from the register by typing, or click on the map."""

from __future__ import annotations

import math

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from alerting import current
from alerting.address_search import find_addresses
from alerting.db import db
from alerting.models import LOCATION_LABELS, Location
from alerting.portal import bp
from alerting.portal.residents import current_resident, household, require_resident

SEARCH_LIMIT = 8
DEFAULT_CENTRE = (60.3913, 5.3221)  # Bergen, until the register says otherwise


def label_names() -> dict[str, str]:
    return {"home": _("Home"), "cabin": _("Cabin"), "work": _("Work"), "other": _("Other")}


def _my_places() -> list[Location]:
    resident = current_resident()
    assert resident is not None
    places: list[Location] = []
    for member in household(db(), resident.phone):
        places.extend(member.locations)
    return places


def _my_place(location_id: int) -> Location:
    for place in _my_places():
        if place.id == location_id:
            return place
    abort(404)


def _map_centre(places: list[Location]) -> tuple[float, float]:
    if places:
        return places[0].lat, places[0].lon
    row = db().execute(select(func.avg(Location.lat), func.avg(Location.lon))).first()
    if row and row[0] is not None:
        return float(row[0]), float(row[1])
    return DEFAULT_CENTRE


def _places_page(mine: list[Location]) -> str:
    labels = label_names()
    return render_template(
        "portal/places.html",
        places=mine,
        places_json=[
            {
                "lat": p.lat,
                "lon": p.lon,
                "label": labels.get(p.label, p.label),
                "address": p.address,
            }
            for p in mine
        ],
        labels=labels,
        centre=_map_centre(mine),
        tile_url=current.settings().tile_url,
    )


@bp.get("/places")
@require_resident
def places() -> str:
    mine = _my_places()
    return _places_page(mine)


def _coordinate(name: str, low: float, high: float) -> float | None:
    try:
        value = float(request.form.get(name, ""))
    except ValueError:
        return None
    return value if math.isfinite(value) and low <= value <= high else None


@bp.post("/places")
@require_resident
def add_place() -> Response | tuple[str, int]:
    resident = current_resident()
    assert resident is not None
    label = request.form.get("label", "home")
    lat = _coordinate("lat", -90, 90)
    lon = _coordinate("lon", -180, 180)
    if label not in LOCATION_LABELS or lat is None or lon is None:
        flash(_("Choose an address or click on the map, and a label."), "error")
        return _places_page(_my_places()), 422
    address = request.form.get("address", "").strip()[:300]
    s = db()
    owner = household(s, resident.phone)[0]
    owner.locations.append(Location(label=label, lat=lat, lon=lon, address=address))
    s.commit()
    flash(_("Place added."), "info")
    return redirect(url_for("portal.places"))


@bp.post("/places/<int:location_id>/label")
@require_resident
def relabel_place(location_id: int) -> Response:
    place = _my_place(location_id)
    label = request.form.get("label", "")
    if label in LOCATION_LABELS:
        place.label = label
        db().commit()
        flash(_("Place saved."), "info")
    return redirect(url_for("portal.places"))


@bp.post("/places/<int:location_id>/delete")
@require_resident
def remove_place(location_id: int) -> Response:
    place = _my_place(location_id)
    s = db()
    s.delete(place)
    s.commit()
    flash(_("Place removed."), "info")
    return redirect(url_for("portal.places"))


@bp.get("/addresses")
@require_resident
def search_addresses() -> Response:
    """Addresses from the register matching `q`: address text and position only, never people."""
    found = find_addresses(db(), request.args.get("q", ""), SEARCH_LIMIT)
    return jsonify([a.as_dict() for a in found])
