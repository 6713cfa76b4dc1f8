"""Every websocket path of the product, gathered from the apps."""

from alerts.routing import websocket_urlpatterns as alerts_ws
from events.routing import websocket_urlpatterns as events_ws

websocket_urlpatterns = [*events_ws, *alerts_ws]
