"""The device socket /ws/device/: the same events as the HTTP contract, acknowledged by id, and commands pushed down.

Frames, device → server: one event object or a list of up to 500 (DESIGN.md,
Telemetry over HTTP). Server → device:
  {"type": "ack", "accepted": [ids], "duplicates": [ids], "rejected": [{"index", "id", "reason"}]}
  {"type": "command", "command": "start_recording" | ... | "prompt_ok", "reason": "..."}
  {"type": "error", "detail": "..."} for a message that is not a batch of events.
A socket without a valid token is accepted, told why and closed with 4001, so
the camera can show the reason instead of reconnecting blindly.

Commands are rows in the database; a `device.commands` message on the
channel layer group `device-<id>` only says "look now". Pending commands are
also sent on connect, after every message that went through the database, and
at least every RECHECK_SECONDS, so a lost nudge delays a command by seconds.

Fixes are the bulk (a fleet sends one per device per second), so a message of
location events only, from a device whose unit is known, is taken in the event
loop with no database call and no thread hop (services.accept_fixes). Every
RECHECK_SECONDS the device is checked again (revoked? moved to another unit?);
revoking a token also closes the socket at once through the group. The device
row is held for the socket's life; every message that goes through the
database re-checks it in one indexed read that also says whether a command
waits, so the commands are asked for only when one does. Database work runs in
the process's one database thread, whose connection stays open between
messages (services.in_db_thread).
"""

import json
import time

from channels.generic.websocket import AsyncWebsocketConsumer

from alerts.auth import INVALID_TOKEN, NO_TOKEN, bearer_token
from alerts.models import Device
from alerts.services import (
    approach_recording,
    device_for_token,
    device_seen,
    device_still_valid,
    in_db_thread,
    ingest_with_commands,
    take_fixes,
    take_pending_commands,
)
from alerts.telemetry import BadBody, load_body, parse_events

UNAUTHORIZED_CLOSE_CODE = 4001
RECHECK_SECONDS = 5.0


def _frame(frame: dict) -> str:
    return json.dumps(frame, separators=(",", ":"))


class DeviceConsumer(AsyncWebsocketConsumer):
    """/ws/device/: a camera's telemetry in, acknowledgements and commands out."""

    device: Device | None = None
    unit_id: int | None = None
    group: str | None = None
    checked_at: float = 0.0

    async def connect(self) -> None:
        header = next((value for name, value in self.scope.get("headers", []) if name == b"authorization"), None)
        token = bearer_token(header)
        device = await in_db_thread(self._open, token)
        await self.accept()
        if device is None:
            await self._refuse(NO_TOKEN if token is None else INVALID_TOKEN)
            return
        self.device = device
        self.unit_id = device.current_unit_id
        self.checked_at = time.monotonic()
        if self.channel_layer is not None:
            self.group = f"device-{device.pk}"
            await self.channel_layer.group_add(self.group, self.channel_name)
        # A command queued between the token's check and group_add has no nudge
        # to wake this socket; it goes at the next message that reaches the
        # database, at the latest RECHECK_SECONDS into a stream of fixes.
        if device.has_pending:
            await self._send_commands()

    @staticmethod
    def _open(token: str | None) -> Device | None:
        device = device_for_token(token)
        if device is not None:
            device.current_unit_id  # noqa: B018 (read with the row: the officer came in the same query)
            device_seen(device=device)
        return device

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.device is None:
            return
        raw = text_data if text_data is not None else bytes_data
        try:
            items = load_body(raw)
        except BadBody as error:
            await self.send(_frame({"type": "error", "detail": str(error)}))
            return
        fast = take_fixes(device=self.device, unit_id=self.unit_id, items=items)
        if fast is not None:
            result, approaching = fast
            await self.send(_frame(_ack(result, [])))
            if approaching is not None:
                approach, distance = approaching
                await in_db_thread(
                    approach_recording, device=self.device, unit_id=self.unit_id, approach=approach, distance=distance
                )
            if approaching is not None or time.monotonic() - self.checked_at > RECHECK_SECONDS:
                await self._recheck()
            return
        answer = await in_db_thread(self._ingest, items)
        if answer is None:
            await self._refuse(INVALID_TOKEN)
            return
        self.checked_at = time.monotonic()
        ack, commands = answer
        await self.send(_frame(ack))
        for command in commands:
            await self.send(_frame(command))

    async def _recheck(self) -> None:
        """Check the device again, note that it spoke, and send what is waiting for it."""
        answer = await in_db_thread(self._reload)
        self.checked_at = time.monotonic()
        if answer is None:
            await self._refuse(INVALID_TOKEN)
            return
        for command in answer:
            await self.send(_frame(command))

    def _reload(self) -> list[dict] | None:
        # The held row, checked in one indexed read: revoked, re-issued or
        # deactivated ends the socket; a device moved to another unit moves that
        # unit from now on; the commands are asked for only if one waits.
        if not device_still_valid(self.device):
            return None
        self.unit_id = self.device.current_unit_id
        device_seen(device=self.device)
        return take_pending_commands(device=self.device) if self.device.has_pending else []

    def _ingest(self, items: list) -> tuple[dict, list[dict]] | None:
        # The device is checked again first: a revoked token is refused at its next message.
        if not device_still_valid(self.device):
            return None
        self.unit_id = self.device.current_unit_id
        valid, rejected = parse_events(items)
        result, commands = ingest_with_commands(device=self.device, events=valid)
        return _ack(result, rejected), commands

    async def _send_commands(self) -> None:
        for command in await in_db_thread(take_pending_commands, device=self.device):
            await self.send(_frame(command))

    async def _refuse(self, detail: str) -> None:
        await self.send(_frame({"type": "error", "detail": detail}))
        await self.close(UNAUTHORIZED_CLOSE_CODE)
        self.device = None

    # Channel layer messages (group device-<id>).

    async def device_commands(self, message: dict) -> None:
        if self.device is not None:
            await self._send_commands()

    async def device_revoked(self, message: dict) -> None:
        if self.device is None:
            return
        if not await in_db_thread(device_still_valid, self.device):
            await self._refuse(INVALID_TOKEN)


def _ack(result, rejected: list) -> dict:
    rejected = sorted([*rejected, *result.rejected], key=lambda r: r.index)
    return {
        "type": "ack",
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": [r.as_dict() for r in rejected],
    }
