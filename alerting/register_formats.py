"""Read a register file as municipalities have it into (line, record) pairs with our column names.

CSV with `,` or `;` (what Nordic Excel saves), UTF-8 with or without a BOM or Windows-1252/Latin-1,
.xlsx workbooks, GeoJSON points; headers in Norwegian, Swedish or Danish; easting/northing in a
named CRS, reprojected to WGS84. Every message is a `Reason`, so the staff page can translate it.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, TextIO

from charset_normalizer import from_bytes
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

FIELDS = (
    "external_id", "name", "first_name", "last_name", "phone", "language", "address",
    "postcode", "place", "lat", "lon", "x", "y", "label",
)  # fmt: skip
REQUIRED = ("external_id", "phone")

# lower-case header -> our column (nb, sv, da and the English a GIS export uses)
SYNONYMS = {
    **dict.fromkeys(["id", "ekstern_id", "kundenr", "kundenummer", "kundnummer"], "external_id"),
    **dict.fromkeys(["navn", "namn", "fullt navn", "fullständigt namn", "fulde navn"], "name"),
    **dict.fromkeys(["fornavn", "förnamn", "first name", "first_name"], "first_name"),
    **dict.fromkeys(["etternavn", "efternamn", "efternavn", "last name", "last_name"], "last_name"),
    **dict.fromkeys(
        ["telefon", "telefonnummer", "telefonnr", "tlf", "tel", "phone_number"], "phone"
    ),
    **dict.fromkeys(["mobil", "mobilnummer", "mobilnr", "mobiltelefon", "mobile"], "phone"),
    **dict.fromkeys(["adresse", "adress", "gateadresse", "gatuadress", "vejnavn"], "address"),
    **dict.fromkeys(["postnr", "postnummer", "zip", "postal_code"], "postcode"),
    **dict.fromkeys(["poststed", "postort", "postdistrikt", "by"], "place"),
    **dict.fromkeys(["breddegrad", "breddgrad", "latitude"], "lat"),
    **dict.fromkeys(["lengdegrad", "längdgrad", "længdegrad", "longitude", "lng"], "lon"),
    **dict.fromkeys(["east", "easting", "øst", "öst", "øst_koordinat", "ost"], "x"),
    **dict.fromkeys(["north", "northing", "nord"], "y"),
    **dict.fromkeys(["språk", "sprog", "lang"], "language"),
    **dict.fromkeys(["type", "stedstype"], "label"),
}
# charset-normalizer's names for the encodings a Nordic register comes in, as people know them
STREAM_CHUNK = 1 << 20  # bytes (or characters) read at a time
ENCODINGS = {"cp1252": "Windows-1252", "latin_1": "Latin-1", "iso8859_15": "ISO-8859-15"}


class Reason(str):
    """A message in English that remembers its template and values, to be translated later."""

    template: str
    params: dict

    def __new__(cls, template: str, **params: object) -> Reason:
        text = super().__new__(cls, template % params if params else template)
        text.template, text.params = template, params
        return text


class RegisterFileError(ValueError):
    """The file as a whole cannot be read (not a row problem)."""

    def __init__(self, template: str, **params: object) -> None:
        self.reason = Reason(template, **params)
        super().__init__(self.reason)


@dataclass
class ReadOptions:
    """What the importer cannot tell from the file itself, from the command's flags."""

    delimiter: str | None = None  # sniffed from the header when not named
    crs: str | None = None  # the CRS of easting/northing columns, e.g. EPSG:25832
    mapping: dict[str, str] = field(default_factory=dict)  # header -> one of FIELDS
    allow_outside: bool = False  # import rows far from the others (never a guess: a flag)
    boundary: str = ""  # the saved area (MUNICIPALITY_BOUNDARY) every place must lie in


@dataclass
class Records:
    rows: Iterator[tuple[int, dict]]
    notes: list[Reason]
    text: io.TextIOWrapper | None = None  # over the caller's file, which the caller closes

    def close(self) -> None:
        """Let go of the caller's file without closing it (a wrapper closes what it wraps)."""
        if self.text is not None:
            self.text.detach()
            self.text = None


