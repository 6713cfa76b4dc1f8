from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from accounts.models import Profile
from audit.services import audit_record

User = get_user_model()


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False


admin.site.unregister(User)


@admin.register(User)
class BeaconUserAdmin(UserAdmin):
    inlines = [ProfileInline]
    list_display = ["username", "first_name", "last_name", "is_active", "last_login"]

    def save_formset(self, request, form, formset, change):
        before = {p.pk: p.idle_lock_exempt for p in Profile.objects.filter(user=form.instance)}
        super().save_formset(request, form, formset, change)
        for profile in Profile.objects.filter(user=form.instance):
            if before.get(profile.pk, False) != profile.idle_lock_exempt:
                audit_record(
                    action="session.idle_lock_exemption",
                    actor=request.user,
                    request=request,
                    target=f"user:{form.instance.get_username()}",
                    detail={"exempt": profile.idle_lock_exempt},
                )
