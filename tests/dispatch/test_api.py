"""The dispatch REST API: who may do what, and what a person reads when they may not."""

import pytest

from dispatch import services
from dispatch.models import Call, CallStatus, UnitStatus


@pytest.fixture
def api(client, dispatcher):
    client.force_login(dispatcher)
    return client


@pytest.fixture
def officer(make_user):
    return make_user("olivia", "officer")


def post(client, url, data=None):
    return client.post(url, data or {}, content_type="application/json")


def patch(client, url, data):
    return client.patch(url, data, content_type="application/json")


# Calls ---------------------------------------------------------------------


def test_a_dispatcher_takes_a_call_and_gets_its_number(api):
    response = post(
        api,
        "/api/v1/calls/",
        {
            "type": "SHOOT",
            "priority": 1,
            "address": "1200 Market St",
            "lat": 38.627,
            "lon": -90.1994,
            "caller_name": "Jane Roe",
            "caller_phone": "314-555-0100",
            "narrative": "Shots heard.",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"].endswith("-000001")
    assert body["status"] == "Active"
    assert body["type"] == {"code": "SHOOT", "name": body["type"]["name"], "apco_code": "SHOOT", "default_priority": 1}
    assert body["notes"][0]["text"] == "Shots heard."


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"type": "NOPE", "priority": 1}, "type", "no incident type with the code “NOPE”"),
        ({"type": "SHOOT", "priority": 7}, "priority", "less than or equal to 5"),
        ({"type": "SHOOT"}, "priority", "required"),
        ({"type": "SHOOT", "priority": 1, "lat": 38.6}, "lon", "latitude and longitude together"),
        ({"type": "SHOOT", "priority": 1, "lat": 123, "lon": 0}, "lat", "less than or equal to 90"),
        ({"type": "SHOOT", "priority": "urgent"}, "priority", "valid integer"),
    ],
)
def test_a_call_with_bad_fields_is_refused_naming_each_field(api, data, field, words):
    response = post(api, "/api/v1/calls/", data)
    assert response.status_code == 400
    assert words in " ".join(response.json()[field])
    assert not Call.objects.exists()


def test_a_body_that_is_not_json_is_a_400_not_a_500(api):
    response = api.post("/api/v1/calls/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_an_officer_cannot_take_a_call(client, officer):
    client.force_login(officer)
    response = post(client, "/api/v1/calls/", {"type": "SHOOT", "priority": 1})
    assert response.status_code == 403
    assert response.json() == {"detail": "This needs the dispatcher or supervisor role."}


def test_a_stranger_gets_nothing(client, make_call):
    make_call()
    assert client.get("/api/v1/calls/").status_code == 403
    assert client.get("/api/v1/units/").status_code == 403


def test_an_administrator_without_a_dispatch_role_is_refused(client, make_user):
    client.force_login(make_user("ada", "administrator"))
    assert client.get("/api/v1/calls/").status_code == 403


def test_the_call_list_filters_by_status_priority_and_openness(api, make_call, dispatcher, disposition):
    urgent = make_call(priority=1)
    routine = make_call(priority=4)
    services.call_close(call=routine, disposition=disposition, actor=dispatcher)

    def numbers(query):
        response = api.get(f"/api/v1/calls/{query}")
        assert response.status_code == 200
        return [c["number"] for c in response.json()["results"]]

    assert numbers("?open=true") == [urgent.number]
    assert numbers("?open=false") == [routine.number]
    assert numbers("?priority=4") == [routine.number]
    assert numbers("?status=Closed") == [routine.number]
    assert set(numbers("?status=Active,Closed")) == {urgent.number, routine.number}


def test_an_unknown_status_filter_is_a_400_naming_the_field(api):
    response = api.get("/api/v1/calls/?status=Burning")
    assert response.status_code == 400
    assert "status" in response.json()


def test_a_missing_call_is_a_404_with_a_sentence(api):
    response = api.get("/api/v1/calls/4242/")
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no call with id 4242."}


def test_a_dispatcher_changes_priority_and_type(api, make_call):
    call = make_call(priority=3)
    response = patch(api, f"/api/v1/calls/{call.pk}/", {"priority": 1, "type": "WEAPON"})
    assert response.status_code == 200
    assert response.json()["priority"] == 1
    assert response.json()["type"]["code"] == "WEAPON"


def test_changing_a_closed_call_is_a_409_with_a_sentence(api, make_call, dispatcher, disposition):
    call = make_call()
    services.call_close(call=call, disposition=disposition, actor=dispatcher)
    response = patch(api, f"/api/v1/calls/{call.pk}/", {"priority": 2})
    assert response.status_code == 409
    assert response.json() == {"detail": f"Call {call.number} is closed; reopen it before you change it."}


def test_notes_are_listed_and_appended(api, make_call):
    call = make_call()
    assert post(api, f"/api/v1/calls/{call.pk}/notes/", {"text": "Suspect fled north."}).status_code == 201
    notes = api.get(f"/api/v1/calls/{call.pk}/notes/").json()
    assert [n["text"] for n in notes] == ["Suspect fled north."]
    assert notes[0]["author_name"] == "dana"
    assert post(api, f"/api/v1/calls/{call.pk}/notes/", {"text": ""}).status_code == 400


def test_the_timeline_lists_every_change(api, make_call):
    call = make_call()
    patch(api, f"/api/v1/calls/{call.pk}/", {"priority": 2})
    actions = [entry["action"] for entry in api.get(f"/api/v1/calls/{call.pk}/timeline/").json()]
    assert actions == ["created", "updated"]


# Assign, close, cancel, reopen ----------------------------------------------


def test_assigning_a_unit_dispatches_it(api, make_call, make_unit):
    call, unit = make_call(), make_unit("2A33")
    response = post(api, f"/api/v1/calls/{call.pk}/assign/", {"unit": unit.pk})
    assert response.status_code == 200
    assert response.json()["status"] == CallStatus.RESOURCES_ASSIGNED
    assert response.json()["assignments"][0]["call_sign"] == "2A33"


def test_assigning_a_busy_unit_is_a_409_saying_where_it_is(api, make_call, make_unit, dispatcher):
    first, second, unit = make_call(), make_call(), make_unit("2A33")
    services.call_assign_unit(call=first, unit=unit, actor=dispatcher)
    response = post(api, f"/api/v1/calls/{second.pk}/assign/", {"unit": unit.pk})
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Unit 2A33 is dispatched on call {first.number}; only an available unit can be assigned."
    }


