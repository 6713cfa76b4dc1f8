"""This process as a live video node: its one relay, its base URL, and the registry of which node owns a camera.

A camera belongs to the relay process it published to (DESIGN.md, Shape:
Production). With REDIS_URL the camera-to-node registry is a Redis key per
camera holding the owner's base URL, with a TTL the owner refreshes while the
camera is live, so a node that dies lets go of its cameras within the TTL.
Without REDIS_URL there is one process, and the registry is a dict.

The node is created on the first WHIP/WHEP request, in the server's event loop,
where the relay's peer connections must live.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import logging
import os
import uuid
from collections.abc import Coroutine
from typing import Any

from aiortc import RTCConfiguration
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections

from liveview import services
from liveview.models import STREAM_REFRESH_SECONDS
from liveview.relay import ForwardingRelay, ViewerState

logger = logging.getLogger(__name__)

OWNER_TTL_SECONDS = 30

_nodes: dict[asyncio.AbstractEventLoop, Node] = {}


def node_url_setting() -> str:
    """BEACON_NODE_URL: the base URL at which clients reach this process, e.g. http://10.0.0.5:8001."""
    return (getattr(settings, "BEACON_NODE_URL", "") or os.environ.get("BEACON_NODE_URL", "")).rstrip("/")


def _namespace() -> str:
    """Cameras of one database only: two deployments or test runs sharing a Redis must not see each other's."""
    import hashlib

    db = connections["default"].settings_dict
    log = f"{db['ENGINE']}|{db.get('HOST') or ''}|{db.get('PORT') or ''}|{db['NAME']}"
    return hashlib.sha256(log.encode()).hexdigest()[:16]


class MemoryRegistry:
    """Camera ownership for a single process."""

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}

    async def owner(self, camera: str) -> str | None:
        return self._owners.get(camera)

    async def claim(self, camera: str, node: str) -> str:
        """Take the camera unless another node holds it; return the owner after the attempt."""
        return self._owners.setdefault(camera, node)

    async def refresh(self, cameras: list[str], node: str) -> None:
        for camera in cameras:
            self._owners[camera] = node

    async def release(self, camera: str, node: str) -> None:
        if self._owners.get(camera) == node:
            del self._owners[camera]

    def release_now(self, cameras: list[str], node: str) -> None:
        for camera in cameras:
            if self._owners.get(camera) == node:
                del self._owners[camera]


# Delete the key only if this node still holds it: a camera that moved on must stay with its new owner.
_RELEASE_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class RedisRegistry:
    """Camera ownership shared by every node: one key per camera with the owner's URL, expiring unless refreshed."""

    def __init__(self, url: str) -> None:
        import redis.asyncio

        self._url = url
        self._redis = redis.asyncio.Redis.from_url(url, socket_timeout=2, decode_responses=True)
        self._prefix = f"beacon:live:{_namespace()}:owner:"

    async def owner(self, camera: str) -> str | None:
        return await self._redis.get(self._prefix + camera)

    async def claim(self, camera: str, node: str) -> str:
        key = self._prefix + camera
        if await self._redis.set(key, node, ex=OWNER_TTL_SECONDS, nx=True):
            return node
        owner = await self._redis.get(key)
        if owner is None:  # expired between the two calls
            return await self.claim(camera, node)
        if owner == node:
            await self._redis.expire(key, OWNER_TTL_SECONDS)
        return owner

    async def refresh(self, cameras: list[str], node: str) -> None:
        if not cameras:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for camera in cameras:
                pipe.set(self._prefix + camera, node, ex=OWNER_TTL_SECONDS)
            await pipe.execute()

    async def release(self, camera: str, node: str) -> None:
        await self._redis.eval(_RELEASE_SCRIPT, 1, self._prefix + camera, node)

    def release_now(self, cameras: list[str], node: str) -> None:
        """Let go of cameras without an event loop, as the process exits."""
        import redis

        client = redis.Redis.from_url(self._url, socket_timeout=2)
        for camera in cameras:
            client.eval(_RELEASE_SCRIPT, 1, self._prefix + camera, node)

    async def close(self) -> None:
        await self._redis.aclose()


