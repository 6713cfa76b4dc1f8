"""Alert end to end: a device's POST to `alert.raised` on each of 1,000 console sockets, under fleet load.

    python -m bench.alert_e2e [--consoles 1000] [--devices 1000] [--cameras 4] [--viewers 8] [--alerts 30] [--quick]

For each server (Daphne, uvicorn) the real ASGI app runs in a subprocess on a fresh
database (SQLite, or a new database on DATABASE_URL's PostgreSQL) prepared with
`migrate`, `demo --force` and units up to 1,000 with their devices
(simulator.credentials). Around it, each in a process of its own:

- the consoles: N `/ws/console/` sockets signed in as a dispatcher (a session made in
  the database), each noting when every `alert.raised` frame arrives. They connect with
  `?after=<head>`, as a console resuming does, not for a snapshot each: a snapshot of
  1,000 units and its serialization cost the server about a second (section 5), so
  1,000 fresh consoles would keep it busy for minutes before the first alert;
- the fleet: one `/ws/device/` socket per unit's position device, each sending a
  `location` event once a second (staggered) and timing its acknowledgement;
- the cameras: C cameras publishing over WHIP (simulator's synthetic picture, 480x270
  at 15 fps, VP8) and V viewers each over WHEP, counting frames without decoding.

This process then raises alerts: a `weapon_drawn` or `gunshot` POST to
/api/v1/device/events from a different unit's body camera each time (a unit with an
open alert raises no new one), at 2 a second. Latency is from just before the POST is
sent to a console's receipt of the `alert.raised` frame naming that device; p50 and
p99 are over every console and alert, and "all-consoles p99" is the p99 over alerts
of the time until the last console had it. One alert from another unit goes first,
unmeasured: a server's first alert loads the code and queries of the alert path.

Server CPU (psutil, user + system) is taken over a background window (fleet, cameras
and consoles, no alerts) and over the alert window. Raw figure: the alert window's CPU
divided by every frame the consoles received in it (alerts, positions, heartbeats).
Isolated figure: the alert window's CPU minus the background rate times its length,
divided by the alert frames delivered: what one more console frame of an alert costs.

The floor is a plain `websockets` server that broadcasts a frame of the same size
sent to it over a socket, to the same N sockets from the same console process, with
no fleet or cameras (it has no database, relay or device socket to load).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import support

ALERT_KINDS = ("weapon_drawn", "gunshot")
FLOOR_FRAME_BYTES = 4000  # about an alert.raised frame, unless a Beacon row measured it first
TARGET_P99_MS = 100
TARGET_RATIO = 2.0
TARGET_US_PER_FRAME = 30
TARGETS: list[dict] = []


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


# --- Floor server: `--serve-floor PORT` ------------------------------------------------------


async def serve_floor(port: int) -> None:
    from websockets.asyncio.server import broadcast, serve

    consoles = set()

    async def handler(ws):
        if ws.request.path == "/publish":
            async for message in ws:
                broadcast(consoles, message)
            return
        consoles.add(ws)
        try:
            await ws.wait_closed()
        finally:
            consoles.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None, max_size=None):
        await asyncio.Future()


# --- The clients' common control: lines on stdin, one JSON answer per line ------------------


async def control(commands: dict) -> None:
    """Answer READY, then for each line on stdin the JSON of commands[line](); stop at STOP."""
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    print("READY", flush=True)
    while line := (await stdin.readline()).strip().decode():
        print(json.dumps(await commands[line]()), flush=True)
        if line == "STOP":
            return


# --- Consoles: `--consoles-client URL N` ----------------------------------------------------


async def run_consoles(url: str, count: int, cookie: str) -> None:
    import websockets
    from websockets.asyncio.client import connect

    support.raise_open_file_limit()
    origin = "http://" + url.split("/")[2]
    state = {"counting": False, "frames": 0, "alert_frames": 0, "alert_bytes": 0, "snapshot_bytes": 0}
    arrivals: dict[str, list[float]] = {}
    limit = asyncio.Semaphore(50)

    async def open_one():
        async with limit:
            for attempt in range(3):
                try:
                    return await connect(
                        url,
                        origin=origin,
                        additional_headers={"Cookie": cookie} if cookie else None,
                        compression=None,
                        open_timeout=120,
                        max_size=None,
                        max_queue=None,
                    )
                except (OSError, EOFError, websockets.exceptions.WebSocketException):
                    if attempt == 2:
                        raise
                    await asyncio.sleep(1 + attempt)

    async def read(ws):
        now, loads = time.time, json.loads
        async for text in ws:
            if not state["snapshot_bytes"] and text.startswith('{"type":"snapshot"'):
                state["snapshot_bytes"] = len(text.encode())
            if not state["counting"]:
                continue
            state["frames"] += 1
            if text.startswith('{"alert"') or (text.startswith('{"type":"event"') and '"alert.raised"' in text[:80]):
                arrived = now()
                frame = loads(text)
                key = frame.get("alert") or frame["data"].get("device_name")
                arrivals.setdefault(key, []).append(arrived)
                state["alert_frames"] += 1
                state["alert_bytes"] = len(text.encode())

    sockets = await asyncio.gather(*(open_one() for _ in range(count)))
    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    await asyncio.sleep(1)

    async def go():
        state["counting"] = True
        return {}

    async def mark():
        return {"frames": state["frames"], "alert_frames": state["alert_frames"], "t": time.time()}

    async def stop():
        state["counting"] = False
        closed = sum(1 for task in readers if task.done())
        return {**state, "arrivals": arrivals, "closed": closed, "opened": len(sockets)}

    await control({"GO": go, "MARK": mark, "STOP": stop})
    for ws in sockets:
        ws.transport.abort()


# --- The fleet: `--devices-client BASE CREDENTIALS N` ---------------------------------------


async def run_devices(base: str, credentials: str, count: int) -> None:
    from websockets.asyncio.client import connect

    support.raise_open_file_limit()
    units = json.loads(Path(credentials).read_text())["units"][:count]
    url = base.replace("http://", "ws://") + "/ws/device/"
    sent: dict[str, float] = {}
    latencies: list[float] = []
    state = {"acks": 0, "sent": 0, "errors": 0, "counting": False}
    limit = asyncio.Semaphore(50)
    started = time.monotonic()

    async def device(index: int, unit: dict):
        async with limit:
            ws = await connect(
                url,
                additional_headers={"Authorization": f"Bearer {unit['position_token']}"},
                compression=None,
                open_timeout=120,
            )

        async def receive():
            now, loads = time.monotonic, json.loads
            async for text in ws:
                frame = loads(text)
                if frame.get("type") == "ack":
                    for event_id in frame["accepted"] + frame["duplicates"]:
                        at = sent.pop(event_id, None)
                        if at is not None and state["counting"]:
                            latencies.append(now() - at)
                            state["acks"] += 1
                elif frame.get("type") == "error":
                    state["errors"] += 1

        receiver = asyncio.create_task(receive())
        lat, lon = 38.6426 + (index % 40 - 20) * 0.001, -90.3237 + (index // 40 - 12) * 0.001
        tick = 0
        # Staggered over the second, so 1,000 devices make a steady 1,000 events/s.
        await asyncio.sleep(index / count)
        while not receiver.done():
            tick += 1
            event_id = str(uuid.uuid4())
            body = {"id": event_id, "type": "location", "at": now_rfc3339(), "lat": lat + tick * 1e-5, "lon": lon}
            body.update(speed_mps=8.0, heading_deg=90.0, accuracy_m=5.0)
            sent[event_id] = time.monotonic()
            if state["counting"]:
                state["sent"] += 1
            await ws.send(json.dumps(body))
            await asyncio.sleep(max(0.0, started + index / count + tick - time.monotonic()))

    tasks = [asyncio.create_task(device(i, unit)) for i, unit in enumerate(units)]
    await asyncio.sleep(count / 50 * 0.05 + 2)

    async def go():
        latencies.clear()
        state.update(acks=0, sent=0, counting=True)
        return {}

    async def stop():
        state["counting"] = False
        failed = sum(1 for task in tasks if task.done())
        return {
            "sent": state["sent"],
            "acks": state["acks"],
            "errors": state["errors"],
            "failed": failed,
            "p50_ms": support.percentile(latencies, 0.5) * 1000,
            "p99_ms": support.percentile(latencies, 0.99) * 1000,
        }

    await control({"GO": go, "STOP": stop})
    for task in tasks:
        task.cancel()


# --- The cameras: `--cameras-client BASE CREDENTIALS C V` -----------------------------------


async def run_cameras(base: str, credentials: str, cameras: int, viewers: int) -> None:
    import httpx
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from liveview.relay import EncodedFrameTap
    from simulator.camera import CameraPicture, SyntheticVideoTrack
    from simulator.clients import WhipPublisher

    data = json.loads(Path(credentials).read_text())
    units = data["units"][:cameras]
    csrf = uuid.uuid4().hex
    cookie = f"{data['cookie_name']}={data['cookie']}; csrftoken={csrf}"
    http = httpx.AsyncClient(base_url=base, timeout=60)
    publishers, pcs, counts = [], [], []
    for unit in units:
        track = SyntheticVideoTrack(CameraPicture(unit["call_sign"], unit["position_device"]), fps=15)
        publisher = WhipPublisher(
            server=base, device=unit["position_device"], token=unit["position_token"], http=http, track=track
        )
        await publisher.start()
        publishers.append(publisher)
    await asyncio.sleep(2)

    async def viewer(device: str):
        pc = RTCPeerConnection()
        pcs.append(pc)
        pc.addTransceiver("video", direction="recvonly")
        count = [0]
        counts.append(count)

        def on_track(track):
            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
            EncodedFrameTap(
                receiver, "video", on_frame=lambda codec, frame: count.__setitem__(0, count[0] + 1), on_end=lambda: None
            )

        pc.on("track", on_track)
        await pc.setLocalDescription(await pc.createOffer())
        response = await http.post(
            f"/live/whep/{device}?reason=supervision",
            content=pc.localDescription.sdp,
            headers={"Content-Type": "application/sdp", "Cookie": cookie, "X-CSRFToken": csrf, "Origin": base},
        )
        if response.status_code != 201:
            raise RuntimeError(f"WHEP {device}: {response.status_code} {response.text[:200]}")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))

    for unit in units:
        for _ in range(viewers):
            await viewer(unit["position_device"])
    await asyncio.sleep(3)
    mark = {"t": time.monotonic(), "counts": []}

    async def go():
        mark.update(t=time.monotonic(), counts=[c[0] for c in counts])
        return {}

    async def stop():
        seconds = time.monotonic() - mark["t"]
        fps = [(c[0] - before) / seconds for c, before in zip(counts, mark["counts"], strict=True)]
        return {"viewers": len(counts), "min_fps": min(fps, default=0), "mean_fps": sum(fps) / max(1, len(fps))}

    await control({"GO": go, "STOP": stop})
    with contextlib.suppress(Exception):
        await asyncio.gather(*(pc.close() for pc in pcs), *(p.stop() for p in publishers))
    await http.aclose()


# --- The conductor -------------------------------------------------------------------------


class Child:
    """A client process driven by lines on its stdin."""

    def __init__(self, args: list[str], env: dict[str, str], name: str, ready_seconds: float = 180):
        self.name = name
        self.process = subprocess.Popen(
            [support.PYTHON, "-m", "bench.alert_e2e", *args],
            cwd=support.ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
        )
        line = self._readline(ready_seconds)
        if line != "READY":
            raise RuntimeError(f"{name} did not start ({line!r})")

    def _readline(self, seconds: float) -> str:
        import selectors

        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        if not selector.select(seconds):
            raise RuntimeError(f"{self.name}: no answer within {seconds:g} s")
        return self.process.stdout.readline().decode().strip()

    def ask(self, command: str, seconds: float = 60) -> dict:
        self.process.stdin.write(command.encode() + b"\n")
        self.process.stdin.flush()
        return json.loads(self._readline(seconds))

    def stop(self) -> None:
        support.stop(self.process)


def raise_alerts(base: str, units: list[dict], count: int, rate: float) -> list[dict]:
    """POST one trigger per unit, `rate` a second; each alert's device, send time and answer time."""
    import httpx

    sent = []
    started = time.monotonic()
    with httpx.Client(base_url=base, timeout=30) as http:
        for index, unit in enumerate(units[:count]):
            body = {
                "id": str(uuid.uuid4()),
                "type": ALERT_KINDS[index % 2],
                "at": now_rfc3339(),
                "lat": 38.6426,
                "lon": -90.3237,
            }
            headers = {"Authorization": f"Bearer {unit['trigger_token']}", "Content-Type": "application/json"}
            t_sent = time.time()
            response = http.post("/api/v1/device/events", content=json.dumps(body), headers=headers)
            t_answered = time.time()
            ok = response.status_code == 200
            sent.append({"key": unit["trigger_device"], "sent": t_sent, "answered": t_answered, "ok": ok})
            time.sleep(max(0.0, started + (index + 1) / rate - time.monotonic()))
    return sent


