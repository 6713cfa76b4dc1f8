"""The console socket through the real ASGI stack, with real transactions (DESIGN.md, Contracts: Consoles)."""

import asyncio
import json
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import override_settings

from events.consumers import RESUME_HELP
from events.hub import ConsoleOutbox, publish_positions, send_message
from events.models import Event
from tests.events.conftest import event_seqs, next_frame, next_frame_of, record, record_many

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_console_gets_the_snapshot_first_then_every_event_in_order(open_console, dispatcher):
    await database_sync_to_async(record_many)(3)
    console, connected = await open_console(dispatcher)
    assert connected

    snapshot = await next_frame(console)
    assert snapshot["type"] == "snapshot"
    assert {"type", "seq", "calls", "units", "alerts"} <= set(snapshot)
    head = snapshot["seq"]

    created = await database_sync_to_async(record)("call.created", number="26-000123")
    more = await database_sync_to_async(record_many)(4)
    first = await next_frame_of(console, "event")
    assert first == {"type": "event", "seq": created.seq, "event": "call.created", "data": {"number": "26-000123"}}
    assert first["seq"] == head + 1
    assert await event_seqs(console, until=more[-1]) == more


async def test_events_committed_while_a_console_joins_are_neither_lost_nor_repeated(open_console, dispatcher):
    # A writer commits events all along while consoles connect, so some commit
    # between the console joining the hub and its snapshot. It paces itself so
    # that consoles not yet read stay within their queue's capacity.
    stop = threading.Event()
    written: list[int] = []

    def keep_writing():
        while not stop.is_set():
            written.append(record("call.updated").seq)
            time.sleep(0.002)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        consoles = []
        for _ in range(5):
            console, _ = await open_console(dispatcher)
            consoles.append(console)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.to_thread(writer.join)
    last = written[-1]
    for console in consoles:
        snapshot = await next_frame(console)
        seqs = await event_seqs(console, until=last) if snapshot["seq"] < last else []
        assert seqs == [seq for seq in written if seq > snapshot["seq"]]


async def test_resume_with_after_sends_exactly_the_events_after_it_in_order(open_console, dispatcher):
    seqs = await database_sync_to_async(record_many)(10)
    console, _ = await open_console(dispatcher, path=f"/ws/console/?after={seqs[3]}")
    assert await event_seqs(console, until=seqs[-1]) == seqs[4:]

    later = await database_sync_to_async(record)()
    assert (await next_frame_of(console, "event", "snapshot"))["seq"] == later.seq


async def test_a_resume_message_replays_the_events_after_the_given_sequence(open_console, dispatcher):
    seqs = await database_sync_to_async(record_many)(6)
    console, _ = await open_console(dispatcher)
    assert (await next_frame(console))["seq"] == seqs[-1]

    await console.send_to(text_data=json.dumps({"type": "resume", "after": seqs[1]}))
    assert await event_seqs(console, until=seqs[-1]) == seqs[2:]
    later = await database_sync_to_async(record)()
    assert (await next_frame_of(console, "event", "snapshot"))["seq"] == later.seq


@override_settings(CONSOLE_REPLAY_LIMIT=3)
async def test_a_gap_longer_than_the_replay_limit_gets_a_fresh_snapshot(open_console, dispatcher):
    seqs = await database_sync_to_async(record_many)(6)
    console, _ = await open_console(dispatcher, path=f"/ws/console/?after={seqs[0]}")
    snapshot = await next_frame_of(console, "event", "snapshot")
    assert snapshot["type"] == "snapshot"
    assert snapshot["seq"] == seqs[-1]


async def test_a_sequence_beyond_the_head_gets_a_fresh_snapshot(open_console, dispatcher):
    seqs = await database_sync_to_async(record_many)(2)
    console, _ = await open_console(dispatcher, path=f"/ws/console/?after={seqs[-1] + 100}")
    snapshot = await next_frame(console)
    assert (snapshot["type"], snapshot["seq"]) == ("snapshot", seqs[-1])


async def test_a_heartbeat_carrying_the_head_sequence_arrives_within_five_seconds(open_console, dispatcher):
    console, _ = await open_console(dispatcher)
    await next_frame(console)
    seqs = await database_sync_to_async(record_many)(2)
    started = time.monotonic()
    heartbeat = await next_frame_of(console, "heartbeat", timeout=5.5)
    assert time.monotonic() - started <= 5
    assert heartbeat == {"type": "heartbeat", "seq": seqs[-1]}


