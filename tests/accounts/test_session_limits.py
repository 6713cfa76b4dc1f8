"""CJIS session limits on both of the middleware's paths: idle lock, its exemption, and requests with no session."""

import time

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

from accounts.middleware import LAST_SEEN_KEY, SessionLimitsMiddleware
from accounts.models import Profile
from audit.models import AuditRecord

pytestmark = pytest.mark.django_db


class AsyncSessionLimits(SessionLimitsMiddleware):
    """The middleware with its async path switched on, as Django would run it in an all-async chain."""

    async_capable = True


@pytest.fixture(autouse=True)
def _both_paths(request, settings):
    """Async cases run the chain with the middleware in async mode (AsyncClient: an async handler)."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("asynchronous"):
        path = "accounts.middleware.SessionLimitsMiddleware"
        settings.MIDDLEWARE = [
            f"{__name__}.AsyncSessionLimits" if entry == path else entry for entry in settings.MIDDLEWARE
        ]


def signed_in(user, *, asynchronous: bool):
    """A client signed in as user; the async one goes through the middleware's async path."""
    client = Client()
    client.force_login(user)
    if not asynchronous:
        return client, client.get
    other = AsyncClient()
    other.cookies = client.cookies
    return other, async_to_sync(other.get)


def make_idle(client, settings) -> None:
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - settings.SESSION_IDLE_SECONDS - 1
    session.save()


def test_the_middleware_takes_the_mode_of_what_it_wraps():
    async def view(request):
        return None

    assert AsyncSessionLimits(view).is_async
    assert not SessionLimitsMiddleware(lambda request: None).is_async


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_an_idle_session_is_locked(make_user, settings, asynchronous):
    client, get = signed_in(make_user("dana", "dispatcher"), asynchronous=asynchronous)
    assert get("/console/").status_code == 200
    make_idle(client, settings)
    response = get("/console/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/console/")
    assert AuditRecord.objects.filter(action="logout", actor_name="dana", detail__reason="idle lock").exists()
    assert "_auth_user_id" not in client.session
    # Signed out: the next request is anonymous and asked to sign in.
    assert get("/console/")["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_an_exempted_console_is_not_locked_when_idle(make_user, settings, asynchronous):
    user = make_user("dana", "dispatcher")
    Profile.objects.update_or_create(user=user, defaults={"idle_lock_exempt": True})
    client, get = signed_in(user, asynchronous=asynchronous)
    assert get("/console/").status_code == 200
    make_idle(client, settings)
    assert get("/console/").status_code == 200
    assert not AuditRecord.objects.filter(action="logout", actor_name="dana").exists()
    # The request counted as activity.
    assert time.time() - client.session[LAST_SEEN_KEY] < 60


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_an_idle_api_session_is_signed_out_and_refused(make_user, settings, asynchronous):
    client, get = signed_in(make_user("dana", "dispatcher"), asynchronous=asynchronous)
    assert get("/api/v1/alerts/").status_code == 200
    make_idle(client, settings)
    assert get("/api/v1/alerts/").status_code == 403
    assert AuditRecord.objects.filter(action="logout", actor_name="dana", detail__reason="idle lock").exists()


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_last_seen_is_written_at_most_once_a_minute(make_user, asynchronous):
    client, get = signed_in(make_user("dana", "dispatcher"), asynchronous=asynchronous)
    get("/console/")
    first = client.session[LAST_SEEN_KEY]
    get("/console/")
    assert client.session[LAST_SEEN_KEY] == first
    session = client.session
    session[LAST_SEEN_KEY] = first - 61
    session.save()
    get("/console/")
    assert client.session[LAST_SEEN_KEY] > first - 61


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_request_without_a_session_cookie_does_not_touch_the_session(asynchronous):
    client = AsyncClient() if asynchronous else Client()
    get = async_to_sync(client.post) if asynchronous else client.post
    response = get("/api/v1/device/events", b"{}", content_type="application/json", HTTP_AUTHORIZATION="Bearer x")
    assert response.status_code == 401
    # SessionMiddleware adds "Cookie" to Vary only when something read the session.
    assert "Cookie" not in response.get("Vary", "")
    assert settings_cookie_name() not in response.cookies


def settings_cookie_name() -> str:
    from django.conf import settings

    return settings.SESSION_COOKIE_NAME
