"""The only writers of device tokens, telemetry, commands, "are you OK?" prompts and alerts.

Each write locks its row, checks the rule, saves, appends the console event in
the same transaction (events.services.record_event) and audits. Commands are
rows first (the durable copy and the log of every command with its reason);
a nudge on the channel layer after commit only makes the device's socket
fetch them at once.

Officers' MDTs receive every console event: an MDT shows an alert when its
unit is in the alert's `nearby` list, or once the alert has escalated.
"""

import asyncio
import copy
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import IntegrityError, close_old_connections, connection, connections, transaction
from django.utils import timezone

from alerts import policy
from alerts.models import (
    ALERT_TRANSITIONS,
    ESCALATING_KINDS,
    TRIGGERS,
    ActivationRule,
    Alert,
    AlertKind,
    AlertStatus,
    ApproachRecording,
    Command,
    Device,
    DeviceCommand,
    DeviceEvent,
    ProneOutcome,
    ProneWindow,
    Severity,
)
from alerts.serializers import AlertSerializer, ConsoleAlertSerializer
from alerts.telemetry import DeviceEventIn, Rejection, ensure_position_flusher, parse_events
from audit.services import actor_name, actor_user, audit_record
from config.errors import RefusedChange
from dispatch.avl import distance_m, record_position, rfc3339
from dispatch.models import Agency, Assignment, IncidentType, Officer, TimelineEntry, Unit, UnitStatus
from events.services import record_event

logger = logging.getLogger(__name__)

# last_seen_at is written at most this often per device, not on every fix.
SEEN_EVERY = timedelta(seconds=30)

# Officer down must alert even if an administrator deleted its rule.
OFFICER_DOWN_DEFAULT = ActivationRule(
    trigger="officer_down",
    command_record=True,
    command_stream=True,
    alert_severity=Severity.HIGH,
    notify_dispatchers=True,
    notify_supervisors=True,
    notify_nearby_officers=True,
)


class IllegalAlertTransition(RefusedChange):
    """The alert's lifecycle has no such step."""


# Tokens -------------------------------------------------------------------


@transaction.atomic
def device_issue_token(*, device: Device, actor=None, source_ip: str | None = None) -> str:
    """Give a device a new token (the old one stops working) and return it; only its hash is kept."""
    token = Device.new_token()
    device.token_hash = Device.hash_token(token)
    device.token_issued_at = timezone.now()
    device.revoked_at = None
    device.save(update_fields=["token_hash", "token_issued_at", "revoked_at"])
    audit_record(
        action="device.token_issued",
        actor=actor_user(actor),
        actor_name=actor_name(actor),
        target=f"device:{device.name}",
        source_ip=source_ip,
    )
    transaction.on_commit(lambda: _nudge(device.pk, "device.revoked"))  # a socket on the old token closes
    return token


@transaction.atomic
def device_revoke_token(*, device: Device, actor=None, source_ip: str | None = None) -> None:
    """Refuse the device's token from now on; its open socket is closed."""
    device.revoked_at = timezone.now()
    device.save(update_fields=["revoked_at"])
    audit_record(
        action="device.token_revoked",
        actor=actor_user(actor),
        actor_name=actor_name(actor),
        target=f"device:{device.name}",
        source_ip=source_ip,
    )
    transaction.on_commit(lambda: _nudge(device.pk, "device.revoked"))


# Every device request checks its token, so the check is one plain indexed read
# (no ORM query to compile), answering at once whether a command waits. The rest
# of the device's row is held in memory (HELD_SECONDS) and copied per request.
HELD_SECONDS = 30.0
HELD_DEVICES = 20_000
_held: OrderedDict[str, tuple[float, Device]] = OrderedDict()
_held_lock = threading.Lock()


def _check_sql(match: str) -> str:
    q = connection.ops.quote_name
    device, officer, command = (q(m._meta.db_table) for m in (Device, Officer, DeviceCommand))
    return (
        f"SELECT d.{q('id')}, d.{q('unit_id')}, d.{q('officer_id')}, o.{q('unit_id')}, "
        f"EXISTS (SELECT 1 FROM {command} c WHERE c.{q('device_id')} = d.{q('id')} "
        f"AND c.{q('delivered_at')} IS NULL) "
        f"FROM {device} d LEFT OUTER JOIN {officer} o ON o.{q('id')} = d.{q('officer_id')} "
        f"WHERE {match} AND d.{q('revoked_at')} IS NULL AND d.{q('active')} = %s "
        f"ORDER BY d.{q('name')} LIMIT 1"
    )


