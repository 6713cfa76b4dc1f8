"""The console socket: a snapshot, then every event in sequence order, plus positions and heartbeats.

Channels does the routing, the session and Origin checks and the socket's
lifecycle; the frames themselves come from the hub (events.hub), which
serializes each event once for all consoles. The channel layer is not used:
it is at-most-once, and a per-console group_send costs 10-30x more per frame
(notes/realtime.md).

Refusals: a handshake with a foreign Origin is refused before accept
(AllowedHostsOriginValidator, HTTP 403). A visitor without a console role is
accepted, told why in an error frame and closed with 4003, so the page can
send the person to sign in instead of reconnecting forever; a console whose
user loses the role, the account or the session is closed the same way.

What a console sends (JSON text, at most MAX_MESSAGE_CHARS):
- `{"type": "resume", "after": <seq>}`: send every event after `<seq>` again
  (or a snapshot), as on connecting with `?after=`;
- `{"type": "ack", "seq": <seq>}`: "I have applied every event up to
  `<seq>`". The browser console sends it after its snapshot, in answer to
  every heartbeat and after every 100 events. A console that has
  acknowledged once is closed with 4008 when it is more than
  CONSOLE_QUEUE_CAPACITY events behind what it was sent, or when events have
  waited CONSOLE_ACK_SILENCE_SECONDS (default two heartbeats and a second)
  for an acknowledgement that makes progress. That is how a console that
  stopped reading is found under any server, including one that buffers
  without limit below the application (Daphne); it reconnects with `?after=`
  and loses nothing. A console that never acknowledges is closed only when
  its bounded queue overflows, which needs a server that applies
  backpressure (uvicorn).
Anything else gets an error frame and the stream goes on.
"""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.sessions import InstanceSessionWrapper
from django.conf import settings

from events.access import access_watch, check, may_open_console, recheck_seconds
from events.hub import ConsoleOutbox, encode, encode_event, get_hub, send_message
from events.models import Event
from events.services import events_after, head_seq
from events.snapshot import build_snapshot

FORBIDDEN_CLOSE_CODE = 4003
# A console sends only small control messages.
MAX_MESSAGE_CHARS = 4096

NOT_ALLOWED = "Sign in as a dispatcher, supervisor or officer to open a console."
RESUME_HELP = (
    'A console may send {"type": "ack", "seq": <the last sequence number it applied>} '
    'or {"type": "resume", "after": <the last sequence number it has>}.'
)


def frames_after(after: int | None) -> tuple[list[str], int]:
    """The frames that bring a console from `after` to now, and the sequence they reach.

    Every event after `after` when the log still holds them all and there are
    at most CONSOLE_REPLAY_LIMIT; otherwise (or with no `after`) a snapshot.
    """
    if after is not None:
        limit = int(getattr(settings, "CONSOLE_REPLAY_LIMIT", 5000))
        rows = events_after(after, limit=limit + 1)
        head = rows[-1].seq if rows else head_seq()
        oldest = Event.objects.order_by("seq").values_list("seq", flat=True).first()
        kept = oldest is None or after >= oldest - 1  # retention has not removed what follows `after`
        # `after` beyond the head means the console's state comes from another log (a restore).
        if len(rows) <= limit and after <= head and kept:
            return [encode_event(event) for event in rows], head
    snapshot = build_snapshot()
    return [encode({"type": "snapshot", **snapshot})], snapshot["seq"]


def server_send(send: Callable[[dict], Awaitable[None]]) -> Callable[[dict], Awaitable[None]]:
    """The ASGI server's own send, under Channels' session middleware.

    That middleware wraps send to save the session and set its cookie on
    `http.response.start`; on a socket it only passes frames through, after
    reading the lazy session object twice per frame (a fifth of the server's
    time in fan-out, measured with py-spy).
    """
    owner = getattr(send, "__self__", None)
    while isinstance(owner, InstanceSessionWrapper):
        send = owner.real_send
        owner = getattr(send, "__self__", None)
    return send


