"""What a console sees first: the current state and the sequence it was taken at."""

from django.db import transaction

from alerts.console import open_prompts, unacknowledged_alerts
from dispatch.console import console_state
from events.services import head_seq
from liveview.console import live_cameras


def build_snapshot() -> dict:
    """Open calls, every unit, every unacknowledged alert, open prompt and live camera, with the head sequence.

    The head is read before the state, so the state is at least as new as the
    head: events after it that the state already reflects are applied again,
    which is harmless because every event carries the whole object.
    """
    with transaction.atomic():
        seq = head_seq()
        state = console_state()
        alerts = unacknowledged_alerts()
        prompts = open_prompts()
        live = live_cameras()
    return {
        "seq": seq,
        "calls": state["calls"],
        "units": state["units"],
        "alerts": alerts,
        "prompts": prompts,
        "live": live,
    }
