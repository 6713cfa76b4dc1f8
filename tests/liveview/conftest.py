"""Fixtures for live video tests: a unit with its cameras and people, signed in as a browser's fetch would be."""

import pytest
from django.conf import settings
from django.test import Client
from django.utils.crypto import get_random_string

from alerts import services as alert_services
from alerts.models import Device, DeviceKind
from dispatch.models import Agency, Officer, Unit, UnitStatus, Vehicle


@pytest.fixture
def agency(db):
    return Agency.objects.create(name="St. Louis County Police", identifier="police.stlouisco.mo.us")


@pytest.fixture
def make_unit(agency, make_user):
    """A unit with one officer who signs in as `username`."""

    def make(call_sign: str, username: str, officer_name: str) -> Unit:
        vehicle = Vehicle.objects.create(agency=agency, number=f"V-{call_sign}")
        unit = Unit.objects.create(agency=agency, call_sign=call_sign, status=UnitStatus.AVAILABLE, vehicle=vehicle)
        first, last = officer_name.split(" ", 1)
        user = make_user(username, "officer", first_name=first, last_name=last)
        Officer.objects.create(agency=agency, name=officer_name, badge=f"B{call_sign}", unit=unit, user=user)
        return unit

    return make


@pytest.fixture
def make_camera(db):
    """A body camera worn by the unit's officer (or the unit's MDT camera), with a token; returns (device, token)."""

    def make(name: str, unit: Unit, kind: str = DeviceKind.BODY_CAMERA) -> tuple[Device, str]:
        if kind == DeviceKind.BODY_CAMERA:
            device = Device.objects.create(name=name, kind=kind, officer=unit.officers.first())
        else:
            device = Device.objects.create(name=name, kind=kind, unit=unit)
        return device, alert_services.device_issue_token(device=device)

    return make


@pytest.fixture
def supervisor(make_user):
    return make_user("sam", "supervisor", first_name="Sam", last_name="Keller")


@pytest.fixture
def dispatcher(make_user):
    return make_user("dana", "dispatcher", first_name="Dana", last_name="Ruiz")


def browser_headers(user) -> dict[str, str]:
    """What a same-origin fetch of a signed-in user sends: the session and CSRF cookies, and the CSRF header."""
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    csrf = get_random_string(32)
    return {
        "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}",
        "X-CSRFToken": csrf,
    }
