"""Fixtures for alerts tests: an agency with units and officers, devices with tokens, the policy, sockets."""

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from alerts import policy, services
from alerts.models import Device
from dispatch.models import Agency, IncidentType, Officer, Unit, UnitStatus, Vehicle

ORIGIN = "http://127.0.0.1"

# Downtown St. Louis, and points at known distances from it.
DOWNTOWN = (38.6270, -90.1994)


@pytest.fixture(autouse=True)
def _fresh_process_state(settings):
    """Tests flush positions themselves, and every test starts with empty per-process caches."""
    from dispatch import avl

    settings.POSITION_FLUSH_SECONDS = 0
    policy.forget_approaches()
    services._recent_fixes.clear()
    avl._take_buffer()  # fixes another test left unflushed
    yield
    policy.forget_approaches()
    avl._take_buffer()
    services._held.clear()
    services.close_db_thread_connections()  # sockets' database thread: no connection outlives the test


@pytest.fixture
def rules(db):
    """The default activation policy (a transactional test before this one may have flushed the migration's rows)."""
    policy.ensure_default_rules()


@pytest.fixture
def agency(db):
    return Agency.objects.create(name="St. Louis County Police", identifier="police.stlouisco.mo.us")


@pytest.fixture
def incident_types(db):
    for code, name in [("SHOOT", "Shooting"), ("MAYDAY", "Mayday - officer in trouble"), ("WEAPON", "Weapon")]:
        IncidentType.objects.get_or_create(code=code, defaults={"name": name, "default_priority": 1})


@pytest.fixture
def make_unit(agency):
    """A unit with one officer (optionally signed in as `user`), at an optional position."""

    def make(call_sign: str, status: str = UnitStatus.AVAILABLE, lat=None, lon=None, user=None) -> Unit:
        vehicle = Vehicle.objects.create(agency=agency, number=f"V-{call_sign}")
        unit = Unit.objects.create(agency=agency, call_sign=call_sign, status=status, vehicle=vehicle)
        if lat is not None:
            Unit.objects.filter(pk=unit.pk).update(lat=lat, lon=lon, position_at=timezone.now())
            unit.refresh_from_db()
        Officer.objects.create(agency=agency, name=f"Officer {call_sign}", badge=f"B{call_sign}", unit=unit, user=user)
        return unit

    return make


@pytest.fixture
def make_device(db):
    """A body camera worn by the unit's officer, with a fresh token; returns (device, token)."""

    def make(name: str, unit: Unit | None = None) -> tuple[Device, str]:
        officer = unit.officers.first() if unit is not None else None
        device = Device.objects.create(name=name, officer=officer)
        token = services.device_issue_token(device=device)
        device.refresh_from_db()
        return device, token

    return make


@pytest.fixture
def camera(make_unit, make_device, rules):
    """Unit 2A33 with body camera bc-1234 and its token: (unit, device, token)."""
    unit = make_unit("2A33")
    device, token = make_device("bc-1234", unit)
    return unit, device, token


@pytest.fixture
def dispatcher(make_user):
    return make_user("dana", "dispatcher")


@pytest.fixture
def supervisor(make_user):
    return make_user("sam", "supervisor")


def event(kind: str, at: datetime | None = None, **fields) -> dict:
    """One device event as a camera sends it."""
    moment = at or datetime.now(UTC)
    return {"id": str(uuid.uuid4()), "type": kind, "at": moment.isoformat().replace("+00:00", "Z"), **fields}


def post_events(body, token: str | None, content_type: str = "application/json", raw: bytes | None = None):
    """POST /api/v1/device/events as a camera does."""
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    data = raw if raw is not None else json.dumps(body)
    return client.generic("POST", "/api/v1/device/events", data, content_type=content_type, **headers)


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def next_frame(socket: WebsocketCommunicator, timeout: float = 5) -> dict:
    """The next JSON frame, or {"close": code}."""
    message = await socket.receive_output(timeout)
    if message["type"] == "websocket.close":
        return {"close": message.get("code")}
    return json.loads(message["text"])


async def next_frame_of(socket: WebsocketCommunicator, *types: str, timeout: float = 5) -> dict:
    """The next frame of one of `types` (or a close), skipping heartbeats and positions."""
    while True:
        frame = await next_frame(socket, timeout)
        if "close" in frame or frame["type"] in types:
            return frame


@pytest.fixture
async def sockets():
    """Open /ws/console/ and /ws/device/ through the real ASGI application; closes them after."""
    from config.asgi import application
    from events import hub

    opened: list[WebsocketCommunicator] = []

    async def open_(path: str, headers: list[tuple[bytes, bytes]]):
        socket = WebsocketCommunicator(application, path, headers=headers)
        opened.append(socket)
        connected, _ = await socket.connect()
        return socket, connected

    async def console(user):
        cookie = await sync_to_async(session_cookie)(user)
        return await open_("/ws/console/", [(b"origin", ORIGIN.encode()), (b"cookie", cookie.encode())])

    async def device(token: str | None):
        headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
        return await open_("/ws/device/", headers)

    yield type("Sockets", (), {"console": staticmethod(console), "device": staticmethod(device)})
    for socket in opened:
        if not socket.future.done():
            await socket.disconnect()
    running = hub._hubs.get(asyncio.get_running_loop())
    if running is not None:
        await running.stop()