class Node:
    """The relay of this process and what it knows about the sessions it serves."""

    def __init__(self, url: str, registry: MemoryRegistry | RedisRegistry) -> None:
        self.url = url
        self.registry = registry
        # No ICE servers: cameras and consoles reach the relay on the agency's network, and a
        # STUN lookup on a machine without internet only delays every answer.
        self.relay = ForwardingRelay(RTCConfiguration(iceServers=[]), on_camera_change=self._camera_changed)
        self.streams: dict[str, str] = {}  # camera name -> its current WHIP resource
        self.viewers: dict[str, str] = {}  # WHEP resource (the relay's viewer id) -> camera name
        self._locks: dict[str, asyncio.Lock] = {}
        self._recorded: dict[str, asyncio.Future[bool]] = {}
        self._pending: dict[str, asyncio.Task[Any]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._refresher = _detached(self._refresh_forever())

    def camera_lock(self, camera: str) -> asyncio.Lock:
        """Serializes a camera's publish with the bookkeeping of its end, so rows follow the relay's order."""
        return self._locks.setdefault(camera, asyncio.Lock())

    # Cameras --------------------------------------------------------------------

    def new_resource(self) -> str:
        return uuid.uuid4().hex

    def _camera_changed(self, camera: str, live: bool) -> None:
        """The relay's callback: a camera started or stopped publishing here (WHIP DELETE, BYE, ICE failure)."""
        if not live:
            self._spawn(camera, self._camera_stopped(camera))

    async def _camera_stopped(self, camera: str) -> None:
        async with self.camera_lock(camera):
            if self.relay.is_live(camera):
                return  # a new publication took over meanwhile
            resource = self.streams.pop(camera, None)
            try:
                await self.registry.release(camera, self.url)
            except Exception:
                logger.warning("Could not release camera %s in the registry; its key expires.", camera, exc_info=True)
            if resource is not None:
                await database_sync_to_async(services.stream_end)(resource=resource)

    async def unpublish(self, camera: str) -> None:
        """End the camera's publication here and wait until its end is recorded."""
        await self.relay.unpublish(camera)
        await self.settle(camera)

    # Viewers --------------------------------------------------------------------

    def viewer_changed(self, camera: str):
        """An `on_change` for the relay: a viewer whose connection ended has its session closed."""

        def on_change(viewer_id: str, state: ViewerState) -> None:
            if state == ViewerState.ENDED:
                self._spawn(viewer_id, self._viewer_ended(viewer_id))

        return on_change

    def viewer_recorded(self, viewer_id: str, recorded: bool) -> None:
        """The view has written (or failed to write) the viewer's session row; its end may be recorded now."""
        future = self._recorded.setdefault(viewer_id, asyncio.get_running_loop().create_future())
        if not future.done():
            future.set_result(recorded)

    async def _viewer_ended(self, viewer_id: str) -> None:
        future = self._recorded.setdefault(viewer_id, asyncio.get_running_loop().create_future())
        try:
            recorded = await asyncio.wait_for(asyncio.shield(future), 30)
        except TimeoutError:
            recorded = True  # the row may exist; ending a missing one is harmless
        self._recorded.pop(viewer_id, None)
        self.viewers.pop(viewer_id, None)
        if recorded:
            await database_sync_to_async(services.session_end)(resource=viewer_id)

    async def unsubscribe(self, viewer_id: str) -> None:
        """End a viewing here and wait until its end is recorded."""
        await self.relay.unsubscribe(viewer_id)
        await self.settle(viewer_id)

    # Housekeeping ---------------------------------------------------------------

    def end_all_now(self) -> None:
        """As the process exits: end this node's publications and release its cameras, so they can publish elsewhere.

        Best effort: a node that is killed instead leaves its rows and keys to
        expire (STREAM_STALE_AFTER, OWNER_TTL_SECONDS).
        """
        streams = dict(self.streams)
        if not streams:
            return
        try:
            self.registry.release_now(list(streams), self.url)
            for resource in streams.values():
                services.stream_end(resource=resource)
        except Exception:
            logger.warning("Could not end this node's live cameras on exit; they expire.", exc_info=True)

    def _spawn(self, key: str, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = _detached(coroutine)
        self._tasks.add(task)
        self._pending[key] = task

        def done(finished: asyncio.Task[Any]) -> None:
            self._tasks.discard(finished)
            if self._pending.get(key) is finished:
                del self._pending[key]
            if not finished.cancelled() and finished.exception() is not None:
                logger.error("Recording the end of %s failed.", key, exc_info=finished.exception())

        task.add_done_callback(done)

    async def settle(self, key: str) -> None:
        """Wait for the bookkeeping spawned for a camera or viewer, if any."""
        task = self._pending.get(key)
        if task is not None:
            await asyncio.wait([task])

    async def _refresh_forever(self) -> None:
        """Keep this node's cameras registered and their rows fresh; close what dead nodes left open."""
        while True:
            await asyncio.sleep(STREAM_REFRESH_SECONDS)
            try:
                cameras = [camera for camera in self.streams if self.relay.is_live(camera)]
                await self.registry.refresh(cameras, self.url)
                resources = [self.streams[camera] for camera in cameras]
                await database_sync_to_async(services.streams_refresh)(resources=resources)
                await database_sync_to_async(services.streams_close_stale)()
            except Exception:
                logger.exception("Refreshing this node's live cameras failed; trying again shortly.")


def _detached(coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """A task outside the request it was started from.

    A task copies the context it is created in, and a request's context carries
    asgiref's executor for that request's thread, which quits when the request
    ends; database calls from the task would then fail.
    """
    return asyncio.get_running_loop().create_task(coroutine, context=contextvars.Context())


def current_node() -> Node:
    """The node of the running event loop; it must have been started by a request (`node_for`)."""
    node = _nodes.get(asyncio.get_running_loop())
    if node is None:
        raise RuntimeError("No live video node runs in this event loop yet.")
    return node


def node_for(request) -> Node:
    """This process's node, created on first use in the running loop; its URL from BEACON_NODE_URL or the request."""
    loop = asyncio.get_running_loop()
    node = _nodes.get(loop)
    if node is None:
        url = node_url_setting() or f"{request.scheme}://{request.get_host()}"
        redis_url = getattr(settings, "REDIS_URL", "")
        registry = RedisRegistry(redis_url) if redis_url else MemoryRegistry()
        node = _nodes[loop] = Node(url, registry)
        atexit.register(node.end_all_now)
    return node
