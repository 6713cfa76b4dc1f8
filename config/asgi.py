"""ASGI entry point: HTTP through Django, websockets through Channels."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from alerts.routing import device_websocket_urlpatterns  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(
            [
                # Cameras send no Origin header and sign in with a bearer token
                # (alerts.consumers), so their socket skips the checks below.
                *device_websocket_urlpatterns,
                # Consoles are same-origin pages: a handshake whose Origin is not the
                # site's own is refused before it reaches a consumer.
                re_path(r"", AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
            ]
        ),
    }
)

# Garbage collection, measured (BENCHMARKS.md, section 1): with a thousand
# sockets open, CPython's default thresholds ran a full collection every few
# seconds that stopped the event loop for 100-370 ms, and every console's next
# alert waited behind it. What start-up loaded lives as long as the process and
# is left out of every collection; collections run after 50,000 new objects
# rather than 700, and full ones far more rarely.
gc.freeze()
gc.set_threshold(50_000, 20, 100)
