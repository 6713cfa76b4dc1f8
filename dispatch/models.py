"""Calls for service, units, their assignments and positions.

Both state machines live here as tables; `dispatch.services` is the only code
that moves a call or a unit from one state to another.
"""

from datetime import datetime

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Agency(models.Model):
    """The department running this deployment, with the thresholds its policy uses."""

    name = models.CharField(max_length=200)
    identifier = models.CharField(
        max_length=200,
        default="police.beacon.local",
        help_text="Globally unique agency id used in NENA EIDO exports, e.g. police.stlouis.mo.us.",
    )
    centre_lat = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)], default=38.627)
    centre_lon = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)], default=-90.199)
    approach_radius_m = models.PositiveIntegerField(
        default=1609, help_text="Cameras start recording within this distance of their dispatched call (1 mile)."
    )
    alert_radius_m = models.PositiveIntegerField(
        default=3219, help_text="Officer-down and panic alerts reach officers within this distance (2 miles)."
    )
    prone_window_s = models.PositiveIntegerField(
        default=15, help_text="Seconds an officer has to answer 'are you OK?' before prone becomes officer down."
    )
    escalation_s = models.PositiveIntegerField(
        default=30, help_text="Seconds before an unacknowledged officer-down alert escalates."
    )

    class Meta:
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return self.name

    @classmethod
    def current(cls) -> "Agency":
        """The deployment's agency (the first one), created with defaults when there is none."""
        agency = cls.objects.order_by("pk").first()
        if agency is None:
            agency = cls.objects.create(name=getattr(settings, "AGENCY_NAME", "") or "Police Department")
        return agency


class IncidentType(models.Model):
    """An APCO ANS 2.103.2 common incident type, or a local type mapped onto one."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    apco_type = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="local_types",
        help_text="For a local type: the APCO common type it reports as. Empty for APCO types themselves.",
    )
    default_priority = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    @property
    def is_local(self) -> bool:
        return self.apco_type_id is not None

    @property
    def common_code(self) -> str:
        """The APCO common incident type code this type reports as."""
        return self.apco_type.code if self.apco_type_id else self.code


class DispositionCode(models.Model):
    """An APCO disposition code, recorded when a call closes."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class CallCounter(models.Model):
    """The last call number issued in a year; its row is locked to issue the next."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class CallStatus(models.TextChoices):
    # NENA EIDO incident status registry values.
    ACTIVE = "Active", "Active"
    RESOURCES_ASSIGNED = "ResourcesAssigned", "Resources assigned"
    RESOURCES_ENROUTE = "ResourcesEnroute", "Resources en route"
    RESOURCES_ONSCENE = "ResourcesOnscene", "Resources on scene"
    CLOSED = "Closed", "Closed"
    CANCELLED = "Cancelled", "Cancelled"
    REOPENED = "ReOpened", "Reopened"


OPEN_CALL_STATUSES = frozenset(
    {
        CallStatus.ACTIVE,
        CallStatus.RESOURCES_ASSIGNED,
        CallStatus.RESOURCES_ENROUTE,
        CallStatus.RESOURCES_ONSCENE,
        CallStatus.REOPENED,
    }
)
_RESOURCE_STATUSES = {CallStatus.RESOURCES_ASSIGNED, CallStatus.RESOURCES_ENROUTE, CallStatus.RESOURCES_ONSCENE}

# Every move a call may make. An open call's status follows its units (see
# Call.status_from_assignments), so the resource statuses move freely among
# themselves and back to Active when every unit has cleared; ReOpened is
# reached only from Closed (NENA EIDO), and Cancelled is final.
CALL_TRANSITIONS: dict[str, frozenset[str]] = {
    CallStatus.ACTIVE: frozenset(_RESOURCE_STATUSES | {CallStatus.CLOSED, CallStatus.CANCELLED}),
    CallStatus.REOPENED: frozenset(_RESOURCE_STATUSES | {CallStatus.CLOSED, CallStatus.CANCELLED}),
    **{
        status: frozenset(
            (_RESOURCE_STATUSES - {status}) | {CallStatus.ACTIVE, CallStatus.CLOSED, CallStatus.CANCELLED}
        )
        for status in _RESOURCE_STATUSES
    },
    CallStatus.CLOSED: frozenset({CallStatus.REOPENED}),
    CallStatus.CANCELLED: frozenset(),
}


class CallQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_CALL_STATUSES)

    def with_details(self):
        return self.select_related("incident_type__apco_type", "disposition", "created_by").prefetch_related(
            models.Prefetch("assignments", queryset=Assignment.objects.select_related("unit").order_by("id")),
            models.Prefetch("notes", queryset=CallNote.objects.order_by("id")),
        )


class Call(models.Model):
    """A call for service: what happened, where, who called, and how it ended."""

    number = models.CharField(max_length=16, unique=True, help_text="Per-year sequence, e.g. 26-000123.")
    incident_type = models.ForeignKey(IncidentType, on_delete=models.PROTECT, related_name="calls")
    priority = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    status = models.CharField(max_length=20, choices=CallStatus.choices, default=CallStatus.ACTIVE, db_index=True)
    address = models.CharField(max_length=300, blank=True)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    caller_name = models.CharField(max_length=200, blank=True)
    caller_phone = models.CharField(max_length=40, blank=True)
    disposition = models.ForeignKey(DispositionCode, null=True, blank=True, on_delete=models.PROTECT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    reopened_at = models.DateTimeField(null=True, blank=True)

    objects = CallQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_CALL_STATUSES

    def status_from_assignments(self) -> str:
        """The status an open call has, given the units still working it."""
        statuses = set(self.assignments.filter(cleared_at__isnull=True).values_list("unit__status", flat=True))
        if UnitStatus.ON_SCENE in statuses:
            return CallStatus.RESOURCES_ONSCENE
        if UnitStatus.EN_ROUTE in statuses:
            return CallStatus.RESOURCES_ENROUTE
        if statuses:
            return CallStatus.RESOURCES_ASSIGNED
        if self.status == CallStatus.REOPENED:
            return CallStatus.REOPENED
        return CallStatus.ACTIVE


class CallNote(models.Model):
    """Narrative text on a call. Append-only: nothing edits or deletes a note."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="notes")
    text = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    author_name = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.call} note {self.pk}"