def read_records(name: str, data: bytes | BinaryIO, options: ReadOptions) -> Records:
    """(line number or feature number, record with our column names; lat/lon in WGS84).

    `data` may be an open binary file: a CSV is then read as a stream, never whole."""
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    head = stream.read(4)
    stream.seek(0)
    if name.lower().endswith(".xlsx") or head.startswith(b"PK\x03\x04"):
        return Records(_mapped(_xlsx_rows(stream), options), [])
    python_name, encoding = _encoding(stream)
    notes = [Reason("read as %(encoding)s", encoding=encoding)] if encoding else []
    text = io.TextIOWrapper(stream, encoding=python_name, newline="")
    start = text.read(STREAM_CHUNK)
    text.seek(0)
    if name.lower().endswith((".geojson", ".json")) or start.lstrip().startswith("{"):
        return Records(_geojson_records(text.read()), notes, text)
    return Records(_mapped(_csv_rows(text, options.delimiter), options), notes, text)


def _encoding(stream: BinaryIO) -> tuple[str, str | None]:
    """The codec to read the file with, and its name when it was not UTF-8 (the summary says
    so). UTF-8 is checked in a streaming pass; only a file that is not UTF-8 is read whole, for
    charset-normalizer."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        while chunk := stream.read(STREAM_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        stream.seek(0)
        best = from_bytes(stream.read(), cp_isolation=list(ENCODINGS)).best()
        stream.seek(0)
        if best is None:
            raise RegisterFileError(
                "the file is not text in UTF-8, Windows-1252 or Latin-1"
            ) from None
        return best.encoding, ENCODINGS.get(best.encoding, best.encoding)
    stream.seek(0)
    return "utf-8-sig", None


def _csv_rows(text: TextIO, delimiter: str | None) -> Iterator[tuple[int, list[str]]]:
    first = text.readline()
    header = first.lstrip("\ufeff").split("\n", 1)[0]
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(header, delimiters=",;\t|").delimiter
        except csv.Error:  # one column, or none: the header check below says what is missing
            delimiter = ","
    reader = csv.reader(itertools.chain([first], text), delimiter=delimiter)
    for values in reader:
        if any(v.strip() for v in values):
            yield reader.line_num, values


def _xlsx_rows(data: BinaryIO) -> Iterator[tuple[int, list]]:
    import openpyxl  # only a workbook needs it
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(data, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        raise RegisterFileError("the file is not a readable .xlsx workbook") from None
    for number, values in enumerate(book.worksheets[0].iter_rows(values_only=True), start=1):
        if any(v is not None and str(v).strip() for v in values):
            yield number, ["" if v is None else v for v in values]
    book.close()


def column_for(header: str, mapping: dict[str, str]) -> str | None:
    """Our column for a header cell: the user's mapping first, then our names, then synonyms."""
    key = str(header or "").strip().lstrip("\ufeff")
    lowered = {k.strip().lower(): v for k, v in mapping.items()}
    if key.lower() in lowered:
        return lowered[key.lower()]
    if key.lower() in FIELDS:
        return key.lower()
    return SYNONYMS.get(key.lower())


def _mapped(rows: Iterator[tuple[int, list]], options: ReadOptions) -> Iterator[tuple[int, dict]]:
    """Rows of cells to records with our names; first/last name joined; x/y reprojected."""
    try:
        _line, header = next(rows)
    except StopIteration:
        raise RegisterFileError("the file is empty") from None
    columns = [column_for(h, options.mapping) for h in header]
    _check_header(header, columns, options)
    transform = _transformer(options.crs) if "x" in columns else None
    combine = transform is not None or not _COMBINED.isdisjoint(columns)
    for line, values in rows:
        if len(values) > len(columns) and any(str(v).strip() for v in values[len(columns) :]):
            yield line, {"_error": Reason("more fields than the header has columns")}
            continue
        record: dict = {}
        for column, value in zip(columns, values, strict=False):
            if column is None:
                continue
            if isinstance(value, str):
                if value := value.strip():
                    record[column] = value
            elif str(value).strip() != "":
                record[column] = value
        yield line, _combined(record, transform) if combine else record


