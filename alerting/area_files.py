"""Areas from GIS files: GeoJSON, zipped Shapefile, GeoPackage, KML/KMZ, in the CRS they declare.

A municipality keeps its zones in a GIS (EUREF89 UTM 32/33, SWEREF 99 TM, ETRS89 UTM 32), so
a file is read with GDAL (through pyogrio, whose wheels carry it), reprojected with pyproj to
WGS84 and then goes feature by feature through `parse_area`, like a drawn area: the same
limits, the same refusals. A file that declares no coordinate system is refused unless the
user names one; it is never guessed. Every feature of the layer becomes one saved area, named
from an attribute, grouped in a library named for the layer.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.errors import GEOSException
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerting import audit
from alerting.areas import AreaError, area_km2, parse_area, to_geojson
from alerting.auth import Principal
from alerting.models import Area, utcnow

MAX_FEATURES = 2000  # a layer of postcode areas is hundreds; more is a mistake or an attack
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024  # what a zip may expand to (a zip bomb expands to more)
FORMATS = "GeoJSON, a zipped Shapefile (.zip with .shp, .shx, .dbf, .prj), GeoPackage or KML/KMZ"
_WGS84 = CRS.from_epsg(4326)
# attributes that name a feature, tried first (KML's Name; Norwegian, Danish and Swedish)
NAME_ATTRIBUTES = ("name", "navn", "namn")


@dataclass
class Feature:
    """One feature of the file, in WGS84, validated; `number` counts from 1 in file order."""

    number: int
    properties: dict[str, Any]
    geometry: Any


@dataclass
class ImportReport:
    library: str | None
    created: list[Area] = field(default_factory=list)
    updated: list[Area] = field(default_factory=list)
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # (feature, name, reason)

    def as_dict(self) -> dict[str, Any]:
        return {
            "library": self.library,
            "created": [{"id": a.id, "name": a.name} for a in self.created],
            "updated": [{"id": a.id, "name": a.name, "version": a.version} for a in self.updated],
            "refused": [
                {"feature": n, "name": name, "reason": reason} for n, name, reason in self.refused
            ],
        }

    def summary(self) -> str:
        where = f" in library {self.library!r}" if self.library else ""
        return (
            f"{len(self.created)} areas saved, {len(self.updated)} updated{where}, "
            f"{len(self.refused)} refused"
        )


def read_features(
    data: bytes,
    filename: str,
    crs: str | None = None,
    max_area_km2: float | None = None,
    max_vertices: int | None = None,
) -> tuple[list[Feature], list[tuple[int, str]]]:
    """The file's features in WGS84, each validated by `parse_area`; (features, refused) where
    refused is (feature number, reason). AreaError for a file that cannot be read at all."""
    given = _named_crs(crs) if crs else None
    with tempfile.TemporaryDirectory(prefix="alerting-area-") as tmp:
        path = _dataset_path(data, filename, Path(tmp))
        raw = _read_layers(path)
    features, refused = [], []
    number = 0
    for declared, properties, geometries in raw:
        source = _source_crs(declared, given)
        to_wgs84 = Transformer.from_crs(source, _WGS84, always_xy=True)
        for props, geometry in zip(properties, geometries, strict=True):
            number += 1
            if geometry is None:
                refused.append((number, "the feature has no geometry"))
                continue
            if not source.equals(_WGS84):
                geometry = shapely.transform(geometry, _transform(to_wgs84))
            shape = json.loads(shapely.to_geojson(geometry))  # lists, as parse_area reads them
            feature = {"type": "Feature", "properties": props, "geometry": shape}
            try:
                area = parse_area(feature, max_area_km2, max_vertices)
            except AreaError as exc:
                refused.append((number, f"{exc.error}: {exc.detail}" if exc.detail else exc.error))
                continue
            features.append(Feature(number, props, area))
    if not number:
        raise AreaError("empty file", "the file has no features; export the layer with its areas")
    return features, refused


def _transform(transformer: Transformer):
    """A function of an (N, 2) coordinate array, as shapely.transform wants."""

    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return apply


def _named_crs(text: str) -> CRS:
    try:
        return CRS.from_user_input(text)
    except CRSError:
        raise AreaError(
            "unknown coordinate system",
            f"{text!r} is not a coordinate system; give its EPSG code, like EPSG:25833",
        ) from None


def _source_crs(declared: str | None, given: CRS | None) -> CRS:
    """The file's own CRS, or the one the user named; never a guess."""
    if declared is None:
        if given is None:
            raise AreaError(
                "no coordinate system",
                "the file declares no coordinate system; give --crs EPSG:25833 "
                "(or whichever the file is in: it is never guessed)",
            )
        return given
    try:
        own = CRS.from_user_input(declared)
    except CRSError:
        raise AreaError(
            "unknown coordinate system",
            "the coordinate system the file declares is not one we know; give --crs EPSG:…",
        ) from None
    if given is not None and not own.equals(given, ignore_axis_order=True):
        raise AreaError(
            "conflicting coordinate systems",
            f"the file declares {_label(own)}, not {_label(given)}; leave out --crs",
        )
    return own


