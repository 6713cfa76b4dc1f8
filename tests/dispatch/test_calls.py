"""Calls for service: numbers, the status graph, notes, the timeline and the events consoles receive."""

import itertools

import pytest
from django.utils import timezone

from config.errors import RefusedChange
from dispatch import services
from dispatch.models import CALL_TRANSITIONS, CallStatus, IncidentType, UnitStatus
from dispatch.serializers import CallSerializer
from events.models import Event


def test_call_numbers_run_per_year_with_the_two_digit_year_and_six_digits(make_call):
    year = timezone.localdate().year % 100
    first, second = make_call(), make_call()
    assert first.number == f"{year:02d}-000001"
    assert second.number == f"{year:02d}-000002"


def test_a_new_year_starts_again_at_one(db):
    with services.transaction.atomic():
        assert services.next_call_number(year=2026) == "26-000001"
        assert services.next_call_number(year=2027) == "27-000001"
        assert services.next_call_number(year=2026) == "26-000002"


def test_a_new_call_is_active_with_its_narrative_and_a_created_event(make_call):
    call = make_call(narrative="Two shots heard.")
    assert call.status == CallStatus.ACTIVE
    assert [note.text for note in call.notes.all()] == ["Two shots heard."]
    event = Event.objects.get(kind="call.created")
    assert event.data == CallSerializer(call).data
    assert call.timeline.get(action="created").actor_name == "dana"


def test_local_types_report_as_the_apco_type_they_map_onto(db):
    shoot = IncidentType.objects.get(code="SHOOT")
    local = IncidentType.objects.create(code="SHOTSPOT", name="ShotSpotter activation", apco_type=shoot)
    assert local.common_code == "SHOOT"
    assert shoot.common_code == "SHOOT"


def test_seeded_types_include_the_ones_the_seeds_name(db):
    codes = set(IncidentType.objects.values_list("code", flat=True))
    assert {"MAYDAY", "SHOOT", "PURSUIT", "FIGHT", "WEAPON"} <= codes


def test_an_update_is_a_timeline_entry_and_a_call_updated_event_with_the_full_call(make_call, dispatcher):
    call = make_call(priority=3)
    services.call_update(call=call, actor=dispatcher, priority=1, address="1300 Market St")
    call.refresh_from_db()
    entry = call.timeline.get(action="updated")
    assert "priority 3 → 1" in entry.description
    event = Event.objects.filter(kind="call.updated").last()
    assert event.data["priority"] == 1
    assert event.data["address"] == "1300 Market St"
    assert event.data == CallSerializer(call).data


def test_an_update_that_changes_nothing_writes_nothing(make_call, dispatcher):
    call = make_call(priority=3)
    before = Event.objects.count()
    services.call_update(call=call, actor=dispatcher, priority=3)
    assert Event.objects.count() == before


def test_notes_are_appended_in_order(make_call, dispatcher):
    call = make_call()
    services.call_add_note(call=call, actor=dispatcher, text="First.")
    services.call_add_note(call=call, actor=dispatcher, text="Second.")
    assert [n.text for n in call.notes.order_by("id")] == ["First.", "Second."]
    assert Event.objects.filter(kind="call.updated").last().data["notes"][-1]["text"] == "Second."


def test_closing_a_call_clears_its_units_and_makes_them_available(make_call, make_unit, dispatcher, disposition):
    call = make_call()
    units = [make_unit("2A33"), make_unit("2A34")]
    for unit in units:
        services.call_assign_unit(call=call, unit=unit, actor=dispatcher)
    services.unit_change_status(unit=units[0], status=UnitStatus.ON_SCENE, actor=dispatcher)

    services.call_close(call=call, disposition=disposition, actor=dispatcher)

    call.refresh_from_db()
    assert call.status == CallStatus.CLOSED
    assert call.disposition == disposition
    assert call.closed_at is not None
    assert not call.assignments.filter(cleared_at__isnull=True).exists()
    for unit in units:
        unit.refresh_from_db()
        assert unit.status == UnitStatus.AVAILABLE
    kinds = list(Event.objects.order_by("-seq").values_list("kind", flat=True)[:3])
    assert kinds == ["call.updated", "unit.status_changed", "unit.status_changed"]


