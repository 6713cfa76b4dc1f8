"""The only writers of live video's rows: publications, viewing sessions, their events and audit.

Each function is synchronous and runs in its own transaction; the WHIP/WHEP
views call them through `database_sync_to_async`. Recording is the exception:
it drives the relay, so it is async and runs on the relay's event loop.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.models import Device
from audit.services import audit_record
from events.services import record_event
from liveview.console import camera_data, viewers_data
from liveview.models import LiveSession, LiveStream, ViewReason


def viewer_name(user) -> str:
    """How a viewer is named to the officer they watch."""
    return user.get_full_name() or user.get_username()


# Publications (WHIP) -------------------------------------------------------------


def stream_start(
    *, device: Device, resource: str, node: str, codec: str, published_by: str, source_ip: str | None = None
) -> LiveStream:
    """Record that the camera publishes on `node`; `live.started` unless it was live already (a re-publish)."""
    now = timezone.now()
    with transaction.atomic():
        device = Device.objects.select_for_update(of=("self",)).select_related("officer", "unit").get(pk=device.pk)
        replaced = LiveStream.objects.filter(device=device, ended_at__isnull=True).update(ended_at=now)
        stream = LiveStream.objects.create(
            device=device,
            resource=resource,
            node=node,
            codec=codec,
            started_at=now,
            seen_at=now,
            published_by=published_by,
        )
        if not device.live:
            Device.objects.filter(pk=device.pk).update(live=True)
        audit_record(
            action="live.published",
            actor_name=published_by,
            target=f"camera:{device.name}",
            source_ip=source_ip,
            detail={"node": node, "codec": codec, "replaced": replaced},
        )
        if not replaced:
            record_event("live.started", camera_data(device, now))
    return stream


def stream_end(*, resource: str, source_ip: str | None = None) -> LiveStream | None:
    """Record that a publication ended; `live.stopped` when it was the camera's current one. None if already ended."""
    with transaction.atomic():
        stream = (
            LiveStream.objects.select_for_update(of=("self",))
            .select_related("device")
            .filter(resource=resource, ended_at__isnull=True)
            .first()
        )
        if stream is None:
            return None
        stream.ended_at = timezone.now()
        stream.save(update_fields=["ended_at"])
        _camera_stopped(stream, source_ip=source_ip)
    return stream


def _camera_stopped(stream: LiveStream, *, source_ip: str | None = None, why: str = "") -> None:
    device = stream.device
    if LiveStream.objects.filter(device=device, ended_at__isnull=True).exists():
        return  # a newer publication carries on
    Device.objects.filter(pk=device.pk).update(live=False)
    audit_record(
        action="live.unpublished",
        actor_name=stream.published_by,
        target=f"camera:{device.name}",
        source_ip=source_ip,
        detail={"node": stream.node, "duration_s": round((stream.ended_at - stream.started_at).total_seconds(), 1)}
        | ({"why": why} if why else {}),
    )
    record_event("live.stopped", {"device": device.name})


def streams_refresh(*, resources: list[str]) -> int:
    """The owning node vouches that these publications go on; returns how many rows it refreshed."""
    if not resources:
        return 0
    return LiveStream.objects.filter(resource__in=resources, ended_at__isnull=True).update(seen_at=timezone.now())


def streams_close_stale() -> list[LiveStream]:
    """End publications whose node stopped vouching for them (it crashed or was killed): `live.stopped` each."""
    closed = []
    for pk in LiveStream.objects.stale().values_list("pk", flat=True):
        with transaction.atomic():
            stale = LiveStream.objects.stale().select_for_update(of=("self",)).select_related("device")
            stream = stale.filter(pk=pk).first()
            if stream is None:
                continue  # another node closed it meanwhile
            stream.ended_at = stream.seen_at
            stream.save(update_fields=["ended_at"])
            _camera_stopped(stream, why="its relay node stopped answering")
            closed.append(stream)
    return closed


# Viewing sessions (WHEP) ------------------------------------------------------------


def session_start(
    *, viewer, device: Device, reason: str, resource: str, node: str, source_ip: str | None = None
) -> LiveSession:
    """Record and audit a viewing; the camera's officer sees the new list of viewers (`live.viewers`)."""
    if reason not in ViewReason.values:
        raise ValueError(f"Unknown reason for viewing: {reason!r}.")
    with transaction.atomic():
        session = LiveSession.objects.create(
            viewer=viewer,
            viewer_name=viewer_name(viewer),
            device=device,
            reason=reason,
            resource=resource,
            node=node,
        )
        audit_record(
            action="live.view_started",
            actor=viewer,
            target=f"camera:{device.name}",
            source_ip=source_ip,
            detail={"reason": reason, "session": resource, "node": node},
        )
        record_event("live.viewers", viewers_data(device))
    return session


def session_end(*, resource: str, source_ip: str | None = None) -> LiveSession | None:
    """Record and audit the end of a viewing, with its duration. None if it had ended already."""
    with transaction.atomic():
        session = (
            LiveSession.objects.select_for_update(of=("self",))
            .select_related("device__officer", "viewer")
            .filter(resource=resource, ended_at__isnull=True)
            .first()
        )
        if session is None:
            return None
        session.ended_at = timezone.now()
        session.save(update_fields=["ended_at"])
        audit_record(
            action="live.view_ended",
            actor=session.viewer,
            target=f"camera:{session.device.name}",
            source_ip=source_ip,
            detail={"reason": session.reason, "session": resource, "duration_s": session.duration_s},
        )
        record_event("live.viewers", viewers_data(session.device))
    return session


# Recording ---------------------------------------------------------------------------


def recordings_dir(device_name: str) -> Path:
    """Where a camera's relay recordings go: MEDIA_ROOT/recordings/<device>/."""
    root = getattr(settings, "MEDIA_ROOT", "") or (Path(settings.BASE_DIR) / "media")
    return Path(root) / "recordings" / device_name


async def start_recording(device_name: str, at: datetime | None = None) -> Path:
    """Record the camera's live video, as it arrives, to a new file; only on the node relaying it.

    Raises `liveview.relay.CameraOffline` when the camera is not live on this process.
    """
    from liveview.node import current_node

    node = current_node()
    codec = node.relay.stats(device_name).video_codec or ""
    extension = "webm" if codec.lower() == "video/vp8" else "mkv"
    folder = recordings_dir(device_name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{(at or timezone.now()):%Y%m%dT%H%M%S%fZ}.{extension}"
    node.relay.start_recording(device_name, str(path))
    return path


async def stop_recording(device_name: str) -> bool:
    """Finish the camera's recording on this node; False if it was not being recorded here."""
    from liveview.node import current_node

    return await current_node().relay.stop_recording(device_name)