def _parse_after(value: Any) -> int | None:
    """A non-negative sequence number, or None."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


class ConsoleConsumer(AsyncWebsocketConsumer):
    """/ws/console/: the push channel of dispatcher, supervisor and officer pages; it only reads."""

    outbox: ConsoleOutbox | None = None
    hub = None
    checked_at = 0.0

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not await database_sync_to_async(may_open_console)(user):
            await self.accept()
            await self.send(encode({"type": "error", "detail": NOT_ALLOWED}))
            await self.close(FORBIDDEN_CLOSE_CODE)
            return
        self.user_id = user.pk
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        self.checked_at = time.monotonic()

        self.hub = await get_hub()
        await self.accept()
        heartbeat = float(getattr(settings, "CONSOLE_HEARTBEAT_SECONDS", 4.0))
        self.outbox = ConsoleOutbox(
            # The server's own send: no wrapper per frame, and the hub's
            # message dict is shared by every console.
            send=server_send(self.base_send),
            close=self._close_with,
            capacity=int(getattr(settings, "CONSOLE_QUEUE_CAPACITY", 1000)),
            ack_silence=float(getattr(settings, "CONSOLE_ACK_SILENCE_SECONDS", 2 * heartbeat + 1)),
        )
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        after = _parse_after(query["after"][0]) if "after" in query else None
        # Join, then snapshot (the Channels sample's order): the outbox queues
        # every event from now on, and the writer skips those the snapshot or
        # replay already covers, so nothing falls between and nothing repeats.
        self.outbox.run_next(lambda: self._catch_up(after))
        self.hub.add(self.outbox)
        if "after" in query and after is None:
            self._reply_error("?after= must be a sequence number (0 or more); here is a snapshot instead.")
        access_watch().add(self)

    async def disconnect(self, code: int) -> None:
        if self.outbox is not None:
            self.outbox.stop()
            if self.hub is not None:
                self.hub.remove(self.outbox)
        access_watch().remove(self)

    async def __call__(self, scope, receive, send) -> None:
        # AsyncConsumer.__call__ without a channel layer, and without
        # await_many_dispatch, which makes a task and an asyncio.wait for every
        # message received: with one source a plain loop does the same, and
        # acknowledgements (every console, every heartbeat) cost half as much.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict) -> None:
        # An acknowledgement needs no database: it skips Channels' per-message
        # close_old_connections, a hop to the database thread that cost more
        # than everything else about the acknowledgement.
        if message["type"] == "websocket.receive" and self._take_ack(message.get("text")):
            return
        await super().dispatch(message)

    def _take_ack(self, text: str | None) -> bool:
        """Take a well-formed acknowledgement, unless the access re-check is due; True if taken."""
        if self.outbox is None or text is None or len(text) > 100 or '"ack"' not in text:
            return False
        if time.monotonic() - self.checked_at >= recheck_seconds():
            return False
        try:
            message = json.loads(text)
        except ValueError:
            return False
        seq = _parse_after(message.get("seq")) if isinstance(message, dict) and message.get("type") == "ack" else None
        if seq is None:
            return False  # receive() answers what is wrong with it
        self.outbox.acknowledge(seq, asyncio.get_running_loop().time())
        return True

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.outbox is None:
            return  # refused at connect; the close is on its way
        if time.monotonic() - self.checked_at >= recheck_seconds() and not await self._still_allowed():
            return
        if text_data is None:
            return self._reply_error("Binary frames are not understood; send JSON text. " + RESUME_HELP)
        if len(text_data) > MAX_MESSAGE_CHARS:
            return self._reply_error(f"Messages are at most {MAX_MESSAGE_CHARS} characters. " + RESUME_HELP)
        try:
            message = json.loads(text_data)
        except ValueError:
            return self._reply_error("That message is not JSON. " + RESUME_HELP)
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ack":
            seq = _parse_after(message.get("seq"))
            if seq is None:
                return self._reply_error('"seq" must be a sequence number (0 or more). ' + RESUME_HELP)
            return self.outbox.acknowledge(seq, asyncio.get_running_loop().time())
        if kind != "resume":
            return self._reply_error(f"Unknown message type {kind!r}. " + RESUME_HELP)
        after = _parse_after(message.get("after"))
        if after is None:
            return self._reply_error('"after" must be a sequence number (0 or more). ' + RESUME_HELP)
        self.outbox.run_next(lambda: self._catch_up(after))

    # Writing: everything goes through the outbox, in order.

    async def _close_with(self, code: int) -> None:
        await self.close(code)

    async def _catch_up(self, after: int | None) -> None:
        frames, seq = await database_sync_to_async(frames_after)(after)
        # Before the frames go: an acknowledgement of the snapshot may come
        # back before this step ends, and must not count as behind.
        self.outbox.sent_seq = seq
        for text in frames:
            await self.base_send(send_message(text))

    @staticmethod
    def _error(detail: str) -> str:
        return encode({"type": "error", "detail": detail})

    def _reply_error(self, detail: str) -> None:
        self.outbox.offer_frame(send_message(self._error(detail)))

    # Access: the session, account and role are read again while the socket
    # lives (events.access), every interval and on a message after that long.

    async def _still_allowed(self) -> bool:
        await check([self])
        return self.outbox is not None and not self.outbox.closed

    async def refuse(self) -> None:
        """Tell the console why, and close it with 4003 (once)."""
        if self.outbox is None or self.outbox.closed:
            return
        self.outbox.stop()
        self.hub.remove(self.outbox)
        access_watch().remove(self)
        await self.send(self._error(NOT_ALLOWED))
        await self.close(FORBIDDEN_CLOSE_CODE)
