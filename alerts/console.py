"""What a console's snapshot needs from alerts."""

from alerts.models import Alert, ProneWindow
from alerts.serializers import ConsoleAlertSerializer
from alerts.services import prompt_data


def unacknowledged_alerts() -> list[dict]:
    """Every raised alert nobody has acknowledged yet, newest first, as alert events carry them."""
    return ConsoleAlertSerializer(Alert.objects.unacknowledged().with_details(), many=True).data


def open_prompts() -> list[dict]:
    """Every "are you OK?" prompt still waiting for an answer, so an MDT that reconnects shows it again."""
    windows = ProneWindow.objects.filter(closed_at__isnull=True).select_related("unit", "device")
    return [prompt_data(window) for window in windows]
