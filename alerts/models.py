"""Devices and their telemetry, the activation policy, commands, "are you OK?" prompts and alerts.

The alert lifecycle is one table (ALERT_TRANSITIONS); `alerts.services` is the
only code that moves an alert, issues a command or opens a prompt.
"""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

# Triggers a device may send (DESIGN.md, capability 4). `location` and the
# recording and battery reports are telemetry, not triggers of the policy.
TRIGGERS = ("weapon_drawn", "foot_pursuit", "struggle", "gunshot", "panic", "prone", "officer_down")
EVENT_TYPES = (*TRIGGERS, "officer_ok", "location", "recording_started", "recording_stopped", "battery")


class DeviceKind(models.TextChoices):
    BODY_CAMERA = "body_camera", "Body camera"
    IN_CAR_CAMERA = "in_car_camera", "In-car camera"
    MDT_CAMERA = "mdt_camera", "MDT camera"


class DeviceQuerySet(models.QuerySet):
    def of_unit(self, unit_id: int):
        """Active devices riding in a unit: assigned to its vehicle or worn by one of its officers."""
        return self.filter(Q(unit_id=unit_id) | Q(officer__unit_id=unit_id), active=True)


class Device(models.Model):
    """A body or in-car camera, assigned to an officer or to a unit, with its bearer token's hash."""

    name = models.SlugField(max_length=64, unique=True, help_text="Printed on the device, e.g. bc-1234.")
    kind = models.CharField(max_length=20, choices=DeviceKind.choices, default=DeviceKind.BODY_CAMERA)
    unit = models.ForeignKey(
        "dispatch.Unit",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="devices",
        help_text="For a camera mounted in a vehicle: the unit it rides in.",
    )
    officer = models.ForeignKey(
        "dispatch.Officer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="devices",
        help_text="For a body camera: the officer wearing it (the device follows the officer's unit).",
    )
    # sha256 of a 256-bit random token: the token has all the entropy a slow
    # password hash would add, and every request checks it.
    token_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    token_issued_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_seen_at = models.DateTimeField(null=True, blank=True, editable=False)
    recording = models.BooleanField(default=False, editable=False, help_text="As the camera last reported.")
    live = models.BooleanField(default=False, editable=False, help_text="Publishing a live stream now.")
    active = models.BooleanField(default=True, help_text="An inactive device is refused and gets no commands.")

    objects = DeviceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)

    @property
    def has_token(self) -> bool:
        return bool(self.token_hash) and self.revoked_at is None

    @property
    def current_unit_id(self) -> int | None:
        """The unit the device rides in: its officer's unit for a body camera, else its own."""
        if self.officer_id is not None and self.officer is not None and self.officer.unit_id is not None:
            return self.officer.unit_id
        return self.unit_id

    @property
    def live_feed(self) -> str:
        """Where a supervisor watches this camera (the live wall opens its WHEP feed)."""
        return f"/wall/?camera={self.name}"


