"""Dispatch API (/api/v1/): parse, call a service, serialize.

Dispatchers and supervisors work every call and unit. Officers see the calls
their unit was sent to and their own unit, change their own unit's status and
add notes to the call they are on.
"""

from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins
from rest_framework import status as http
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from accounts.roles import Role, has_role
from audit.services import client_ip
from config.errors import RefusedChange
from dispatch import services
from dispatch.avl import nearest_available_units
from dispatch.eido import call_to_eido
from dispatch.models import Call, Unit
from dispatch.serializers import (
    AssignSerializer,
    CallCreateSerializer,
    CallFilterSerializer,
    CallSerializer,
    CallWriteSerializer,
    CloseSerializer,
    NoteCreateSerializer,
    NoteSerializer,
    ReasonSerializer,
    RecommendationSerializer,
    TimelineEntrySerializer,
    UnitSerializer,
    UnitStatusSerializer,
)

READERS = (Role.DISPATCHER, Role.SUPERVISOR, Role.OFFICER)
CONTROLLERS = (Role.DISPATCHER, Role.SUPERVISOR)


def _roles_sentence(roles) -> str:
    return "This needs the " + " or ".join(role.value for role in roles) + " role."


class HasRole(BasePermission):
    """Let a request through when the user holds one of the view's roles for its method."""

    def has_permission(self, request, view) -> bool:
        roles = view.read_roles if request.method in SAFE_METHODS else view.write_roles
        self.message = _roles_sentence(roles)
        return has_role(request.user, *roles)


def _is_controller(user) -> bool:
    return has_role(user, *CONTROLLERS)


def visible_calls(user) -> QuerySet[Call]:
    """Every call for dispatchers and supervisors; for an officer, the calls their unit was sent to."""
    calls = Call.objects.with_details()
    if _is_controller(user):
        return calls
    return calls.filter(assignments__unit__officers__user=user).distinct()


def visible_units(user) -> QuerySet[Unit]:
    """Every unit for dispatchers and supervisors; for an officer, their own unit."""
    units = Unit.objects.with_details()
    return units if _is_controller(user) else units.of_officer_user(user)


class DispatchView(GenericAPIView):
    permission_classes = [HasRole]
    read_roles = READERS
    write_roles = CONTROLLERS

    def get_call(self, pk: int) -> Call:
        call = visible_calls(self.request.user).filter(pk=pk).first()
        if call is None:
            raise NotFound(f"There is no call with id {pk}.")
        return call

    def get_unit(self, pk: int) -> Unit:
        unit = visible_units(self.request.user).filter(pk=pk).first()
        if unit is None:
            raise NotFound(f"There is no unit with id {pk}.")
        return unit

    def parse(self, serializer_class, **kwargs):
        serializer = serializer_class(data=self.request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def call_response(self, call: Call, status: int = http.HTTP_200_OK) -> Response:
        return Response(CallSerializer(Call.objects.with_details().get(pk=call.pk)).data, status=status)

    @property
    def source_ip(self) -> str | None:
        return client_ip(self.request)


CALL_EXAMPLE = OpenApiExample(
    "Shooting reported",
    value={
        "type": "SHOOT",
        "priority": 1,
        "address": "1200 Market St, St. Louis, MO",
        "lat": 38.627,
        "lon": -90.1994,
        "caller_name": "Jane Roe",
        "caller_phone": "314-555-0100",
        "narrative": "Two shots heard behind the building; caller is inside.",
    },
    request_only=True,
)
CONFLICT = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Refused state change",
    examples=[
        OpenApiExample(
            "Unit busy",
            value={"detail": "Unit 2A33 is dispatched on call 26-000123; only an available unit can be assigned."},
        )
    ],
)


class CallListView(mixins.ListModelMixin, DispatchView):  # the mixin marks it a paginated list in the schema
    serializer_class = CallSerializer

    @extend_schema(
        summary="List calls for service",
        parameters=[
            OpenApiParameter("status", str, many=True, description="EIDO status; repeat or comma-separate"),
            OpenApiParameter("priority", int, description="1 (most urgent) to 5"),
            OpenApiParameter("open", bool, description="true: only open calls; false: only closed or cancelled"),
        ],
    )
    def get(self, request):
        query = request.query_params.copy()
        query.setlist("status", [s for value in query.getlist("status") for s in value.split(",") if s])
        filters = CallFilterSerializer(data=query)
        filters.is_valid(raise_exception=True)
        calls = visible_calls(request.user)
        if filters.validated_data.get("status"):
            calls = calls.filter(status__in=filters.validated_data["status"])
        if filters.validated_data.get("priority"):
            calls = calls.filter(priority=filters.validated_data["priority"])
        if filters.validated_data.get("open") is True:
            calls = calls.open()
        elif filters.validated_data.get("open") is False:
            calls = calls.exclude(pk__in=Call.objects.open().values("pk"))
        page = self.paginate_queryset(calls.order_by("-created_at", "-id"))
        return self.get_paginated_response(CallSerializer(page, many=True).data)

    @extend_schema(
        summary="Take a new call",
        request=CallCreateSerializer,
        responses={201: CallSerializer},
        examples=[CALL_EXAMPLE],
    )
    def post(self, request):
        data = self.parse(CallCreateSerializer)
        call = services.call_create(
            actor=request.user,
            incident_type=data["type"],
            priority=data["priority"],
            address=data.get("address", ""),
            lat=data.get("lat"),
            lon=data.get("lon"),
            caller_name=data.get("caller_name", ""),
            caller_phone=data.get("caller_phone", ""),
            narrative=data.get("narrative", ""),
        )
        return self.call_response(call, http.HTTP_201_CREATED)


