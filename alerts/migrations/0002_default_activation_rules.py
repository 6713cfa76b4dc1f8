"""Default activation policy (DESIGN.md, capabilities 4 and 5); administrators edit it in the admin."""

from django.db import migrations

# trigger: (record, stream, severity, dispatchers, supervisors, nearby officers)
DEFAULT_RULES = {
    "weapon_drawn": (True, True, "high", True, True, True),
    "officer_down": (True, True, "high", True, True, True),
    "gunshot": (True, True, "high", True, True, True),
    "panic": (True, True, "high", True, True, True),
    "foot_pursuit": (True, True, "medium", True, True, False),
    "struggle": (True, True, "medium", True, True, False),
}


def add_rules(apps, schema_editor):
    ActivationRule = apps.get_model("alerts", "ActivationRule")
    for trigger, (record, stream, severity, dispatchers, supervisors, nearby) in DEFAULT_RULES.items():
        ActivationRule.objects.get_or_create(
            trigger=trigger,
            defaults={
                "command_record": record,
                "command_stream": stream,
                "alert_severity": severity,
                "notify_dispatchers": dispatchers,
                "notify_supervisors": supervisors,
                "notify_nearby_officers": nearby,
            },
        )


def remove_rules(apps, schema_editor):
    apps.get_model("alerts", "ActivationRule").objects.filter(trigger__in=DEFAULT_RULES).delete()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]

    operations = [migrations.RunPython(add_rules, remove_rules)]
