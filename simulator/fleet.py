"""The virtual fleet: units that patrol, answer calls and meet trouble, as a pure state machine.

Nothing here talks to a server or reads a clock. `Fleet.tick(dt)` advances
simulated time by dt seconds and returns what the fleet's devices and officers
do in that time (`Fix`, `StatusChange`, `DeviceEvent`, `NewCall`, `CallCleared`);
the runner turns those into requests and tells the fleet what the server
answered (`dispatch`, `release`, `prompted`). Every random choice comes from a
`random.Random` seeded from the run's seed and the unit's call sign, so the
same seed and the same inputs give the same actions, down to the event ids.

A unit's life: patrol -> dispatched (reaction time) -> en route (road speed,
along the streets) -> on scene (dwell) -> available, back on patrol.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from simulator.streets import Place, Point, StreetGrid, heading_deg

# Synthetic calls for service: (APCO code, priority, weight, narrative).
CALL_TYPES = [
    ("DISORD", 3, 6, "Caller reports a loud disturbance in front of the building."),
    ("PERSUSP", 3, 5, "Man looking into parked cars, grey hoodie, heading toward the garage."),
    ("VEHSUSP", 3, 3, "Car parked with its engine running for an hour, two occupants."),
    ("ALRBA", 3, 5, "Audible burglar alarm, rear door zone; keyholder notified."),
    ("MVA", 3, 4, "Two-car crash, no injuries reported, blocking the right lane."),
    ("THAZ", 3, 2, "Ladder lying in the roadway."),
    ("WELFARE", 3, 3, "Neighbour has not seen the resident for two days."),
    ("NOISE", 4, 3, "Loud music from an apartment, third floor."),
    ("SHOPLIFT", 3, 3, "Store security holding a shoplifter."),
    ("LARCENY", 3, 2, "Bicycle stolen from the rack overnight."),
    ("DVNA", 3, 2, "Verbal argument between partners, no weapons seen."),
    ("FIGHT", 2, 2, "Several people fighting in the parking lot."),
    ("911H", 3, 2, "911 hang-up; callback went to voicemail."),
    ("TRESPASS", 3, 2, "Person refusing to leave the lobby."),
    ("VEHASST", 4, 2, "Motorist with a flat tyre asking for help."),
    ("RECKDRV", 2, 2, "Pickup weaving across lanes, headed east."),
]
DISPOSITIONS = [("RPT", 5), ("ADV", 6), ("WARN", 3), ("CIT", 2), ("ARR", 1), ("GOA", 2), ("UNF", 2), ("RESV", 4)]

# Trigger scenarios and their default weights.
SCENARIOS = ("weapon_drawn", "foot_pursuit", "prone_ok", "prone_down", "gunshot")
DEFAULT_SCENARIO_WEIGHTS = {"weapon_drawn": 3, "foot_pursuit": 3, "prone_ok": 3, "prone_down": 1, "gunshot": 1}

# The scripted opening of a `make run`: a call at 5 s, a weapon drawn at 22 s.
OPENING_CALL_AT = 5.0
OPENING_TRIGGER_AT = 22.0


class Phase(StrEnum):
    PATROL = "patrol"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"


@dataclass(frozen=True)
class FleetConfig:
    """How the fleet behaves; times in simulated seconds, speeds in m/s, rates per simulated minute."""

    patrol_speed: tuple[float, float] = (6.0, 9.0)
    response_speed: tuple[float, float] = (11.0, 15.0)
    reaction_s: tuple[float, float] = (2.0, 6.0)
    dwell_s: tuple[float, float] = (30.0, 90.0)
    patrol_pause_s: tuple[float, float] = (0.0, 20.0)
    calls_per_minute: float = 60 / 45
    triggers_per_minute: float = 0.4
    scenario_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SCENARIO_WEIGHTS))
    hold_s: tuple[float, float] = (60.0, 120.0)
    answer_s: tuple[float, float] = (3.0, 7.0)
    opening: bool = False
    accuracy_m: tuple[float, float] = (3.0, 8.0)


# What the fleet does -------------------------------------------------------------


@dataclass(frozen=True)
class Fix:
    """A location event from the unit's position device."""

    t: float
    unit: str
    event: dict


@dataclass(frozen=True)
class DeviceEvent:
    """A trigger or answer from the unit's body camera (weapon_drawn, prone, officer_ok ...)."""

    t: float
    unit: str
    event: dict


