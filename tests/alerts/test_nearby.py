"""Officers within the alert radius (2 miles by default) get the alert with distance and bearing; others do not."""

import json

import pytest
from rest_framework.test import APIClient

from alerts.models import Alert
from events.models import Event
from tests.alerts.conftest import event, post_events

pytestmark = pytest.mark.django_db

SCENE = (38.6270, -90.1994)


@pytest.fixture
def scene(make_unit, make_device, rules):
    unit = make_unit("2A33", lat=SCENE[0], lon=SCENE[1])
    _, token = make_device("bc-1234", unit)
    return unit, token


def test_an_officer_within_two_miles_gets_the_alert_with_distance_and_bearing_and_one_ten_miles_away_does_not(
    scene, make_unit
):
    _, token = scene
    # 0.0200 degrees of latitude due south: about 2.2 km; the scene is due north of this unit.
    near = make_unit("2A40", lat=SCENE[0] - 0.0200, lon=SCENE[1])
    # About 16 km (10 miles) due east.
    far = make_unit("2A50", lat=SCENE[0], lon=SCENE[1] + 0.1840)
    post_events(event("officer_down", lat=SCENE[0], lon=SCENE[1]), token)

    # Every console's frame names the units in range; the API has distance and bearing too.
    data = Event.objects.get(kind="alert.raised").data
    assert data["nearby_units"] == [near.pk]
    assert "nearby_officers" in data["notify"]
    [entry] = Alert.objects.get().nearby
    assert entry["unit"] == near.pk
    assert entry["call_sign"] == "2A40"
    assert 2200 <= entry["distance_m"] <= 2250
    assert entry["bearing_deg"] == 0
    assert far.pk not in {n["unit"] for n in Alert.objects.get().nearby}


def test_the_alerts_own_unit_and_off_duty_units_are_not_in_nearby(scene, make_unit):
    unit, token = scene
    make_unit("2A41", status="off_duty", lat=SCENE[0], lon=SCENE[1] + 0.01)
    east = make_unit("2A42", lat=SCENE[0], lon=SCENE[1] + 0.01)
    post_events(event("panic"), token)
    nearby = Alert.objects.get().nearby
    assert [n["unit"] for n in nearby] == [east.pk]
    assert nearby[0]["bearing_deg"] == 270  # the scene is due west of 2A42
    assert unit.pk not in [n["unit"] for n in nearby]


def test_a_struggle_is_for_dispatchers_and_supervisors_only(scene, make_unit):
    _, token = scene
    make_unit("2A40", lat=SCENE[0] - 0.001, lon=SCENE[1])
    post_events(event("struggle"), token)
    alert = Alert.objects.get()
    assert alert.nearby == []
    assert alert.notify == ["dispatchers", "supervisors"]


def test_the_radius_is_the_agencys(scene, make_unit):
    unit, token = scene
    unit.agency.alert_radius_m = 1000
    unit.agency.save()
    make_unit("2A40", lat=SCENE[0] - 0.0200, lon=SCENE[1])
    post_events(event("officer_down"), token)
    assert Alert.objects.get().nearby == []


def test_a_crowded_alert_frame_stays_small_and_the_api_keeps_distance_and_bearing(scene, make_unit, make_user):
    # Every console gets every alert frame: with 300 officers in range it must
    # still be a frame a thousand consoles can take at once.
    _, token = scene
    crowd = [make_unit(f"3C{index:03d}", lat=SCENE[0] + index * 0.00002, lon=SCENE[1]) for index in range(1, 301)]
    post_events(event("officer_down", lat=SCENE[0], lon=SCENE[1]), token)

    frame = Event.objects.get(kind="alert.raised").data
    assert sorted(frame["nearby_units"]) == sorted(unit.pk for unit in crowd)
    assert "nearby" not in frame
    assert len(json.dumps(frame)) < 4000

    client = APIClient()
    client.force_login(make_user("dana", "dispatcher"))
    detail = client.get(f"/api/v1/alerts/{frame['id']}/").json()
    assert len(detail["nearby"]) == 300
    assert {"unit", "call_sign", "distance_m", "bearing_deg"} <= set(detail["nearby"][0])
