"""The device telemetry contract: parse a body into events, and keep positions off the hot path.

A body is one event object or a list of 1 to MAX_BATCH of them (DESIGN.md,
Telemetry over HTTP). Each event is checked on its own, so one bad event does
not cost the device its good ones; the rejected ones come back by index with a
sentence a camera vendor's engineer can act on.
"""

import json
import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from alerts.models import EVENT_TYPES

logger = logging.getLogger(__name__)

MAX_BATCH = 500
MAX_BODY_BYTES = 1024 * 1024
# A device clock may run a little ahead; beyond this its times cannot be trusted.
MAX_CLOCK_AHEAD = timedelta(minutes=5)


class BadBody(ValueError):
    """The body as a whole is not a batch of events; the message says why."""


@dataclass
class DeviceEventIn:
    """One valid event from a device."""

    index: int
    id: uuid.UUID
    type: str
    at: datetime
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Rejection:
    index: int
    id: str | None
    reason: str

    def as_dict(self) -> dict:
        return {"index": self.index, "id": self.id, "reason": self.reason}


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def load_body(raw: bytes | str) -> list[Any]:
    """The body's events as a list of raw items, or BadBody."""
    if len(raw) > MAX_BODY_BYTES:
        raise BadBody(f"The body is larger than {MAX_BODY_BYTES} bytes; send at most {MAX_BATCH} events at a time.")
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadBody(f"The body is not valid JSON: {error}.")
    if isinstance(body, dict):
        return [body]
    if not isinstance(body, list):
        raise BadBody("Send one event object or a list of event objects.")
    if not body:
        raise BadBody("The list of events is empty; send 1 to 500 events.")
    if len(body) > MAX_BATCH:
        raise BadBody(f"A batch holds at most {MAX_BATCH} events; this one has {len(body)}. Split it.")
    return body


def _number(item: dict, name: str, low: float | None = None, high: float | None = None) -> float | None:
    value = item.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number.")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be between {low:g} and {high:g}; it is {value:g}.")
    return float(value)


def parse_time(value: Any, now: datetime) -> datetime:
    """An RFC 3339 time with its offset, not far ahead of the server's clock."""
    if not isinstance(value, str):
        raise ValueError('at must be an RFC 3339 time such as "2026-03-01T14:05:09Z".')
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f'at "{value[:40]}" is not an RFC 3339 time such as "2026-03-01T14:05:09Z".')
    if moment.tzinfo is None:
        raise ValueError(f'at "{value[:40]}" has no UTC offset; end it with Z or +hh:mm.')
    if moment - now > MAX_CLOCK_AHEAD:
        raise ValueError(
            f"at is {(moment - now).total_seconds():.0f} s in the future: the device's clock is ahead; "
            "set it from GPS or NTP."
        )
    return moment


def parse_event(index: int, item: Any, now: datetime) -> DeviceEventIn:
    """Check one event against the contract; ValueError carries the reason."""
    if not isinstance(item, dict):
        raise ValueError("An event must be a JSON object.")
    raw_id = item.get("id")
    try:
        event_id = uuid.UUID(raw_id) if isinstance(raw_id, str) else None
    except ValueError:
        event_id = None
    if event_id is None:
        raise ValueError("id must be a UUID the device chose for this event.")
    kind = item.get("type")
    if kind not in EVENT_TYPES:
        raise ValueError(f"type {kind!r} is not one of: {', '.join(EVENT_TYPES)}.")
    at = parse_time(item.get("at"), now)
    lat = _number(item, "lat", -90, 90)
    lon = _number(item, "lon", -180, 180)
    if (lat is None) != (lon is None):
        raise ValueError("Give lat and lon together.")
    if kind == "location" and lat is None:
        raise ValueError("A location event needs lat and lon.")
    data = item.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError("data must be a JSON object.")
    return DeviceEventIn(
        index=index,
        id=event_id,
        type=kind,
        at=at,
        lat=lat,
        lon=lon,
        accuracy_m=_number(item, "accuracy_m", 0, 100_000),
        speed_mps=_number(item, "speed_mps", 0, 150),
        heading_deg=_number(item, "heading_deg", 0, 360),
        data=data,
    )


def parse_events(items: list[Any], now: datetime | None = None) -> tuple[list[DeviceEventIn], list[Rejection]]:
    """Split raw items into valid events and rejections named by index."""
    now = now or timezone.now()
    valid, rejected = [], []
    for index, item in enumerate(items):
        try:
            valid.append(parse_event(index, item, now))
        except ValueError as error:
            raw_id = item.get("id") if isinstance(item, dict) else None
            rejected.append(Rejection(index, raw_id if isinstance(raw_id, str) else None, str(error)))
    return valid, rejected


# Positions ------------------------------------------------------------------
#
# Fixes go to dispatch.avl's process-wide buffer, and one background thread per
# process flushes it every POSITION_FLUSH_SECONDS: one transaction a second for
# the whole fleet. A thread, not an event-loop task, because HTTP ingest runs
# in Django's sync worker thread (no loop there) and the websocket ingest in
# the server's loop; both feed the same buffer, and one flusher serves both.

_flusher: threading.Thread | None = None
_flusher_lock = threading.Lock()


def _flush_forever(interval: float) -> None:
    from dispatch.avl import flush_positions

    while True:
        time.sleep(interval)
        try:
            close_old_connections()
            flush_positions()
        except Exception:
            logger.exception("Could not write a batch of positions; those fixes are lost.")


def ensure_position_flusher() -> None:
    """Start this process's position flusher once (0 in POSITION_FLUSH_SECONDS: tests flush by hand)."""
    global _flusher  # noqa: PLW0603 (one flusher per process)
    interval = float(getattr(settings, "POSITION_FLUSH_SECONDS", 1.0))
    if interval <= 0 or (_flusher is not None and _flusher.is_alive()):
        return
    with _flusher_lock:
        if _flusher is None or not _flusher.is_alive():
            _flusher = threading.Thread(target=_flush_forever, args=(interval,), name="position-flusher", daemon=True)
            _flusher.start()
