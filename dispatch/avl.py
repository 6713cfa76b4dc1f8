"""Automatic vehicle location: buffer fixes, persist them in batches, recommend the nearest unit.

A thousand devices send a fix a second. Writing each one in its own
transaction would be a thousand commits a second; instead `record_position`
only appends to a process-wide buffer, and `flush_positions` (run once a
second by `run_position_flusher`) writes the batch in one transaction and
sends consoles one coalesced `positions` frame (DESIGN.md, Delivery).
"""

import asyncio
import logging
import math
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from django.db import connection, transaction
from django.utils import timezone

from dispatch.models import PositionFix, Unit, UnitStatus

logger = logging.getLogger(__name__)

EARTH_RADIUS_M = 6_371_008.8
# About three minutes of fixes from 1,000 units: a database outage longer
# than that drops the oldest fixes rather than the process.
BUFFER_LIMIT = 200_000

# One buffered fix: (unit_id, lat, lon, at, speed_mps, heading_deg, accuracy_m, received_at).
# A plain tuple, not a model instance: a thousand a second are buffered on the
# ingest path, and a model's __init__ costs more than the rest of it.
Fix = tuple[int, float, float, datetime, float | None, float | None, float | None, datetime]

_buffer: deque[Fix] = deque(maxlen=BUFFER_LIMIT)
_swap_lock = threading.Lock()


def record_position(  # noqa: PLR0917 (the telemetry code calls it positionally)
    unit_id: int,
    lat: float,
    lon: float,
    at: datetime,
    speed_mps: float | None = None,
    heading_deg: float | None = None,
    accuracy_m: float | None = None,
) -> None:
    """Buffer one fix for the next flush; cheap and safe from any thread."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    fix = (unit_id, lat, lon, at, speed_mps, heading_deg, accuracy_m, datetime.now(UTC))
    with _swap_lock:
        _buffer.append(fix)


def _take_buffer() -> list[Fix]:
    with _swap_lock:
        fixes = list(_buffer)
        _buffer.clear()
    return fixes


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def flush_positions() -> list[dict]:
    """Persist buffered fixes, advance each unit's latest fix, and publish the batch to consoles."""
    fixes = _take_buffer()
    if not fixes:
        return []
    # The newest fix of each unit in this batch: only it can move the unit.
    newest: dict[int, Fix] = {}
    for fix in fixes:
        held = newest.get(fix[0])
        if held is None or fix[3] > held[3]:
            newest[fix[0]] = fix
    # Plain statements run with executemany: bulk_update's CASE WHEN over a
    # thousand units cost seconds of Python per flush (1,000 fixes/s could
    # not be kept up with); a prepared UPDATE per unit costs microseconds.
    ops = connection.ops
    stamp = ops.adapt_datetimefield_value
    unit_table, fix_table = (connection.ops.quote_name(m._meta.db_table) for m in (Unit, PositionFix))
    with transaction.atomic():
        known = dict(Unit.objects.filter(pk__in=list(newest)).values_list("pk", "position_at"))
        # A fix for a unit deleted meanwhile would break the batch's foreign key.
        rows = [(f[0], stamp(f[3]), f[1], f[2], f[4], f[5], f[6], stamp(f[7])) for f in fixes if f[0] in known]
        # Devices resend after a lost connection; an old fix joins the history
        # but never moves the unit back in time (checked again in the UPDATE,
        # for another process's flush running beside this one).
        moved = [
            fix
            for unit_id, fix in newest.items()
            if unit_id in known and (known[unit_id] is None or fix[3] > known[unit_id])
        ]
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {fix_table} (unit_id, at, lat, lon, speed_mps, heading_deg, accuracy_m, received_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
            if moved:
                cursor.executemany(
                    f"UPDATE {unit_table} SET lat = %s, lon = %s, position_at = %s, speed_mps = %s, "
                    "heading_deg = %s, accuracy_m = %s WHERE id = %s AND (position_at IS NULL OR position_at < %s)",
                    [(f[1], f[2], stamp(f[3]), f[4], f[5], f[6], f[0], stamp(f[3])) for f in moved],
                )
    batch = [
        {"unit": f[0], "lat": f[1], "lon": f[2], "at": rfc3339(f[3]), "speed_mps": f[4], "heading_deg": f[5]}
        for f in moved
    ]
    if batch:
        from events.hub import publish_positions

        publish_positions(batch)
    return batch


async def run_position_flusher(interval: float = 1.0) -> None:
    """Flush buffered positions every `interval` seconds until cancelled, then once more."""
    flush = sync_to_async(flush_positions)
    try:
        while True:
            await asyncio.sleep(interval)
            try:
                await flush()
            except Exception:
                logger.exception("Could not write a batch of positions; those fixes are lost.")
    finally:
        # Cancelled at shutdown: keep what is already buffered.
        try:
            await asyncio.shield(flush())
        except Exception:
            logger.exception("Could not write the last batch of positions.")


# Recommendation ----------------------------------------------------------


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Recommendation:
    unit: Unit
    distance_m: float
    fix_age_s: float


def nearest_available_units(*, lat: float, lon: float, limit: int = 5) -> list[Recommendation]:
    """Available units with a known position, nearest first, with distance and the fix's age."""
    now = timezone.now()
    units = Unit.objects.with_details().filter(status=UnitStatus.AVAILABLE, position_at__isnull=False)
    ranked = sorted(
        (
            Recommendation(unit, round(distance_m(lat, lon, unit.lat, unit.lon), 1), unit.fix_age_s(now))
            for unit in units
        ),
        key=lambda r: r.distance_m,
    )
    return ranked[:limit]
