"""Stall benchmark: one console stops reading for 15 s while calls are created; nobody loses or waits.

    .venv/bin/python -m bench.stall [--healthy 20] [--rate 20] [--stall 15] [--quick]

For each server (Daphne, as `make run` serves, and uvicorn) it starts the real
ASGI app on a fresh SQLite file with no REDIS_URL (the embedded default),
opens healthy consoles and one that will stall, all signed in with a session
cookie and behaving as static/js/console-socket.js does: apply events in
sequence order, acknowledge after the snapshot, at every heartbeat and every
100 events, resume on a gap, reconnect with ?after= on a close. A dispatcher
creates calls through the HTTP API (POST /api/v1/calls/) at a steady rate, so
each call.created event is made, logged and published in the server process.

After a baseline window, one console stops reading its socket for the stall
window (a real TCP client with a small receive buffer that stops calling
recv), then reads again. Latency is the call's `created_at` (set by the
server inside the transaction) to the moment a console applies the event.
The stalled console must end with every event of the log exactly once, and
the healthy consoles' p99 during the stall must be within 50 ms of their
p99 before it.
"""

import argparse
import asyncio
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# What a console-socket.js does (kept in step with it).
ACK_EVERY = 100
RETRY_SECONDS = 0.5

# Allowed growth of the healthy consoles' p99 while one console is stalled (issue 4).
ALLOWED_GROWTH_MS = 50.0


@dataclass
class Console:
    """A console that behaves like static/js/console-socket.js, over a real socket."""

    url: str
    cookie: str
    name: str = "console"
    small_buffer: bool = False  # a frozen page: the kernel must not buffer megabytes for it
    seq: int | None = None
    applied: list[int] = field(default_factory=list)  # event sequences applied, in order
    received: list[int] = field(default_factory=list)  # every event frame received, duplicates included
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (created at, seconds to apply)
    closes: list[int | None] = field(default_factory=list)  # close codes, None when the TCP connection just ended
    snapshots: int = 0
    stalled_until: float = 0.0  # time.monotonic() until which it does not read
    ws: object = None

    def stall(self, seconds: float) -> None:
        self.stalled_until = time.monotonic() + seconds

    async def run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        host, port = self.url.split("/")[2].split(":")
        while True:
            address = self.url if self.seq is None else f"{self.url}?after={self.seq}"
            options: dict = {"compression": None, "open_timeout": 30, "max_size": None}
            if self.small_buffer:
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
                sock.connect((host, int(port)))
                options.update(sock=sock, max_queue=2, ping_interval=None)
            try:
                async with connect(
                    address, origin=f"http://{host}:{port}", additional_headers={"Cookie": self.cookie}, **options
                ) as ws:
                    self.ws = ws
                    while True:
                        pause = self.stalled_until - time.monotonic()
                        if pause > 0:
                            await asyncio.sleep(pause)
                            continue
                        await self.receive(ws, json.loads(await ws.recv()))
            except ConnectionClosed as closed:
                self.closes.append(closed.rcvd.code if closed.rcvd else None)
            except OSError:
                self.closes.append(None)
            await asyncio.sleep(RETRY_SECONDS)

    async def receive(self, ws, frame: dict) -> None:
        kind = frame.get("type")
        if kind == "snapshot":
            self.snapshots += 1
            self.seq = frame["seq"]
            await ws.send(json.dumps({"type": "ack", "seq": self.seq}))
        elif kind == "event":
            self.received.append(frame["seq"])
            if self.seq is not None and frame["seq"] <= self.seq:
                return
            if self.seq is not None and frame["seq"] != self.seq + 1:
                await ws.send(json.dumps({"type": "resume", "after": self.seq}))
                return
            self.seq = frame["seq"]
            self.applied.append(self.seq)
            created = _created_at(frame.get("data"))
            if created is not None:
                self.latencies.append((created, time.time() - created))
            if len(self.applied) % ACK_EVERY == 0:
                await ws.send(json.dumps({"type": "ack", "seq": self.seq}))
        elif kind == "heartbeat":
            if self.seq is not None and frame["seq"] > self.seq:
                await ws.send(json.dumps({"type": "resume", "after": self.seq}))
            await ws.send(json.dumps({"type": "ack", "seq": self.seq}))


