"""Fixtures for dispatch tests: an agency, units with officers, call types and a call factory."""

import pytest

from dispatch import services
from dispatch.models import Agency, DispositionCode, IncidentType, Officer, Unit, UnitStatus, Vehicle


@pytest.fixture
def agency(db):
    return Agency.objects.create(name="St. Louis County Police", identifier="police.stlouisco.mo.us")


@pytest.fixture
def make_unit(agency):
    """A unit with one officer, in the given status (only statuses reached without a call)."""

    def make(call_sign: str, status: str = UnitStatus.AVAILABLE, lat=None, lon=None, user=None, **fields):
        vehicle = Vehicle.objects.create(agency=agency, number=f"V-{call_sign}")
        unit = Unit.objects.create(agency=agency, call_sign=call_sign, status=status, vehicle=vehicle, **fields)
        if lat is not None:
            from django.utils import timezone

            Unit.objects.filter(pk=unit.pk).update(lat=lat, lon=lon, position_at=timezone.now())
            unit.refresh_from_db()
        Officer.objects.create(agency=agency, name=f"Officer {call_sign}", badge=f"B{call_sign}", unit=unit, user=user)
        return unit

    return make


@pytest.fixture
def dispatcher(make_user):
    return make_user("dana", "dispatcher")


@pytest.fixture
def shooting(db):
    return IncidentType.objects.get(code="SHOOT")


@pytest.fixture
def make_call(dispatcher, shooting):
    def make(**fields):
        defaults = {
            "actor": dispatcher,
            "incident_type": shooting,
            "priority": 1,
            "address": "1200 Market St, St. Louis, MO",
            "lat": 38.6270,
            "lon": -90.1994,
            "caller_name": "Jane Roe",
            "caller_phone": "314-555-0100",
        }
        return services.call_create(**{**defaults, **fields})

    return make


@pytest.fixture
def disposition(db):
    return DispositionCode.objects.get(code="RPT")
