"""Relay CPU per viewer and added latency: the forwarding relay against aiortc's MediaRelay.

    python -m bench.relay            # 1-32 viewers, about two minutes
    python -m bench.relay --quick    # 1 and 8 viewers, short windows

This process is the relay and nothing else, so its CPU time (all threads:
receiving, decoding and encoding threads included) is the relay's. Child processes
play the camera and the viewers. The camera draws its frame number as a row of
black and white blocks, and one "probe" viewer, in the camera's process, decodes
each picture and reads it back, for the time from capture to picture. The other
viewers, in a process of their own, count frames as they arrive without decoding,
so that 32 of them fit on a small machine and do not delay the probe. The same
probe watching the camera directly, with no relay, gives the baseline the relays'
added latency is measured against; the relay also reports how long it held each
frame, which the load generators cannot disturb.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/relay.py` works too

import aiortc
import av
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError

from liveview.relay import EncodedFrameTap, ForwardingRelay

LOCAL_ONLY = RTCConfiguration(iceServers=[])
WIDTH, HEIGHT = 640, 480
BLOCK = 32  # a macroblock-aligned square per bit survives VP8 at aiortc's bitrates
BITS = WIDTH // BLOCK
STRIPES = bytes(range(0, 256, 2)) * 20


@dataclass
class Plan:
    viewer_counts: list[int]
    media_relay_max: int
    warmup: float
    window: float
    baseline: float


@dataclass
class Row:
    relay: str
    viewers: int
    relay_cores: float
    client_cores: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_samples: int
    min_viewer_fps: float
    total_viewer_fps: float
    encoders_opened: int | None
    forward_delay_p50_ms: float | None
    forward_delay_p95_ms: float | None

    @property
    def cpu_ms_per_viewer_frame(self) -> float:
        """Relay CPU per picture delivered to a viewer: fair to a relay that is short of CPU and skips frames."""
        return self.relay_cores * 1000 / self.total_viewer_fps


# -- the relay side: this process ---------------------------------------------------------


class RelayUnderTest:
    """Answers the camera's and the viewers' offers with the relay being measured."""

    def __init__(self) -> None:
        self.forwarding: ForwardingRelay | None = None
        self.media_relay: MediaRelay | None = None
        self.source: aiortc.MediaStreamTrack | None = None
        self.pcs: list[RTCPeerConnection] = []

    async def handle(self, request: dict) -> dict:
        op = request["op"]
        if op == "cpu":
            return {"cpu": time.process_time(), "wall": time.monotonic()}
        if op == "window":
            if self.forwarding:
                # Only this window's forwarding delays: reach into the relay's recent samples.
                self.forwarding._cameras["camera"].forward_delays.clear()
            return {"cpu": time.process_time(), "wall": time.monotonic()}
        if op == "reset":
            await self.reset()
            return {}
        if op == "stats":
            stats = self.forwarding.stats("camera") if self.forwarding else None
            return {
                "encoders_opened": stats.video_encoders_opened if stats else None,
                "forward_delay_p50_ms": stats.forward_delay_p50_ms if stats else None,
                "forward_delay_p95_ms": stats.forward_delay_p95_ms if stats else None,
            }
        if request["relay"] == "forwarding":
            self.forwarding = self.forwarding or ForwardingRelay(configuration=LOCAL_ONLY)
            if op == "publish":
                return {"sdp": await self.forwarding.publish("camera", request["sdp"])}
            _, answer = await self.forwarding.subscribe("camera", request["sdp"])
            return {"sdp": answer}
        self.media_relay = self.media_relay or MediaRelay()
        pc = RTCPeerConnection(LOCAL_ONLY)
        self.pcs.append(pc)
        if op == "publish":
            pc.on("track", lambda track: setattr(self, "source", track))
            await pc.setRemoteDescription(RTCSessionDescription(sdp=request["sdp"], type="offer"))
        else:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=request["sdp"], type="offer"))
            # Unbuffered: each viewer's encoder takes the latest picture, MediaRelay's lowest-latency mode.
            pc.addTrack(self.media_relay.subscribe(self.source, buffered=False))
        await pc.setLocalDescription(await pc.createAnswer())
        return {"sdp": pc.localDescription.sdp}

    async def reset(self) -> None:
        if self.forwarding:
            await self.forwarding.close()
        await asyncio.gather(*(pc.close() for pc in self.pcs))
        self.forwarding, self.media_relay, self.source, self.pcs = None, None, None, []


async def serve_relay(plan: Plan) -> tuple[list[Row], dict]:
    relay = RelayUnderTest()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(json.dumps(await relay.handle(json.loads(line))).encode() + b"\n")
            await writer.drain()

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    context = multiprocessing.get_context("spawn")
    results, child_end = context.Pipe(duplex=False)
    driver_end, audience_end = context.Pipe()
    client = context.Process(target=run_client, args=(port, plan, child_end, driver_end), name="camera-and-probe")
    audience = context.Process(target=run_audience, args=(port, audience_end), name="counting-viewers")
    client.start()
    audience.start()
    rows, baseline = await asyncio.get_running_loop().run_in_executor(None, results.recv)
    client.join()
    audience.join()
    await relay.reset()
    server.close()
    return [Row(**row) for row in rows], baseline


# -- the camera and the viewers: a child process -------------------------------------------


class NumberedPicture(VideoStreamTrack):
    """Moving stripes with the frame number written in the top row of blocks; notes when each frame left."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_at: dict[int, float] = {}

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        number = pts // 3000
        shift = (number * 8) % 256
        luma = bytearray(STRIPES[shift : shift + WIDTH] * HEIGHT)
        for bit in range(BITS):
            value = (235 if number >> bit & 1 else 16).to_bytes(1, "big") * BLOCK
            for row in range(BLOCK):
                start = row * WIDTH + bit * BLOCK
                luma[start : start + BLOCK] = value
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        frame.planes[0].update(bytes(luma))
        frame.planes[1].update(bytes([90]) * (WIDTH * HEIGHT // 4))
        frame.planes[2].update(bytes([160]) * (WIDTH * HEIGHT // 4))
        frame.pts, frame.time_base = pts, time_base
        self.sent_at[number] = time.perf_counter()
        return frame


def read_number(frame: av.VideoFrame) -> int:
    plane = frame.planes[0]
    luma = bytes(plane)
    middle = BLOCK // 2 * plane.line_size + BLOCK // 2
    return sum(1 << bit for bit in range(BITS) if luma[middle + bit * BLOCK] > 128)


class Signalling:
    """JSON lines to the relay process, one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.lock = reader, writer, asyncio.Lock()

    async def call(self, **request) -> dict:
        async with self.lock:
            self.writer.write(json.dumps(request).encode() + b"\n")
            await self.writer.drain()
            return json.loads(await self.reader.readline())


class Peers:
    """The camera, the probe viewer and the counting viewers of one run."""

    def __init__(self) -> None:
        self.pcs: list[RTCPeerConnection] = []
        self.counts: list[list[int]] = []
        self.latencies: list[float] = []
        self.tasks: list[asyncio.Future] = []

    async def camera(self, answer_with) -> NumberedPicture:
        picture = NumberedPicture()
        pc = RTCPeerConnection(LOCAL_ONLY)
        self.pcs.append(pc)
        pc.addTransceiver(picture, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=await answer_with(pc.localDescription.sdp), type="answer")
        )
        return picture

    async def viewer(self, answer_with, picture: NumberedPicture | None, probe: bool) -> None:
        pc = RTCPeerConnection(LOCAL_ONLY)
        self.pcs.append(pc)
        pc.addTransceiver("video", direction="recvonly")
        count = [0]
        self.counts.append(count)

        def on_track(track: aiortc.MediaStreamTrack) -> None:
            if probe:
                self.tasks.append(asyncio.ensure_future(self._probe(track, picture)))
                return

            def on_frame(codec: object, frame: object) -> None:
                count[0] += 1

            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
            # Counting viewers take encoded frames as the relay does, so they need no decoder.
            EncodedFrameTap(receiver, "video", on_frame=on_frame, on_end=lambda: None)

        pc.on("track", on_track)
        await pc.setLocalDescription(await pc.createOffer())
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=await answer_with(pc.localDescription.sdp), type="answer")
        )

    async def _probe(self, track: aiortc.MediaStreamTrack, picture: NumberedPicture) -> None:
        count = self.counts[0]  # the probe is always the first viewer
        try:
            while True:
                frame = await track.recv()
                arrived = time.perf_counter()
                count[0] += 1
                sent = picture.sent_at.get(read_number(frame))
                if sent is not None and 0 <= arrived - sent < 2:
                    self.latencies.append(arrived - sent)
        except MediaStreamError:
            pass

    async def close(self) -> None:
        await asyncio.gather(*(pc.close() for pc in self.pcs))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


async def measure_direct(plan: Plan) -> dict:
    """The probe watching the camera with no relay in between: the latency the relays add to."""
    peers = Peers()
    camera_pc = RTCPeerConnection(LOCAL_ONLY)
    viewer_pc = RTCPeerConnection(LOCAL_ONLY)

    async def viewer_answers(offer: str) -> str:
        await viewer_pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await viewer_pc.setLocalDescription(await viewer_pc.createAnswer())
        return viewer_pc.localDescription.sdp

    peers.counts.append([0])
    picture = NumberedPicture()
    viewer_pc.on("track", lambda track: peers.tasks.append(asyncio.ensure_future(peers._probe(track, picture))))
    camera_pc.addTransceiver(picture, direction="sendonly")
    await camera_pc.setLocalDescription(await camera_pc.createOffer())
    answer = await viewer_answers(camera_pc.localDescription.sdp)
    await camera_pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    await asyncio.sleep(plan.warmup)
    peers.latencies.clear()
    await asyncio.sleep(plan.baseline)
    await asyncio.gather(camera_pc.close(), viewer_pc.close())
    return {
        "p50": percentile(peers.latencies, 0.5),
        "p95": percentile(peers.latencies, 0.95),
        "samples": len(peers.latencies),
    }


class Audience:
    """The counting viewers, in a process of their own, so the probe's packets do not queue behind theirs."""

    def __init__(self, connection) -> None:
        self.connection = connection

    async def ask(self, *command: object) -> object:
        self.connection.send(command)
        return await asyncio.get_running_loop().run_in_executor(None, self.connection.recv)


def run_audience(port: int, connection) -> None:
    async def main() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        signalling = Signalling(reader, writer)
        peers = Peers()
        loop = asyncio.get_running_loop()
        while (command := await loop.run_in_executor(None, connection.recv))[0] != "exit":
            if command[0] == "add":
                _, relay, joining = command

                async def subscribe(offer: str, relay: str = relay) -> str:
                    return (await signalling.call(op="subscribe", relay=relay, sdp=offer))["sdp"]

                await asyncio.gather(*(peers.viewer(subscribe, None, probe=False) for _ in range(joining)))
                connection.send(len(peers.counts))
            elif command[0] == "counts":
                connection.send(([count[0] for count in peers.counts], time.process_time(), time.monotonic()))
            elif command[0] == "close":
                await peers.close()
                peers = Peers()
                connection.send(None)
        writer.close()

    asyncio.run(main())


async def measure_relay(
    signalling: Signalling, audience: Audience, relay: str, counts: list[int], plan: Plan
) -> list[dict]:
    async def publish(offer: str) -> str:
        return (await signalling.call(op="publish", relay=relay, sdp=offer))["sdp"]

    async def subscribe(offer: str) -> str:
        return (await signalling.call(op="subscribe", relay=relay, sdp=offer))["sdp"]

    peers = Peers()
    picture = await peers.camera(publish)
    await peers.viewer(subscribe, picture, probe=True)
    audience_size = 0
    rows = []
    for n in counts:
        await audience.ask("add", relay, n - 1 - audience_size)
        audience_size = n - 1
        await asyncio.sleep(plan.warmup)
        peers.latencies.clear()
        probe_before = peers.counts[0][0]
        audience_before, audience_cpu_before, audience_wall_before = await audience.ask("counts")
        relay_start = await signalling.call(op="window")
        driver_start = (time.process_time(), time.monotonic())
        await asyncio.sleep(plan.window)
        relay_end = await signalling.call(op="cpu")
        driver_cpu = time.process_time() - driver_start[0]
        driver_wall = time.monotonic() - driver_start[1]
        audience_after, audience_cpu_after, audience_wall_after = await audience.ask("counts")
        audience_wall = audience_wall_after - audience_wall_before
        wall = relay_end["wall"] - relay_start["wall"]
        fps = [(peers.counts[0][0] - probe_before) / driver_wall] + [
            (after - before) / audience_wall for after, before in zip(audience_after, audience_before, strict=True)
        ]
        stats = await signalling.call(op="stats")
        rows.append(
            asdict(
                Row(
                    relay=relay,
                    viewers=n,
                    relay_cores=(relay_end["cpu"] - relay_start["cpu"]) / wall,
                    client_cores=driver_cpu / driver_wall + (audience_cpu_after - audience_cpu_before) / audience_wall,
                    latency_p50_ms=percentile(peers.latencies, 0.5) * 1000,
                    latency_p95_ms=percentile(peers.latencies, 0.95) * 1000,
                    latency_samples=len(peers.latencies),
                    min_viewer_fps=min(fps),
                    total_viewer_fps=sum(fps),
                    encoders_opened=stats["encoders_opened"],
                    forward_delay_p50_ms=stats["forward_delay_p50_ms"],
                    forward_delay_p95_ms=stats["forward_delay_p95_ms"],
                )
            )
        )
        print(f"  {relay:>10} {n:>2} viewers: relay {rows[-1]['relay_cores']:.3f} cores", file=sys.stderr, flush=True)
    await peers.close()
    await audience.ask("close")
    await signalling.call(op="reset")
    return rows


def run_client(port: int, plan: Plan, results, audience_connection) -> None:
    async def main() -> tuple[list[dict], dict]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        signalling = Signalling(reader, writer)
        audience = Audience(audience_connection)
        baseline = await measure_direct(plan)
        rows = await measure_relay(signalling, audience, "forwarding", plan.viewer_counts, plan)
        media_counts = [n for n in plan.viewer_counts if n <= plan.media_relay_max]
        rows += await measure_relay(signalling, audience, "MediaRelay", media_counts, plan)
        audience_connection.send(("exit",))
        writer.close()
        return rows, baseline

    results.send(asyncio.run(main()))


# -- report ---------------------------------------------------------------------------------


def machine() -> str:
    from bench.support import cpu_model

    model = cpu_model()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs, {model}; load average {load}; Python {platform.python_version()}, "
        f"aiortc {aiortc.__version__}, PyAV {av.__version__}"
    )


def report(rows: list[Row], baseline: dict, plan: Plan, seconds: float) -> str:
    by_relay = {(row.relay, row.viewers): row for row in rows}
    direct_50, direct_95 = baseline["p50"] * 1000, baseline["p95"] * 1000

    def added(row: Row) -> str:
        return f"{row.latency_p50_ms - direct_50:+.1f} / {row.latency_p95_ms - direct_95:+.1f}"

    lines = [
        f"Machine: {machine()}",
        f"Camera: {WIDTH}x{HEIGHT} at 30 fps, VP8, over 127.0.0.1; each figure over {plan.window:g} s after "
        f"{plan.warmup:g} s of warm-up.",
        f"Direct camera->viewer, no relay (capture to decoded picture): p50 {direct_50:.1f} ms, p95 {direct_95:.1f} ms "
        f"({baseline['samples']} frames).",
        "",
        "Forwarding relay (liveview.relay.ForwardingRelay):",
        "",
        "| viewers | relay cores | cores per viewer | CPU ms per viewer-frame | in relay p50 / p95 ms "
        "| end to end, added p50 / p95 ms | slowest viewer fps |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in plan.viewer_counts:
        row = by_relay[("forwarding", n)]
        lines.append(
            f"| {n} | {row.relay_cores:.3f} | {row.relay_cores / n:.4f} | {row.cpu_ms_per_viewer_frame:.3f} "
            f"| {row.forward_delay_p50_ms:.1f} / {row.forward_delay_p95_ms:.1f} | {added(row)} "
            f"| {row.min_viewer_fps:.1f} |"
        )
    lines += [
        "",
        f"aiortc MediaRelay (decode once, encode per viewer; unbuffered), up to {plan.media_relay_max} viewers:",
        "",
        "| viewers | relay cores | cores per viewer | CPU ms per viewer-frame | end to end, added p50 / p95 ms "
        "| slowest viewer fps | CPU per viewer-frame vs forwarding |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in plan.viewer_counts:
        row, forwarding = by_relay.get(("MediaRelay", n)), by_relay[("forwarding", n)]
        if row is not None:
            ratio = row.cpu_ms_per_viewer_frame / forwarding.cpu_ms_per_viewer_frame
            lines.append(
                f"| {n} | {row.relay_cores:.3f} | {row.relay_cores / n:.4f} | {row.cpu_ms_per_viewer_frame:.3f} "
                f"| {added(row)} | {row.min_viewer_fps:.1f} | {ratio:.1f}x |"
            )
    lines.append("")
    forwarding, media = by_relay.get(("forwarding", 8)), by_relay.get(("MediaRelay", 8))
    if forwarding and media:
        lines.append(
            f"At 8 viewers: MediaRelay costs {media.cpu_ms_per_viewer_frame / forwarding.cpu_ms_per_viewer_frame:.1f}x "
            f"the CPU per picture delivered ({media.relay_cores / forwarding.relay_cores:.1f}x the cores, "
            f"{media.relay_cores / 8:.4f} vs {forwarding.relay_cores / 8:.4f} per viewer, at "
            f"{media.min_viewer_fps:.0f} vs {forwarding.min_viewer_fps:.0f} fps); forwarding holds a frame "
            f"p95 {forwarding.forward_delay_p95_ms:.1f} ms and adds "
            f"p95 {forwarding.latency_p95_ms - direct_95:+.1f} ms end to end."
        )
    opened = sorted({row.encoders_opened for row in rows if row.relay == "forwarding"})
    client = max(row.client_cores for row in rows)
    lines += [
        f"Video encoders opened for forwarding viewers: {opened}.",
        "In relay: a frame's last packet arriving, to a viewer's sender taking it. End to end: capture to decoded "
        "picture at the probe viewer, minus the direct figure at the same percentile; it includes the load "
        f"generator's own queueing, which peaked at {client:.2f} cores for one camera and all viewers.",
        f"Total run: {seconds:.0f} s.",
    ]
    return "\n".join(lines)


TARGETS: list[dict] = []


def targets(rows: list[Row], baseline: dict) -> list[dict]:
    """The issue's relay targets at 8 viewers: >= 10x less CPU than decode + re-encode, added p95 <= 20 ms."""
    by_relay = {(row.relay, row.viewers): row for row in rows}
    forwarding, media = by_relay.get(("forwarding", 8)), by_relay.get(("MediaRelay", 8))
    found = []
    if forwarding and media:
        ratio = media.cpu_ms_per_viewer_frame / forwarding.cpu_ms_per_viewer_frame
        found.append(
            {
                "target": "relay ≥ 10× less CPU per viewer than decode + re-encode, at 8 viewers",
                "measured": f"{ratio:.1f}× ({forwarding.cpu_ms_per_viewer_frame:.3f} vs "
                f"{media.cpu_ms_per_viewer_frame:.3f} CPU ms per viewer-frame)",
                "met": ratio >= 10,
            }
        )
    if forwarding:
        added = forwarding.latency_p95_ms - baseline["p95"] * 1000
        found.append(
            {
                "target": "relay added latency p95 ≤ 20 ms (8 viewers)",
                "measured": f"{added:+.1f} ms end to end; {forwarding.forward_delay_p95_ms:.1f} ms in the relay",
                "met": added <= 20,
            }
        )
    return found


def main(argv: list[str] | None = None) -> str:
    """Run the relay benchmark; its report as markdown (TARGETS holds the issue's targets, met or not)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 and 8 viewers, 2 s windows")
    parser.add_argument("--media-relay-max", type=int, default=8, help="most viewers to give MediaRelay (default 8)")
    args = parser.parse_args(argv)
    if args.quick:
        plan = Plan([1, 8], media_relay_max=min(args.media_relay_max, 8), warmup=1.0, window=2.0, baseline=2.0)
    else:
        plan = Plan([1, 2, 4, 8, 16, 32], media_relay_max=args.media_relay_max, warmup=1.5, window=5.0, baseline=5.0)
    started = time.monotonic()
    rows, baseline = asyncio.run(serve_relay(plan))
    TARGETS[:] = targets(rows, baseline)
    return report(rows, baseline, plan, time.monotonic() - started)


if __name__ == "__main__":
    print(main())
