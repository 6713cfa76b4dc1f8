"""What an administrator does before the simulated fleet starts: credentials for its units, devices and officers.

This is the simulator's only use of the ORM. It issues each device of the
driven units a token (`alerts.services.device_issue_token`, audited like any
issue), gives each unit's officer a sign-in of their own (`sim-<badge>`, role
officer) with a DRF token, and a `sim-dispatcher` for the synthetic calls.
From then on the simulator speaks only HTTP, WebSocket and WHIP.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from rest_framework.authtoken.models import Token

from accounts.roles import Role, ensure_roles
from alerts.models import Device, DeviceKind
from alerts.services import device_issue_token
from dispatch.models import Agency, Officer, Unit, UnitStatus, Vehicle

DISPATCHER_USERNAME = "sim-dispatcher"
# Extra units beyond the agency's own: call signs Sim 001.., badges 9001.. .
EXTRA_CALL_SIGN = "Sim {:03d}"
EXTRA_BADGE_BASE = 9000


@dataclass(frozen=True)
class DeviceCredential:
    name: str
    kind: str
    token: str


@dataclass(frozen=True)
class UnitCredential:
    id: int
    call_sign: str
    officer_username: str
    officer_token: str
    position_device: DeviceCredential  # sends the unit's fixes (the in-car camera when it has one)
    trigger_device: DeviceCredential  # sends triggers (an officer's body camera when there is one)


@dataclass(frozen=True)
class FleetCredentials:
    centre_lat: float
    centre_lon: float
    dispatcher_token: str
    units: tuple[UnitCredential, ...]


def _user_with_role(username: str, role: Role, **names) -> tuple:
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username, defaults=names)
    if created:
        user.set_unusable_password()  # the simulator signs in with its token only
        user.save()
    user.groups.add(Group.objects.get(name=role.value))
    token, _ = Token.objects.get_or_create(user=user)
    return user, token.key


def _officer_token(unit: Unit) -> tuple[str, str]:
    """A sign-in for one of the unit's officers: their own sim-<badge> user, made if the officer has none."""
    officers = list(unit.officers.select_related("user").order_by("badge"))
    for officer in officers:
        if officer.user is not None and officer.user.username.startswith("sim-"):
            _, key = _user_with_role(officer.user.username, Role.OFFICER)
            return officer.user.username, key
    for officer in officers:
        if officer.user_id is None:
            first, _, last = officer.name.rpartition(" ")
            user, key = _user_with_role(f"sim-{officer.badge}", Role.OFFICER, first_name=first, last_name=last)
            officer.user = user
            officer.save(update_fields=["user"])
            return user.username, key
    # Every officer of the unit already signs in as a real person: the dispatcher's tool moves the unit instead.
    return "", ""


def _extra_units(agency: Agency, count: int, existing: int) -> None:
    """Create units Sim 001.. with a vehicle, an officer and their cameras, up to `count` units in all."""
    for index in range(1, count - existing + 1):
        number = f"SIM-{index:03d}"
        vehicle, _ = Vehicle.objects.get_or_create(
            number=number, defaults={"agency": agency, "description": "Simulated cruiser"}
        )
        # Spread the extra cars on a spiral around the centre.
        unit, _ = Unit.objects.get_or_create(
            call_sign=EXTRA_CALL_SIGN.format(index),
            defaults={
                "agency": agency,
                "vehicle": vehicle,
                "status": UnitStatus.AVAILABLE,
                "lat": agency.centre_lat + ((index * 37) % 41 - 20) * 0.0009,
                "lon": agency.centre_lon + ((index * 53) % 43 - 21) * 0.0011,
            },
        )
        badge = str(EXTRA_BADGE_BASE + index)
        officer, _ = Officer.objects.get_or_create(
            badge=badge, defaults={"agency": agency, "name": f"Sim Officer {index:03d}", "unit": unit}
        )
        Device.objects.get_or_create(
            name=f"bc-{badge}", defaults={"kind": DeviceKind.BODY_CAMERA, "officer": officer, "unit": unit}
        )
        Device.objects.get_or_create(
            name=f"ic-{number.lower()}", defaults={"kind": DeviceKind.IN_CAR_CAMERA, "unit": unit}
        )


def _pick(devices: list[Device], *kinds: str) -> Device | None:
    for kind in kinds:
        for device in devices:
            if device.kind == kind:
                return device
    return None


@transaction.atomic
def prepare_fleet(units: int | None = None) -> FleetCredentials:
    """Credentials for the first `units` units by call sign (all the agency's by default), creating extra ones."""
    ensure_roles()
    agency = Agency.current()
    existing = Unit.objects.count()
    if units is not None and units > existing:
        _extra_units(agency, units, existing)
    chosen = list(Unit.objects.order_by("call_sign")[: units if units is not None else None])
    if not chosen:
        raise ValueError("There are no units to simulate: run `manage.py demo` first, or pass --units N.")
    _, dispatcher_token = _user_with_role(
        DISPATCHER_USERNAME, Role.DISPATCHER, first_name="Simulated", last_name="Dispatcher"
    )
    credentials = []
    for unit in chosen:
        devices = list(Device.objects.of_unit(unit.pk).order_by("name"))
        if not devices:
            # A unit without cameras gets an in-car camera, as an administrator would fit one.
            device, _ = Device.objects.get_or_create(
                name=f"ic-unit-{unit.pk}", defaults={"kind": DeviceKind.IN_CAR_CAMERA, "unit": unit}
            )
            devices = [device]
        position = _pick(devices, DeviceKind.IN_CAR_CAMERA, DeviceKind.MDT_CAMERA, DeviceKind.BODY_CAMERA)
        trigger = _pick(devices, DeviceKind.BODY_CAMERA, DeviceKind.IN_CAR_CAMERA, DeviceKind.MDT_CAMERA)
        # Only the devices the simulator drives get new tokens; the unit's other cameras keep theirs.
        tokens = {device.pk: device_issue_token(device=device) for device in {position, trigger}}

        def credential(device: Device, tokens=tokens) -> DeviceCredential:
            return DeviceCredential(name=device.name, kind=device.kind, token=tokens[device.pk])

        username, officer_token = _officer_token(unit)
        credentials.append(
            UnitCredential(
                id=unit.pk,
                call_sign=unit.call_sign,
                officer_username=username,
                officer_token=officer_token,
                position_device=credential(position),
                trigger_device=credential(trigger),
            )
        )
    return FleetCredentials(
        centre_lat=agency.centre_lat,
        centre_lon=agency.centre_lon,
        dispatcher_token=dispatcher_token,
        units=tuple(credentials),
    )