async def test_an_event_whose_publish_overtook_an_earlier_one_is_delivered_in_order(open_console, dispatcher):
    console, _ = await open_console(dispatcher)
    await next_frame(console)

    def commit_one_unpublished_then_one_published():
        with transaction.atomic():
            unpublished = Event.objects.create(kind="call.created", data={})  # its publish is "still on its way"
        return unpublished.seq, record("call.updated").seq

    first, second = await database_sync_to_async(commit_one_unpublished_then_one_published)()
    assert await event_seqs(console, until=second) == [first, second]


async def test_an_event_whose_publish_was_lost_arrives_by_the_next_heartbeat(open_console, dispatcher):
    console, _ = await open_console(dispatcher)
    await next_frame(console)

    def commit_unpublished():
        with transaction.atomic():
            return Event.objects.create(kind="alert.raised", data={"alert": 1}).seq

    lost = await database_sync_to_async(commit_unpublished)()
    frame = await next_frame_of(console, "event", timeout=6)
    assert (frame["seq"], frame["event"]) == (lost, "alert.raised")


async def test_positions_arrive_as_one_batch_with_the_latest_fix_per_unit(open_console, dispatcher):
    console, _ = await open_console(dispatcher)
    await next_frame(console)

    def publish_three_fixes():
        publish_positions([{"unit": 1, "lat": 38.60, "lon": -90.20, "at": "2026-01-01T00:00:00Z"}])
        publish_positions(
            [
                {"unit": 1, "lat": 38.61, "lon": -90.21, "at": "2026-01-01T00:00:01Z"},
                {"unit": 2, "lat": 38.70, "lon": -90.30, "at": "2026-01-01T00:00:01Z"},
            ]
        )

    await sync_to_async(publish_three_fixes)()
    frame = await next_frame_of(console, "positions", timeout=3)
    assert sorted(frame["units"], key=lambda fix: fix["unit"]) == [
        {"unit": 1, "lat": 38.61, "lon": -90.21, "at": "2026-01-01T00:00:01Z"},
        {"unit": 2, "lat": 38.70, "lon": -90.30, "at": "2026-01-01T00:00:01Z"},
    ]


@pytest.mark.parametrize("role", ["dispatcher", "supervisor", "officer"])
async def test_each_console_role_may_open_a_console(open_console, make_user, role):
    user = await sync_to_async(make_user)("pat", role)
    console, connected = await open_console(user)
    assert connected
    assert (await next_frame(console))["type"] == "snapshot"


async def test_an_anonymous_visitor_is_told_to_sign_in_and_closed_with_4003(open_console):
    console, _ = await open_console(None)
    error = await next_frame(console)
    assert error["type"] == "error"
    assert "Sign in" in error["detail"]
    assert await next_frame(console) == {"close": 4003}


async def test_a_user_without_a_console_role_is_closed_with_4003(open_console, make_user):
    admin = await sync_to_async(make_user)("root", "administrator")
    console, _ = await open_console(admin)
    assert (await next_frame(console))["type"] == "error"
    assert await next_frame(console) == {"close": 4003}


async def test_a_handshake_from_another_origin_is_refused(open_console, dispatcher):
    _, connected = await open_console(dispatcher, origin="https://evil.example")
    assert not connected


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        "[1, 2]",
        '{"type": "subscribe"}',
        '{"no": "type"}',
        '{"type": "resume"}',
        '{"type": "resume", "after": -1}',
        '{"type": "resume", "after": "x"}',
        '{"type": "resume", "after": true}',
        '{"type": "ack"}',
        '{"type": "ack", "seq": -3}',
        '{"type": "ack", "seq": 1.5}',
        "x" * 5000,
        b"\x00\x01",
    ],
)
async def test_a_bad_message_gets_an_error_frame_and_the_console_keeps_streaming(open_console, dispatcher, message):
    console, _ = await open_console(dispatcher)
    await next_frame(console)
    if isinstance(message, bytes):
        await console.send_to(bytes_data=message)
    else:
        await console.send_to(text_data=message)
    error = await next_frame_of(console, "error")
    assert error["detail"].endswith(RESUME_HELP)

    event = await database_sync_to_async(record)()
    assert (await next_frame_of(console, "event"))["seq"] == event.seq


async def test_a_malformed_after_in_the_address_gets_an_error_and_a_snapshot(open_console, dispatcher):
    console, _ = await open_console(dispatcher, path="/ws/console/?after=yesterday")
    assert (await next_frame(console))["type"] == "snapshot"  # the snapshot is always first
    assert "?after=" in (await next_frame(console))["detail"]


@override_settings(CONSOLE_ACCESS_RECHECK_SECONDS=0)
async def test_a_console_whose_role_was_removed_is_closed_at_its_next_message(open_console, dispatcher):
    console, _ = await open_console(dispatcher)
    await next_frame(console)
    await sync_to_async(dispatcher.groups.remove)(await sync_to_async(Group.objects.get)(name="dispatcher"))

    await console.send_to(text_data=json.dumps({"type": "resume", "after": 0}))
    assert (await next_frame_of(console, "error"))["detail"].startswith("Sign in")
    assert await next_frame_of(console, "event") == {"close": 4003}


