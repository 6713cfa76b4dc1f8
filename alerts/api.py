"""Alerts and device API (/api/v1/): parse, call a service, serialize.

Dispatchers and supervisors see, acknowledge, resolve and mark alerts false.
Officers see alerts, answer their own unit's "are you OK?" prompt and respond
to a colleague's alert. Supervisors and administrators list devices. Cameras
post telemetry with their bearer token.
"""

import json
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.http.request import RawPostDataException
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins
from rest_framework import status as http
from rest_framework.exceptions import NotAuthenticated, NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Role, has_role
from alerts import services
from alerts.auth import INVALID_TOKEN, NO_TOKEN, DeviceTokenAuthentication, bearer_token
from alerts.models import Alert, Device
from alerts.serializers import (
    AlertFilterSerializer,
    AlertSerializer,
    DetailSerializer,
    DeviceEventSerializer,
    DeviceSerializer,
    IngestAnswerSerializer,
    ResolveSerializer,
)
from alerts.telemetry import (
    MAX_BATCH,
    MAX_BODY_BYTES,
    BadBody,
    DeviceEventIn,
    Rejection,
    load_body,
    parse_events,
)
from audit.services import client_ip
from dispatch.models import Unit
from dispatch.serializers import AssignmentSerializer

READERS = (Role.DISPATCHER, Role.SUPERVISOR, Role.OFFICER)
CONTROLLERS = (Role.DISPATCHER, Role.SUPERVISOR)


class HasRole(BasePermission):
    """Let a request through when the user holds one of the view's roles for its method."""

    def has_permission(self, request, view) -> bool:
        roles = view.read_roles if request.method in SAFE_METHODS else view.write_roles
        self.message = "This needs the " + " or ".join(role.value for role in roles) + " role."
        return has_role(request.user, *roles)


class AlertView(GenericAPIView):
    permission_classes = [HasRole]
    read_roles = READERS
    write_roles = CONTROLLERS
    serializer_class = AlertSerializer

    def get_alert(self, pk: int) -> Alert:
        alert = Alert.objects.with_details().filter(pk=pk).first()
        if alert is None:
            raise NotFound(f"There is no alert with id {pk}.")
        return alert

    def alert_response(self, alert: Alert) -> Response:
        return Response(services.alert_data(alert))


CONFLICT = OpenApiResponse(
    DetailSerializer,
    description="Refused state change",
    examples=[
        OpenApiExample(
            "Already resolved", value={"detail": "Alert #12 (officer down) is resolved; it cannot be acknowledged now."}
        )
    ],
)

ALERT_EXAMPLE = OpenApiExample(
    "Officer down, raised",
    response_only=True,
    value={
        "id": 12,
        "kind": "officer_down",
        "kind_label": "Officer down",
        "severity": "high",
        "status": "raised",
        "status_label": "Raised",
        "unit": 3,
        "unit_call_sign": "2A33",
        "officer": 5,
        "officer_name": "Officer Ruiz",
        "device_name": "bc-1234",
        "live_feed": "/wall/?camera=bc-1234",
        "call": 41,
        "call_number": "26-000123",
        "lat": 38.627,
        "lon": -90.1994,
        "raised_at": "2026-03-01T14:05:09Z",
        "notify": ["dispatchers", "supervisors", "nearby_officers"],
        "nearby": [{"unit": 4, "call_sign": "2A40", "distance_m": 1210, "bearing_deg": 78}],
        "acknowledged_by_name": "",
        "acknowledged_at": None,
        "resolved_by_name": "",
        "resolved_at": None,
        "resolution_note": "",
        "escalated_at": None,
    },
)


class AlertListView(mixins.ListModelMixin, AlertView):  # the mixin marks it a paginated list in the schema
    @extend_schema(
        summary="List alerts, newest first",
        parameters=[
            OpenApiParameter("status", str, many=True, description="raised, acknowledged, resolved, false_alarm"),
            OpenApiParameter("open", bool, description="true: raised or acknowledged; false: closed"),
        ],
        examples=[ALERT_EXAMPLE],
    )
    def get(self, request):
        query = request.query_params.copy()
        query.setlist("status", [s for value in query.getlist("status") for s in value.split(",") if s])
        filters = AlertFilterSerializer(data=query)
        filters.is_valid(raise_exception=True)
        alerts = Alert.objects.with_details()
        if filters.validated_data.get("status"):
            alerts = alerts.filter(status__in=filters.validated_data["status"])
        if filters.validated_data.get("open") is True:
            alerts = alerts.open()
        elif filters.validated_data.get("open") is False:
            alerts = alerts.exclude(pk__in=Alert.objects.open().values("pk"))
        page = self.paginate_queryset(alerts)
        return self.get_paginated_response(AlertSerializer(page, many=True).data)


