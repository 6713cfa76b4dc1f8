"""What an officer and a supervisor see of live video, in real Chromiums against a real server."""

import pytest

from alerts.models import DeviceKind
from liveview.models import LiveSession, LiveStream
from tests.support import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture
def mdt_unit(make_unit, make_camera, supervisor):
    """Unit 1A12 of Officer Maria Lopez, whose car's MDT has a camera; and Sergeant Sam Keller."""
    unit = make_unit("1A12", "mlopez", "Maria Lopez")
    make_camera("mdt-v-1a12", unit, kind=DeviceKind.MDT_CAMERA)
    return unit


def frames_decoded(page, device: str) -> int:
    return page.evaluate(
        "(device) => document.querySelector(`[data-camera='${device}'] video`)"
        "?.getVideoPlaybackQuality().totalVideoFrames ?? 0",
        device,
    )


def test_an_officer_goes_live_and_a_supervisor_watches_from_the_wall(sign_in, live_url, mdt_unit):
    wall = sign_in("sam")
    assert wall.url == f"{live_url}/wall/"
    wall.wait_for_selector("#no-live:not([hidden])")

    mdt = sign_in("mlopez", viewport=(1024, 768))
    assert mdt.url == f"{live_url}/mdt/"
    mdt.wait_for_selector("#watching:has-text('Nobody is watching')")
    mdt.click("#go-live")
    mdt.wait_for_selector("#live-badge", timeout=15_000)
    assert LiveStream.objects.get(ended_at__isnull=True).device.name == "mdt-v-1a12"

    tile = wall.locator("[data-camera='mdt-v-1a12']")
    tile.wait_for(timeout=10_000)  # the live.started event, no reload
    assert "1A12" in tile.inner_text()
    wall.select_option("#reason", "supervision")
    tile.get_by_role("button", name="Watch").click()
    wall.wait_for_function(
        "() => document.querySelector(\"[data-camera='mdt-v-1a12'] video\")"
        "?.getVideoPlaybackQuality().totalVideoFrames > 10",
        timeout=15_000,
    )
    before = frames_decoded(wall, "mdt-v-1a12")
    wall.wait_for_timeout(1000)
    assert frames_decoded(wall, "mdt-v-1a12") > before + 10
    head = tile.locator(".tile-head").inner_text()
    assert "MDT camera" in head
    assert "null" not in head
    assert "undefined" not in head
    screenshot(wall, "live-wall")

    mdt.wait_for_selector("#watching:has-text('Watching now: Sam Keller (supervision)')", timeout=10_000)
    screenshot(mdt, "mdt-live")
    session = LiveSession.objects.get()
    assert (session.viewer_name, session.reason, session.ended_at) == ("Sam Keller", "supervision", None)

    tile.get_by_role("button", name="Close").click()
    mdt.wait_for_selector("#watching:has-text('Nobody is watching')", timeout=10_000)
    mdt.click("#live-stop")
    wall.locator("[data-camera='mdt-v-1a12']").wait_for(state="detached", timeout=10_000)
    assert not LiveStream.objects.filter(ended_at__isnull=True).exists()
