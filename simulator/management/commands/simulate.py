"""`manage.py simulate`: a fleet of virtual units, cameras and MDTs speaking Beacon's public contracts."""

import argparse
import asyncio
import logging
import random
import signal
import sys

from django.core.management.base import BaseCommand, CommandError

from simulator.fleet import DEFAULT_SCENARIO_WEIGHTS, SCENARIOS, FleetConfig


def _range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    try:
        pair = (float(low), float(high or low))
    except ValueError:
        raise ValueError(f"{text!r} is not a range such as 30-90")
    if pair[0] < 0 or pair[1] < pair[0]:
        raise ValueError(f"{text!r} is not a range from low to high, such as 30-90")
    return pair


def _weights(text: str) -> dict[str, float]:
    weights = dict(DEFAULT_SCENARIO_WEIGHTS)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name not in SCENARIOS:
            raise ValueError(f"{name!r} is not one of {', '.join(SCENARIOS)}")
        weights[name] = float(value)
    return weights


class Command(BaseCommand):
    help = (
        "Run simulated units against a Beacon server: patrols on a street grid, synthetic calls, dispatch, "
        "sensor triggers and live video, all through the public API, device socket and WHIP."
    )

    def add_arguments(self, parser):
        parser.add_argument("--server", default="http://127.0.0.1:8000", help="Beacon's base URL.")
        parser.add_argument(
            "--units", type=int, help="How many units to drive (default: the agency's); extra ones are created."
        )
        parser.add_argument("--seed", type=int, help="Seed for a repeatable run (default: a random one, printed).")
        parser.add_argument(
            "--calls-per-minute", type=float, default=60 / 45, help="Synthetic calls for service (default 1.33)."
        )
        parser.add_argument("--no-calls", action="store_true", help="No synthetic calls.")
        parser.add_argument(
            "--auto-dispatch",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="Dispatch each synthetic call to the nearest recommended unit (default), or leave it to a person.",
        )
        parser.add_argument("--triggers-per-minute", type=float, default=0.4, help="Sensor triggers (default 0.4).")
        parser.add_argument(
            "--trigger-weights",
            default="",
            help="Weights of the scenarios, e.g. weapon_drawn=3,foot_pursuit=3,prone_ok=3,prone_down=1,gunshot=1.",
        )
        parser.add_argument("--dwell", default="30-90", help="Seconds on scene, low-high (default 30-90).")
        parser.add_argument("--no-video", action="store_true", help="Cameras told to go live do not publish video.")
        parser.add_argument("--max-live", type=int, default=20, help="At most this many cameras live at once.")
        parser.add_argument("--live-seconds", default="60-120", help="How long a camera stays live, low-high.")
        parser.add_argument(
            "--opening",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="A scripted first minute: a call dispatched at 5 s, a weapon drawn at 22 s (default on).",
        )
        parser.add_argument("--time-scale", type=float, default=1.0, help="Simulated seconds per real second.")
        parser.add_argument("--duration", type=float, help="Stop after this many seconds (default: run until Ctrl-C).")

    def handle(self, *args, **options):
        from simulator.credentials import prepare_fleet
        from simulator.runner import Simulation, SimulationOptions

        try:
            dwell = _range(options["dwell"])
            live = _range(options["live_seconds"])
            weights = _weights(options["trigger_weights"])
        except ValueError as error:
            raise CommandError(str(error))
        if options["units"] is not None and not 1 <= options["units"] <= 5000:
            raise CommandError("--units must be between 1 and 5000.")
        if options["time_scale"] <= 0:
            raise CommandError("--time-scale must be above 0.")
        seed = options["seed"] if options["seed"] is not None else random.SystemRandom().randrange(1_000_000)

        handler = logging.StreamHandler(self.stdout)
        handler.setFormatter(logging.Formatter("simulator: %(message)s"))
        logger = logging.getLogger("simulator")
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO if options["verbosity"] >= 1 else logging.WARNING)
        for chatty in ("httpx", "aioice", "aiortc", "websockets"):
            logging.getLogger(chatty).setLevel(logging.WARNING)

        try:
            credentials = prepare_fleet(options["units"])
        except ValueError as error:
            raise CommandError(str(error))
        config = FleetConfig(
            calls_per_minute=0.0 if options["no_calls"] else options["calls_per_minute"],
            triggers_per_minute=options["triggers_per_minute"],
            scenario_weights=weights,
            dwell_s=dwell,
            opening=options["opening"] and not options["no_calls"],
        )
        simulation = Simulation(
            credentials,
            SimulationOptions(
                server=options["server"],
                seed=seed,
                fleet=config,
                auto_dispatch=options["auto_dispatch"],
                video=not options["no_video"],
                max_live=options["max_live"],
                live_s=live,
                time_scale=options["time_scale"],
            ),
        )
        logger.info("seed %d (repeat this run with --seed %d)", seed, seed)

        async def main():
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, simulation.stop)
            await simulation.run(duration=options["duration"])

        try:
            asyncio.run(main())
        except OSError as error:
            raise CommandError(f"Could not reach {options['server']}: {error}")
        sys.stdout.flush()
