"""What the benchmarks share: the machine, a fresh database with a fleet in it, a server in a subprocess.

The database is prepared in a child process (`python -m bench.support prepare ...`), so a
benchmark's conductor never configures Django itself and several benchmarks can run one
after another in one `python -m bench`, each on its own database.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def raise_open_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not listen on {port} within {seconds:g} s")


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of the values lie (nearest rank); NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def machine() -> dict:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory_gib(), 1),
        "load": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def machine_line() -> str:
    m = machine()
    return (
        f"{m['cores']} cores, {m['cpu']}, {m['memory_gib']} GiB; load average {m['load']}; "
        f"Python {m['python']}; {m['date']}"
    )


# --- A fresh database ---------------------------------------------------------------------


def fresh_database(workdir: str) -> str:
    """A new SQLite file in workdir, or a new database on DATABASE_URL's PostgreSQL server."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        return f"sqlite:///{workdir}/bench.sqlite3"
    import psycopg

    name = f"beacon_bench_{os.getpid()}_{int(time.time())}"
    head, _, _ = base.rpartition("/")
    with psycopg.connect(head.replace("postgres://", "postgresql://", 1) + "/postgres", autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    return f"{head}/{name}"


def drop_database(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    head, _, name = url.rpartition("/")
    try:
        with psycopg.connect(head.replace("postgres://", "postgresql://", 1) + "/postgres", autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error:
        pass


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        # Measured as production runs: DEBUG off (no query log, compressed and
        # hashed static files), over plain HTTP on the loopback.
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "k" * 60,
        "SECURE_SSL": "0",
        # Collected outside the checkout: a development server (DEBUG on) scans
        # STATIC_ROOT on every request when it exists.
        "STATIC_ROOT": str(Path(tempfile.gettempdir()) / "beacon-bench-static"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    # One server process: the in-process hub and channel layer, unless a benchmark asks for Redis.
    if "REDIS_URL" not in extra:
        env.pop("REDIS_URL", None)
    return env


def prepare(database_url: str, *, units: int = 0, calls: int = 0, positions: bool = False, empty: bool = False) -> dict:
    """Migrate, fill with the demo agency (+ units up to `units`, `calls` open calls); credentials as a dict."""
    out = Path(tempfile.mkstemp(prefix="beacon-bench-", suffix=".json")[1])
    command = [PYTHON, "-m", "bench.support", "prepare", "--units", str(units), "--calls", str(calls)]
    command += ["--positions"] if positions else []
    command += ["--empty"] if empty else []
    command += ["--out", str(out)]
    subprocess.run(command, cwd=ROOT, env=server_env(database_url), check=True, timeout=900)
    try:
        return json.loads(out.read_text())
    finally:
        out.unlink()


def _prepare_here(units: int, calls: int, positions: bool, empty: bool = False) -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import transaction
    from django.test import Client
    from django.utils import timezone

    from accounts.roles import ensure_roles
    from dispatch.models import Agency, IncidentType, Unit
    from dispatch.services import call_create
    from simulator.credentials import prepare_fleet

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--no-input", verbosity=0)
    ensure_roles()
    if not empty:
        call_command("demo", "--force", verbosity=0)
    fleet = prepare_fleet(units or None) if not empty else None
    user = get_user_model().objects.create_user("bench-dispatcher", password=None)
    user.groups.add(Group.objects.get(name="dispatcher"))
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    agency = Agency.current()
    if positions:
        now = timezone.now()
        with transaction.atomic():
            for index, unit in enumerate(Unit.objects.order_by("pk")):
                unit.lat = agency.centre_lat + ((index * 37) % 61 - 30) * 0.0007
                unit.lon = agency.centre_lon + ((index * 53) % 67 - 33) * 0.0009
                unit.position_at = now
                unit.save(update_fields=["lat", "lon", "position_at"])
    types = list(IncidentType.objects.order_by("code")[:20])
    for index in range(calls):
        call_create(
            actor=user,
            incident_type=types[index % len(types)],
            priority=index % 5 + 1,
            address=f"{100 + index} Bench Street",
            lat=agency.centre_lat + ((index * 29) % 53 - 26) * 0.0008,
            lon=agency.centre_lon + ((index * 31) % 59 - 29) * 0.0010,
            caller_name="Bench Caller",
            narrative="Synthetic call for the console benchmark.",
        )
    from events.services import head_seq

    return {
        "head_seq": head_seq(),
        "cookie_name": settings.SESSION_COOKIE_NAME,
        "cookie": cookie,
        "units": [
            {
                "id": unit.id,
                "call_sign": unit.call_sign,
                "position_device": unit.position_device.name,
                "position_token": unit.position_device.token,
                "trigger_device": unit.trigger_device.name,
                "trigger_token": unit.trigger_device.token,
            }
            for unit in (fleet.units if fleet else ())
        ],
    }


# --- A server in a subprocess ----------------------------------------------------------------


def server_command(kind: str, port: int) -> list[str]:
    if kind == "uvicorn":
        return [PYTHON, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "-v", "0"]


@contextmanager
def asgi_server(kind: str, env: dict[str, str], app: str = "config.asgi:application", log: str | None = None):
    """Run Daphne or uvicorn on a free port; yield (port, Popen)."""
    port = free_port()
    with open(log or os.devnull, "wb") as out:
        process = subprocess.Popen(
            [*server_command(kind, port), app], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            wait_for_port(port, process)
            yield port, process
        finally:
            stop(process)


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Prepare a benchmark database (DATABASE_URL from the environment).")
    parser.add_argument("what", choices=["prepare"])
    parser.add_argument("--units", type=int, default=0)
    parser.add_argument("--calls", type=int, default=0)
    parser.add_argument("--positions", action="store_true")
    parser.add_argument("--empty", action="store_true", help="no agency data: roles and the dispatcher only")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    Path(args.out).write_text(json.dumps(_prepare_here(args.units, args.calls, args.positions, args.empty)))


if __name__ == "__main__":
    main()
