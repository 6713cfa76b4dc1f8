"""Seed APCO ANS 2.103.2 common incident types (law enforcement) and common disposition codes.

Administrators add local types in the admin and map each onto one of these.
"""

from django.db import migrations

# (code, name, default priority 1 = most urgent)
INCIDENT_TYPES = [
    ("MAYDAY", "Mayday - officer in trouble, needs immediate help", 1),
    ("SHOOT", "Shooting", 1),
    ("HOMICIDE", "Homicide", 1),
    ("HOSTAGE", "Hostage", 1),
    ("BARRICADE", "Barricaded person", 1),
    ("TERROR", "Terrorist activity", 1),
    ("WEAPON", "Weapon - person with a weapon", 1),
    ("ROBBERY", "Robbery", 1),
    ("CARJACK", "Carjacking", 1),
    ("ABDUCTF", "Abduction by a family member", 1),
    ("ABDUCTNF", "Abduction by a non-family member", 1),
    ("PURSUIT", "Pursuit - vehicle or foot", 1),
    ("DVA", "Domestic dispute with violence", 1),
    ("ALRPANA", "Panic alarm, audible", 1),
    ("ALRPANS", "Panic alarm, silent", 1),
    ("ALRROBA", "Robbery alarm, audible", 1),
    ("ALRROBS", "Robbery alarm, silent", 1),
    ("ASSAULT", "Assault", 2),
    ("FIGHT", "Fight - verbal or physical dispute", 2),
    ("SEXOFFNS", "Sex offense", 2),
    ("SUICTHRT", "Suicide threat or attempt", 2),
    ("BURGLARY", "Burglary", 2),
    ("DUI", "Driving while intoxicated", 2),
    ("RECKDRV", "Reckless driver", 2),
    ("MVAHR", "Hit and run", 2),
    ("MVAINJY", "Vehicle crash with injury", 2),
    ("THREATS", "Threats", 2),
    ("EDP", "Emotionally disturbed person", 2),
    ("ESCAPE", "Escaped prisoner", 2),
    ("RESIST", "Resisting arrest", 2),
    ("ALRBA", "Burglar alarm, audible", 3),
    ("ALRBS", "Burglar alarm, silent", 3),
    ("ALRU", "Alarm, unknown type", 3),
    ("DVNA", "Domestic dispute without violence", 3),
    ("DISORD", "Disorderly conduct or disturbance", 3),
    ("PERSUSP", "Suspicious person", 3),
    ("VEHSUSP", "Suspicious vehicle", 3),
    ("SUSP", "Suspicious incident", 3),
    ("PERMISS", "Missing person", 3),
    ("RUNAWAY", "Runaway", 3),
    ("WELFARE", "Welfare check", 3),
    ("ABUSE", "Abuse - child or elder", 3),
    ("DRUGS", "Drugs", 3),
    ("LARCENY", "Larceny", 3),
    ("SHOPLIFT", "Shoplifting", 3),
    ("VEHSTLN", "Stolen vehicle", 3),
    ("TRESPASS", "Trespass", 3),
    ("INTOX", "Intoxicated person", 3),
    ("MVA", "Vehicle crash, no injury", 3),
    ("THAZ", "Traffic hazard", 3),
    ("TSTOP", "Traffic stop", 3),
    ("SUBJSTP", "Subject stop", 3),
    ("PERWANT", "Wanted person", 3),
    ("ORDERV", "Protection order violation", 3),
    ("ASSIST", "Assist other agency", 3),
    ("HARR", "Harassment", 4),
    ("FRAUD", "Fraud", 4),
    ("VANDAL", "Vandalism", 4),
    ("NOISE", "Noise complaint", 4),
    ("ANIMAL", "Animal complaint", 4),
    ("CIVIL", "Civil matter", 4),
    ("PARKING", "Parking complaint", 4),
    ("VEHABND", "Abandoned vehicle", 4),
    ("VEHASST", "Motorist assist", 4),
    ("PROPFND", "Found property", 5),
    ("PROPLOST", "Lost property", 5),
    ("ATL", "Attempt to locate", 4),
    ("911H", "911 hang-up", 3),
    ("ADMIN", "Administrative - follow-up, extra patrol", 5),
]

# Common disposition codes: how a call ended.
DISPOSITIONS = [
    ("ARR", "Arrest made"),
    ("CIT", "Citation issued"),
    ("RPT", "Report taken"),
    ("WARN", "Warning issued"),
    ("ADV", "Advised, assistance given"),
    ("GOA", "Gone on arrival"),
    ("UTL", "Unable to locate"),
    ("UNF", "Unfounded"),
    ("FALSE", "False alarm"),
    ("REF", "Referred to another agency"),
    ("TRAN", "Transported"),
    ("RESV", "Resolved, no report"),
    ("DUP", "Duplicate call"),
    ("CANC", "Cancelled by caller"),
    ("OTH", "Other"),
]


def seed(apps, schema_editor):
    IncidentType = apps.get_model("dispatch", "IncidentType")
    DispositionCode = apps.get_model("dispatch", "DispositionCode")
    for code, name, priority in INCIDENT_TYPES:
        IncidentType.objects.update_or_create(code=code, defaults={"name": name, "default_priority": priority})
    for code, name in DISPOSITIONS:
        DispositionCode.objects.update_or_create(code=code, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [
        ("dispatch", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