def _device_check(*, token_hash: str, pk: int | None = None) -> tuple | None:
    """(id, unit_id, officer_id, its officer's unit_id, a command waits) of the active device with this token."""
    q = connection.ops.quote_name
    if pk is None:
        sql, params = _check_sql(f"d.{q('token_hash')} = %s"), [token_hash, True]
    else:
        sql, params = _check_sql(f"d.{q('id')} = %s AND d.{q('token_hash')} = %s"), [pk, token_hash, True]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _bring_up_to_date(device: Device, row: tuple) -> None:
    _, unit_id, officer_id, officer_unit_id, pending = row
    if officer_id != device.officer_id:
        device.officer = Officer.objects.filter(pk=officer_id).first() if officer_id else None
    elif officer_id is not None and Device.officer.is_cached(device):
        device.officer.unit_id = officer_unit_id
    device.unit_id = unit_id
    device.has_pending = bool(pending)


def device_for_token(token: str | None) -> Device | None:
    """The active device holding this unrevoked token, or None.

    Checked in the database on every call (revocation counts at once). The
    device carries `has_pending` (a command waits for it), read in the same
    query, so a caller can skip take_pending_commands when nothing waits.
    """
    if not token:
        return None
    token_hash = Device.hash_token(token)
    row = _device_check(token_hash=token_hash)
    if row is None:
        return None
    with _held_lock:
        held = _held.get(token_hash)
    stale = held is None or time.monotonic() - held[0] > HELD_SECONDS
    if stale or held[1].pk != row[0] or held[1].officer_id != row[2]:
        device = Device.objects.select_related("officer").filter(pk=row[0]).first()
        if device is None:
            return None
        with _held_lock:
            _held[token_hash] = (time.monotonic(), device)
            _held.move_to_end(token_hash)
            if len(_held) > HELD_DEVICES:
                _held.popitem(last=False)
        held = (0.0, device)
    device = copy.copy(held[1])  # each caller its own instance
    _bring_up_to_date(device, row)
    return device


def device_still_valid(device: Device) -> bool:
    """Re-check a device held since its token was checked (one indexed read): not revoked, re-issued or deactivated.

    On True the held row is brought up to date where ingest needs it (the unit
    it rides in) and `device.has_pending` says whether a command waits for it.
    """
    row = _device_check(token_hash=device.token_hash, pk=device.pk)
    if row is None:
        return False
    _bring_up_to_date(device, row)
    return True


def device_seen(*, device: Device) -> None:
    """Note that the device spoke, at most once per SEEN_EVERY (a write per fix would be a write a second)."""
    now = timezone.now()
    if device.last_seen_at is None or now - device.last_seen_at >= SEEN_EVERY:
        device.last_seen_at = now
        Device.objects.filter(pk=device.pk).update(last_seen_at=now)
        with _held_lock:
            held = _held.get(device.token_hash)
        if held is not None and held[1].pk == device.pk:
            held[1].last_seen_at = now  # the copies handed out next know it too


# The database thread -------------------------------------------------------------------


# The event loop that handed this thread its work, so that what the work sends
# to sockets (_nudge) is scheduled there without waiting for that busy loop.
_caller = threading.local()


def _unit_of_work(fn: Callable, args: tuple, kwargs: dict, loop: asyncio.AbstractEventLoop | None = None) -> Any:
    # Like channels' database_sync_to_async: drop a broken or expired connection
    # before and after, but not inside a transaction a caller holds open (a test's).
    outside = not any(conn.in_atomic_block for conn in connections.all(initialized_only=True))
    if outside:
        close_old_connections()
    _caller.loop = loop
    try:
        return fn(*args, **kwargs)
    finally:
        _caller.loop = None
        if outside:
            close_old_connections()


