"""Open consoles' access, read again for many at once (events.access), by the rules of auth.get_user."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.access import still_allowed

pytestmark = pytest.mark.django_db


def signed_in(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_one_trip_tells_which_consoles_may_stay(make_user):
    keep = make_user("dana", "dispatcher")
    officer = make_user("olivia", "officer")
    demoted = make_user("dave", "dispatcher")
    gone = make_user("gina", "supervisor")
    repassed = make_user("pat", "dispatcher")
    expired = make_user("eve", "supervisor")
    pairs = {user.username: (signed_in(user), user.pk) for user in (keep, officer, demoted, gone, repassed, expired)}

    demoted.groups.remove(Group.objects.get(name="dispatcher"))
    Session.objects.filter(session_key=pairs["gina"][0]).delete()  # signed out
    repassed.set_password("a-new-password-1")
    repassed.save()
    Session.objects.filter(session_key=pairs["eve"][0]).update(expire_date=timezone.now() - timedelta(seconds=1))
    someone_elses = (pairs["dana"][0], officer.pk)  # a session key presented for another user

    with CaptureQueriesContext(connection) as queries:
        allowed = still_allowed([*pairs.values(), someone_elses, (None, keep.pk)])
    assert allowed == {pairs["dana"], pairs["olivia"]}
    assert len(queries) <= 3


def test_a_deactivated_account_may_not_stay(make_user):
    user = make_user("dana", "dispatcher")
    key = signed_in(user)
    assert still_allowed([(key, user.pk)]) == {(key, user.pk)}
    user.is_active = False
    user.save()
    assert still_allowed([(key, user.pk)]) == set()
