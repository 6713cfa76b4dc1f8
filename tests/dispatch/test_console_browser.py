"""A dispatcher and an officer working one call, each in their own Chromium, live."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from dispatch.models import Unit, UnitStatus
from tests.support import screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def agency(live_url):
    """The demo agency, with every unit but the officer's off duty, so the officer's is the one recommended."""
    call_command("demo", force=True, verbosity=0)
    unit = Unit.objects.get(officers__user__username="officer")
    Unit.objects.exclude(pk=unit.pk).update(status=UnitStatus.OFF_DUTY)
    return unit


def sign_in_demo(sign_in, username, **kwargs):
    return sign_in(username, password="beacon-demo", **kwargs)


def test_a_call_goes_from_entry_to_close_on_both_screens_without_reload(sign_in, agency):
    dispatcher = sign_in_demo(sign_in, "dispatcher")
    officer = sign_in_demo(sign_in, "officer", viewport=(1024, 768))
    expect(officer.locator("#unit-status")).to_have_text("Available")

    # The dispatcher takes the call from the keyboard and places it on the map.
    dispatcher.keyboard.press("n")
    dispatcher.select_option("#nc-type", "FIGHT")
    dispatcher.fill("#nc-address", "7700 Forsyth Blvd")
    box = dispatcher.locator("#map").bounding_box()
    dispatcher.mouse.click(box["x"] + 40, box["y"] + box["height"] - 60)
    dispatcher.fill("#nc-caller", "Pat Doe")
    dispatcher.keyboard.press("Control+Enter")
    detail = dispatcher.locator("#call-detail")
    expect(detail).to_contain_text("Fight")
    number = dispatcher.locator(".call-item.selected .call-number").inner_text()

    # One click on the recommended unit dispatches it.
    dispatch_button = dispatcher.locator(f"[data-dispatch='{agency.pk}']")
    expect(dispatch_button).to_contain_text(agency.call_sign)
    dispatch_button.click()
    expect(dispatcher.locator(".call-item.selected")).to_contain_text(f"Resources assigned · {agency.call_sign}")

    # The MDT shows the call within a second, without reload.
    expect(officer.locator("#assigned-call")).to_contain_text(number, timeout=1000)
    expect(officer.locator("#assigned-call")).to_contain_text("7700 Forsyth Blvd")
    expect(officer.locator("#unit-status")).to_have_text("Dispatched")
    screenshot(officer, "mdt-dispatched")

    # The officer taps en route, then on scene; the dispatcher sees each change live.
    officer.click("[data-status=en_route]")
    expect(dispatcher.locator(".call-item.selected")).to_contain_text("Resources en route", timeout=2000)
    expect(dispatcher.locator(f"[data-unit='{agency.pk}']")).to_be_visible()
    expect(dispatcher.locator(".unit-group", has_text="En route")).to_contain_text(agency.call_sign)
    officer.click("[data-status=on_scene]")
    expect(dispatcher.locator(".call-item.selected")).to_contain_text("Resources on scene", timeout=2000)
    expect(dispatcher.locator(".unit-group", has_text="On scene")).to_contain_text(agency.call_sign)
    expect(officer.locator("#unit-status")).to_have_text("On scene")
    screenshot(dispatcher, "console-on-scene")

    # The dispatcher closes the call with a disposition; the unit is available on both screens.
    dispatcher.select_option("#close-disposition", "RPT")
    dispatcher.click("#call-detail button.btn-danger")
    expect(dispatcher.locator(".call-item", has_text=number)).to_have_count(0)
    expect(dispatcher.locator(".unit-group", has_text="Available")).to_contain_text(agency.call_sign)
    expect(officer.locator("#unit-status")).to_have_text("Available", timeout=2000)
    expect(officer.locator("#assigned-call")).to_contain_text("No call assigned.")
    screenshot(dispatcher, "console-closed")
    screenshot(officer, "mdt-available")


def test_an_officer_sees_a_refused_status_change_as_a_sentence(sign_in, agency):
    officer = sign_in_demo(sign_in, "officer", viewport=(1024, 768))
    expect(officer.locator("#unit-status")).to_have_text("Available")
    # "On scene" is not a move from available: the button is disabled rather than failing.
    expect(officer.locator("[data-status=on_scene]")).to_be_disabled()
    officer.click("[data-status=out_of_service]")
    expect(officer.locator("#unit-status")).to_have_text("Out of service")
