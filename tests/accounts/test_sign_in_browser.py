"""What a person sees when signing in, in a real Chromium against a real server."""

import pytest

from tests.support import screenshot

pytestmark = pytest.mark.browser

LANDING = {
    "dispatcher": ("/console/", "Dispatch"),
    "supervisor": ("/wall/", "Live wall"),
    "officer": ("/mdt/", "MDT"),
}


@pytest.mark.parametrize("role", LANDING)
def test_each_role_signs_in_and_lands_on_its_page(sign_in, make_user, live_url, role):
    make_user(role, role)
    page = sign_in(role)
    path, nav_label = LANDING[role]
    assert page.url == f"{live_url}{path}"
    assert page.locator(".topnav a[aria-current=page]").inner_text() == nav_label
    screenshot(page, f"landing-{role}")


def test_the_administrator_lands_on_the_admin(sign_in, make_user, live_url):
    make_user("admin", "administrator", is_staff=True)
    page = sign_in("admin")
    assert page.url == f"{live_url}/admin/"
    assert "Beacon administration" in page.content()


def test_a_wrong_password_shows_a_sentence_on_the_page(sign_in, make_user):
    make_user("dana", "dispatcher")
    page = sign_in("dana", password="not-the-password")
    error = page.locator(".form-error").inner_text()
    assert "That user name and password do not match" in error
    screenshot(page, "sign-in-failed")