def test_assigning_a_unit_that_does_not_exist_is_a_400(api, make_call):
    response = post(api, f"/api/v1/calls/{make_call().pk}/assign/", {"unit": 999})
    assert response.status_code == 400
    assert response.json() == {"unit": ["There is no unit with id 999."]}


def test_closing_needs_a_known_disposition(api, make_call):
    call = make_call()
    assert post(api, f"/api/v1/calls/{call.pk}/close/", {}).json() == {"disposition": ["This field is required."]}
    response = post(api, f"/api/v1/calls/{call.pk}/close/", {"disposition": "MAYBE"})
    assert response.status_code == 400
    assert response.json() == {"disposition": ["There is no disposition with the code “MAYBE”."]}


def test_close_then_close_again_then_reopen(api, make_call, make_unit, dispatcher):
    call, unit = make_call(), make_unit("2A33")
    services.call_assign_unit(call=call, unit=unit, actor=dispatcher)
    response = post(api, f"/api/v1/calls/{call.pk}/close/", {"disposition": "ARR"})
    assert response.status_code == 200
    assert response.json()["status"] == "Closed"
    assert response.json()["disposition"]["code"] == "ARR"
    assert api.get(f"/api/v1/units/{unit.pk}/").json()["status"] == "available"

    again = post(api, f"/api/v1/calls/{call.pk}/close/", {"disposition": "ARR"})
    assert again.status_code == 409
    assert again.json() == {"detail": f"Call {call.number} is already closed."}

    reopened = post(api, f"/api/v1/calls/{call.pk}/reopen/", {"reason": "Suspect returned"})
    assert reopened.status_code == 200
    assert reopened.json()["status"] == "ReOpened"


def test_a_cancelled_call_cannot_be_reopened(api, make_call):
    call = make_call()
    assert post(api, f"/api/v1/calls/{call.pk}/cancel/", {"reason": "Duplicate"}).json()["status"] == "Cancelled"
    response = post(api, f"/api/v1/calls/{call.pk}/reopen/")
    assert response.status_code == 409
    assert response.json() == {"detail": f"Call {call.number} cannot go from cancelled to reopened."}


def test_reopening_an_open_call_is_a_409(api, make_call):
    call = make_call()
    response = post(api, f"/api/v1/calls/{call.pk}/reopen/")
    assert response.status_code == 409
    assert response.json()["detail"] == f"Call {call.number} cannot go from active to reopened."


def test_a_supervisor_may_dispatch_too(client, make_user, make_call, make_unit):
    client.force_login(make_user("sue", "supervisor"))
    call, unit = make_call(), make_unit("2A33")
    assert post(client, f"/api/v1/calls/{call.pk}/assign/", {"unit": unit.pk}).status_code == 200


