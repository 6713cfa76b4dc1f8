"""One serializer per representation, shared by the REST API and the console's events."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dispatch.models import (
    Assignment,
    Call,
    CallNote,
    CallStatus,
    DispositionCode,
    IncidentType,
    Officer,
    TimelineEntry,
    Unit,
    UnitStatus,
    Vehicle,
)

# Output ------------------------------------------------------------------


class IncidentTypeSerializer(serializers.ModelSerializer):
    apco_code = serializers.CharField(source="common_code", read_only=True)

    class Meta:
        model = IncidentType
        fields = ["code", "name", "apco_code", "default_priority"]


class DispositionSerializer(serializers.ModelSerializer):
    class Meta:
        model = DispositionCode
        fields = ["code", "name"]


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = CallNote
        fields = ["id", "text", "author_name", "at"]


class AssignmentSerializer(serializers.ModelSerializer):
    call_sign = serializers.CharField(source="unit.call_sign", read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = Assignment
        fields = ["id", "unit", "call_sign", "active", "dispatched_at", "en_route_at", "on_scene_at", "cleared_at"]


class CallSerializer(serializers.ModelSerializer):
    type = IncidentTypeSerializer(source="incident_type", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    is_open = serializers.BooleanField(read_only=True)
    disposition = DispositionSerializer(read_only=True)
    assignments = AssignmentSerializer(many=True, read_only=True)
    notes = NoteSerializer(many=True, read_only=True)

    class Meta:
        model = Call
        fields = [
            "id",
            "number",
            "type",
            "priority",
            "status",
            "status_label",
            "is_open",
            "address",
            "lat",
            "lon",
            "caller_name",
            "caller_phone",
            "disposition",
            "created_at",
            "updated_at",
            "closed_at",
            "reopened_at",
            "assignments",
            "notes",
        ]


class TimelineEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEntry
        fields = ["id", "at", "actor_name", "action", "description", "detail"]


class OfficerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Officer
        fields = ["id", "name", "badge"]


class VehicleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vehicle
        fields = ["id", "number", "plate", "description"]


class PositionSerializer(serializers.Serializer):
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    at = serializers.DateTimeField(source="position_at")
    age_s = serializers.FloatField(help_text="Seconds since the fix, when this was serialized.")
    speed_mps = serializers.FloatField(allow_null=True)
    heading_deg = serializers.FloatField(allow_null=True)
    accuracy_m = serializers.FloatField(allow_null=True)


class UnitCallSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="call.id")
    number = serializers.CharField(source="call.number")
    assignment = serializers.IntegerField(source="id")


class UnitSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    eido_primary_status = serializers.CharField(read_only=True)
    eido_secondary_status = serializers.CharField(read_only=True)
    officers = OfficerSerializer(many=True, read_only=True)
    vehicle = VehicleSerializer(read_only=True, allow_null=True)
    position = serializers.SerializerMethodField()
    call = serializers.SerializerMethodField()

    class Meta:
        model = Unit
        fields = [
            "id",
            "call_sign",
            "status",
            "status_label",
            "eido_primary_status",
            "eido_secondary_status",
            "status_changed_at",
            "officers",
            "vehicle",
            "position",
            "call",
        ]

    @extend_schema_field(PositionSerializer(allow_null=True))
    def get_position(self, unit: Unit) -> dict | None:
        if unit.position_at is None:
            return None
        data = {
            "lat": unit.lat,
            "lon": unit.lon,
            "position_at": unit.position_at,
            "age_s": unit.fix_age_s(timezone.now()),
            "speed_mps": unit.speed_mps,
            "heading_deg": unit.heading_deg,
            "accuracy_m": unit.accuracy_m,
        }
        return PositionSerializer(data).data

    @extend_schema_field(UnitCallSerializer(allow_null=True))
    def get_call(self, unit: Unit) -> dict | None:
        assignment = unit.active_assignment()
        return UnitCallSerializer(assignment).data if assignment else None


class RecommendationSerializer(serializers.Serializer):
    unit = UnitSerializer()
    distance_m = serializers.FloatField()
    fix_age_s = serializers.FloatField()


# Input -------------------------------------------------------------------


def _code_field(queryset, what: str) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(
        slug_field="code",
        queryset=queryset,
        error_messages={
            "does_not_exist": f"There is no {what} with the code “{{value}}”.",
            "invalid": f"Give the {what} as its code.",
        },
    )


class CallWriteSerializer(serializers.Serializer):
    """Fields a dispatcher types; the same fields, all optional, update a call."""

    type = _code_field(IncidentType.objects.filter(active=True), "incident type")
    priority = serializers.IntegerField(min_value=1, max_value=5)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    lat = serializers.FloatField(min_value=-90, max_value=90, required=False, allow_null=True)
    lon = serializers.FloatField(min_value=-180, max_value=180, required=False, allow_null=True)
    caller_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    caller_phone = serializers.CharField(max_length=40, required=False, allow_blank=True)

    def validate(self, attrs):
        has_lat, has_lon = "lat" in attrs, "lon" in attrs
        if has_lat != has_lon or (has_lat and (attrs["lat"] is None) != (attrs["lon"] is None)):
            raise serializers.ValidationError({"lon" if has_lat else "lat": ["Give latitude and longitude together."]})
        return attrs


class CallCreateSerializer(CallWriteSerializer):
    narrative = serializers.CharField(required=False, allow_blank=True, help_text="First note on the call.")


class NoteCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=10000)


class AssignSerializer(serializers.Serializer):
    unit = serializers.PrimaryKeyRelatedField(
        queryset=Unit.objects.all(), error_messages={"does_not_exist": "There is no unit with id {pk_value}."}
    )


class CloseSerializer(serializers.Serializer):
    disposition = _code_field(DispositionCode.objects.filter(active=True), "disposition")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class UnitStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=UnitStatus.choices)


class CallFilterSerializer(serializers.Serializer):
    status = serializers.MultipleChoiceField(choices=CallStatus.choices, required=False)
    priority = serializers.IntegerField(min_value=1, max_value=5, required=False)
    open = serializers.BooleanField(required=False, allow_null=True, default=None)
