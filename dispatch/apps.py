import importlib

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _restore_vocabularies(sender, **kwargs):
    """Seed the APCO incident types and dispositions into an empty table.

    The data migration seeds them once; this puts them back after a flush
    (which also sends post_migrate), as tests that commit do. Tables an
    administrator has filled are left alone.
    """
    from dispatch.models import IncidentType

    if IncidentType.objects.exists():
        return
    seed_migration = importlib.import_module("dispatch.migrations.0002_seed_apco_codes")
    from django.apps import apps

    seed_migration.seed(apps, None)


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = "Dispatch"

    def ready(self):
        post_migrate.connect(_restore_vocabularies, sender=self, dispatch_uid="beacon-dispatch-vocabularies")
