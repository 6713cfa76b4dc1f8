"""Live video in the admin: every publication and every viewing, read-only (they are evidence of who watched)."""

from django.contrib import admin

from liveview.models import LiveSession, LiveStream


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LiveSession)
class LiveSessionAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "viewer_name", "device", "reason", "ended_at", "duration_s", "node"]
    list_filter = ["reason", "device__kind"]
    search_fields = ["viewer_name", "viewer__username", "device__name"]
    date_hierarchy = "started_at"
    list_select_related = ["device"]


@admin.register(LiveStream)
class LiveStreamAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "device", "ended_at", "codec", "node", "published_by"]
    list_filter = ["codec", "device__kind"]
    search_fields = ["device__name", "published_by"]
    date_hierarchy = "started_at"
    list_select_related = ["device"]