class DeviceEvent(models.Model):
    """A non-location event a device sent, stored once per device-chosen id."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="events")
    event_id = models.UUIDField()
    type = models.CharField(max_length=32, choices=[(t, t) for t in EVENT_TYPES])
    at = models.DateTimeField(help_text="When it happened, by the device's clock.")
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    accuracy_m = models.FloatField(null=True, blank=True)
    speed_mps = models.FloatField(null=True, blank=True)
    heading_deg = models.FloatField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["device", "event_id"], name="one_event_per_device_id")]

    def __str__(self) -> str:
        return f"{self.device} {self.type} {self.event_id}"


class Severity(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class ActivationRule(models.Model):
    """What a trigger makes happen: command the cameras, raise an alert, and whom it notifies."""

    trigger = models.CharField(max_length=32, unique=True, choices=[(t, t) for t in TRIGGERS])
    command_record = models.BooleanField(default=True, help_text="Command the unit's cameras to record.")
    command_stream = models.BooleanField(default=False, help_text="Command the unit's cameras to go live.")
    alert_severity = models.CharField(
        max_length=10, choices=Severity.choices, null=True, blank=True, help_text="Empty: raise no alert."
    )
    notify_dispatchers = models.BooleanField(default=True)
    notify_supervisors = models.BooleanField(default=True)
    notify_nearby_officers = models.BooleanField(
        default=False, help_text="Officers within the agency's alert radius see it with distance and bearing."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["trigger"]

    def __str__(self) -> str:
        return self.trigger

    @property
    def notify(self) -> list[str]:
        """Who the alert is for, as the consoles read it."""
        flags = (
            ("dispatchers", self.notify_dispatchers),
            ("supervisors", self.notify_supervisors),
            ("nearby_officers", self.notify_nearby_officers),
        )
        return [who for who, on in flags if on]


class Command(models.TextChoices):
    START_RECORDING = "start_recording", "Start recording"
    STOP_RECORDING = "stop_recording", "Stop recording"
    START_STREAM = "start_stream", "Start live stream"
    STOP_STREAM = "stop_stream", "Stop live stream"
    PROMPT_OK = "prompt_ok", "Ask 'are you OK?'"


class DeviceCommand(models.Model):
    """A command sent to a device, with its reason: the log of every command, and its outbox."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="commands")
    command = models.CharField(max_length=20, choices=Command.choices)
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    alert = models.ForeignKey("Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="commands")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["device", "delivered_at"])]

    def __str__(self) -> str:
        return f"{self.command} → {self.device}"

    def as_frame(self) -> dict:
        """The command as the device receives it (DESIGN.md, Telemetry over WebSocket)."""
        return {"type": "command", "command": self.command, "reason": self.reason}


class ProneOutcome(models.TextChoices):
    OK = "ok", "Officer answered OK"
    ALERT = "alert", "No answer: officer down"


class ProneWindow(models.Model):
    """An "are you OK?" prompt after a prone reading; silence until the deadline means officer down."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="prone_windows")
    unit = models.ForeignKey("dispatch.Unit", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    deadline = models.DateTimeField(db_index=True)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=ProneOutcome.choices, blank=True)
    closed_by = models.CharField(max_length=150, blank=True, help_text="Who answered: a user or a device.")

    class Meta:
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        return f"prone {self.device} {self.opened_at:%H:%M:%S}"


class AlertKind(models.TextChoices):
    OFFICER_DOWN = "officer_down", "Officer down"
    WEAPON_DRAWN = "weapon_drawn", "Weapon drawn"
    GUNSHOT = "gunshot", "Gunshot"
    PANIC = "panic", "Panic"
    FOOT_PURSUIT = "foot_pursuit", "Foot pursuit"
    STRUGGLE = "struggle", "Struggle"
    PRONE = "prone", "Prone"


class AlertStatus(models.TextChoices):
    RAISED = "raised", "Raised"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    FALSE_ALARM = "false_alarm", "Marked false"


# Raised → acknowledged → resolved | marked false (DESIGN.md, capability 5).
# An alert may be closed without a separate acknowledgement: resolving it says
# somebody has seen it.
ALERT_TRANSITIONS: dict[str, frozenset[str]] = {
    AlertStatus.RAISED: frozenset({AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED, AlertStatus.FALSE_ALARM}),
    AlertStatus.ACKNOWLEDGED: frozenset({AlertStatus.RESOLVED, AlertStatus.FALSE_ALARM}),
    AlertStatus.RESOLVED: frozenset(),
    AlertStatus.FALSE_ALARM: frozenset(),
}

OPEN_ALERT_STATUSES = frozenset({AlertStatus.RAISED, AlertStatus.ACKNOWLEDGED})

# Kinds that escalate when nobody acknowledges them within the agency's escalation_s.
ESCALATING_KINDS = frozenset({AlertKind.OFFICER_DOWN})


class AlertQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_ALERT_STATUSES)

    def unacknowledged(self):
        return self.filter(status=AlertStatus.RAISED)

    def with_details(self):
        return self.select_related(
            "unit", "officer", "device", "call", "acknowledged_by", "resolved_by", "event"
        ).order_by("-raised_at", "-id")


class Alert(models.Model):
    """An officer in danger, as dispatchers, supervisors and nearby officers see it."""

    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.HIGH)
    status = models.CharField(max_length=20, choices=AlertStatus.choices, default=AlertStatus.RAISED, db_index=True)
    unit = models.ForeignKey("dispatch.Unit", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    officer = models.ForeignKey(
        "dispatch.Officer", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    event = models.ForeignKey(DeviceEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    call = models.ForeignKey(
        "dispatch.Call",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
        help_text="The call the unit was working when the alert was raised.",
    )
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    raised_at = models.DateTimeField(default=timezone.now, db_index=True)
    notify = models.JSONField(default=list, blank=True, help_text="dispatchers, supervisors, nearby_officers")
    nearby = models.JSONField(
        default=list, blank=True, help_text="Units within the alert radius at raise time, with distance and bearing."
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_by_name = models.CharField(max_length=150, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_by_name = models.CharField(max_length=150, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.CharField(max_length=500, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at", "-id"]
        indexes = [models.Index(fields=["status", "escalated_at", "raised_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ALERT_STATUSES

    @property
    def live_feed(self) -> str | None:
        return self.device.live_feed if self.device_id else None


class ApproachRecording(models.Model):
    """Marks that a unit's cameras were told to record on approaching its call: once per assignment."""

    assignment = models.OneToOneField("dispatch.Assignment", on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    distance_m = models.FloatField()

    def __str__(self) -> str:
        return f"approach recording for assignment {self.assignment_id}"
