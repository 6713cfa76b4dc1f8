"""The four roles. Each is a Django group; a user's role decides their page and rights."""

from enum import StrEnum

from django.contrib.auth.models import Group, Permission


class Role(StrEnum):
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"
    OFFICER = "officer"
    ADMINISTRATOR = "administrator"


# Where each role lands after sign-in (URL names).
LANDING_PAGE = {
    Role.DISPATCHER: "dispatch-console",
    Role.SUPERVISOR: "live-wall",
    Role.OFFICER: "mdt",
    Role.ADMINISTRATOR: "admin:index",
}

# Model permissions per role, as "app_label.codename" prefixes or exact names.
# Administrators get every permission; the others act through the product's
# own pages and API, whose role checks are in the views, not in the admin.
ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.DISPATCHER: [],
    Role.SUPERVISOR: [],
    Role.OFFICER: [],
    Role.ADMINISTRATOR: ["*"],
}


def roles_of(user) -> set[Role]:
    """Every role the user holds (superusers count as administrators)."""
    if not user or not user.is_authenticated or not user.is_active:
        return set()
    cached = getattr(user, "_beacon_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = {role for role in Role if role.value in names}
        if user.is_superuser:
            cached.add(Role.ADMINISTRATOR)
        user._beacon_roles = cached
    return cached


def has_role(user, *roles: Role) -> bool:
    """True when the user holds at least one of the roles."""
    return bool(roles_of(user) & set(roles))


def primary_role(user) -> Role | None:
    """The role whose page the user lands on: the first one held, in the order of Role."""
    held = roles_of(user)
    return next((role for role in Role if role in held), None)


def ensure_roles() -> None:
    """Create the role groups and give administrators every permission (idempotent)."""
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        if ROLE_PERMISSIONS[role] == ["*"]:
            group.permissions.set(Permission.objects.all())
