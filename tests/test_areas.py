"""Areas: what is accepted, and each refusal with a reason a person can act on."""

from __future__ import annotations

import json
import math

import pytest
from pyproj import Geod
from shapely.geometry import Point

from alerting.areas import AreaError, area_km2, parse_area

SQUARE = [[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]


def polygon(*rings):
    return {"type": "Polygon", "coordinates": list(rings)}


def feature(geometry, **properties):
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def test_polygon_feature_and_multipolygon_are_areas():
    assert parse_area(polygon(SQUARE)).geom_type == "Polygon"
    assert parse_area(feature(polygon(SQUARE))).geom_type == "Polygon"
    multi = {
        "type": "MultiPolygon",
        "coordinates": [[SQUARE], [[[p[0] + 1, p[1]] for p in SQUARE]]],
    }
    assert parse_area(multi).geom_type == "MultiPolygon"


def test_feature_collection_is_the_union_of_its_areas():
    shifted = [[x + 0.02, y] for x, y in SQUARE]  # overlaps the first square by half
    area = parse_area(
        {
            "type": "FeatureCollection",
            "features": [feature(polygon(SQUARE)), feature(polygon(shifted))],
        }
    )
    single = parse_area(polygon(SQUARE))
    assert area.area == pytest.approx(single.area * 1.5)


def test_polygon_with_a_hole_excludes_the_hole():
    hole = [[5.31, 60.385], [5.32, 60.385], [5.32, 60.39], [5.31, 60.39], [5.31, 60.385]]
    area = parse_area(json.dumps(polygon(SQUARE, hole)))
    assert not area.covers(Point(5.315, 60.387))
    assert area.covers(Point(5.335, 60.395))


def test_circle_is_geodesic_not_a_buffer_in_degrees():
    area = parse_area(feature({"type": "Point", "coordinates": [5.32, 60.39]}, radius_m=1000))
    geod = Geod(ellps="WGS84")
    for lon, lat in list(area.exterior.coords)[:-1]:
        _az, _baz, distance = geod.inv(5.32, 60.39, lon, lat)
        assert distance == pytest.approx(1000, abs=0.01)
    assert area_km2(area) == pytest.approx(3.1416, rel=0.01)


@pytest.mark.parametrize(
    ("given", "error", "detail"),
    [
        ("{not json", "invalid JSON", "line 1"),
        ({"type": "LineString", "coordinates": [[5, 60], [6, 61]]}, "not an area", "LineString"),
        ({"type": "Point", "coordinates": [5, 60]}, "not an area", "without a radius"),
        (feature({"type": "Point", "coordinates": [5, 60]}), "not an area", "radius_m"),
        (feature({"type": "Point", "coordinates": [5, 60]}, radius_m=-5), "invalid radius", ""),
        (polygon([[5, 60], [6, 60], [5, 60]]), "too few positions", "3 positions"),
        (polygon([[5, 60], [6, 60], [6, 61], [5, 61]]), "ring not closed", "first position"),
        (polygon([[5, 60], [6, 60], [6, 91], [5, 60]]), "coordinates out of range", "latitude 91"),
        (polygon([[5, 60], [186, 60], [6, 61], [5, 60]]), "coordinates out of range", "longitude"),
        (polygon([[5, 60], ["6", 60], [6, 61], [5, 60]]), "invalid coordinates", "non-numeric"),
        ({"type": "FeatureCollection", "features": []}, "empty area", "no features"),
        (polygon([[5, 60], [6, 60], [7, 60], [5, 60]]), "empty area", "on a line"),
        ({"type": "Polygon", "coordinates": []}, "empty area", "no rings"),
        ([1, 2], "not a GeoJSON object", ""),
    ],
)
def test_bad_areas_are_refused_with_a_reason(given, error, detail):
    with pytest.raises(AreaError) as caught:
        parse_area(given)
    assert caught.value.error == error
    assert detail in caught.value.detail


def test_self_intersection_is_refused_with_the_spot_never_repaired():
    bowtie = polygon([[5.0, 60.0], [6.0, 61.0], [6.0, 60.0], [5.0, 61.0], [5.0, 60.0]])
    with pytest.raises(AreaError) as caught:
        parse_area(bowtie)
    assert caught.value.error == "Self-intersection at 5.50000, 60.50000"


def test_an_area_larger_than_the_maximum_is_refused():
    big = polygon([[5, 60], [7, 60], [7, 62], [5, 62], [5, 60]])
    with pytest.raises(AreaError) as caught:
        parse_area(big, max_area_km2=5000)
    assert caught.value.error == "area too large"
    assert "MAX_AREA_KM2" in caught.value.detail
    assert parse_area(big, max_area_km2=100_000).geom_type == "Polygon"


def test_an_area_over_the_vertex_limit_is_refused_before_any_shape_is_built():
    ring = [[5.0 + i * 1e-7, 60.0] for i in range(1_000_000)] + [[5.0, 61.0], [5.0, 60.0]]
    ring[10] = "not a position"  # never read: the count alone refuses it
    with pytest.raises(AreaError) as caught:
        parse_area(polygon(ring), max_vertices=20_000)
    assert caught.value.error == "too many vertices"
    assert "20,000" in caught.value.detail and "MAX_AREA_VERTICES" in caught.value.detail


def test_the_vertex_limit_counts_every_ring_feature_and_circle():
    circles = [feature({"type": "Point", "coordinates": [5.32, 60.39]}, radius_m=100)] * 3
    collection = {"type": "FeatureCollection", "features": circles}
    assert parse_area(collection, max_vertices=72 * 3).geom_type == "Polygon"
    with pytest.raises(AreaError, match="too many vertices"):
        parse_area(collection, max_vertices=72 * 3 - 1)
    holes = polygon(SQUARE, *[[[5.31, 60.385], [5.32, 60.385], [5.32, 60.39], [5.31, 60.385]]] * 3)
    with pytest.raises(AreaError, match="too many vertices"):
        parse_area(holes, max_vertices=5 + 4 * 2)


def nest(depth: int) -> dict:
    area = polygon(SQUARE)
    for _ in range(depth):
        area = {"type": "GeometryCollection", "geometries": [area]}
    return area


def test_collections_nested_deeper_than_the_limit_are_refused_not_a_recursion_error():
    assert parse_area(nest(8)).geom_type == "Polygon"
    with pytest.raises(AreaError) as caught:
        parse_area(nest(5000))
    assert caught.value.error == "nested too deep"
    with pytest.raises(AreaError, match="nested too deep"):
        parse_area("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize(
    ("given", "error"),
    [
        (feature({"type": "Point", "coordinates": [5, 60]}, radius_m=math.nan), "invalid radius"),
        (feature({"type": "Point", "coordinates": [5, 60]}, radius_m=math.inf), "invalid radius"),
        (feature({"type": "Point", "coordinates": [5, 60]}, radius_m=10**400), "invalid radius"),
        (feature({"type": "Point", "coordinates": [math.nan, 60]}, radius_m=50), "out of range"),
        (polygon([[5, 60], [10**400, 60], [6, 61], [5, 60]]), "coordinates out of range"),
        (polygon([[5, 60], [6, math.nan], [6, 61], [5, 60]]), "coordinates out of range"),
        ({**feature(polygon(SQUARE)), "properties": [1, 2]}, "invalid properties"),
        ({**feature(polygon(SQUARE)), "properties": "radius_m"}, "invalid properties"),
        ('{"type": "Feature", "properties": {"radius_m": NaN}}', "not a number"),
    ],
    ids=[
        "NaN radius",
        "infinite radius",
        "400-digit radius",
        "NaN centre",
        "400-digit lon",
        "NaN lat",
        "properties list",
        "properties string",
        "NaN in JSON text",
    ],
)
def test_numbers_no_float_can_hold_are_refused_with_a_reason(given, error):
    with pytest.raises(AreaError) as caught:
        parse_area(given)
    assert error in caught.value.error
    assert caught.value.detail


def test_a_polygon_across_the_antimeridian_is_refused_with_how_to_split_it():
    ring = [[179.9, 65.0], [-179.9, 65.0], [-179.9, 65.1], [179.9, 65.1], [179.9, 65.0]]
    with pytest.raises(AreaError) as caught:
        parse_area(polygon(ring))
    assert caught.value.error == "crosses the antimeridian"
    assert "180°" in caught.value.detail
    east = [[179.9, 65.0], [180, 65.0], [180, 65.1], [179.9, 65.1], [179.9, 65.0]]
    west = [[-180, 65.0], [-179.9, 65.0], [-179.9, 65.1], [-180, 65.1], [-180, 65.0]]
    split = {"type": "MultiPolygon", "coordinates": [[east], [west]]}
    assert area_km2(parse_area(split)) == pytest.approx(2 * 0.1 * 111.3 * 0.1 * 47.1, rel=0.05)


def test_a_circle_across_the_antimeridian_is_split_there_and_keeps_its_size():
    area = parse_area(feature({"type": "Point", "coordinates": [179.95, 65.0]}, radius_m=10_000))
    assert area.geom_type == "MultiPolygon"
    assert area.covers(Point(179.96, 65.0)) and area.covers(Point(-179.97, 65.0))
    assert not area.covers(Point(5.32, 60.39))  # Bergen, on the far side of the world
    assert area_km2(area) == pytest.approx(math.pi * 100, rel=0.01)


def test_a_circle_around_a_pole_is_refused():
    with pytest.raises(AreaError) as caught:
        parse_area(feature({"type": "Point", "coordinates": [10, 89.5]}, radius_m=100_000))
    assert caught.value.error == "circle around a pole"
    assert "North Pole" in caught.value.detail
