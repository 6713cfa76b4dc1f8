"""Clients of Beacon's public contracts, as an MDT, a camera and a dispatcher's tool would write them.

- `ApiClient`: the REST API (/api/v1/) with a user's DRF token (`Authorization: Token <key>`).
- `DeviceLink`: a camera's telemetry over the /ws/device/ socket, falling back to
  `POST /api/v1/device/events` while the socket is down; commands come back either way.
- `WhipPublisher`: a camera's live video by WHIP (RFC 9725): one POST of an SDP offer, DELETE to stop.

Nothing here imports Django: the simulator talks to the server only through these.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

logger = logging.getLogger("simulator")

CommandHandler = Callable[[str, dict], Awaitable[None] | None]


def rfc3339_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ApiError(Exception):
    """The server refused a request; `status` is the HTTP status, `detail` its sentence or field errors."""

    def __init__(self, status: int, detail: Any):
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class ApiClient:
    """The REST API as one user: a dispatcher creating calls, or an officer changing their unit's status."""

    def __init__(self, http: httpx.AsyncClient, token: str):
        self.http = http
        self.headers = {"Authorization": f"Token {token}"}

    async def _request(self, method: str, path: str, **kwargs) -> Any:
        response = await self.http.request(method, f"/api/v1/{path}", headers=self.headers, **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json()
            except ValueError:
                detail = response.text[:300]
            raise ApiError(response.status_code, detail.get("detail", detail) if isinstance(detail, dict) else detail)
        return response.json() if response.content else None

    async def create_call(self, **fields) -> dict:
        return await self._request("POST", "calls/", json=fields)

    async def call(self, call_id: int) -> dict:
        return await self._request("GET", f"calls/{call_id}/")

    async def recommend(self, call_id: int, limit: int = 10) -> list[dict]:
        return await self._request("GET", f"calls/{call_id}/recommend/", params={"limit": limit})

    async def assign(self, call_id: int, unit_id: int) -> dict:
        return await self._request("POST", f"calls/{call_id}/assign/", json={"unit": unit_id})

    async def close_call(self, call_id: int, disposition: str) -> dict:
        return await self._request("POST", f"calls/{call_id}/close/", json={"disposition": disposition})

    async def set_unit_status(self, unit_id: int, status: str) -> dict:
        return await self._request("POST", f"units/{unit_id}/status/", json={"status": status})

    async def units(self) -> list[dict]:
        """Every unit the user may see, all pages."""
        found, offset = [], 0
        while True:
            page = await self._request("GET", "units/", params={"limit": 500, "offset": offset})
            found.extend(page["results"])
            offset += len(page["results"])
            if not page.get("next") or not page["results"]:
                return found


class DeviceLink:
    """One camera's connection: events out over its socket (or HTTP when the socket is down), commands in."""

    RECONNECT_S = (1.0, 15.0)

    def __init__(
        self,
        *,
        server: str,
        name: str,
        token: str,
        http: httpx.AsyncClient,
        on_command: CommandHandler,
        connect_gate: asyncio.Semaphore | None = None,
    ):
        self.server = server.rstrip("/")
        self.name = name
        self.token = token
        self.http = http
        self.on_command = on_command
        self.connect_gate = connect_gate or asyncio.Semaphore(50)
        self.socket: ClientConnection | None = None
        self._task: asyncio.Task | None = None
        self._closing = False
        self.connected = asyncio.Event()
        self.rejected: list[dict] = []
        self.sent_over_http = 0
        self._warned_at = -math.inf

    @property
    def ws_url(self) -> str:
        scheme = "wss" if self.server.startswith("https") else "ws"
        return f"{scheme}://{self.server.split('://', 1)[1]}/ws/device/"

    def start(self) -> None:
        """Keep the socket open (reconnecting with backoff) until close()."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"device {self.name}")

    async def _run(self) -> None:
        delay = self.RECONNECT_S[0]
        while not self._closing:
            try:
                async with self.connect_gate:
                    socket = await connect(
                        self.ws_url,
                        additional_headers={"Authorization": f"Bearer {self.token}"},
                        open_timeout=20,
                        max_queue=64,
                        compression=None,
                    )
                self.socket = socket
                self.connected.set()
                delay = self.RECONNECT_S[0]
                async for message in socket:
                    await self._receive(message)
                if socket.close_code == 4001:
                    logger.error("%s: the server refused the device token; not reconnecting.", self.name)
                    return
            except (OSError, InvalidHandshake, InvalidStatus, ConnectionClosed, TimeoutError) as error:
                logger.debug("%s: socket down (%s)", self.name, error)
            finally:
                self.socket = None
                self.connected.clear()
            if self._closing:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.RECONNECT_S[1])

    async def _receive(self, message: str | bytes) -> None:
        try:
            frame = json.loads(message)
        except ValueError:
            return
        kind = frame.get("type")
        if kind == "command":
            await self._dispatch_command(frame)
        elif kind == "ack" and frame.get("rejected"):
            self.rejected.extend(frame["rejected"])
            logger.warning("%s: events rejected: %s", self.name, frame["rejected"])
        elif kind == "error":
            logger.warning("%s: %s", self.name, frame.get("detail"))

    async def _dispatch_command(self, frame: dict) -> None:
        try:
            result = self.on_command(self.name, frame)
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            logger.exception("%s: handling command %s failed", self.name, frame.get("command"))

    async def send(self, *events: dict) -> None:
        """Send events stamped now (unless they carry `at`): over the socket when open, else by HTTP."""
        stamped = [event if "at" in event else {**event, "at": rfc3339_now()} for event in events]
        body = json.dumps(stamped[0] if len(stamped) == 1 else stamped, separators=(",", ":"))
        socket = self.socket
        if socket is not None:
            try:
                await socket.send(body)
                return
            except ConnectionClosed:
                pass
        await self.post(body)

    async def post(self, body: str) -> None:
        """POST /api/v1/device/events; run the commands in the answer."""
        self.sent_over_http += 1
        try:
            response = await self.http.post(
                "/api/v1/device/events",
                content=body,
                headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            )
        except httpx.HTTPError as error:
            # A server that is down would otherwise get a line a second from every camera.
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                logger.warning("%s: could not post events (%r); they are lost.", self.name, error)
            return
        try:
            answer = response.json()
        except ValueError:
            logger.warning("%s: the server answered %s without JSON.", self.name, response.status_code)
            return
        if response.status_code >= 400 and "detail" in answer:
            logger.warning("%s: events refused (%s): %s", self.name, response.status_code, answer["detail"])
            return
        if answer.get("rejected"):
            self.rejected.extend(answer["rejected"])
            logger.warning("%s: events rejected: %s", self.name, answer["rejected"])
        for command in answer.get("commands", []):
            await self._dispatch_command(command)

    async def close(self) -> None:
        self._closing = True
        if self.socket is not None:
            with contextlib.suppress(Exception):
                await self.socket.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class WhipError(Exception):
    """The server did not take the camera's stream; the message says why."""


class WhipPublisher:
    """A camera's live stream: `start()` POSTs the SDP offer to /live/whip/<device>, `stop()` DELETEs it."""

    def __init__(self, *, server: str, device: str, token: str, http: httpx.AsyncClient, track):
        self.server = server.rstrip("/")
        self.device = device
        self.token = token
        self.http = http
        self.track = track
        self.pc = None
        self.location: str | None = None

    async def start(self) -> None:
        from aiortc import RTCPeerConnection, RTCSessionDescription

        self.pc = RTCPeerConnection()
        self.pc.addTransceiver(self.track, direction="sendonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())  # aiortc gathers every candidate here
        try:
            response = await self.http.post(
                f"/live/whip/{self.device}",
                content=self.pc.localDescription.sdp,
                headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/sdp"},
                follow_redirects=False,
            )
            if response.status_code == 307 and response.headers.get("location"):
                # Another relay node owns this camera (DESIGN.md, Production): publish there.
                response = await self.http.post(
                    response.headers["location"],
                    content=self.pc.localDescription.sdp,
                    headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/sdp"},
                )
            if response.status_code != 201:
                raise WhipError(f"WHIP for {self.device} answered {response.status_code}: {response.text[:200]}")
            location = response.headers.get("location")
            if not location:
                raise WhipError(f"WHIP for {self.device} answered 201 without a Location header.")
            self.location = urljoin(str(response.url), location)
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        except Exception:
            await self.stop()
            raise

    @property
    def connection_state(self) -> str | None:
        return self.pc.connectionState if self.pc is not None else None

    async def stop(self) -> None:
        """DELETE the WHIP resource and close the peer connection."""
        location, self.location = self.location, None
        if location is not None:
            try:
                await self.http.delete(location, headers={"Authorization": f"Bearer {self.token}"})
            except httpx.HTTPError as error:
                logger.warning("%s: could not end the live session (%s).", self.device, error)
        if self.pc is not None:
            pc, self.pc = self.pc, None
            with contextlib.suppress(Exception):
                await pc.close()
        with contextlib.suppress(Exception):
            self.track.stop()
