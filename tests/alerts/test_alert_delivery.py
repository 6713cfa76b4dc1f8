"""An alert travels from a camera to a dispatcher's console socket through the event log, with its sequence."""

import pytest
from asgiref.sync import sync_to_async

from alerts.models import Alert, DeviceCommand
from events.models import Event
from tests.alerts.conftest import event, next_frame, next_frame_of, post_events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def camera(make_unit, make_device, rules):
    unit = make_unit("2A33", lat=38.6270, lon=-90.1994)
    device, token = make_device("bc-1234", unit)
    return unit, device, token


async def test_an_officer_down_posted_over_http_reaches_a_dispatchers_console_with_its_sequence(
    camera, dispatcher, sockets
):
    unit, _device, token = camera
    console, connected = await sockets.console(dispatcher)
    assert connected
    snapshot = await next_frame_of(console, "snapshot")

    down = event("officer_down", lat=38.6271, lon=-90.1990)
    response = await sync_to_async(post_events)(down, token)
    assert response.status_code == 200
    assert {c["command"] for c in response.json()["commands"]} == {"start_recording", "start_stream"}

    frame = await next_frame_of(console, "event")
    assert frame["event"] == "alert.raised"
    assert frame["seq"] > snapshot["seq"]
    alert = frame["data"]
    assert alert["kind"] == "officer_down"
    assert alert["severity"] == "high"
    assert alert["status"] == "raised"
    assert alert["unit"] == unit.pk
    assert alert["unit_call_sign"] == "2A33"
    assert alert["officer_name"] == "Officer 2A33"
    assert (alert["lat"], alert["lon"]) == (38.6271, -90.199)
    assert alert["live_feed"] == "/wall/?camera=bc-1234"
    assert alert["raised_at"]
    stored = await sync_to_async(Event.objects.get)(seq=frame["seq"])
    assert stored.kind == "alert.raised"
    assert stored.data["id"] == alert["id"]


async def test_an_officer_down_sent_over_the_device_socket_is_acknowledged_and_reaches_the_console(
    camera, dispatcher, sockets
):
    _, _device, token = camera
    console, _ = await sockets.console(dispatcher)
    snapshot = await next_frame_of(console, "snapshot")
    camera_socket, connected = await sockets.device(token)
    assert connected

    down = event("officer_down")
    await camera_socket.send_json_to([down, event("battery", lat=91, lon=0)])
    ack = await next_frame(camera_socket)
    assert ack["type"] == "ack"
    assert ack["accepted"] == [down["id"]]
    assert ack["rejected"][0]["index"] == 1
    commands = [await next_frame_of(camera_socket, "command") for _ in range(2)]
    assert {c["command"] for c in commands} == {"start_recording", "start_stream"}
    assert all("officer_down reported by bc-1234" in c["reason"] for c in commands)

    frame = await next_frame_of(console, "event")
    assert frame["event"] == "alert.raised"
    assert frame["seq"] > snapshot["seq"]
    assert frame["data"]["kind"] == "officer_down"

    await camera_socket.send_json_to(down)
    assert (await next_frame(camera_socket))["duplicates"] == [down["id"]]
    assert await sync_to_async(Alert.objects.count)() == 1


async def test_a_command_issued_elsewhere_is_pushed_down_an_open_device_socket(camera, sockets):
    unit, device, token = camera
    camera_socket, _ = await sockets.device(token)
    _partner, partner_token = await sync_to_async(_second_camera)(unit)
    # The partner's weapon_drawn commands every camera of the unit, this one included.
    response = await sync_to_async(post_events)(event("weapon_drawn"), partner_token)
    assert response.status_code == 200
    frames = [await next_frame_of(camera_socket, "command") for _ in range(2)]
    assert {f["command"] for f in frames} == {"start_recording", "start_stream"}
    assert await sync_to_async(DeviceCommand.objects.filter(device=device, delivered_at__isnull=True).exists)() is False


async def test_pending_commands_are_sent_when_the_device_connects(camera, sockets):
    unit, _device, token = camera
    _partner, partner_token = await sync_to_async(_second_camera)(unit)
    await sync_to_async(post_events)(event("gunshot"), partner_token)
    camera_socket, _ = await sockets.device(token)
    frames = [await next_frame_of(camera_socket, "command") for _ in range(2)]
    assert {f["command"] for f in frames} == {"start_recording", "start_stream"}


async def test_a_message_that_is_not_a_batch_gets_an_error_frame_and_the_socket_stays_open(camera, sockets):
    _, _, token = camera
    camera_socket, _ = await sockets.device(token)
    await camera_socket.send_to(text_data="[]")
    assert "empty" in (await next_frame(camera_socket))["detail"]
    await camera_socket.send_json_to(event("battery"))
    assert (await next_frame(camera_socket))["type"] == "ack"


def _second_camera(unit):
    from alerts import services
    from alerts.models import Device, DeviceKind

    device = Device.objects.create(name="car-2A33", kind=DeviceKind.IN_CAR_CAMERA, unit=unit)
    return device, services.device_issue_token(device=device)
