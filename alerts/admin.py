"""Devices and their tokens, the activation policy, and the read-only logs of events, commands, prompts and alerts."""

from django.contrib import admin, messages
from django.template.response import TemplateResponse

from alerts.models import ActivationRule, Alert, Device, DeviceCommand, DeviceEvent, ProneWindow
from alerts.services import device_issue_token, device_revoke_token
from audit.services import client_ip


class ReadOnlyAdmin(admin.ModelAdmin):
    """A log: nobody adds, edits or deletes its rows here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "officer", "unit", "has_token", "revoked_at", "last_seen_at", "recording", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "officer__name", "unit__call_sign"]
    readonly_fields = ["token_issued_at", "revoked_at", "last_seen_at", "recording", "live"]
    actions = ["issue_token", "revoke_token"]

    @admin.display(boolean=True, description="Token")
    def has_token(self, device: Device) -> bool:
        return device.has_token

    @admin.action(description="Issue a new token (shown once)")
    def issue_token(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one device: its token is shown once.", messages.ERROR)
            return None
        device = queryset.get()
        token = device_issue_token(device=device, actor=request.user, source_ip=client_ip(request))
        # Rendered straight into this response: the token is never stored, not even in a message.
        return TemplateResponse(
            request,
            "admin/alerts/device/token.html",
            {**self.admin_site.each_context(request), "device": device, "token": token, "title": "New token"},
        )

    @admin.action(description="Revoke token")
    def revoke_token(self, request, queryset):
        for device in queryset:
            device_revoke_token(device=device, actor=request.user, source_ip=client_ip(request))
        self.message_user(request, f"Revoked the tokens of {queryset.count()} device(s).", messages.SUCCESS)


@admin.register(ActivationRule)
class ActivationRuleAdmin(admin.ModelAdmin):
    list_display = [
        "trigger",
        "command_record",
        "command_stream",
        "alert_severity",
        "notify_dispatchers",
        "notify_supervisors",
        "notify_nearby_officers",
        "active",
    ]
    list_editable = [
        "command_record",
        "command_stream",
        "alert_severity",
        "notify_dispatchers",
        "notify_supervisors",
        "notify_nearby_officers",
        "active",
    ]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "severity", "status", "unit", "raised_at", "acknowledged_by_name", "escalated_at"]
    list_filter = ["kind", "severity", "status"]
    date_hierarchy = "raised_at"


@admin.register(DeviceCommand)
class DeviceCommandAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "device", "command", "reason", "delivered_at", "alert"]
    list_filter = ["command"]
    search_fields = ["device__name", "reason"]


@admin.register(ProneWindow)
class ProneWindowAdmin(ReadOnlyAdmin):
    list_display = ["opened_at", "device", "unit", "deadline", "closed_at", "outcome", "closed_by"]
    list_filter = ["outcome"]


@admin.register(DeviceEvent)
class DeviceEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "device", "type", "at", "event_id"]
    list_filter = ["type"]
    search_fields = ["device__name", "event_id"]
