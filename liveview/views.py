"""Pages: the supervisor's live wall."""

from django.shortcuts import render

from accounts.roles import Role
from accounts.views import role_required
from dispatch.models import UnitStatus


@role_required(Role.SUPERVISOR)
def wall(request):
    page_data = {
        "unit_statuses": [{"value": value, "label": label} for value, label in UnitStatus.choices],
        "camera": request.GET.get("camera", ""),
    }
    return render(request, "liveview/wall.html", {"page_data": page_data})
