"""Websocket paths of consoles."""

from django.urls import path

from events.consumers import ConsoleConsumer

websocket_urlpatterns: list = [
    path("ws/console/", ConsoleConsumer.as_asgi()),
]