# Device work's database thread: one per process, living as long as it does,
# so its connection is kept between requests and messages (LONG_LIVED_CONN_MAX_AGE)
# where request threads, made and dropped per request, close theirs
# (CONN_MAX_AGE = 0, config/settings.py). With a connection pool (PostgreSQL)
# the pool keeps connections instead and this thread returns its own after each call.
LONG_LIVED_CONN_MAX_AGE = 300


def _keep_connections() -> None:
    for alias in connections:
        conn = connections[alias]
        if conn.settings_dict.get("CONN_MAX_AGE") == 0 and not conn.settings_dict.get("OPTIONS", {}).get("pool"):
            # This thread's own wrapper gets its own settings: other threads keep CONN_MAX_AGE = 0.
            conn.settings_dict = {**conn.settings_dict, "CONN_MAX_AGE": LONG_LIVED_CONN_MAX_AGE}


_db_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="beacon-device-db", initializer=_keep_connections)


async def in_db_thread(fn: Callable, /, *args, **kwargs) -> Any:
    """Run `fn` (ORM work) in the device database thread, whose connection lives on between calls."""
    loop = asyncio.get_running_loop()
    return await SyncToAsync(_unit_of_work, thread_sensitive=False, executor=_db_executor)(fn, args, kwargs, loop)


async def in_db_thread_from_view(fn: Callable, /, *args, **kwargs) -> Any:
    """in_db_thread for an async view, so a request costs no new connection and no new thread.

    Under a server, Django serves each request in a ThreadSensitiveContext: a
    plain sync_to_async would run in a thread made for that request (or in the
    request's sync thread, below a sync-only middleware), with a connection
    made for it. Without one, the view runs under a test client, from the
    test's own thread: the work runs there, thread-sensitive, inside the
    test's transaction.
    """
    if SyncToAsync.thread_sensitive_context.get(None) is None:
        return await SyncToAsync(_unit_of_work, thread_sensitive=True)(fn, args, kwargs)
    return await in_db_thread(fn, *args, **kwargs)


def close_db_thread_connections() -> None:
    """Close the device database thread's connections (tests, between databases)."""
    _db_executor.submit(connections.close_all).result(timeout=30)


# Commands -----------------------------------------------------------------


def _nudge(device_id: int, message_type: str = "device.commands") -> None:
    """Wake the device's socket, wherever it is connected; the database holds what it must fetch."""
    layer = get_channel_layer()
    if layer is None:
        return
    group, message = f"device-{device_id}", {"type": message_type}
    loop = getattr(_caller, "loop", None)
    if loop is not None and loop.is_running():
        # From the device database thread: sent by the loop when it gets to it.
        # Waiting for it held an alert's answer up behind every frame the loop had
        # to write first (tens of ms under a fleet's load, for each command).
        sent = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
        sent.add_done_callback(lambda done: done.cancelled() or _nudge_failed(device_id, done.exception()))
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception as error:
        _nudge_failed(device_id, error)


def _nudge_failed(device_id: int, error: BaseException | None) -> None:
    if error is not None:
        # The command row is committed; the device gets it with its next answer.
        logger.warning("Could not nudge device %s's socket: %s", device_id, error)


def command_issue(*, device: Device, command: str, reason: str, alert: Alert | None = None) -> DeviceCommand:
    """Log a command with its reason and queue it for the device (call inside the change's transaction)."""
    row = DeviceCommand.objects.create(device=device, command=command, reason=reason[:300], alert=alert)
    transaction.on_commit(lambda: _nudge(device.pk))
    return row


def take_pending_commands(*, device: Device) -> list[dict]:
    """Commands not yet sent to the device, as frames, marked delivered; usually one indexed read, no write."""
    pending = DeviceCommand.objects.filter(device=device, delivered_at__isnull=True)
    if not pending.exists():
        return []
    with transaction.atomic():
        # Two sockets of one device must not both send a command.
        commands = list(pending.select_for_update(skip_locked=True).order_by("id"))
        DeviceCommand.objects.filter(pk__in=[c.pk for c in commands]).update(delivered_at=timezone.now())
    return [command.as_frame() for command in commands]


def _unit_devices(device: Device, unit_id: int | None) -> list[Device]:
    devices = list(Device.objects.of_unit(unit_id)) if unit_id else []
    if all(d.pk != device.pk for d in devices):
        devices.append(device)
    return devices