# Recommendation ----------------------------------------------------------------


def test_recommend_lists_available_units_nearest_first(api, make_call, make_unit):
    call = make_call(lat=38.627, lon=-90.1994)
    make_unit("FAR", lat=38.70, lon=-90.30)
    make_unit("NEAR", lat=38.628, lon=-90.199)
    body = api.get(f"/api/v1/calls/{call.pk}/recommend/").json()
    assert [r["unit"]["call_sign"] for r in body] == ["NEAR", "FAR"]
    assert body[0]["distance_m"] < body[1]["distance_m"]
    assert body[0]["fix_age_s"] >= 0


def test_recommend_for_a_call_without_coordinates_says_what_is_missing(api, make_call):
    call = make_call(lat=None, lon=None)
    response = api.get(f"/api/v1/calls/{call.pk}/recommend/")
    assert response.status_code == 409
    assert "add its latitude and longitude" in response.json()["detail"]


# Officers ----------------------------------------------------------------------


@pytest.fixture
def officer_on_call(client, officer, make_unit, make_call, dispatcher):
    unit = make_unit("2A33", user=officer)
    call = make_call()
    services.call_assign_unit(call=call, unit=unit, actor=dispatcher)
    client.force_login(officer)
    return client, unit, call


def test_an_officer_sees_only_their_calls_and_their_unit(officer_on_call, make_call, make_unit):
    client, unit, call = officer_on_call
    other_call = make_call()
    other_unit = make_unit("2A34")
    assert [c["id"] for c in client.get("/api/v1/calls/").json()["results"]] == [call.pk]
    assert [u["id"] for u in client.get("/api/v1/units/").json()["results"]] == [unit.pk]
    assert client.get(f"/api/v1/calls/{other_call.pk}/").status_code == 404
    assert client.get(f"/api/v1/units/{other_unit.pk}/").status_code == 404


def test_an_officer_changes_their_own_units_status(officer_on_call):
    client, unit, call = officer_on_call
    response = post(client, f"/api/v1/units/{unit.pk}/status/", {"status": "en_route"})
    assert response.status_code == 200
    assert response.json()["status"] == "en_route"
    assert response.json()["eido_primary_status"] == "NotAvailable"
    assert client.get(f"/api/v1/calls/{call.pk}/").json()["status"] == CallStatus.RESOURCES_ENROUTE


def test_an_officer_cannot_change_another_units_status(officer_on_call, make_unit):
    client, _, _ = officer_on_call
    other = make_unit("2A34")
    response = post(client, f"/api/v1/units/{other.pk}/status/", {"status": "busy"})
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.status == UnitStatus.AVAILABLE


def test_an_illegal_status_move_is_a_409_with_a_sentence(officer_on_call):
    client, unit, _ = officer_on_call
    response = post(client, f"/api/v1/units/{unit.pk}/status/", {"status": "off_duty"})
    assert response.status_code == 409
    assert response.json() == {"detail": "Unit 2A33 cannot go from dispatched to off duty."}


def test_an_unknown_status_is_a_400(officer_on_call):
    client, unit, _ = officer_on_call
    response = post(client, f"/api/v1/units/{unit.pk}/status/", {"status": "napping"})
    assert response.status_code == 400
    assert response.json() == {"status": ['"napping" is not a valid choice.']}


def test_an_officer_adds_notes_to_their_call_only(officer_on_call, dispatcher):
    client, unit, call = officer_on_call
    assert post(client, f"/api/v1/calls/{call.pk}/notes/", {"text": "Arrived, quiet."}).status_code == 201
    services.unit_change_status(unit=unit, status=UnitStatus.AVAILABLE, actor=dispatcher)
    response = post(client, f"/api/v1/calls/{call.pk}/notes/", {"text": "Back again."})
    assert response.status_code == 403
    assert response.json() == {"detail": "Officers can add notes only to the call their unit is on."}


def test_an_officer_cannot_assign_close_or_read_recommendations(officer_on_call, make_unit):
    client, _, call = officer_on_call
    assert post(client, f"/api/v1/calls/{call.pk}/assign/", {"unit": make_unit("2A34").pk}).status_code == 403
    assert post(client, f"/api/v1/calls/{call.pk}/close/", {"disposition": "RPT"}).status_code == 403
    assert client.get(f"/api/v1/calls/{call.pk}/recommend/").status_code == 403
    assert patch(client, f"/api/v1/calls/{call.pk}/", {"priority": 5}).status_code == 403
