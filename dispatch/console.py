"""What a dispatch console needs when it connects: every open call and every unit.

The rows are the REST API's (dispatch.serializers), less the fields no console
reads, and read with values(): every field a row has, it has with the API's
value, so an event's full object can replace a snapshot row. DRF built the
same rows ten times slower (a nested serializer per unit for its position),
and the snapshot is what a console waits for before it shows anything.
"""

from collections import defaultdict

from rest_framework import serializers

from dispatch.models import OPEN_CALL_STATUSES, Assignment, Call, CallNote, CallStatus, Officer, Unit

# The API's date format (ISO 8601 in the current time zone); one field, reused.
_datetime = serializers.DateTimeField()
_STATUS_LABELS = dict(CallStatus.choices)


def _when(value):
    return _datetime.to_representation(value) if value is not None else None


def console_calls() -> list[dict]:
    """Open calls, most urgent first: what the queue, the call detail and the MDT show."""
    calls = list(
        Call.objects.open()
        .order_by("priority", "-created_at")
        .values(
            "id",
            "number",
            "incident_type__code",
            "incident_type__name",
            "priority",
            "status",
            "address",
            "lat",
            "lon",
            "caller_name",
            "caller_phone",
            "created_at",
        )
    )
    assignments = defaultdict(list)
    for row in (
        Assignment.objects.filter(call__status__in=OPEN_CALL_STATUSES)
        .order_by("id")
        .values(
            "id", "call_id", "unit_id", "unit__call_sign", "dispatched_at", "en_route_at", "on_scene_at", "cleared_at"
        )
    ):
        assignments[row["call_id"]].append(
            {
                "id": row["id"],
                "unit": row["unit_id"],
                "call_sign": row["unit__call_sign"],
                "active": row["cleared_at"] is None,
                "dispatched_at": _when(row["dispatched_at"]),
                "en_route_at": _when(row["en_route_at"]),
                "on_scene_at": _when(row["on_scene_at"]),
                "cleared_at": _when(row["cleared_at"]),
            }
        )
    notes = defaultdict(list)
    for row in (
        CallNote.objects.filter(call__status__in=OPEN_CALL_STATUSES)
        .order_by("id")
        .values("id", "call_id", "text", "author_name", "at")
    ):
        notes[row["call_id"]].append(
            {"id": row["id"], "text": row["text"], "author_name": row["author_name"], "at": _when(row["at"])}
        )
    return [
        {
            "id": call["id"],
            "number": call["number"],
            "type": {"code": call["incident_type__code"], "name": call["incident_type__name"]},
            "priority": call["priority"],
            "status": call["status"],
            "status_label": _STATUS_LABELS[call["status"]],
            "is_open": True,
            "address": call["address"],
            "lat": call["lat"],
            "lon": call["lon"],
            "caller_name": call["caller_name"],
            "caller_phone": call["caller_phone"],
            "created_at": _when(call["created_at"]),
            "assignments": assignments[call["id"]],
            "notes": notes[call["id"]],
        }
        for call in calls
    ]


def console_units() -> list[dict]:
    """Every unit by call sign: status, officers, latest position and the call it works."""
    officers = defaultdict(list)
    for row in Officer.objects.filter(unit__isnull=False).order_by("id").values("id", "unit_id", "name", "badge"):
        officers[row["unit_id"]].append({"id": row["id"], "name": row["name"], "badge": row["badge"]})
    calls = {
        row["unit_id"]: {"id": row["call_id"], "number": row["call__number"], "assignment": row["id"]}
        for row in Assignment.objects.filter(cleared_at__isnull=True).values("id", "unit_id", "call_id", "call__number")
    }
    units = Unit.objects.order_by("call_sign").values(
        "id", "call_sign", "status", "lat", "lon", "position_at", "speed_mps", "heading_deg"
    )
    return [
        {
            "id": unit["id"],
            "call_sign": unit["call_sign"],
            "status": unit["status"],
            "officers": officers[unit["id"]],
            "position": (
                {
                    "lat": unit["lat"],
                    "lon": unit["lon"],
                    "at": _when(unit["position_at"]),
                    "speed_mps": unit["speed_mps"],
                    "heading_deg": unit["heading_deg"],
                }
                if unit["position_at"] is not None
                else None
            ),
            "call": calls.get(unit["id"]),
        }
        for unit in units
    ]


def console_state() -> dict:
    """Open calls, most urgent first, and every unit with its position, as the consoles read them."""
    return {"calls": console_calls(), "units": console_units()}
