"""What Beacon keeps about a user beyond Django's own account."""

from django.conf import settings
from django.db import models


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="beacon_profile")
    # CJIS 5.5.5 allows a session that never idles out on a console inside a
    # physically secure dispatch room; an administrator grants it, audited.
    idle_lock_exempt = models.BooleanField(
        default=False,
        help_text="Console in a physically secure room: the session does not lock after 30 minutes idle.",
    )

    def __str__(self) -> str:
        return f"Profile of {self.user}"
