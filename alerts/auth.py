"""Device authentication: `Authorization: Bearer <device token>` (DESIGN.md, Device auth).

A device is not a user: a request it signs in has `request.auth` set to its
Device and `request.user` set to an anonymous principal. Tokens never reach a
log; only their hash is compared.
"""

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from alerts.models import Device

INVALID_TOKEN = "This device token is unknown or revoked; ask an administrator to issue the device a new one."
NO_TOKEN = "Send the device's token as Authorization: Bearer <token>."


def bearer_token(value: str | bytes | None) -> str | None:
    """The token in an Authorization header value, or None."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class DevicePrincipal(AnonymousUser):
    """Who a device request runs as: nobody with a role."""


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    """DRF authentication for device endpoints; unknown and revoked tokens are refused with 401."""

    def authenticate(self, request) -> tuple[DevicePrincipal, Device] | None:
        from alerts.services import device_for_token

        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            return None
        token = bearer_token(header)
        if token is None:
            raise exceptions.AuthenticationFailed(NO_TOKEN)
        device = device_for_token(token)
        if device is None:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN)
        return DevicePrincipal(), device

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="devices"'


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    """Names the device token in the OpenAPI description."""

    target_class = DeviceTokenAuthentication
    name = "deviceToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A device's token, issued by an administrator."}
