"""An officer-down alert nobody acknowledges within the agency's escalation time escalates, once, logged."""

from datetime import timedelta

import pytest

from alerts import services
from alerts.models import Alert
from audit.models import AuditRecord
from events.models import Event
from tests.alerts.conftest import event, post_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def raise_alert(make_unit, make_device, rules):
    unit = make_unit("2A33", lat=38.627, lon=-90.1994)
    _, token = make_device("bc-1234", unit)

    def raise_(kind="officer_down") -> Alert:
        post_events(event(kind), token)
        return Alert.objects.get(kind=kind)

    return raise_


def test_an_unacknowledged_officer_down_escalates_after_30_seconds(raise_alert):
    alert = raise_alert()
    assert services.escalate_overdue_alerts(now=alert.raised_at + timedelta(seconds=29)) == []
    [escalated] = services.escalate_overdue_alerts(now=alert.raised_at + timedelta(seconds=30))
    assert escalated.pk == alert.pk
    alert.refresh_from_db()
    assert alert.escalated_at is not None
    assert alert.status == "raised"
    frame = Event.objects.get(kind="alert.escalated")
    assert frame.data["id"] == alert.pk
    assert frame.data["escalated_at"]
    assert AuditRecord.objects.filter(action="alert.escalated", target=f"alert:{alert.pk}").exists()
    assert services.escalate_overdue_alerts(now=alert.raised_at + timedelta(seconds=90)) == []


def test_an_acknowledged_officer_down_does_not_escalate(raise_alert, dispatcher):
    alert = raise_alert()
    services.alert_acknowledge(alert=alert, actor=dispatcher)
    assert services.escalate_overdue_alerts(now=alert.raised_at + timedelta(minutes=5)) == []


def test_the_escalation_time_is_the_agencys(raise_alert):
    alert = raise_alert()
    alert.unit.agency.escalation_s = 60
    alert.unit.agency.save()
    assert services.escalate_overdue_alerts(now=alert.raised_at + timedelta(seconds=45)) == []
    assert len(services.escalate_overdue_alerts(now=alert.raised_at + timedelta(seconds=61))) == 1


def test_a_foot_pursuit_alert_does_not_escalate(raise_alert):
    alert = raise_alert("foot_pursuit")
    assert alert.severity == "medium"
    assert services.escalate_overdue_alerts(now=alert.raised_at + timedelta(minutes=5)) == []


def test_the_worker_runs_one_tick(raise_alert):
    from django.core.management import call_command

    alert = raise_alert()
    Alert.objects.filter(pk=alert.pk).update(raised_at=alert.raised_at - timedelta(seconds=31))
    call_command("worker", "--once")
    alert.refresh_from_db()
    assert alert.escalated_at is not None