def _created_at(data) -> float | None:
    try:
        return datetime.fromisoformat(data["created_at"]).timestamp()
    except (TypeError, KeyError, ValueError):
        return None


class CallMaker(threading.Thread):
    """A dispatcher creating calls through the HTTP API at a steady rate, in its own thread."""

    def __init__(self, base: str, api_token: str, rate: float) -> None:
        super().__init__(daemon=True)
        self.host, self.port = base.split("/")[2].split(":")
        self.api_token = api_token
        self.rate = rate
        self.stopping = threading.Event()
        self.created = 0
        self.failures: list[str] = []

    def run(self) -> None:
        connection = http.client.HTTPConnection(self.host, int(self.port), timeout=30)
        body = json.dumps({"type": "FIGHT", "priority": 2, "address": "1200 Market St"})
        headers = {"Authorization": f"Token {self.api_token}", "Content-Type": "application/json"}
        start = time.monotonic()
        while not self.stopping.is_set():
            try:
                connection.request("POST", "/api/v1/calls/", body, headers)
                response = connection.getresponse()
                answer = response.read()
                if response.status == 201:
                    self.created += 1
                else:
                    self.failures.append(f"{response.status} {answer[:200]!r}")
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(repr(exc))
                connection.close()
                connection = http.client.HTTPConnection(self.host, int(self.port), timeout=30)
            start += 1 / self.rate
            time.sleep(max(0.0, start - time.monotonic()))
        connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)


@dataclass
class StallRun:
    healthy: list[Console]
    stalled: Console
    stall_started: float  # wall-clock times
    stall_ended: float
    baseline_started: float
    created: int
    failures: list[str]

    def window(self, start: float, end: float) -> list[float]:
        """Healthy consoles' latencies (s) of events created in [start, end)."""
        return sorted(latency for console in self.healthy for at, latency in console.latencies if start <= at < end)

    def lag_window(self, start: float, end: float) -> list[float]:
        """How long (s) after the first healthy console each other one applied an event created in [start, end).

        A delay of the whole server (a slow commit, a busy machine) reaches
        every console alike and cancels out here; a console held up behind
        another one does not.
        """
        first: dict[float, float] = {}
        for console in self.healthy:
            for at, latency in console.latencies:
                first[at] = min(first.get(at, latency), latency)
        return sorted(
            latency - first[at] for console in self.healthy for at, latency in console.latencies if start <= at < end
        )


async def run_stall(
    url: str,
    cookie: str,
    api_token: str,
    *,
    healthy: int = 20,
    rate: float = 20,
    baseline: float = 5,
    stall: float = 15,
) -> StallRun:
    """Open the consoles, create calls, stall one console, then wait until every console has every event."""
    from channels.db import database_sync_to_async

    from events.services import head_seq

    base = url.split("/ws/", maxsplit=1)[0].replace("ws://", "http://")
    consoles = [Console(url, cookie, name=f"healthy-{n}") for n in range(healthy)]
    stalled = Console(url, cookie, name="stalled", small_buffer=True)
    everyone = [*consoles, stalled]
    tasks = [asyncio.create_task(console.run()) for console in everyone]
    maker = CallMaker(base, api_token, rate)
    try:
        deadline = time.monotonic() + 30
        while any(console.seq is None for console in everyone):
            assert time.monotonic() < deadline, "the consoles did not get their snapshots"
            await asyncio.sleep(0.05)
        baseline_started = time.time()
        maker.start()
        await asyncio.sleep(baseline)
        stall_started = time.time()
        stalled.stall(stall)
        await asyncio.sleep(stall)
        stall_ended = time.time()
        await asyncio.sleep(2)  # a little more traffic once it reads again
        maker.stop()
        # Everyone catches up to the log's head.
        head = await database_sync_to_async(head_seq)()
        deadline = time.monotonic() + 20
        while any((console.seq or 0) < head for console in everyone) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
    finally:
        maker.stopping.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return StallRun(consoles, stalled, stall_started, stall_ended, baseline_started, maker.created, maker.failures)


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))] * 1000 if values else float("nan")


