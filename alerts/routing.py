"""Websocket paths of devices.

Cameras send no Origin header and sign in with a bearer token, not a session,
so their socket is routed outside the consoles' Origin and session checks
(config/asgi.py); `websocket_urlpatterns` is for same-origin pages, and has none.
"""

from django.urls import path

from alerts.consumers import DeviceConsumer

websocket_urlpatterns: list = []

device_websocket_urlpatterns: list = [
    path("ws/device/", DeviceConsumer.as_asgi()),
]
