"""POST /api/v1/device/events: the contract's answers for good, duplicate, bad and oversized input."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.models import DeviceEvent
from dispatch.avl import flush_positions
from dispatch.models import PositionFix, Unit
from tests.alerts.conftest import event, post_events

pytestmark = pytest.mark.django_db


def test_a_retried_event_id_is_stored_once(camera):
    _, device, token = camera
    weapon = event("weapon_drawn", lat=38.627, lon=-90.199)
    first = post_events(weapon, token)
    again = post_events([weapon], token)
    assert first.status_code == again.status_code == 200
    assert first.json()["accepted"] == [weapon["id"]]
    assert again.json()["accepted"] == []
    assert again.json()["duplicates"] == [weapon["id"]]
    assert DeviceEvent.objects.filter(device=device, event_id=weapon["id"]).count() == 1
    assert device.alerts.count() == 1


def test_the_same_id_twice_in_one_batch_is_stored_once(camera):
    _, device, token = camera
    battery = event("battery", data={"percent": 40})
    answer = post_events([battery, battery], token).json()
    assert answer["accepted"] == [battery["id"]]
    assert answer["duplicates"] == [battery["id"]]
    assert DeviceEvent.objects.filter(device=device).count() == 1


def test_a_mixed_batch_stores_the_good_events_and_names_each_bad_one_by_index(camera):
    _, device, token = camera
    future = datetime.now(UTC) + timedelta(hours=2)
    good = [event("battery", data={"percent": 50}), event("recording_started")]
    batch = [
        good[0],
        event("battery", lat=123.0, lon=-90.0),
        {"id": "not-a-uuid", "type": "battery", "at": "2026-03-01T14:05:09Z"},
        good[1],
        event("teleport"),
        event("battery", at=future),
        {"id": str(uuid.uuid4()), "type": "battery", "at": "2026-03-01T14:05:09"},
        "not an object",
        event("location", lat="38.6", lon=-90.2),
    ]
    response = post_events(batch, token)
    assert response.status_code == 200
    answer = response.json()
    assert answer["accepted"] == [good[0]["id"], good[1]["id"]]
    reasons = {r["index"]: r["reason"] for r in answer["rejected"]}
    assert sorted(reasons) == [1, 2, 4, 5, 6, 7, 8]
    assert "lat must be between -90 and 90" in reasons[1]
    assert "UUID" in reasons[2]
    assert "teleport" in reasons[4]
    assert "clock is ahead" in reasons[5]
    assert "offset" in reasons[6]
    assert "object" in reasons[7]
    assert "lat must be a number" in reasons[8]
    assert answer["rejected"][1]["id"] == "not-a-uuid"
    assert set(DeviceEvent.objects.filter(device=device).values_list("type", flat=True)) == {
        "battery",
        "recording_started",
    }


def test_a_batch_where_every_event_is_rejected_is_a_400_and_stores_nothing(camera):
    _, device, token = camera
    response = post_events([event("battery", lon=500, lat=0), event("nonsense")], token)
    assert response.status_code == 400
    assert [r["index"] for r in response.json()["rejected"]] == [0, 1]
    assert not DeviceEvent.objects.filter(device=device).exists()


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"42", "one event object or a list"),
        (b"[]", "empty"),
        (b'{"lat": NaN}', "not valid JSON"),
        (json.dumps([{"type": "battery"}] * 501).encode(), "at most 500"),
    ],
    ids=["not-json", "a-number", "empty-list", "nan", "501-events"],
)
def test_a_body_that_is_not_a_batch_of_events_is_a_400_with_a_sentence(raw, words, camera):
    _, _, token = camera
    response = post_events(None, token, raw=raw)
    assert response.status_code == 400
    assert words in response.json()["detail"]


def test_a_body_over_one_mebibyte_is_a_413(camera):
    _, _, token = camera
    huge = json.dumps([event("battery", data={"pad": "x" * 4000}) for _ in range(300)]).encode()
    response = post_events(None, token, raw=huge)
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_a_body_that_is_not_json_is_a_415(camera):
    _, _, token = camera
    response = post_events(None, token, content_type="text/plain", raw=b"hello")
    assert response.status_code == 415


def test_a_fix_moves_the_unit_and_joins_its_history_without_a_row_of_its_own(camera):
    unit, _device, token = camera
    first = event("location", lat=38.60, lon=-90.20, speed_mps=12.5, heading_deg=90)
    second = event("location", lat=38.61, lon=-90.21)
    assert post_events([first, second], token).json()["accepted"] == [first["id"], second["id"]]
    assert not DeviceEvent.objects.exists()
    assert PositionFix.objects.count() == 0  # buffered, not yet written
    batch = flush_positions()
    unit.refresh_from_db()
    assert (unit.lat, unit.lon) == (38.61, -90.21)
    assert PositionFix.objects.filter(unit=unit).count() == 2
    assert batch[0]["unit"] == unit.pk


def test_a_retried_fix_is_answered_as_a_duplicate(camera):
    _, _, token = camera
    fix = event("location", lat=38.60, lon=-90.20)
    post_events(fix, token)
    assert post_events(fix, token).json()["duplicates"] == [fix["id"]]
    flush_positions()
    assert PositionFix.objects.count() == 1


def test_a_thousand_fixes_write_no_transaction_until_the_flush_writes_them_in_one(make_unit, make_device):
    units = [make_unit(f"3B{n:02d}") for n in range(20)]
    tokens = [make_device(f"bc-{n:04d}", unit)[1] for n, unit in enumerate(units)]
    post_events(event("battery"), tokens[0])  # first request of the test: warms caches
    with CaptureQueriesContext(connection) as queries:
        for second in range(50):
            for token in tokens:
                at = datetime.now(UTC) - timedelta(seconds=60 - second)
                assert post_events(event("location", at=at, lat=38.6, lon=-90.2), token).status_code == 200
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].split()[0].upper() in {"INSERT", "UPDATE"}]
    # Only last-seen stamps (once per device per 30 s), no row per fix.
    assert len(writes) <= len(tokens)
    with CaptureQueriesContext(connection) as queries:
        flush_positions()
    assert PositionFix.objects.count() == 1000
    assert Unit.objects.filter(position_at__isnull=False).count() == 20
    assert len(queries.captured_queries) < 20


def test_a_fix_from_a_device_without_a_unit_is_rejected_with_the_reason(make_device):
    _, token = make_device("bc-0001")
    response = post_events(event("location", lat=38.6, lon=-90.2), token)
    assert response.status_code == 400
    assert "not assigned to a unit" in response.json()["rejected"][0]["reason"]