class TimelineEntry(models.Model):
    """One change to a call: who, when, what."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, help_text="created, updated, note_added, assigned, unit_status, ...")
    description = models.CharField(max_length=500)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "timeline entries"

    def __str__(self) -> str:
        return f"{self.call} {self.action}"


class Vehicle(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="vehicles")
    number = models.CharField(max_length=40, unique=True, help_text="Fleet number painted on the car.")
    plate = models.CharField(max_length=20, blank=True)
    description = models.CharField(max_length=200, blank=True, help_text="Make, model, colour.")
    in_service = models.BooleanField(default=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number


class UnitStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    DISPATCHED = "dispatched", "Dispatched"
    EN_ROUTE = "en_route", "En route"
    ON_SCENE = "on_scene", "On scene"
    BUSY = "busy", "Busy"
    OUT_OF_SERVICE = "out_of_service", "Out of service"
    OFF_DUTY = "off_duty", "Off duty"


# Every move a unit may make. A unit enters `dispatched` only by being
# assigned to a call; leaving the three call statuses for any other clears
# the unit from its call.
UNIT_TRANSITIONS: dict[str, frozenset[str]] = {
    UnitStatus.AVAILABLE: frozenset(
        {UnitStatus.DISPATCHED, UnitStatus.BUSY, UnitStatus.OUT_OF_SERVICE, UnitStatus.OFF_DUTY}
    ),
    UnitStatus.DISPATCHED: frozenset(
        {UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE, UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE}
    ),
    UnitStatus.EN_ROUTE: frozenset({UnitStatus.ON_SCENE, UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE}),
    UnitStatus.ON_SCENE: frozenset({UnitStatus.AVAILABLE, UnitStatus.BUSY, UnitStatus.OUT_OF_SERVICE}),
    UnitStatus.BUSY: frozenset({UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE, UnitStatus.OFF_DUTY}),
    UnitStatus.OUT_OF_SERVICE: frozenset({UnitStatus.AVAILABLE, UnitStatus.OFF_DUTY}),
    UnitStatus.OFF_DUTY: frozenset({UnitStatus.AVAILABLE}),
}

# Statuses in which a unit is working a call (it has an active assignment).
ON_CALL_STATUSES = frozenset({UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE})

# NENA EIDO primary unit status (Available / ConditionallyAvailable /
# NotAvailable) and secondary unit status for each of ours.
EIDO_UNIT_STATUS: dict[str, tuple[str, str]] = {
    UnitStatus.AVAILABLE: ("Available", "Available"),
    UnitStatus.DISPATCHED: ("NotAvailable", "Dispatched"),
    UnitStatus.EN_ROUTE: ("NotAvailable", "Enroute"),
    UnitStatus.ON_SCENE: ("NotAvailable", "OnScene"),
    UnitStatus.BUSY: ("ConditionallyAvailable", "Busy"),
    UnitStatus.OUT_OF_SERVICE: ("NotAvailable", "OutOfService"),
    UnitStatus.OFF_DUTY: ("NotAvailable", "OffDuty"),
}


class UnitQuerySet(models.QuerySet):
    def with_details(self):
        return self.select_related("vehicle").prefetch_related(
            models.Prefetch("officers", queryset=Officer.objects.order_by("id")),
            models.Prefetch(
                "assignments",
                queryset=Assignment.objects.filter(cleared_at__isnull=True).select_related("call"),
                to_attr="active_assignments",
            ),
        )

    def of_officer_user(self, user):
        """The units an officer's user account rides in."""
        return self.filter(officers__user=user)


