"""The only writers of calls, units and assignments: lock, validate, save, log the event.

Lock order, everywhere: the call row, then unit rows by id. A close that
clears three units and an officer tapping "on scene" at the same moment
then queue behind one another instead of deadlocking.
"""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import actor_name, actor_user, audit_record
from config.errors import RefusedChange
from dispatch.models import (
    CALL_TRANSITIONS,
    ON_CALL_STATUSES,
    UNIT_TRANSITIONS,
    Assignment,
    Call,
    CallCounter,
    CallNote,
    CallStatus,
    DispositionCode,
    IncidentType,
    TimelineEntry,
    Unit,
    UnitStatus,
)
from dispatch.serializers import CallSerializer, UnitSerializer
from events.services import record_event

# Who made a change: a signed-in user, or None for the system itself.
Actor = AbstractBaseUser | None


class CallClosed(RefusedChange):
    """The call is closed or cancelled, and the change needs an open call."""


class IllegalCallTransition(RefusedChange):
    """The call's status graph has no such move."""


class IllegalUnitTransition(RefusedChange):
    """The unit's status graph has no such move."""


class UnitNotAvailable(RefusedChange):
    """The unit is busy elsewhere (or was assigned a moment ago by someone else)."""


class NotOnThisCall(RefusedChange):
    """The person is not assigned to the call."""


# Helpers ------------------------------------------------------------------


def _lock_call(call_id: int) -> Call:
    return Call.objects.select_for_update().select_related("incident_type").get(pk=call_id)


def _lock_unit(unit_id: int) -> Unit:
    return Unit.objects.select_for_update().get(pk=unit_id)


def _require_open(call: Call, doing: str) -> None:
    if not call.is_open:
        raise CallClosed(f"Call {call.number} is {call.get_status_display().lower()}; reopen it before you {doing}.")


def _timeline(call: Call, actor: Actor, action: str, description: str, **detail: Any) -> None:
    TimelineEntry.objects.create(
        call=call,
        actor=actor_user(actor),
        actor_name=actor_name(actor),
        action=action,
        description=description,
        detail=detail,
    )


def _serialized_call(call_id: int) -> dict:
    return CallSerializer(Call.objects.with_details().get(pk=call_id)).data


def _serialized_unit(unit_id: int) -> dict:
    return UnitSerializer(Unit.objects.with_details().get(pk=unit_id)).data


def _call_changed(call: Call) -> None:
    record_event("call.updated", _serialized_call(call.pk))


def _move_call(call: Call, status: str, *, actor: Actor, source_ip: str | None = None) -> None:
    """Change a locked call's status through CALL_TRANSITIONS, with timeline and audit."""
    if status == call.status:
        return
    if status not in CALL_TRANSITIONS[call.status]:
        raise IllegalCallTransition(
            f"Call {call.number} cannot go from {call.get_status_display().lower()} "
            f"to {CallStatus(status).label.lower()}."
        )
    previous = call.status
    call.status = status
    call.updated_at = timezone.now()
    call.save(update_fields=["status", "updated_at"])
    _timeline(
        call,
        actor,
        "status",
        f"Status {CallStatus(previous).label} → {CallStatus(status).label}",
        previous=previous,
        status=status,
    )
    audit_record(
        action="call.status_changed",
        actor=actor_user(actor),
        actor_name=actor_name(actor),
        target=f"call:{call.number}",
        source_ip=source_ip,
        detail={"from": previous, "to": status},
    )


def _follow_units(call: Call, *, actor: Actor, source_ip: str | None) -> None:
    """Move an open call to the status its units imply."""
    if call.is_open:
        _move_call(call, call.status_from_assignments(), actor=actor, source_ip=source_ip)


def _move_unit(unit: Unit, status: str, *, actor: Actor, source_ip: str | None, call: Call | None) -> str:
    """Change a locked unit's status through UNIT_TRANSITIONS; moves its assignment's times too."""
    previous = unit.status
    if status == previous:
        raise IllegalUnitTransition(f"Unit {unit.call_sign} is already {unit.get_status_display().lower()}.")
    if status not in UNIT_TRANSITIONS[previous]:
        raise IllegalUnitTransition(
            f"Unit {unit.call_sign} cannot go from {unit.get_status_display().lower()} "
            f"to {UnitStatus(status).label.lower()}."
        )
    now = timezone.now()
    assignment = unit.assignments.filter(cleared_at__isnull=True).first()
    if assignment is not None and status != UnitStatus.DISPATCHED:
        if status == UnitStatus.EN_ROUTE:
            assignment.en_route_at = now
        elif status == UnitStatus.ON_SCENE:
            assignment.on_scene_at = now
        elif status not in ON_CALL_STATUSES:
            assignment.cleared_at = now
        assignment.save(update_fields=["en_route_at", "on_scene_at", "cleared_at"])
    unit.status = status
    unit.status_changed_at = now
    unit.save(update_fields=["status", "status_changed_at"])
    audit_record(
        action="unit.status_changed",
        actor=actor_user(actor),
        actor_name=actor_name(actor),
        target=f"unit:{unit.call_sign}",
        source_ip=source_ip,
        detail={"from": previous, "to": status, "call": call.number if call else None},
    )
    if call is not None:
        _timeline(
            call,
            actor,
            "unit_status",
            f"{unit.call_sign} {UnitStatus(previous).label.lower()} → {UnitStatus(status).label.lower()}",
            unit=unit.pk,
            previous=previous,
            status=status,
        )
    return previous


