"""Fan-out of committed events and unit positions to this process's consoles.

One hub per event loop (one per server process in production). Each event is
serialized once, where it is published, and the same text is queued on every
local console's bounded outbox, which writes it straight to the socket while
the console keeps up and queues it behind a writer task when it does not, so
a slow console delays nobody else (notes/realtime.md: head-of-line blocking).
Consoles that fall behind are closed with 4008 and resume from the log.

Without REDIS_URL, `publish_event` hands the text straight to the hubs of this
process. With REDIS_URL it PUBLISHes to one Redis channel, and each process's
hub has one subscription that feeds it, its own publishes included.

Pub/sub is only the fast path. The hub delivers events strictly in sequence
order and fills any hole from the event log; at every heartbeat it also
reads the log's head, and reads the log when it holds more than was
delivered, so an event whose publish was lost (a process that died between
commit and publish, Redis down) still reaches the consoles within one
heartbeat. Nothing here needs an ASGI lifespan: the hub starts on the first
console connection of its event loop.
"""

import asyncio
import hashlib
import json
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections

from events.services import events_after, head_seq

logger = logging.getLogger(__name__)

# Rows fetched per query when filling a hole in the sequence from the log.
CATCH_UP_BATCH = 500
# How long the log's head may be ahead of the hub before it reads the log:
# a publish takes milliseconds, from this process or through Redis.
LOG_CHECK_GRACE = 0.25

# Redis message tags: b"e<seq> <event frame>" or b"p<json list of positions>".
_EVENT_TAG = b"e"
_POSITIONS_TAG = b"p"


def encode(frame: dict[str, Any]) -> str:
    """The JSON text of a frame, as sent on the socket."""
    return json.dumps(frame, separators=(",", ":"), cls=DjangoJSONEncoder)


def encode_event(event) -> str:
    """The text of an event's frame; the only serialization an event gets on its way out."""
    return encode(event.as_frame())


def _redis_url() -> str:
    return getattr(settings, "REDIS_URL", "") or ""


def _redis_channel() -> str:
    """The Redis channel of this database's event log.

    Sequence numbers only mean something within one log, so two deployments
    (or two test runs) sharing a Redis must not hear each other's events.
    """
    configured = getattr(settings, "CONSOLE_REDIS_CHANNEL", "")
    if configured:
        return configured
    db = connections["default"].settings_dict
    log = f"{db['ENGINE']}|{db.get('HOST') or ''}|{db.get('PORT') or ''}|{db['NAME']}"
    return "beacon:events:" + hashlib.sha256(log.encode()).hexdigest()[:16]


# --- Publishing (sync side: called from transaction.on_commit, in any thread) ---

_redis_clients: dict[str, Any] = {}


def _redis_client(url: str):
    # redis-py's sync client is thread-safe (a connection pool), so one per URL
    # serves every thread that commits.
    client = _redis_clients.get(url)
    if client is None:
        import redis

        client = _redis_clients[url] = redis.Redis.from_url(url, socket_timeout=2)
    return client


def _publish(message: bytes) -> bool:
    """PUBLISH to every process's hub; False when Redis is not configured."""
    url = _redis_url()
    if not url:
        return False
    try:
        _redis_client(url).publish(_redis_channel(), message)
    except Exception:
        # Never raise into on_commit: the change is committed. The hubs find the
        # event in the log at their next heartbeat.
        logger.exception("Publishing to Redis failed; consoles catch up from the event log.")
    return True


def publish_event(event) -> None:
    """Carry a committed event to the consoles of every process."""
    text = encode_event(event)
    if _publish(_EVENT_TAG + b"%d " % event.seq + text.encode()):
        return
    for hub in _live_hubs():
        hub.call_threadsafe(hub.take_event, event.seq, text)


def publish_positions(units: list[dict[str, Any]]) -> None:
    """Carry a batch of unit positions to the consoles (droppable, coalesced per unit)."""
    if not units:
        return
    if _publish(_POSITIONS_TAG + json.dumps(units, cls=DjangoJSONEncoder).encode()):
        return
    for hub in _live_hubs():
        hub.call_threadsafe(hub.take_positions, units)