@dataclass(frozen=True)
class StatusChange:
    """The unit's officer taps a status on the MDT."""

    t: float
    unit: str
    status: str
    call: int | None


@dataclass(frozen=True)
class NewCall:
    """A synthetic call for service comes in."""

    t: float
    key: str
    place: Place
    incident_type: str
    priority: int
    narrative: str
    caller_name: str
    caller_phone: str


@dataclass(frozen=True)
class CallCleared:
    """The unit finished its call; the dispatcher closes it with this disposition."""

    t: float
    unit: str
    call: int
    disposition: str


Action = Fix | DeviceEvent | StatusChange | NewCall | CallCleared


# Units ----------------------------------------------------------------------


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class VirtualUnit:
    key: str
    rng: random.Random
    position: Point
    phase: Phase = Phase.PATROL
    heading: float = 0.0
    speed: float = 0.0
    route: list[Point] = field(default_factory=list)
    wait_s: float = 0.0  # standing still: a pause on patrol, reaction time, or dwell on scene
    call: int | None = None
    call_point: Point | None = None
    hold_s: float = 0.0  # stopped by an incident (weapon drawn, pursuit, officer down)
    awaiting_answer: str | None = None  # "ok" or "down" after a prone report
    answer_in_s: float | None = None

    @property
    def available_for_trouble(self) -> bool:
        return self.phase in (Phase.PATROL, Phase.ON_SCENE) and self.hold_s <= 0 and self.awaiting_answer is None


