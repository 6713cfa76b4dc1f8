"""Run a virtual fleet against a Beacon server, through its public contracts only.

`Simulation.run()` ticks the fleet model about once a second of real time,
sends each unit's fix from its position device's socket, turns the model's
status changes into the unit officer's REST requests, creates synthetic calls
as the simulated dispatcher (and dispatches them, unless told not to), sends
triggers from body cameras, and answers the commands the cameras get:
recording reports, live video by WHIP, "are you OK?" answers. A unit's
requests go out one after the other, so its officer never taps "on scene"
before "en route" has landed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field

import httpx

from simulator.clients import ApiClient, ApiError, DeviceLink, WhipError, WhipPublisher
from simulator.credentials import FleetCredentials, UnitCredential
from simulator.fleet import CallCleared, DeviceEvent, Fix, Fleet, FleetConfig, NewCall, Phase, StatusChange
from simulator.streets import Point, StreetGrid

logger = logging.getLogger("simulator")

ON_CALL = {"dispatched", "en_route", "on_scene"}
# A unit's state on the server is trusted again this long after the simulator last changed it.
SETTLE_S = 3.0


@dataclass
class SimulationOptions:
    server: str = "http://127.0.0.1:8000"
    seed: int = 1
    fleet: FleetConfig = field(default_factory=FleetConfig)
    auto_dispatch: bool = True
    video: bool = True
    time_scale: float = 1.0  # simulated seconds per real second
    fix_interval_s: float = 1.0
    live_s: tuple[float, float] = (60.0, 120.0)  # how long a camera stays live unless told to stop
    max_live: int = 20
    sync_interval_s: float | None = None  # how often to read the units back; by default by fleet size
    video_size: tuple[int, int] = (480, 270)
    video_fps: float = 15.0


@dataclass
class SimulatedUnit:
    credential: UnitCredential
    officer: ApiClient
    position: DeviceLink
    trigger: DeviceLink
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    touched_at: float = 0.0


@dataclass
class Tally:
    """What the run did, for its log line and for tests."""

    fixes: int = 0
    calls_created: list[int] = field(default_factory=list)
    dispatched: list[tuple[int, str]] = field(default_factory=list)
    status_changes: list[tuple[str, str]] = field(default_factory=list)
    calls_closed: list[int] = field(default_factory=list)
    triggers: list[tuple[str, str]] = field(default_factory=list)
    commands: list[tuple[str, str]] = field(default_factory=list)
    streams_started: list[str] = field(default_factory=list)
    frames_sent: int = 0
    errors: list[str] = field(default_factory=list)


class Simulation:
    def __init__(self, credentials: FleetCredentials, options: SimulationOptions | None = None):
        self.credentials = credentials
        self.options = options or SimulationOptions()
        self.tally = Tally()
        self.rng = random.Random(f"{self.options.seed}/runner")
        self.grid = StreetGrid(
            credentials.centre_lat,
            credentials.centre_lon,
            half_blocks=max(12, int(len(credentials.units) ** 0.5 * 2)),
        )
        self.fleet: Fleet | None = None
        self.units: dict[str, SimulatedUnit] = {}
        self.by_id: dict[int, str] = {}
        self.by_device: dict[str, str] = {}
        self.recording: set[str] = set()
        self.live: dict[str, WhipPublisher] = {}
        self.undispatched: dict[int, tuple[float | None, float | None]] = {}
        self.call_keys: dict[str, int] = {}
        self._tasks: set[asyncio.Task] = set()
        self._stopping = asyncio.Event()
        self._whip_refused = False

    # Life -------------------------------------------------------------------

    def stop(self) -> None:
        """Ask a running simulation to stop (signal handlers call this)."""
        self._stopping.set()

    async def run(self, duration: float | None = None) -> Tally:
        """Run until stop() or for `duration` real seconds, then close everything cleanly."""
        opts = self.options
        size = len(self.credentials.units)
        limits = httpx.Limits(max_connections=min(200, 20 + size), max_keepalive_connections=min(100, 10 + size))
        self.http = httpx.AsyncClient(base_url=opts.server, timeout=20.0, limits=limits)
        self.dispatcher = ApiClient(self.http, self.credentials.dispatcher_token)
        gate = asyncio.Semaphore(50)
        try:
            await self._start(gate)
            await self._loop(duration)
        finally:
            await self._shutdown()
        return self.tally

    async def _wait_for_server(self, patience_s: float = 60.0) -> list[dict]:
        """The units as the server has them, once it answers (it may still be starting beside us)."""
        deadline = time.monotonic() + patience_s
        while True:
            try:
                return await self.dispatcher.units()
            except httpx.TransportError as error:
                if time.monotonic() > deadline or self._stopping.is_set():
                    raise OSError(f"{self.options.server} did not answer: {error!r}")
                await asyncio.sleep(0.5)

    async def _start(self, gate: asyncio.Semaphore) -> None:
        server_units = {u["id"]: u for u in await self._wait_for_server()}
        starts = []
        for cred in self.credentials.units:
            key = cred.call_sign
            officer = ApiClient(self.http, cred.officer_token) if cred.officer_token else self.dispatcher
            position = self._link(cred.position_device.name, cred.position_device.token, gate)
            trigger = (
                position
                if cred.trigger_device.name == cred.position_device.name
                else self._link(cred.trigger_device.name, cred.trigger_device.token, gate)
            )
            self.units[key] = SimulatedUnit(credential=cred, officer=officer, position=position, trigger=trigger)
            self.by_id[cred.id] = key
            self.by_device[cred.position_device.name] = key
            self.by_device[cred.trigger_device.name] = key
            where = (server_units.get(cred.id) or {}).get("position")
            if where:
                lat, lon = where["lat"], where["lon"]
            else:  # never heard from: somewhere on the grid, the same place for the same seed
                rng = random.Random(f"{self.options.seed}/start/{key}")
                place = self.grid.random_place(rng, near=Point(0.0, 0.0), within_blocks=6)
                lat, lon = self.grid.to_latlon(place.point)
            starts.append((key, lat, lon))
        self.fleet = Fleet(self.grid, starts, seed=self.options.seed, config=self.options.fleet)
        for unit in self.units.values():
            unit.position.start()
        # Pick up what the server already has: units on calls carry on, units off duty come on.
        for unit_id, key in self.by_id.items():
            server = server_units.get(unit_id)
            if server is not None:
                await self._adopt(key, server, initial=True)
        connected = [u.position.connected.wait() for u in self.units.values()]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*connected), timeout=10 + len(connected) / 50)
        online = sum(u.position.connected.is_set() for u in self.units.values())
        logger.info(
            "Simulating %d units against %s (%d device sockets open).", len(self.units), self.options.server, online
        )

    def _link(self, name: str, token: str, gate: asyncio.Semaphore) -> DeviceLink:
        return DeviceLink(
            server=self.options.server,
            name=name,
            token=token,
            http=self.http,
            on_command=self._command,
            connect_gate=gate,
        )

    async def _loop(self, duration: float | None) -> None:
        opts = self.options
        loop = asyncio.get_running_loop()
        started = last = loop.time()
        next_sync = started + self._sync_interval()
        next_retry = started + 10.0
        while not self._stopping.is_set():
            now = loop.time()
            if duration is not None and now - started >= duration:
                return
            actions = self.fleet.tick((now - last) * opts.time_scale)
            last = now
            await self._act(actions)
            if now >= next_sync:
                next_sync = now + self._sync_interval()
                self._spawn(self._sync())
            if now >= next_retry and self.undispatched and opts.auto_dispatch:
                next_retry = now + 10.0
                for call_id, (lat, lon) in list(self.undispatched.items()):
                    self._spawn(self._dispatch(call_id, lat, lon))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopping.wait(), timeout=max(0.0, opts.fix_interval_s - (loop.time() - now))
                )

    def _sync_interval(self) -> float:
        if self.options.sync_interval_s is not None:
            return self.options.sync_interval_s
        # Only a person's dispatch or clear shows up here; the simulator knows its own moves already.
        return 5.0 if len(self.units) <= 50 else 15.0

    async def _shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(self._stop_stream(name) for name in list(self.live)), return_exceptions=True)
        links = {id(link): link for u in self.units.values() for link in (u.position, u.trigger)}
        await asyncio.gather(*(link.close() for link in links.values()), return_exceptions=True)
        await self.http.aclose()
        logger.info(
            "Simulation stopped: %d calls created, %d dispatched, %d closed, %d triggers, %d live streams.",
            len(self.tally.calls_created),
            len(self.tally.dispatched),
            len(self.tally.calls_closed),
            len(self.tally.triggers),
            len(self.tally.streams_started),
        )

    def _spawn(self, coro: Coroutine) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            self.tally.errors.append(repr(error))
            logger.warning("Simulator step failed: %r", error)

    def _as_unit(self, key: str, coro: Coroutine) -> None:
        """Run a unit's request after its earlier ones."""
        unit = self.units[key]
        unit.touched_at = time.monotonic()

        async def serial():
            async with unit.lock:
                try:
                    await coro
                finally:
                    unit.touched_at = time.monotonic()

        self._spawn(serial())

    # The model's actions -> requests ---------------------------------------------

    async def _act(self, actions: list) -> None:
        fixes = []
        for action in actions:
            if isinstance(action, Fix):
                fixes.append(self.units[action.unit].position.send(action.event))
            elif isinstance(action, StatusChange):
                self._as_unit(action.unit, self._set_status(action.unit, action.status, action.call))
            elif isinstance(action, CallCleared):
                self._as_unit(action.unit, self._close(action.call, action.disposition))
            elif isinstance(action, DeviceEvent):
                self._spawn(self._trigger(action.unit, action.event))
            elif isinstance(action, NewCall):
                self._spawn(self._new_call(action))
        if fixes:
            results = await asyncio.gather(*fixes, return_exceptions=True)
            self.tally.fixes += sum(1 for r in results if not isinstance(r, BaseException))

    async def _set_status(self, key: str, status: str, call: int | None) -> None:
        unit = self.units[key]
        try:
            await unit.officer.set_unit_status(unit.credential.id, status)
        except ApiError as error:
            if error.status != 409:
                raise
            # The server moved on (the dispatcher cleared the unit or closed the call): follow it.
            logger.info("%s could not go %s: %s", key, status.replace("_", " "), error.detail)
            if self.fleet.units[key].call == call and status != "available":
                self.fleet.release(key)
            return
        self.tally.status_changes.append((key, status))
        logger.info("%s %s%s", key, status.replace("_", " "), f" (call {call})" if call else "")

    async def _close(self, call_id: int, disposition: str) -> None:
        call = await self.dispatcher.call(call_id)
        if not call["is_open"] or any(a["active"] for a in call["assignments"]):
            return  # someone closed it already, or another unit is still there
        try:
            await self.dispatcher.close_call(call_id, disposition)
        except ApiError as error:
            if error.status != 409:
                raise
            return
        self.tally.calls_closed.append(call_id)
        logger.info("Call %s closed: %s", call["number"], disposition)

    async def _trigger(self, key: str, event: dict) -> None:
        link = self.units[key].trigger
        if link._task is None:
            # A body camera opens its socket when it first has something to say.
            link.start()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(link.connected.wait(), timeout=3.0)
        await link.send(event)
        self.tally.triggers.append((key, event["type"]))
        logger.info("%s: %s from %s", key, event["type"].replace("_", " "), link.name)

    async def _new_call(self, action: NewCall) -> None:
        lat, lon = self.grid.to_latlon(action.place.point)
        try:
            call = await self.dispatcher.create_call(
                type=action.incident_type,
                priority=action.priority,
                address=action.place.address,
                lat=round(lat, 6),
                lon=round(lon, 6),
                caller_name=action.caller_name,
                caller_phone=action.caller_phone,
                narrative=action.narrative,
            )
        except ApiError as error:
            logger.warning("Could not create a %s call: %s", action.incident_type, error.detail)
            return
        self.call_keys[action.key] = call["id"]
        self.tally.calls_created.append(call["id"])
        logger.info("Call %s: %s at %s", call["number"], action.incident_type, action.place.address)
        if self.options.auto_dispatch:
            await self._dispatch(call["id"], call["lat"], call["lon"])

    async def _dispatch(self, call_id: int, lat: float | None, lon: float | None) -> None:
        """Assign the nearest recommended unit of the fleet that is free; remember the call if none is."""
        try:
            ranked = await self.dispatcher.recommend(call_id, limit=20)
        except ApiError as error:
            if error.status in (404, 409):
                self.undispatched.pop(call_id, None)
                return
            raise
        for recommendation in ranked:
            key = self.by_id.get(recommendation["unit"]["id"])
            if key is None:
                continue
            model = self.fleet.units[key]
            if model.phase != Phase.PATROL or not model.available_for_trouble or self.units[key].lock.locked():
                continue
            try:
                call = await self.dispatcher.assign(call_id, recommendation["unit"]["id"])
            except ApiError as error:
                if error.status == 409:
                    logger.info("Could not assign %s: %s", key, error.detail)
                    if not (await self.dispatcher.call(call_id))["is_open"]:
                        self.undispatched.pop(call_id, None)
                        return
                    continue
                raise
            self.units[key].touched_at = time.monotonic()
            self.fleet.dispatch(key, call_id, lat, lon)
            self.undispatched.pop(call_id, None)
            self.tally.dispatched.append((call_id, key))
            logger.info("%s dispatched to %s, %.0f m away", key, call["number"], recommendation["distance_m"])
            return
        self.undispatched[call_id] = (lat, lon)

    # Reading the server back ------------------------------------------------------

    async def _sync(self) -> None:
        """Follow what people did: a unit a dispatcher sent drives there; a unit cleared returns to patrol."""
        asked_at = time.monotonic()
        units = await self.dispatcher.units()
        for server in units:
            key = self.by_id.get(server["id"])
            if key is None:
                continue
            unit = self.units[key]
            if unit.lock.locked() or unit.touched_at >= asked_at - SETTLE_S:
                continue
            await self._adopt(key, server, initial=False)

    async def _adopt(self, key: str, server: dict, *, initial: bool) -> None:
        model = self.fleet.units[key]
        status, call = server["status"], server.get("call")
        if status in ON_CALL and call is not None:
            if model.call != call["id"]:
                details = await self.dispatcher.call(call["id"])
                self.fleet.dispatch(key, call["id"], details["lat"], details["lon"], phase=status)
                logger.info("%s is %s on call %s; driving it.", key, status.replace("_", " "), call["number"])
        elif model.call is not None:
            self.fleet.release(key)
            logger.info("%s was cleared from its call by someone else; back on patrol.", key)
        elif initial and status not in ("available",):
            self._as_unit(key, self._set_status(key, "available", None))

    # Commands from the server ---------------------------------------------------

    async def _command(self, device: str, frame: dict) -> None:
        command = frame.get("command", "")
        key = self.by_device.get(device)
        if key is None:
            return
        self.tally.commands.append((device, command))
        unit = self.units[key]
        link = unit.trigger if unit.trigger.name == device else unit.position
        if command == "start_recording" and device not in self.recording:
            self.recording.add(device)
            self._spawn(link.send({"id": self._uuid(), "type": "recording_started"}))
        elif command == "stop_recording" and device in self.recording:
            self.recording.discard(device)
            self._spawn(link.send({"id": self._uuid(), "type": "recording_stopped"}))
        elif command == "start_stream":
            if self.options.video and device not in self.live:
                self._spawn(self._stream(key, device, link.token))
        elif command == "stop_stream":
            self._spawn(self._stop_stream(device))
        elif command == "prompt_ok":
            self.fleet.prompted(key)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    async def _stream(self, key: str, device: str, token: str) -> None:
        from simulator.camera import CameraPicture, SyntheticVideoTrack

        if len(self.live) >= self.options.max_live:
            logger.info("%s: not going live, %d cameras already are (--max-live).", device, len(self.live))
            return
        width, height = self.options.video_size
        track = SyntheticVideoTrack(CameraPicture(key, device, width, height), fps=self.options.video_fps)
        publisher = WhipPublisher(server=self.options.server, device=device, token=token, http=self.http, track=track)
        self.live[device] = publisher
        try:
            await publisher.start()
        except (WhipError, httpx.HTTPError, OSError) as error:
            self.live.pop(device, None)
            if not self._whip_refused:
                logger.warning("%s could not go live: %s", device, error)
            self._whip_refused = True
            return
        self.tally.streams_started.append(device)
        logger.info("%s is live (%s)", device, key)
        await asyncio.sleep(self.rng.uniform(*self.options.live_s))
        if self.live.get(device) is publisher:
            await self._stop_stream(device)

    async def _stop_stream(self, device: str) -> None:
        publisher = self.live.pop(device, None)
        if publisher is not None:
            await publisher.stop()
            self.tally.frames_sent += publisher.track.frames_sent
            logger.info("%s stopped streaming", device)