class CallDetailView(DispatchView):
    serializer_class = CallSerializer

    @extend_schema(summary="A call, with its units and notes")
    def get(self, request, pk: int):
        return Response(CallSerializer(self.get_call(pk)).data)

    @extend_schema(
        summary="Change a call's type, priority, location or caller",
        request=CallWriteSerializer,
        responses={200: CallSerializer, 409: CONFLICT},
        examples=[OpenApiExample("Raise priority", value={"priority": 1}, request_only=True)],
    )
    def patch(self, request, pk: int):
        call = self.get_call(pk)
        data = self.parse(CallWriteSerializer, partial=True)
        if "type" in data:
            data["incident_type"] = data.pop("type")
        services.call_update(call=call, actor=request.user, **data)
        return self.call_response(call)


class CallNotesView(DispatchView):
    serializer_class = NoteSerializer
    write_roles = READERS

    @extend_schema(summary="The call's notes, oldest first", responses=NoteSerializer(many=True))
    def get(self, request, pk: int):
        return Response(NoteSerializer(self.get_call(pk).notes.order_by("id"), many=True).data)

    @extend_schema(
        summary="Append a note (notes are never edited)",
        request=NoteCreateSerializer,
        responses={201: NoteSerializer, 409: CONFLICT},
        examples=[OpenApiExample("Note", value={"text": "Suspect fled north on foot."}, request_only=True)],
    )
    def post(self, request, pk: int):
        call = self.get_call(pk)
        if not _is_controller(request.user):
            on_call = call.assignments.filter(cleared_at__isnull=True, unit__officers__user=request.user).exists()
            if not on_call:
                raise PermissionDenied("Officers can add notes only to the call their unit is on.")
        data = self.parse(NoteCreateSerializer)
        note = services.call_add_note(call=call, actor=request.user, text=data["text"])
        return Response(NoteSerializer(note).data, status=http.HTTP_201_CREATED)


class CallTimelineView(DispatchView):
    serializer_class = TimelineEntrySerializer

    @extend_schema(summary="Every change to the call: who, when, what", responses=TimelineEntrySerializer(many=True))
    def get(self, request, pk: int):
        return Response(TimelineEntrySerializer(self.get_call(pk).timeline.order_by("id"), many=True).data)


class CallAssignView(DispatchView):
    serializer_class = CallSerializer

    @extend_schema(
        summary="Dispatch a unit to the call",
        request=AssignSerializer,
        responses={200: CallSerializer, 409: CONFLICT},
        examples=[OpenApiExample("Assign", value={"unit": 7}, request_only=True)],
    )
    def post(self, request, pk: int):
        call = self.get_call(pk)
        data = self.parse(AssignSerializer)
        services.call_assign_unit(call=call, unit=data["unit"], actor=request.user, source_ip=self.source_ip)
        return self.call_response(call)


class CallCloseView(DispatchView):
    serializer_class = CallSerializer

    @extend_schema(
        summary="Close the call with a disposition code; its units clear",
        request=CloseSerializer,
        responses={200: CallSerializer, 409: CONFLICT},
        examples=[OpenApiExample("Report taken", value={"disposition": "RPT"}, request_only=True)],
    )
    def post(self, request, pk: int):
        call = self.get_call(pk)
        data = self.parse(CloseSerializer)
        services.call_close(call=call, disposition=data["disposition"], actor=request.user, source_ip=self.source_ip)
        return self.call_response(call)


class CallCancelView(DispatchView):
    serializer_class = CallSerializer

    @extend_schema(
        summary="Cancel the call; its units clear",
        request=ReasonSerializer,
        responses={200: CallSerializer, 409: CONFLICT},
        examples=[OpenApiExample("Duplicate", value={"reason": "Duplicate of 26-000122"}, request_only=True)],
    )
    def post(self, request, pk: int):
        call = self.get_call(pk)
        data = self.parse(ReasonSerializer)
        services.call_cancel(call=call, actor=request.user, reason=data.get("reason", ""), source_ip=self.source_ip)
        return self.call_response(call)