# Telemetry ------------------------------------------------------------------


@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    # An event taken may have queued commands (a trigger, prone, an approach):
    # look for commands waiting even if none waited before.
    may_command: bool = False


# Location fixes are not stored one row each, so their ids are remembered here
# (per process, newest RECENT_FIX_IDS) to answer a retried fix as a duplicate.
RECENT_FIX_IDS = 200_000
_recent_fixes: OrderedDict[tuple[int, str], None] = OrderedDict()
_recent_lock = threading.Lock()


def _first_time(device_id: int, event_id: str) -> bool:
    key = (device_id, event_id)
    with _recent_lock:
        if key in _recent_fixes:
            return False
        _recent_fixes[key] = None
        if len(_recent_fixes) > RECENT_FIX_IDS:
            _recent_fixes.popitem(last=False)
    return True


def accept_fixes(
    *, device: Device, unit_id: int, events: list[DeviceEventIn], result: IngestResult
) -> tuple[policy.Approach, float] | None:
    """Hand location events to the AVL buffer (no database): once per id; returns an approach to act on, if any.

    Needs a fresh approach cache (policy.approach_cache_fresh) to stay off the
    database; the device socket's fast path checks that first.
    """
    approaching = None
    for event in events:
        event_id = str(event.id)
        if not _first_time(device.pk, event_id):
            result.duplicates.append(event_id)
            continue
        record_position(unit_id, event.lat, event.lon, event.at, event.speed_mps, event.heading_deg, event.accuracy_m)
        result.accepted.append(event_id)
        approach = policy.approach_of(unit_id)
        if approach is not None and approaching is None:
            distance = distance_m(event.lat, event.lon, approach.call_lat, approach.call_lon)
            if distance <= approach.radius_m:
                approaching = (approach, distance)
    if result.accepted:
        ensure_position_flusher()
    return approaching


def take_fixes(*, device: Device, unit_id: int | None, items: list) -> tuple[IngestResult, tuple | None] | None:
    """The fast path: a batch of location events only, unit known, approach cache fresh, taken with no database call.

    Returns the result and an approach to act on (approach_recording, in the
    database thread), or None when the batch must go the long way (ingest_events).
    """
    if unit_id is None or not policy.approach_cache_fresh():
        return None
    valid, rejected = parse_events(items)
    if rejected or not valid or any(event.type != "location" for event in valid):
        return None
    result = IngestResult()
    approaching = accept_fixes(device=device, unit_id=unit_id, events=valid, result=result)
    return result, approaching


def ingest_with_commands(*, device: Device, events: list[DeviceEventIn]) -> tuple[IngestResult, list[dict]]:
    """ingest_events, then the commands waiting for the device: asked for only when one may wait.

    `device.has_pending` (device_for_token, device_still_valid) says whether a
    command waited before; the ingest says whether it may have queued one.
    """
    result = ingest_events(device=device, events=events)
    if getattr(device, "has_pending", True) or result.may_command:
        return result, take_pending_commands(device=device)
    return result, []


def ingest_events(*, device: Device, events: list[DeviceEventIn]) -> IngestResult:
    """Take a device's valid events: buffer fixes, store the rest once per id, and apply the activation policy."""
    result = IngestResult()
    unit_id = device.current_unit_id
    fixes = [event for event in events if event.type == "location"]
    others = [event for event in events if event.type != "location"]
    approaching = None
    if fixes and unit_id is None:
        for event in fixes:
            result.rejected.append(
                Rejection(
                    event.index,
                    str(event.id),
                    f"Device {device.name} is not assigned to a unit or an officer "
                    "in a unit, so its position has no unit to move; ask an administrator to assign it.",
                )
            )
    elif fixes:
        approaching = accept_fixes(device=device, unit_id=unit_id, events=fixes, result=result)
    if approaching is not None:
        result.may_command = True
        approach_recording(device=device, unit_id=unit_id, approach=approaching[0], distance=approaching[1])
    if others:
        with transaction.atomic():
            for event in others:
                _store_and_apply(device, unit_id, event, result)
    device_seen(device=device)
    return result