@override_settings(CONSOLE_ACCESS_RECHECK_SECONDS=0)
async def test_a_silent_console_whose_account_was_deactivated_is_closed(open_console, dispatcher):
    console, _ = await open_console(dispatcher)
    await next_frame(console)
    dispatcher.is_active = False
    await sync_to_async(dispatcher.save)()
    assert await next_frame_of(console, "event", timeout=5) == {"close": 4003}


async def test_an_acknowledgement_is_taken_silently_and_the_console_keeps_streaming(open_console, dispatcher):
    # A first row, so the snapshot's sequence is a real one: after another
    # test's flush the log would be empty while sequences run on.
    await database_sync_to_async(record)()
    console, _ = await open_console(dispatcher)
    head = (await next_frame(console))["seq"]
    await console.send_to(text_data=json.dumps({"type": "ack", "seq": head}))
    event = await database_sync_to_async(record)()
    assert await next_frame_of(console, "event", "error") == {
        "type": "event",
        "seq": event.seq,
        "event": "call.created",
        "data": {},
    }


def stuck_outbox(capacity: int, **options) -> tuple[ConsoleOutbox, list[int], list[str]]:
    """An outbox whose socket never drains (a console that stopped reading, under a server
    that applies backpressure): the first send waits for ever."""
    stuck = asyncio.Event()
    closed_with: list[int] = []
    sent: list[str] = []

    async def send(message: dict) -> None:
        sent.append(message["text"])
        await stuck.wait()

    async def close(code: int) -> None:
        closed_with.append(code)

    return ConsoleOutbox(send=send, close=close, capacity=capacity, **options), closed_with, sent


def buffering_outbox(capacity: int, **options) -> tuple[ConsoleOutbox, list[int], list[str]]:
    """An outbox on a server that takes every frame at once however slow the console (Daphne)."""
    closed_with: list[int] = []
    sent: list[str] = []

    async def send(message: dict) -> None:
        sent.append(message["text"])

    async def close(code: int) -> None:
        closed_with.append(code)

    return ConsoleOutbox(send=send, close=close, capacity=capacity, **options), closed_with, sent


async def test_a_full_outbox_drops_positions_first_and_closes_with_4008_rather_than_drop_an_event():
    outbox, closed_with, sent = stuck_outbox(capacity=4)
    outbox.offer_event(1, send_message("e1"))  # written at once; the send waits on the socket
    outbox.offer_event(2, send_message("e2"))
    outbox.offer_droppable(send_message("positions"))
    outbox.offer_droppable(send_message("heartbeat"))
    outbox.offer_event(3, send_message("e3"))
    outbox.offer_event(4, send_message("e4"))  # full: the position and the heartbeat are dropped to make room
    outbox.offer_event(5, send_message("e5"))
    assert not outbox.closed and len(outbox) == 4
    outbox.offer_event(6, send_message("e6"))  # full of events: closing is the only way not to lose one
    await asyncio.sleep(0)
    assert outbox.closed
    assert closed_with == [4008]
    assert sent == ["e1"]


async def test_frames_go_out_in_order_once_a_waiting_send_completes():
    released = asyncio.Event()
    sent: list[str] = []

    async def send(message: dict) -> None:
        if message["text"] == "e1":
            await released.wait()
        sent.append(message["text"])

    async def close(code: int) -> None:
        raise AssertionError("closed")

    outbox = ConsoleOutbox(send=send, close=close, capacity=10)
    for seq in (1, 2, 3):
        outbox.offer_event(seq, send_message(f"e{seq}"))
    outbox.offer_droppable(send_message("heartbeat"))
    await asyncio.sleep(0.01)
    assert sent == []  # e1 waits for the socket, the others wait behind it
    released.set()
    await asyncio.sleep(0.01)
    assert sent == ["e1", "e2", "e3", "heartbeat"]
    outbox.offer_event(4, send_message("e4"))  # the writer has ended: straight to the socket
    assert sent[-1] == "e4"


async def test_a_console_more_than_its_capacity_behind_its_acknowledgements_is_closed_with_4008():
    # Daphne never makes a send wait, so the queue stays empty however far behind the console is.
    outbox, closed_with, sent = buffering_outbox(capacity=5)
    outbox.offer_event(1, send_message("e1"))
    outbox.acknowledge(1, now=0)
    for seq in range(2, 7):
        outbox.offer_event(seq, send_message(f"e{seq}"))
    assert not outbox.closed and len(outbox) == 0
    outbox.offer_event(7, send_message("e7"))  # 6 events past its acknowledgement
    await asyncio.sleep(0)
    assert outbox.closed
    assert closed_with == [4008]
    assert sent == [f"e{seq}" for seq in range(1, 7)]


