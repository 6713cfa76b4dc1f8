"""The audit trail: append-only and hash-chained, so a removed or edited row shows.

CJIS Security Policy 5.4 asks for who, what, when, where from and the outcome
of logins, views of video and evidence, and changes of status, hold or role,
kept at least a year.
"""

import hashlib
import json

from django.conf import settings
from django.db import models


class AuditRecord(models.Model):
    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The name as typed or known at the time: failed sign-ins have no user row.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=32, default="ok")
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["actor_name", "action", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action} {self.target} {self.outcome}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit records are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit records are append-only.")

    def compute_hash(self) -> str:
        """SHA-256 over the previous row's hash and this row's content."""
        content = json.dumps(
            {
                "at": self.at.isoformat(),
                "actor": self.actor_id,
                "actor_name": self.actor_name,
                "action": self.action,
                "target": self.target,
                "outcome": self.outcome,
                "source_ip": self.source_ip,
                "detail": self.detail,
            },
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        return hashlib.sha256((self.previous_hash + content).encode()).hexdigest()
