"""The dispatch admin: every model has a page an administrator can open."""

import pytest
from django.contrib import admin
from django.urls import reverse

from dispatch import services
from dispatch.models import Call, Unit, UnitStatus

DISPATCH_MODELS = [model for model in admin.site._registry if model._meta.app_label == "dispatch"]


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("ada", "administrator", is_staff=True, is_superuser=True))
    return client


def test_every_dispatch_model_is_in_the_admin():
    from django.apps import apps

    assert set(apps.get_app_config("dispatch").get_models()) == set(DISPATCH_MODELS)


@pytest.mark.parametrize("model", DISPATCH_MODELS, ids=lambda m: m._meta.model_name)
def test_each_list_page_opens_with_data(admin_client, model, make_call, make_unit, dispatcher):
    call = make_call(narrative="Shots heard.")
    services.call_assign_unit(call=call, unit=make_unit("2A33", lat=38.6, lon=-90.2), actor=dispatcher)
    url = reverse(f"admin:dispatch_{model._meta.model_name}_changelist")
    assert admin_client.get(url).status_code == 200


def test_a_call_opens_read_only_with_its_units_notes_and_timeline(admin_client, make_call):
    call = make_call(narrative="Shots heard.")
    page = admin_client.get(reverse("admin:dispatch_call_change", args=[call.pk]))
    assert page.status_code == 200
    assert b"Shots heard." in page.content
    assert admin_client.post(reverse("admin:dispatch_call_change", args=[call.pk]), {"priority": 5}).status_code == 403
    assert Call.objects.get(pk=call.pk).priority == 1


def test_a_units_status_cannot_be_edited_in_the_admin(admin_client, make_unit, agency):
    unit = make_unit("2A33")
    response = admin_client.post(
        reverse("admin:dispatch_unit_change", args=[unit.pk]),
        {
            "agency": agency.pk,
            "call_sign": "2A33",
            "status": UnitStatus.OFF_DUTY,
            "officers-TOTAL_FORMS": 0,
            "officers-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302
    assert Unit.objects.get(pk=unit.pk).status == UnitStatus.AVAILABLE
