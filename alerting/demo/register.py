"""A synthetic but plausible register: residents clustered in Bergen's real neighbourhoods."""

from __future__ import annotations

import csv
import io
import random

# (neighbourhood, centre lat, centre lon, spread in degrees, share of residents, street names)
NEIGHBOURHOODS = [
    ("Sentrum", 60.3925, 5.3240, 0.006, 0.16, ["Strandgaten", "Torgallmenningen", "Øvregaten"]),
    ("Sandviken", 60.4100, 5.3190, 0.006, 0.10, ["Sandviksveien", "Øvre Sandviksvei"]),
    ("Møhlenpris", 60.3840, 5.3150, 0.004, 0.07, ["Welhavens gate", "Konsul Børs gate"]),
    ("Årstad", 60.3750, 5.3420, 0.008, 0.13, ["Årstadveien", "Kalfarveien", "Haukelandsveien"]),
    ("Laksevåg", 60.3860, 5.2880, 0.008, 0.10, ["Damsgårdsveien", "Gravdalsveien"]),
    ("Fyllingsdalen", 60.3500, 5.2930, 0.010, 0.12, ["Folke Bernadottes vei", "Spelhaugen"]),
    ("Fana", 60.3200, 5.3600, 0.015, 0.12, ["Nesttunbrekka", "Fanaveien", "Skjoldvegen"]),
    ("Åsane", 60.4650, 5.3300, 0.012, 0.12, ["Åsamyrane", "Myrdalsvegen", "Eidsvågveien"]),
    ("Arna", 60.4200, 5.4700, 0.010, 0.08, ["Arnavegen", "Ådnavegen"]),
]
CABINS = (60.5600, 5.0500, 0.08, ["Hytteveien", "Sjøbua", "Fjellstien"])  # Nordhordland coast

FIRST = [
    "Åse",
    "Øystein",
    "Ingrid",
    "Håkon",
    "Kari",
    "Ola",
    "Bjørn",
    "Sølvi",
    "Ævar",
    "Nora",
    "Emma",
    "Jakob",
    "Sofie",
    "Lars",
    "Marte",
    "Jørgen",
    "Tone",
    "Eirik",
    "Liv",
    "Anders",
]
LAST = [
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Bøe",
    "Sørensen",
    "Dahl",
    "Nygård",
    "Ødegård",
    "Haugland",
    "Aasen",
    "Myklebust",
    "Særheim",
    "Vik",
    "Lie",
    "Berge",
    "Strand",
    "Ås",
]
MOBILE_PREFIXES = ["40", "41", "46", "47", "48", "90", "91", "92", "93", "94", "95", "97", "98"]
# language shares, roughly Bergen's
LANGUAGES = [
    ("nb", 0.80),
    ("nn", 0.05),
    ("en", 0.05),
    ("pl", 0.04),
    ("sv", 0.02),
    ("uk", 0.02),
    ("ar", 0.01),
    ("da", 0.01),
]


def demo_register_csv(residents: int = 30_000, seed: int = 47) -> str:
    """CSV text in the import format, the same every time for the same seed."""
    rnd = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["external_id", "name", "phone", "language", "address", "lat", "lon", "label"])
    shares = [n[4] for n in NEIGHBOURHOODS]
    languages, weights = zip(*LANGUAGES, strict=True)
    household_phone = None
    for i in range(residents):
        name, lat, lon, spread, _share, streets = rnd.choices(NEIGHBOURHOODS, shares)[0]
        # every fifth resident shares the previous resident's phone (a household)
        if household_phone and rnd.random() < 0.2:
            phone = household_phone
        elif rnd.random() < 0.03:
            phone = f"55{rnd.randrange(100000, 999999)}"  # Bergen fixed line: no SMS
        else:
            phone = f"{rnd.choice(MOBILE_PREFIXES)}{rnd.randrange(100000, 999999)}"
        household_phone = phone
        row_id = f"demo-{i + 1:06d}"
        person = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
        language = rnd.choices(languages, weights)[0]
        address = f"{rnd.choice(streets)} {rnd.randrange(1, 120)}, {name}"
        plat, plon = rnd.gauss(lat, spread), rnd.gauss(lon, spread * 2)
        writer.writerow(
            [row_id, person, phone, language, address, f"{plat:.6f}", f"{plon:.6f}", "home"]
        )
        if rnd.random() < 0.1:
            clat, clon, cspread, cstreets = CABINS
            writer.writerow(
                [
                    row_id,
                    person,
                    phone,
                    language,
                    f"{rnd.choice(cstreets)} {rnd.randrange(1, 60)}",
                    f"{rnd.gauss(clat, cspread):.6f}",
                    f"{rnd.gauss(clon, cspread):.6f}",
                    "cabin",
                ]
            )
    return out.getvalue()