def test_cancelling_a_call_clears_its_units(make_call, make_unit, dispatcher):
    call = make_call()
    unit = make_unit("2A33")
    services.call_assign_unit(call=call, unit=unit, actor=dispatcher)
    services.call_cancel(call=call, actor=dispatcher, reason="Duplicate")
    call.refresh_from_db()
    unit.refresh_from_db()
    assert call.status == CallStatus.CANCELLED
    assert unit.status == UnitStatus.AVAILABLE


def test_a_closed_call_reopens_and_takes_units_again(make_call, make_unit, dispatcher, disposition):
    call = make_call()
    services.call_close(call=call, disposition=disposition, actor=dispatcher)
    services.call_reopen(call=call, actor=dispatcher, reason="Suspect returned")
    call.refresh_from_db()
    assert call.status == CallStatus.REOPENED
    assert call.disposition is None
    services.call_assign_unit(call=call, unit=make_unit("2A33"), actor=dispatcher)
    call.refresh_from_db()
    assert call.status == CallStatus.RESOURCES_ASSIGNED


def test_a_closed_call_refuses_changes_with_a_sentence(make_call, dispatcher, disposition, make_unit):
    call = make_call()
    services.call_close(call=call, disposition=disposition, actor=dispatcher)
    with pytest.raises(RefusedChange, match=r"is closed; reopen it before you change it\."):
        services.call_update(call=call, actor=dispatcher, priority=2)
    with pytest.raises(RefusedChange, match=r"reopen it before you assign units\."):
        services.call_assign_unit(call=call, unit=make_unit("2A33"), actor=dispatcher)
    with pytest.raises(RefusedChange, match=r"is already closed\."):
        services.call_close(call=call, disposition=disposition, actor=dispatcher)


def test_the_timeline_records_who_did_what_and_when(make_call, make_unit, dispatcher, disposition):
    call = make_call()
    unit = make_unit("2A33")
    services.call_assign_unit(call=call, unit=unit, actor=dispatcher)
    services.unit_change_status(unit=unit, status=UnitStatus.EN_ROUTE, actor=dispatcher)
    services.call_close(call=call, disposition=disposition, actor=dispatcher)
    actions = list(call.timeline.order_by("id").values_list("action", flat=True))
    assert actions[0] == "created"
    assert "assigned" in actions
    assert actions[-1] == "closed"
    assert all(entry.at and entry.actor_name == "dana" for entry in call.timeline.all())


# The call status graph, move by move. Each start status is reached the way
# a shift would reach it; each target is asked for the way the product asks.

ALL_CALL_MOVES = list(itertools.product(CallStatus.values, CallStatus.values))


def _bring_call_to(status, *, call, unit, dispatcher, disposition):
    if status in {CallStatus.RESOURCES_ASSIGNED, CallStatus.RESOURCES_ENROUTE, CallStatus.RESOURCES_ONSCENE}:
        services.call_assign_unit(call=call, unit=unit, actor=dispatcher)
        if status == CallStatus.RESOURCES_ENROUTE:
            services.unit_change_status(unit=unit, status=UnitStatus.EN_ROUTE, actor=dispatcher)
        if status == CallStatus.RESOURCES_ONSCENE:
            services.unit_change_status(unit=unit, status=UnitStatus.ON_SCENE, actor=dispatcher)
    elif status == CallStatus.CLOSED:
        services.call_close(call=call, disposition=disposition, actor=dispatcher)
    elif status == CallStatus.CANCELLED:
        services.call_cancel(call=call, actor=dispatcher)
    elif status == CallStatus.REOPENED:
        services.call_close(call=call, disposition=disposition, actor=dispatcher)
        services.call_reopen(call=call, actor=dispatcher)
    call.refresh_from_db()
    unit.refresh_from_db()
    assert call.status == status


