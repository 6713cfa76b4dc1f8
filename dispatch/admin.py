"""Administration of dispatch: the agency, call types, codes, fleet and people are edited here.

Calls, assignments, notes, the timeline and positions are records: they change
only through the console and the API (dispatch.services), where every change
is on the timeline, audited and sent to consoles, so here they are read-only.
"""

from django.contrib import admin
from django.db.models import Count

from dispatch.models import (
    Agency,
    Assignment,
    Call,
    CallCounter,
    CallNote,
    DispositionCode,
    IncidentType,
    Officer,
    PositionFix,
    TimelineEntry,
    Unit,
    Vehicle,
)


class ReadOnlyMixin:
    """Viewable, never added, changed or deleted from the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["name", "identifier", "approach_radius_m", "alert_radius_m", "prone_window_s", "escalation_s"]
    fieldsets = [
        (None, {"fields": ["name", "identifier", ("centre_lat", "centre_lon")]}),
        (
            "Camera activation and alerts",
            {"fields": ["approach_radius_m", "alert_radius_m", "prone_window_s", "escalation_s"]},
        ),
    ]


class IsLocalTypeFilter(admin.SimpleListFilter):
    title = "origin"
    parameter_name = "origin"

    def lookups(self, request, model_admin):
        return [("apco", "APCO common type"), ("local", "Local type")]

    def queryset(self, request, queryset):
        if self.value() == "apco":
            return queryset.filter(apco_type__isnull=True)
        if self.value() == "local":
            return queryset.filter(apco_type__isnull=False)
        return queryset


@admin.register(IncidentType)
class IncidentTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "apco_type", "default_priority", "active"]
    list_filter = [IsLocalTypeFilter, "active", "default_priority"]
    list_editable = ["default_priority", "active"]
    search_fields = ["code", "name"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "apco_type":
            # A local type maps onto an APCO type, never onto another local one.
            kwargs["queryset"] = IncidentType.objects.filter(apco_type__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(DispositionCode)
class DispositionCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "active"]
    list_filter = ["active"]
    list_editable = ["active"]
    search_fields = ["code", "name"]


@admin.register(Vehicle)
class VehicleAdmin(admin.ModelAdmin):
    list_display = ["number", "plate", "description", "in_service", "unit", "agency"]
    list_filter = ["in_service", "agency"]
    search_fields = ["number", "plate", "description"]


class OfficerInline(admin.TabularInline):
    model = Officer
    fields = ["name", "badge", "user"]
    extra = 0
    show_change_link = True


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ["call_sign", "status", "vehicle", "officer_names", "position_at", "agency"]
    list_filter = ["status", "agency"]
    search_fields = ["call_sign", "officers__name", "officers__badge", "vehicle__number"]
    # Status moves only along its graph, through the console, the MDT or the API.
    readonly_fields = [
        "status",
        "status_changed_at",
        "lat",
        "lon",
        "position_at",
        "speed_mps",
        "heading_deg",
        "accuracy_m",
    ]
    fieldsets = [
        (None, {"fields": ["agency", "call_sign", "vehicle"]}),
        ("Status", {"fields": ["status", "status_changed_at"]}),
        ("Latest position", {"fields": [("lat", "lon"), "position_at", ("speed_mps", "heading_deg", "accuracy_m")]}),
    ]
    inlines = [OfficerInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("vehicle", "agency").prefetch_related("officers")

    @admin.display(description="officers")
    def officer_names(self, unit: Unit) -> str:
        return ", ".join(officer.name for officer in unit.officers.all())


@admin.register(Officer)
class OfficerAdmin(admin.ModelAdmin):
    list_display = ["name", "badge", "unit", "user", "agency"]
    list_filter = ["agency", "unit"]
    search_fields = ["name", "badge", "user__username"]
    autocomplete_fields = ["unit"]
    raw_id_fields = ["user"]


class AssignmentInline(ReadOnlyMixin, admin.TabularInline):
    model = Assignment
    fields = ["unit", "dispatched_by", "dispatched_at", "en_route_at", "on_scene_at", "cleared_at"]
    readonly_fields = fields
    extra = 0


class NoteInline(ReadOnlyMixin, admin.TabularInline):
    model = CallNote
    fields = ["at", "author_name", "text"]
    readonly_fields = fields
    extra = 0


class TimelineInline(ReadOnlyMixin, admin.TabularInline):
    model = TimelineEntry
    fields = ["at", "actor_name", "action", "description"]
    readonly_fields = fields
    extra = 0


@admin.register(Call)
class CallAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["number", "incident_type", "priority", "status", "address", "created_at", "closed_at", "units"]
    list_filter = ["status", "priority", "incident_type", "disposition"]
    search_fields = ["number", "address", "caller_name", "caller_phone"]
    date_hierarchy = "created_at"
    inlines = [AssignmentInline, NoteInline, TimelineInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("incident_type").annotate(unit_count=Count("assignments"))

    @admin.display(description="units", ordering="unit_count")
    def units(self, call: Call) -> int:
        return call.unit_count


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["call", "unit", "dispatched_at", "en_route_at", "on_scene_at", "cleared_at"]
    list_filter = [("cleared_at", admin.EmptyFieldListFilter), "unit"]
    search_fields = ["call__number", "unit__call_sign"]
    date_hierarchy = "dispatched_at"
    list_select_related = ["call", "unit"]


@admin.register(CallNote)
class CallNoteAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["call", "at", "author_name", "text"]
    search_fields = ["call__number", "text", "author_name"]
    date_hierarchy = "at"
    list_select_related = ["call"]


@admin.register(TimelineEntry)
class TimelineEntryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["call", "at", "actor_name", "action", "description"]
    list_filter = ["action"]
    search_fields = ["call__number", "actor_name", "description"]
    date_hierarchy = "at"
    list_select_related = ["call"]


@admin.register(PositionFix)
class PositionFixAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["unit", "at", "lat", "lon", "speed_mps", "heading_deg", "accuracy_m", "received_at"]
    list_filter = ["unit"]
    date_hierarchy = "at"
    list_select_related = ["unit"]
    show_full_result_count = False  # the history is large; counting it is slow


@admin.register(CallCounter)
class CallCounterAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["year", "last"]