def raise_floor_alerts(port: int, count: int, rate: float, size: int) -> list[dict]:
    from websockets.sync.client import connect

    sent = []
    started = time.monotonic()
    with connect(f"ws://127.0.0.1:{port}/publish", compression=None) as ws:
        for index in range(count):
            key = f"floor-{index}"
            frame = json.dumps({"alert": key, "pad": ""})
            frame = frame.replace('"pad": ""', '"pad": "' + "x" * max(0, size - len(frame)) + '"')
            t_sent = time.time()
            ws.send(frame)
            sent.append({"key": key, "sent": t_sent, "answered": t_sent, "ok": True})
            time.sleep(max(0.0, started + (index + 1) / rate - time.monotonic()))
    return sent


def run_row(  # noqa: PLR0917
    kind: str, args, env: dict, creds_path: str, creds: dict, alert_units: list[dict], warmup: dict
) -> dict:
    import psutil

    children: list[Child] = []
    cookie = f"{creds['cookie_name']}={creds['cookie']}"
    log = str(Path(tempfile.gettempdir()) / f"beacon-bench-e2e-{kind}.log")
    if kind == "floor":
        port = support.free_port()
        server = subprocess.Popen(
            [support.PYTHON, "-m", "bench.alert_e2e", "--serve-floor", str(port)], cwd=support.ROOT, env=env
        )
        server_cm = contextlib.nullcontext((port, server))
    else:
        server_cm = support.asgi_server(kind, env, log=log)
    row: dict = {"kind": kind}
    try:
        with server_cm as (port, server):
            support.wait_for_port(port, server)
            base = f"http://127.0.0.1:{port}"
            measured = psutil.Process(server.pid)
            if kind != "floor":
                # Resume from the log's head, as a reconnecting console does: 1,000 consoles each asking
                # for a snapshot of 1,000 units would cost the server minutes before the first alert.
                url = f"ws://127.0.0.1:{port}/ws/console/?after={creds['head_seq']}"
            else:
                url = f"ws://127.0.0.1:{port}/"
            # Consoles first: a server already saturated by the fleet times their handshakes out.
            consoles = Child(["--consoles-client", url, str(args.consoles), "--cookie", cookie], env, "consoles")
            children.append(consoles)
            if kind != "floor":
                if args.cameras:
                    cams = [base, creds_path, str(args.cameras), str(args.viewers)]
                    children.append(Child(["--cameras-client", *cams], env, "cameras"))
                children.append(Child(["--devices-client", base, creds_path, str(args.devices)], env, "devices"))
            time.sleep(3)  # snapshots sent, fleet steady
            if kind != "floor":
                # One alert before measuring, as a server that has run a while has
                # raised one: the first loads the alert path's code and queries.
                raise_alerts(base, [warmup], 1, 1.0)
            for child in children:
                child.ask("GO")
            # Background window: everything but alerts.
            others = {child.name: psutil.Process(child.process.pid) for child in children}
            cpu0, t0 = measured.cpu_times(), time.monotonic()
            others0, machine0 = {name: p.cpu_times() for name, p in others.items()}, psutil.cpu_times()
            time.sleep(args.background)
            mark1, cpu1, t1 = consoles.ask("MARK"), measured.cpu_times(), time.monotonic()
            others1, machine1 = {name: p.cpu_times() for name, p in others.items()}, psutil.cpu_times()
            if kind == "floor":
                sent = raise_floor_alerts(port, args.alerts, args.rate, args.floor_bytes)
            else:
                sent = raise_alerts(base, alert_units, args.alerts, args.rate)
            time.sleep(3)  # the last alert reaches every console
            mark2, cpu2, t2 = consoles.ask("MARK"), measured.cpu_times(), time.monotonic()
            results = {child.name: child.ask("STOP", 120) for child in reversed(children)}
    finally:
        for child in children:
            child.stop()
        if kind == "floor":
            support.stop(server)

    def cpu(a, b) -> float:
        return (b.user - a.user) + (b.system - a.system)

    background_rate = cpu(cpu0, cpu1) / (t1 - t0)
    idle = (machine1.idle - machine0.idle) / (t1 - t0)
    load_cores = {name: cpu(others0[name], others1[name]) / (t1 - t0) for name in others}
    alert_cpu = cpu(cpu1, cpu2)
    frames = mark2["frames"] - mark1["frames"]
    alert_frames = mark2["alert_frames"] - mark1["alert_frames"]
    console = results["consoles"]
    latencies, slowest = [], []
    for alert in sent:
        times = console["arrivals"].get(alert["key"], [])
        latencies += [t - alert["sent"] for t in times]
        if len(times) == args.consoles:
            slowest.append(max(times) - alert["sent"])
        else:
            slowest.append(float("inf"))
    row.update(
        alerts=len(sent),
        accepted=sum(1 for a in sent if a["ok"]),
        delivered=len(latencies),
        expected=len(sent) * args.consoles,
        closed=console["closed"],
        p50=support.percentile(latencies, 0.5) * 1000,
        p99=support.percentile(latencies, 0.99) * 1000,
        all_p99=support.percentile(slowest, 0.99) * 1000,
        post_p50=support.percentile([a["answered"] - a["sent"] for a in sent], 0.5) * 1000,
        post_p99=support.percentile([a["answered"] - a["sent"] for a in sent], 0.99) * 1000,
        server_cores_background=background_rate,
        load_cores=load_cores,
        machine_busy=psutil.cpu_count() - idle,
        server_cores_alerts=alert_cpu / (t2 - t1),
        frames=frames,
        alert_frames=alert_frames,
        raw_us_per_frame=alert_cpu / frames * 1e6 if frames else float("nan"),
        isolated_us_per_frame=(
            (alert_cpu - background_rate * (t2 - t1)) / alert_frames * 1e6 if alert_frames else float("nan")
        ),
        alert_bytes=console["alert_bytes"],
        snapshot_bytes=console["snapshot_bytes"],
        devices=results.get("devices"),
        cameras=results.get("cameras"),
    )
    return row


