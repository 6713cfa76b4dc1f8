"""The fleet model without a server: repeatable from a seed, units keep to the streets and work calls in order."""

import math
import random

from simulator.fleet import CallCleared, DeviceEvent, Fix, Fleet, FleetConfig, NewCall, Phase, StatusChange
from simulator.streets import Point, StreetGrid

CLAYTON = (38.6426, -90.3237)
GRID = StreetGrid(*CLAYTON)
UNITS = [
    (f"Car {10 + n}", CLAYTON[0] + ((n % 3) - 1) * 0.006 + n * 0.0007, CLAYTON[1] + ((n % 4) - 1.5) * 0.008)
    for n in range(1, 9)
]


def run(seed: int, seconds: int = 900, **config) -> list:
    """Tick a fleet a second at a time, dispatching every call to the nearest patrolling unit, as a server would."""
    fleet = Fleet(GRID, UNITS, seed=seed, config=FleetConfig(triggers_per_minute=2.0, **config))
    actions, next_call_id = [], 1
    for _ in range(seconds):
        for action in fleet.tick(1.0):
            actions.append(action)
            if isinstance(action, NewCall):
                free = [u for u in fleet.units.values() if u.phase == Phase.PATROL and u.available_for_trouble]
                if free:
                    unit = min(free, key=lambda u: u.position.distance_to(action.place.point))
                    fleet.dispatch(unit.key, next_call_id, *GRID.to_latlon(action.place.point))
                    next_call_id += 1
            elif isinstance(action, DeviceEvent) and action.event["type"] == "prone":
                fleet.prompted(action.unit)  # the server asks "are you OK?"
    return actions


def on_a_street(point: Point) -> bool:
    def on_line(value: float) -> bool:  # within the 1 cm that seven decimals of a degree leave
        return abs(value - round(value / GRID.block_m) * GRID.block_m) < 0.02

    return on_line(point.x) or on_line(point.y)


def test_the_same_seed_gives_the_same_actions_down_to_event_ids():
    first, second = run(seed=42), run(seed=42)

    assert first == second
    kinds = {type(action) for action in first}
    assert {Fix, StatusChange, NewCall, CallCleared, DeviceEvent} <= kinds


def test_another_seed_gives_another_run():
    first, other = run(seed=42, seconds=120), run(seed=43, seconds=120)

    assert first != other
    assert [a.event["id"] for a in first if isinstance(a, Fix)][:8] != [
        a.event["id"] for a in other if isinstance(a, Fix)
    ][:8]


def test_every_unit_sends_one_fix_a_second_with_the_contracts_fields():
    fleet = Fleet(GRID, UNITS, seed=1, config=FleetConfig(calls_per_minute=0, triggers_per_minute=0))

    fixes = [a for a in fleet.tick(1.0) if isinstance(a, Fix)]

    assert sorted(f.unit for f in fixes) == sorted(key for key, _, _ in UNITS)
    for fix in fixes:
        assert set(fix.event) == {"id", "type", "lat", "lon", "speed_mps", "heading_deg", "accuracy_m"}
        assert fix.event["type"] == "location"
        assert 0 <= fix.event["heading_deg"] <= 360


def test_patrolling_units_keep_to_the_streets_at_patrol_speed():
    fleet = Fleet(GRID, UNITS, seed=5, config=FleetConfig(calls_per_minute=0, triggers_per_minute=0))
    speeds = set()
    for _ in range(600):
        for fix in (a for a in fleet.tick(1.0) if isinstance(a, Fix)):
            assert on_a_street(GRID.from_latlon(fix.event["lat"], fix.event["lon"]))
            if fix.event["speed_mps"] > 0:
                speeds.add(fix.event["speed_mps"])

    assert speeds and min(speeds) >= 6 and max(speeds) <= 9


