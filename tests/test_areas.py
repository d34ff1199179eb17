"""Areas: what is accepted, and each refusal with a reason a person can act on."""

from __future__ import annotations

import json

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
