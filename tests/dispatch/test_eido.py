"""Calls exported as NENA EIDO documents that validate against standards/eido/openapi.yaml."""

from pathlib import Path

import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from dispatch import services
from dispatch.avl import flush_positions, record_position
from dispatch.eido import call_to_eido
from dispatch.models import UnitStatus

EIDO_SPEC = Path("/work/shared/standards/eido/openapi.yaml")
if not EIDO_SPEC.exists():
    EIDO_SPEC = Path(__file__).resolve().parents[2] / "standards" / "eido" / "openapi.yaml"


@pytest.fixture(scope="module")
def eido_validator():
    spec = yaml.safe_load(EIDO_SPEC.read_text())
    # The published file has a typo, `minItems: 1,` (the string "1,"), on
    # AgentType.agentRoleRegistryText; the standard means 1. Without the
    # repair no validator can check an agent component at all.
    agent_roles = spec["components"]["schemas"]["AgentType"]["allOf"][1]["properties"]["agentRoleRegistryText"]
    assert agent_roles["minItems"] == "1,"
    agent_roles["minItems"] = 1
    schema = {
        "$ref": "#/components/schemas/EmergencyIncidentDataObjectType",
        "components": spec["components"],
    }
    return OAS30Validator(schema)


def errors_of(validator, document) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_a_new_call_is_a_valid_eido_document(eido_validator, make_call):
    document = call_to_eido(make_call())
    assert errors_of(eido_validator, document) == []
    assert document["eidoVersion"] == "1.0"
    assert document["incidentComponent"]["incidentTypeCommonRegistryText"] == "SHOOT"
    assert document["incidentComponent"]["incidentStatusCommonRegistryText"] == ["Active"]


def test_a_closed_call_with_units_notes_and_positions_is_a_valid_eido_document(
    eido_validator, make_call, make_unit, dispatcher, disposition
):
    call = make_call(narrative="Two shots heard <behind> the building.")
    first, second = make_unit("2A33"), make_unit("2A34")
    services.call_assign_unit(call=call, unit=first, actor=dispatcher)
    services.call_assign_unit(call=call, unit=second, actor=dispatcher)
    services.unit_change_status(unit=first, status=UnitStatus.ON_SCENE, actor=dispatcher)
    record_position(first.pk, 38.63, -90.2, at=call.created_at)
    flush_positions()
    services.call_add_note(call=call, actor=dispatcher, text="Suspect fled north.")

    open_document = call_to_eido(call)
    assert errors_of(eido_validator, open_document) == []
    resources = {r["emergencyResourceName"]: r for r in open_document["emergencyResourceComponent"]}
    assert resources["2A33"]["primaryUnitStatusRegistryText"] == "NotAvailable"
    assert resources["2A33"]["secondaryUnitStatusRegistryText"] == ["OnScene"]
    assert "unitLocationReference" in resources["2A33"]
    assert len(open_document["dispatchComponent"]) == 2
    agents = {a["$id"]: a for a in open_document["agentComponent"]}
    assert agents[resources["2A33"]["agentReference"][0]["$ref"]]["agentRoleRegistryText"] == ["Responding"]
    assert agents[open_document["dispatchComponent"][0]["agentReference"]["$ref"]]["agentRoleRegistryText"] == [
        "Dispatching"
    ]

    services.call_close(call=call, disposition=disposition, actor=dispatcher)
    call.refresh_from_db()
    closed_document = call_to_eido(call)
    assert errors_of(eido_validator, closed_document) == []
    incident = closed_document["incidentComponent"]
    assert incident["incidentStatusCommonRegistryText"] == ["Closed"]
    assert incident["dispositionComponent"][0]["dispositionCommonRegistryCode"] == "RPT"
    notes = [n["notesActionComments"] for n in closed_document["notesComponent"]]
    assert "<p>Two shots heard &lt;behind&gt; the building.</p>" in notes


def test_every_reference_in_the_document_points_at_a_component_in_it(make_call, make_unit, dispatcher):
    call = make_call()
    services.call_assign_unit(call=call, unit=make_unit("2A33"), actor=dispatcher)
    document = call_to_eido(call)
    ids, refs = set(), set()

    def walk(node):
        if isinstance(node, dict):
            if "$id" in node:
                ids.add(node["$id"])
            if set(node) == {"$ref"}:
                refs.add(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert refs <= ids


def test_the_validator_rejects_a_document_missing_a_required_part(eido_validator, make_call):
    document = call_to_eido(make_call())
    del document["agencyComponent"]
    assert errors_of(eido_validator, document)


def test_the_api_serves_the_eido_document_at_its_exact_path(client, dispatcher, make_call, eido_validator):
    call = make_call()
    client.force_login(dispatcher)
    response = client.get(f"/api/v1/calls/{call.pk}/eido")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert errors_of(eido_validator, response.json()) == []
