"""One serializer per representation, shared by the REST API and the console's alert events."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alerts.models import EVENT_TYPES, Alert, Device, DeviceCommand


class NearbyUnitSerializer(serializers.Serializer):
    unit = serializers.IntegerField()
    call_sign = serializers.CharField()
    distance_m = serializers.IntegerField(help_text="From the unit's latest fix to the alert.")
    bearing_deg = serializers.IntegerField(help_text="Direction from the unit to the alert, clockwise from north.")


class AlertSerializer(serializers.ModelSerializer):
    """An alert as every console and the API show it.

    Officers' MDTs receive every console event; an MDT shows an alert when its
    own unit is in `nearby`, or once the alert has escalated (`escalated_at`).
    """

    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    unit_call_sign = serializers.CharField(source="unit.call_sign", read_only=True, allow_null=True, default=None)
    officer_name = serializers.CharField(source="officer.name", read_only=True, allow_null=True, default=None)
    device_name = serializers.CharField(source="device.name", read_only=True, allow_null=True, default=None)
    call_number = serializers.CharField(source="call.number", read_only=True, allow_null=True, default=None)
    live_feed = serializers.CharField(read_only=True, allow_null=True, help_text="Page that opens the camera's feed.")
    nearby = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "kind",
            "kind_label",
            "severity",
            "status",
            "status_label",
            "unit",
            "unit_call_sign",
            "officer",
            "officer_name",
            "device_name",
            "live_feed",
            "call",
            "call_number",
            "lat",
            "lon",
            "raised_at",
            "notify",
            "nearby",
            "acknowledged_by_name",
            "acknowledged_at",
            "resolved_by_name",
            "resolved_at",
            "resolution_note",
            "escalated_at",
        ]

    @extend_schema_field(NearbyUnitSerializer(many=True))
    def get_nearby(self, alert: Alert) -> list[dict]:
        return alert.nearby


class ConsoleAlertSerializer(AlertSerializer):
    """An alert as the console socket carries it: `nearby_units` (ids) instead of `nearby`.

    Every console gets every alert frame, so its size is paid once per console:
    with hundreds of units in range, `nearby` made an alert.raised frame tens of
    kilobytes. An MDT finds its own unit in `nearby_units` and works out the
    distance and bearing from its own latest fix; the API keeps `nearby` whole.
    """

    nearby_units = serializers.SerializerMethodField()

    class Meta(AlertSerializer.Meta):
        fields = [name for name in AlertSerializer.Meta.fields if name != "nearby"] + ["nearby_units"]

    def get_nearby_units(self, alert: Alert) -> list[int]:
        return [near["unit"] for near in alert.nearby]


class DeviceSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    unit = serializers.IntegerField(source="current_unit_id", read_only=True, allow_null=True)
    officer_name = serializers.CharField(source="officer.name", read_only=True, allow_null=True, default=None)
    has_token = serializers.BooleanField(read_only=True)
    live_feed = serializers.CharField(read_only=True)

    class Meta:
        model = Device
        fields = [
            "id",
            "name",
            "kind",
            "kind_label",
            "unit",
            "officer",
            "officer_name",
            "last_seen_at",
            "recording",
            "live",
            "live_feed",
            "has_token",
            "active",
        ]


class CommandFrameSerializer(serializers.ModelSerializer):
    type = serializers.CharField(default="command", read_only=True)

    class Meta:
        model = DeviceCommand
        fields = ["type", "command", "reason"]


# Input and the device's answer (documentation of the contract; parsing is in alerts.telemetry) ------


class DeviceEventSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="Chosen by the device; a retried event with the same id is stored once.")
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    at = serializers.DateTimeField(help_text="RFC 3339 with an offset; at most 5 minutes ahead of the server.")
    lat = serializers.FloatField(min_value=-90, max_value=90, required=False)
    lon = serializers.FloatField(min_value=-180, max_value=180, required=False)
    accuracy_m = serializers.FloatField(min_value=0, required=False)
    speed_mps = serializers.FloatField(min_value=0, required=False)
    heading_deg = serializers.FloatField(min_value=0, max_value=360, required=False)
    data = serializers.DictField(required=False)


class RejectedEventSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the event in the list (0 for a single event).")
    id = serializers.CharField(allow_null=True)
    reason = serializers.CharField()


class IngestAnswerSerializer(serializers.Serializer):
    accepted = serializers.ListField(child=serializers.UUIDField())
    duplicates = serializers.ListField(
        child=serializers.UUIDField(), help_text="Ids already received: not stored again, nothing to resend."
    )
    rejected = RejectedEventSerializer(many=True)
    commands = CommandFrameSerializer(many=True, help_text="Commands waiting for this device, each sent once.")


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ResolveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class AlertFilterSerializer(serializers.Serializer):
    status = serializers.MultipleChoiceField(choices=Alert._meta.get_field("status").choices, required=False)
    open = serializers.BooleanField(required=False, allow_null=True, default=None)
