"""The simulator against a real server (Daphne on the test database), through the public contracts only."""

import asyncio
import importlib
import io
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import call_command

from alerts import policy
from alerts.models import Alert, DeviceEvent, ProneWindow
from dispatch.avl import distance_m
from dispatch.models import Call, DispositionCode, IncidentType, PositionFix, Unit
from simulator.credentials import prepare_fleet
from simulator.fleet import FleetConfig
from simulator.runner import Simulation, SimulationOptions, Tally

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_agency(live_url):
    """The demo agency, with the APCO codes and the activation policy a flushed test database lost."""
    codes = importlib.import_module("dispatch.migrations.0002_seed_apco_codes")
    for code, name, priority in codes.INCIDENT_TYPES:
        IncidentType.objects.update_or_create(code=code, defaults={"name": name, "default_priority": priority})
    for code, name in codes.DISPOSITIONS:
        DispositionCode.objects.update_or_create(code=code, defaults={"name": name})
    policy.ensure_default_rules()
    call_command("demo", force=True, stdout=io.StringIO())
    return live_url


def simulate(
    server: str, *, units: int, until, timeout: float, video: bool = False, time_scale: float = 10.0, **fleet
) -> Tally:
    """Run the simulator in this process, faster than life, until `until(tally)` or the timeout."""
    simulation = Simulation(
        prepare_fleet(units),
        SimulationOptions(
            server=server,
            seed=20260301,
            fleet=FleetConfig(**fleet),
            time_scale=time_scale,
            fix_interval_s=0.5,
            sync_interval_s=1.0,
            video=video,
            live_s=(2.0, 2.0),
        ),
    )

    async def main() -> Tally:
        run = asyncio.create_task(simulation.run(duration=timeout))
        while not run.done():
            if until(simulation.tally):
                simulation.stop()
            await asyncio.sleep(0.2)
        return await run

    return asyncio.run(main())


def test_a_synthetic_call_is_dispatched_driven_to_worked_and_cleared_through_the_api(demo_agency):
    start = {u.call_sign: (u.lat, u.lon) for u in Unit.objects.all()}

    tally = simulate(
        demo_agency,
        units=3,
        until=lambda t: t.calls_closed,
        timeout=60,
        time_scale=20.0,
        calls_per_minute=2.0,
        triggers_per_minute=0,
        dwell_s=(30.0, 40.0),
    )

    assert tally.calls_closed, f"no call was worked to the end: {tally}"
    call = Call.objects.get(pk=tally.calls_closed[0])
    assert call.created_by.username == "sim-dispatcher"
    assert call.status == "Closed" and call.disposition is not None
    assignment = call.assignments.get()
    unit = assignment.unit
    officer = unit.officers.get(user__username__startswith="sim-").user.username
    assert assignment.dispatched_at < assignment.en_route_at < assignment.on_scene_at < assignment.cleared_at
    steps = [(e.actor_name, e.description) for e in call.timeline.filter(action="unit_status").order_by("id")]
    assert steps == [
        ("sim-dispatcher", f"{unit.call_sign} available → dispatched"),
        (officer, f"{unit.call_sign} dispatched → en route"),
        (officer, f"{unit.call_sign} en route → on scene"),
        (officer, f"{unit.call_sign} on scene → available"),
    ]
    assert call.timeline.filter(action="closed", actor_name="sim-dispatcher").exists()

    # The unit drove there: its fixes reached the server, and it stood at the call while on scene.
    unit.refresh_from_db()
    assert unit.position_at is not None and (unit.lat, unit.lon) != start[unit.call_sign]
    driving = PositionFix.objects.filter(unit=unit, at__range=(assignment.en_route_at, assignment.on_scene_at))
    assert driving.filter(speed_mps__gte=11, speed_mps__lte=15).exists()
    on_scene = PositionFix.objects.filter(
        unit=unit, at__range=(assignment.on_scene_at, assignment.cleared_at - timedelta(milliseconds=200))
    )
    assert on_scene.exists()
    assert all(distance_m(f.lat, f.lon, call.lat, call.lon) < 30 for f in on_scene)


def test_a_weapon_drawn_on_a_simulated_camera_raises_an_alert_and_its_cameras_go_live(demo_agency):
    tally = simulate(
        demo_agency,
        units=2,
        until=lambda t: len(t.streams_started) >= 2 and t.frames_sent,
        timeout=30,
        video=True,
        opening=True,
        calls_per_minute=0,
        triggers_per_minute=0,
    )

    assert [kind for _, kind in tally.triggers] == ["weapon_drawn"]
    alert = Alert.objects.get()
    assert alert.kind == "weapon_drawn" and alert.unit.call_sign == tally.triggers[0][0]
    body_camera = f"bc-{alert.unit.officers.order_by('badge').first().badge}"
    assert (body_camera, "start_stream") in tally.commands
    assert body_camera in tally.streams_started and tally.frames_sent > 0
    # The cameras told to record said so, and every live session was ended with a DELETE.
    assert DeviceEvent.objects.filter(device__name=body_camera, type="recording_started").exists()
    live_streams = apps.get_model("liveview", "LiveStream").objects
    assert live_streams.filter(device__name=body_camera).exists()
    assert not live_streams.filter(ended_at__isnull=True).exists()


def test_a_prone_officer_who_is_ok_answers_the_prompt_from_the_camera(demo_agency):
    tally = simulate(
        demo_agency,
        units=2,
        until=lambda t: any(kind == "officer_ok" for _, kind in t.triggers),
        timeout=30,
        calls_per_minute=0,
        triggers_per_minute=6,
        scenario_weights={"prone_ok": 1},
    )

    assert any(command == "prompt_ok" for _, command in tally.commands)
    window = ProneWindow.objects.get()
    assert window.outcome == "ok" and window.closed_by.startswith("device bc-")
    assert not Alert.objects.filter(kind="officer_down").exists()