def _store_and_apply(device: Device, unit_id: int | None, event: DeviceEventIn, result: IngestResult) -> None:
    try:
        # A savepoint per event: a retried id fails alone, the batch goes on.
        with transaction.atomic():
            row = DeviceEvent.objects.create(
                device=device,
                event_id=event.id,
                type=event.type,
                at=event.at,
                lat=event.lat,
                lon=event.lon,
                accuracy_m=event.accuracy_m,
                speed_mps=event.speed_mps,
                heading_deg=event.heading_deg,
                data=event.data,
            )
    except IntegrityError:
        result.duplicates.append(str(event.id))
        return
    result.accepted.append(str(event.id))
    if event.type == "prone" or event.type in TRIGGERS:
        result.may_command = True
    if event.type == "prone":
        _open_prone_window(device=device, unit_id=unit_id, event=row)
    elif event.type == "officer_ok":
        _close_prone_windows(unit_id=unit_id, device=device, by=f"device {device.name}")
    elif event.type in {"recording_started", "recording_stopped"}:
        Device.objects.filter(pk=device.pk).update(recording=event.type == "recording_started")
    if event.type in TRIGGERS:
        rule = ActivationRule.objects.filter(trigger=event.type, active=True).first()
        if rule is not None:
            _apply_rule(
                rule,
                kind=event.type,
                device=device,
                unit_id=unit_id,
                lat=event.lat,
                lon=event.lon,
                event=row,
                reason=f"{event.type} reported by {device.name} at {rfc3339(event.at)}",
            )


def _apply_rule(
    rule: ActivationRule,
    *,
    kind: str,
    device: Device,
    unit_id: int | None,
    lat: float | None,
    lon: float | None,
    event: DeviceEvent | None,
    reason: str,
) -> Alert | None:
    """Do what the policy says for a trigger: raise the alert, then command the unit's cameras."""
    alert = None
    if rule.alert_severity:
        alert = _raise_alert(
            kind=kind,
            severity=rule.alert_severity,
            rule=rule,
            device=device,
            unit_id=unit_id,
            lat=lat,
            lon=lon,
            event=event,
        )
    for camera in _unit_devices(device, unit_id):
        if rule.command_record:
            command_issue(device=camera, command=Command.START_RECORDING, reason=reason, alert=alert)
        if rule.command_stream:
            command_issue(device=camera, command=Command.START_STREAM, reason=reason, alert=alert)
    return alert


def approach_recording(*, device: Device, unit_id: int, approach: policy.Approach, distance: float) -> None:
    """Command recording once per assignment when the unit comes within the approach radius of its call."""
    with transaction.atomic():
        _, created = ApproachRecording.objects.get_or_create(
            assignment_id=approach.assignment_id, defaults={"distance_m": round(distance, 1)}
        )
        if created:
            call_sign = Unit.objects.values_list("call_sign", flat=True).get(pk=unit_id)
            reason = f"{call_sign} within {approach.radius_m:,.0f} m of its dispatched call ({distance:,.0f} m away)"
            for camera in _unit_devices(device, unit_id):
                command_issue(device=camera, command=Command.START_RECORDING, reason=reason)
            TimelineEntry.objects.create(
                call_id=approach.call_id,
                actor_name="system",
                action="camera_recording",
                description=f"{call_sign} cameras told to record: within {approach.radius_m:,.0f} m of the call",
                detail={"unit": unit_id, "assignment": approach.assignment_id, "distance_m": round(distance)},
            )
    policy.approach_done(approach.assignment_id)


# Prompts ("are you OK?") --------------------------------------------------------


def prompt_data(window: ProneWindow) -> dict:
    """A prompt as the MDT shows it: whose, and until when."""
    return {
        "prompt": window.pk,
        "unit": window.unit_id,
        "call_sign": window.unit.call_sign if window.unit_id else None,
        "device_name": window.device.name,
        "opened_at": rfc3339(window.opened_at),
        "deadline": rfc3339(window.deadline),
        "outcome": window.outcome or None,
        "closed_by": window.closed_by or None,
    }


def _windows_of(unit_id: int | None, device: Device):
    open_windows = (
        ProneWindow.objects.select_for_update(of=("self",))
        .select_related("unit", "device")
        .filter(closed_at__isnull=True)
    )
    return open_windows.filter(unit_id=unit_id) if unit_id else open_windows.filter(device=device)


