"""Areas from GIS files: a Shapefile in UTM 33, a GeoPackage in SWEREF 99 TM and a KML reach the
same residents as the same area in GeoJSON; a file without a coordinate system is refused; a
layer of water-supply zones becomes a library of saved areas in one import; bad files get a
reason a person can act on. The files are made here with pyogrio, the library that reads them."""

from __future__ import annotations

import json
import warnings
import zipfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon, box, mapping
from sqlalchemy import select
from stack import add_resident
from staff_helpers import csrf_token, make_staff, sign_in

from alerting.models import Area, AreaVersion, AuditEvent

# a part of Stockholm; residents inside are well away from the edges, so a reprojected edge
# (straight in the file's grid, not in degrees) changes nobody's side
AREA = box(18.00, 59.30, 18.10, 59.36)
INSIDE = [(18.05, 59.33), (18.02, 59.31), (18.08, 59.35)]
OUTSIDE = [(18.15, 59.33), (17.95, 59.33), (18.05, 59.40)]
# four water-supply zones side by side (no resident near a shared edge), and their names
ZONES = [box(17.975 + 0.05 * i, 59.30, 18.025 + 0.05 * i, 59.36) for i in range(4)]
ZONE_NAMES = ["Vannverk Nord", "Vannverk Sør", "Vannverk Øst", "Vannverk Vest"]


def _in(crs: str, polygon: Polygon) -> Polygon:
    """The WGS84 polygon's corners in `crs` (what a GIS exports)."""
    t = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return shapely.transform(polygon, lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1])))


def write_layer(
    path: Path,
    driver: str,
    crs: str,
    polygons: list[Polygon],
    names: list[str],
    declare_crs: bool = True,
    name_field: str = "navn",
) -> Path:
    """A layer of `polygons` (given in WGS84) in `crs`, with a text and a number attribute."""
    wkb = np.array(shapely.to_wkb([_in(crs, p) for p in polygons]), dtype=object)
    with warnings.catch_warnings():
        if not declare_crs:  # pyogrio warns that the layer will have no CRS: that is the point
            warnings.simplefilter("ignore")
        pyogrio.raw.write(
            str(path),
            wkb,
            [np.array(names, dtype=object), np.arange(1, len(names) + 1, dtype=np.int32)],
            [name_field, "nummer"],
            driver=driver,
            geometry_type="Polygon",
            crs=crs if declare_crs else None,
            encoding="UTF-8" if driver == "ESRI Shapefile" else None,
        )
    return path


def zipped_shapefile(tmp: Path, crs: str, polygons: list[Polygon], names: list[str], **kw) -> Path:
    shp = write_layer(tmp / "soner.shp", "ESRI Shapefile", crs, polygons, names, **kw)
    archive = tmp / "soner.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in sorted(tmp.glob("soner.*")):
            if part != archive:
                z.write(part, part.name)
    assert shp.exists()
    return archive


def upload(client, key: str, path: Path, **fields: str):
    with path.open("rb") as f:
        return client.post(
            "/api/v1/areas/import",
            headers={"Authorization": f"Bearer {key}"},
            data={"file": (f, path.name), **fields},
            content_type="multipart/form-data",
        )


def preview(client, key: str, area: dict) -> dict:
    response = client.post(
        "/api/v1/areas/preview", headers={"Authorization": f"Bearer {key}"}, json={"area": area}
    )
    assert response.status_code == 200, response.json
    return response.json


@pytest.fixture
def residents(session):
    for i, (lon, lat) in enumerate(INSIDE + OUTSIDE):
        add_resident(session, f"+4791{i:06d}", lon, lat)
    session.commit()


def make_file(kind: str, tmp: Path) -> Path:
    if kind == "shapefile in EPSG:25833":
        return zipped_shapefile(tmp, "EPSG:25833", [AREA], ["Sentrum"])
    if kind == "GeoPackage in EPSG:3006":
        return write_layer(tmp / "omrade.gpkg", "GPKG", "EPSG:3006", [AREA], ["Sentrum"])
    return write_layer(
        tmp / "omrade.kml", "KML", "EPSG:4326", [AREA], ["Sentrum"], name_field="Name"
    )