def summarize(run: StallRun, logged: list[int]) -> dict:
    """The figures of a run; `logged` is every event sequence the log holds for the run."""
    before = run.window(run.baseline_started, run.stall_started)
    during = run.window(run.stall_started, run.stall_ended)
    lag_before = run.lag_window(run.baseline_started, run.stall_started)
    lag_during = run.lag_window(run.stall_started, run.stall_ended)
    stalled = run.stalled
    healthy_complete = all(console.applied == logged for console in run.healthy)
    return {
        "events": len(logged),
        "created": run.created,
        "failures": len(run.failures),
        "healthy_complete": healthy_complete,
        "healthy_incomplete": [
            (c.name, sorted(set(logged) - set(c.applied))[:5], c.applied[-3:], logged[-3:], c.closes)
            for c in run.healthy
            if c.applied != logged
        ],
        "healthy_closes": sum(len(c.closes) for c in run.healthy),
        "healthy_duplicates": sum(len(c.received) - len(set(c.received)) for c in run.healthy),
        "stalled_complete": stalled.applied == logged,
        "stalled_missing": len(set(logged) - set(stalled.applied)),
        "stalled_duplicates": len(stalled.received) - len(set(stalled.received)),
        "stalled_closes": stalled.closes,
        "stalled_snapshots": stalled.snapshots,
        "p50_before": statistics.median(before) * 1000 if before else float("nan"),
        "p99_before": percentile(before, 0.99),
        "p50_during": statistics.median(during) * 1000 if during else float("nan"),
        "p99_during": percentile(during, 0.99),
        "lag_p99_before": percentile(lag_before, 0.99),
        "lag_p99_during": percentile(lag_during, 0.99),
        "samples_before": len(before),
        "samples_during": len(during),
    }


# --- The benchmark: servers of its own on a fresh database ---


def setup_django(database_url: str) -> tuple[str, str]:
    """Migrate a fresh database, create a dispatcher; its session Cookie header and API token."""
    os.environ.update(DATABASE_URL=database_url, DEBUG="1", DJANGO_SETTINGS_MODULE="config.settings")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from accounts.roles import ensure_roles

    call_command("migrate", verbosity=0)
    ensure_roles()
    user = get_user_model().objects.create_user("bench-stall-dispatcher", password="not-used-bench-only")
    user.groups.add(Group.objects.get(name="dispatcher"))
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return cookie, Token.objects.create(user=user).key


SERVERS = {
    "daphne": ["-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", "{port}", "config.asgi:application"],
    "uvicorn": [
        *("-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", "{port}"),
        *("--lifespan", "off", "--log-level", "warning"),
    ],
}


def logged_after(seq: int) -> list[int]:
    from events.models import Event

    return list(Event.objects.filter(seq__gt=seq).order_by("seq").values_list("seq", flat=True))


def run_row(kind: str, args, cookie: str, api_token: str, env: dict[str, str]) -> dict:
    import psutil

    from bench.support import free_port, wait_for_port
    from events.services import head_seq

    port = free_port()
    command = [sys.executable, *(part.format(port=port) for part in SERVERS[kind])]
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server)
        start = head_seq()
        run = asyncio.run(
            run_stall(
                f"ws://127.0.0.1:{port}/ws/console/",
                cookie,
                api_token,
                healthy=args.healthy,
                rate=args.rate,
                baseline=args.baseline,
                stall=args.stall,
            )
        )
        rss = psutil.Process(server.pid).memory_info().rss / 2**20
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    return {"kind": kind, "rss_mb": rss, **summarize(run, logged_after(start))}


LABELS = {"daphne": "Daphne (`make run`)", "uvicorn": "uvicorn"}


