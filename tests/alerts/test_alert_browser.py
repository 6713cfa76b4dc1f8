"""A weapon drawn, as the dispatcher and a nearby officer see it in Chromium, live."""

import re

import httpx
import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from alerts import services
from alerts.models import Device
from dispatch.models import Unit
from tests.alerts.conftest import event
from tests.support import screenshot

pytestmark = pytest.mark.browser

# The officer's car, and the scene about 1.1 km due west of it (inside the 2-mile radius).
CAR = (38.6426, -90.3237)
SCENE = (38.6426, -90.3363)


@pytest.fixture
def scene(live_url):
    """The demo agency: the officer's car parked at CAR, and another unit's body camera with a token."""
    call_command("demo", force=True, verbosity=0)
    mine = Unit.objects.get(officers__user__username="officer")
    Unit.objects.filter(pk=mine.pk).update(lat=CAR[0], lon=CAR[1], position_at=timezone.now())
    other = Unit.objects.exclude(pk=mine.pk).filter(officers__isnull=False).order_by("call_sign").first()
    camera = Device.objects.of_unit(other.pk).filter(kind="body_camera").first()
    token = services.device_issue_token(device=camera)
    return other, token


def test_a_weapon_drawn_reaches_the_console_with_a_tone_and_the_nearby_mdt_with_where_it_is(sign_in, scene):
    other, token = scene
    dispatcher = sign_in("dispatcher", password="beacon-demo")
    officer = sign_in("officer", password="beacon-demo", viewport=(1024, 768))
    expect(officer.locator("#unit-status")).to_be_visible()

    response = httpx.post(
        f"{dispatcher.url.split('/console')[0]}/api/v1/device/events",
        json=event("weapon_drawn", lat=SCENE[0], lon=SCENE[1]),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code < 300, response.text

    # The dispatcher: a banner naming the unit, and the tone until someone acknowledges.
    banner = dispatcher.locator(".alert-banner")
    expect(banner).to_contain_text("Weapon drawn", ignore_case=True, timeout=2000)
    expect(banner).to_contain_text(other.call_sign)
    expect(banner).to_contain_text("Not acknowledged")
    expect(dispatcher.locator("body")).to_have_attribute("data-tone", "on")

    # The nearby officer: the same alert, with how far and which way from the car, and Respond.
    mdt_banner = officer.locator(".alert-banner")
    expect(mdt_banner).to_contain_text("Weapon drawn", ignore_case=True, timeout=2000)
    expect(mdt_banner.locator(".alert-detail")).to_have_text(re.compile(r"^0\.\d mi W \(2[67]\d°\)$"))
    expect(mdt_banner.get_by_role("button", name="Respond")).to_be_visible()
    screenshot(officer, "mdt-nearby-alert")
    screenshot(dispatcher, "console-alert")

    dispatcher.locator("[data-action=ack]").click()
    expect(banner).to_contain_text("Acknowledged by")
    expect(dispatcher.locator("body")).not_to_have_attribute("data-tone", re.compile(".+"))