def _open_prone_window(*, device: Device, unit_id: int | None, event: DeviceEvent) -> ProneWindow | None:
    """Ask "are you OK?" on the MDT and the camera; the worker raises officer down at the deadline."""
    if _windows_of(unit_id, device).exists():
        return None  # already asking
    agency = Unit.objects.select_related("agency").get(pk=unit_id).agency if unit_id else Agency.current()
    now = timezone.now()
    window = ProneWindow.objects.create(
        device=device,
        unit_id=unit_id,
        opened_at=now,
        deadline=now + timedelta(seconds=agency.prone_window_s),
        lat=event.lat,
        lon=event.lon,
    )
    window = ProneWindow.objects.select_related("unit", "device").get(pk=window.pk)
    command_issue(
        device=device,
        command=Command.PROMPT_OK,
        reason=f"prone reported by {device.name}: answer within {agency.prone_window_s} s or officer down is raised",
    )
    record_event("unit.prompt_ok", prompt_data(window))
    return window


def _close_prone_windows(*, unit_id: int | None, device: Device | None, by: str) -> list[ProneWindow]:
    windows = list(_windows_of(unit_id, device))
    now = timezone.now()
    for window in windows:
        window.closed_at = now
        window.outcome = ProneOutcome.OK
        window.closed_by = by[:150]
        window.save(update_fields=["closed_at", "outcome", "closed_by"])
        record_event("unit.prompt_closed", prompt_data(window))
    return windows


@transaction.atomic
def prompt_answer_ok(*, unit: Unit, actor, source_ip: str | None = None) -> list[ProneWindow]:
    """The officer tapped "I'm OK" on the MDT: close the unit's open prompt."""
    windows = _close_prone_windows(unit_id=unit.pk, device=None, by=actor_name(actor))
    if not windows:
        raise RefusedChange(f"Unit {unit.call_sign} has no open “are you OK?” prompt; nothing to answer.")
    audit_record(
        action="prompt.answered_ok", actor=actor_user(actor), target=f"unit:{unit.call_sign}", source_ip=source_ip
    )
    return windows


def expire_prone_windows(now: datetime | None = None) -> list[Alert]:
    """Turn every unanswered prompt past its deadline into an officer-down alert (the worker's tick)."""
    now = now or timezone.now()
    due = list(ProneWindow.objects.filter(closed_at__isnull=True, deadline__lte=now).order_by("deadline")[:100])
    raised = []
    for candidate in due:
        with transaction.atomic():
            # Skip a row another worker holds, or one the officer answered meanwhile.
            window = (
                ProneWindow.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("unit", "device__officer")
                .filter(pk=candidate.pk, closed_at__isnull=True)
                .first()
            )
            if window is None:
                continue
            window.closed_at = now
            window.outcome = ProneOutcome.ALERT
            window.closed_by = "no answer"
            window.save(update_fields=["closed_at", "outcome", "closed_by"])
            record_event("unit.prompt_closed", prompt_data(window))
            seconds = round((window.deadline - window.opened_at).total_seconds())
            rule = ActivationRule.objects.filter(trigger="officer_down", active=True).first() or OFFICER_DOWN_DEFAULT
            alert = _apply_rule(
                rule,
                kind=AlertKind.OFFICER_DOWN,
                device=window.device,
                unit_id=window.unit_id,
                lat=window.lat,
                lon=window.lon,
                event=None,
                reason=f"officer down: {window.device.name} prone with no answer to “are you OK?” in {seconds} s",
            )
            if alert is not None:
                raised.append(alert)
    return raised


# Alerts ---------------------------------------------------------------------


def alert_data(alert: Alert) -> dict:
    """The alert as the API shows it."""
    return AlertSerializer(Alert.objects.with_details().get(pk=alert.pk)).data


def console_alert_data(alert: Alert) -> dict:
    """The alert as alert events carry it to every console (see ConsoleAlertSerializer)."""
    return ConsoleAlertSerializer(Alert.objects.with_details().get(pk=alert.pk)).data


