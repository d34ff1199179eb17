"""Send from the browser and watch delivery; cancel; follow-up; refusals; CSRF; languages."""

from __future__ import annotations

from browsing import screenshot, sign_in
from playwright.sync_api import Page, expect
from staff_helpers import make_staff
from test_compose import draw_square, seed_register


def compose_water_alert(page: Page, url: str) -> None:
    page.goto(f"{url}/alerts/new")
    draw_square(page)
    expect(page.locator("#count-phones")).to_have_text("3")
    page.get_by_label("Area name").fill("Strandvegen")
    page.get_by_label("Template").select_option("water_shutoff")


def test_send_watch_delivered_then_follow_up_to_the_same_recipients(app, stack, page):
    seed_register(app)
    make_staff(app, "co@example.org", "coordinator")
    s = stack(workers=1)
    s.wait_workers()
    sign_in(page, s.url, "co@example.org")
    compose_water_alert(page, s.url)
    page.get_by_role("button", name="Review and send…").click()
    expect(page.locator("#confirm-text")).to_have_text("Send to 3 phones in Strandvegen")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#progress-text")).to_contain_text("3 of 3 delivered", timeout=30_000)
    expect(page.locator('[data-count="delivered"]')).to_have_text("3")
    expect(page.locator("#alert-status")).to_have_attribute(
        "data-status", "completed", timeout=30_000
    )
    expect(page.locator("#cancel-button")).to_be_hidden()  # nothing left to cancel
    screenshot(page, "alert-delivered")
    first = page.url

    page.get_by_role("link", name="Send follow-up").click()
    expect(page.locator("#template")).to_have_value("all_clear")
    expect(page.locator("#text_default")).not_to_have_value("")
    page.get_by_role("button", name="Review and send…").click()
    expect(page.locator("#confirm-text")).to_have_text("Send to 3 phones in Strandvegen")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#progress-text")).to_contain_text("3 of 3 delivered", timeout=30_000)
    assert page.url != first
    for phone in ("+4791000001", "+4791000002", "+4791000003"):
        assert len(s.sim.messages(to=phone)) == 2
    assert not s.sim.messages(to="+4791000004")


def test_cancel_a_scheduled_alert(app, stack, page):
    seed_register(app)
    make_staff(app, "op@example.org", "operator")
    s = stack(workers=0)
    sign_in(page, s.url, "op@example.org")
    compose_water_alert(page, s.url)
    page.get_by_label("Schedule").check()
    page.get_by_label("Send at").fill("2030-01-01T08:00")
    page.get_by_role("button", name="Review and send…").click()
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#alert-status")).to_have_attribute("data-status", "scheduled")
    expect(page.get_by_label("Yes, cancel the alert")).to_be_hidden()  # the dialog will ask
    page.get_by_role("button", name="Cancel alert").click()
    page.get_by_role("button", name="Yes, cancel the alert").click()
    expect(page.locator("#alert-status")).to_have_attribute("data-status", "cancelled")
    expect(page.get_by_role("status")).to_contain_text("Alert cancelled")


def test_operator_is_refused_an_evacuation_alert(app, stack, page):
    seed_register(app)
    make_staff(app, "op@example.org", "operator")
    s = stack(workers=0)
    sign_in(page, s.url, "op@example.org")
    compose_water_alert(page, s.url)
    expect(page.locator('#category option[value="evacuation"]')).to_have_count(0)
    # a forged form: the server is the one that refuses
    page.evaluate("""() => {
        const select = document.getElementById('category');
        select.add(new Option('evacuation', 'evacuation'));
        select.value = 'evacuation';
    }""")
    page.get_by_role("button", name="Review and send…").click()
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("needs a coordinator")


def test_a_form_posted_without_its_csrf_token_is_refused(app, stack, page):
    make_staff(app, "ad@example.org", "admin")
    s = stack(workers=0)
    sign_in(page, s.url, "ad@example.org")
    page.goto(f"{s.url}/staff-users")
    screenshot(page, "staff-users")
    page.get_by_label("Email", exact=True).fill("new@example.org")
    page.locator("#new-password").fill("a long enough password")
    page.evaluate(
        "() => document.querySelectorAll('form.narrow input[name=csrf_token]')"
        ".forEach(e => e.remove())"
    )
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading")).to_have_text("The form could not be accepted")
    page.goto(f"{s.url}/staff-users")
    expect(page.get_by_text("new@example.org")).to_have_count(0)


def test_wrong_password_and_language_switch_and_admin_pages(app, stack, page, tmp_path):
    make_staff(app, "ad@example.org", "admin")
    s = stack(workers=0)
    page.goto(f"{s.url}/login")
    page.get_by_label("Email").fill("ad@example.org")
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong email or password")
    screenshot(page, "login")
    sign_in(page, s.url, "ad@example.org")
    page.get_by_label("Language").select_option("nb")
    page.get_by_role("button", name="Change").click()
    expect(page.get_by_role("link", name="Varsler")).to_be_visible()
    screenshot(page, "alerts-nb")
    page.get_by_label("Språk").select_option("en")
    page.get_by_role("button", name="Bytt").click()

    path = tmp_path / "register.csv"
    path.write_text(
        "external_id,name,phone,language,address,lat,lon,label\n"
        "r1,Kari,+4791234567,nb,Strandvegen 1,60.39,5.32,home\n"
        "r2,Bad,not-a-phone,nb,Somewhere,60.39,5.32,home\n"
    )
    page.goto(f"{s.url}/residents/import")
    page.get_by_label("Register file (CSV or GeoJSON)").set_input_files(str(path))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-report")).to_contain_text("1 imported")
    expect(page.locator("#refused")).to_contain_text("3")
    screenshot(page, "import")
    page.goto(f"{s.url}/residents")
    expect(page.get_by_text("Kari")).to_be_visible()
    screenshot(page, "residents")
    page.goto(f"{s.url}/audit")
    expect(page.get_by_text("register.import")).to_be_visible()
    screenshot(page, "audit")
    page.goto(f"{s.url}/settings")
    screenshot(page, "settings")
    page.goto(f"{s.url}/alerts")
    screenshot(page, "alerts")