def _label(crs: CRS) -> str:
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.name


def _dataset_path(data: bytes, filename: str, tmp: Path) -> str:
    """A path GDAL opens: the upload written under `tmp`, a zip's member named inside it."""
    suffix = PurePosixPath(filename.lower()).suffix
    if data.startswith(b"PK\x03\x04"):
        archive = tmp / "upload.zip"
        archive.write_bytes(data)
        return f"/vsizip/{archive}/{_zip_member(archive)}"
    if suffix in (".zip", ".kmz"):
        raise AreaError("not a zip file", f"{filename} is not a zip archive; send {FORMATS}")
    if data.startswith(b"SQLite format 3\x00"):
        target = tmp / "upload.gpkg"
    elif suffix == ".gpkg":
        raise AreaError("not a GeoPackage", f"{filename} is not a GeoPackage (SQLite) file")
    elif data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        target = tmp / "upload.kml"
    elif data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        target = tmp / "upload.geojson"
    else:
        raise AreaError("unknown file format", f"{filename}: send {FORMATS}")
    target.write_bytes(data)
    return str(target)


def _zip_member(archive: Path) -> str:
    """The one .shp (or a KMZ's .kml) in the zip: refused when there is none or several."""
    try:
        with zipfile.ZipFile(archive) as z:
            infos = z.infolist()
    except zipfile.BadZipFile:
        raise AreaError("not a zip file", f"the zip archive is damaged; send {FORMATS}") from None
    if sum(i.file_size for i in infos) > MAX_UNZIPPED_BYTES:
        raise AreaError("zip too large", "the zip expands to more than 200 MB")
    names = [i.filename for i in infos if not i.is_dir()]
    shapes = [n for n in names if n.lower().endswith(".shp")]
    kmls = [n for n in names if n.lower().endswith(".kml")]
    if len(shapes) > 1:
        raise AreaError("several shapefiles", f"the zip holds {', '.join(shapes)}; send one")
    if shapes:
        stem = shapes[0][:-4].lower()
        missing = [e for e in (".shx", ".dbf") if not any(n.lower() == stem + e for n in names)]
        if missing:
            raise AreaError(
                "incomplete shapefile", f"the zip lacks {' and '.join(missing)} next to the .shp"
            )
        return shapes[0]
    if len(kmls) == 1:
        return kmls[0]
    raise AreaError("no shapefile in the zip", f"the zip holds no .shp file; send {FORMATS}")


def _read_layers(path: str) -> list[tuple[str | None, list[dict[str, Any]], list[Any]]]:
    """(declared CRS, properties, shapely geometries) of every layer that has geometries."""
    try:
        layers = [name for name, kind in pyogrio.list_layers(path) if kind is not None]
        out, total = [], 0
        for layer in layers:
            total += pyogrio.read_info(path, layer=layer, force_feature_count=True)["features"]
            if total > MAX_FEATURES:
                raise AreaError(
                    "too many features", f"the file has more than {MAX_FEATURES} features"
                )
            meta, _fids, wkb, columns = pyogrio.raw.read(path, layer=layer, force_2d=True)
            names = list(meta["fields"])
            properties = [
                {n: _plain(column[i]) for n, column in zip(names, columns, strict=True)}
                for i in range(len(wkb))
            ]
            out.append((meta["crs"], properties, list(shapely.from_wkb(wkb))))
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, GEOSException):
        raise AreaError(
            "unreadable file", f"the file is damaged or not in a format we read; send {FORMATS}"
        ) from None
    return out