async def test_a_console_that_keeps_acknowledging_is_never_closed():
    outbox, closed_with, _ = buffering_outbox(capacity=5, ack_silence=3)
    loop = asyncio.get_running_loop()
    for seq in range(1, 101):
        outbox.offer_event(seq, send_message(f"e{seq}"))
        if seq % 4 == 0:
            outbox.acknowledge(seq, now=loop.time())
        outbox.check_silence(loop.time() + 2)
    assert not outbox.closed and closed_with == []


async def test_a_console_silent_while_events_are_outstanding_is_closed_with_4008():
    outbox, closed_with, _ = buffering_outbox(capacity=100, ack_silence=3)
    outbox.offer_event(1, send_message("e1"))
    loop = asyncio.get_running_loop()
    outbox.acknowledge(1, now=loop.time())
    outbox.check_silence(loop.time() + 60)
    assert not outbox.closed  # nothing outstanding: an idle console owes no acknowledgement

    outbox.offer_event(2, send_message("e2"))
    outbox.acknowledge(1, now=loop.time() + 2)  # an acknowledgement without progress
    outbox.check_silence(loop.time() + 2.9)
    assert not outbox.closed
    outbox.check_silence(loop.time() + 3.1)
    await asyncio.sleep(0)
    assert outbox.closed
    assert closed_with == [4008]


async def test_a_console_that_never_acknowledges_is_judged_by_its_queue_alone():
    outbox, closed_with, _ = buffering_outbox(capacity=5, ack_silence=3)
    for seq in range(1, 50):
        outbox.offer_event(seq, send_message(f"e{seq}"))
    outbox.check_silence(asyncio.get_running_loop().time() + 60)
    assert not outbox.closed and closed_with == []


async def test_an_acknowledgement_beyond_what_was_sent_counts_only_what_was_sent():
    outbox, closed_with, _ = buffering_outbox(capacity=100, ack_silence=3)
    outbox.offer_event(1, send_message("e1"))
    now = asyncio.get_running_loop().time()
    outbox.acknowledge(1_000, now=now)
    assert outbox.acked_seq == 1
    outbox.offer_event(2, send_message("e2"))
    outbox.check_silence(now + 10)
    await asyncio.sleep(0)
    assert closed_with == [4008]


async def test_a_send_that_waits_on_a_future_is_finished_by_the_writer_and_may_be_cancelled():
    # The shape of uvicorn's send when the socket buffer is full: it awaits an asyncio.Event.
    writable = asyncio.Event()
    sent: list[str] = []

    async def send(message: dict) -> None:
        await writable.wait()
        sent.append(message["text"])

    async def close(code: int) -> None:
        pass

    outbox = ConsoleOutbox(send=send, close=close, capacity=10)
    outbox.offer_event(1, send_message("e1"))
    outbox.offer_event(2, send_message("e2"))
    await asyncio.sleep(0.01)
    writable.set()
    await asyncio.sleep(0.01)
    assert sent == ["e1", "e2"] and not outbox.closed

    writable.clear()
    outbox.offer_event(3, send_message("e3"))
    await asyncio.sleep(0.01)
    outbox.stop()  # the socket went away while the send waited
    await asyncio.sleep(0.01)
    writable.set()
    await asyncio.sleep(0.01)
    assert sent == ["e1", "e2"]
    assert not writable._waiters  # the cancelled send stopped waiting


def test_frames_go_to_the_servers_own_send_past_the_session_middleware():
    from channels.sessions import InstanceSessionWrapper

    from events.consumers import server_send

    async def server(message: dict) -> None:
        pass

    outer = InstanceSessionWrapper({"cookies": {}}, server)
    inner = InstanceSessionWrapper({"cookies": {}, "session": object()}, outer.send)
    assert server_send(inner.send) is server
    assert server_send(server) is server


async def test_a_log_that_went_back_makes_every_console_resume_with_a_fresh_snapshot(open_console, dispatcher):
    await database_sync_to_async(record_many)(3)
    console, _ = await open_console(dispatcher)
    assert (await next_frame(console))["type"] == "snapshot"
    # The database is restored to an older state: its newest events are gone.
    await database_sync_to_async(lambda: Event.objects.all().delete())()
    closed = await console.receive_output(timeout=6)  # the next heartbeat's log check sees it
    while closed["type"] != "websocket.close":
        closed = await console.receive_output(timeout=6)
    assert closed["code"] == 4008