def _raise_alert(
    *,
    kind: str,
    severity: str,
    rule: ActivationRule,
    device: Device,
    unit_id: int | None,
    lat: float | None,
    lon: float | None,
    event: DeviceEvent | None,
) -> Alert:
    """Raise an alert, unless the same unit already has one of this kind open (no alert storm from one fight)."""
    same = Alert.objects.open().filter(kind=kind)
    same = same.filter(unit_id=unit_id) if unit_id else same.filter(device=device)
    existing = same.first()
    if existing is not None:
        return existing
    unit = Unit.objects.select_related("agency").get(pk=unit_id) if unit_id else None
    if lat is None and unit is not None and unit.lat is not None:
        lat, lon = unit.lat, unit.lon
    agency = unit.agency if unit is not None else Agency.current()
    officer = device.officer if device.officer_id else (unit.officers.order_by("id").first() if unit else None)
    call_id = (
        Assignment.objects.filter(unit_id=unit_id, cleared_at__isnull=True).values_list("call_id", flat=True).first()
        if unit_id
        else None
    )
    nearby = []
    if rule.notify_nearby_officers and lat is not None:
        nearby = policy.nearby_units(lat=lat, lon=lon, radius_m=agency.alert_radius_m, exclude_unit_id=unit_id)
    alert = Alert.objects.create(
        kind=kind,
        severity=severity,
        unit=unit,
        officer=officer,
        device=device,
        event=event,
        call_id=call_id,
        lat=lat,
        lon=lon,
        notify=rule.notify,
        nearby=nearby,
    )
    record_event("alert.raised", console_alert_data(alert))
    audit_record(
        action="alert.raised",
        actor_name=f"device:{device.name}",
        target=f"alert:{alert.pk}",
        detail={"kind": kind, "unit": unit.call_sign if unit else None, "nearby": [n["unit"] for n in nearby]},
    )
    return alert


def _move_alert(alert: Alert, status: str, *, actor, source_ip: str | None, note: str = "") -> Alert:
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if status not in ALERT_TRANSITIONS[alert.status]:
        raise IllegalAlertTransition(
            f"Alert #{alert.pk} ({alert.get_kind_display().lower()}) is {alert.get_status_display().lower()}; "
            f"it cannot be {AlertStatus(status).label.lower()} now."
        )
    previous = alert.status
    now = timezone.now()
    alert.status = status
    if alert.acknowledged_at is None:
        # Closing an alert says somebody saw it: the record names who.
        alert.acknowledged_at, alert.acknowledged_by, alert.acknowledged_by_name = (
            now,
            actor_user(actor),
            actor_name(actor),
        )
    if status in {AlertStatus.RESOLVED, AlertStatus.FALSE_ALARM}:
        alert.resolved_at, alert.resolved_by, alert.resolved_by_name = now, actor_user(actor), actor_name(actor)
        alert.resolution_note = note[:500]
    alert.save()
    kind = "alert.acknowledged" if status == AlertStatus.ACKNOWLEDGED else "alert.resolved"
    record_event(kind, console_alert_data(alert))
    audit_record(
        action=f"alert.{status}",
        actor=actor_user(actor),
        actor_name=actor_name(actor),
        target=f"alert:{alert.pk}",
        source_ip=source_ip,
        detail={"from": previous, "to": status, "kind": alert.kind, "note": note[:500]},
    )
    return alert


@transaction.atomic
def alert_acknowledge(*, alert: Alert, actor, source_ip: str | None = None) -> Alert:
    """A dispatcher or supervisor has seen the alert and is acting on it."""
    return _move_alert(alert, AlertStatus.ACKNOWLEDGED, actor=actor, source_ip=source_ip)


@transaction.atomic
def alert_resolve(*, alert: Alert, actor, note: str = "", source_ip: str | None = None) -> Alert:
    """The situation is over."""
    return _move_alert(alert, AlertStatus.RESOLVED, actor=actor, source_ip=source_ip, note=note)


@transaction.atomic
def alert_mark_false(*, alert: Alert, actor, note: str = "", source_ip: str | None = None) -> Alert:
    """The alert was a false alarm (a dropped camera, a holster bumped)."""
    return _move_alert(alert, AlertStatus.FALSE_ALARM, actor=actor, source_ip=source_ip, note=note)


