"""Registers as municipalities really have them: Excel's semicolons and Windows-1252, a BOM,
.xlsx workbooks, UTM easting/northing, headers in Norwegian, and swapped coordinates."""

from __future__ import annotations

import io
import json

import openpyxl
import pytest
from pyproj import Transformer
from sqlalchemy import delete, select
from staff_helpers import csrf_token, make_staff, sign_in

from alerting.models import Area, Location, Resident
from alerting.register_import import ReadOptions, RegisterFileError, import_bytes

COLUMNS = ["external_id", "name", "phone", "language", "address", "lat", "lon", "label"]
ROWS = [
    ["r1", "Åse Ærø", "+47 912 34 567", "nb", "Øvre Bøgata 3", 60.39, 5.32, "home"],
    ["r2", "Björn Öst", "+46 70 123 45 67", "sv", "Storgatan 1", 60.40, 5.33, "home"],
    ["r3", "Søren Ølgård", "+45 20 12 34 56", "da", "Strandvejen 9", 60.37, 5.35, "work"],
    ["r4", "Kari Nordmann", "91234568", "nb", "Kaigaten 1", 60.392, 5.324, "home"],
]
# Norwegian header (first and last name, mobile, postcode), as a municipality's export has it
NORWEGIAN = "kundenr;fornavn;etternavn;mobil;adresse;breddegrad;lengdegrad\n" + "".join(
    f"n{i};Kari;Nord {i};9123456{i};Gate {i};60,39;5,32\n" for i in range(1, 4)
)


def csv_text(delimiter: str = ",", rows: list[list] = ROWS) -> str:
    """With `;`, numbers have decimal commas, as Nordic Excel saves them."""

    def cell(value: object) -> str:
        text = str(value)
        return text.replace(".", ",") if delimiter == ";" and isinstance(value, float) else text

    return "".join(delimiter.join(map(cell, row)) + "\n" for row in [COLUMNS, *rows])


def xlsx_bytes() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in [COLUMNS, *ROWS]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def utm_text() -> str:
    """The same register with EUREF89 UTM 32 easting/northing (what Norwegian GIS exports)."""
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:25832", always_xy=True)
    lines = ["external_id;name;phone;language;address;east;north;label"]
    for ext, name, phone, lang, address, lat, lon, label in ROWS:
        east, north = to_utm.transform(lon, lat)
        lines.append(f"{ext};{name};{phone};{lang};{address};{east:.3f};{north:.3f};{label}")
    return "\n".join(lines) + "\n"


def residents(session) -> set[tuple]:
    return {
        (r.external_id, r.name, r.phone, r.language, loc.address, loc.label)
        + (round(loc.lat, 5), round(loc.lon, 5))
        for r in session.scalars(select(Resident))
        for loc in r.locations
    }


