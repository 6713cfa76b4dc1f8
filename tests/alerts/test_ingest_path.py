"""The cheap ingest path: DeviceEventsView's answers, one database read per request, commands only when waiting."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from alerts import services
from alerts.models import Command, Device, DeviceCommand
from tests.alerts.conftest import event, next_frame, post_events

pytestmark = pytest.mark.django_db


CHALLENGE = 'Bearer realm="devices"'


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "Authentication credentials were not provided."),
        ("Basic dXNlcjpwdw==", "Send the device's token as Authorization: Bearer <token>."),
        ("Bearer ", "Send the device's token as Authorization: Bearer <token>."),
        (
            "Bearer not-a-token",
            "This device token is unknown or revoked; ask an administrator to issue the device a new one.",
        ),
    ],
    ids=["none", "basic", "empty", "unknown"],
)
def test_a_refused_token_gets_the_same_401_as_before_and_before_any_body_check(header, detail, camera):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    for content_type, raw in [("application/json", b"[]"), ("text/plain", b"x"), ("application/json", b"{")]:
        response = APIClient().generic("POST", "/api/v1/device/events", raw, content_type=content_type, **extra)
        assert response.status_code == 401
        assert response.content == ('{"detail":"' + detail + '"}').encode()
        assert response["Content-Type"] == "application/json"
        assert response["WWW-Authenticate"] == CHALLENGE


def test_other_methods_are_answered_by_the_drf_view(camera):
    _, _, token = camera
    client = APIClient()
    response = client.get("/api/v1/device/events", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "GET" not allowed.'}
    assert response["Allow"] == "POST, OPTIONS"
    assert client.options("/api/v1/device/events", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    assert client.get("/api/v1/device/events").status_code == 401


def test_the_answer_is_compact_json_as_drf_wrote_it(camera):
    _, _, token = camera
    fix = event("location", lat=38.6, lon=-90.2)
    response = post_events(fix, token)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "POST, OPTIONS"
    expected = '{"accepted":["' + fix["id"] + '"],"duplicates":[],"rejected":[],"commands":[]}'
    assert response.content == expected.encode()


def test_a_line_separator_in_a_reason_is_escaped(camera):
    _, _, token = camera
    response = post_events([{**event("battery"), "at": "\u2028"}], token)
    assert response.status_code == 400
    assert b"\\u2028" in response.content
    assert "\u2028".encode() not in response.content


def test_a_fix_costs_one_database_read(camera):
    _, _, token = camera
    post_events(event("location", lat=38.6, lon=-90.2), token)  # last seen stamped, approach cache loaded
    with CaptureQueriesContext(connection) as queries:
        assert post_events(event("location", lat=38.61, lon=-90.2), token).status_code == 200
    assert len(queries.captured_queries) == 1, [q["sql"] for q in queries.captured_queries]


def test_a_command_waiting_goes_with_the_next_answer_once(camera):
    _, device, token = camera
    DeviceCommand.objects.create(device=device, command=Command.START_STREAM, reason="supervisor asked")
    first = post_events(event("location", lat=38.6, lon=-90.2), token).json()
    assert first["commands"] == [{"type": "command", "command": "start_stream", "reason": "supervisor asked"}]
    assert post_events(event("location", lat=38.6, lon=-90.2), token).json()["commands"] == []


def test_commands_a_trigger_queues_come_back_in_its_own_answer(camera):
    _, _, token = camera
    answer = post_events(event("gunshot", lat=38.6, lon=-90.2), token).json()
    assert {c["command"] for c in answer["commands"]} == {"start_recording", "start_stream"}


def test_a_body_error_from_a_known_device_is_not_stored_and_does_not_touch_the_device(camera):
    _, device, token = camera
    response = post_events(None, token, content_type="text/plain", raw=b"x")
    assert response.status_code == 415
    device.refresh_from_db()
    assert device.last_seen_at is None


@pytest.mark.django_db(transaction=True)
async def test_a_device_socket_revoked_without_a_nudge_is_refused_at_its_next_message(make_unit, make_device, sockets):
    unit = await sync_to_async(make_unit)("2A33")
    device, token = await sync_to_async(make_device)("bc-1234", unit)
    socket, connected = await sockets.device(token)
    assert connected
    socket_battery = event("battery", data={"percent": 50})
    await socket.send_to(text_data=json.dumps(socket_battery))
    assert (await next_frame(socket))["accepted"] == [socket_battery["id"]]
    # Revoked behind the socket's back (no channel-layer message): the next stored event finds out.
    await Device.objects.filter(pk=device.pk).aupdate(revoked_at=device.token_issued_at)
    await socket.send_to(text_data=json.dumps(event("battery")))
    frame = await next_frame(socket)
    assert frame["type"] == "error" and "revoked" in frame["detail"]
    assert (await next_frame(socket)) == {"close": 4001}


@pytest.mark.django_db(transaction=True)
async def test_a_device_socket_follows_its_officer_to_another_unit(make_unit, make_device, sockets):
    first = await sync_to_async(make_unit)("2A33")
    second = await sync_to_async(make_unit)("2A34")
    device, token = await sync_to_async(make_device)("bc-1234", first)
    socket, _ = await sockets.device(token)
    officer = await sync_to_async(lambda: device.officer)()
    officer.unit = second
    await officer.asave(update_fields=["unit"])
    await socket.send_to(text_data=json.dumps(event("battery")))
    await next_frame(socket)
    fix = event("location", lat=38.6, lon=-90.2)
    await socket.send_to(text_data=json.dumps(fix))
    assert (await next_frame(socket))["accepted"] == [fix["id"]]
    from dispatch.avl import _take_buffer

    assert [f[0] for f in _take_buffer()] == [second.pk]


def test_device_still_valid_reads_one_row(camera):
    _, device, _ = camera
    with CaptureQueriesContext(connection) as queries:
        assert services.device_still_valid(device)
    assert len(queries.captured_queries) == 1
    assert device.has_pending is False


def test_a_held_device_follows_its_officer_to_another_unit_at_the_next_request(camera, make_unit):
    from dispatch.avl import _take_buffer

    _, device, token = camera
    post_events(event("location", lat=38.6, lon=-90.2), token)
    second = make_unit("2A34")
    device.officer.unit = second
    device.officer.save(update_fields=["unit"])
    _take_buffer()
    assert post_events(event("location", lat=38.6, lon=-90.2), token).status_code == 200
    assert [f[0] for f in _take_buffer()] == [second.pk]


def test_a_held_device_deactivated_or_revoked_is_refused_at_the_next_request(camera):
    _, device, token = camera
    assert post_events(event("battery"), token).status_code == 200
    Device.objects.filter(pk=device.pk).update(active=False)
    assert post_events(event("battery"), token).status_code == 401
    Device.objects.filter(pk=device.pk).update(active=True)
    assert post_events(event("battery"), token).status_code == 200
    services.device_revoke_token(device=device)
    assert post_events(event("battery"), token).status_code == 401


def test_last_seen_is_written_once_per_interval_across_requests(camera):
    _, device, token = camera
    post_events(event("battery"), token)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            post_events(event("location", lat=38.6, lon=-90.2), token)
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    device.refresh_from_db()
    assert device.last_seen_at is not None
