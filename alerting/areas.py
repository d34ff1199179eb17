"""Turn GeoJSON (or a circle) into one validated area; refuse, never repair, what is wrong."""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

import numpy as np
import shapely
from pyproj import Geod
from shapely.affinity import translate
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.validation import explain_validity

from alerting.bounded_json import JSONInputError, loads

_GEOD = Geod(ellps="WGS84")
CIRCLE_VERTICES = 72
MAX_RADIUS_M = 200_000
MAX_NESTING = 8  # collections inside collections; GeoJSON itself needs at most 3 levels
_WORLD = box(-180, -90, 180, 90)


class AreaError(ValueError):
    """An area we refuse: `error` says what is wrong, `detail` where or how to fix it."""

    def __init__(self, error: str, detail: str = "") -> None:
        super().__init__(f"{error}: {detail}" if detail else error)
        self.error = error
        self.detail = detail

    def as_dict(self) -> dict[str, str]:
        return {"error": self.error, "detail": self.detail}


class _VertexBudget:
    """The vertices an area may still have. Rings are counted by their length before a position
    is read or a shape is built, so a million-vertex area costs no more than one at the limit."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0

    def take(self, count: int) -> None:
        self.used += count
        if self.limit is not None and self.used > self.limit:
            raise AreaError(
                "too many vertices",
                f"the area has more than {self.limit:,} vertices (MAX_AREA_VERTICES); "
                "simplify its outline or split the alert",
            )


def parse_area(
    data: str | bytes | dict[str, Any],
    max_area_km2: float | None = None,
    max_vertices: int | None = None,
):
    """Validate GeoJSON text or an already-decoded object; return a Polygon or MultiPolygon.

    The limits are for areas coming in (MAX_AREA_KM2, MAX_AREA_VERTICES); an area stored with an
    alert passed them when it came in and is re-read without them."""
    if isinstance(data, str | bytes):
        try:
            data = loads(data)
        except JSONInputError as exc:
            raise AreaError(exc.error, exc.detail) from None
    if not isinstance(data, dict):
        raise AreaError("not a GeoJSON object", 'expected an object with a "type" member')
    geometry = _area_of(data, "the area", _VertexBudget(max_vertices), 0)
    if max_area_km2 is not None:
        km2 = area_km2(geometry)
        if km2 > max_area_km2:
            raise AreaError(
                "area too large",
                f"{km2:,.0f} km² is more than the maximum of {max_area_km2:,.0f} km² "
                "(MAX_AREA_KM2); draw a smaller area or split the alert",
            )
    return geometry


def area_km2(geometry: Polygon | MultiPolygon) -> float:
    """Geodesic area on the WGS84 ellipsoid, in square kilometres."""
    area, _perimeter = _GEOD.geometry_area_perimeter(geometry)
    return abs(area) / 1e6


def _area_of(obj: Any, where: str, budget: _VertexBudget, depth: int):
    if depth > MAX_NESTING:
        raise AreaError(
            "nested too deep",
            f"{where} is inside more than {MAX_NESTING} collections; flatten the area",
        )
    if not isinstance(obj, dict) or "type" not in obj:
        raise AreaError("not a GeoJSON object", f'{where} has no "type" member')
    kind = obj["type"]
    if kind == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list) or not features:
            raise AreaError("empty area", "the FeatureCollection has no features")
        return _union(
            [_area_of(f, f"feature {i + 1}", budget, depth + 1) for i, f in enumerate(features)]
        )
    if kind == "Feature":
        geometry = obj.get("geometry")
        properties = obj.get("properties")
        if properties is None:
            properties = {}
        if not isinstance(properties, dict):
            raise AreaError(
                "invalid properties",
                f'{where}: properties must be an object (like {{"radius_m": 500}}) or null',
            )
        if isinstance(geometry, dict) and geometry.get("type") == "Point":
            if "radius_m" not in properties:
                raise AreaError(
                    "not an area", f"{where} is a Point; give properties.radius_m to make a circle"
                )
            budget.take(CIRCLE_VERTICES)
            return circle(geometry.get("coordinates"), properties["radius_m"], where)
        if geometry is None:
            raise AreaError("empty area", f"{where} has no geometry")
        return _area_of(geometry, where, budget, depth + 1)
    if kind == "GeometryCollection":
        geometries = obj.get("geometries")
        if not isinstance(geometries, list) or not geometries:
            raise AreaError("empty area", "the GeometryCollection has no geometries")
        return _union(
            [_area_of(g, f"geometry {i + 1}", budget, depth + 1) for i, g in enumerate(geometries)]
        )
    if kind == "Polygon":
        return _polygon(obj.get("coordinates"), where, budget)
    if kind == "MultiPolygon":
        coords = obj.get("coordinates")
        if not isinstance(coords, list) or not coords:
            raise AreaError("empty area", f"{where} is a MultiPolygon without polygons")
        polygons = [
            _polygon(c, f"{where}, polygon {i + 1}", budget, check=False)
            for i, c in enumerate(coords)
        ]
        return _checked(MultiPolygon(polygons), where)
    if kind == "Point":
        raise AreaError("not an area", f"{where} is a Point without a radius")
    raise AreaError("not an area", f"{where} is a {kind}; draw a Polygon, MultiPolygon or circle")


def _polygon(coords: Any, where: str, budget: _VertexBudget, check: bool = True) -> Polygon:
    if not isinstance(coords, list) or not coords:
        raise AreaError("empty area", f"{where} has no rings")
    rings = [_ring(ring, where, i, budget) for i, ring in enumerate(coords)]
    polygon = Polygon(rings[0], rings[1:])
    return _checked(polygon, where) if check else polygon


def _ring(ring: Any, where: str, index: int, budget: _VertexBudget) -> list[tuple[float, float]]:
    name = "outer ring" if index == 0 else f"hole {index}"
    if not isinstance(ring, list):
        raise AreaError("invalid coordinates", f"{where}, {name} is not a list of positions")
    budget.take(len(ring))
    points = [_position(p, f"{where}, {name}, position {i + 1}") for i, p in enumerate(ring)]
    if len(points) < 4:
        raise AreaError(
            "too few positions",
            f"{where}, {name} has {len(points)} positions; a ring needs at least 4 "
            "(3 corners and the first repeated at the end)",
        )
    if points[0] != points[-1]:
        raise AreaError(
            "ring not closed", f"{where}, {name} must end with its first position {points[0]}"
        )
    for (lon_a, _), (lon_b, _) in pairwise(points):
        if abs(lon_b - lon_a) > 180:
            raise AreaError(
                "crosses the antimeridian",
                f"{where}, {name} jumps from longitude {lon_a} to {lon_b}; split it into one "
                "polygon on each side of 180° (RFC 7946, 3.1.9)",
            )
    return points


def _position(p: Any, where: str) -> tuple[float, float]:
    if not isinstance(p, list | tuple) or len(p) < 2:
        raise AreaError("invalid coordinates", f"{where} is not a [longitude, latitude] pair")
    lon, lat = p[0], p[1]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lon, lat)):
        raise AreaError("invalid coordinates", f"{where} has non-numeric coordinates {p!r}")
    # comparisons, not float(): NaN fails them, and a 400-digit integer has no float
    if not -180 <= lon <= 180:
        raise AreaError("coordinates out of range", f"{where}: longitude {lon} is not in -180..180")
    if not -90 <= lat <= 90:
        raise AreaError("coordinates out of range", f"{where}: latitude {lat} is not in -90..90")
    return (float(lon), float(lat))


_SPOT = re.compile(r"\[(-?[\d.e+-]+) (-?[\d.e+-]+)\]")


def _checked(geometry, where: str):
    if geometry.is_empty:
        raise AreaError("empty area", f"{where} is empty")
    if geometry.convex_hull.area == 0:
        raise AreaError("empty area", f"{where} has no surface (all its corners are on a line)")
    if not geometry.is_valid:
        reason = explain_validity(geometry)
        spot = _SPOT.search(reason)
        text = reason.split("[")[0].strip()
        if spot:
            lon, lat = float(spot.group(1)), float(spot.group(2))
            text = f"{text} at {lon:.5f}, {lat:.5f}"
        raise AreaError(text.lower().capitalize(), f"{where}: fix the outline near that spot")
    return geometry


def _union(parts: list) -> Polygon | MultiPolygon:
    return shapely.union_all(parts)


def circle(center: Any, radius_m: Any, where: str = "the circle") -> Polygon | MultiPolygon:
    """A geodesic circle: vertices at radius_m metres on the ellipsoid, not a buffer in degrees.
    One that crosses the antimeridian is split there into two polygons, so it reaches what is
    inside on both sides and nothing on the far side of the world; one around a pole has no
    such outline and is refused."""
    lon, lat = _position(center, f"{where}, centre")
    if (
        not isinstance(radius_m, int | float)
        or isinstance(radius_m, bool)
        or not 0 < radius_m <= MAX_RADIUS_M  # NaN fails both comparisons
    ):
        raise AreaError(
            "invalid radius",
            f"{where}: radius_m must be a positive number of metres, at most {MAX_RADIUS_M}",
        )
    for pole in (90, -90):
        if _GEOD.inv(lon, lat, 0, pole)[2] <= radius_m:
            raise AreaError(
                "circle around a pole",
                f"{where} contains the {'North' if pole > 0 else 'South'} Pole; "
                "draw a polygon instead",
            )
    azimuths = [360.0 * i / CIRCLE_VERTICES for i in range(CIRCLE_VERTICES)]
    lons, lats, _ = _GEOD.fwd(
        [lon] * CIRCLE_VERTICES,
        [lat] * CIRCLE_VERTICES,
        azimuths,
        [float(radius_m)] * CIRCLE_VERTICES,
    )
    lons = np.unwrap(lons, period=360)  # continuous across ±180 (may leave -180..180)
    ring = list(zip(lons.tolist(), lats, strict=True))
    outline = Polygon(ring + ring[:1])
    if _WORLD.contains(outline):
        return _checked(outline, where)
    pieces = [translate(outline, xoff=shift).intersection(_WORLD) for shift in (-360, 0, 360)]
    return _checked(shapely.union_all([p for p in pieces if not p.is_empty]), where)


def to_geojson(geometry) -> dict[str, Any]:
    return shapely.geometry.mapping(geometry)
