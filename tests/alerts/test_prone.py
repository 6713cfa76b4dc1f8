"""Prone opens an "are you OK?" prompt; silence until the deadline becomes an officer-down alert, an answer does not."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import Alert, DeviceCommand, ProneWindow
from alerts.services import expire_prone_windows
from events.models import Event
from tests.alerts.conftest import event, post_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer_user(make_user):
    return make_user("olivia", "officer")


@pytest.fixture
def camera(make_unit, make_device, officer_user, rules):
    unit = make_unit("2A33", lat=38.627, lon=-90.1994, user=officer_user)
    device, token = make_device("bc-1234", unit)
    return unit, device, token


def prone(token):
    return post_events(event("prone", lat=38.6271, lon=-90.1993), token)


def test_prone_asks_the_officers_mdt_and_camera_are_you_ok(camera):
    unit, _device, token = camera
    answer = prone(token).json()
    assert [c["command"] for c in answer["commands"]] == ["prompt_ok"]
    window = ProneWindow.objects.get(unit=unit)
    assert (window.deadline - window.opened_at) == timedelta(seconds=15)
    prompt = Event.objects.get(kind="unit.prompt_ok")
    assert prompt.data["unit"] == unit.pk
    assert prompt.data["call_sign"] == "2A33"
    assert prompt.data["deadline"].endswith("Z")
    assert not Alert.objects.exists()


def test_prone_without_an_answer_becomes_an_officer_down_alert_after_the_window(camera):
    unit, device, token = camera
    prone(token)
    window = ProneWindow.objects.get(unit=unit)
    assert expire_prone_windows(now=window.deadline - timedelta(seconds=1)) == []
    [alert] = expire_prone_windows(now=window.deadline + timedelta(milliseconds=500))
    assert alert.kind == "officer_down"
    assert alert.severity == "high"
    assert alert.unit == unit
    assert (alert.lat, alert.lon) == (38.6271, -90.1993)
    window.refresh_from_db()
    assert window.outcome == "alert"
    assert Event.objects.filter(kind="alert.raised", data__id=alert.pk).exists()
    assert Event.objects.filter(kind="unit.prompt_closed", data__outcome="alert").exists()
    reasons = DeviceCommand.objects.filter(device=device, command="start_recording").values_list("reason", flat=True)
    assert "no answer" in reasons[0]
    # A second tick does not raise it again.
    assert expire_prone_windows(now=window.deadline + timedelta(seconds=5)) == []
    assert Alert.objects.count() == 1


def test_prone_then_officer_ok_from_the_device_raises_nothing(camera):
    unit, _, token = camera
    prone(token)
    post_events(event("officer_ok"), token)
    window = ProneWindow.objects.get(unit=unit)
    assert window.outcome == "ok"
    assert window.closed_by == "device bc-1234"
    assert expire_prone_windows(now=timezone.now() + timedelta(minutes=1)) == []
    assert not Alert.objects.exists()
    assert Event.objects.filter(kind="unit.prompt_closed", data__outcome="ok").exists()


def test_prone_then_the_mdt_button_raises_nothing(camera, officer_user):
    unit, _, token = camera
    prone(token)
    client = APIClient()
    client.force_login(officer_user)
    response = client.post(f"/api/v1/alerts/prompts/{unit.pk}/ok/")
    assert response.status_code == 204
    assert ProneWindow.objects.get(unit=unit).closed_by == "olivia"
    assert expire_prone_windows(now=timezone.now() + timedelta(minutes=1)) == []
    assert not Alert.objects.exists()
    again = client.post(f"/api/v1/alerts/prompts/{unit.pk}/ok/")
    assert again.status_code == 409
    assert "no open" in again.json()["detail"]


def test_only_an_officer_of_the_unit_may_answer_its_prompt(camera, make_user, make_unit):
    unit, _, token = camera
    prone(token)
    other = make_user("oscar", "officer")
    make_unit("2A40", user=other)
    client = APIClient()
    client.force_login(other)
    assert client.post(f"/api/v1/alerts/prompts/{unit.pk}/ok/").status_code == 404
    client.force_login(make_user("dana", "dispatcher"))
    assert client.post(f"/api/v1/alerts/prompts/{unit.pk}/ok/").status_code == 403
    assert ProneWindow.objects.get(unit=unit).closed_at is None


def test_a_second_prone_reading_while_asking_does_not_open_another_prompt(camera):
    unit, _, token = camera
    prone(token)
    prone(token)
    assert ProneWindow.objects.filter(unit=unit).count() == 1


def test_the_window_is_the_agencys(camera):
    unit, _, token = camera
    unit.agency.prone_window_s = 40
    unit.agency.save()
    prone(token)
    window = ProneWindow.objects.get(unit=unit)
    assert (window.deadline - window.opened_at) == timedelta(seconds=40)
