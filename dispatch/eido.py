"""A call as a NENA EIDO document (NENA-STA-021, standards/eido/openapi.yaml).

Every data component carries the common prologue ($id, lastUpdateTimeStamp,
updatedByAgencyReference); components point at each other by $id.
"""

from datetime import UTC, datetime
from html import escape
from xml.sax.saxutils import escape as xml_escape

from dispatch.models import Agency, Call, CallStatus, Unit

EIDO_CONTEXT = {"@vocab": "./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld"}


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _pidf_point(lat: float, lon: float, entity: str) -> str:
    """A PIDF-LO (RFC 4119 / 5491) document holding one WGS 84 point."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
        'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
        'xmlns:gml="http://www.opengis.net/gml" '
        f'entity="{xml_escape(entity, {chr(34): "&quot;"})}">'
        '<tuple id="location"><status><gp:geopriv><gp:location-info>'
        f'<gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>{lat:.6f} {lon:.6f}</gml:pos></gml:Point>'
        "</gp:location-info><gp:usage-rules/></gp:geopriv></status></tuple></presence>"
    )


def call_to_eido(call: Call) -> dict:
    """The call, its caller, notes, location, disposition and units as one EIDO document."""
    agency = Agency.current()
    agency_id = agency.identifier
    by_agency = {"$ref": agency_id}
    call_uid = f"urn:emergency:uid:incidentid:{call.number}:{agency_id}"

    def prologue(component_id: str, at: datetime) -> dict:
        return {"$id": component_id, "lastUpdateTimeStamp": _ts(at), "updatedByAgencyReference": by_agency}

    def uid(kind: str, local: object) -> str:
        return f"urn:emergency:uid:{kind}:{call.number}-{local}:{agency_id}"

    doc: dict = {
        **prologue(call_uid, call.updated_at),
        "eidoVersion": "1.0",
        "issuingElementIdentification": f"beacon.{agency_id}",
        "agencyComponent": [
            {
                **prologue(agency_id, call.updated_at),
                "agencyRoleDescriptionRegistryText": ["Dispatching"],
                "agencyType": ["police"],
                "incidentOwningAgencyIndicator": True,
            }
        ],
    }
    notes, locations, people, callbacks, resources, dispatches = [], [], [], [], [], []
    agents: dict[str, dict] = {}

    def agent(agent_id: str, role: str, at: datetime) -> dict:
        agents.setdefault(
            agent_id,
            {**prologue(agent_id, at), "agentRoleRegistryText": [role], "agencyReference": by_agency},
        )
        return {"$ref": agent_id}

    for note in call.notes.order_by("id"):
        notes.append(
            {**prologue(uid("noteid", note.pk), note.at), "notesActionComments": f"<p>{escape(note.text)}</p>"}
        )

    narrative_refs = [{"$ref": note["$id"]} for note in notes]
    incident_location = uid("locationid", "incident")
    has_location = bool(call.address) or call.lat is not None
    if has_location:
        location = {
            **prologue(incident_location, call.updated_at),
            "locationTypeDescriptionRegistryText": "Incident",
        }
        if call.lat is not None and call.lon is not None:
            location["locationByValue"] = _pidf_point(call.lat, call.lon, call_uid)
        if call.address:
            location["locationDescriptionText"] = call.address
        locations.append(location)

    if call.caller_name or call.caller_phone:
        caller = {**prologue(uid("personid", "caller"), call.created_at), "personIncidentRoleRegistryText": ["Caller"]}
        if call.caller_phone:
            callback_id = uid("callbackid", "caller")
            digits = "".join(ch for ch in call.caller_phone if ch.isdigit() or ch == "+")
            callbacks.append({**prologue(callback_id, call.created_at), "callBackInformationUri": [f"tel:{digits}"]})
            caller["callBackReference"] = {"$ref": callback_id}
        if call.caller_name:
            # The person component's name lives in NIEM nc:PersonType; a note
            # carries it without pulling NIEM into every consumer.
            name_note = uid("noteid", "caller")
            notes.append(
                {
                    **prologue(name_note, call.created_at),
                    "notesActionComments": f"<p>Caller: {escape(call.caller_name)}</p>",
                }
            )
            caller["notesReference"] = [{"$ref": name_note}]
        people.append(caller)

    for assignment in call.assignments.select_related("unit", "dispatched_by").order_by("id"):
        unit: Unit = assignment.unit
        resource_id = uid("resourceid", f"{unit.call_sign}-{assignment.pk}")
        latest = max(
            filter(
                None, [assignment.dispatched_at, assignment.en_route_at, assignment.on_scene_at, assignment.cleared_at]
            )
        )
        if assignment.is_active:
            primary, secondary, internal = unit.eido_primary_status, unit.eido_secondary_status, unit.status
        else:
            primary, secondary, internal = "Available", "ClearedFromIncident", "cleared"
        resource = {
            **prologue(resource_id, latest),
            "emergencyResourceName": unit.call_sign,
            "emergencyResourceTypeCommonRegistryText": "LawEnforcement",
            "emergencyResourceTypeInternalText": "patrol unit",
            "resourceAttributeRegistryText": ["Patrol"],
            "primaryUnitStatusRegistryText": primary,
            "secondaryUnitStatusRegistryText": [secondary],
            "unitStatusInternal": [internal],
            "agentReference": [
                agent(f"{officer.badge}.officer@{agency_id}", "Responding", latest)
                for officer in unit.officers.order_by("id")
            ],
        }
        if has_location:
            resource["unitDestinationReference"] = {"$ref": incident_location}
        if assignment.is_active and unit.position_at is not None:
            unit_location = uid("locationid", f"unit-{unit.call_sign}")
            locations.append(
                {
                    **prologue(unit_location, unit.position_at),
                    "locationTypeDescriptionRegistryText": "Unit",
                    "locationByValue": _pidf_point(unit.lat, unit.lon, resource_id),
                }
            )
            resource["unitLocationReference"] = {"$ref": unit_location}
        resources.append(resource)
        dispatch = {
            **prologue(uid("dispatchid", assignment.pk), assignment.dispatched_at),
            "agencyReference": by_agency,
            "emergencyResourceReference": [{"$ref": resource_id}],
        }
        if assignment.dispatched_by is not None:
            dispatcher = f"{assignment.dispatched_by.get_username()}@{agency_id}"
            dispatch["agentReference"] = agent(dispatcher, "Dispatching", assignment.dispatched_at)
            dispatch["updatedByAgentReference"] = {"$ref": dispatcher}
        dispatches.append(dispatch)

    incident = {
        **prologue(uid("incidentcomponentid", "main"), call.updated_at),
        "incidentTypeCommonRegistryText": call.incident_type.common_code,
        "incidentTypeInternalCode": call.incident_type.code,
        "incidentTypeInternalText": call.incident_type.name,
        "incidentStatusCommonRegistryText": [call.status],
        "internalIncidentId": call.number,
        "incidentCommonPriorityNumber": call.priority,
        "incidentPriorityInternalText": f"P{call.priority}",
    }
    if has_location:
        incident["locationReference"] = [{"$ref": incident_location}]
    if people:
        incident["personReference"] = [{"$ref": person["$id"]} for person in people]
    if narrative_refs:
        incident["notesReference"] = narrative_refs
    if call.status == CallStatus.CLOSED and call.disposition is not None:
        incident["dispositionComponent"] = [
            {
                **prologue(uid("dispositionid", call.disposition.code), call.closed_at or call.updated_at),
                "dispositionCommonRegistryCode": call.disposition.code,
                "dispositionPrimaryIndicator": True,
                "dispositionDescriptionText": call.disposition.name,
            }
        ]
    doc["incidentComponent"] = incident

    for key, items in [
        ("dispatchComponent", dispatches),
        ("emergencyResourceComponent", resources),
        ("agentComponent", list(agents.values())),
        ("notesComponent", notes),
        ("locationComponent", locations),
        ("personComponent", people),
        ("callbackComponent", callbacks),
    ]:
        if items:
            doc[key] = items
    doc["@context"] = EIDO_CONTEXT
    return doc
