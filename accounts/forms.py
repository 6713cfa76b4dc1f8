"""The sign-in form, with the CJIS lockout."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from audit.models import AuditRecord
from audit.services import audit_record


def recent_failures(username: str) -> list:
    """Failed sign-ins for this name inside the window, since its last success or unlock."""
    since = timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    reset = (
        AuditRecord.objects.filter(actor_name__iexact=username, action__in=["login", "login.unlocked"], at__gte=since)
        .order_by("-id")
        .values_list("at", flat=True)
        .first()
    )
    failures = AuditRecord.objects.filter(
        actor_name__iexact=username, action="login.failed", at__gte=reset or since
    ).order_by("at")
    return list(failures.values_list("at", flat=True))


class SignInForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "That user name and password do not match. Check them and try again; "
        "after %(limit)s failures in %(window)s minutes the account is locked.",
        "inactive": "This account is disabled. Ask an administrator to enable it.",
        "locked": "This account is locked after %(limit)s failed sign-ins. Try again in %(minutes)s "
        "minutes, or ask an administrator to unlock it.",
    }

    def clean(self):
        username = (self.cleaned_data.get("username") or "").strip()
        password = self.cleaned_data.get("password")
        if username and password:
            failures = recent_failures(username)
            if len(failures) >= settings.LOGIN_FAILURE_LIMIT:
                unlock_at = failures[-settings.LOGIN_FAILURE_LIMIT] + timedelta(
                    seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS
                )
                minutes = max(1, int((unlock_at - timezone.now()).total_seconds() // 60) + 1)
                audit_record(action="login.refused", actor_name=username, outcome="locked", request=self.request)
                raise forms.ValidationError(
                    self.error_messages["locked"],
                    code="locked",
                    params={"limit": settings.LOGIN_FAILURE_LIMIT, "minutes": minutes},
                )
        try:
            return super().clean()
        except forms.ValidationError:
            if username:
                audit_record(action="login.failed", actor_name=username, outcome="failed", request=self.request)
            raise

    def get_invalid_login_error(self):
        return forms.ValidationError(
            self.error_messages["invalid_login"],
            code="invalid_login",
            params={
                "limit": settings.LOGIN_FAILURE_LIMIT,
                "window": settings.LOGIN_FAILURE_WINDOW_SECONDS // 60,
            },
        )
