"""The admin site: for the administrator role."""

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig


class BeaconAdminSite(AdminSite):
    site_header = "Beacon administration"
    site_title = "Beacon"
    index_title = "Officers, units, devices, call types and retention"

    def has_permission(self, request) -> bool:
        """Administrators only: holding the role is what opens the admin, whatever the staff flag says."""
        from accounts.roles import Role, has_role  # this module loads before the app registry is ready

        return has_role(request.user, Role.ADMINISTRATOR)


class BeaconAdminConfig(AdminConfig):
    """The Django admin app, with the site above as its default site."""

    default_site = "accounts.admin_site.BeaconAdminSite"
