"""Session limits from the CJIS Security Policy, and who is asking, for the audit trail."""

import contextvars
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login

# The request being served, so audit rows written by signal receivers (role
# changes made in the admin) can name the person who made them.
current_request: contextvars.ContextVar = contextvars.ContextVar("beacon_request", default=None)

LAST_SEEN_KEY = "beacon_last_seen"


def idle_lock_applies(user) -> bool:
    """False for accounts an administrator exempted (a console in a secure room)."""
    profile = getattr(user, "beacon_profile", None)
    return not (profile and profile.idle_lock_exempt)


class SessionLimitsMiddleware:
    """Locks a session after SESSION_IDLE_SECONDS without a request.

    The 12-hour ceiling is the session cookie's age, set at sign-in and never
    extended (SESSION_SAVE_EVERY_REQUEST stays off).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = current_request.set(request)
        try:
            locked = self._lock_if_idle(request)
            if locked is not None:
                return locked
            return self.get_response(request)
        finally:
            current_request.reset(token)

    def _lock_if_idle(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        now = time.time()
        last_seen = request.session.get(LAST_SEEN_KEY)
        if last_seen and now - last_seen > settings.SESSION_IDLE_SECONDS and idle_lock_applies(user):
            request._beacon_logout_reason = "idle lock"
            logout(request)
            minutes = settings.SESSION_IDLE_SECONDS // 60
            messages.warning(
                request, f"Your session was locked after {minutes} minutes without activity. Sign in again."
            )
            if request.path.startswith("/api/"):
                return None  # the API answers 403 for an anonymous user by itself
            return redirect_to_login(request.get_full_path())
        # Write at most once a minute: a session save on every request is a
        # database write on every request.
        if not last_seen or now - last_seen > 60:
            request.session[LAST_SEEN_KEY] = now
        return None
