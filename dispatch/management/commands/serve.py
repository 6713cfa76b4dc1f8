"""Start the product: the ASGI server and, unless turned off, the simulated agency."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run Beacon (Daphne) with the simulated agency; Ctrl-C stops everything."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-simulate",
            action="store_true",
            help="Start without the simulated fleet (also BEACON_SIMULATE=0).",
        )

    def handle(self, *args, host, port, no_simulate, **options):
        simulate = not no_simulate and os.environ.get("BEACON_SIMULATE", "1") not in {"0", "false", "no"}
        python = sys.executable
        children = [
            # Verbosity 0: no access log line for every request the simulated fleet makes.
            ("server", [python, "-m", "daphne", "-v", "0", "-b", host, "-p", str(port), "config.asgi:application"]),
            ("worker", [python, "manage.py", "worker"]),
        ]
        if simulate:
            children.append(("simulator", [python, "manage.py", "simulate", "--server", f"http://{host}:{port}"]))

        processes = []
        for name, command in children:
            processes.append((name, subprocess.Popen(command, cwd=settings.BASE_DIR)))
            if name == "server":
                time.sleep(1.5)  # let the server listen before the fleet connects

        self.stdout.write(self.style.SUCCESS(f"\nBeacon is running at http://{host}:{port}/\n"))
        password = os.environ.get("DEMO_PASSWORD", "beacon-demo")
        self.stdout.write("Sign in as dispatcher, supervisor, officer or admin, password: " + password)
        self.stdout.write(
            "Simulated agency: " + ("on (BEACON_SIMULATE=0 turns it off)" if simulate else "off") + ". Ctrl-C stops.\n"
        )

        def stop(*_):
            # The fleet first, so its cameras can end their live streams (WHIP
            # DELETE) while the server still answers; then the rest.
            for _, process in reversed(processes):
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=8)
                except subprocess.TimeoutExpired:
                    process.kill()
            sys.exit(0)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while True:
            for name, process in processes:
                if process.poll() is not None:
                    self.stderr.write(f"The {name} stopped (exit code {process.returncode}); stopping Beacon.")
                    stop()
            time.sleep(0.5)
