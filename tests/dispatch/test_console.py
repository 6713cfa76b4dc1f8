"""The console snapshot: open calls and every unit, in the REST API's representation less what no console reads."""

from dispatch import services
from dispatch.console import console_state
from dispatch.models import UnitStatus


def assert_api_subset(row, api, where="row"):
    """Every field of the console's row is in the API's representation, with the same value."""
    if isinstance(row, dict):
        assert isinstance(api, dict), where
        for key, value in row.items():
            assert key in api, f"{where}.{key} is not in the API's representation"
            assert_api_subset(value, api[key], f"{where}.{key}")
    elif isinstance(row, list):
        assert isinstance(api, list) and len(row) == len(api), where
        for index, (item, api_item) in enumerate(zip(row, api, strict=True)):
            assert_api_subset(item, api_item, f"{where}[{index}]")
    else:
        assert row == api, f"{where}: {row!r} in the snapshot, {api!r} in the API"


def test_the_snapshot_has_open_calls_only_and_every_unit_with_position_and_call(
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
    assert units["2A33"]["position"]["at"]
    assert units["2A33"]["call"]["number"] == open_call.number
    assert units["2A33"]["officers"][0]["name"] == "Officer 2A33"
    assert units["2A34"]["position"] is None
    assert units["2A34"]["call"] is None
    assert parked.pk == units["2A34"]["id"]
    assert [a["call_sign"] for a in state["calls"][0]["assignments"] if a["active"]] == ["2A33"]


def test_open_calls_come_most_urgent_first_then_newest(make_call):
    old_p3, p1, new_p3 = make_call(priority=3), make_call(priority=1), make_call(priority=3)
    assert [c["id"] for c in console_state()["calls"]] == [p1.pk, new_p3.pk, old_p3.pk]


def test_every_field_of_the_snapshot_is_the_apis_with_the_same_value(
    make_call, make_unit, client, dispatcher, disposition
):
    call = make_call(narrative="Two people fighting in the lobby.")
    moving = make_unit("2A33", lat=38.63, lon=-90.2)
    make_unit("2A34")
    services.call_assign_unit(call=call, unit=moving, actor=dispatcher)
    cleared = make_unit("2A35")
    services.call_assign_unit(call=call, unit=cleared, actor=dispatcher)
    services.unit_change_status(unit=cleared, status=UnitStatus.EN_ROUTE, actor=dispatcher)
    services.unit_change_status(unit=cleared, status=UnitStatus.AVAILABLE, actor=dispatcher)  # cleared
    state = console_state()
    client.force_login(dispatcher)

    for row in state["calls"]:
        assert_api_subset(row, client.get(f"/api/v1/calls/{row['id']}/").json(), f"call {row['number']}")
    for row in state["units"]:
        assert_api_subset(row, client.get(f"/api/v1/units/{row['id']}/").json(), f"unit {row['call_sign']}")
    assert state["calls"][0]["notes"][0]["text"] == "Two people fighting in the lobby."


def test_the_snapshot_has_every_field_the_consoles_read(make_call, make_unit):
    make_call()
    make_unit("2A33", lat=38.63, lon=-90.2)
    state = console_state()
    # What dispatch-console.js, mdt.js and live-wall.js read from a snapshot row.
    call_fields = "id number type priority status_label is_open address lat lon caller_name caller_phone created_at"
    assert {*call_fields.split(), "assignments", "notes"} <= set(state["calls"][0])
    assert {"name"} <= set(state["calls"][0]["type"])
    assert {"id", "call_sign", "status", "officers", "position", "call"} <= set(state["units"][0])
    assert {"lat", "lon", "at"} <= set(state["units"][0]["position"])
