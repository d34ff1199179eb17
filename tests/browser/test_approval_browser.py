"""Two-person approval and exercises in the browser: coordinator A sends an evacuation, it waits;
coordinator B sees it waiting, approves it in the confirmation dialog, and it is sent."""

from __future__ import annotations

from browsing import local_page, screenshot, sign_in
from playwright.sync_api import Page, expect
from sqlalchemy import delete, update
from staff_helpers import make_staff
from test_compose import draw_square, seed_register

from alerting.models import AppSetting, Resident, StaffUser


def default_policy(app) -> None:
    """The product's default (evacuation, fire, flood, gas and extreme need approval)."""
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        s.execute(delete(AppSetting))
        s.commit()
        s.close()


def compose_evacuation(page: Page, url: str) -> None:
    page.goto(f"{url}/alerts/new")
    draw_square(page)
    expect(page.locator("#count-phones")).to_have_text("3")
    page.get_by_label("Area name").fill("Strandvegen")
    page.get_by_label("Template").select_option("evacuation")
    page.get_by_label("Title (for staff)").fill("Evacuate Strandvegen")
    page.get_by_label("End (Europe/Oslo)").fill("2030-01-01T08:00")


def test_a_second_coordinator_approves_an_evacuation_and_it_is_sent(app, stack, page, browser):
    default_policy(app)
    seed_register(app)
    make_staff(app, "a@example.org", "coordinator")
    make_staff(app, "b@example.org", "coordinator")
    s = stack(workers=1)
    s.wait_workers()

    sign_in(page, s.url, "a@example.org")
    compose_evacuation(page, s.url)
    page.get_by_role("button", name="Review and send…").click()
    expect(page.locator("#confirm-text")).to_have_text("Send to 3 phones in Strandvegen")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#alert-status")).to_have_attribute("data-status", "pending_approval")
    expect(page.locator("#approval")).to_contain_text("Waiting for approval")
    expect(page.locator("#approve-button")).to_have_count(0)  # never the author
    expect(page.locator("#withdraw-button")).to_be_visible()
    screenshot(page, "approval_pending")
    assert s.sim.messages() == []

    with local_page(browser, app, viewport={"width": 1280, "height": 900}) as other:
        sign_in(other, s.url, "b@example.org")
        other.goto(f"{s.url}/alerts")
        waiting = other.locator("#waiting-approval")
        expect(waiting).to_contain_text("Waiting for your approval (1)")
        waiting.get_by_role("link", name="Evacuate Strandvegen").click()
        other.wait_for_load_state()  # Approve opens its dialog once the page script ran
        other.get_by_role("button", name="Approve").click()
        dialog = other.locator("#approve-dialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("it goes to 3 phones now")
        dialog.get_by_role("button", name="Back").click()
        expect(dialog).to_be_hidden()
        assert s.sim.messages() == []  # going back sent nothing
        other.get_by_role("button", name="Approve").click()
        dialog.get_by_role("button", name="Approve and send").click()
        expect(other.locator("#progress-text")).to_contain_text("3 of 3 delivered", timeout=30_000)
        expect(other.locator("#review-note")).to_have_text("Approved by b@example.org.")
    for phone in ("+4791000001", "+4791000002", "+4791000003"):
        assert len(s.sim.messages(to=phone)) == 1
    assert not s.sim.messages(to="+4791000004")


def test_compose_an_exercise_says_so_and_reaches_only_the_test_group(app, stack, page):
    seed_register(app)
    make_staff(app, "a@example.org", "coordinator")
    with app.app_context():
        db = app.extensions["alerting.sessionmaker"]()
        db.execute(update(StaffUser).values(phone="+4799000001"))
        db.execute(update(Resident).where(Resident.name == "B").values(exercise_volunteer=True))
        db.commit()
        db.close()
    s = stack(workers=1)
    s.wait_workers()
    sign_in(page, s.url, "a@example.org")
    page.goto(f"{s.url}/alerts/new")
    draw_square(page)
    expect(page.locator("#count-phones")).to_have_text("3")
    page.get_by_label("Area name").fill("Strandvegen")
    page.get_by_label("Template").select_option("water_shutoff")
    page.get_by_label("Exercise (only staff phones and volunteers; marked as an exercise)").check()
    page.get_by_role("button", name="Review and send…").click()
    expect(page.locator("#confirm-text")).to_have_text(
        "EXERCISE: send to 2 test-group phones in Strandvegen"
    )
    expect(page.locator("#exercise-reach")).to_contain_text("1 staff, 1 volunteers")
    screenshot(page, "exercise_compose")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#exercise-badge")).to_be_visible()
    expect(page.locator("#progress-text")).to_contain_text("2 of 2 delivered", timeout=30_000)
    [to_staff] = s.sim.messages(to="+4799000001")
    [to_volunteer] = s.sim.messages(to="+4791000002")
    assert to_staff["body"].startswith("EXERCISE: ")
    assert to_volunteer["body"].startswith("EXERCISE: ")  # B reads English
    assert not s.sim.messages(to="+4791000001") and not s.sim.messages(to="+4791000003")
