"""Settings of the ASGI servers that the socket tests start: the product's own, with test timers."""

import os

from config.settings import *  # noqa: F403

CONSOLE_HEARTBEAT_SECONDS = float(os.environ.get("BEACON_TEST_HEARTBEAT_SECONDS", "1"))
CONSOLE_QUEUE_CAPACITY = int(os.environ.get("BEACON_TEST_QUEUE_CAPACITY", "1000"))
