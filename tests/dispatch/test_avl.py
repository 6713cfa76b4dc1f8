"""AVL: fixes are buffered, written in one batch, published once, and rank units for a call."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from dispatch import avl
from dispatch.models import PositionFix, UnitStatus


@pytest.fixture
def published(monkeypatch):
    batches = []
    monkeypatch.setattr("events.hub.publish_positions", batches.append)
    avl._take_buffer()  # nothing left over from another test
    return batches


def test_recording_a_position_only_buffers_it(make_unit, published, django_assert_num_queries):
    unit = make_unit("2A33")
    with django_assert_num_queries(0):
        avl.record_position(unit.pk, 38.6, -90.2, timezone.now())
    assert not PositionFix.objects.exists()


def test_a_flush_keeps_every_fix_and_moves_each_unit_to_its_newest(make_unit, published):
    first, second = make_unit("2A33"), make_unit("2A34")
    t0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    avl.record_position(first.pk, 38.60, -90.20, t0, speed_mps=12.5, heading_deg=90)
    avl.record_position(first.pk, 38.61, -90.21, t0 + timedelta(seconds=1), speed_mps=13.0, heading_deg=92)
    avl.record_position(second.pk, 38.70, -90.30, t0, accuracy_m=5)

    batch = avl.flush_positions()

    assert PositionFix.objects.count() == 3
    first.refresh_from_db()
    assert (first.lat, first.lon, first.position_at, first.speed_mps) == (
        38.61,
        -90.21,
        t0 + timedelta(seconds=1),
        13.0,
    )
    assert published == [batch]
    assert sorted(batch, key=lambda p: p["unit"]) == [
        {
            "unit": first.pk,
            "lat": 38.61,
            "lon": -90.21,
            "at": "2026-05-01T12:00:01Z",
            "speed_mps": 13.0,
            "heading_deg": 92,
        },
        {
            "unit": second.pk,
            "lat": 38.70,
            "lon": -90.30,
            "at": "2026-05-01T12:00:00Z",
            "speed_mps": None,
            "heading_deg": None,
        },
    ]


def test_a_late_old_fix_joins_the_history_but_does_not_move_the_unit_back(make_unit, published):
    unit = make_unit("2A33")
    t0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    avl.record_position(unit.pk, 38.61, -90.21, t0)
    avl.flush_positions()
    avl.record_position(unit.pk, 38.50, -90.10, t0 - timedelta(seconds=30))

    batch = avl.flush_positions()

    unit.refresh_from_db()
    assert (unit.lat, unit.position_at) == (38.61, t0)
    assert PositionFix.objects.filter(unit=unit).count() == 2
    assert batch == []
    assert len(published) == 1


def test_an_empty_buffer_writes_and_publishes_nothing(db, published):
    assert avl.flush_positions() == []
    assert published == []


def test_a_fix_for_a_unit_that_no_longer_exists_is_dropped(make_unit, published):
    unit = make_unit("2A33")
    avl.record_position(unit.pk, 38.6, -90.2, timezone.now())
    avl.record_position(999_999, 38.6, -90.2, timezone.now())
    avl.flush_positions()
    assert PositionFix.objects.count() == 1


def test_haversine_distance_matches_a_known_distance():
    # Gateway Arch to Busch Stadium is about 1 km.
    assert avl.distance_m(38.6247, -90.1848, 38.6226, -90.1928) == pytest.approx(735, abs=15)
    assert avl.distance_m(0, 0, 0, 1) == pytest.approx(111_195, rel=1e-3)


def test_the_nearest_available_units_come_first_with_their_distance_and_fix_age(make_unit):
    near = make_unit("NEAR", lat=38.628, lon=-90.199)
    far = make_unit("FAR", lat=38.700, lon=-90.300)
    make_unit("BUSY", status=UnitStatus.BUSY, lat=38.6271, lon=-90.1995)
    make_unit("NOFIX")

    ranked = avl.nearest_available_units(lat=38.627, lon=-90.1994, limit=5)

    assert [r.unit for r in ranked] == [near, far]
    assert ranked[0].distance_m < 200 < ranked[1].distance_m
    assert 0 <= ranked[0].fix_age_s < 60


def test_the_flusher_writes_buffered_positions_each_interval_until_stopped(monkeypatch):
    flushes = []
    monkeypatch.setattr(avl, "flush_positions", lambda: flushes.append(1) or [])

    async def run_briefly():
        task = asyncio.create_task(avl.run_position_flusher(interval=0.01))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_briefly())
    assert len(flushes) >= 3