def _ask_call_to(status, *, call, unit, dispatcher, disposition):
    if status == CallStatus.ACTIVE:  # every unit clears
        services.unit_change_status(unit=unit, status=UnitStatus.AVAILABLE, actor=dispatcher)
    elif status == CallStatus.RESOURCES_ASSIGNED:
        if unit.status == UnitStatus.AVAILABLE:
            services.call_assign_unit(call=call, unit=unit, actor=dispatcher)
        else:  # a second unit joins; the first one leaves
            other = type(unit).objects.create(agency=unit.agency, call_sign="2A99", status=UnitStatus.AVAILABLE)
            services.call_assign_unit(call=call, unit=other, actor=dispatcher)
            services.unit_change_status(unit=unit, status=UnitStatus.AVAILABLE, actor=dispatcher)
    elif status == CallStatus.RESOURCES_ENROUTE:
        if unit.status == UnitStatus.AVAILABLE:
            services.call_assign_unit(call=call, unit=unit, actor=dispatcher)
            services.unit_change_status(unit=unit, status=UnitStatus.EN_ROUTE, actor=dispatcher)
        elif unit.status == UnitStatus.ON_SCENE:
            other = type(unit).objects.create(agency=unit.agency, call_sign="2A99", status=UnitStatus.AVAILABLE)
            services.call_assign_unit(call=call, unit=other, actor=dispatcher)
            services.unit_change_status(unit=other, status=UnitStatus.EN_ROUTE, actor=dispatcher)
            services.unit_change_status(unit=unit, status=UnitStatus.AVAILABLE, actor=dispatcher)
        else:
            services.unit_change_status(unit=unit, status=UnitStatus.EN_ROUTE, actor=dispatcher)
    elif status == CallStatus.RESOURCES_ONSCENE:
        if unit.status == UnitStatus.AVAILABLE:
            services.call_assign_unit(call=call, unit=unit, actor=dispatcher)
        services.unit_change_status(unit=unit, status=UnitStatus.ON_SCENE, actor=dispatcher)
    elif status == CallStatus.CLOSED:
        services.call_close(call=call, disposition=disposition, actor=dispatcher)
    elif status == CallStatus.CANCELLED:
        services.call_cancel(call=call, actor=dispatcher)
    elif status == CallStatus.REOPENED:
        services.call_reopen(call=call, actor=dispatcher)


@pytest.mark.parametrize(("start", "target"), ALL_CALL_MOVES)
def test_a_call_moves_only_along_its_status_graph(  # noqa: PLR0917 - pytest passes fixtures positionally
    start, target, make_call, make_unit, dispatcher, disposition
):
    call, unit = make_call(), make_unit("2A33")
    _bring_call_to(start, call=call, unit=unit, dispatcher=dispatcher, disposition=disposition)
    allowed = target in CALL_TRANSITIONS[start]
    try:
        _ask_call_to(target, call=call, unit=unit, dispatcher=dispatcher, disposition=disposition)
    except RefusedChange as refused:
        assert not allowed, f"{start} → {target} should be allowed, was refused: {refused}"
        assert str(refused).endswith(".")
        call.refresh_from_db()
        assert call.status == start
    else:
        call.refresh_from_db()
        assert call.status == target
        # Staying put (a second unit replacing the first) is no move at all.
        assert allowed or start == target


def test_the_call_graph_has_reopened_only_after_closed_and_nothing_after_cancelled():
    assert [s for s, targets in CALL_TRANSITIONS.items() if CallStatus.REOPENED in targets] == [CallStatus.CLOSED]
    assert CALL_TRANSITIONS[CallStatus.CANCELLED] == frozenset()
