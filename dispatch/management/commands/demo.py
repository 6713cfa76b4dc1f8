"""Fill an empty Beacon with the demo agency: Clayton, Missouri, 17 officers and 8 cruisers."""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.roles import Role, ensure_roles
from dispatch.models import Agency, Officer, Unit, UnitStatus, Vehicle

# Clayton, Missouri: the St. Louis County seat named in the seeds.
AGENCY = {
    "name": "Clayton Police Department",
    "identifier": "police.clayton.mo.us",
    "centre_lat": 38.6426,
    "centre_lon": -90.3237,
}
OFFICER_NAMES = [
    "Sgt. Maria Alvarez",
    "Ofc. James Carter",
    "Ofc. Aisha Johnson",
    "Ofc. Daniel Kim",
    "Ofc. Emily Brooks",
    "Ofc. Marcus Reed",
    "Ofc. Sofia Romano",
    "Ofc. Tyrone Davis",
    "Ofc. Hannah Meyer",
    "Ofc. Luis Ortega",
    "Ofc. Grace Nguyen",
    "Ofc. Patrick O'Neil",
    "Ofc. Keisha Williams",
    "Ofc. Ethan Schultz",
    "Ofc. Priya Patel",
    "Ofc. Robert Hayes",
    "Ofc. Jasmine Turner",
]
CRUISERS = 8
DEMO_USERS = [
    ("dispatcher", "Dana", "Whitfield", Role.DISPATCHER),
    ("supervisor", "Lt. Sam", "Okafor", Role.SUPERVISOR),
    ("officer", "James", "Carter", Role.OFFICER),
    ("admin", "Agency", "Administrator", Role.ADMINISTRATOR),
]


class Command(BaseCommand):
    help = "Create the demo agency, its units and the demo sign-ins (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off (a production database).")

    def handle(self, *args, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "DEBUG is off, so this looks like a production database: the demo would add well-known "
                "accounts with a known password. Run it with --force if this really is a demo system."
            )
        password = os.environ.get("DEMO_PASSWORD", "beacon-demo")
        with transaction.atomic():
            ensure_roles()
            agency = self._agency()
            units = self._units(agency)
            officers = self._officers(agency, units)
            self._users(password, officers)
            self._devices(officers, units)
        self.stdout.write(
            f"Demo agency ready: {agency.name}, {len(officers)} officers, {len(units)} units. "
            f"Sign in as dispatcher, supervisor, officer or admin with the password {password!r}."
        )

    def _agency(self) -> Agency:
        agency = Agency.objects.order_by("pk").first()
        if agency is None:
            return Agency.objects.create(**AGENCY)
        return agency

    def _units(self, agency: Agency) -> list[Unit]:
        units = []
        for number in range(1, CRUISERS + 1):
            vehicle, _ = Vehicle.objects.get_or_create(
                number=f"CPD-{100 + number}",
                defaults={"agency": agency, "description": "Ford Police Interceptor Utility, black and white"},
            )
            # Spread the cruisers around the city so the map shows a fleet at once;
            # the simulator moves them from there.
            lat = agency.centre_lat + ((number % 3) - 1) * 0.006 + number * 0.0007
            lon = agency.centre_lon + ((number % 4) - 1.5) * 0.008
            unit, _ = Unit.objects.get_or_create(
                call_sign=f"Car {10 + number}",
                defaults={
                    "agency": agency,
                    "vehicle": vehicle,
                    "status": UnitStatus.AVAILABLE,
                    "lat": lat,
                    "lon": lon,
                    "position_at": timezone.now(),
                },
            )
            units.append(unit)
        return units

    def _officers(self, agency: Agency, units: list[Unit]) -> list[Officer]:
        officers = []
        for index, name in enumerate(OFFICER_NAMES):
            officer, _ = Officer.objects.get_or_create(
                badge=str(2101 + index),
                defaults={"agency": agency, "name": name, "unit": units[index % len(units)]},
            )
            officers.append(officer)
        return officers

    def _users(self, password: str, officers: list[Officer]) -> None:
        User = get_user_model()
        for username, first, last, role in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last}
            )
            if created:
                user.set_password(password)
            user.is_staff = role == Role.ADMINISTRATOR
            user.is_superuser = role == Role.ADMINISTRATOR
            user.save()
            user.groups.add(Group.objects.get(name=role.value))
        officer = next(o for o in officers if o.name.endswith("James Carter"))
        if officer.user_id is None:
            officer.user = User.objects.get(username="officer")
            officer.save(update_fields=["user"])

    def _devices(self, officers: list[Officer], units: list[Unit]) -> None:
        """A body camera per officer, an in-car camera per cruiser and the camera of each car's MDT."""
        from alerts.models import Device, DeviceKind

        for officer in officers:
            Device.objects.get_or_create(
                name=f"bc-{officer.badge}",
                defaults={"kind": DeviceKind.BODY_CAMERA, "officer": officer, "unit": officer.unit},
            )
        for unit in units:
            Device.objects.get_or_create(
                name=f"ic-{unit.vehicle.number.lower()}",
                defaults={"kind": DeviceKind.IN_CAR_CAMERA, "unit": unit},
            )
            Device.objects.get_or_create(
                name=f"mdt-{unit.vehicle.number.lower()}",
                defaults={"kind": DeviceKind.MDT_CAMERA, "unit": unit},
            )