def closes_text(closes: list[int | None]) -> str:
    return ", ".join("TCP reset" if code is None else str(code) for code in closes) or "none"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--healthy", type=int, default=20, help="healthy consoles")
    parser.add_argument("--rate", type=float, default=20, help="calls created per second")
    parser.add_argument(
        "--baseline", type=float, default=15, help="seconds before the stall (as long as it: comparable p99)"
    )
    parser.add_argument("--stall", type=float, default=15, help="seconds the console does not read")
    parser.add_argument("--quick", action="store_true", help="10 healthy consoles, 8 s before a 12 s stall")
    parser.add_argument("--servers", nargs="+", default=["daphne", "uvicorn"], choices=sorted(SERVERS))
    parser.add_argument("--conduct", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.healthy, args.stall, args.baseline = min(args.healthy, 10), 12, 8
    return args


def main(argv: list[str] | None = None) -> str:
    """Run the stall benchmark; its markdown section (also printed)."""
    args = parse(argv)
    if args.conduct:
        text = conduct(args)
    else:
        # Django is set up for one database per process: the conductor gets a process of its own,
        # so that several benches can run from one caller.
        argv = sys.argv[1:] if argv is None else list(argv)
        text = subprocess.run(
            [sys.executable, "-m", "bench.stall", "--conduct", *argv],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        ).stdout
    print(text)
    return text


def conduct(args) -> str:
    """Run every row; the markdown section."""
    from bench.fanout import machine
    from bench.support import raise_open_file_limit

    raise_open_file_limit()
    workdir = tempfile.mkdtemp(prefix="beacon-stall-")
    database_url = f"sqlite:///{workdir}/bench.sqlite3"
    cookie, api_token = setup_django(database_url)
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATABASE_URL=database_url, DEBUG="1", DJANGO_SETTINGS_MODULE="config.settings", LOG_LEVEL="ERROR")
    rows = []
    for kind in args.servers:
        started = time.monotonic()
        rows.append(run_row(kind, args, cookie, api_token, env))
        print(f"stall, {kind}: done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)

    lines = [
        "## Stall: one console stops reading",
        "",
        f"Machine: {machine()}. {args.healthy} healthy consoles and one that stops reading for "
        f"{args.stall:g} s, while a dispatcher creates {args.rate:g} calls a second over the HTTP API "
        "(embedded default: SQLite, no Redis). Latency: the call's `created_at` (in the server's "
        "transaction) to the moment a console applies its event, over the healthy consoles, in the "
        f"{args.baseline:g} s before the stall and during it. Lag: how long after the first healthy console "
        "each other one applied the same event (a console held up behind another shows here; a slow commit "
        "or a busy machine, which delays everyone alike, does not).",
        "",
        "| server | events | stalled console: lost / repeated | its closes | healthy: lost / repeated "
        "| p50 ms before → during | p99 ms before → during | lag p99 ms before → during | server RSS MB | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        healthy_lost = "0" if row["healthy_complete"] else "some"
        verdict = [
            row["stalled_complete"] and not row["stalled_duplicates"],
            row["healthy_complete"] and not row["healthy_duplicates"] and not row["failures"],
            row["p50_during"] - row["p50_before"] <= ALLOWED_GROWTH_MS,
            row["p99_during"] - row["p99_before"] <= ALLOWED_GROWTH_MS,
            row["lag_p99_during"] - row["lag_p99_before"] <= ALLOWED_GROWTH_MS,
        ]
        lines.append(
            f"| {LABELS[row['kind']]} | {row['events']} | {row['stalled_missing']} / {row['stalled_duplicates']} "
            f"| {closes_text(row['stalled_closes'])} | {healthy_lost} / {row['healthy_duplicates']} "
            f"| {row['p50_before']:.1f} → {row['p50_during']:.1f} | {row['p99_before']:.1f} → {row['p99_during']:.1f} "
            f"| {row['lag_p99_before']:.1f} → {row['lag_p99_during']:.1f} | {row['rss_mb']:.0f} "
            f"| {'pass' if all(verdict) else 'FAIL'} |"
        )
    lines += [
        "",
        "Pass: the stalled console ends with every event of the log exactly once, no healthy console misses "
        f"or repeats one, and the healthy consoles' p50, p99 and lag p99 grow by at most {ALLOWED_GROWTH_MS:g} ms. "
        "The p99 of a window is the few slowest events in it: on a busy machine a slow commit now and then "
        "moves it by tens of ms either way, so repeat a failing row before reading much into it.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
