"""Sign-in, the page each role lands on, and the pages each role is refused."""

import pytest
from django.urls import reverse

from audit.models import AuditRecord
from audit.services import audit_chain_breaks

PAGES = {
    "dispatcher": "/console/",
    "supervisor": "/wall/",
    "officer": "/mdt/",
    "administrator": "/admin/",
}


@pytest.mark.parametrize("role", PAGES)
def test_each_role_lands_on_its_own_page(client, make_user, role):
    make_user("someone", role, is_staff=role == "administrator")
    response = client.post(reverse("login"), {"username": "someone", "password": "pw-for-tests-1"}, follow=True)
    assert response.redirect_chain[-1][0] == PAGES[role]
    assert response.status_code == 200


@pytest.mark.parametrize("role", PAGES)
@pytest.mark.parametrize("page_role", PAGES)
def test_each_role_is_refused_the_pages_of_the_others(client, make_user, role, page_role):
    if role == page_role:
        return
    user = make_user("someone", role, is_staff=role == "administrator")
    client.force_login(user)
    response = client.get(PAGES[page_role])
    if page_role == "administrator":
        # The admin sends non-staff users to its own sign-in page.
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
    else:
        assert response.status_code == 403
        assert f"This page is for the {page_role} role." in response.content.decode()


def test_a_page_asks_an_anonymous_visitor_to_sign_in(client):
    response = client.get("/console/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/console/")


def test_a_user_without_a_role_gets_a_clear_page(client, make_user):
    client.force_login(make_user("newcomer"))
    response = client.get("/", follow=True)
    assert response.status_code == 403
    assert "Your account has no role yet" in response.content.decode()


def test_a_wrong_password_says_what_to_do_and_is_audited(client, make_user):
    make_user("dana", "dispatcher")
    response = client.post(reverse("login"), {"username": "dana", "password": "wrong"})
    assert response.status_code == 200
    assert "That user name and password do not match" in response.content.decode()
    assert AuditRecord.objects.filter(action="login.failed", actor_name="dana").count() == 1


def test_five_failures_in_fifteen_minutes_lock_the_account(client, make_user):
    make_user("dana", "dispatcher")
    for _ in range(5):
        client.post(reverse("login"), {"username": "dana", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "dana", "password": "pw-for-tests-1"})
    page = response.content.decode()
    assert "This account is locked after 5 failed sign-ins" in page
    assert "_auth_user_id" not in client.session
    assert AuditRecord.objects.filter(action="login.refused", actor_name="dana").exists()


def test_a_successful_sign_in_is_audited_and_the_chain_holds(client, make_user):
    make_user("dana", "dispatcher")
    client.post(reverse("login"), {"username": "dana", "password": "pw-for-tests-1"})
    assert AuditRecord.objects.filter(action="login", actor_name="dana", outcome="ok").exists()
    assert audit_chain_breaks() == []


def test_tampering_with_the_audit_trail_shows(client, make_user):
    make_user("dana", "dispatcher")
    client.post(reverse("login"), {"username": "dana", "password": "wrong"})
    client.post(reverse("login"), {"username": "dana", "password": "pw-for-tests-1"})
    first = AuditRecord.objects.order_by("id").first()
    AuditRecord.objects.filter(pk=first.pk).update(outcome="tampered")
    assert first.pk in audit_chain_breaks()


def test_an_idle_session_is_locked_after_thirty_minutes(client, make_user, settings):
    user = make_user("dana", "dispatcher")
    client.force_login(user)
    assert client.get("/console/").status_code == 200
    session = client.session
    session["beacon_last_seen"] -= settings.SESSION_IDLE_SECONDS + 1
    session.save()
    response = client.get("/console/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert AuditRecord.objects.filter(action="logout", actor_name="dana", detail__reason="idle lock").exists()


def test_a_role_change_is_audited_with_who_made_it(client, make_user):
    from django.contrib.auth.models import Group

    admin = make_user("root", "administrator", is_staff=True, is_superuser=True)
    dana = make_user("dana")
    client.force_login(admin)
    response = client.post(
        f"/admin/auth/user/{dana.pk}/change/",
        {
            "username": "dana",
            "is_active": "on",
            "groups": [Group.objects.get(name="supervisor").pk],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "beacon_profile-TOTAL_FORMS": "1",
            "beacon_profile-INITIAL_FORMS": "0",
            "beacon_profile-MIN_NUM_FORMS": "0",
            "beacon_profile-MAX_NUM_FORMS": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    record = AuditRecord.objects.filter(action="role.changed", target="user:dana").latest("id")
    assert record.actor_name == "root"
    assert record.detail["groups"] == ["supervisor"]


def test_the_administrator_role_opens_the_admin_without_a_staff_flag(client, make_user):
    client.force_login(make_user("ada", "administrator"))
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/dispatch/unit/").status_code == 200


def test_a_staff_flag_without_the_administrator_role_does_not_open_the_admin(client, make_user):
    client.force_login(make_user("sam", "supervisor", is_staff=True))
    assert client.get("/admin/").status_code == 302
