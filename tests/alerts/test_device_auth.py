"""Device tokens: issued once, stored hashed, refused at once when revoked."""

import io

import pytest
from django.core.management import call_command

from alerts import services
from alerts.models import Device
from tests.alerts.conftest import event, next_frame, post_events

pytestmark = pytest.mark.django_db


def test_a_device_with_its_token_is_accepted(make_device):
    _, token = make_device("bc-1001")
    response = post_events(event("battery", data={"percent": 80}), token)
    assert response.status_code == 200, response.json()


def test_only_the_hash_of_a_token_is_stored(make_device):
    device, token = make_device("bc-1001")
    assert token not in device.token_hash
    assert device.token_hash == Device.hash_token(token)


def test_a_revoked_token_is_refused_at_once(make_device):
    device, token = make_device("bc-1001")
    services.device_revoke_token(device=device)
    response = post_events(event("battery"), token)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header", [None, "Bearer not-a-token", "Basic dXNlcjpwdw==", "Bearer "], ids=["none", "unknown", "basic", "empty"]
)
def test_a_request_without_a_valid_token_is_refused_with_401(header, make_device):
    from rest_framework.test import APIClient

    make_device("bc-1001")
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = APIClient().post("/api/v1/device/events", event("battery"), format="json", **extra)
    assert response.status_code == 401
    assert response.json()["detail"].endswith(".")


def test_the_device_token_command_prints_a_new_token_once_and_the_old_one_stops_working(make_device):
    _device, old = make_device("bc-1001")
    out, err = io.StringIO(), io.StringIO()
    call_command("device_token", "bc-1001", stdout=out, stderr=err)
    new = out.getvalue().strip()
    assert len(new) >= 40 and "\n" not in new
    assert post_events(event("battery"), new).status_code == 200
    assert post_events(event("battery"), old).status_code == 401


def test_the_device_token_command_names_an_unknown_device():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no device named 'bc-9'"):
        call_command("device_token", "bc-9")


@pytest.mark.django_db(transaction=True)
async def test_a_device_socket_with_a_revoked_token_is_closed_with_4001(make_device, sockets):
    from asgiref.sync import sync_to_async

    device, token = await sync_to_async(make_device)("bc-1001")
    await sync_to_async(services.device_revoke_token)(device=device)
    socket, connected = await sockets.device(token)
    assert connected
    assert "revoked" in (await next_frame(socket))["detail"]
    assert (await next_frame(socket)) == {"close": 4001}


@pytest.mark.django_db(transaction=True)
async def test_revoking_a_token_closes_the_devices_open_socket(make_device, sockets):
    from asgiref.sync import sync_to_async

    device, token = await sync_to_async(make_device)("bc-1001")
    socket, connected = await sockets.device(token)
    assert connected
    await sync_to_async(services.device_revoke_token)(device=device)
    frame = await next_frame(socket)
    assert frame["type"] == "error"
    assert (await next_frame(socket)) == {"close": 4001}
