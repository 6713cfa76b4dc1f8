"""What every API error looks like."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import RefusedChange


class Conflict(exceptions.APIException):
    """A refused state change: 409 with a sentence saying why."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "That change is not allowed in the current state."
    default_code = "conflict"


def exception_handler(exc, context) -> Response | None:
    """DRF's handler, plus domain errors that carry a sentence for a person."""
    if isinstance(exc, RefusedChange):
        exc = Conflict(str(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    return drf_exception_handler(exc, context)