def escalate_overdue_alerts(now: datetime | None = None) -> list[Alert]:
    """Escalate officer-down alerts nobody acknowledged within the agency's escalation_s (the worker's tick)."""
    now = now or timezone.now()
    overdue = now - timedelta(seconds=Agency.current().escalation_s)
    due = list(
        Alert.objects.filter(
            status=AlertStatus.RAISED, escalated_at__isnull=True, kind__in=ESCALATING_KINDS, raised_at__lte=overdue
        ).values_list("pk", flat=True)[:100]
    )
    escalated = []
    for pk in due:
        with transaction.atomic():
            alert = (
                Alert.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=AlertStatus.RAISED, escalated_at__isnull=True)
                .first()
            )
            if alert is None:
                continue
            alert.escalated_at = now
            alert.save(update_fields=["escalated_at"])
            record_event("alert.escalated", console_alert_data(alert))
            audit_record(
                action="alert.escalated",
                actor_name="system",
                target=f"alert:{alert.pk}",
                detail={"kind": alert.kind, "unacknowledged_s": round((now - alert.raised_at).total_seconds())},
            )
            escalated.append(alert)
    return escalated


# Responding ------------------------------------------------------------------

# The APCO common incident type of the call an alert opens when it has none.
_INCIDENT_TYPE_OF = {
    AlertKind.OFFICER_DOWN: "MAYDAY",
    AlertKind.PANIC: "MAYDAY",
    AlertKind.PRONE: "MAYDAY",
    AlertKind.GUNSHOT: "SHOOT",
    AlertKind.WEAPON_DRAWN: "WEAPON",
    AlertKind.FOOT_PURSUIT: "PURSUIT",
    AlertKind.STRUGGLE: "FIGHT",
}


@transaction.atomic
def alert_respond(*, alert: Alert, actor, source_ip: str | None = None) -> Assignment:
    """An officer answers an alert in one tap: their unit is assigned to its call and goes en route.

    An alert without an open call gets one (MAYDAY for officer down and panic),
    linked to the alert, so the next officer who responds joins the same call.
    """
    from dispatch import services as dispatch

    officer = Officer.objects.select_related("unit").filter(user=actor).first()
    unit = officer.unit if officer is not None else None
    if unit is None:
        raise RefusedChange("You are not riding in a unit, so there is no unit to send; sign in to a unit first.")
    alert = Alert.objects.select_for_update(of=("self",)).select_related("call", "unit", "device").get(pk=alert.pk)
    if not alert.is_open:
        raise RefusedChange(f"Alert #{alert.pk} is {alert.get_status_display().lower()}; nobody needs to respond.")
    if alert.unit_id == unit.pk:
        raise RefusedChange(f"Alert #{alert.pk} is about your own unit, {unit.call_sign}.")
    call = alert.call
    if call is None or not call.is_open:
        code = _INCIDENT_TYPE_OF.get(alert.kind, "MAYDAY")
        about = alert.unit.call_sign if alert.unit_id else (alert.device.name if alert.device_id else "a device")
        call = dispatch.call_create(
            actor=actor,
            incident_type=IncidentType.objects.get(code=code),
            priority=1,
            lat=alert.lat,
            lon=alert.lon,
            narrative=f"{alert.get_kind_display()} alert #{alert.pk} for {about}; {unit.call_sign} responding.",
        )
        alert.call = call
        alert.save(update_fields=["call"])
        record_event("alert.updated", console_alert_data(alert))
    assignment = Assignment.objects.filter(call=call, unit=unit, cleared_at__isnull=True).first()
    if assignment is None:
        assignment = dispatch.call_assign_unit(call=call, unit=unit, actor=actor, source_ip=source_ip)
    unit.refresh_from_db(fields=["status"])
    if unit.status == UnitStatus.DISPATCHED:
        dispatch.unit_change_status(unit=unit, status=UnitStatus.EN_ROUTE, actor=actor, source_ip=source_ip)
    audit_record(
        action="alert.responded",
        actor=actor_user(actor),
        target=f"alert:{alert.pk}",
        source_ip=source_ip,
        detail={"unit": unit.call_sign, "call": call.number},
    )
    assignment.refresh_from_db()
    return assignment