@pytest.mark.parametrize(
    "kind", ["shapefile in EPSG:25833", "GeoPackage in EPSG:3006", "KML in WGS84", "KMZ in WGS84"]
)
def test_a_gis_file_reaches_the_same_residents_as_the_area_in_geojson(
    kind, client, api_key, session, residents, tmp_path
):
    response = upload(client, api_key, make_file(kind, tmp_path))
    assert response.status_code == 201, response.json
    assert [a["name"] for a in response.json["created"]] == ["Sentrum"]
    assert response.json["refused"] == []
    saved = session.scalar(select(Area).where(Area.name == "Sentrum"))
    from_file = preview(client, api_key, json.loads(saved.geojson))
    from_geojson = preview(client, api_key, mapping(AREA))
    assert from_file["residents"] == from_geojson["residents"] == len(INSIDE)
    assert from_file["phones"] == from_geojson["phones"]
    assert from_file["bbox"] == pytest.approx(from_geojson["bbox"], abs=1e-4)


def test_a_file_without_a_coordinate_system_is_refused_until_one_is_named(
    client, api_key, session, residents, tmp_path
):
    archive = zipped_shapefile(tmp_path, "EPSG:25833", [AREA], ["Sentrum"], declare_crs=False)
    assert not (tmp_path / "soner.prj").exists()
    refused = upload(client, api_key, archive)
    assert refused.status_code == 422
    assert refused.json["error"] == "no coordinate system"
    assert "declares no coordinate system; give --crs EPSG:25833" in refused.json["detail"]
    assert session.scalar(select(Area)) is None

    named = upload(client, api_key, archive, crs="EPSG:25833")
    assert named.status_code == 201, named.json
    saved = session.scalar(select(Area).where(Area.name == "Sentrum"))
    assert preview(client, api_key, json.loads(saved.geojson))["residents"] == len(INSIDE)


def test_a_named_crs_that_contradicts_the_file_or_is_unknown_is_refused(client, api_key, tmp_path):
    archive = zipped_shapefile(tmp_path, "EPSG:25833", [AREA], ["Sentrum"])
    other = upload(client, api_key, archive, crs="EPSG:25832")
    assert other.status_code == 422
    assert other.json == {
        "error": "conflicting coordinate systems",
        "detail": "the file declares EPSG:25833, not EPSG:25832; leave out --crs",
    }
    unknown = upload(client, api_key, archive, crs="EPSG:999999")
    assert unknown.status_code == 422
    assert unknown.json["error"] == "unknown coordinate system"


def test_water_supply_zones_become_a_library_of_saved_areas_from_the_command_line(
    cli, app, client, api_key, session, residents, tmp_path
):
    archive = zipped_shapefile(tmp_path, "EPSG:25833", ZONES, ZONE_NAMES)
    result = cli("areas", "import", archive, "--library", "Vannforsyningssoner")
    assert result.exit_code == 0, result.output
    assert "4 areas saved, 0 updated in library 'Vannforsyningssoner', 0 refused" in result.output
    areas = session.scalars(select(Area).order_by(Area.id)).all()
    assert [(a.name, a.library) for a in areas] == [(n, "Vannforsyningssoner") for n in ZONE_NAMES]
    # each zone reaches the residents inside it, as drawn in WGS84
    reached = [preview(client, api_key, json.loads(a.geojson))["residents"] for a in areas]
    assert reached == [preview(client, api_key, mapping(z))["residents"] for z in ZONES]
    assert all(reached)
    assert session.scalar(select(AreaVersion).where(AreaVersion.area_id == areas[0].id))
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "areas.import"))
    assert event.actor == "cli" and event.detail["created"] == 4

    make_staff(app, "viewer@example.org", "viewer")
    sign_in(client, "viewer@example.org")
    page = client.get("/areas").get_data(as_text=True)
    assert "<th>Library</th>" in page
    assert page.count("<td>Vannforsyningssoner</td>") == 4

    again = cli("areas", "import", archive)
    assert again.exit_code == 1
    assert "feature 1 Vannverk Nord: refused: an area of this name exists" in again.output
    assert "0 areas saved" in again.output


