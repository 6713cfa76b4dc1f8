"""Approaching the dispatched call commands recording once per assignment and notes it on the call's timeline."""

from datetime import UTC, datetime, timedelta

import pytest

from alerts.models import DeviceCommand
from dispatch import services as dispatch
from dispatch.models import TimelineEntry, UnitStatus
from tests.alerts.conftest import event, post_events

pytestmark = pytest.mark.django_db

CALL = (38.6270, -90.1994)
# Due north of the call: 0.001 degree of latitude is about 111 m.
FAR = (CALL[0] + 0.0200, CALL[1])  # about 2,224 m
EDGE = (CALL[0] + 0.0150, CALL[1])  # about 1,668 m: still outside 1,609 m
NEAR = (CALL[0] + 0.0140, CALL[1])  # about 1,557 m
NEARER = (CALL[0] + 0.0050, CALL[1])


@pytest.fixture
def dispatched(make_unit, make_device, dispatcher, incident_types):
    from dispatch.models import IncidentType

    unit = make_unit("2A33")
    device, token = make_device("bc-1234", unit)
    call = dispatch.call_create(
        actor=dispatcher, incident_type=IncidentType.objects.get(code="SHOOT"), priority=1, lat=CALL[0], lon=CALL[1]
    )
    assignment = dispatch.call_assign_unit(call=call, unit=unit, actor=dispatcher)
    return unit, device, token, call, assignment


def drive(token, *points):
    start = datetime.now(UTC) - timedelta(seconds=len(points))
    batch = [
        event("location", at=start + timedelta(seconds=n), lat=lat, lon=lon) for n, (lat, lon) in enumerate(points)
    ]
    return post_events(batch, token)


def recording_commands(device):
    return list(DeviceCommand.objects.filter(device=device, command="start_recording"))


def test_the_recording_command_fires_once_when_the_unit_crosses_the_radius(dispatched):
    unit, device, token, call, _ = dispatched
    assert drive(token, FAR, EDGE).json()["commands"] == []
    assert recording_commands(device) == []

    answer = drive(token, NEAR).json()
    assert [c["command"] for c in answer["commands"]] == ["start_recording"]
    assert "within 1,609 m of its dispatched call" in answer["commands"][0]["reason"]

    assert drive(token, NEARER, NEAR, EDGE, NEAR).json()["commands"] == []
    assert len(recording_commands(device)) == 1
    entry = TimelineEntry.objects.get(call=call, action="camera_recording")
    assert "2A33" in entry.description
    assert entry.detail["unit"] == unit.pk


def test_the_recording_command_fires_once_even_when_another_process_forgets_it_fired(dispatched):
    from alerts import policy

    _, device, token, _, _ = dispatched
    drive(token, NEAR)
    policy.forget_approaches()
    drive(token, NEARER)
    assert len(recording_commands(device)) == 1


def test_the_radius_is_the_agencys(dispatched):
    unit, device, token, _, _ = dispatched
    unit.agency.approach_radius_m = 600
    unit.agency.save()
    drive(token, NEAR)
    assert recording_commands(device) == []
    drive(token, NEARER)
    assert len(recording_commands(device)) == 1


def test_a_unit_on_scene_or_without_a_call_is_not_commanded(dispatched, make_unit, make_device, dispatcher):
    unit, device, token, _, _ = dispatched
    dispatch.unit_change_status(unit=unit, status=UnitStatus.ON_SCENE, actor=dispatcher)
    drive(token, NEAR)
    idle = make_unit("2A40")
    idle_device, idle_token = make_device("bc-2040", idle)
    drive(idle_token, NEAR)
    assert recording_commands(device) == recording_commands(idle_device) == []


def test_a_new_assignment_commands_recording_again(dispatched, dispatcher, incident_types):
    from dispatch.models import DispositionCode, IncidentType

    unit, device, token, call, _ = dispatched
    drive(token, NEAR)
    disposition, _ = DispositionCode.objects.get_or_create(code="RPT", defaults={"name": "Report taken"})
    dispatch.call_close(call=call, disposition=disposition, actor=dispatcher)
    second = dispatch.call_create(
        actor=dispatcher, incident_type=IncidentType.objects.get(code="SHOOT"), priority=1, lat=CALL[0], lon=CALL[1]
    )
    dispatch.call_assign_unit(call=second, unit=unit, actor=dispatcher)
    from alerts import policy

    policy.forget_approaches()  # the 2-second cache, as after a real wait
    drive(token, NEARER)
    assert len(recording_commands(device)) == 2
