"""Pages: the dispatcher console and the officer's MDT. Both are frames; live data comes over /ws/console/."""

from django.shortcuts import render

from accounts.roles import Role
from accounts.views import role_required
from alerts.models import Device, DeviceKind
from dispatch.models import UNIT_TRANSITIONS, Agency, DispositionCode, IncidentType, Officer, UnitStatus


def _page_context(request) -> dict:
    """What both consoles need before the socket connects: the map's centre and the vocabularies."""
    agency = Agency.objects.first()
    return {
        "page_data": {
            "centre": [agency.centre_lat, agency.centre_lon] if agency else [38.6426, -90.3237],
            "agency": agency.name if agency else "",
            "unit_statuses": [{"value": value, "label": label} for value, label in UnitStatus.choices],
            "unit_transitions": {status: sorted(targets) for status, targets in UNIT_TRANSITIONS.items()},
            "incident_types": list(
                IncidentType.objects.filter(active=True).order_by("name").values("code", "name", "default_priority")
            ),
            "dispositions": list(DispositionCode.objects.filter(active=True).order_by("name").values("code", "name")),
            "user": request.user.get_full_name() or request.user.get_username(),
        }
    }


@role_required(Role.DISPATCHER)
def console(request):
    return render(request, "dispatch/console.html", _page_context(request))


@role_required(Role.OFFICER)
def mdt(request):
    context = _page_context(request)
    officer = Officer.objects.select_related("unit").filter(user=request.user).first()
    context["page_data"]["officer"] = (
        {
            "id": officer.id,
            "name": officer.name,
            "unit": officer.unit_id,
            "call_sign": officer.unit.call_sign,
            # The camera the MDT's "Go live" publishes (WHIP with the officer's session).
            "mdt_camera": Device.objects.of_unit(officer.unit_id)
            .filter(kind=DeviceKind.MDT_CAMERA)
            .values_list("name", flat=True)
            .first(),
        }
        if officer and officer.unit
        else None
    )
    return render(request, "dispatch/mdt.html", context)