class Fleet:
    """Every virtual unit of a run, the call generator and the trigger generator."""

    def __init__(
        self, grid: StreetGrid, units: list[tuple[str, float, float]], *, seed: int, config: FleetConfig | None = None
    ):
        self.grid = grid
        self.config = config or FleetConfig()
        self.seed = seed
        self.t = 0.0
        self.units: dict[str, VirtualUnit] = {}
        for key, lat, lon in units:
            rng = random.Random(f"{seed}/unit/{key}")
            start = grid.on_street(grid.from_latlon(lat, lon))
            self.units[key] = VirtualUnit(key=key, rng=rng, position=start, wait_s=rng.uniform(0, 3))
        self.calls_rng = random.Random(f"{seed}/calls")
        self.triggers_rng = random.Random(f"{seed}/triggers")
        self.calls_made = 0
        self.next_call_at = self._interval(self.calls_rng, self.config.calls_per_minute)
        self.next_trigger_at = self._interval(self.triggers_rng, self.config.triggers_per_minute)
        self.opening_steps = ["call", "trigger"] if self.config.opening else []
        if self.config.opening:
            # The opening's call and trigger come first; the random ones follow them.
            self.next_call_at = max(self.next_call_at, OPENING_CALL_AT + 40.0)
            self.next_trigger_at = max(self.next_trigger_at, OPENING_TRIGGER_AT + 60.0)

    @staticmethod
    def _interval(rng: random.Random, per_minute: float) -> float:
        """Seconds to the next event of a Poisson process at this rate (never, at rate 0)."""
        return rng.expovariate(per_minute / 60.0) if per_minute > 0 else math.inf

    # Inputs: what the server said --------------------------------------------

    def dispatch(
        self, key: str, call: int, lat: float | None, lon: float | None, phase: str = Phase.DISPATCHED
    ) -> None:
        """The unit was assigned to a call at (lat, lon): it reacts, then drives there.

        `phase` picks the story up where the server has it (a unit found en route
        or on scene when the simulator starts). A call without coordinates gets a
        place nearby: the simulated officer knows where the caller is.
        """
        unit = self.units[key]
        unit.call = call
        if lat is None or lon is None:
            unit.call_point = self.grid.random_place(unit.rng, near=unit.position, within_blocks=4).point
        else:
            unit.call_point = self.grid.from_latlon(lat, lon)
        unit.route = []
        unit.speed = 0.0
        unit.hold_s = 0.0
        if phase == Phase.EN_ROUTE:
            unit.phase = Phase.EN_ROUTE
            unit.wait_s = 0.0
            unit.route = self.grid.route(unit.position, unit.call_point, unit.rng)
            unit.speed = unit.rng.uniform(*self.config.response_speed)
        elif phase == Phase.ON_SCENE:
            unit.phase = Phase.ON_SCENE
            unit.position = unit.call_point
            unit.wait_s = unit.rng.uniform(*self.config.dwell_s)
        else:
            unit.phase = Phase.DISPATCHED
            unit.wait_s = unit.rng.uniform(*self.config.reaction_s)

    def release(self, key: str) -> None:
        """The unit is no longer on a call (cleared by the dispatcher): back to patrol."""
        unit = self.units[key]
        unit.phase = Phase.PATROL
        unit.call = unit.call_point = None
        unit.route = []
        unit.wait_s = unit.rng.uniform(*self.config.patrol_pause_s)

    def prompted(self, key: str) -> None:
        """The camera was asked "are you OK?"; an officer who is OK answers in a few seconds."""
        unit = self.units[key]
        if unit.awaiting_answer == "ok":
            unit.answer_in_s = min(unit.answer_in_s or math.inf, unit.rng.uniform(*self.config.answer_s))

    # Time ----------------------------------------------------------------------

    def tick(self, dt: float) -> list[Action]:
        """Advance dt simulated seconds; return what happened, in order."""
        self.t += dt
        actions: list[Action] = []
        if self.opening_steps:
            self._opening(actions)
        while self.t >= self.next_call_at:
            actions.append(self._new_call(self.calls_rng, near=None))
            self.next_call_at += self._interval(self.calls_rng, self.config.calls_per_minute)
        while self.t >= self.next_trigger_at:
            self._random_trouble(actions)
            self.next_trigger_at += self._interval(self.triggers_rng, self.config.triggers_per_minute)
        for unit in self.units.values():
            self._step(unit, dt, actions)
        return actions

    def _opening(self, actions: list[Action]) -> None:
        step = self.opening_steps[0]
        if step == "call" and self.t >= OPENING_CALL_AT:
            # A call a few blocks from the first patrolling unit, so it is worked within the first minute.
            unit = next((u for u in self.units.values() if u.phase == Phase.PATROL), None)
            if unit is not None:
                actions.append(self._new_call(self.calls_rng, near=unit.position, within_blocks=2))
            self.opening_steps.pop(0)
        elif step == "trigger" and self.t >= OPENING_TRIGGER_AT:
            candidates = [u for u in self.units.values() if u.phase == Phase.PATROL and u.available_for_trouble]
            if candidates:
                self._trouble(candidates[-1], "weapon_drawn", actions)
            self.opening_steps.pop(0)

    def _new_call(self, rng: random.Random, near: Point | None, within_blocks: int | None = None) -> NewCall:
        code, priority, _, narrative = rng.choices(CALL_TYPES, weights=[c[2] for c in CALL_TYPES])[0]
        place = self.grid.random_place(rng, near=near, within_blocks=within_blocks)
        self.calls_made += 1
        first = rng.choice(["Alex", "Jordan", "Sam", "Taylor", "Chris", "Pat", "Morgan", "Jamie", "Robin", "Casey"])
        last = rng.choice(["Miller", "Brown", "Garcia", "Lee", "Wilson", "Moore", "Clark", "Lewis", "Young", "Hall"])
        return NewCall(
            t=self.t,
            key=f"sim-call-{self.calls_made}",
            place=place,
            incident_type=code,
            priority=priority,
            narrative=f"{narrative} (simulated)",
            caller_name=f"{first} {last}",
            caller_phone=f"314-555-{rng.randint(0, 9999):04d}",
        )

    def _random_trouble(self, actions: list[Action]) -> None:
        rng = self.triggers_rng
        candidates = [u for u in self.units.values() if u.available_for_trouble]
        if not candidates:
            return
        # Trouble finds officers on scene more often than officers on patrol.
        weights = [4.0 if u.phase == Phase.ON_SCENE else 1.0 for u in candidates]
        unit = rng.choices(candidates, weights=weights)[0]
        scenarios = [s for s in SCENARIOS if self.config.scenario_weights.get(s, 0) > 0]
        if not scenarios:
            return
        scenario = rng.choices(scenarios, weights=[self.config.scenario_weights[s] for s in scenarios])[0]
        self._trouble(unit, scenario, actions)

    def _trouble(self, unit: VirtualUnit, scenario: str, actions: list[Action]) -> None:
        kind = "prone" if scenario.startswith("prone") else scenario
        data = {"simulated": True}
        if kind == "weapon_drawn":
            data["holster"] = unit.rng.choice(["right", "left"])
        elif kind == "gunshot":
            data["shots"] = unit.rng.randint(1, 4)
        actions.append(DeviceEvent(self.t, unit.key, self._event(unit, kind, data)))
        unit.speed = 0.0
        unit.hold_s = unit.rng.uniform(*self.config.hold_s)
        if kind == "prone":
            unit.awaiting_answer = "ok" if scenario == "prone_ok" else "down"
            # Answer even if the prompt is lost, well inside the usual 15 s window.
            unit.answer_in_s = 10.0 if scenario == "prone_ok" else None

    def _event(self, unit: VirtualUnit, kind: str, data: dict | None = None) -> dict:
        lat, lon = self.grid.to_latlon(unit.position)
        event = {
            "id": _uuid(unit.rng),
            "type": kind,
            "lat": round(lat, 7),
            "lon": round(lon, 7),
        }
        if kind == "location":
            event["speed_mps"] = round(unit.speed, 2)
            event["heading_deg"] = round(unit.heading, 1)
            event["accuracy_m"] = round(unit.rng.uniform(*self.config.accuracy_m), 1)
        if data:
            event["data"] = data
        return event

    def _step(self, unit: VirtualUnit, dt: float, actions: list[Action]) -> None:
        if unit.awaiting_answer is not None:
            if unit.answer_in_s is not None:
                unit.answer_in_s -= dt
                if unit.answer_in_s <= 0:
                    actions.append(DeviceEvent(self.t, unit.key, self._event(unit, "officer_ok")))
                    unit.awaiting_answer, unit.answer_in_s = None, None
            elif unit.hold_s <= dt:
                unit.awaiting_answer = None  # officer down: help arrived and the incident is over
        if unit.hold_s > 0:
            unit.hold_s -= dt
            unit.speed = 0.0
        elif unit.wait_s > 0:
            unit.wait_s -= dt
            unit.speed = 0.0
            if unit.wait_s <= 0:
                self._wait_over(unit, actions)
        else:
            self._drive(unit, dt, actions)
        actions.append(Fix(self.t, unit.key, self._event(unit, "location")))

    def _wait_over(self, unit: VirtualUnit, actions: list[Action]) -> None:
        if unit.phase == Phase.DISPATCHED:
            unit.phase = Phase.EN_ROUTE
            unit.route = self.grid.route(unit.position, unit.call_point, unit.rng)
            unit.speed = unit.rng.uniform(*self.config.response_speed)
            actions.append(StatusChange(self.t, unit.key, "en_route", unit.call))
        elif unit.phase == Phase.ON_SCENE:
            disposition = unit.rng.choices([d for d, _ in DISPOSITIONS], weights=[w for _, w in DISPOSITIONS])[0]
            actions.append(StatusChange(self.t, unit.key, "available", unit.call))
            actions.append(CallCleared(self.t, unit.key, unit.call, disposition))
            self.release(unit.key)
        # On patrol the next leg starts at the next step.

    def _drive(self, unit: VirtualUnit, dt: float, actions: list[Action]) -> None:
        if not unit.route:
            if unit.phase == Phase.EN_ROUTE:
                unit.phase = Phase.ON_SCENE
                unit.speed = 0.0
                unit.wait_s = unit.rng.uniform(*self.config.dwell_s)
                actions.append(StatusChange(self.t, unit.key, "on_scene", unit.call))
                return
            if unit.phase == Phase.PATROL:
                goal = self.grid.random_place(unit.rng, near=unit.position, within_blocks=6).point
                unit.route = self.grid.route(unit.position, goal, unit.rng)
                unit.speed = unit.rng.uniform(*self.config.patrol_speed)
            else:
                return
        remaining = unit.speed * dt
        while remaining > 0 and unit.route:
            target = unit.route[0]
            gap = unit.position.distance_to(target)
            if gap > 0.01:
                unit.heading = heading_deg(unit.position, target)
            if gap <= remaining:
                unit.position = target
                unit.route.pop(0)
                remaining -= gap
            else:
                f = remaining / gap
                unit.position = Point(
                    unit.position.x + (target.x - unit.position.x) * f,
                    unit.position.y + (target.y - unit.position.y) * f,
                )
                remaining = 0
        if not unit.route and unit.phase == Phase.PATROL:
            unit.wait_s = unit.rng.uniform(*self.config.patrol_pause_s)
