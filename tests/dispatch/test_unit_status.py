"""The unit status graph: every allowed move works, every other move is refused with a sentence."""

import itertools

import pytest

from audit.models import AuditRecord
from config.errors import RefusedChange
from dispatch import services
from dispatch.models import EIDO_UNIT_STATUS, ON_CALL_STATUSES, UNIT_TRANSITIONS, CallStatus, UnitStatus
from events.models import Event

ALL_MOVES = list(itertools.product(UnitStatus.values, UnitStatus.values))


def put_unit_in(status, *, unit, call, dispatcher):
    """Bring a unit to a status the way a shift would: via a call for the on-call statuses."""
    if status in ON_CALL_STATUSES:
        services.unit_change_status(unit=unit, status=UnitStatus.AVAILABLE, actor=dispatcher)
        services.call_assign_unit(call=call, unit=unit, actor=dispatcher)
        if status == UnitStatus.EN_ROUTE:
            services.unit_change_status(unit=unit, status=UnitStatus.EN_ROUTE, actor=dispatcher)
        if status == UnitStatus.ON_SCENE:
            services.unit_change_status(unit=unit, status=UnitStatus.ON_SCENE, actor=dispatcher)
    else:
        unit.status = status
        unit.save()
    unit.refresh_from_db()
    return unit


@pytest.mark.parametrize(("start", "target"), ALL_MOVES)
def test_a_unit_moves_only_along_its_status_graph(start, target, make_unit, make_call, dispatcher):
    call = make_call()
    unit = put_unit_in(start, unit=make_unit("2A33", status=UnitStatus.OFF_DUTY), call=call, dispatcher=dispatcher)
    allowed = target in UNIT_TRANSITIONS[start]

    def move():
        if target == UnitStatus.DISPATCHED:
            return services.call_assign_unit(call=make_call(), unit=unit, actor=dispatcher)
        return services.unit_change_status(unit=unit, status=target, actor=dispatcher)

    if allowed:
        move()
        unit.refresh_from_db()
        assert unit.status == target
    else:
        with pytest.raises(RefusedChange) as refused:
            move()
        unit.refresh_from_db()
        assert unit.status == start
        assert "2A33" in str(refused.value)
        assert str(refused.value).endswith(".")


def test_every_unit_status_maps_to_an_eido_primary_and_secondary_status():
    assert set(EIDO_UNIT_STATUS) == set(UnitStatus.values)
    for primary, secondary in EIDO_UNIT_STATUS.values():
        assert primary in {"Available", "ConditionallyAvailable", "NotAvailable"}
        assert secondary


def test_every_status_can_get_back_to_available_eventually():
    for start in UnitStatus.values:
        seen, frontier = {start}, [start]
        while frontier:
            for nxt in UNIT_TRANSITIONS[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert UnitStatus.AVAILABLE in seen or start == UnitStatus.AVAILABLE


def test_en_route_on_scene_and_clear_stamp_the_assignment_and_move_the_call(make_unit, make_call, dispatcher):
    call = make_call()
    unit = make_unit("2A33")
    assignment = services.call_assign_unit(call=call, unit=unit, actor=dispatcher)
    call.refresh_from_db()
    assert call.status == CallStatus.RESOURCES_ASSIGNED

    services.unit_change_status(unit=unit, status=UnitStatus.EN_ROUTE, actor=dispatcher)
    call.refresh_from_db()
    assignment.refresh_from_db()
    assert call.status == CallStatus.RESOURCES_ENROUTE
    assert assignment.en_route_at is not None

    services.unit_change_status(unit=unit, status=UnitStatus.ON_SCENE, actor=dispatcher)
    call.refresh_from_db()
    assignment.refresh_from_db()
    assert call.status == CallStatus.RESOURCES_ONSCENE
    assert assignment.on_scene_at >= assignment.en_route_at

    services.unit_change_status(unit=unit, status=UnitStatus.AVAILABLE, actor=dispatcher)
    call.refresh_from_db()
    assignment.refresh_from_db()
    assert assignment.cleared_at is not None
    assert call.status == CallStatus.ACTIVE


def test_a_status_change_is_audited_logged_for_consoles_and_on_the_call_timeline(make_unit, make_call, dispatcher):
    call = make_call()
    unit = make_unit("2A33")
    services.call_assign_unit(call=call, unit=unit, actor=dispatcher)
    services.unit_change_status(unit=unit, status=UnitStatus.EN_ROUTE, actor=dispatcher)

    record = AuditRecord.objects.filter(action="unit.status_changed").order_by("-id").first()
    assert record.actor_name == "dana"
    assert record.detail == {"from": "dispatched", "to": "en_route", "call": call.number}
    event = Event.objects.filter(kind="unit.status_changed").order_by("-seq").first()
    assert event.data["call_sign"] == "2A33"
    assert event.data["status"] == "en_route"
    assert event.data["eido_secondary_status"] == "Enroute"
    assert event.data["call"]["number"] == call.number
    call_event = Event.objects.filter(kind="call.updated").order_by("-seq").first()
    assert call_event.data["status"] == "ResourcesEnroute"
    assert call.timeline.filter(action="unit_status", actor_name="dana").exists()


def test_dispatched_is_reached_only_by_assigning_the_unit(make_unit, dispatcher):
    unit = make_unit("2A33")
    with pytest.raises(RefusedChange, match="assigning it to a call"):
        services.unit_change_status(unit=unit, status=UnitStatus.DISPATCHED, actor=dispatcher)
