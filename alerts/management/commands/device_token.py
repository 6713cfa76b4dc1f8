"""python manage.py device_token <device name>: issue a device a new token and print it, once."""

from django.core.management.base import BaseCommand, CommandError

from alerts.models import Device
from alerts.services import device_issue_token


class Command(BaseCommand):
    help = "Issue a device a new bearer token (its old token stops working) and print it once."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The device's name, e.g. bc-1234.")

    def handle(self, *args, name, **options):
        device = Device.objects.filter(name=name).first()
        if device is None:
            raise CommandError(f"There is no device named {name!r}; add it in the admin first.")
        token = device_issue_token(device=device, actor=None)
        self.stderr.write(f"New token for {device.name}; it is shown only now, and the old one no longer works:")
        self.stdout.write(token)
