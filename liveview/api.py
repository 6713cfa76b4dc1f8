"""WHIP and WHEP (/live/): cameras publish, signed-in viewers watch; one HTTP exchange of SDP each.

WHIP (RFC 9725): `POST /live/whip/<device>` with `Content-Type: application/sdp`
answers `201 Created`, the SDP answer and `Location: /live/whip/<device>/<session>`;
`DELETE` on that location stops the publication. A camera signs in with its
device token (`Authorization: Bearer <token>`). A signed-in officer may instead
publish their unit's MDT camera (kind `mdt_camera`) with the session cookie and
the `X-CSRFToken` header, as the MDT's "Go live" button does: the browser holds
no device token.

WHEP: `POST /live/whep/<device>?reason=<code>` for signed-in supervisors and
dispatchers (any camera) and officers (their own unit's cameras), same answer
shape; `DELETE` on the location ends the viewing. Every viewing is a
`LiveSession` row and two audit rows.

These are plain async Django views, not DRF: the bodies are SDP, and the relay's
peer connections must live in the server's event loop (`liveview.node`).
Trickle ICE is not supported (aiortc gathers every candidate before answering),
so `PATCH` on a session answers 405.

A request for a camera that another node relays is redirected there with 307,
which keeps the method and body (DESIGN.md, Shape: Production); so is a WHIP
publish of a camera live on another node, whose publication stays there until
it ends or its node stops refreshing the registry.
"""

from __future__ import annotations

import dataclasses
import logging

from aiortc import sdp
from channels.db import database_sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from accounts.roles import Role, has_role
from alerts.auth import INVALID_TOKEN, bearer_token
from alerts.models import Device, DeviceKind
from alerts.services import device_for_token
from audit.services import client_ip
from dispatch.models import Officer
from liveview import services
from liveview.models import LiveSession, LiveStream, ViewReason
from liveview.node import Node, node_for
from liveview.relay import CameraOffline, NoCommonCodec, RelayError

logger = logging.getLogger(__name__)

# A browser's offer with audio, video and every host candidate is about 6 KB.
MAX_SDP_BYTES = 64 * 1024
SDP_TYPE = "application/sdp"
NO_TRICKLE = (
    "Trickle ICE is not supported: the answer already carries every candidate of the relay; "
    "put all of yours in the offer."
)