# --- One console's outbound queue ---

_EVENT, _DROPPABLE, _FRAME, _STEP = range(4)

Message = dict[str, Any]


def send_message(text: str) -> Message:
    """The ASGI message that sends `text`; built once per frame and shared by every console."""
    return {"type": "websocket.send", "text": text}


async def _finish(coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
    """Drive to its end a coroutine that was started by hand and suspended on `waiting`.

    What a task does with a coroutine (and what Python 3.12's eager tasks do
    for its first step): wait for the future it yielded, then resume it,
    passing on a cancellation or an error.
    """
    while True:
        error = None
        try:
            if waiting is None:
                await asyncio.sleep(0)  # a bare yield: it only let others run
            else:
                # The yield marked the future as "awaited by a task"; a task
                # clears the mark when it takes the future (Task.__step), and
                # awaiting it again here needs it cleared.
                waiting._asyncio_future_blocking = False
                await waiting
        except BaseException as exc:  # a cancellation of this task goes to the send it waits in
            error = exc
        try:
            waiting = coro.send(None) if error is None else coro.throw(error)
        except StopIteration:
            return


class ConsoleOutbox:
    """One console's bounded outbound queue, written straight to the socket while it keeps up.

    A frame goes out at once, in the caller's task, when nothing is queued
    before it and the server takes it without waiting (the usual case): no
    task switch per frame per console. Only a send that has to wait (a server
    applying backpressure, such as uvicorn, with a full socket buffer) or a
    catch-up from the database starts the writer task, which drains the queue
    behind it and ends.

    Events are never dropped: when the queue is full, queued positions and
    heartbeats go first; if an event still does not fit, the socket is closed
    with 4008 and the console resumes from its last sequence.

    A server may also take every frame without waiting however slow the
    console is (Daphne buffers without limit below the application), so the
    queue alone would never fill. A console that acknowledges what it has
    applied ({"type": "ack", "seq": n}) is therefore also closed with 4008
    when it falls more than `capacity` events behind, or when events have
    been outstanding for `ack_silence` seconds without an acknowledgement
    that makes progress. A console that never acknowledges is judged by its
    queue alone.
    """

    OVERFLOW_CLOSE_CODE = 4008

    def __init__(
        self,
        send: Callable[[Message], Awaitable[None]],
        close: Callable[[int], Awaitable[None]],
        capacity: int,
        ack_silence: float = 10.0,
    ) -> None:
        self._send = send
        self._close = close
        self._capacity = capacity
        self._ack_silence = ack_silence
        self._items: deque[tuple[int, int, Any]] = deque()
        # Runs only while something is queued or a send is waiting; while it
        # runs, every frame goes behind the queue to keep the order.
        self._writer: asyncio.Task | None = None
        self._closer: asyncio.Task | None = None
        self.closed = False
        # The newest event this console has been sent (by snapshot, replay or
        # stream); queued events at or below it are skipped, which is what
        # makes "join, then snapshot" free of duplicates.
        self.sent_seq = 0
        # The newest event the console says it has applied; None until its
        # first acknowledgement. `outstanding_since`: when the oldest event it
        # has not acknowledged was sent, or when it last made progress.
        self.acked_seq: int | None = None
        self.outstanding_since: float | None = None

    def __len__(self) -> int:
        return len(self._items)

    # Offers, from the hub's fan-out and the consumer.

    def offer_event(self, seq: int, message: Message) -> None:
        """Send or queue an event, or close the console if it cannot keep up."""
        if self.closed:
            return
        if self.acked_seq is not None and seq - self.acked_seq > self._capacity:
            self.close_to_resume(f"it is {seq - self.acked_seq} events behind")
            return
        if self._writer is None:
            if seq > self.sent_seq:
                self._sent_event(seq)
                self._write_now(message)
        elif self._make_room():
            self._items.append((_EVENT, seq, message))

    def offer_frame(self, message: Message) -> None:
        """Send or queue a frame that must not be dropped (an error answer)."""
        if self.closed:
            return
        if self._writer is None:
            self._write_now(message)
        elif self._make_room():
            self._items.append((_FRAME, 0, message))

    def offer_droppable(self, message: Message) -> None:
        """Send or queue positions or a heartbeat unless the queue is full; a newer one follows."""
        if self.closed:
            return
        if self._writer is None:
            self._write_now(message)
        elif len(self._items) < self._capacity:
            self._items.append((_DROPPABLE, 0, message))

    def run_next(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run `step` in the writer before anything queued (snapshot, replay).

        It goes to the front so a console that asked to resume is not first
        sent queued events it would take for a new gap.
        """
        if self.closed:
            return
        self._items.appendleft((_STEP, 0, step))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())

    def stop(self) -> None:
        """Stop writing; the socket is gone."""
        self.closed = True
        self._items.clear()
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()

    # Acknowledgements.

    def acknowledge(self, seq: int, now: float) -> None:
        """The console has applied every event up to `seq`."""
        seq = min(seq, self.sent_seq)  # it cannot have applied what it was not sent
        if self.acked_seq is not None and seq <= self.acked_seq:
            return  # no progress: it does not reset the silence clock
        self.acked_seq = seq
        self.outstanding_since = None if seq >= self.sent_seq else now

    def check_silence(self, now: float) -> None:
        """Close the console if events have waited too long for an acknowledgement."""
        since = self.outstanding_since
        if not self.closed and since is not None and now - since > self._ack_silence:
            self.close_to_resume(f"it acknowledged nothing for {now - since:.0f} s")

    def _sent_event(self, seq: int) -> None:
        self.sent_seq = seq
        if self.acked_seq is not None and self.outstanding_since is None:
            self.outstanding_since = asyncio.get_running_loop().time()

    # Writing.

    def _write_now(self, message: Message) -> None:
        coro = self._send(message)
        try:
            waiting = coro.send(None)
        except StopIteration:
            return  # sent without waiting
        except Exception:
            logger.debug("Console socket gone.", exc_info=True)
            self.stop()  # the consumer's disconnect removes it from the hub
            return
        # The server needs this console's socket to drain first: the rest of
        # the send, and everything offered after it, goes through the writer.
        self._writer = asyncio.get_running_loop().create_task(self._write(coro, waiting))

    def _make_room(self) -> bool:
        if len(self._items) >= self._capacity:
            self._items = deque(item for item in self._items if item[0] != _DROPPABLE)
            if len(self._items) >= self._capacity:
                self.close_to_resume("its outbound queue is full")
                return False
        return True

    def close_to_resume(self, why: str) -> None:
        logger.warning("Closing a console with 4008 so that it resumes: %s.", why)
        self.stop()
        # The close may wait until the socket is writable again, so it runs in
        # its own task, never in the hub's fan-out.
        self._closer = asyncio.get_running_loop().create_task(self._close(self.OVERFLOW_CLOSE_CODE))

    async def _write(self, coro: Coroutine[Any, Any, Any] | None = None, waiting: Any = None) -> None:
        try:
            if coro is not None:
                await _finish(coro, waiting)
            while self._items:
                kind, seq, payload = self._items.popleft()
                if kind == _EVENT:
                    if seq <= self.sent_seq:
                        continue
                    self._sent_event(seq)
                    await self._send(payload)
                elif kind == _STEP:
                    await payload()
                else:
                    await self._send(payload)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.debug("Console writer stopped: the socket is gone.", exc_info=True)
            self.stop()  # the consumer's disconnect removes it from the hub
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None


# --- The hub ---


class Hub:
    """This event loop's consoles and the one feed of events and positions they share."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.consoles: set[ConsoleOutbox] = set()
        # The newest event delivered to the consoles; events arrive in any
        # order and are delivered in sequence order after it.
        self.head = 0
        self._inbox: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue()
        self._positions: dict[Any, dict[str, Any]] = {}
        self._tasks: list[asyncio.Task] = []
        self._starting: asyncio.Task | None = None
        self._log_check: asyncio.Task | None = None

    # Entry points from other threads and from the Redis subscription.

    def call_threadsafe(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            pass  # the loop closed since; nobody is listening to this hub

    def take_event(self, seq: int, text: str) -> None:
        self._inbox.put_nowait((seq, text))

    def take_positions(self, units: list[dict[str, Any]]) -> None:
        # Latest fix per unit wins until the next flush.
        for position in units:
            unit = position.get("unit") if isinstance(position, dict) else None
            if unit is not None:
                self._positions[unit] = position

    # Consoles.

    def add(self, outbox: ConsoleOutbox) -> None:
        """Start queueing events for a console; register before taking its snapshot."""
        self.consoles.add(outbox)

    def remove(self, outbox: ConsoleOutbox) -> None:
        self.consoles.discard(outbox)

    # Lifecycle.

    async def start(self) -> None:
        """Subscribe, read the log's head and start the delivery tasks (idempotent)."""
        if self._starting is None:
            self._starting = self.loop.create_task(self._start())
        try:
            await asyncio.shield(self._starting)
        except Exception:
            self._starting = None  # let the next console try again
            raise

    async def stop(self) -> None:
        """Cancel the hub's tasks (tests; a server just exits)."""
        if self._log_check is not None:
            self._tasks.append(self._log_check)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        with _hubs_lock:
            if _hubs.get(self.loop) is self:
                del _hubs[self.loop]

    async def _start(self) -> None:
        url = _redis_url()
        if url:
            # Subscribe before reading the head, so no event falls between.
            subscribed = asyncio.Event()
            self._tasks.append(self.loop.create_task(self._subscribe(url, subscribed)))
            try:
                await asyncio.wait_for(subscribed.wait(), timeout=5)
            except TimeoutError:
                logger.error("No Redis subscription yet; consoles get events from the log at each heartbeat.")
        self.head = await database_sync_to_async(head_seq)()
        self._tasks.append(self.loop.create_task(self._deliver()))
        self._tasks.append(self.loop.create_task(self._tick()))

    async def _subscribe(self, url: str, subscribed: asyncio.Event) -> None:
        import redis.asyncio as aioredis

        while True:
            client = aioredis.Redis.from_url(url)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(_redis_channel())
                subscribed.set()
                self._inbox.put_nowait(None)  # whatever was published while unsubscribed is in the log
                async for message in pubsub.listen():
                    try:
                        self._take_message(message["data"])
                    except (ValueError, TypeError):
                        logger.exception("Ignoring a malformed message on the console channel.")
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Redis subscription lost; subscribing again in 1 s.")
                await asyncio.sleep(1)
            finally:
                try:
                    await pubsub.aclose()
                    await client.aclose()
                except Exception:
                    logger.debug("Closing the Redis subscription failed.", exc_info=True)

    def _take_message(self, data: bytes) -> None:
        tag, body = data[:1], data[1:]
        if tag == _EVENT_TAG:
            seq, _, text = body.partition(b" ")
            self.take_event(int(seq), text.decode())
        elif tag == _POSITIONS_TAG:
            self.take_positions(json.loads(body))

    async def _deliver(self) -> None:
        # The only task that delivers events, so sequence order needs no lock.
        while True:
            item = await self._inbox.get()
            try:
                if item is None:
                    await self._catch_up()
                    continue
                seq, text = item
                if seq <= self.head:
                    continue  # already delivered (from the log, or a duplicate publish)
                if seq == self.head + 1:
                    self._fan_out(seq, text)
                else:
                    # A publish overtook an earlier one, or one was lost. Appends
                    # are serialized, so everything up to `seq` is committed: take
                    # it from the log rather than send out of order.
                    await self._catch_up()
            except Exception:
                logger.exception("Delivering an event failed; the next heartbeat retries from the log.")

    async def _catch_up(self) -> None:
        while True:
            rows = await database_sync_to_async(events_after)(self.head, limit=CATCH_UP_BATCH)
            for event in rows:
                if event.seq > self.head:
                    self._fan_out(event.seq, encode_event(event))
            if len(rows) < CATCH_UP_BATCH:
                return

    def _fan_out(self, seq: int, text: str) -> None:
        self.head = seq
        message = send_message(text)
        # A copy: a send may end a console, and the set must not change under the loop.
        for outbox in tuple(self.consoles):
            outbox.offer_event(seq, message)

    async def _tick(self) -> None:
        positions_every = float(getattr(settings, "CONSOLE_POSITIONS_INTERVAL", 1.0))
        heartbeat_every = float(getattr(settings, "CONSOLE_HEARTBEAT_SECONDS", 4.0))
        now = self.loop.time()
        next_positions, next_heartbeat = now + positions_every, now + heartbeat_every
        while True:
            await asyncio.sleep(max(0.0, min(next_positions, next_heartbeat) - self.loop.time()))
            now = self.loop.time()
            for outbox in tuple(self.consoles):
                outbox.check_silence(now)
            if now >= next_positions:
                next_positions = now + positions_every
                self._flush_positions()
            if now >= next_heartbeat:
                next_heartbeat = now + heartbeat_every
                # Sent at once, never held up by the database: the head is what
                # this hub has delivered, so a console never hears of an event
                # before it has been queued for it.
                message = send_message(encode({"type": "heartbeat", "seq": self.head}))
                for outbox in tuple(self.consoles):
                    outbox.offer_droppable(message)
                if self._log_check is None or self._log_check.done():
                    self._log_check = self.loop.create_task(self._check_log())

    async def _check_log(self) -> None:
        """Catch up from the log when it holds events this hub has not delivered (a lost publish).

        The delivery task reads the log only then: a read on every heartbeat
        held every console's next event up behind it, and behind the HTTP
        requests of the thread it waited for (tens of ms, every heartbeat).
        """
        try:
            # The hub delivers on while the read is under way, so the log went
            # back only if it is behind what had been delivered when it began.
            delivered = self.head
            # Not thread-sensitive: the one thread of sync views may be busy with a request.
            head = await database_sync_to_async(head_seq, thread_sensitive=False)()
            if head < delivered:
                # The log went back (a database restored from a backup; tests
                # that empty it): every console's sequence is now meaningless,
                # so each resumes, and gets a fresh snapshot.
                logger.warning("The event log's head went back from %s to %s; consoles resume.", delivered, head)
                self.head = head
                for outbox in tuple(self.consoles):
                    outbox.close_to_resume("the event log went back")
                return
            if head > self.head:
                await asyncio.sleep(LOG_CHECK_GRACE)  # its publish may be on its way
                if head > self.head:
                    self._inbox.put_nowait(None)
        except Exception:
            logger.exception("Reading the event log's head failed; trying again at the next heartbeat.")

    def _flush_positions(self) -> None:
        if not self._positions:
            return
        message = send_message(encode({"type": "positions", "units": list(self._positions.values())}))
        self._positions.clear()
        for outbox in tuple(self.consoles):
            outbox.offer_droppable(message)


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}
_hubs_lock = threading.Lock()


def _live_hubs() -> list[Hub]:
    with _hubs_lock:
        for loop in [loop for loop in _hubs if loop.is_closed()]:
            del _hubs[loop]
        return list(_hubs.values())


async def get_hub() -> Hub:
    """The running event loop's hub, started on first use."""
    loop = asyncio.get_running_loop()
    with _hubs_lock:
        hub = _hubs.get(loop)
        if hub is None:
            # Registered before it starts, so in-process publishes from now on
            # reach its inbox; it discards those already in the head it reads.
            hub = _hubs[loop] = Hub(loop)
    await hub.start()
    return hub