class AlertDetailView(AlertView):
    @extend_schema(summary="An alert", examples=[ALERT_EXAMPLE])
    def get(self, request, pk: int):
        return Response(AlertSerializer(self.get_alert(pk)).data)


class AlertStepView(AlertView):
    # One view for acknowledge, resolve and false: the same request, another service
    # (`step`); for_step() makes each route's view with its own schema.
    step = None
    takes_note = True

    def post(self, request, pk: int):
        extra = {}
        if self.takes_note:
            data = ResolveSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            extra["note"] = data.validated_data.get("note", "")
        alert = type(self).step(alert=self.get_alert(pk), actor=request.user, source_ip=client_ip(request), **extra)
        return self.alert_response(alert)

    @classmethod
    def for_step(cls, name: str, step, *, summary: str, takes_note: bool, examples=()):
        view = type(name, (cls,), {"step": staticmethod(step), "takes_note": takes_note, "__module__": __name__})
        schema = extend_schema(
            summary=summary,
            request=ResolveSerializer if takes_note else None,
            responses={200: AlertSerializer, 409: CONFLICT},
            examples=list(examples),
        )
        return extend_schema_view(post=schema)(view)


AlertAcknowledgeView = AlertStepView.for_step(
    "AlertAcknowledgeView",
    services.alert_acknowledge,
    summary="Acknowledge an alert (you have seen it and are acting)",
    takes_note=False,
)
AlertResolveView = AlertStepView.for_step(
    "AlertResolveView",
    services.alert_resolve,
    summary="Resolve an alert (the situation is over)",
    takes_note=True,
    examples=[OpenApiExample("Resolved", value={"note": "Officer up, suspect in custody."}, request_only=True)],
)
AlertFalseView = AlertStepView.for_step(
    "AlertFalseView",
    services.alert_mark_false,
    summary="Mark an alert false (no officer was in danger)",
    takes_note=True,
    examples=[OpenApiExample("Dropped camera", value={"note": "Camera fell off the dash."}, request_only=True)],
)


class AlertRespondView(AlertView):
    write_roles = (Role.OFFICER,)

    @extend_schema(
        summary="Respond to an alert in one tap (officers)",
        description=(
            "Assigns the officer's unit to the alert's call and puts it en route. An alert without an open "
            "call gets one (MAYDAY for officer down and panic) at the alert's position, linked to the alert, "
            "so every responder joins the same call. A unit busy on another call is refused with 409."
        ),
        request=None,
        responses={200: AssignmentSerializer, 409: CONFLICT},
    )
    def post(self, request, pk: int):
        assignment = services.alert_respond(alert=self.get_alert(pk), actor=request.user, source_ip=client_ip(request))
        return Response(AssignmentSerializer(assignment).data)


class PromptOkView(APIView):
    permission_classes = [HasRole]
    read_roles = write_roles = (Role.OFFICER,)

    @extend_schema(
        summary="Answer “are you OK?” for your unit (officers)",
        description=(
            "Closes the unit's open prompt, opened when its camera reported `prone`. Without an answer before "
            "the prompt's deadline (`unit.prompt_ok` event) an officer-down alert is raised. Only an officer "
            "riding in the unit may answer."
        ),
        request=None,
        responses={204: None, 404: DetailSerializer, 409: CONFLICT},
    )
    def post(self, request, unit_id: int):
        unit = Unit.objects.filter(pk=unit_id, officers__user=request.user).first()
        if unit is None:
            raise NotFound(f"You do not ride in a unit with id {unit_id}.")
        services.prompt_answer_ok(unit=unit, actor=request.user, source_ip=client_ip(request))
        return Response(status=http.HTTP_204_NO_CONTENT)


class DeviceListView(mixins.ListModelMixin, GenericAPIView):
    permission_classes = [HasRole]
    read_roles = write_roles = (Role.SUPERVISOR, Role.ADMINISTRATOR)
    serializer_class = DeviceSerializer

    @extend_schema(summary="Devices: which cameras ride in which unit, when they were last heard, which are live")
    def get(self, request):
        devices = Device.objects.select_related("officer").order_by("name")
        return self.get_paginated_response(DeviceSerializer(self.paginate_queryset(devices), many=True).data)


