from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _restore_default_rules(sender, **kwargs):
    """Put the default activation policy into an empty table (after a flush, as in tests that commit)."""
    from alerts.models import ActivationRule
    from alerts.policy import ensure_default_rules

    if not ActivationRule.objects.exists():
        ensure_default_rules()


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Devices and alerts"

    def ready(self):
        post_migrate.connect(_restore_default_rules, sender=self, dispatch_uid="beacon-alerts-default-rules")