def test_a_new_export_of_the_zones_replaces_them_as_new_versions(
    cli, client, api_key, session, residents, tmp_path
):
    first = zipped_shapefile(tmp_path, "EPSG:25833", ZONES, ZONE_NAMES)
    assert cli("areas", "import", first).exit_code == 0
    (tmp_path / "new").mkdir()
    grown = [AREA, *ZONES[1:]]  # the northern zone now covers the whole of the centre
    second = zipped_shapefile(tmp_path / "new", "EPSG:25833", grown, ZONE_NAMES)
    result = cli("areas", "import", second, "--replace")
    assert result.exit_code == 0, result.output
    assert "0 areas saved, 4 updated in library 'soner', 0 refused" in result.output
    north = session.scalar(select(Area).where(Area.name == "Vannverk Nord"))
    session.refresh(north)
    assert north.version == 2
    assert preview(client, api_key, json.loads(north.geojson))["residents"] == len(INSIDE)
    versions = session.scalars(
        select(AreaVersion.version).where(AreaVersion.area_id == north.id)
    ).all()
    assert sorted(versions) == [1, 2]
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("area.%")))
    assert sorted(actions) == ["area.create"] * 4 + ["area.update"] * 4


def _key(app, role: str) -> str:
    from alerting.auth import create_api_key

    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        _row, key = create_api_key(s, role, role)
        s.commit()
        s.close()
    return key


def test_only_a_coordinator_may_replace_a_zone_a_fire_alert_used(
    app, cli, client, api_key, tmp_path
):
    """(No `session` fixture: its app context would keep one request's caller for the next.)"""
    from alerting.alerts import create_alert
    from alerting.auth import Principal
    from alerting.models import utcnow

    first = zipped_shapefile(tmp_path, "EPSG:25833", ZONES, ZONE_NAMES)
    assert cli("areas", "import", first).exit_code == 0
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        north_id = s.scalar(select(Area.id).where(Area.name == "Vannverk Nord"))
        create_alert(
            s,
            Principal("coordinator@example.org", "coordinator"),
            area_id=north_id,
            category="fire",
            severity="severe",
            title="Brann",
            texts={"default": "Brann i sentrum"},
            send_at=utcnow() + timedelta(days=1),
            expires=utcnow() + timedelta(days=2),
        )
        s.commit()
        s.close()
    (tmp_path / "new").mkdir()
    second = zipped_shapefile(tmp_path / "new", "EPSG:25833", [AREA], ["Vannverk Nord"])
    by_operator = upload(client, _key(app, "operator"), second, replace="1")
    assert by_operator.status_code == 422
    assert by_operator.json["refused"][0]["reason"] == (
        "A life-safety alert used this area: only a coordinator may change or delete it."
    )
    by_coordinator = upload(client, api_key, second, replace="1")
    assert by_coordinator.status_code == 201, by_coordinator.json
    assert by_coordinator.json["updated"] == [
        {"id": north_id, "name": "Vannverk Nord", "version": 2}
    ]


def test_water_supply_zones_by_the_api_with_one_bad_zone_refused_with_its_reason(
    client, api_key, session, tmp_path
):
    bowtie = Polygon([(18.30, 59.30), (18.35, 59.36), (18.35, 59.30), (18.30, 59.36)])
    archive = zipped_shapefile(
        tmp_path, "EPSG:25833", [*ZONES, bowtie], [*ZONE_NAMES, "Vannverk Sløyfe"]
    )
    response = upload(client, api_key, archive)
    assert response.status_code == 201, response.json
    assert response.json["library"] == "soner"  # the file's name when none is given
    assert [a["name"] for a in response.json["created"]] == ZONE_NAMES
    [refused] = response.json["refused"]
    assert refused["feature"] == 5
    assert refused["reason"].startswith("Self-intersection at 18.3")
    assert session.scalar(select(Area).where(Area.name == "Vannverk Sløyfe")) is None


def test_the_name_attribute_is_chosen_or_refused_with_the_attributes_listed(
    client, api_key, session, tmp_path
):
    archive = zipped_shapefile(tmp_path, "EPSG:25833", ZONES, ZONE_NAMES)
    missing = upload(client, api_key, archive, name_field="sone")
    assert missing.status_code == 422
    assert missing.json == {
        "error": "no such attribute",
        "detail": "the file has no attribute 'sone'; its attributes: navn, nummer",
    }
    by_number = upload(client, api_key, archive, name_field="nummer", library="Nummer")
    assert by_number.status_code == 201
    assert [a["name"] for a in by_number.json["created"]] == ["1", "2", "3", "4"]


