"""Texts per language on the compose page: a template fills one box per language the area has,
with dates the reader's way; languages the template lacks stay empty and the form says who gets
the default text and what it costs them; the SMS arrive that way."""

from __future__ import annotations

import json

from browsing import screenshot, sign_in
from playwright.sync_api import expect
from stack import add_resident, configure, wait_for
from staff_helpers import make_staff
from test_compose import CENTRE, draw_square

LANGUAGES = ["nn", "nn", "ar", "ar", "ar", "pl", "nb", "nb", "en"]


def seed(app) -> dict[str, str]:
    """Residents a few metres around the map's centre; phone → language."""
    phones = {}
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        for i, lang in enumerate(LANGUAGES):
            phone = f"+4792000{i:03d}"
            add_resident(
                s, phone, CENTRE[0] + 0.0002 * (i % 3), CENTRE[1] + 0.0001 * (i // 3), lang
            )
            phones[phone] = lang
        s.commit()
        s.close()
    return phones


def test_template_gives_nynorsk_a_norwegian_date_and_others_the_default(app, stack, page):
    configure(app, sms_rate_per_second=200.0, sweep_interval_s=0.3)
    phones = seed(app)
    make_staff(app, "co@example.org", "coordinator")
    s = stack(workers=1)
    sign_in(page, s.url, "co@example.org")
    page.goto(f"{s.url}/alerts/new")
    draw_square(page)
    expect(page.locator("#count-residents")).to_have_text("9")
    expect(page.locator("#languages")).to_contain_text("Norwegian Nynorsk 2")

    page.get_by_label("Area name").fill("Voss")
    page.get_by_label("Start").fill("2026-12-03T08:00")
    page.get_by_label("Template").select_option("water_shutoff")
    nynorsk = "Vatnet blir stengt i Voss frå 3. des. kl. 08:00. Fyll nokre flasker før det."
    expect(page.locator("#text_nn")).to_have_value(nynorsk)
    expect(page.locator("#text_en")).to_have_value(
        "The water will be shut off in Voss from 3 Dec, 08:00. Fill a few bottles before then."
    )
    expect(page.locator("#text_default")).to_have_value(
        "Vannet blir stengt i Voss fra 3. des. kl. 08:00. Fyll noen flasker før det."
    )
    # no Arabic or Polish template: their boxes stay empty, and the form says what that means;
    # bokmål (DEFAULT_LANGUAGE) is the default text itself
    for lang in ("ar", "pl", "nb"):
        box = page.locator(f"#text_{lang}")
        expect(box).to_have_value("")
        expect(box).to_have_attribute("placeholder", "Empty: these residents get the default text.")
    expect(page.get_by_label("Message in Arabic (empty: the default is used)")).to_be_visible()
    expect(page.locator("#default-recipients")).to_have_text(
        "4 residents (Arabic, Polish) get the default text: 1 SMS part each"
    )
    expect(page.locator('.text-field[data-lang="nn"] .counter')).to_have_text(
        f"{len(nynorsk)} characters · GSM-7 · 1 SMS part"
    )
    expect(page.locator("#total-parts")).to_have_text("About 9 SMS parts in total")
    screenshot(page, "compose_languages")

    # a text of its own for Polish: only the Arabic speakers get the default now
    page.locator("#text_pl").fill("Woda zostanie zamknięta w Voss 3 grudnia o 08:00.")
    expect(page.locator("#default-recipients")).to_have_text(
        "3 residents (Arabic) get the default text: 1 SMS part each"
    )

    # a review at once after a change waits for the texts to follow it
    page.get_by_label("Area name").fill("Vangen")
    page.get_by_role("button", name="Review and send…").click()
    expect(page.locator("#confirm-text")).to_have_text("Send to 9 phones in Vangen")
    expect(page.locator("#text_nn")).to_have_value(nynorsk.replace("Voss", "Vangen"))
    page.locator("#confirm-send").click()
    expect(page.locator("#alert-status")).to_be_visible()
    wait_for(lambda: len(s.sim.messages()) == 9, timeout=30, message="9 SMS")
    bodies = {m["to"]: m["body"] for m in s.sim.messages()}
    default = "Vannet blir stengt i Vangen fra 3. des. kl. 08:00. Fyll noen flasker før det."
    for phone, lang in phones.items():
        expected = {
            "nn": nynorsk.replace("Voss", "Vangen"),
            "pl": "Woda zostanie zamknięta w Voss 3 grudnia o 08:00.",
        }
        if lang == "en":
            assert "from 3 Dec, 08:00." in bodies[phone]
        else:
            assert bodies[phone] == expected.get(lang, default), (lang, bodies[phone])


def test_the_default_line_and_plurals_in_norwegian(app, stack, page, tmp_path):
    seed(app)
    make_staff(app, "co@example.org", "coordinator", language="nb")
    s = stack(workers=0)
    sign_in(page, s.url, "co@example.org")
    page.goto(f"{s.url}/alerts/new")
    lon, lat = CENTRE
    square = [[lon - 0.01, lat - 0.01], [lon + 0.01, lat - 0.01], [lon + 0.01, lat + 0.01]]
    square.append([lon - 0.01, lat + 0.01])
    path = tmp_path / "area.geojson"
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [[*square, square[0]]]}))
    page.locator("#upload-area").set_input_files(str(path))
    expect(page.locator("#count-residents")).to_have_text("9")
    page.locator("#template").select_option("all_clear")
    page.locator("#area-name").fill("Voss")
    page.locator("#end-time").fill("2026-12-04T18:30")
    expect(page.locator("#text_nn")).to_have_value(
        "Faren er over i Voss frå 4. des. kl. 18:30. Takk for tolmodet."
    )
    expect(
        page.get_by_label("Melding på norsk nynorsk (tom: standardmeldingen brukes)")
    ).to_be_visible()
    expect(page.locator("#default-recipients")).to_have_text(
        "4 innbyggere (arabisk, polsk) får standardmeldingen: 1 SMS-del hver"
    )
    expect(page.locator('.text-field[data-lang="nn"] .counter')).to_contain_text("1 SMS-del")
    expect(page.locator("#total-parts")).to_have_text("Omtrent 9 SMS-deler totalt")