class Refusal(Exception):
    """A request the endpoint answers with a 4xx and a sentence."""

    def __init__(self, status: int, sentence: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence
        self.headers = headers or {}

    def response(self) -> HttpResponse:
        return _text(self.sentence, self.status, self.headers)


def _text(sentence: str, status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(sentence + "\n", status=status, content_type="text/plain; charset=utf-8", headers=headers)


def _created(answer: str, location: str) -> HttpResponse:
    return HttpResponse(answer, status=201, content_type=SDP_TYPE, headers={"Location": location})


def _redirect(owner: str, request: HttpRequest) -> HttpResponse:
    """307 keeps the method and the offer (RFC 9110 15.4.8); the owner answers as if asked first."""
    target = owner.rstrip("/") + request.get_full_path()
    return _text(f"This camera is relayed by {owner}.", 307, {"Location": target})


def _not_allowed(allowed: str, sentence: str | None = None) -> HttpResponse:
    return _text(sentence or f"Use {allowed} here.", 405, {"Allow": allowed})


# Authentication and roles (synchronous: they read the database) ---------------------


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


def _csrf_problem(request: HttpRequest) -> str | None:
    """Django's own CSRF check, as for any same-origin fetch: the csrftoken cookie echoed in X-CSRFToken."""
    check = _CsrfCheck(lambda _request: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


def _device(name: str) -> Device:
    device = Device.objects.select_related("officer", "unit").filter(name=name).first()
    if device is None:
        raise Refusal(404, f"There is no camera named {name}.")
    return device


def _signed_in_user(request: HttpRequest):
    user = request.user
    if not user.is_authenticated:
        return None
    problem = _csrf_problem(request)
    if problem:
        raise Refusal(403, f"CSRF check failed ({problem}): send the csrftoken cookie's value as X-CSRFToken.")
    return user


def _officer_unit(user) -> int | None:
    officer = Officer.objects.filter(user=user).only("unit_id").first()
    return officer.unit_id if officer else None


def _authorize_publisher(request: HttpRequest, name: str) -> tuple[Device, str]:
    """The camera and who publishes it: its own token, or the signed-in officer of its unit for an MDT camera."""
    device = _device(name)
    header = request.META.get("HTTP_AUTHORIZATION")
    if header:
        token = bearer_token(header)
        if token is None:
            raise Refusal(401, "Send the device's token as Authorization: Bearer <token>.", _BEARER)
        holder = device_for_token(token)
        if holder is None:
            raise Refusal(401, INVALID_TOKEN, _BEARER)
        if holder.pk != device.pk:
            raise Refusal(403, f"This token belongs to camera {holder.name}, not {name}.")
        return device, f"device:{device.name}"
    user = _signed_in_user(request)
    if user is None:
        raise Refusal(
            401,
            "Send the device's token as Authorization: Bearer <token>, "
            "or sign in as an officer of the unit whose MDT camera this is.",
            _BEARER,
        )
    if device.kind != DeviceKind.MDT_CAMERA:
        raise Refusal(403, f"Camera {name} publishes with its own device token; only MDT cameras publish from an MDT.")
    unit = _officer_unit(user)
    if not has_role(user, Role.OFFICER) or unit is None or device.current_unit_id != unit:
        raise Refusal(403, f"Camera {name} is not the MDT camera of your unit.")
    if not device.active:
        raise Refusal(403, f"Camera {name} is inactive; ask an administrator.")
    return device, user.get_username()


_BEARER = {"WWW-Authenticate": 'Bearer realm="devices"'}


def _authorize_viewer(request: HttpRequest, name: str, reason: str | None) -> tuple[Device, object]:
    """The camera and the viewer, who must be signed in, hold a role that may watch it, and give a reason."""
    user = _signed_in_user(request)
    if user is None:
        raise Refusal(403, "Sign in to watch live video.")
    if reason is not None and reason not in ViewReason.values:
        given = f"{reason!r} is not one" if reason else "none was given"
        raise Refusal(400, f"Give the reason for viewing as ?reason=, one of {', '.join(ViewReason.values)}: {given}.")
    device = _device(name)
    if has_role(user, Role.SUPERVISOR, Role.DISPATCHER):
        return device, user
    if has_role(user, Role.OFFICER):
        unit = _officer_unit(user)
        if unit is not None and device.current_unit_id == unit:
            return device, user
        raise Refusal(403, f"Camera {name} is not one of your unit's cameras; officers watch only their own unit's.")
    raise Refusal(403, "Live video is for supervisors, dispatchers and the officers of the camera's unit.")


def _authorize_stats(request: HttpRequest, name: str) -> Device:
    user = request.user
    if not user.is_authenticated or not has_role(user, Role.SUPERVISOR, Role.ADMINISTRATOR):
        raise Refusal(403, "Relay statistics are for supervisors and administrators.")
    return _device(name)


def _stream(resource: str, device: Device) -> LiveStream | None:
    return LiveStream.objects.filter(resource=resource, device=device).first()


def _session(resource: str, device: Device) -> LiveSession | None:
    return LiveSession.objects.filter(resource=resource, device=device).first()


# SDP ---------------------------------------------------------------------------------


def _sdp_offer(request: HttpRequest) -> str:
    """The request's SDP offer, or a Refusal saying what is wrong with it."""
    content_type = (request.content_type or "").lower()
    if content_type != SDP_TYPE:
        raise Refusal(415, f"Send the SDP offer with Content-Type: {SDP_TYPE}, not {content_type or 'none'}.")
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_SDP_BYTES:
        raise Refusal(413, f"An SDP offer is at most {MAX_SDP_BYTES} bytes.")
    body = request.body
    if len(body) > MAX_SDP_BYTES:
        raise Refusal(413, f"An SDP offer is at most {MAX_SDP_BYTES} bytes.")
    problem = _sdp_problem(body)
    if problem:
        raise Refusal(400, f"The body is not an SDP offer: {problem}")
    return body.decode()


def _sdp_problem(body: bytes) -> str | None:
    if not body.strip():
        return "it is empty."
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return "it is not UTF-8 text."
    if not text.lstrip().startswith("v=0"):
        return "it does not begin with v=0 (RFC 8866)."
    if "\nm=" not in text:
        return "it has no media section (m=)."
    try:
        sdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc's parser raises whatever a malformed line makes it raise
        return f"it cannot be parsed ({exc.__class__.__name__}: {exc})."
    return None


# WHIP --------------------------------------------------------------------------------


@csrf_exempt
async def whip(request: HttpRequest, name: str) -> HttpResponse:
    """Publish a camera: the offer in, the answer and the session's location out."""
    if request.method != "POST":
        return _not_allowed("POST")
    node = node_for(request)
    try:
        device, publisher = await database_sync_to_async(_authorize_publisher)(request, name)
        offer = _sdp_offer(request)
        owner = await node.registry.claim(name, node.url)
        if owner != node.url:
            return _redirect(owner, request)
        async with node.camera_lock(name):
            answer = await _publish(node, name, offer)
            resource = node.new_resource()
            try:
                await database_sync_to_async(services.stream_start)(
                    device=device,
                    resource=resource,
                    node=node.url,
                    codec=node.relay.stats(name).video_codec or "",
                    published_by=publisher,
                    source_ip=client_ip(request),
                )
            except Exception:
                await node.relay.unpublish(name)
                raise
            node.streams[name] = resource
    except Refusal as refusal:
        return refusal.response()
    return _created(answer, f"/live/whip/{name}/{resource}")


async def _publish(node: Node, name: str, offer: str) -> str:
    try:
        return await node.relay.publish(name, offer)
    except RelayError as exc:
        if not node.relay.is_live(name):
            await node.registry.release(name, node.url)
        raise Refusal(406 if isinstance(exc, NoCommonCodec) else 400, str(exc))


@csrf_exempt
async def whip_session(request: HttpRequest, name: str, resource: str) -> HttpResponse:
    """Stop a publication (DELETE)."""
    if request.method == "PATCH":
        return _not_allowed("DELETE", NO_TRICKLE)
    if request.method != "DELETE":
        return _not_allowed("DELETE")
    node = node_for(request)
    try:
        device, _ = await database_sync_to_async(_authorize_publisher)(request, name)
        stream = await database_sync_to_async(_stream)(resource, device)
        if stream is None:
            raise Refusal(404, f"Camera {name} has no publication {resource}.")
        if stream.ended_at is not None:
            return _text("This publication had ended already.", 200)
        if stream.node != node.url:
            return _redirect(stream.node, request)
        async with node.camera_lock(name):
            current = node.streams.get(name) == resource
        if current:
            await node.unpublish(name)
        await database_sync_to_async(services.stream_end)(resource=resource, source_ip=client_ip(request))
    except Refusal as refusal:
        return refusal.response()
    return _text("The publication has ended.", 200)


# WHEP --------------------------------------------------------------------------------


@csrf_exempt  # checked in _authorize_viewer, to answer with a sentence rather than Django's page
async def whep(request: HttpRequest, name: str) -> HttpResponse:
    """Watch a camera: the offer in, the answer and the viewing's location out; the viewing is recorded."""
    if request.method != "POST":
        return _not_allowed("POST")
    node = node_for(request)
    try:
        device, user = await database_sync_to_async(_authorize_viewer)(request, name, request.GET.get("reason", ""))
        offer = _sdp_offer(request)
        owner = await node.registry.owner(name)
        if owner is not None and owner != node.url:
            return _redirect(owner, request)
        if not node.relay.is_live(name):
            raise Refusal(404, f"Camera {name} is not live.")
        try:
            viewer_id, answer = await node.relay.subscribe(name, offer, on_change=node.viewer_changed(name))
        except CameraOffline as exc:
            raise Refusal(404, str(exc))
        except RelayError as exc:
            raise Refusal(406 if isinstance(exc, NoCommonCodec) else 400, str(exc))
        node.viewers[viewer_id] = name
        try:
            await database_sync_to_async(services.session_start)(
                viewer=user,
                device=device,
                reason=request.GET["reason"],
                resource=viewer_id,
                node=node.url,
                source_ip=client_ip(request),
            )
        except Exception:
            node.viewer_recorded(viewer_id, False)
            await node.relay.unsubscribe(viewer_id)
            raise
        node.viewer_recorded(viewer_id, True)
    except Refusal as refusal:
        return refusal.response()
    return _created(answer, f"/live/whep/{name}/{viewer_id}")


@csrf_exempt
async def whep_session(request: HttpRequest, name: str, resource: str) -> HttpResponse:
    """End a viewing (DELETE); its end and duration are recorded."""
    if request.method == "PATCH":
        return _not_allowed("DELETE", NO_TRICKLE)
    if request.method != "DELETE":
        return _not_allowed("DELETE")
    node = node_for(request)
    try:
        device, user = await database_sync_to_async(_authorize_viewer)(request, name, None)
        session = await database_sync_to_async(_session)(resource, device)
        if session is None:
            raise Refusal(404, f"Camera {name} has no viewing {resource}.")
        if session.viewer_id != user.pk:
            raise Refusal(403, "This viewing is someone else's; only its viewer ends it.")
        if session.ended_at is not None:
            return _text("This viewing had ended already.", 200)
        if session.node != node.url:
            return _redirect(session.node, request)
        await node.unsubscribe(resource)
        await database_sync_to_async(services.session_end)(resource=resource, source_ip=client_ip(request))
    except Refusal as refusal:
        return refusal.response()
    return _text("The viewing has ended.", 200)


# Operations ---------------------------------------------------------------------------


async def stats(request: HttpRequest, name: str) -> HttpResponse:
    """What the relay does for a live camera (viewers, frames, encoders opened), for supervisors and administrators."""
    if request.method != "GET":
        return _not_allowed("GET")
    node = node_for(request)
    try:
        await database_sync_to_async(_authorize_stats)(request, name)
        owner = await node.registry.owner(name)
        if owner is not None and owner != node.url:
            return _redirect(owner, request)
        try:
            counters = node.relay.stats(name)
        except CameraOffline as exc:
            raise Refusal(404, str(exc))
    except Refusal as refusal:
        return refusal.response()
    return JsonResponse({"device": name, "node": node.url, **dataclasses.asdict(counters)})


urlpatterns = [
    path("whip/<slug:name>", whip, name="whip"),
    path("whip/<slug:name>/<slug:resource>", whip_session, name="whip-session"),
    path("whep/<slug:name>", whep, name="whep"),
    path("whep/<slug:name>/<slug:resource>", whep_session, name="whep-session"),
    path("stats/<slug:name>", stats, name="live-stats"),
]