def _bad_files(tmp: Path) -> dict[str, Path]:
    not_a_zip = tmp / "soner.zip"
    not_a_zip.write_text("this is not a zip archive")
    no_shp = tmp / "readme.zip"
    with zipfile.ZipFile(no_shp, "w") as z:
        z.writestr("readme.txt", "the zones are in another file")
    good = write_layer(tmp / "good.gpkg", "GPKG", "EPSG:3006", [AREA], ["Sentrum"])
    corrupt = tmp / "corrupt.gpkg"
    data = good.read_bytes()
    corrupt.write_bytes(data[:100] + bytes(len(data) - 100))  # the header, then zeros
    text = tmp / "zones.txt"
    text.write_text("Vannverk Nord: 18.0 59.3")
    shp_only = tmp / "shp-only.zip"
    (tmp / "shp").mkdir()
    with zipfile.ZipFile(shp_only, "w") as z:
        z.write(
            write_layer(tmp / "shp" / "a.shp", "ESRI Shapefile", "EPSG:25833", [AREA], ["A"]),
            "a.shp",
        )
    return {
        "not a zip file": not_a_zip,
        "no shapefile in the zip": no_shp,
        "incomplete shapefile": shp_only,
        "unreadable file": corrupt,
        "unknown file format": text,
    }


@pytest.mark.parametrize(
    "error",
    [
        "not a zip file",
        "no shapefile in the zip",
        "incomplete shapefile",
        "unreadable file",
        "unknown file format",
    ],
)
def test_bad_files_are_refused_with_a_reason_by_the_api_and_the_command(
    error, cli, client, api_key, session, tmp_path
):
    path = _bad_files(tmp_path)[error]
    response = upload(client, api_key, path)
    assert response.status_code == 422
    assert response.json["error"] == error
    assert "GeoPackage" in response.json["detail"] or ".shp" in response.json["detail"]
    result = cli("areas", "import", path)
    assert result.exit_code == 1
    assert f"Error: {path}: {error}: " in result.output
    assert "Traceback" not in result.output and "GDAL" not in result.output
    assert session.scalar(select(Area)) is None


def test_import_needs_the_operator_role(app, client, tmp_path):
    archive = zipped_shapefile(tmp_path, "EPSG:25833", [AREA], ["Sentrum"])
    assert upload(client, "alk_wrong", archive).status_code == 401
    response = upload(client, _key(app, "viewer"), archive)
    assert response.status_code == 403
    assert response.json["detail"] == "this needs the operator role"


def _upload_on_the_page(client, path: Path, **fields: str):
    token = csrf_token(client.get("/areas").get_data(as_text=True))
    with path.open("rb") as f:
        return client.post(
            "/areas/import",
            data={"file": (f, path.name), "csrf_token": token, **fields},
            content_type="multipart/form-data",
        )


def _saved(app, query):
    """What the database holds now (outside the requests: the page tests keep no app context,
    whose `g` would carry one request's CSRF token into the next)."""
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        try:
            return s.scalars(query).all()
        finally:
            s.close()


def test_an_operator_uploads_the_zones_on_the_areas_page(app, client, tmp_path):
    make_staff(app, "operator@example.org", "operator")
    sign_in(client, "operator@example.org")
    archive = zipped_shapefile(tmp_path, "EPSG:25833", ZONES, ZONE_NAMES)
    assert _upload_on_the_page(client, archive, library="Vann").status_code == 302
    html = client.get("/areas").get_data(as_text=True)
    assert "4 areas saved, 0 updated, 0 refused." in html
    assert html.count("<td>Vann</td>") == 4 and "Vannverk Øst" in html
    assert _upload_on_the_page(client, archive).status_code == 302
    again = client.get("/areas").get_data(as_text=True)
    assert "0 areas saved, 0 updated, 4 refused." in again
    assert "Feature 1 Vannverk Nord: an area of this name exists" in again

    (tmp_path / "bad").mkdir()
    bad = _upload_on_the_page(client, _bad_files(tmp_path / "bad")["not a zip file"])
    assert bad.status_code == 422
    assert (
        "The file was not imported: not a zip file: soner.zip is not a zip archive"
        in bad.get_data(as_text=True)
    )
    imports = _saved(app, select(AuditEvent.actor).where(AuditEvent.action == "areas.import"))
    assert imports == ["operator@example.org"] * 2


def test_a_viewer_sees_no_upload_and_may_not_post_one(app, client, tmp_path):
    make_staff(app, "viewer@example.org", "viewer")
    sign_in(client, "viewer@example.org")
    assert 'id="area-import"' not in client.get("/areas").get_data(as_text=True)
    archive = zipped_shapefile(tmp_path, "EPSG:25833", ZONES, ZONE_NAMES)
    assert _upload_on_the_page(client, archive).status_code == 403
    assert _saved(app, select(Area)) == []
