from django.conf import settings

from accounts.roles import Role, roles_of


def beacon(request):
    """What every page's frame needs: the agency's name and the user's roles."""
    roles = roles_of(getattr(request, "user", None))
    return {
        "agency_name": settings.AGENCY_NAME or "Beacon",
        "user_roles": sorted(role.value for role in roles),
        "is_dispatcher": Role.DISPATCHER in roles,
        "is_supervisor": Role.SUPERVISOR in roles,
        "is_officer": Role.OFFICER in roles,
        "is_administrator": Role.ADMINISTRATOR in roles,
        "map_tile_url": settings.MAP_TILE_URL,
    }
