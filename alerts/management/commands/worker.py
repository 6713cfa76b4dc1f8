"""python manage.py worker: the timers of the activation policy, as a plain loop that claims due rows.

Each tick turns unanswered "are you OK?" prompts past their deadline into
officer-down alerts and escalates officer-down alerts nobody acknowledged.
Several workers may run: each claims rows with SELECT ... FOR UPDATE SKIP
LOCKED (PostgreSQL), so no alert is raised or escalated twice.
"""

import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from alerts.services import escalate_overdue_alerts, expire_prone_windows

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the alert timers (prone prompts, escalation) until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between ticks (default 0.5).")
        parser.add_argument("--once", action="store_true", help="Run one tick and exit.")

    def handle(self, *args, interval: float, once: bool, **options):
        self.running = True

        def stop(*_):
            self.running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while self.running:
            started = time.monotonic()
            try:
                for alert in expire_prone_windows():
                    logger.info("No answer to 'are you OK?': raised alert %s.", alert.pk)
                for alert in escalate_overdue_alerts():
                    logger.warning("Alert %s was not acknowledged in time: escalated.", alert.pk)
            except Exception:
                logger.exception("A worker tick failed; trying again at the next one.")
            if once:
                return
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
            # A database restart between ticks costs one tick, not the worker.
            close_old_connections()
