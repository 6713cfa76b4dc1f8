from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _create_roles(sender, **kwargs):
    from accounts.roles import ensure_roles

    ensure_roles()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        # Groups must exist after every migrate, with every permission that
        # the migrations just created given to administrators.
        post_migrate.connect(_create_roles, dispatch_uid="beacon-create-roles")
        from accounts import audit_hooks  # noqa: F401