class Unit(models.Model):
    """A patrol unit: a call sign, its officers and vehicle, its status and latest position."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="units")
    call_sign = models.CharField(max_length=20, unique=True)
    vehicle = models.OneToOneField(Vehicle, null=True, blank=True, on_delete=models.SET_NULL, related_name="unit")
    status = models.CharField(max_length=20, choices=UnitStatus.choices, default=UnitStatus.OFF_DUTY, db_index=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    # Latest AVL fix, kept here so the console and the recommendation read one row per unit.
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    position_at = models.DateTimeField(null=True, blank=True)
    speed_mps = models.FloatField(null=True, blank=True)
    heading_deg = models.FloatField(null=True, blank=True)
    accuracy_m = models.FloatField(null=True, blank=True)

    objects = UnitQuerySet.as_manager()

    class Meta:
        ordering = ["call_sign"]

    def __str__(self) -> str:
        return self.call_sign

    @property
    def eido_primary_status(self) -> str:
        return EIDO_UNIT_STATUS[self.status][0]

    @property
    def eido_secondary_status(self) -> str:
        return EIDO_UNIT_STATUS[self.status][1]

    def fix_age_s(self, now: datetime | None = None) -> float | None:
        """Seconds since the latest position fix, or None without one."""
        if self.position_at is None:
            return None
        return round(((now or timezone.now()) - self.position_at).total_seconds(), 1)

    def active_assignment(self) -> "Assignment | None":
        if hasattr(self, "active_assignments"):
            return self.active_assignments[0] if self.active_assignments else None
        return self.assignments.filter(cleared_at__isnull=True).select_related("call").first()


class Officer(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="officers")
    name = models.CharField(max_length=200)
    badge = models.CharField(max_length=20, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="officer"
    )
    unit = models.ForeignKey(
        Unit, null=True, blank=True, on_delete=models.SET_NULL, related_name="officers", help_text="Riding in."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} (#{self.badge})"


class Assignment(models.Model):
    """One unit on one call, with the times of each step."""

    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="assignments")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="assignments")
    dispatched_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    dispatched_at = models.DateTimeField(default=timezone.now)
    en_route_at = models.DateTimeField(null=True, blank=True)
    on_scene_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # The database's guarantee behind the row lock in call_assign_unit:
            # a unit works one call at a time.
            models.UniqueConstraint(
                fields=["unit"], condition=Q(cleared_at__isnull=True), name="one_active_assignment_per_unit"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.unit} on {self.call}"

    @property
    def is_active(self) -> bool:
        return self.cleared_at is None


class PositionFix(models.Model):
    """One AVL fix, kept for evidence. Written in batches by dispatch.avl."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="fixes")
    at = models.DateTimeField()
    lat = models.FloatField()
    lon = models.FloatField()
    speed_mps = models.FloatField(null=True, blank=True)
    heading_deg = models.FloatField(null=True, blank=True)
    accuracy_m = models.FloatField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["unit", "at"]
        indexes = [models.Index(fields=["unit", "at"])]
        verbose_name_plural = "position fixes"

    def __str__(self) -> str:
        return f"{self.unit_id} @ {self.at:%Y-%m-%d %H:%M:%S}"
