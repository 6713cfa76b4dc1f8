"""What a dispatch console needs when it connects: every open call and every unit."""

from dispatch.models import Call, Unit
from dispatch.serializers import CallSerializer, UnitSerializer


def console_state() -> dict:
    """Open calls, most urgent first, and every unit with its position and age, as the REST API has them."""
    calls = Call.objects.open().with_details().order_by("priority", "-created_at")
    units = Unit.objects.with_details()
    return {
        "calls": CallSerializer(calls, many=True).data,
        "units": UnitSerializer(units, many=True).data,
    }
