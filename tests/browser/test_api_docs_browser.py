"""The API description page: Swagger UI (vendored, under the app's strict CSP) lists the
operations, and "Try it out" calls the API as the signed-in staff member."""

from __future__ import annotations

from browsing import screenshot, sign_in
from playwright.sync_api import expect
from staff_helpers import make_staff
from test_compose import seed_register


def test_staff_read_the_api_and_try_a_preview_as_themselves(app, stack, page):
    seed_register(app)
    make_staff(app, "viewer@example.org", "viewer")
    s = stack(workers=0)
    blocked: list[str] = []
    page.on(
        "console",
        lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
    )
    sign_in(page, s.url, "viewer@example.org")
    page.goto(f"{s.url}/api-docs")
    preview = page.locator(
        '.opblock-post:has(.opblock-summary-path[data-path="/api/v1/areas/preview"])'
    )
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/alerts").first).to_be_visible()
    preview.locator(".opblock-summary").click()
    preview.get_by_role("button", name="Try it out").click()
    preview.get_by_role("button", name="Execute").click()
    answer = preview.locator(".live-responses-table")
    expect(answer.locator("tbody .response-col_status")).to_have_text("200")
    expect(answer).to_contain_text('"residents": 3')
    screenshot(page, "api-docs")
    assert blocked == []
