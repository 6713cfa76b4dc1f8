"""Raised → acknowledged → resolved | marked false, each step by a named user with a time; other steps are refused."""

import itertools

import pytest
from rest_framework.test import APIClient

from alerts import services
from alerts.console import unacknowledged_alerts
from alerts.models import ALERT_TRANSITIONS, Alert, AlertStatus
from audit.models import AuditRecord
from config.errors import RefusedChange
from events.models import Event
from tests.alerts.conftest import event, post_events

pytestmark = pytest.mark.django_db

STEPS = {
    AlertStatus.ACKNOWLEDGED: ("acknowledge", "alert.acknowledged"),
    AlertStatus.RESOLVED: ("resolve", "alert.resolved"),
    AlertStatus.FALSE_ALARM: ("false", "alert.resolved"),
}


@pytest.fixture
def alert(make_unit, make_device, rules) -> Alert:
    unit = make_unit("2A33", lat=38.627, lon=-90.1994)
    _, token = make_device("bc-1234", unit)
    post_events(event("weapon_drawn"), token)
    return Alert.objects.get()


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def put_alert_in(status, alert, user):
    if status in {AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED, AlertStatus.FALSE_ALARM}:
        if status != AlertStatus.ACKNOWLEDGED:
            services.alert_acknowledge(alert=alert, actor=user)
        {
            AlertStatus.ACKNOWLEDGED: services.alert_acknowledge,
            AlertStatus.RESOLVED: services.alert_resolve,
            AlertStatus.FALSE_ALARM: services.alert_mark_false,
        }[status](alert=alert, actor=user)


@pytest.mark.parametrize(("start", "target"), list(itertools.product(AlertStatus.values, list(STEPS))))
def test_an_alert_moves_only_along_its_lifecycle(start, target, alert, dispatcher):
    put_alert_in(start, alert, dispatcher)
    path, kind = STEPS[target]
    before = Event.objects.count()
    response = api(dispatcher).post(f"/api/v1/alerts/{alert.pk}/{path}/", {}, format="json")
    alert.refresh_from_db()
    if target in ALERT_TRANSITIONS[start]:
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == target
        assert alert.status == target
        assert Event.objects.latest("seq").kind == kind
        assert Event.objects.latest("seq").data["status"] == target
    else:
        assert response.status_code == 409
        assert response.json()["detail"].endswith(".")
        assert f"#{alert.pk}" in response.json()["detail"]
        assert alert.status == start
        assert Event.objects.count() == before


def test_each_step_names_the_user_and_the_time_and_is_audited(alert, dispatcher, supervisor):
    api(dispatcher).post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    response = api(supervisor).post(f"/api/v1/alerts/{alert.pk}/resolve/", {"note": "Suspect in custody."})
    data = response.json()
    assert data["acknowledged_by_name"] == "dana"
    assert data["acknowledged_at"]
    assert data["resolved_by_name"] == "sam"
    assert data["resolved_at"]
    assert data["resolution_note"] == "Suspect in custody."
    actions = list(AuditRecord.objects.filter(target=f"alert:{alert.pk}").values_list("action", "actor_name"))
    assert ("alert.acknowledged", "dana") in actions
    assert ("alert.resolved", "sam") in actions


def test_officers_may_read_alerts_but_not_acknowledge_them(alert, make_user):
    officer = make_user("olivia", "officer")
    assert api(officer).get("/api/v1/alerts/?open=true").json()["results"][0]["id"] == alert.pk
    response = api(officer).post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    assert response.status_code == 403
    assert "dispatcher or supervisor" in response.json()["detail"]


def test_the_list_filters_by_status(alert, dispatcher):
    services.alert_acknowledge(alert=alert, actor=dispatcher)
    client = api(dispatcher)
    assert client.get("/api/v1/alerts/?status=raised").json()["count"] == 0
    assert client.get("/api/v1/alerts/?status=acknowledged,resolved").json()["count"] == 1
    assert client.get("/api/v1/alerts/?open=false").json()["count"] == 0
    assert client.get("/api/v1/alerts/?status=bogus").status_code == 400
    assert client.get("/api/v1/alerts/999/").status_code == 404


def test_every_unacknowledged_alert_is_in_the_console_snapshot_as_the_api_serializes_it(alert, dispatcher):
    [snapshot] = unacknowledged_alerts()
    detail = api(dispatcher).get(f"/api/v1/alerts/{alert.pk}/").json()
    # The same alert, with the units in range named by id rather than in full.
    assert snapshot.pop("nearby_units") == [near["unit"] for near in detail.pop("nearby")]
    assert snapshot == detail
    services.alert_acknowledge(alert=alert, actor=dispatcher)
    assert unacknowledged_alerts() == []


def test_a_second_trigger_of_the_same_kind_for_an_open_alert_raises_no_new_alert(alert):
    from alerts.models import Device

    token = services.device_issue_token(device=Device.objects.get(name="bc-1234"))
    post_events(event("weapon_drawn"), token)
    assert Alert.objects.count() == 1


def test_a_refused_step_is_a_named_error(alert, dispatcher):
    services.alert_resolve(alert=alert, actor=dispatcher)
    with pytest.raises(RefusedChange, match="resolved; it cannot be acknowledged"):
        services.alert_acknowledge(alert=alert, actor=dispatcher)


def test_supervisors_list_devices_and_dispatchers_may_not(alert, supervisor, dispatcher):
    devices = api(supervisor).get("/api/v1/devices/").json()["results"]
    assert devices[0]["name"] == "bc-1234"
    assert devices[0]["unit"] == alert.unit_id
    assert devices[0]["has_token"] is True
    assert devices[0]["last_seen_at"]
    assert api(dispatcher).get("/api/v1/devices/").status_code == 403
