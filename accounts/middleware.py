"""Session limits from the CJIS Security Policy, and who is asking, for the audit trail."""

import contextvars
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import alogout, logout
from django.contrib.auth.views import redirect_to_login

# The request being served, so audit rows written by signal receivers (role
# changes made in the admin) can name the person who made them.
current_request: contextvars.ContextVar = contextvars.ContextVar("beacon_request", default=None)

LAST_SEEN_KEY = "beacon_last_seen"


def idle_lock_applies(user) -> bool:
    """False for accounts an administrator exempted (a console in a secure room)."""
    profile = getattr(user, "beacon_profile", None)
    return not (profile and profile.idle_lock_exempt)


async def aidle_lock_applies(user) -> bool:
    """idle_lock_applies from async code (the profile is read with the async ORM unless already loaded)."""
    from accounts.models import Profile

    if type(user).beacon_profile.is_cached(user):
        return idle_lock_applies(user)
    return not await Profile.objects.filter(user_id=user.pk, idle_lock_exempt=True).aexists()


def _has_session(request) -> bool:
    """False for a request without a session cookie (a device with its bearer token): it has no session to limit.

    Without the cookie the session is empty and the user anonymous, so there
    is nothing to lock; reading them would only mark the session accessed.
    """
    return settings.SESSION_COOKIE_NAME in request.COOKIES


class SessionLimitsMiddleware:
    """Locks a session after SESSION_IDLE_SECONDS without a request.

    The 12-hour ceiling is the session cookie's age, set at sign-in and never
    extended (SESSION_SAVE_EVERY_REQUEST stays off).

    Both paths apply the same rules; Django runs it synchronously here (see
    async_capable). A request without a session cookie (a device with its
    bearer token) is let through without reading the session or the user.
    """

    sync_capable = True
    # Off on purpose, measured (uvicorn, POST /api/v1/device/events): WhiteNoise,
    # outside this middleware, is sync-only, so the chain is split there anyway.
    # Async-capable here, every MiddlewareMixin between WhiteNoise and the view
    # would run its hooks in async mode, one thread hop per hook (about ten per
    # request): 2.1-2.7 ms of CPU a request against 1.2-1.6 ms with this one
    # sync, where Session...SessionLimits run in one thread after one hop. Turn
    # it on once everything outside it is async-capable.
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        token = current_request.set(request)
        try:
            locked = self._lock_if_idle(request)
            if locked is not None:
                return locked
            return self.get_response(request)
        finally:
            current_request.reset(token)

    async def __acall__(self, request):
        token = current_request.set(request)
        try:
            locked = await self._alock_if_idle(request)
            if locked is not None:
                return locked
            return await self.get_response(request)
        finally:
            current_request.reset(token)

    def _lock_if_idle(self, request):
        if not _has_session(request):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        now = time.time()
        last_seen = request.session.get(LAST_SEEN_KEY)
        if last_seen and now - last_seen > settings.SESSION_IDLE_SECONDS and idle_lock_applies(user):
            request._beacon_logout_reason = "idle lock"
            logout(request)
            return self._locked(request)
        # Write at most once a minute: a session save on every request is a
        # database write on every request.
        if not last_seen or now - last_seen > 60:
            request.session[LAST_SEEN_KEY] = now
        return None

    async def _alock_if_idle(self, request):
        if not _has_session(request) or not hasattr(request, "auser"):
            return None
        user = await request.auser()
        if user is None or not user.is_authenticated:
            return None
        now = time.time()
        last_seen = await request.session.aget(LAST_SEEN_KEY)
        if last_seen and now - last_seen > settings.SESSION_IDLE_SECONDS and await aidle_lock_applies(user):
            request._beacon_logout_reason = "idle lock"
            await alogout(request)
            return self._locked(request)
        if not last_seen or now - last_seen > 60:
            await request.session.aset(LAST_SEEN_KEY, now)
        return None

    @staticmethod
    def _locked(request):
        minutes = settings.SESSION_IDLE_SECONDS // 60
        messages.warning(request, f"Your session was locked after {minutes} minutes without activity. Sign in again.")
        if request.path.startswith("/api/"):
            return None  # the API answers 403 for an anonymous user by itself
        return redirect_to_login(request.get_full_path())
