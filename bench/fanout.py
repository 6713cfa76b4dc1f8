"""Console fan-out benchmark: events recorded 2 a second, pushed to N console sockets.

    .venv/bin/python -m bench.fanout [--consoles 1000] [--seconds 20] [--quick] [--deflate] [--no-ack]

For each server (Daphne, uvicorn) it starts the real ASGI app in a server
process on a fresh SQLite file, opens N consoles from a separate client
process (signed in with a session cookie made directly in the database), and
records events from this process. The server is not the process that records,
so the events travel the production multi-process path: record_event ->
on_commit -> PUBLISH on Redis -> the server's hub -> every console's outbox.
REDIS_URL (default redis://127.0.0.1:6379/0) must reach a Redis.

Each event carries the wall-clock time it was committed; the client notes when
each console received it. Server CPU (user + system, psutil) over the
measured window is divided by the frames the consoles received in it. The
floor is a plain `websockets` server that broadcasts the same frames, fed by
the same Redis channel, measured in the same run.

Consoles acknowledge as static/js/console-socket.js does (after the
snapshot, at every heartbeat, every 100 events), so the server's cost of
reading acknowledgements is in the figure; --no-ack leaves them out.
Consoles offer no per-message deflate unless --deflate: a browser offers it,
and uvicorn accepts it by default, which compresses every frame once per
console (see the report).
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.support import cpu_model, free_port, raise_open_file_limit, wait_for_port  # noqa: E402 (after the path is set)

FLOOR_CHANNEL = "bench:fanout:floor"
EVENT_PADDING = "x" * 170  # an event frame of about 250 bytes, as in notes/realtime.md


def machine() -> str:
    """CPU model and count, and Python: the line every bench table starts with."""
    import platform

    return f"{cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


# --- Server process: `fanout.py --serve daphne|uvicorn|floor --port N` ---


def serve(kind: str, port: int) -> None:
    raise_open_file_limit()
    if kind == "floor":
        asyncio.run(serve_floor(port))
        return
    if kind == "daphne-uvloop":
        # Daphne runs Twisted on a loop it makes at import from the current
        # policy: uvloop's add_writer/remove_writer instead of the selectors
        # module's, which Twisted calls twice for every frame it writes.
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    import django

    django.setup()
    from django.conf import settings

    # The per-console session re-check is not fan-out; keep it out of the window.
    settings.CONSOLE_ACCESS_RECHECK_SECONDS = 3600
    if kind == "uvicorn":
        import uvicorn

        uvicorn.run("config.asgi:application", host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    else:
        from daphne.cli import CommandLineInterface

        CommandLineInterface().run(["-b", "127.0.0.1", "-p", str(port), "-v", "0", "config.asgi:application"])


async def serve_floor(port: int) -> None:
    """The floor: one Redis subscription, websockets.broadcast() to every socket."""
    import redis.asyncio as aioredis
    from websockets.asyncio.server import broadcast, serve

    connections = set()

    async def handler(ws):
        connections.add(ws)
        try:
            await ws.wait_closed()
        finally:
            connections.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None):
        client = aioredis.Redis.from_url(os.environ["REDIS_URL"])
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(FLOOR_CHANNEL)
        async for message in pubsub.listen():
            broadcast(connections, message["data"].decode())


# --- Client process: `fanout.py --client URL --consoles N` ---


async def run_client(url: str, consoles: int, cookie: str, deflate: bool, ack: bool) -> None:
    """Open the consoles, print READY; count from GO to STOP; print the result as JSON."""
    from websockets.asyncio.client import connect

    raise_open_file_limit()
    origin = "http://" + url.split("/")[2]
    latencies: list[float] = []
    slowest: dict[str, float] = {}  # per event: the time until its last console had it
    frames = 0
    counting = False
    sockets = []
    limit = asyncio.Semaphore(50)

    async def open_one():
        async with limit:
            ws = await connect(
                url,
                origin=origin,
                additional_headers={"Cookie": cookie} if cookie else None,
                compression="deflate" if deflate else None,
                open_timeout=60,
                max_size=None,
            )
            sockets.append(ws)
            return ws

    async def read(ws):
        nonlocal frames
        loads, now = json.loads, time.time
        applied = 0
        async for text in ws:
            if ack and not text.startswith('{"type":"event"'):
                frame = loads(text)
                if frame.get("type") in ("heartbeat", "snapshot"):
                    # As the browser does; a heartbeat's seq is what it has applied by then.
                    await ws.send(f'{{"type":"ack","seq":{frame["seq"]}}}')
            if not counting:
                continue
            frames += 1
            frame = loads(text)
            if frame.get("type") == "event":
                applied += 1
                if ack and applied % 100 == 0:
                    await ws.send(f'{{"type":"ack","seq":{frame["seq"]}}}')
                latency = now() - frame["data"]["t"]
                latencies.append(latency)
                key = str(frame["seq"])
                slowest[key] = max(slowest.get(key, 0.0), latency)

    opened = await asyncio.gather(*(open_one() for _ in range(consoles)))
    readers = [asyncio.create_task(read(ws)) for ws in opened]
    await asyncio.sleep(1)  # snapshots in
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    assert (await stdin.readline()).strip() == b"GO"
    counting = True
    assert (await stdin.readline()).strip() == b"STOP"
    counting = False
    closed = sum(1 for task in readers if task.done())
    print(json.dumps({"frames": frames, "latencies": latencies, "slowest": slowest, "closed": closed}), flush=True)
    for ws in sockets:
        ws.transport.abort()


# --- The conductor ---


def setup_django(database_url: str, redis_url: str) -> str:
    """Migrate a fresh database, create a dispatcher and a session; the Cookie header."""
    os.environ.update(
        DATABASE_URL=database_url, REDIS_URL=redis_url, DEBUG="1", DJANGO_SETTINGS_MODULE="config.settings"
    )
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client

    from accounts.roles import ensure_roles

    call_command("migrate", verbosity=0)
    ensure_roles()
    user = get_user_model().objects.create_user("bench-dispatcher", password="not-used-bench-only")
    user.groups.add(Group.objects.get(name="dispatcher"))
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def record_events(kind: str, seconds: float, rate: float, redis_url: str) -> int:
    """Record (or, for the floor, publish) events at `rate` per second; how many."""
    import redis
    from django.db import transaction

    from events.hub import encode
    from events.services import record_event

    floor = redis.Redis.from_url(redis_url) if kind == "floor" else None
    count = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        count += 1
        data = {"t": time.time(), "pad": EVENT_PADDING}
        if floor is not None:
            floor.publish(FLOOR_CHANNEL, encode({"type": "event", "seq": count, "event": "alert.raised", "data": data}))
        else:
            with transaction.atomic():
                record_event("alert.raised", data)
        time.sleep(max(0.0, start + count / rate - time.monotonic()))
    return count


def run_row(kind: str, args, cookie: str, env: dict[str, str]) -> dict:
    import psutil

    port = free_port()
    # The server's warnings (a console closed with 4008, say) explain an incomplete row.
    log_path = Path(tempfile.gettempdir()) / f"beacon-fanout-{kind}-{port}.log"
    log = log_path.open("w")
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    client = None
    try:
        wait_for_port(port, server)
        url = f"ws://127.0.0.1:{port}/" if kind == "floor" else f"ws://127.0.0.1:{port}/ws/console/"
        client_args = [sys.executable, __file__, "--client", url, "--consoles", str(args.consoles)]
        client_args += ["--cookie", cookie] if kind != "floor" else []
        client_args += ["--deflate"] if args.deflate else []
        client_args += ["--no-ack"] if args.no_ack else []
        client = subprocess.Popen(client_args, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        ready = client.stdout.readline().strip()
        if ready != b"READY":
            raise RuntimeError(f"{kind}: the client did not open its consoles ({ready!r})")
        measured = psutil.Process(server.pid)
        before = measured.cpu_times()
        client.stdin.write(b"GO\n")
        client.stdin.flush()
        events = record_events(kind, args.seconds, args.rate, env["REDIS_URL"])
        time.sleep(2)  # the last events reach every console
        after = measured.cpu_times()
        client.stdin.write(b"STOP\n")
        client.stdin.flush()
        result = json.loads(client.stdout.readline())
    finally:
        for process in (client, server):
            if process is not None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
    log.close()
    if result["closed"] or len(result["latencies"]) < events * args.consoles:
        print(f"{kind}: incomplete; the server's log is {log_path}", file=sys.stderr, flush=True)
    latencies = sorted(result["latencies"])
    slowest = sorted(result["slowest"].values())
    if os.environ.get("FANOUT_DEBUG"):
        print(kind, [round(result["slowest"][k] * 1000) for k in sorted(result["slowest"], key=int)], file=sys.stderr)
    cpu = (after.user - before.user) + (after.system - before.system)
    return {
        "kind": kind,
        "events": events,
        "deliveries": len(latencies),
        "expected": events * args.consoles,
        "frames": result["frames"],
        "closed": result["closed"],
        "p50": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan"),
        "all_p99": slowest[int(len(slowest) * 0.99)] * 1000 if slowest else float("nan"),
        "us_per_frame": cpu / result["frames"] * 1e6 if result["frames"] else float("nan"),
    }


LABELS = {
    "floor": "plain `websockets` broadcast (the floor)",
    "uvicorn": "Beacon hub, uvicorn",
    "daphne": "Beacon hub, Daphne",
    "daphne-uvloop": "Beacon hub, Daphne on uvloop",
}


def conduct(args) -> str:
    """Run every row; the markdown section."""
    raise_open_file_limit()
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    workdir = tempfile.mkdtemp(prefix="beacon-fanout-")
    database_url = f"sqlite:///{workdir}/bench.sqlite3"
    cookie = setup_django(database_url, redis_url)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
    }
    rows = []
    for kind in args.servers:
        started = time.monotonic()
        rows.append(run_row(kind, args, cookie, env))
        print(f"fanout, {kind}: done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    floor = next((row for row in rows if row["kind"] == "floor"), None)
    deflate = "with" if args.deflate else "without"
    acks = "acknowledging every heartbeat as the browser does" if not args.no_ack else "not acknowledging"
    lines = [
        "## Console fan-out",
        "",
        f"Machine: {machine()}. {args.consoles} consoles, {args.rate:g} events/s for {args.seconds:g} s, "
        f"{deflate} per-message deflate, consoles {acks}; events recorded in another process and carried by "
        "Redis. p50/p99: every delivery; all-consoles p99: the time until the last console had an event, "
        "99th percentile over events. Server µs per frame: server CPU (user + system) over the window / "
        "frames the consoles received.",
        "",
        "| setup | events | delivered / expected | p50 ms | p99 ms | all-consoles p99 ms "
        "| server µs per frame | × floor (µs) | × floor (all-consoles p99) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cost_ratio = row["us_per_frame"] / floor["us_per_frame"] if floor else float("nan")
        latency_ratio = row["all_p99"] / floor["all_p99"] if floor else float("nan")
        lines.append(
            f"| {LABELS[row['kind']]} | {row['events']} | {row['deliveries']} / {row['expected']} "
            f"| {row['p50']:.1f} | {row['p99']:.1f} | {row['all_p99']:.1f} | {row['us_per_frame']:.1f} "
            f"| {cost_ratio:.2f} | {latency_ratio:.2f} |"
        )
    lost = [row["kind"] for row in rows if row["deliveries"] < row["expected"] or row["closed"]]
    if lost:
        lines += ["", f"Incomplete delivery or closed sockets in: {', '.join(lost)}"]
    lines.append("")
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consoles", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20, help="recording window per server")
    parser.add_argument("--rate", type=float, default=2, help="events per second")
    parser.add_argument("--quick", action="store_true", help="200 consoles for 8 s")
    parser.add_argument("--deflate", action="store_true", help="consoles offer per-message deflate, as browsers do")
    parser.add_argument("--no-ack", action="store_true", help="consoles send no acknowledgements")
    parser.add_argument("--servers", nargs="+", default=["floor", "uvicorn", "daphne"], choices=sorted(LABELS))
    parser.add_argument("--conduct", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", choices=sorted(LABELS), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--cookie", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.consoles, args.seconds = min(args.consoles, 200), 8
    return args


def main(argv: list[str] | None = None) -> str:
    """Run the fan-out benchmark; its markdown section (also printed)."""
    args = parse(argv)
    if args.serve:
        serve(args.serve, args.port)
        return ""
    if args.client:
        asyncio.run(run_client(args.client, args.consoles, args.cookie, args.deflate, not args.no_ack))
        return ""
    if args.conduct:
        text = conduct(args)
    else:
        # Django is set up for one database per process: the conductor gets a process of its own,
        # so that several benches can run from one caller.
        argv = sys.argv[1:] if argv is None else list(argv)
        text = subprocess.run(
            [sys.executable, __file__, "--conduct", *argv], cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True
        ).stdout
    print(text)
    return text


if __name__ == "__main__":
    main()