# Calls ------------------------------------------------------------------


def next_call_number(*, year: int) -> str:
    """Issue the next call number of the year, e.g. 26-000123 (call inside a transaction)."""
    # The counter row is locked until commit, so two call-takers never get
    # the same number; get_or_create survives two creating the year's row.
    counter, _ = CallCounter.objects.select_for_update().get_or_create(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{year % 100:02d}-{counter.last:06d}"


@transaction.atomic
def call_create(
    *,
    actor: Actor,
    incident_type: IncidentType,
    priority: int,
    address: str = "",
    lat: float | None = None,
    lon: float | None = None,
    caller_name: str = "",
    caller_phone: str = "",
    narrative: str = "",
) -> Call:
    """Take a new call for service."""
    now = timezone.now()
    call = Call.objects.create(
        number=next_call_number(year=timezone.localdate(now).year),
        incident_type=incident_type,
        priority=priority,
        address=address,
        lat=lat,
        lon=lon,
        caller_name=caller_name,
        caller_phone=caller_phone,
        created_by=actor_user(actor),
        created_at=now,
        updated_at=now,
    )
    _timeline(call, actor, "created", f"Call taken: {incident_type.code}, priority {priority}", priority=priority)
    if narrative.strip():
        CallNote.objects.create(
            call=call, text=narrative.strip(), author=actor_user(actor), author_name=actor_name(actor)
        )
    record_event("call.created", _serialized_call(call.pk))
    return call


_EDITABLE = ("incident_type", "priority", "address", "lat", "lon", "caller_name", "caller_phone")


@transaction.atomic
def call_update(*, call: Call, actor: Actor, **changes: Any) -> Call:
    """Change what a call is about: type, priority, address, coordinates, caller."""
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise TypeError(f"call_update cannot change {', '.join(sorted(unknown))}")
    call = _lock_call(call.pk)
    _require_open(call, "change it")
    changed = {}
    for field, value in changes.items():
        old = getattr(call, field)
        if old != value:
            setattr(call, field, value)
            changed[field] = (str(old) if old is not None else None, str(value) if value is not None else None)
    if not changed:
        return call
    call.updated_at = timezone.now()
    call.save(update_fields=[*changed, "updated_at"])
    description = "; ".join(
        f"{field.replace('_', ' ')} {old or '—'} → {new or '—'}" for field, (old, new) in changed.items()
    )
    _timeline(call, actor, "updated", description[:500], changes={k: list(v) for k, v in changed.items()})
    _call_changed(call)
    return call


@transaction.atomic
def call_add_note(*, call: Call, actor: Actor, text: str) -> CallNote:
    """Append a narrative note to a call (notes are never edited)."""
    call = _lock_call(call.pk)
    text = text.strip()
    if not text:
        raise RefusedChange("A note needs some text.")
    note = CallNote.objects.create(call=call, text=text, author=actor_user(actor), author_name=actor_name(actor))
    call.updated_at = note.at
    call.save(update_fields=["updated_at"])
    _timeline(call, actor, "note_added", "Note added", note=note.pk)
    _call_changed(call)
    return note


@transaction.atomic
def call_assign_unit(*, call: Call, unit: Unit, actor: Actor, source_ip: str | None = None) -> Assignment:
    """Dispatch a unit to a call. A unit already on a call (even since a moment ago) is refused."""
    call = _lock_call(call.pk)
    _require_open(call, "assign units")
    unit = _lock_unit(unit.pk)
    if unit.status != UnitStatus.AVAILABLE:
        current = unit.active_assignment()
        where = f" on call {current.call.number}" if current else ""
        raise UnitNotAvailable(
            f"Unit {unit.call_sign} is {unit.get_status_display().lower()}{where}; "
            f"only an available unit can be assigned."
        )
    try:
        # The savepoint keeps the transaction usable if the constraint fires.
        with transaction.atomic():
            assignment = Assignment.objects.create(call=call, unit=unit, dispatched_by=actor_user(actor))
    except IntegrityError:
        raise UnitNotAvailable(f"Unit {unit.call_sign} was just assigned to another call.")
    _timeline(call, actor, "assigned", f"{unit.call_sign} dispatched", unit=unit.pk, assignment=assignment.pk)
    _move_unit(unit, UnitStatus.DISPATCHED, actor=actor, source_ip=source_ip, call=call)
    audit_record(
        action="unit.assigned",
        actor=actor_user(actor),
        actor_name=actor_name(actor),
        target=f"unit:{unit.call_sign}",
        source_ip=source_ip,
        detail={"call": call.number},
    )
    _follow_units(call, actor=actor, source_ip=source_ip)
    record_event("unit.status_changed", _serialized_unit(unit.pk))
    _call_changed(call)
    return assignment


@transaction.atomic
def unit_change_status(*, unit: Unit, status: str, actor: Actor, source_ip: str | None = None) -> Unit:
    """Move a unit along its status graph; en route / on scene / clear also stamp its assignment."""
    if status == UnitStatus.DISPATCHED:
        raise IllegalUnitTransition("A unit is dispatched by assigning it to a call.")
    # Lock order is call, then unit: find the call without a lock, lock it,
    # lock the unit, then check nobody moved the unit to another call between.
    peeked = Assignment.objects.filter(unit_id=unit.pk, cleared_at__isnull=True).values_list("call_id", flat=True)
    call_id = peeked.first()
    call = _lock_call(call_id) if call_id else None
    unit = _lock_unit(unit.pk)
    current = unit.assignments.filter(cleared_at__isnull=True).values_list("call_id", flat=True).first()
    if current is not None and current != call_id:
        raise RefusedChange(f"Unit {unit.call_sign} was just assigned to another call; look again and retry.")
    if current is None:
        call = None
    _move_unit(unit, status, actor=actor, source_ip=source_ip, call=call)
    record_event("unit.status_changed", _serialized_unit(unit.pk))
    if call is not None:
        _follow_units(call, actor=actor, source_ip=source_ip)
        call.updated_at = timezone.now()
        call.save(update_fields=["updated_at"])
        _call_changed(call)
    return unit


def _end_call(call: Call, status: str, *, actor: Actor, source_ip: str | None, description: str, **detail: Any) -> Call:
    unit_ids = call.assignments.filter(cleared_at__isnull=True).order_by("unit_id").values_list("unit_id", flat=True)
    cleared = []
    for unit_id in unit_ids:
        unit = _lock_unit(unit_id)
        _move_unit(unit, UnitStatus.AVAILABLE, actor=actor, source_ip=source_ip, call=call)
        cleared.append(unit.pk)
    _move_call(call, status, actor=actor, source_ip=source_ip)
    call.closed_at = timezone.now()
    call.save(update_fields=["closed_at", "disposition"])
    _timeline(call, actor, status.lower(), description, **detail)
    for unit_id in cleared:
        record_event("unit.status_changed", _serialized_unit(unit_id))
    _call_changed(call)
    return call


@transaction.atomic
def call_close(*, call: Call, disposition: DispositionCode, actor: Actor, source_ip: str | None = None) -> Call:
    """Close a call with a disposition code; its units clear and become available."""
    call = _lock_call(call.pk)
    if not call.is_open:
        raise CallClosed(f"Call {call.number} is already {call.get_status_display().lower()}.")
    call.disposition = disposition
    return _end_call(
        call,
        CallStatus.CLOSED,
        actor=actor,
        source_ip=source_ip,
        description=f"Closed: {disposition.code} {disposition.name}",
        disposition=disposition.code,
    )


@transaction.atomic
def call_cancel(*, call: Call, actor: Actor, reason: str = "", source_ip: str | None = None) -> Call:
    """Cancel a call (e.g. a duplicate or a caller who called back); its units clear."""
    call = _lock_call(call.pk)
    if not call.is_open:
        raise CallClosed(f"Call {call.number} is already {call.get_status_display().lower()}.")
    description = f"Cancelled: {reason}" if reason else "Cancelled"
    return _end_call(
        call, CallStatus.CANCELLED, actor=actor, source_ip=source_ip, description=description[:500], reason=reason
    )


@transaction.atomic
def call_reopen(*, call: Call, actor: Actor, reason: str = "", source_ip: str | None = None) -> Call:
    """Reopen a closed call; its disposition is kept in the timeline, not on the call."""
    call = _lock_call(call.pk)
    _move_call(call, CallStatus.REOPENED, actor=actor, source_ip=source_ip)
    call.disposition = None
    call.closed_at = None
    call.reopened_at = timezone.now()
    call.save(update_fields=["disposition", "closed_at", "reopened_at"])
    _timeline(call, actor, "reopened", f"Reopened: {reason}"[:500] if reason else "Reopened", reason=reason)
    _call_changed(call)
    return call
