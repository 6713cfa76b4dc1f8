"""Geometry the activation policy needs: who is near an alert, and who is approaching their call.

Approach checks run on every location fix (1,000 devices a second), so the
active assignments and their calls' coordinates are read once per
APPROACH_CACHE_SECONDS per process instead of once per fix.
"""

import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from dispatch.avl import EARTH_RADIUS_M, distance_m
from dispatch.models import Assignment, Unit, UnitStatus


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from the first point to the second, 0-360 clockwise from north."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dlambda = math.radians(lon2 - lon1)
    y = math.sin(dlambda) * math.cos(phi2)
    x = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlambda)
    return (math.degrees(math.atan2(y, x)) + 360) % 360


def nearby_units(*, lat: float, lon: float, radius_m: float, exclude_unit_id: int | None) -> list[dict]:
    """Units with an officer on duty within radius_m of a point: distance and bearing from each unit to it.

    The database narrows the search to the box around the circle, so an alert
    reads the rows of the units near it, not of the whole fleet.
    """
    dlat = math.degrees(radius_m / EARTH_RADIUS_M) * 1.01  # a margin for rounding; the distance decides
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    rows = (
        Unit.objects.filter(
            position_at__isnull=False,
            officers__isnull=False,
            lat__range=(lat - dlat, lat + dlat),
            lon__range=(lon - dlon, lon + dlon),
        )
        .exclude(status=UnitStatus.OFF_DUTY)
        .exclude(pk=exclude_unit_id)
        .values_list("pk", "call_sign", "lat", "lon")
        .distinct()
    )
    found = []
    for pk, call_sign, unit_lat, unit_lon in rows:
        distance = distance_m(unit_lat, unit_lon, lat, lon)
        if distance <= radius_m:
            bearing = round(bearing_deg(unit_lat, unit_lon, lat, lon))
            found.append({"unit": pk, "call_sign": call_sign, "distance_m": round(distance), "bearing_deg": bearing})
    return sorted(found, key=lambda near: near["distance_m"])


@dataclass(frozen=True)
class Approach:
    """A unit's active assignment, where its call is, and how near counts as approaching."""

    assignment_id: int
    call_id: int
    call_lat: float
    call_lon: float
    radius_m: float


_cache_lock = threading.Lock()
_cache: tuple[float, dict[int, Approach]] = (0.0, {})
# Assignments whose cameras were already commanded, seen by this process.
_done: set[int] = set()


def _load_approaches() -> dict[int, Approach]:
    rows = Assignment.objects.filter(
        cleared_at__isnull=True,
        unit__status__in=[UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE],
        call__lat__isnull=False,
        call__lon__isnull=False,
    ).values_list("id", "unit_id", "call_id", "call__lat", "call__lon", "unit__agency__approach_radius_m")
    return {
        unit_id: Approach(assignment_id, call_id, lat, lon, radius)
        for assignment_id, unit_id, call_id, lat, lon, radius in rows
    }


def approach_of(unit_id: int) -> Approach | None:
    """The unit's dispatched or en-route assignment whose cameras have not yet been told to record."""
    global _cache  # noqa: PLW0603 (the per-process cache)
    ttl = float(getattr(settings, "APPROACH_CACHE_SECONDS", 2.0))
    loaded_at, approaches = _cache
    if time.monotonic() - loaded_at > ttl:
        with _cache_lock:
            loaded_at, approaches = _cache
            if time.monotonic() - loaded_at > ttl:
                approaches = _load_approaches()
                _cache = (time.monotonic(), approaches)
    approach = approaches.get(unit_id)
    if approach is None or approach.assignment_id in _done:
        return None
    return approach


def approach_cache_fresh() -> bool:
    """True while approach_of answers from memory, without a database read."""
    ttl = float(getattr(settings, "APPROACH_CACHE_SECONDS", 2.0))
    return time.monotonic() - _cache[0] <= ttl


def approach_done(assignment_id: int) -> None:
    """Remember in this process that an assignment's approach was handled."""
    _done.add(assignment_id)


def forget_approaches() -> None:
    """Drop the cache (tests, and after a change that must show at once)."""
    global _cache  # noqa: PLW0603
    with _cache_lock:
        _cache = (0.0, {})
        _done.clear()


# The default activation policy (also installed by migration 0002):
# trigger: (record, stream, severity, dispatchers, supervisors, nearby officers).
DEFAULT_RULES = {
    "weapon_drawn": (True, True, "high", True, True, True),
    "officer_down": (True, True, "high", True, True, True),
    "gunshot": (True, True, "high", True, True, True),
    "panic": (True, True, "high", True, True, True),
    "foot_pursuit": (True, True, "medium", True, True, False),
    "struggle": (True, True, "medium", True, True, False),
}


def ensure_default_rules() -> None:
    """Create the default rules that are missing; edited rules are left alone."""
    from alerts.models import ActivationRule

    for trigger, (record, stream, severity, dispatchers, supervisors, nearby) in DEFAULT_RULES.items():
        ActivationRule.objects.get_or_create(
            trigger=trigger,
            defaults={
                "command_record": record,
                "command_stream": stream,
                "alert_severity": severity,
                "notify_dispatchers": dispatchers,
                "notify_supervisors": supervisors,
                "notify_nearby_officers": nearby,
            },
        )