def _plain(value: Any) -> Any:
    """An attribute as JSON can hold it (numpy scalars and dates become numbers and text)."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


def name_field(features: list[Feature], chosen: str | None) -> str | None:
    """The attribute that names the areas: `chosen`, or the first text attribute whose values
    are all present and different (one called name, navn or namn first). None when no attribute
    will do (a file of one feature)."""
    attributes = list(features[0].properties) if features else []
    if chosen:
        if features and chosen not in attributes:
            raise AreaError(
                "no such attribute",
                f"the file has no attribute {chosen!r}; its attributes: {', '.join(attributes)}",
            )
        return chosen
    for attribute in sorted(attributes, key=lambda a: a.lower() not in NAME_ATTRIBUTES):
        values = [f.properties.get(attribute) for f in features]
        texts = all(isinstance(v, str) and v.strip() for v in values)
        if texts and len({v.strip() for v in values}) == len(values):
            return attribute
    if len(features) > 1:
        raise AreaError(
            "no name attribute",
            "no text attribute has a different value for every feature; choose one with "
            f"--name-field (attributes: {', '.join(attributes) or 'none'})",
        )
    return None


def save_areas(
    session: Session,
    actor: Principal,
    data: bytes,
    filename: str,
    *,
    crs: str | None = None,
    name_by: str | None = None,
    library: str | None = None,
    replace: bool = False,
    max_area_km2: float | None = None,
    max_vertices: int | None = None,
) -> ImportReport:
    """Read the file and save one area per feature (the caller commits). A name that exists
    is refused for that feature, or with `replace` gets a new version like a redrawn area."""
    # the saved areas' versioned path and life-safety rule, as when an area is redrawn
    # (imported here, since the staff package imports this module for its upload)
    from alerting.staff.areas import _keep_version

    features, unreadable = read_features(data, filename, crs, max_area_km2, max_vertices)
    stem = PurePosixPath(filename).stem[:100] or "import"
    attribute = name_field(features, name_by)
    if library is None and len(features) + len(unreadable) > 1:
        library = stem
    report = ImportReport(library=(library or "").strip()[:100] or None)
    report.refused = [(n, "", reason) for n, reason in unreadable]
    seen: set[str] = set()
    for feature in features:
        name = str(feature.properties.get(attribute) or "").strip()[:200] if attribute else stem
        if refusal := _refusal(session, actor, name, attribute, seen, replace):
            report.refused.append((feature.number, name, refusal))
            continue
        seen.add(name)
        area = session.scalar(select(Area).where(Area.name == name))
        if area is None:
            area = Area(name=name, geojson="", created_by=actor.audit_name, version=0)
            session.add(area)
            report.created.append(area)
            action = "area.create"
        else:
            _keep_version(area)  # areas saved before versions were kept have no row for theirs
            report.updated.append(area)
            action = "area.update"
        area.geojson = json.dumps(to_geojson(feature.geometry))
        area.version = (area.version or 0) + 1
        area.library = report.library
        area.updated_by, area.updated_at = actor.audit_name, utcnow()
        session.flush()
        _keep_version(area)
        audit.record(
            session,
            actor,
            action,
            f"area:{area.id}",
            name=name,
            version=area.version,
            km2=round(area_km2(feature.geometry), 3),
            library=report.library,
        )
    report.refused.sort()
    audit.record(
        session,
        actor,
        "areas.import",
        filename[:200],
        library=report.library,
        created=len(report.created),
        updated=len(report.updated),
        refused=len(report.refused),
    )
    return report


def _refusal(
    session: Session, actor: Principal, name: str, attribute: str | None, seen: set, replace: bool
) -> str | None:
    """Why the feature named `name` is not saved, or None."""
    if not name:
        return f"the attribute {attribute!r} is empty"
    if name in seen:
        return "another feature of the file has this name; choose another --name-field"
    area = session.scalar(select(Area).where(Area.name == name))
    if area is None:
        return None
    if not replace:
        return "an area of this name exists; give --replace to update it, or rename it"
    if actor.has_role("coordinator"):
        return None
    from alerting.staff.areas import _life_safety_refusal

    return _life_safety_refusal(area)
