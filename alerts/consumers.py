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
RECHECK_SECONDS the device row is read again (revoked? moved to another unit?);
revoking a token also closes the socket at once through the group.
"""

import json
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from alerts import policy
from alerts.auth import INVALID_TOKEN, NO_TOKEN, bearer_token
from alerts.models import Device
from alerts.services import (
    IngestResult,
    accept_fixes,
    approach_recording,
    device_for_token,
    device_seen,
    ingest_events,
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
        device = await database_sync_to_async(device_for_token)(token)
        await self.accept()
        if device is None:
            await self._refuse(NO_TOKEN if token is None else INVALID_TOKEN)
            return
        self.device = device
        self.unit_id = await database_sync_to_async(lambda: device.current_unit_id)()
        self.checked_at = time.monotonic()
        if self.channel_layer is not None:
            self.group = f"device-{device.pk}"
            await self.channel_layer.group_add(self.group, self.channel_name)
        await database_sync_to_async(device_seen)(device=device)
        await self._send_commands()

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
        fast = self._take_fixes(items)
        if fast is not None:
            ack, approaching = fast
            await self.send(_frame(ack))
            if approaching is not None:
                approach, distance = approaching
                await database_sync_to_async(approach_recording)(
                    device=self.device, unit_id=self.unit_id, approach=approach, distance=distance
                )
            if approaching is not None or time.monotonic() - self.checked_at > RECHECK_SECONDS:
                await self._recheck()
            return
        answer = await database_sync_to_async(self._ingest)(items)
        if answer is None:
            await self._refuse(INVALID_TOKEN)
            return
        self.checked_at = time.monotonic()
        ack, commands = answer
        await self.send(_frame(ack))
        for command in commands:
            await self.send(_frame(command))

    def _take_fixes(self, items: list) -> tuple[dict, tuple | None] | None:
        """Location events only, unit known, approach cache fresh: take them here (None: the long way)."""
        if self.unit_id is None or not policy.approach_cache_fresh():
            return None
        valid, rejected = parse_events(items)
        if rejected or not valid or any(event.type != "location" for event in valid):
            return None
        result = IngestResult()
        approaching = accept_fixes(device=self.device, unit_id=self.unit_id, events=valid, result=result)
        ack = {"type": "ack", "accepted": result.accepted, "duplicates": result.duplicates, "rejected": []}
        return ack, approaching

    async def _recheck(self) -> None:
        """Read the device again, note that it spoke, and send what is waiting for it."""
        answer = await database_sync_to_async(self._reload)()
        self.checked_at = time.monotonic()
        if answer is None:
            await self._refuse(INVALID_TOKEN)
            return
        for command in answer:
            await self.send(_frame(command))

    def _reload(self) -> list[dict] | None:
        device = (
            Device.objects.select_related("officer")
            .filter(pk=self.device.pk, token_hash=self.device.token_hash, revoked_at__isnull=True, active=True)
            .first()
        )
        if device is None:
            return None
        self.device = device
        self.unit_id = device.current_unit_id
        device_seen(device=device)
        return take_pending_commands(device=device)

    def _ingest(self, items: list) -> tuple[dict, list[dict]] | None:
        # Read the device again: a revoked token is refused at its next message,
        # and a device moved to another unit moves that unit from now on.
        device = (
            Device.objects.select_related("officer")
            .filter(pk=self.device.pk, token_hash=self.device.token_hash, revoked_at__isnull=True, active=True)
            .first()
        )
        if device is None:
            return None
        self.device = device
        self.unit_id = device.current_unit_id
        valid, rejected = parse_events(items)
        result = ingest_events(device=device, events=valid)
        rejected = sorted([*rejected, *result.rejected], key=lambda r: r.index)
        ack = {
            "type": "ack",
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": [r.as_dict() for r in rejected],
        }
        return ack, take_pending_commands(device=device)

    async def _send_commands(self) -> None:
        for command in await database_sync_to_async(take_pending_commands)(device=self.device):
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
        still = await database_sync_to_async(
            Device.objects.filter(
                pk=self.device.pk, token_hash=self.device.token_hash, revoked_at__isnull=True, active=True
            ).exists
        )()
        if not still:
            await self._refuse(INVALID_TOKEN)
