"""A nearby officer responds to an alert in one tap: their unit joins the alert's call, en route."""

import pytest
from rest_framework.test import APIClient

from alerts.models import Alert
from dispatch import services as dispatch
from dispatch.models import IncidentType, UnitStatus
from tests.alerts.conftest import event, post_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer_user(make_user):
    return make_user("olivia", "officer")


@pytest.fixture
def helper(make_unit, officer_user):
    return make_unit("2A40", lat=38.61, lon=-90.20, user=officer_user)


@pytest.fixture
def down(make_unit, make_device, rules, incident_types):
    unit = make_unit("2A33", lat=38.627, lon=-90.1994)
    _, token = make_device("bc-1234", unit)
    return unit, token


def respond(user, alert):
    client = APIClient()
    client.force_login(user)
    return client.post(f"/api/v1/alerts/{alert.pk}/respond/")


def test_an_officer_responds_to_an_alert_on_a_call_and_goes_en_route(down, helper, officer_user, dispatcher):
    unit, token = down
    call = dispatch.call_create(
        actor=dispatcher, incident_type=IncidentType.objects.get(code="SHOOT"), priority=1, lat=38.627, lon=-90.1994
    )
    dispatch.call_assign_unit(call=call, unit=unit, actor=dispatcher)
    post_events(event("officer_down"), token)
    alert = Alert.objects.get()
    assert alert.call == call
    response = respond(officer_user, alert)
    assert response.status_code == 200, response.json()
    assert response.json()["call_sign"] == "2A40"
    helper.refresh_from_db()
    assert helper.status == UnitStatus.EN_ROUTE
    assert helper.assignments.get().call == call


def test_an_alert_without_a_call_gets_one_that_every_responder_joins(down, helper, officer_user, make_unit, make_user):
    _, token = down
    post_events(event("officer_down"), token)
    alert = Alert.objects.get()
    assert respond(officer_user, alert).status_code == 200
    alert.refresh_from_db()
    assert alert.call.incident_type.code == "MAYDAY"
    second = make_user("oscar", "officer")
    make_unit("2A41", user=second)
    assert respond(second, alert).status_code == 200
    assert alert.call.assignments.count() == 2


def test_a_unit_busy_on_another_call_is_refused_with_a_sentence(down, helper, officer_user, dispatcher):
    _, token = down
    other = dispatch.call_create(actor=dispatcher, incident_type=IncidentType.objects.get(code="SHOOT"), priority=2)
    dispatch.call_assign_unit(call=other, unit=helper, actor=dispatcher)
    post_events(event("panic"), token)
    response = respond(officer_user, Alert.objects.get())
    assert response.status_code == 409
    assert "2A40" in response.json()["detail"]
