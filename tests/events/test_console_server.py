"""The console socket on a real server, over a real TCP socket, signed in with a real session cookie.

Events are recorded in this (the test) process. Without REDIS_URL, the
server's hub finds them in the event log at its heartbeat (1 s here), the
path that covers a lost publish; with REDIS_URL they travel through Redis.
"""

import asyncio
import json
import socket
import time

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.events.conftest import origin_of, record_many, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


async def open_socket(url: str, cookie: str, **options) -> ClientConnection:
    return await connect(url, origin=origin_of(url), additional_headers={"Cookie": cookie}, **options)


async def next_json(ws: ClientConnection, timeout: float = 10) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def receive_events(ws: ClientConnection, until: int, timeout: float = 10) -> list[int]:
    """Sequence numbers of event frames up to `until`; a snapshot here would mean a lost stream."""
    seqs: list[int] = []
    while not seqs or seqs[-1] < until:
        frame = await next_json(ws, timeout)
        assert frame["type"] in {"event", "heartbeat", "positions"}, frame
        if frame["type"] == "event":
            seqs.append(frame["seq"])
    return seqs


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
async def test_a_signed_in_dispatcher_gets_the_snapshot_then_every_event_over_a_real_socket(
    start_server, dispatcher, server
):
    url = start_server(server)
    cookie = await sync_to_async(session_cookie)(dispatcher)
    async with await open_socket(url, cookie) as ws:
        snapshot = await next_json(ws)
        assert snapshot["type"] == "snapshot"
        seqs = await database_sync_to_async(record_many)(5)
        assert await receive_events(ws, until=seqs[-1]) == seqs
        heartbeat = await next_json(ws, timeout=5)
        while heartbeat["type"] != "heartbeat":
            heartbeat = await next_json(ws, timeout=5)
        assert heartbeat["seq"] == seqs[-1]

    later = await database_sync_to_async(record_many)(3)
    async with await open_socket(f"{url}?after={seqs[-1]}", cookie) as ws:
        assert await receive_events(ws, until=later[-1]) == later


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
async def test_a_handshake_from_another_origin_is_refused_with_403(start_server, dispatcher, server):
    url = start_server(server)
    cookie = await sync_to_async(session_cookie)(dispatcher)
    with pytest.raises(InvalidStatus) as refused:
        await connect(url, origin="https://evil.example", additional_headers={"Cookie": cookie})
    assert refused.value.response.status_code == 403


async def test_a_visitor_without_a_session_is_closed_with_4003(start_server):
    url = start_server("daphne")
    async with connect(url, origin=origin_of(url)) as ws:
        assert (await next_json(ws))["type"] == "error"
        with pytest.raises(ConnectionClosed) as closed:
            await next_json(ws)
    assert closed.value.rcvd.code == 4003


async def test_a_console_that_stops_reading_is_closed_with_4008_and_resumes_without_loss(start_server, dispatcher):
    # A console that never acknowledges (this one) is judged by its queue
    # alone. Uvicorn passes a full socket buffer back to the application (its
    # send waits), so the queue fills. Daphne buffers without limit below the
    # application instead; there only acknowledgements find a stalled console
    # (test_stall.py).
    url = start_server("uvicorn", BEACON_TEST_QUEUE_CAPACITY="50", BEACON_TEST_HEARTBEAT_SECONDS="0.5")
    cookie = await sync_to_async(session_cookie)(dispatcher)

    # Without per-message deflate, so the 32 kB events really weigh 32 kB on the wire.
    healthy = await open_socket(url, cookie, compression=None)
    # A console whose page froze: it stops reading after its snapshot. A fixed
    # receive buffer, so the kernel does not grow it to many MB.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.connect(("127.0.0.1", int(url.split(":")[2].split("/")[0])))
    stalled = await open_socket(url, cookie, sock=sock, compression=None, max_queue=2, ping_interval=None)
    try:
        await next_json(healthy)
        stalled_snapshot = await next_json(stalled)

        healthy_seqs: list[int] = []

        async def read_healthy():
            while True:
                frame = await next_json(healthy)
                if frame["type"] == "event":
                    healthy_seqs.append(frame["seq"])

        reader = asyncio.create_task(read_healthy())
        # 300 events of 32 kB at 50 a second: more than the socket buffers
        # between the server and the frozen page hold.
        seqs: list[int] = []
        for _ in range(60):
            seqs += await database_sync_to_async(record_many)(5, padding="x" * 32_000)
            await asyncio.sleep(0.1)
        recorded = time.monotonic()
        while (not healthy_seqs or healthy_seqs[-1] < seqs[-1]) and not reader.done():
            assert time.monotonic() - recorded < 5, "the healthy console was held up by the stalled one"
            await asyncio.sleep(0.05)
        reader.cancel()
        assert healthy_seqs == seqs

        # The frozen page wakes up: it reads what reached it, then the close.
        received: list[int] = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                frame = await next_json(stalled, timeout=20)
                if frame["type"] == "event":
                    received.append(frame["seq"])
        assert closed.value.rcvd.code == 4008
        assert len(received) < len(seqs)
    finally:
        await healthy.close()
        await stalled.close()

    last = received[-1] if received else stalled_snapshot["seq"]
    async with await open_socket(f"{url}?after={last}", cookie) as resumed:
        rest = await receive_events(resumed, until=seqs[-1])
    assert received + rest == seqs  # every event exactly once, in order


@pytest.mark.redis
async def test_an_event_recorded_in_one_process_reaches_consoles_of_other_processes_through_redis(
    start_server, dispatcher
):
    # A 60 s heartbeat: within the few seconds of this test only Redis can
    # carry the events; the log poll cannot.
    first = start_server("uvicorn", BEACON_TEST_HEARTBEAT_SECONDS="60")
    second = start_server("daphne", BEACON_TEST_HEARTBEAT_SECONDS="60")
    cookie = await sync_to_async(session_cookie)(dispatcher)
    async with await open_socket(first, cookie) as one, await open_socket(second, cookie) as two:
        await next_json(one)
        await next_json(two)
        started = time.monotonic()
        seqs = await database_sync_to_async(record_many)(5)
        assert await receive_events(one, until=seqs[-1], timeout=5) == seqs
        assert await receive_events(two, until=seqs[-1], timeout=5) == seqs
        assert time.monotonic() - started < 5
