"""Live video's records: each camera publication (WHIP) and each viewing session (WHEP).

The relay's peer connections live in one process; these rows are what every
process (and the audit) knows about them. A camera is live while its
`LiveStream` is open and its owning node keeps `seen_at` fresh.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

# The owning node refreshes its open streams this often; a stream not refreshed
# for STREAM_STALE_AFTER belongs to a node that died, and is closed by any other.
STREAM_REFRESH_SECONDS = 10
STREAM_STALE_AFTER = timedelta(seconds=30)


class ViewReason(models.TextChoices):
    """Why someone watches a camera; recorded with every viewing (DESIGN.md, Live video)."""

    ALERT = "alert", "Alert"
    SUPERVISION = "supervision", "Supervision"
    INVESTIGATION = "investigation", "Investigation"
    TRAINING = "training", "Training"
    OFFICER_REQUEST = "officer_request", "Officer's request"


class LiveStreamQuerySet(models.QuerySet):
    def open(self):
        """Publications not ended whose node still vouches for them."""
        return self.filter(ended_at__isnull=True, seen_at__gte=timezone.now() - STREAM_STALE_AFTER)

    def stale(self):
        """Publications left open by a node that stopped refreshing them (it crashed or was killed)."""
        return self.filter(ended_at__isnull=True, seen_at__lt=timezone.now() - STREAM_STALE_AFTER)


class LiveStream(models.Model):
    """One WHIP publication of a camera, on the node that relays it."""

    device = models.ForeignKey("alerts.Device", on_delete=models.PROTECT, related_name="live_streams")
    resource = models.CharField(max_length=64, unique=True, help_text="The WHIP session's id in its URL.")
    node = models.CharField(max_length=200, help_text="Base URL of the relay process that owns it.")
    codec = models.CharField(max_length=40, blank=True, help_text="Video codec, e.g. video/VP8.")
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(default=timezone.now, help_text="Last time the owning node vouched for it.")
    published_by = models.CharField(max_length=150, blank=True, help_text="The device token, or the signed-in user.")

    objects = LiveStreamQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["device", "ended_at"])]

    def __str__(self) -> str:
        return f"{self.device} live from {self.started_at:%Y-%m-%d %H:%M:%S}"


class LiveSession(models.Model):
    """One WHEP viewing of a camera: who, which camera, when, how long, why."""

    viewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="live_sessions")
    viewer_name = models.CharField(max_length=150, help_text="The viewer's name when they watched.")
    device = models.ForeignKey("alerts.Device", on_delete=models.PROTECT, related_name="live_sessions")
    reason = models.CharField(max_length=20, choices=ViewReason.choices)
    resource = models.CharField(max_length=64, unique=True, help_text="The WHEP session's id in its URL.")
    node = models.CharField(max_length=200, help_text="Base URL of the relay process that served it.")
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["device", "ended_at"])]

    def __str__(self) -> str:
        return f"{self.viewer_name} watched {self.device} ({self.reason})"

    @property
    def duration_s(self) -> float | None:
        """How long the viewing lasted, in seconds; None while it goes on."""
        if self.ended_at is None:
            return None
        return round((self.ended_at - self.started_at).total_seconds(), 1)
