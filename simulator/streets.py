"""A street grid around the agency's centre, and routes along it; no map data needed.

Points are metres east (x) and north (y) of the centre. Streets run every
`block_m` along both axes, as in a gridded American downtown; a unit on a
street moves only along streets. Everything here is a pure function of its
arguments and of the `random.Random` it is handed, so a seeded run repeats.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

METRES_PER_DEGREE_LAT = 111_320.0

# Street names for the grid, nearest the centre first; further out streets get numbers.
NORTH_SOUTH_STREETS = [
    "Central Ave",
    "Meramec Ave",
    "Bemiston Ave",
    "Brentwood Blvd",
    "Hanley Rd",
    "Hillside Dr",
    "Carondelet Ave",
    "Gay Ave",
    "Westmoreland Ave",
    "Big Bend Blvd",
    "Skinker Blvd",
    "McKnight Rd",
    "Lindbergh Blvd",
]
EAST_WEST_STREETS = [
    "Forsyth Blvd",
    "Maryland Ave",
    "Bonhomme Ave",
    "Pershing Ave",
    "Walsh Ave",
    "Clayton Rd",
    "Davis Dr",
    "Wydown Blvd",
    "Delmar Blvd",
    "Kingsbury Ave",
    "Southwest Ave",
    "Shaw Park Dr",
    "Ladue Rd",
]


@dataclass(frozen=True)
class Point:
    x: float
    y: float

    def distance_to(self, other: Point) -> float:
        return math.hypot(other.x - self.x, other.y - self.y)


@dataclass(frozen=True)
class Place:
    """Where a call for service is: a point on a street and its street address."""

    point: Point
    address: str


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _street_name(names: list[str], index: int, axis: str) -> str:
    # Index 0, -1, 1, -2, 2 ... take the names in order; the rest are numbered.
    rank = 2 * index if index >= 0 else -2 * index - 1
    if rank < len(names):
        return names[rank]
    return f"{_ordinal(rank - len(names) + 1)} {axis}"


@dataclass(frozen=True)
class StreetGrid:
    """Streets every block_m metres, half_blocks blocks either side of the centre."""

    centre_lat: float
    centre_lon: float
    block_m: float = 180.0
    half_blocks: int = 12

    @property
    def extent_m(self) -> float:
        return self.block_m * self.half_blocks

    def to_latlon(self, point: Point) -> tuple[float, float]:
        lat = self.centre_lat + point.y / METRES_PER_DEGREE_LAT
        lon = self.centre_lon + point.x / (METRES_PER_DEGREE_LAT * math.cos(math.radians(self.centre_lat)))
        return lat, lon

    def from_latlon(self, lat: float, lon: float) -> Point:
        y = (lat - self.centre_lat) * METRES_PER_DEGREE_LAT
        x = (lon - self.centre_lon) * METRES_PER_DEGREE_LAT * math.cos(math.radians(self.centre_lat))
        return Point(x, y)

    def clamp_index(self, index: int) -> int:
        return max(-self.half_blocks, min(self.half_blocks, index))

    def node(self, i: int, j: int) -> Point:
        return Point(self.clamp_index(i) * self.block_m, self.clamp_index(j) * self.block_m)

    def nearest_node(self, point: Point) -> tuple[int, int]:
        return self.clamp_index(round(point.x / self.block_m)), self.clamp_index(round(point.y / self.block_m))

    def on_street(self, point: Point) -> Point:
        """The nearest point on a street (a unit that starts in a parking lot pulls out onto the road)."""
        i, j = self.nearest_node(point)
        node = self.node(i, j)
        limit = self.extent_m
        x = max(-limit, min(limit, point.x))
        y = max(-limit, min(limit, point.y))
        if abs(point.y - node.y) <= abs(point.x - node.x):
            return Point(x, node.y)
        return Point(node.x, y)

    def _entries(self, point: Point) -> list[tuple[int, int]]:
        """The intersections at either end of the block the point is on."""
        b = self.block_m
        fi, fj = point.x / b, point.y / b
        on_ew = abs(fj - round(fj)) < 1e-6
        on_ns = abs(fi - round(fi)) < 1e-6
        if on_ew and on_ns:
            return [(round(fi), round(fj))]
        if on_ew:
            return [(self.clamp_index(math.floor(fi)), round(fj)), (self.clamp_index(math.ceil(fi)), round(fj))]
        if on_ns:
            return [(round(fi), self.clamp_index(math.floor(fj))), (round(fi), self.clamp_index(math.ceil(fj)))]
        return [self.nearest_node(point)]

    def route(self, start: Point, goal: Point, rng: random.Random) -> list[Point]:
        """Waypoints from start to goal along the streets, ending at goal; a Z-shaped path with a random jog."""
        start_entries, goal_entries = self._entries(start), self._entries(goal)
        if set(start_entries) == set(goal_entries) and len(start_entries) == 2:
            return [goal]  # the same block
        best = None
        for si in start_entries:
            for gi in goal_entries:
                cost = (
                    start.distance_to(self.node(*si))
                    + abs(si[0] - gi[0]) * self.block_m
                    + abs(si[1] - gi[1]) * self.block_m
                    + self.node(*gi).distance_to(goal)
                )
                if best is None or cost < best[0]:
                    best = (cost, si, gi)
        _, (i0, j0), (i1, j1) = best
        if rng.random() < 0.5:
            k = rng.randint(min(i0, i1), max(i0, i1))
            corners = [(k, j0), (k, j1)]
        else:
            k = rng.randint(min(j0, j1), max(j0, j1))
            corners = [(i0, k), (i1, k)]
        path = [self.node(i0, j0), *(self.node(*c) for c in corners), self.node(i1, j1), goal]
        waypoints: list[Point] = []
        for point in path:
            if point.distance_to(waypoints[-1] if waypoints else start) > 0.01:
                waypoints.append(point)
        return waypoints or [goal]

    def random_place(self, rng: random.Random, near: Point | None = None, within_blocks: int | None = None) -> Place:
        """A mid-block point on a random street, with its address; near a point when asked."""
        lo, hi = -self.half_blocks, self.half_blocks
        if near is not None and within_blocks is not None:
            ci, cj = self.nearest_node(near)
            i = self.clamp_index(ci + rng.randint(-within_blocks, within_blocks))
            j = self.clamp_index(cj + rng.randint(-within_blocks, within_blocks))
        else:
            i, j = rng.randint(lo, hi), rng.randint(lo, hi)
        fraction = rng.uniform(0.2, 0.8)
        if rng.random() < 0.5:
            i = min(i, hi - 1)
            point = Point((i + fraction) * self.block_m, j * self.block_m)
        else:
            j = min(j, hi - 1)
            point = Point(i * self.block_m, (j + fraction) * self.block_m)
        return Place(point, self.address(point))

    def address(self, point: Point) -> str:
        """A street address for a point on a street: '7450 Forsyth Blvd', or the corner of two streets."""
        b = self.block_m
        fi, fj = point.x / b, point.y / b
        on_ew = abs(fj - round(fj)) < 1e-6
        on_ns = abs(fi - round(fi)) < 1e-6
        ns = _street_name(NORTH_SOUTH_STREETS, round(fi), "St")
        ew = _street_name(EAST_WEST_STREETS, round(fj), "Ave")
        if on_ew and on_ns:
            return f"{ns} & {ew}"
        if on_ew:
            return f"{7000 + round((fi + self.half_blocks) * 100) // 2 * 2} {ew}"
        return f"{100 + round((fj + self.half_blocks) * 100) // 2 * 2 + 1} {ns}"


def heading_deg(a: Point, b: Point) -> float:
    """Compass heading from a to b: 0 north, 90 east."""
    return (math.degrees(math.atan2(b.x - a.x, b.y - a.y)) + 360.0) % 360.0


def route_length(start: Point, waypoints: list[Point]) -> float:
    total, here = 0.0, start
    for point in waypoints:
        total += here.distance_to(point)
        here = point
    return total
