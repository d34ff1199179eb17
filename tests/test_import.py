"""Loading the resident register from CSV and GeoJSON."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from alerting.models import ConsentEvent, Location, Resident
from alerting.phones import PhoneError, mask, parse_phone
from alerting.register_import import RegisterFileError, import_bytes

HEADER = "external_id,name,phone,language,address,lat,lon,label\n"


def run_import(session, text: str, name: str = "register.csv"):
    return import_bytes(session, name, text.encode("utf-8"), "NO", "nb")


@pytest.mark.parametrize(
    "written", ["+47 912 34 567", "91234567", "0047 91234567", "(+47) 91 23 45 67"]
)
def test_the_usual_ways_of_writing_a_norwegian_mobile_are_one_number(written):
    assert parse_phone(written, "NO").e164 == "+4791234567"
    assert parse_phone(written, "NO").mobile


def test_fixed_line_is_valid_but_not_mobile():
    phone = parse_phone("22 12 34 56", "NO")
    assert phone.e164 == "+4722123456" and not phone.mobile


@pytest.mark.parametrize("bad", ["", "12", "hello", "+47 123"])
def test_bad_phone_numbers_are_refused(bad):
    with pytest.raises(PhoneError):
        parse_phone(bad, "NO")


def test_masked_phone_hides_the_middle():
    assert mask("+4791234567") == "+47•••••567"


def test_good_rows_are_imported_with_nordic_letters_kept(session):
    report = run_import(
        session,
        HEADER
        + "r1,Åse Ærø,+47 912 34 567,nb,Øvre Bøgata 3,60.39,5.32,home\n"
        + "r2,Björn Öst,+46 70 123 45 67,sv,Storgatan 1,60.40,5.33,home\n",
    )
    assert (report.imported, report.updated, report.refused) == (2, 0, [])
    ase = session.scalar(select(Resident).where(Resident.external_id == "r1"))
    assert ase.name == "Åse Ærø" and ase.phone == "+4791234567" and ase.language == "nb"
    assert ase.locations[0].address == "Øvre Bøgata 3"
    assert session.scalar(select(Resident.name).where(Resident.external_id == "r2")) == "Björn Öst"
    assert session.scalar(select(func.count()).select_from(ConsentEvent)) == 2


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (",No Id,91234567,nb,Gate 1,60.39,5.32,home", "missing external_id"),
        ("x1,No Phone,,nb,Gate 1,60.39,5.32,home", "missing phone"),
        ("x2,Bad Phone,12345,nb,Gate 1,60.39,5.32,home", "'12345' is not a phone number"),
        ("x3,No Lat,91234567,nb,Gate 1,,5.32,home", "missing lat"),
        ("x4,Text Lat,91234567,nb,Gate 1,north,5.32,home", "lat is not a number"),
        ("x5,Far Lat,91234567,nb,Gate 1,91,5.32,home", "lat 91 is out of range"),
        ("x6,Far Lon,91234567,nb,Gate 1,60.39,181,home", "lon 181 is out of range"),
        ("x7,Nonsense,91234567,qq,Gate 1,60.39,5.32,home", "unknown language code"),
        ("x8,Odd Label,91234567,nb,Gate 1,60.39,5.32,boat", "unknown label"),
    ],
)
def test_each_kind_of_bad_row_is_refused_with_line_and_reason(session, row, reason):
    report = run_import(
        session, HEADER + "ok1,Good,+4791234567,nb,Gate 2,60.39,5.32,home\n" + row + "\n"
    )
    assert report.imported == 1  # the good row still goes in
    assert len(report.refused) == 1
    line, why = report.refused[0]
    assert line == 3 and reason in why


def test_reimporting_the_same_file_changes_nothing(session):
    text = (
        HEADER
        + "r1,Kari,91234567,nb,Gate 1,60.39,5.32,home\nr1,Kari,91234567,nb,Hytta,61,6,cabin\n"
    )
    first = run_import(session, text)
    second = run_import(session, text)
    assert (first.imported, second.imported, second.updated, second.unchanged) == (1, 0, 0, 1)
    assert session.scalar(select(func.count()).select_from(Resident)) == 1
    assert session.scalar(select(func.count()).select_from(Location)) == 2


def test_a_changed_row_updates_the_resident_in_place(session):
    run_import(session, HEADER + "r1,Kari,91234567,nb,Gate 1,60.39,5.32,home\n")
    report = run_import(session, HEADER + "r1,Kari Nordmann,91234567,en,Gate 9,60.40,5.33,home\n")
    assert (report.imported, report.updated) == (0, 1)
    kari = session.scalar(select(Resident))
    session.refresh(kari)
    assert (kari.name, kari.language, kari.locations[0].address) == (
        "Kari Nordmann",
        "en",
        "Gate 9",
    )
    assert len(kari.locations) == 1


def test_rows_with_one_external_id_and_several_labels_are_one_residents_places(session):
    run_import(
        session,
        HEADER
        + "r1,Ola,91234567,nb,Heime 1,60.39,5.32,home\n"
        + "r1,Ola,91234567,nb,Hytta,61.1,7.2,cabin\n"
        + "r1,Ola,91234567,nb,Kontoret,60.40,5.30,work\n",
    )
    ola = session.scalar(select(Resident))
    assert sorted(loc.label for loc in ola.locations) == ["cabin", "home", "work"]


def test_a_household_shares_one_phone(session):
    run_import(
        session,
        HEADER
        + "h1,Mor,91234567,nb,Heime 1,60.39,5.32,home\n"
        + "h2,Far,+47 912 34 567,nb,Heime 1,60.39,5.32,home\n",
    )
    phones = session.scalars(select(Resident.phone)).all()
    assert phones == ["+4791234567", "+4791234567"]


def test_fixed_line_numbers_are_kept_but_unreachable(session):
    run_import(session, HEADER + "f1,Fast,22 12 34 56,nb,Gate 1,60.39,5.32,home\n")
    resident = session.scalar(select(Resident))
    assert resident.phone == "+4722123456" and resident.reachable is False


def test_geojson_points_are_imported_like_csv_rows(session):
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [5.32, 60.39]},
                "properties": {
                    "external_id": "g1",
                    "name": "Søren",
                    "phone": "91234567",
                    "language": "da",
                    "label": "home",
                },
            },
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[5, 60], [6, 61]]},
                "properties": {"external_id": "g2", "phone": "91234568"},
            },
        ],
    }
    report = import_bytes(session, "register.geojson", json.dumps(doc).encode(), "NO", "nb")
    assert report.imported == 1
    assert report.refused == [(2, "geometry is LineString, not a Point")]
    location = session.scalar(select(Location))
    assert (location.lon, location.lat) == (5.32, 60.39)


def test_a_csv_without_the_needed_columns_is_refused_whole(session):
    with pytest.raises(RegisterFileError, match="lacks"):
        run_import(session, "id,telephone\n1,91234567\n")


def test_cli_import_prints_a_summary_and_the_refused_lines(cli, tmp_path):
    path = tmp_path / "register.csv"
    path.write_text(
        HEADER + "r1,Kari,91234567,nb,Gate 1,60.39,5.32,home\nr2,Per,nope,nb,G,60,5,home\n"
    )
    result = cli("residents", "import", path)
    assert result.exit_code == 1, result.output  # refused rows are a failure to script against
    assert "1 imported, 0 updated, 0 unchanged, 1 refused" in result.output
    assert "register.csv:3: refused: 'nope' is not a phone number" in result.output