# Device telemetry ---------------------------------------------------------------


class IsDevice(BasePermission):
    message = "Send the device's token as Authorization: Bearer <token>."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Device)


EVENTS_REQUEST = PolymorphicProxySerializer(
    component_name="DeviceEvents",
    serializers=[DeviceEventSerializer, DeviceEventSerializer(many=True)],
    resource_type_field_name=None,
    many=False,
)

EVENTS_DESCRIPTION = f"""
A camera's telemetry: one event object, or a list of 1 to {MAX_BATCH}, at most {MAX_BODY_BYTES} bytes,
`Content-Type: application/json`, `Authorization: Bearer <device token>`.

Each event is checked on its own. Valid events are stored (a retried `id` is stored once and listed in
`duplicates`); each rejected event is named by its index with the reason. `location` events move the
device's unit and join its position history (written in batches, not one row per fix). The answer carries
every command waiting for the device; each command is sent once.

The same events may be sent over the `/ws/device/` socket, which acknowledges them with
`{{"type": "ack", ...}}` frames and pushes commands as `{{"type": "command", ...}}` frames.

Statuses: 200 when at least one event was accepted or was a duplicate; 400 with the same body when every
event was rejected (nothing stored), or with `{{"detail": ...}}` when the body is not JSON, not an object or
a list, an empty list, or more than {MAX_BATCH} events; 401 for a missing, unknown or revoked token; 413 for
a body over {MAX_BODY_BYTES} bytes; 415 for a body that is not JSON.
"""


class DeviceEventsView(APIView):
    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [IsDevice]

    @extend_schema(
        summary="Post device events (telemetry and triggers)",
        description=EVENTS_DESCRIPTION,
        request=EVENTS_REQUEST,
        responses={
            200: IngestAnswerSerializer,
            400: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="DeviceEventsRefused",
                    serializers=[IngestAnswerSerializer, DetailSerializer],
                    resource_type_field_name=None,
                ),
                description="Every event rejected (the answer names each), or the body is not a batch of events.",
            ),
            401: DetailSerializer,
            413: DetailSerializer,
            415: DetailSerializer,
        },
        examples=[
            OpenApiExample(
                "A fix and a weapon drawn",
                request_only=True,
                value=[
                    {
                        "id": "6f1c1e8e-3c53-4f8e-9a55-0d6c1a0b2f10",
                        "type": "location",
                        "at": "2026-03-01T14:05:08Z",
                        "lat": 38.6270,
                        "lon": -90.1994,
                        "accuracy_m": 4.5,
                        "speed_mps": 3.1,
                        "heading_deg": 92,
                    },
                    {
                        "id": "a3f9d1c2-7b4e-4c1a-8e2f-5d6b7a8c9e01",
                        "type": "weapon_drawn",
                        "at": "2026-03-01T14:05:09Z",
                        "lat": 38.6271,
                        "lon": -90.1993,
                        "data": {"holster": "right"},
                    },
                ],
            ),
            OpenApiExample(
                "Answer to a mixed batch",
                response_only=True,
                status_codes=["200"],
                value={
                    "accepted": ["6f1c1e8e-3c53-4f8e-9a55-0d6c1a0b2f10"],
                    "duplicates": [],
                    "rejected": [
                        {
                            "index": 1,
                            "id": "a3f9d1c2-7b4e-4c1a-8e2f-5d6b7a8c9e01",
                            "reason": "lat must be between -90 and 90; it is 123.",
                        }
                    ],
                    "commands": [
                        {"type": "command", "command": "start_recording", "reason": "weapon_drawn reported by bc-1234"}
                    ],
                },
            ),
        ],
    )
    def post(self, request):
        # Served by device_events (below); this synchronous twin answers the same
        # way, and the class carries the endpoint's schema and its other methods.
        problem, events = read_events(request)
        if problem is not None:
            return Response({"detail": problem[1]}, status=problem[0])
        result, commands = services.ingest_with_commands(device=request.auth, events=events.valid)
        status, answer = ingest_answer(events.rejected, result, commands)
        return Response(answer, status=status)


@dataclass
class ParsedEvents:
    valid: list[DeviceEventIn]
    rejected: list[Rejection]


TOO_BIG = f"The body is larger than {MAX_BODY_BYTES} bytes; send at most {MAX_BATCH} events at a time."