def test_a_dispatched_unit_reacts_drives_at_road_speed_works_the_call_and_clears():
    fleet = Fleet(GRID, UNITS, seed=9, config=FleetConfig(calls_per_minute=0, triggers_per_minute=0))
    place = GRID.random_place(random.Random(3))
    fleet.dispatch("Car 13", 77, *GRID.to_latlon(place.point))

    steps, en_route_speeds, last_fix = [], [], None
    for _ in range(1200):
        for action in fleet.tick(1.0):
            if isinstance(action, StatusChange | CallCleared) and action.unit == "Car 13":
                steps.append(action)
            if isinstance(action, Fix) and action.unit == "Car 13":
                last_fix = action
                if fleet.units["Car 13"].phase == Phase.EN_ROUTE and action.event["speed_mps"]:
                    en_route_speeds.append(action.event["speed_mps"])
                if fleet.units["Car 13"].phase == Phase.ON_SCENE:
                    arrived = GRID.from_latlon(action.event["lat"], action.event["lon"])
                    assert arrived.distance_to(place.point) < 1.0
        if steps and isinstance(steps[-1], CallCleared):
            break

    assert [s.status for s in steps if isinstance(s, StatusChange)] == ["en_route", "on_scene", "available"]
    assert all(s.call == 77 for s in steps)
    assert isinstance(steps[-1], CallCleared) and steps[-1].disposition
    assert en_route_speeds and all(11 <= s <= 15 for s in en_route_speeds)
    en_route, arrived, cleared = (s.t for s in steps[:3])
    assert 2 <= en_route <= 7  # reaction time, in whole ticks
    assert 30 <= cleared - arrived <= 91  # dwell on scene
    assert fleet.units["Car 13"].phase == Phase.PATROL and last_fix is not None


def test_an_officer_who_is_ok_answers_the_prompt_and_one_who_is_down_does_not():
    config = FleetConfig(calls_per_minute=0, triggers_per_minute=30, scenario_weights={"prone_ok": 1, "prone_down": 1})
    fleet = Fleet(GRID, UNITS, seed=11, config=config)
    reports = []  # (unit, t, "prone" + outcome the officer is in, or "officer_ok")
    for _ in range(300):
        for action in fleet.tick(1.0):
            if isinstance(action, DeviceEvent) and action.event["type"] == "prone":
                reports.append((action.unit, action.t, f"prone_{fleet.units[action.unit].awaiting_answer}"))
                fleet.prompted(action.unit)
            elif isinstance(action, DeviceEvent) and action.event["type"] == "officer_ok":
                reports.append((action.unit, action.t, "officer_ok"))

    outcomes = {kind for _, _, kind in reports}
    assert {"prone_ok", "prone_down", "officer_ok"} <= outcomes
    for index, (unit, t, kind) in enumerate(reports):
        following = next(((t2, k2) for u2, t2, k2 in reports[index + 1 :] if u2 == unit), None)
        if kind == "prone_ok":
            assert following is not None and following[1] == "officer_ok"
            assert 3 <= following[0] - t <= 8  # well inside the 15 s window
        elif kind == "prone_down":
            assert following is None or following[1] != "officer_ok"


def test_the_opening_brings_a_call_at_five_seconds_and_a_weapon_drawn_at_twenty_two():
    fleet = Fleet(GRID, UNITS, seed=3, config=FleetConfig(opening=True))
    seen = []
    for _ in range(30):
        seen += [a for a in fleet.tick(1.0) if isinstance(a, NewCall | DeviceEvent)]

    assert [(type(a).__name__, a.t) for a in seen] == [("NewCall", 5.0), ("DeviceEvent", 22.0)]
    assert seen[1].event["type"] == "weapon_drawn"


def test_a_route_follows_the_streets_to_its_goal():
    rng = random.Random(1)
    for _ in range(200):
        start, goal = GRID.random_place(rng).point, GRID.random_place(rng).point
        route = GRID.route(start, goal, rng)
        assert route[-1] == goal
        here = start
        for point in route:
            assert math.isclose(here.x, point.x, abs_tol=1e-6) or math.isclose(here.y, point.y, abs_tol=1e-6)
            here = point


def test_calls_get_street_addresses():
    rng = random.Random(2)
    addresses = {GRID.random_place(rng).address for _ in range(50)}

    assert len(addresses) > 40
    assert GRID.address(Point(90.0, 0.0)) == "8250 Forsyth Blvd"
    assert GRID.address(Point(0.0, 0.0)) == "Central Ave & Forsyth Blvd"