VARIANTS = {
    "semicolon": ("register.csv", csv_text(";").encode("utf-8"), ReadOptions()),
    "windows-1252": ("register.csv", csv_text(";").encode("cp1252"), ReadOptions()),
    "bom": ("register.csv", csv_text(",").encode("utf-8-sig"), ReadOptions()),
    "xlsx": ("register.xlsx", xlsx_bytes(), ReadOptions()),
    "utm": ("register.csv", utm_text().encode("utf-8"), ReadOptions(crs="EPSG:25832")),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_variant_gives_the_same_residents_as_the_plain_csv(app, variant):
    sessions = app.extensions["alerting.sessionmaker"]
    with app.app_context():
        s = sessions()
        plain = import_bytes(s, "register.csv", csv_text().encode(), "NO", "nb")
        assert (plain.imported, plain.refused) == (4, [])
        expected = residents(s)
        s.execute(delete(Location))
        s.execute(delete(Resident))
        s.commit()
        name, data, options = VARIANTS[variant]
        report = import_bytes(s, name, data, "NO", "nb", options)
        assert (report.imported, report.refused) == (4, [])
        assert residents(s) == expected
        if variant == "windows-1252":
            assert "read as Windows-1252" in report.summary()
        s.close()


def test_the_plain_csv_is_not_reported_as_read_in_another_encoding(session):
    report = import_bytes(session, "register.csv", csv_text().encode(), "NO", "nb")
    assert "read as" not in report.summary()


def test_easting_northing_without_a_named_crs_is_refused_never_guessed(session):
    with pytest.raises(ValueError, match="EPSG:25832"):
        import_bytes(session, "register.csv", utm_text().encode(), "NO", "nb")


def test_norwegian_headers_are_mapped_by_the_built_in_table(session):
    report = import_bytes(session, "register.csv", NORWEGIAN.encode("cp1252"), "NO", "nb")
    assert (report.imported, report.refused) == (3, [])
    kari = session.scalar(select(Resident).where(Resident.external_id == "n2"))
    assert kari.name == "Kari Nord 2" and kari.phone == "+4791234562"
    assert (kari.locations[0].lat, kari.locations[0].lon) == (60.39, 5.32)


def test_a_header_of_its_own_is_mapped_with_map_flags_and_a_mapping_file(cli, session, tmp_path):
    path = tmp_path / "eksport.csv"
    path.write_text(
        "Abonnent;Hvem;Nummer;Bosted;N;E\n"
        + "".join(f"a{i};Ola {i};9123457{i};Gate {i};60.39;5.32\n" for i in range(3)),
        encoding="utf-8",
    )
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"Abonnent": "external_id", "Hvem": "name", "Nummer": "phone"}')
    unmapped = cli("residents", "import", path)
    assert unmapped.exit_code != 0 and "external_id" in unmapped.output
    result = cli(
        "residents", "import", path, "--mapping", mapping, "--map", "Bosted=address",
        "--map", "N=lat", "--map", "E=lon",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3 imported" in result.output
    ola = session.scalar(select(Resident).where(Resident.external_id == "a1"))
    assert ola.name == "Ola 1" and ola.locations[0].address == "Gate 1"


def test_swapped_coordinates_are_refused_with_the_reason(session):
    rows = [*ROWS[:3], ["r4", "Kari Nordmann", "91234568", "nb", "Kaigaten 1", 5.32, 60.39, "home"]]
    report = import_bytes(session, "register.csv", csv_text(rows=rows).encode(), "NO", "nb")
    assert report.imported == 3
    assert report.refused == [(5, "probably swapped lat/lon (5.32 N, 60.39 E)")]
    assert session.scalar(select(Resident).where(Resident.external_id == "r4")) is None


BERGEN = {  # a box around the rows above: the municipality's boundary as a saved area
    "type": "Polygon",
    "coordinates": [[[5.2, 60.3], [5.45, 60.3], [5.45, 60.45], [5.2, 60.45], [5.2, 60.3]]],
}


def test_a_configured_municipality_boundary_refuses_rows_outside_it(session):
    session.add(Area(name="Bergen", geojson=json.dumps(BERGEN)))
    session.commit()
    rows = [
        *ROWS[:3],
        ["r4", "Kari Nordmann", "91234568", "nb", "Kaigaten 1", 5.32, 60.39, "home"],  # swapped
        ["r5", "Ola Nordmann", "91234569", "nb", "Voss", 60.63, 6.42, "home"],  # next door
    ]
    options = ReadOptions(boundary="Bergen")
    data = csv_text(rows=rows).encode()
    report = import_bytes(session, "register.csv", data, "NO", "nb", options)
    assert report.imported == 3
    # Voss is 80 km away: near enough for the median rule, outside the municipality
    assert report.refused == [
        (5, "probably swapped lat/lon (5.32 N, 60.39 E)"),
        (6, "outside Bergen (60.63 N, 6.42 E)"),
    ]
    unbounded = import_bytes(session, "register.csv", data, "NO", "nb")
    assert [line for line, _ in unbounded.refused] == [5]


def test_a_municipality_boundary_that_names_no_saved_area_refuses_the_file(session):
    with pytest.raises(
        RegisterFileError, match="MUNICIPALITY_BOUNDARY names Bergn, which is no saved area"
    ):
        import_bytes(
            session, "r.csv", csv_text().encode(), "NO", "nb", ReadOptions(boundary="Bergn")
        )
    assert session.scalar(select(Resident)) is None


def test_allow_outside_imports_a_far_row_anyway(session):
    rows = [*ROWS[:3], ["r4", "Kari Nordmann", "91234568", "nb", "Kaigaten 1", 5.32, 60.39, "home"]]
    data = csv_text(rows=rows).encode()
    report = import_bytes(session, "r.csv", data, "NO", "nb", ReadOptions(allow_outside=True))
    assert (report.imported, report.refused) == (4, [])


def test_the_command_exits_non_zero_when_rows_were_refused(cli, tmp_path):
    rows = [*ROWS, ["r5", "Per", "nope", "nb", "Gate 5", 60.39, 5.32, "home"]]
    path = tmp_path / "register.csv"
    path.write_text(csv_text(";", rows), encoding="utf-8")
    result = cli("residents", "import", path)
    assert result.exit_code == 1
    assert "4 imported" in result.output and "1 row refused" in result.output
    assert "register.csv:6: refused: 'nope' is not a phone number" in result.output
    allowed = cli("residents", "import", path, "--allow-refused")
    assert allowed.exit_code == 0, allowed.output
    assert "4 unchanged" in allowed.output


def test_the_delimiter_can_be_named(cli, tmp_path):
    path = tmp_path / "register.txt"
    path.write_text(csv_text("|"), encoding="utf-8")
    result = cli("residents", "import", path, "--delimiter", "|")
    assert result.exit_code == 0, result.output
    assert "4 imported" in result.output


def test_the_import_page_says_what_is_wrong_with_a_phone_in_the_staff_language(app, client):
    make_staff(app, "ad@example.org", "admin", language="nb")
    sign_in(client, "ad@example.org")
    token = csrf_token(client.get("/residents/import").get_data(as_text=True))
    rows = [*ROWS[:2], ["r9", "Per", "12 34", "nb", "Gate 9", 60.39, 5.32, "home"]]
    response = client.post(
        "/residents/import",
        data={"csrf_token": token, "file": (io.BytesIO(csv_text(";", rows).encode()), "r.csv")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "rad 4: «12 34» er ikke et telefonnummer" in html
    assert "did not seem" not in html and "(1)" not in html


def test_the_import_page_explains_an_unreadable_file_in_the_staff_language(app, client):
    make_staff(app, "ad@example.org", "admin", language="nb")
    sign_in(client, "ad@example.org")
    token = csrf_token(client.get("/residents/import").get_data(as_text=True))
    response = client.post(
        "/residents/import",
        data={"csrf_token": token, "file": (io.BytesIO(b'{"type": "Feat'), "r.geojson")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "er ikke gyldig JSON" in html and "Expecting" not in html


def test_the_import_page_takes_utm_with_its_crs_and_says_how_the_file_was_read(app, client):
    make_staff(app, "ad@example.org", "admin")
    sign_in(client, "ad@example.org")
    data = utm_text().encode("cp1252")

    def upload(crs: str):
        token = csrf_token(client.get("/residents/import").get_data(as_text=True))
        return client.post(
            "/residents/import",
            data={"csrf_token": token, "crs": crs, "file": (io.BytesIO(data), "utm.csv")},
            content_type="multipart/form-data",
        )

    unnamed = upload("")
    assert unnamed.status_code == 422
    assert "name their coordinate system" in unnamed.get_data(as_text=True)
    named = upload("EPSG:25832")
    html = named.get_data(as_text=True)
    assert named.status_code == 200
    assert "4 imported, 0 updated, 0 unchanged, 0 refused; read as Windows-1252" in html
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        ase = s.scalar(select(Resident).where(Resident.external_id == "r1"))
        assert ase.name == "Åse Ærø"
        assert (round(ase.locations[0].lat, 5), round(ase.locations[0].lon, 5)) == (60.39, 5.32)


@pytest.mark.parametrize(
    ("name", "data", "flags", "says"),
    [
        ("r.csv", csv_text(), ["--map", "telefon=mobile"], "the column must be one of"),
        ("r.csv", csv_text(), ["--map", "telefon"], "write HEADER=COLUMN"),
        ("r.csv", utm_text(), ["--crs", "EPSG:99999999"], "unknown coordinate system"),
        ("r.csv", csv_text(), ["--crs", "EPSG:25832"], "no easting/northing columns"),
        ("r.xlsx", "not a workbook", [], "not a readable .xlsx workbook"),
    ],
)
def test_the_command_refuses_bad_flags_and_files_with_what_to_do(
    cli, tmp_path, name, data, flags, says
):
    path = tmp_path / name
    path.write_text(data, encoding="utf-8")
    result = cli("residents", "import", path, *flags)
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)  # a message, not a crash
    assert says in result.output