def read_events(request) -> tuple[tuple[int, str] | None, ParsedEvents | None]:
    """The body's events split into valid and rejected, or (status, detail) when the body is not a batch."""
    if (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower() != "application/json":
        return (http.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "Send the events as Content-Type: application/json."), None
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return (http.HTTP_413_REQUEST_ENTITY_TOO_LARGE, TOO_BIG), None
    try:
        raw = request.body
    except (RequestDataTooBig, RawPostDataException):
        return (http.HTTP_413_REQUEST_ENTITY_TOO_LARGE, TOO_BIG), None
    if len(raw) > MAX_BODY_BYTES:
        return (http.HTTP_413_REQUEST_ENTITY_TOO_LARGE, TOO_BIG), None
    try:
        items = load_body(raw)
    except BadBody as error:
        return (http.HTTP_400_BAD_REQUEST, str(error)), None
    return None, ParsedEvents(*parse_events(items))


def ingest_answer(rejected: list[Rejection], result: services.IngestResult, commands: list[dict]) -> tuple[int, dict]:
    """The status and body of an answer to a batch (DESIGN.md, Telemetry over HTTP)."""
    rejected = sorted([*rejected, *result.rejected], key=lambda r: r.index)
    answer = {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": [r.as_dict() for r in rejected],
        "commands": commands,
    }
    return (http.HTTP_200_OK if result.accepted or result.duplicates else http.HTTP_400_BAD_REQUEST), answer


def _authenticate_and_ingest(token: str, events: ParsedEvents | None):
    """The one trip to the database thread: the token, then the events and the commands waiting (None: refused)."""
    device = services.device_for_token(token)
    if device is None:
        return None
    if events is None:
        return ()
    return services.ingest_with_commands(device=device, events=events.valid)


def _json(status: int, data: dict, **headers: str) -> HttpResponse:
    # As DRF's JSONRenderer writes it (compact, UTF-8, U+2028/9 escaped), with the headers its Response carries.
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    body = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()
    return HttpResponse(
        body, status=status, content_type="application/json", headers={"Vary": "Accept", "Allow": ALLOW, **headers}
    )


ALLOW = "POST, OPTIONS"
NOT_AUTHENTICATED = str(NotAuthenticated.default_detail)
_device_events_drf = DeviceEventsView.as_view()
_device_events_other = sync_to_async(_device_events_drf)


@csrf_exempt
async def device_events(request):
    """POST /api/v1/device/events without DRF's synchronous machinery: one trip to the database thread per request.

    The token, the body's checks and the answers are DeviceEventsView's, in its
    order (401 before 415, 413 and 400). Other methods (OPTIONS, and the 405s)
    go to DeviceEventsView itself.
    """
    if request.method != "POST":
        return await _device_events_other(request)
    challenge = {"WWW-Authenticate": DeviceTokenAuthentication().authenticate_header(request)}
    header = request.META.get("HTTP_AUTHORIZATION")
    if not header:
        return _json(http.HTTP_401_UNAUTHORIZED, {"detail": NOT_AUTHENTICATED}, **challenge)
    token = bearer_token(header)
    if token is None:
        return _json(http.HTTP_401_UNAUTHORIZED, {"detail": NO_TOKEN}, **challenge)
    problem, events = read_events(request)
    done = await services.in_db_thread_from_view(_authenticate_and_ingest, token, events)
    if done is None:
        return _json(http.HTTP_401_UNAUTHORIZED, {"detail": INVALID_TOKEN}, **challenge)
    if problem is not None:
        return _json(problem[0], {"detail": problem[1]})
    result, commands = done
    return _json(*ingest_answer(events.rejected, result, commands))


# drf-spectacular documents a route by its view class: this one's is DeviceEventsView.
device_events.cls = DeviceEventsView
device_events.initkwargs = {}


urlpatterns = [
    path("alerts/", AlertListView.as_view(), name="alert-list"),
    path("alerts/<int:pk>/", AlertDetailView.as_view(), name="alert-detail"),
    path("alerts/<int:pk>/acknowledge/", AlertAcknowledgeView.as_view(), name="alert-acknowledge"),
    path("alerts/<int:pk>/resolve/", AlertResolveView.as_view(), name="alert-resolve"),
    path("alerts/<int:pk>/false/", AlertFalseView.as_view(), name="alert-false"),
    path("alerts/<int:pk>/respond/", AlertRespondView.as_view(), name="alert-respond"),
    path("alerts/prompts/<int:unit_id>/ok/", PromptOkView.as_view(), name="prompt-ok"),
    path("devices/", DeviceListView.as_view(), name="device-list"),
    path("device/events", device_events, name="device-events"),
]