LABELS = {"floor": "plain `websockets` broadcast (floor)", "daphne": "Beacon, Daphne", "uvicorn": "Beacon, uvicorn"}


def psutil_cores() -> int:
    import psutil

    return psutil.cpu_count()


def report(rows: list[dict], args, seconds: float) -> str:
    floor = next((r for r in rows if r["kind"] == "floor"), None)
    lines = [
        f"{args.consoles} consoles; {args.alerts} alerts at {args.rate:g}/s per server; fleet: {args.devices} devices "
        f"sending a location a second over `/ws/device/`; cameras: {args.cameras} relayed to {args.viewers} "
        f"viewers each (480x270, 15 fps, VP8; WHIP in, WHEP out, counted without decoding). Database: "
        f"{'PostgreSQL' if os.environ.get('DATABASE_URL', '').startswith('postgres') else 'SQLite'}; "
        "one server process, in-process hub (no Redis).",
        "",
        "| server | alerts delivered / expected | p50 ms | p99 ms | all-consoles p99 ms | p99 × floor "
        "| POST answered p50 / p99 ms | server µs per console frame, raw | µs per alert frame, isolated "
        "| server cores, background / with alerts |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = r["p99"] / floor["p99"] if floor else float("nan")
        lines.append(
            f"| {LABELS[r['kind']]} | {r['delivered']} / {r['expected']} | {r['p50']:.1f} | {r['p99']:.1f} "
            f"| {r['all_p99']:.1f} | {ratio:.2f} | {r['post_p50']:.1f} / {r['post_p99']:.1f} "
            f"| {r['raw_us_per_frame']:.1f} | {r['isolated_us_per_frame']:.1f} "
            f"| {r['server_cores_background']:.2f} / {r['server_cores_alerts']:.2f} |"
        )
    lines += ["", "Load beside the alerts (Beacon rows):", ""]
    lines += [
        "| server | location acks p50 / p99 ms | fixes sent / acked | viewers | slowest viewer fps "
        "| cores, background window: server / consoles / fleet / cameras / machine busy |"
    ]
    lines += ["|---|---:|---:|---:|---:|---|"]
    for r in rows:
        if r["kind"] == "floor":
            continue
        d, c = r["devices"] or {}, r["cameras"] or {}
        lines.append(
            f"| {LABELS[r['kind']]} | {d.get('p50_ms', float('nan')):.1f} / {d.get('p99_ms', float('nan')):.1f} "
            f"| {d.get('sent', 0)} / {d.get('acks', 0)} | {c.get('viewers', 0)} | {c.get('min_fps', 0):.1f} "
            f"| {r['server_cores_background']:.2f} / "
            + " / ".join(f"{r['load_cores'].get(name, 0):.2f}" for name in ("consoles", "devices", "cameras"))
            + f" / {r['machine_busy']:.2f} of {psutil_cores()} |"
        )
    beacon = [r for r in rows if r["kind"] != "floor"]
    lines += [
        "",
        "Latency: from just before the device's POST is sent to the console's receipt of `alert.raised` "
        "(the POST's own answer time is beside it). Raw µs per console frame: server CPU in the alert window "
        "over every frame the consoles received in it, the 1 Hz `positions` frames (every unit, about "
        f"{(beacon[0]['alert_bytes'] if beacon else 0)} bytes per alert frame) included. Isolated: CPU above "
        "the background window's rate, over the alert frames only; it also carries the POST, the database "
        "write and the commands to cameras, so it is an upper bound for the fan-out.",
        f"Total: {seconds:.0f} s.",
        "",
        "Where the time goes, profiled with py-spy under this load (one process, SQLite): the server is not "
        "saturated (about half a core of two); an alert waits, not works. Its POST costs about 25 ms alone "
        "(the transaction, the 1,000 units in range, audit, four camera commands) and 70-130 ms under the fleet: "
        "the device database thread, the position flusher's one-a-second transaction and the event loop take "
        "turns at the GIL and at SQLite's write lock. Then the 4.5 KB frame goes to 1,000 sockets, the part the "
        "floor also pays. Fixed on the way here, each found in a profile of this benchmark: alert frames named "
        "every unit in range in full (70 KB a frame; now ids), a thousand consoles' access checks each opened a "
        "connection (a fifth of the server's CPU; now one query a batch), camera-command nudges waited for the "
        "busy loop (about 24 ms an alert), and CPython's full garbage collections stopped the loop for 100-370 "
        "ms every few seconds (start-up objects are frozen out of collections and the thresholds raised). What "
        "would close the rest: alerts raised without waiting behind the fleet's writes (a database thread of "
        "their own, PostgreSQL's row locks), and devices and consoles on separate worker processes (the "
        "production layout, Redis between them), so a fleet's traffic never shares a thread with an alert.",
    ]
    return "\n".join(lines)


def evaluate(rows: list[dict]) -> None:
    floor = next((r for r in rows if r["kind"] == "floor"), None)
    TARGETS.clear()
    for r in rows:
        if r["kind"] == "floor":
            continue
        floor_p99 = floor["p99"] if floor else float("nan")
        ratio = r["p99"] / floor_p99
        name = LABELS[r["kind"]]
        TARGETS.append(
            {
                "target": f"alert to 1,000 consoles, p99 ≤ 2× floor and < 100 ms ({name})",
                "measured": f"p99 {r['p99']:.0f} ms = {ratio:.1f}× floor ({floor_p99:.0f} ms); "
                f"{r['delivered']}/{r['expected']} delivered",
                "met": ratio <= TARGET_RATIO and r["p99"] < TARGET_P99_MS and r["delivered"] == r["expected"],
            }
        )
        TARGETS.append(
            {
                "target": f"≤ 30 µs server CPU per delivered console frame ({name})",
                "measured": f"raw {r['raw_us_per_frame']:.0f} µs; isolated {r['isolated_us_per_frame']:.0f} µs "
                "per alert frame",
                "met": r["raw_us_per_frame"] <= TARGET_US_PER_FRAME,
            }
        )


def conduct(args) -> str:
    support.raise_open_file_limit()
    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="beacon-e2e-")
    database_url = support.fresh_database(workdir)
    try:
        print("  alert_e2e: preparing the database", file=sys.stderr, flush=True)
        creds = support.prepare(database_url, units=max(args.devices, args.cameras, 2 * args.alerts + 8))
        creds_path = str(Path(workdir) / "credentials.json")
        Path(creds_path).write_text(json.dumps(creds))
        # Consoles' sessions are re-checked every 30 s, as in production.
        env = support.server_env(database_url)
        # Triggers from the units past the cameras, a fresh one per alert and per server.
        spare = creds["units"][args.cameras :]
        rows = []
        for index, kind in enumerate(args.servers):
            print(f"  alert_e2e: {kind}", file=sys.stderr, flush=True)
            units = spare[index * args.alerts : (index + 1) * args.alerts]
            rows.append(run_row(kind, args, env, creds_path, creds, units, warmup=spare[-(index + 1)]))
            # The floor broadcasts frames as large as Beacon's alert.raised.
            args.floor_bytes = rows[-1]["alert_bytes"] or args.floor_bytes
    finally:
        support.drop_database(database_url)
    evaluate(rows)
    return report(rows, args, time.monotonic() - started)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consoles", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--cameras", type=int, default=4, help="0: no cameras")
    parser.add_argument("--viewers", type=int, default=8, help="viewers per camera")
    parser.add_argument("--alerts", type=int, default=30)
    parser.add_argument("--rate", type=float, default=2.0, help="alerts per second")
    parser.add_argument("--background", type=float, default=5.0, help="seconds of the background window")
    parser.add_argument("--servers", nargs="+", default=["daphne", "uvicorn", "floor"])
    parser.add_argument("--floor-bytes", type=int, default=FLOOR_FRAME_BYTES, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="10 alerts, 3 s background window")
    parser.add_argument("--serve-floor", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--consoles-client", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--devices-client", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--cameras-client", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--cookie", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.alerts, args.background = min(args.alerts, 10), 3.0
    return args


def main(argv: list[str] | None = None) -> str:
    args = parse(argv)
    if args.serve_floor:
        asyncio.run(serve_floor(args.serve_floor))
    elif args.consoles_client:
        asyncio.run(run_consoles(args.consoles_client[0], int(args.consoles_client[1]), args.cookie))
    elif args.devices_client:
        base, creds, count = args.devices_client
        asyncio.run(run_devices(base, creds, int(count)))
    elif args.cameras_client:
        base, creds, cameras, viewers = args.cameras_client
        asyncio.run(run_cameras(base, creds, int(cameras), int(viewers)))
    else:
        return conduct(args)
    return ""


if __name__ == "__main__":
    print(main())
