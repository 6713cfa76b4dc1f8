"""The console snapshot: open calls and every unit, as the REST API shows them."""

from dispatch import services
from dispatch.console import console_state
from dispatch.serializers import CallSerializer, UnitSerializer


def test_the_snapshot_has_open_calls_only_and_every_unit_with_position_and_age(
    make_call, make_unit, dispatcher, disposition
):
    open_call = make_call()
    closed_call = make_call()
    services.call_close(call=closed_call, disposition=disposition, actor=dispatcher)
    moving = make_unit("2A33", lat=38.63, lon=-90.2)
    parked = make_unit("2A34")
    services.call_assign_unit(call=open_call, unit=moving, actor=dispatcher)

    state = console_state()

    assert [c["number"] for c in state["calls"]] == [open_call.number]
    units = {u["call_sign"]: u for u in state["units"]}
    assert set(units) == {"2A33", "2A34"}
    assert units["2A33"]["position"]["lat"] == 38.63
    assert units["2A33"]["position"]["age_s"] >= 0
    assert units["2A33"]["call"]["number"] == open_call.number
    assert units["2A34"]["position"] is None
    assert parked.pk == units["2A34"]["id"]


def test_the_snapshot_uses_the_same_representation_as_the_api(make_call, make_unit, client, dispatcher):
    call = make_call()
    unit = make_unit("2A33")
    state = console_state()
    client.force_login(dispatcher)
    assert state["calls"][0] == client.get(f"/api/v1/calls/{call.pk}/").json()
    api_unit = client.get(f"/api/v1/units/{unit.pk}/").json()
    assert state["units"][0].keys() == api_unit.keys()
    assert CallSerializer(call).data.keys() == state["calls"][0].keys()
    assert UnitSerializer(unit).data["call_sign"] == "2A33"