def _check_header(header: list, columns: list[str | None], options: ReadOptions) -> None:
    needed = [*REQUIRED, *(("x", "y") if "x" in columns or "y" in columns else ("lat", "lon"))]
    missing = [c for c in needed if c not in columns]
    if missing:
        found = ", ".join(str(h) for h in header if str(h).strip()) or "-"
        raise RegisterFileError(
            "the header lacks a column for %(missing)s (its columns: %(found)s)",
            missing=", ".join(missing),
            found=found,
        )
    if "x" in columns and not options.crs:
        raise RegisterFileError(
            "the file has easting/northing columns: name their coordinate system, "
            "e.g. EPSG:25832 (EUREF89 UTM 32)"
        )
    if options.crs and "x" not in columns:
        raise RegisterFileError(
            "%(crs)s was named but the file has no easting/northing columns (x,y or east,north)",
            crs=options.crs,
        )


def _transformer(crs: str | None) -> Transformer:
    try:
        source = CRS.from_user_input(crs)
    except CRSError:
        raise RegisterFileError("unknown coordinate system %(crs)s", crs=crs) from None
    return Transformer.from_crs(source, "EPSG:4326", always_xy=True)


_COMBINED = {"first_name", "last_name", "postcode", "place"}  # columns `_combined` folds


def _combined(record: dict, transform: Transformer | None) -> dict:
    first, last = record.pop("first_name", ""), record.pop("last_name", "")
    if (first or last) and not record.get("name"):
        record["name"] = f"{first} {last}".strip()
    postcode, place = record.pop("postcode", ""), record.pop("place", "")
    if record.get("address") and (postcode or place):
        record["address"] = f"{record['address']}, {postcode} {place}".strip()
    if transform is not None:
        x, y = record.pop("x", None), record.pop("y", None)
        try:
            lon, lat = transform.transform(number(x), number(y))
        except ValueError:
            record["_error"] = Reason(
                "easting/northing are not numbers: '%(x)s', '%(y)s'", x=x or "", y=y or ""
            )
        else:
            record["lat"], record["lon"] = round(lat, 7), round(lon, 7)
    return record


def number(value: object) -> float:
    """A number as a spreadsheet writes it: 60.39, '60,39' (Nordic), ' 6 700 000 '."""
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)  # the usual '60.39': what the cleaning below would give too
    except (TypeError, ValueError):
        pass
    return float(str(value or "").strip().replace(" ", "").replace("\u00a0", "").replace(",", "."))


def _geojson_records(text: str) -> Iterator[tuple[int, dict]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegisterFileError(
            "the file is not valid JSON (line %(line)d, column %(column)d)",
            line=exc.lineno,
            column=exc.colno,
        ) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise RegisterFileError("a GeoJSON register must be a FeatureCollection of Point features")
    for number_, feature in enumerate(doc.get("features") or [], start=1):
        geometry = (feature or {}).get("geometry") or {}
        record = dict((feature or {}).get("properties") or {})
        if geometry.get("type") != "Point":
            record["_error"] = Reason(
                "geometry is %(kind)s, not a Point", kind=str(geometry.get("type"))
            )
        else:
            coords = geometry.get("coordinates") or [None, None]
            record["lon"], record["lat"] = (coords + [None, None])[:2]
        yield number_, record


def mapping_from(pairs: tuple[str, ...] | list[str], text: str | None = None) -> dict[str, str]:
    """A column mapping from a JSON object {"header": "column"} and `header=column` pairs (these
    win); ValueError naming the bad entry, so a typo is caught before any row is read."""
    mapping: dict[str, str] = {}
    if text is not None:
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError:
            loaded = None
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise ValueError('a mapping file is a JSON object: {"header in the file": "column"}')
        mapping.update(loaded)
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or not source.strip():
            raise ValueError(f"{pair!r}: write HEADER=COLUMN, e.g. telefon=phone")
        mapping[source.strip()] = target.strip()
    for source, target in mapping.items():
        if target not in FIELDS:
            raise ValueError(f"{source}={target}: the column must be one of {', '.join(FIELDS)}")
    return mapping