class CallReopenView(DispatchView):
    serializer_class = CallSerializer

    @extend_schema(
        summary="Reopen a closed call",
        request=ReasonSerializer,
        responses={200: CallSerializer, 409: CONFLICT},
        examples=[OpenApiExample("Caller called back", value={"reason": "Suspect returned"}, request_only=True)],
    )
    def post(self, request, pk: int):
        call = self.get_call(pk)
        data = self.parse(ReasonSerializer)
        services.call_reopen(call=call, actor=request.user, reason=data.get("reason", ""), source_ip=self.source_ip)
        return self.call_response(call)


class CallRecommendView(DispatchView):
    serializer_class = RecommendationSerializer
    read_roles = CONTROLLERS

    @extend_schema(
        summary="Nearest available units, by great-circle distance, with the age of their position",
        parameters=[OpenApiParameter("limit", int, description="How many units (1-50, default 5)")],
        responses={200: RecommendationSerializer(many=True), 409: CONFLICT},
    )
    def get(self, request, pk: int):
        call = self.get_call(pk)
        try:
            limit = min(max(int(request.query_params.get("limit", 5)), 1), 50)
        except ValueError:
            limit = 5
        if call.lat is None or call.lon is None:
            raise RefusedChange(
                f"Call {call.number} has no coordinates, so units cannot be ranked by distance; "
                f"add its latitude and longitude."
            )
        ranked = nearest_available_units(lat=call.lat, lon=call.lon, limit=limit)
        return Response(RecommendationSerializer(ranked, many=True).data)


class CallEidoView(DispatchView):
    @extend_schema(
        summary="The call as a NENA EIDO document (NENA-STA-021 EmergencyIncidentDataObjectType)",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="EIDO JSON")},
    )
    def get(self, request, pk: int):
        return Response(call_to_eido(self.get_call(pk)))


class UnitListView(mixins.ListModelMixin, DispatchView):
    serializer_class = UnitSerializer

    @extend_schema(summary="Units, with status, officers, vehicle, position and current call")
    def get(self, request):
        page = self.paginate_queryset(visible_units(request.user).order_by("call_sign"))
        return self.get_paginated_response(UnitSerializer(page, many=True).data)


class UnitDetailView(DispatchView):
    serializer_class = UnitSerializer

    @extend_schema(summary="A unit")
    def get(self, request, pk: int):
        return Response(UnitSerializer(self.get_unit(pk)).data)


class UnitStatusView(DispatchView):
    serializer_class = UnitSerializer
    write_roles = READERS

    @extend_schema(
        summary="Change a unit's status (en route, on scene and available also stamp its call assignment)",
        request=UnitStatusSerializer,
        responses={200: UnitSerializer, 409: CONFLICT},
        examples=[OpenApiExample("On scene", value={"status": "on_scene"}, request_only=True)],
    )
    def post(self, request, pk: int):
        unit = self.get_unit(pk)  # an officer sees only their own unit
        data = self.parse(UnitStatusSerializer)
        services.unit_change_status(unit=unit, status=data["status"], actor=request.user, source_ip=self.source_ip)
        return Response(UnitSerializer(Unit.objects.with_details().get(pk=unit.pk)).data)


urlpatterns = [
    path("calls/", CallListView.as_view(), name="api-calls"),
    path("calls/<int:pk>/", CallDetailView.as_view(), name="api-call"),
    path("calls/<int:pk>/notes/", CallNotesView.as_view(), name="api-call-notes"),
    path("calls/<int:pk>/timeline/", CallTimelineView.as_view(), name="api-call-timeline"),
    path("calls/<int:pk>/assign/", CallAssignView.as_view(), name="api-call-assign"),
    path("calls/<int:pk>/close/", CallCloseView.as_view(), name="api-call-close"),
    path("calls/<int:pk>/cancel/", CallCancelView.as_view(), name="api-call-cancel"),
    path("calls/<int:pk>/reopen/", CallReopenView.as_view(), name="api-call-reopen"),
    path("calls/<int:pk>/recommend/", CallRecommendView.as_view(), name="api-call-recommend"),
    path("calls/<int:pk>/eido", CallEidoView.as_view(), name="api-call-eido"),
    path("units/", UnitListView.as_view(), name="api-units"),
    path("units/<int:pk>/", UnitDetailView.as_view(), name="api-unit"),
    path("units/<int:pk>/status/", UnitStatusView.as_view(), name="api-unit-status"),
]
