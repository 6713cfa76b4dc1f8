"""Helpers for the console socket tests: sign-in cookies, event rows, consoles to open and read."""

import asyncio
import json
from contextlib import ExitStack

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.test import Client

from events.models import Event
from events.services import record_event
from tests.support import asgi_server

ORIGIN = "http://127.0.0.1"


def record(kind: str = "call.created", **data) -> Event:
    """Append one event in its own transaction, as a service would, and publish it on commit."""
    with transaction.atomic():
        return record_event(kind, data)


def record_many(count: int, **data) -> list[int]:
    """Append `count` events, each in its own transaction; their sequence numbers."""
    return [record("call.updated", n=n, **data).seq for n in range(count)]


def session_cookie(user) -> str:
    """A Cookie header value for a real signed-in session of `user`."""
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def next_frame(console: WebsocketCommunicator, timeout: float = 5) -> dict:
    """The next JSON frame, or {"close": code} when the server closes the socket."""
    message = await console.receive_output(timeout)
    if message["type"] == "websocket.close":
        return {"close": message.get("code")}
    assert message["type"] == "websocket.send", message
    return json.loads(message["text"])


async def next_frame_of(console: WebsocketCommunicator, *types: str, timeout: float = 5) -> dict:
    """The next frame of one of `types` (or a close), skipping heartbeats and positions."""
    while True:
        frame = await next_frame(console, timeout)
        if "close" in frame or frame["type"] in types:
            return frame


async def event_seqs(console: WebsocketCommunicator, until: int, timeout: float = 10) -> list[int]:
    """Sequence numbers of the event frames received up to and including `until`."""
    seqs: list[int] = []
    while not seqs or seqs[-1] < until:
        frame = await next_frame_of(console, "event", "snapshot", timeout=timeout)
        assert frame.get("type") == "event", frame
        seqs.append(frame["seq"])
    return seqs


@pytest.fixture
def dispatcher(make_user):
    return make_user("dana", "dispatcher")


@pytest.fixture
async def open_console():
    """Open /ws/console/ through the real ASGI stack (Origin check, session auth); closes them after."""
    from config.asgi import application
    from events import hub

    opened: list[WebsocketCommunicator] = []

    async def open_(user=None, path: str = "/ws/console/", origin: str = ORIGIN):
        headers = [(b"origin", origin.encode())]
        if user is not None:
            headers.append((b"cookie", (await sync_to_async(session_cookie)(user)).encode()))
        console = WebsocketCommunicator(application, path, headers=headers)
        opened.append(console)
        connected, _ = await console.connect()
        return console, connected

    yield open_
    for console in opened:
        if not console.future.done():
            await console.disconnect()
    running = hub._hubs.get(asyncio.get_running_loop())
    if running is not None:
        await running.stop()


# --- Real servers on real sockets ---


@pytest.fixture
def start_server():
    """Start the product's ASGI app under "daphne" or "uvicorn" (tests.support.asgi_server); its ws:// console URL.

    The server runs on tests/events/server_settings.py; keyword arguments go
    into its environment (BEACON_TEST_HEARTBEAT_SECONDS="4", LOG_LEVEL="ERROR").
    """
    with ExitStack() as servers:

        def start(kind: str, **env_overrides: str) -> str:
            env = {"DJANGO_SETTINGS_MODULE": "tests.events.server_settings", **env_overrides}
            url = servers.enter_context(asgi_server(env, server=kind))
            return url.replace("http://", "ws://", 1) + "/ws/console/"

        yield start


def origin_of(url: str) -> str:
    """The site's own Origin for a ws:// URL."""
    return "http://" + url.split("/")[2]
