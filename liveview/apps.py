from django.apps import AppConfig


class LiveviewConfig(AppConfig):
    name = "liveview"
    verbose_name = "Live view"
