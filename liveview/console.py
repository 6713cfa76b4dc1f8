"""What consoles see of live video: the live cameras and who watches them, read from the database.

Any process may build a snapshot, while a camera's media lives in one relay
process; so these read the `LiveStream` and `LiveSession` rows, never the relay.
"""

from alerts.models import Device
from dispatch.models import Unit
from liveview.models import LiveSession, LiveStream


def _unit_of(device: Device) -> Unit | None:
    unit_id = device.current_unit_id
    if unit_id is None:
        return None
    if device.unit_id == unit_id and device.unit is not None:
        return device.unit
    return Unit.objects.filter(pk=unit_id).first()


def _officer_name(device: Device, unit: Unit | None) -> str:
    if device.officer is not None:
        return device.officer.name
    if unit is not None:
        return ", ".join(officer.name for officer in unit.officers.all())
    return ""


def camera_data(device: Device, since) -> dict:
    """A live camera as `live.started` carries it: device, kind, unit, call sign, officer, unit status, since."""
    unit = _unit_of(device)
    return {
        "device": device.name,
        "kind": device.kind,
        "kind_label": device.get_kind_display(),
        "unit": unit.pk if unit else None,
        "call_sign": unit.call_sign if unit else "",
        "officer_name": _officer_name(device, unit),
        "unit_status": unit.status if unit else None,
        "since": since.isoformat(),
    }


def viewers_of(device: Device) -> list[dict]:
    """Who watches the camera now, longest first: name, reason, since."""
    sessions = LiveSession.objects.filter(device=device, ended_at__isnull=True).order_by("started_at")
    return [
        {"name": session.viewer_name, "reason": session.reason, "since": session.started_at.isoformat()}
        for session in sessions
    ]


def viewers_data(device: Device) -> dict:
    """The payload of `live.viewers`."""
    return {"device": device.name, "unit": device.current_unit_id, "viewers": viewers_of(device)}


def live_cameras() -> list[dict]:
    """Every live camera with its current viewers, for the console snapshot's `live`."""
    streams = LiveStream.objects.open().select_related("device__officer", "device__unit").order_by("started_at")
    cameras: dict[str, dict] = {}
    for stream in streams:
        if stream.device.name not in cameras:
            cameras[stream.device.name] = {
                **camera_data(stream.device, stream.started_at),
                "viewers": viewers_of(stream.device),
            }
    return list(cameras.values())
