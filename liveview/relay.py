"""Live view relay: forwards a camera's encoded media to many viewers, decoding and encoding nothing.

aiortc's `MediaRelay` decodes a camera once and encodes it again for every viewer,
about 0.1 core per viewer (notes/liveview.md). Here the publisher's `RTCRtpReceiver`
hands each complete encoded frame to the relay where it would hand it to its
decoder (`EncodedFrameTap`), and each viewer's `RTCRtpSender` gets the frame back
as an `av.Packet` (`ForwardedTrack`), which aiortc only packetizes.

This module knows nothing of Django: the WHIP and WHEP views own authentication,
audit and HTTP; the relay owns the peer connections and the media.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
    sdp,
)
from aiortc.codecs import is_rtx
from aiortc.exceptions import InternalError, InvalidAccessError, OperationError
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

logger = logging.getLogger(__name__)

# Half a second at 30 fps / of 20 ms audio packets: a consumer further behind than
# that is slow, and catching up from a fresh keyframe beats sending stale pictures.
VIDEO_QUEUE_FRAMES = 15
AUDIO_QUEUE_FRAMES = 25

# One PLI answers every viewer waiting at that moment; ask again only if the
# keyframe has not come within this time (a lost PLI or keyframe).
KEYFRAME_REQUEST_INTERVAL = 0.5

# Forwarding delays kept per camera for its stats: at 30 fps, the last few seconds of a busy camera.
FORWARD_DELAY_SAMPLES = 1000

# Codecs whose encoded frames aiortc's senders can packetize without encoding.
FORWARDED_VIDEO_CODECS = ("video/vp8", "video/h264")

NEGOTIATION_ERRORS = (ValueError, InternalError, InvalidAccessError, OperationError)


class RelayError(Exception):
    """A publish, subscribe or recording the relay cannot serve; the message says why to a person."""


class CameraOffline(RelayError):
    """The camera has no publisher and no earlier session to wait for."""


class NoCommonCodec(RelayError):
    """The offer has no codec the relay can forward (or not the camera's)."""


class ViewerState(StrEnum):
    """Where a viewer is, in the words a supervisor would use."""

    WAITING = "waiting"  # connected; the next keyframe from the camera starts the picture
    WATCHING = "watching"
    CAMERA_OFFLINE = "camera_offline"  # the camera's stream stopped; the viewer stays for its return
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One complete encoded frame from a camera, shared by every consumer."""

    data: bytes
    timestamp: int  # in the codec's clock, from 0 at the start of the publisher session
    keyframe: bool
    session: int  # which publisher session of the camera sent it
    received_at: float  # time.monotonic() when its last packet arrived


@dataclass(frozen=True, slots=True)
class CameraStats:
    """What the relay did for one camera; counts are video frames since the camera was first seen."""

    live: bool
    video_codec: str | None
    viewers: int
    frames_received: int
    keyframes_received: int
    frames_forwarded: int
    frames_dropped: int
    keyframe_requests: int
    video_encoders_opened: int  # viewers' senders that opened a real encoder: always 0 unless broken
    forward_delay_p50_ms: float | None  # a frame's last packet in, to a viewer's sender taking it;
    forward_delay_p95_ms: float | None  # over the last FORWARD_DELAY_SAMPLES frames forwarded


def is_keyframe(mime_type: str, data: bytes) -> bool:
    """Whether a decoder can start at this frame: where a new viewer's picture begins."""
    codec = mime_type.lower()
    if codec == "video/vp8":
        # RFC 6386 9.1: bit 0 of the frame tag is 0 for a key frame, which carries a start code.
        return len(data) >= 10 and not data[0] & 0x01 and data[3:6] == b"\x9d\x01\x2a"
    if codec == "video/h264":
        # Annex B NAL units as aiortc depayloads them; an IDR slice (5) or a sequence parameter set (7).
        start = data.find(b"\x00\x00\x01")
        while start != -1 and start + 3 < len(data):
            if data[start + 3] & 0x1F in (5, 7):
                return True
            start = data.find(b"\x00\x00\x01", start + 3)
        return False
    return True


class _PromptJitterBuffer(JitterBuffer):
    """aiortc's jitter buffer, releasing a frame as soon as its last packet is in.

    aiortc's own releases a frame when the next frame's first packet arrives, which
    would add one frame interval (33 ms at 30 fps) at the relay. The marker bit ends
    a video frame (RFC 7741, RFC 6184); every audio packet is a frame.
    """

    def __init__(self, capacity: int, is_video: bool) -> None:
        super().__init__(capacity=capacity, is_video=is_video)
        self.media_ssrc: int | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        """Remember the stream's SSRC (after RTX unwrapping), which a PLI must name."""
        self.media_ssrc = packet.ssrc
        return super().add(packet)

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        packets: list[RtpPacket] = []
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self.capacity]
            if packet is None:
                return None
            if packets and packet.timestamp != packets[0].timestamp:
                return self._release(packets)  # the next frame began, so this one is whole
            packets.append(packet)
            if packet.marker or not self._is_video:
                return self._release(packets)
        return None

    def _release(self, packets: list[RtpPacket]) -> JitterFrame:
        self.remove(len(packets))
        data = b"".join(packet._data for packet in packets)  # type: ignore[attr-defined]
        return JitterFrame(data=data, timestamp=packets[0].timestamp)


class EncodedFrameTap:
    """Takes a receiver's complete encoded frames where its decoder would, so nothing is decoded.

    aiortc 1.16's `RTCRtpReceiver` puts `(codec, JitterFrame)` on a queue that its
    decoder thread reads. The tap stands in for that queue: `put` forwards frames
    on the event loop, and the thread, which still starts, only waits in `get`
    until the receiver stops. Install it after `setRemoteDescription` and before
    the connection starts receiving.
    """

    def __init__(
        self,
        receiver: RTCRtpReceiver,
        kind: str,
        on_frame: Callable[[RTCRtpCodecParameters, JitterFrame], None],
        on_end: Callable[[], None],
    ) -> None:
        if getattr(receiver, "_RTCRtpReceiver__decoder_thread", "missing") is not None:
            raise RuntimeError("Tap a receiver before it starts, on aiortc 1.16's RTCRtpReceiver layout.")
        self._receiver = receiver
        self._on_frame = on_frame
        self._on_end = on_end
        self._stopped = threading.Event()
        self._buffer = _PromptJitterBuffer(capacity=512 if kind == "video" else 16, is_video=kind == "video")
        receiver._RTCRtpReceiver__jitter_buffer = self._buffer  # type: ignore[attr-defined]
        receiver._RTCRtpReceiver__decoder_queue = self  # type: ignore[attr-defined]

    def put(self, item: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        """Called by the receiver on the event loop: a complete frame, or None once it stops."""
        if item is not None:
            self._on_frame(*item)
        elif not self._stopped.is_set():
            self._stopped.set()
            self._on_end()

    def get(self) -> None:
        """Called by the receiver's decoder thread: hold it, without a decoder, until the receiver stops."""
        self._stopped.wait()

    def can_request_keyframe(self) -> bool:
        """A PLI names the stream's SSRC, known once its first packet has arrived."""
        return self._buffer.media_ssrc is not None

    async def request_keyframe(self) -> None:
        """Send a Picture Loss Indication (RFC 4585 6.3.1) to the publisher."""
        if self._buffer.media_ssrc is not None:
            await self._receiver._send_rtcp_pli(self._buffer.media_ssrc)


class ForwardedTrack(MediaStreamTrack):
    """One consumer's copy of a camera's track, yielding encoded packets so a sender only packetizes them.

    Frames wait in a small queue of their own, so a slow consumer loses frames
    (and resumes at the next keyframe) without holding up the camera or others.
    """

    def __init__(self, camera: LiveCamera, kind: str, on_picture: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.kind = kind
        self._camera = camera
        clock_rate = camera.codecs[kind].clockRate
        self._clock_rate = clock_rate
        self._time_base = Fraction(1, clock_rate)
        self._needs_keyframe = kind == "video"
        self._queue: asyncio.Queue[EncodedFrame | None] = asyncio.Queue(
            VIDEO_QUEUE_FRAMES if kind == "video" else AUDIO_QUEUE_FRAMES
        )
        self._on_picture = on_picture
        self._started = False
        self._waiting = self._needs_keyframe
        self._session: int | None = None
        self._offset = 0
        self._last_pts: int | None = None
        self._last_sent_at = 0.0
        self.frames_dropped = 0

    def offer(self, frame: EncodedFrame) -> None:
        """Queue a frame for this consumer without ever waiting on it."""
        if not self._started or self.readyState != "live":
            return  # before the consumer reads, frames would only go stale here
        if self._queue.full():
            self.frames_dropped += self._queue.qsize()
            if self.kind == "video":
                self._camera.frames_dropped += self._queue.qsize()
            self.restart()
        if self._waiting:
            if not frame.keyframe:
                self._camera.request_keyframe()  # throttled: repeats only if one is overdue
                return
            self._waiting = False
            if self._on_picture is not None:
                self._on_picture()
        self._queue.put_nowait(frame)

    def restart(self) -> None:
        """Forget queued frames and start again at a keyframe: the next delta frame refers to lost ones."""
        while not self._queue.empty():
            self._queue.get_nowait()
        if self._needs_keyframe and not self._waiting:
            self._waiting = True
            self._camera.request_keyframe()

    async def recv(self) -> av.Packet:
        """The next frame as an `av.Packet` with its timestamp, which `RTCRtpSender` packs as is."""
        if self.readyState != "live":
            raise MediaStreamError
        if not self._started:
            # Asked for only now that the consumer reads, so the keyframe does not arrive stale.
            self._started = True
            if self._needs_keyframe:
                self._camera.request_keyframe()
        frame = await self._queue.get()
        if frame is None:
            raise MediaStreamError
        now = time.monotonic()
        if frame.session != self._session:
            if self._last_pts is not None:
                # A returning camera's clock starts again at 0; carry on at wall-clock pace so
                # the viewer's player sees a pause, not time running backwards.
                elapsed = max(1, round((now - self._last_sent_at) * self._clock_rate))
                self._offset = self._last_pts + elapsed - frame.timestamp
            self._session = frame.session
        pts = frame.timestamp + self._offset
        self._last_pts, self._last_sent_at = pts, now
        if self.kind == "video":
            self._camera.frames_forwarded += 1
            self._camera.forward_delays.append(now - frame.received_at)
        packet = av.Packet(frame.data)
        packet.pts = packet.dts = pts
        packet.time_base = self._time_base
        return packet

    def stop(self) -> None:
        """End the track and wake a consumer waiting in `recv`."""
        super().stop()
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)


class _Publisher:
    """One WHIP session of a camera: its peer connection and the taps on its receivers."""

    def __init__(self, pc: RTCPeerConnection, session: int) -> None:
        self.pc = pc
        self.session = session
        self.taps: dict[str, EncodedFrameTap] = {}


class _Viewer:
    """One WHEP session: a peer connection whose senders read `ForwardedTrack`s."""

    def __init__(
        self,
        viewer_id: str,
        camera: LiveCamera,
        pc: RTCPeerConnection,
        on_change: Callable[[str, ViewerState], None] | None,
    ) -> None:
        self.viewer_id = viewer_id
        self.camera = camera
        self.pc = pc
        self.on_change = on_change
        self.tracks: list[ForwardedTrack] = []
        self.state = ViewerState.WAITING

    def set_state(self, state: ViewerState) -> None:
        """Move to a state and tell whoever subscribed; ENDED is final."""
        if self.state in (state, ViewerState.ENDED):
            return
        self.state = state
        if self.on_change is not None:
            self.on_change(self.viewer_id, state)

    def picture_started(self) -> None:
        """The viewer's video resumed at a keyframe."""
        self.set_state(ViewerState.WATCHING)

    def encoders_opened(self) -> int:
        """How many of this viewer's video senders opened a real encoder (aiortc creates one lazily on encode)."""
        opened = 0
        for sender in self.pc.getSenders():
            encoder = getattr(sender, "_RTCRtpSender__encoder", None)
            if sender.kind == "video" and getattr(encoder, "codec", None) is not None:
                opened += 1
        return opened


class _Recording:
    """Writes a camera's video packets to a file as they came, without decoding or encoding."""

    def __init__(self, track: ForwardedTrack, path: str, codec: RTCRtpCodecCapability) -> None:
        self.track = track
        self.codec_name = codec.name.lower()
        try:
            self.container = av.open(path, "w")  # the format follows the file name's extension
            # PyAV opens this stream's encoder to write the header, off the event loop; nothing is encoded.
            self.stream = self.container.add_stream(self.codec_name)
            self.stream.time_base = Fraction(1, 90000)  # RTP's video clock, so timestamps keep their precision
        except (ValueError, av.FFmpegError) as exc:
            raise RelayError(f"Cannot record {codec.name} to {path}: {exc}") from exc
        self.task: asyncio.Future[None] = asyncio.ensure_future(self.run())

    async def run(self) -> None:
        """Mux packets until the track ends; file writes run off the event loop, which carries everyone's video."""
        first_pts: int | None = None
        try:
            while True:
                try:
                    packet = await self.track.recv()
                except MediaStreamError:
                    break
                if first_pts is None:
                    first_pts = packet.pts
                    self._describe_picture(bytes(packet))
                packet.pts = packet.dts = packet.pts - first_pts
                packet.stream = self.stream
                await asyncio.to_thread(self.container.mux, packet)
        finally:
            await asyncio.to_thread(self.container.close)

    def _describe_picture(self, keyframe: bytes) -> None:
        """Container headers need the picture size; FFmpeg's bitstream parser reads it without decoding."""
        parser = av.CodecContext.create(self.codec_name, "r")
        parser.parse(keyframe)
        parser.parse(None)
        if parser.width and parser.height:
            self.stream.width, self.stream.height = parser.width, parser.height


class LiveCamera:
    """A camera as the relay sees it: the current publisher, its codecs, and everyone consuming it."""

    def __init__(self, camera_id: str, relay: ForwardingRelay) -> None:
        self.camera_id = camera_id
        self.relay = relay
        self.publisher: _Publisher | None = None
        self.sessions = 0
        self.pending = 0  # publishes still negotiating: the camera must not be forgotten meanwhile
        self.codecs: dict[str, RTCRtpCodecCapability] = {}
        self.tracks: dict[str, set[ForwardedTrack]] = {"audio": set(), "video": set()}
        self.viewers: dict[str, _Viewer] = {}
        self.recording: _Recording | None = None
        self.frames_received = 0
        self.keyframes_received = 0
        self.frames_forwarded = 0
        self.frames_dropped = 0
        self.keyframe_requests = 0
        self.forward_delays: deque[float] = deque(maxlen=FORWARD_DELAY_SAMPLES)
        self._keyframe_requested_at: float | None = None

    def deliver(self, publisher: _Publisher, kind: str, codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
        """Hand one frame from the publisher to every consumer of its kind."""
        if publisher is not self.publisher:
            return  # the last packets of a session that was replaced
        keyframe = is_keyframe(codec.mimeType, frame.data)
        if kind == "video":
            self.frames_received += 1
            if keyframe:
                self.keyframes_received += 1
                self._keyframe_requested_at = None
        encoded = EncodedFrame(frame.data, frame.timestamp, keyframe, publisher.session, time.monotonic())
        for track in self.tracks[kind]:
            track.offer(encoded)

    def request_keyframe(self) -> None:
        """Ask the camera for a keyframe, unless one asked for moments ago is still on its way."""
        tap = self.publisher.taps.get("video") if self.publisher else None
        if tap is None or not tap.can_request_keyframe():
            return  # a new publisher's first frame is a keyframe anyway
        now = time.monotonic()
        if self._keyframe_requested_at is not None and now - self._keyframe_requested_at < KEYFRAME_REQUEST_INTERVAL:
            return
        self._keyframe_requested_at = now
        self.keyframe_requests += 1
        self.relay._spawn(tap.request_keyframe())

    def is_idle(self) -> bool:
        """Nothing to keep the camera for: no publisher, viewer, recording or publish under way."""
        return self.publisher is None and not self.viewers and self.recording is None and not self.pending

    def stats(self) -> CameraStats:
        """A snapshot of the camera's counters."""
        video = self.codecs.get("video")
        delays = sorted(self.forward_delays)
        return CameraStats(
            live=self.publisher is not None,
            video_codec=video.mimeType if video else None,
            viewers=len(self.viewers),
            frames_received=self.frames_received,
            keyframes_received=self.keyframes_received,
            frames_forwarded=self.frames_forwarded,
            frames_dropped=self.frames_dropped,
            keyframe_requests=self.keyframe_requests,
            video_encoders_opened=sum(viewer.encoders_opened() for viewer in self.viewers.values()),
            forward_delay_p50_ms=delays[len(delays) // 2] * 1000 if delays else None,
            forward_delay_p95_ms=delays[int(len(delays) * 0.95)] * 1000 if delays else None,
        )


class ForwardingRelay:
    """Cameras publish to it and viewers subscribe to it; media is forwarded encoded, never transcoded."""

    def __init__(
        self,
        configuration: RTCConfiguration | None = None,
        on_camera_change: Callable[[str, bool], None] | None = None,
    ) -> None:
        self._configuration = configuration
        self._on_camera_change = on_camera_change
        self._cameras: dict[str, LiveCamera] = {}
        self._viewers: dict[str, _Viewer] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def publish(self, camera_id: str, offer_sdp: str) -> str:
        """Accept a camera's WHIP offer and return the answer; a new publish replaces the camera's old session."""
        offered = _offered_codecs(offer_sdp)
        camera = self._cameras.setdefault(camera_id, LiveCamera(camera_id, self))
        camera.pending += 1
        try:
            chosen = {kind: _choose_codec(kind, codecs, camera.codecs.get(kind)) for kind, codecs in offered.items()}
            codecs = {kind: codec for kind, codec in chosen.items() if codec is not None}
            if "video" not in codecs:
                raise NoCommonCodec("The camera offers no video codec the relay can forward: VP8 or H.264.")
            publisher = await self._answer_camera(camera, codecs, offer_sdp)
            await self._go_live(camera, publisher, codecs)
        finally:
            camera.pending -= 1
            self._forget_if_idle(camera)
        return publisher.pc.localDescription.sdp

    async def _answer_camera(
        self, camera: LiveCamera, codecs: dict[str, RTCRtpCodecCapability], offer_sdp: str
    ) -> _Publisher:
        """Negotiate the publisher's peer connection, answering with exactly one codec per kind."""
        pc = RTCPeerConnection(self._configuration)
        publisher = _Publisher(pc, session=camera.sessions + 1)
        try:
            for kind, codec in codecs.items():
                pc.addTransceiver(kind, direction="recvonly").setCodecPreferences(_with_rtx(kind, codec))
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            # Receivers start only once ICE and DTLS connect, well after this.
            for transceiver in pc.getTransceivers():
                kind = transceiver.kind
                # A second track of one kind is tapped only so that no decoder runs for it.
                on_frame = _ignore_frame if kind in publisher.taps else _bind_deliver(camera, publisher, kind)
                tap = EncodedFrameTap(
                    transceiver.receiver, kind, on_frame, on_end=lambda: self._publisher_gone(camera, publisher)
                )
                publisher.taps.setdefault(kind, tap)
            await pc.setLocalDescription(await pc.createAnswer())
        except NEGOTIATION_ERRORS as exc:
            await pc.close()
            raise RelayError(f"The camera's offer cannot be used: {exc}") from exc
        return publisher

    async def _go_live(
        self, camera: LiveCamera, publisher: _Publisher, codecs: dict[str, RTCRtpCodecCapability]
    ) -> None:
        """Make the new publisher the camera's source; waiting viewers get its first keyframe."""
        if any(kind in camera.codecs and camera.codecs[kind] != codec for kind, codec in codecs.items()):
            # Viewers negotiated the old codec and cannot switch without a new offer of their own.
            for viewer_id in list(camera.viewers):
                await self.unsubscribe(viewer_id)
            await self.stop_recording(camera.camera_id)
        previous = camera.publisher
        camera.codecs = codecs
        camera.sessions = publisher.session
        camera.publisher = publisher
        camera._keyframe_requested_at = None
        for tracks in camera.tracks.values():
            for track in tracks:
                track.restart()  # the new session's frames refer to nothing sent before its first keyframe
        pc = publisher.pc

        @pc.on("connectionstatechange")
        def on_connection_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._publisher_gone(camera, publisher)

        if previous is not None:
            await previous.pc.close()
        for viewer in camera.viewers.values():
            viewer.set_state(ViewerState.WAITING)
        if previous is None and self._on_camera_change is not None:
            self._on_camera_change(camera.camera_id, True)

    async def unpublish(self, camera_id: str) -> bool:
        """End the camera's WHIP session; its viewers stay, waiting for it to return. False if it had none."""
        camera = self._cameras.get(camera_id)
        publisher = camera.publisher if camera else None
        if camera is None or publisher is None:
            return False
        self._publisher_gone(camera, publisher)
        await publisher.pc.close()
        return True

    async def subscribe(
        self,
        camera_id: str,
        offer_sdp: str,
        *,
        on_change: Callable[[str, ViewerState], None] | None = None,
    ) -> tuple[str, str]:
        """Accept a viewer's WHEP offer; return the viewer's id and the answer.

        `on_change(viewer_id, state)` is called on every change of `ViewerState`,
        including ENDED when the viewer's connection fails.
        """
        camera = self._cameras.get(camera_id)
        if camera is None or not camera.codecs:
            raise CameraOffline(f"Camera {camera_id} is not live.")
        viewer_id = uuid.uuid4().hex
        pc = RTCPeerConnection(self._configuration)
        viewer = _Viewer(viewer_id, camera, pc, on_change)
        camera.viewers[viewer_id] = viewer  # before any await, so the camera is not forgotten meanwhile
        self._viewers[viewer_id] = viewer
        try:
            for kind, codec in camera.codecs.items():
                track = ForwardedTrack(camera, kind, on_picture=viewer.picture_started if kind == "video" else None)
                transceiver = pc.addTransceiver(track, direction="sendonly")
                transceiver.setCodecPreferences(_with_rtx(kind, codec))
                # A viewer's PLI or FIR reaches its sender, which has nothing to encode: ask the camera.
                transceiver.sender._send_keyframe = camera.request_keyframe  # type: ignore[method-assign]
                viewer.tracks.append(track)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except NEGOTIATION_ERRORS as exc:
            viewer.on_change = None  # the caller gets the error instead; this viewer never existed for it
            await self.unsubscribe(viewer_id)
            video = camera.codecs.get("video")
            if isinstance(exc, OperationError) and video is not None:
                raise NoCommonCodec(f"The viewer cannot receive {video.name}, the codec camera {camera_id} sends.")
            raise RelayError(f"The viewer's offer cannot be used: {exc}") from exc
        if viewer.state == ViewerState.ENDED:
            raise CameraOffline(f"Camera {camera_id} stopped while the viewer was connecting.")

        for track in viewer.tracks:
            camera.tracks[track.kind].add(track)

        @pc.on("connectionstatechange")
        def on_connection_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._spawn(self.unsubscribe(viewer_id))

        if camera.publisher is None:
            viewer.set_state(ViewerState.CAMERA_OFFLINE)
        return viewer_id, pc.localDescription.sdp

    async def unsubscribe(self, viewer_id: str) -> bool:
        """End a viewer's WHEP session. False if there is no such viewer (any more)."""
        viewer = self._viewers.pop(viewer_id, None)
        if viewer is None:
            return False
        camera = viewer.camera
        camera.viewers.pop(viewer_id, None)
        for track in viewer.tracks:
            camera.tracks[track.kind].discard(track)
            track.stop()
        viewer.set_state(ViewerState.ENDED)
        await viewer.pc.close()
        self._forget_if_idle(camera)
        return True

    def is_live(self, camera_id: str) -> bool:
        """Whether the camera is publishing now."""
        camera = self._cameras.get(camera_id)
        return camera is not None and camera.publisher is not None

    def viewer_state(self, viewer_id: str) -> ViewerState:
        """Where a viewer is; ENDED once it is gone."""
        viewer = self._viewers.get(viewer_id)
        return viewer.state if viewer else ViewerState.ENDED

    def stats(self, camera_id: str) -> CameraStats:
        """Counters for one camera, for monitoring and for tests."""
        camera = self._cameras.get(camera_id)
        if camera is None:
            raise CameraOffline(f"Camera {camera_id} is not live.")
        return camera.stats()

    def open_track(self, camera_id: str, kind: str = "video") -> ForwardedTrack:
        """A consumer of the camera's encoded packets inside the server (a recorder, a thumbnailer).

        Like a viewer's, it starts at a keyframe after its first `recv`, and falls
        behind on its own; `stop()` it when done.
        """
        camera = self._cameras.get(camera_id)
        if camera is None or kind not in camera.codecs:
            raise CameraOffline(f"Camera {camera_id} is not live.")
        track = ForwardedTrack(camera, kind)
        camera.tracks[kind].add(track)

        @track.on("ended")
        def on_ended() -> None:
            camera.tracks[kind].discard(track)

        return track

    def start_recording(self, camera_id: str, path: str) -> None:
        """Write the camera's video to `path` as it arrives: .webm or .mkv for VP8; .mkv, .mp4 or .ts for H.264."""
        camera = self._cameras.get(camera_id)
        if camera is None or "video" not in camera.codecs:
            raise CameraOffline(f"Camera {camera_id} is not live.")
        if camera.recording is not None:
            raise RelayError(f"Camera {camera_id} is already being recorded.")
        track = self.open_track(camera_id, "video")
        try:
            recording = _Recording(track, path, camera.codecs["video"])
        except RelayError:
            track.stop()
            raise
        camera.recording = recording

    async def stop_recording(self, camera_id: str) -> bool:
        """Finish the camera's recording and close its file. False if it was not being recorded."""
        camera = self._cameras.get(camera_id)
        recording = camera.recording if camera else None
        if camera is None or recording is None:
            return False
        camera.recording = None
        recording.track.stop()
        try:
            await recording.task
        except (OSError, av.FFmpegError):
            logger.exception("The recording of camera %s failed; its file may be incomplete.", camera_id)
        self._forget_if_idle(camera)
        return True

    async def close(self) -> None:
        """Stop every recording and close every peer connection, as on server shutdown."""
        for camera_id in list(self._cameras):
            await self.stop_recording(camera_id)
        for viewer_id in list(self._viewers):
            await self.unsubscribe(viewer_id)
        for camera_id in list(self._cameras):
            await self.unpublish(camera_id)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _publisher_gone(self, camera: LiveCamera, publisher: _Publisher) -> None:
        """The publisher's stream ended (WHIP DELETE, RTCP BYE, DTLS close or ICE failure): viewers wait for it."""
        if camera.publisher is not publisher:
            return
        camera.publisher = None
        for tracks in camera.tracks.values():
            for track in tracks:
                track.restart()
        for viewer in camera.viewers.values():
            viewer.set_state(ViewerState.CAMERA_OFFLINE)
        self._spawn(publisher.pc.close())
        if self._on_camera_change is not None:
            self._on_camera_change(camera.camera_id, False)
        self._forget_if_idle(camera)

    def _forget_if_idle(self, camera: LiveCamera) -> None:
        if camera.is_idle() and self._cameras.get(camera.camera_id) is camera:
            del self._cameras[camera.camera_id]

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run a coroutine from a callback, keeping a reference so it is not collected half-way."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _bind_deliver(
    camera: LiveCamera, publisher: _Publisher, kind: str
) -> Callable[[RTCRtpCodecParameters, JitterFrame], None]:
    def on_frame(codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
        camera.deliver(publisher, kind, codec, frame)

    return on_frame


def _ignore_frame(codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
    """Frames of a second track of the same kind: tapped only so that no decoder runs for them."""


def _offered_codecs(offer_sdp: str) -> dict[str, list[RTCRtpCodecParameters]]:
    """The codecs of the offer's first audio and first video section, in the offerer's order of preference."""
    try:
        description = sdp.SessionDescription.parse(offer_sdp)
    except (ValueError, KeyError, IndexError) as exc:
        raise RelayError(f"The offer is not valid SDP: {exc}") from exc
    offered: dict[str, list[RTCRtpCodecParameters]] = {}
    for media in description.media:
        if media.kind in ("audio", "video") and media.kind not in offered:
            offered[media.kind] = [codec for codec in media.rtp.codecs if not is_rtx(codec)]
    return offered


def _choose_codec(
    kind: str, offered: list[RTCRtpCodecParameters], earlier: RTCRtpCodecCapability | None
) -> RTCRtpCodecCapability | None:
    """The camera's most preferred codec the relay can forward; the one its viewers already have, if offered."""
    supported = [codec for codec in RTCRtpReceiver.getCapabilities(kind).codecs if not is_rtx(codec)]
    if kind == "video":
        supported = [codec for codec in supported if codec.mimeType.lower() in FORWARDED_VIDEO_CODECS]
    candidates = [mine for theirs in offered for mine in supported if _same_codec(mine, theirs)]
    if earlier is not None and earlier in candidates:
        return earlier
    return candidates[0] if candidates else None


def _same_codec(mine: RTCRtpCodecCapability, theirs: RTCRtpCodecParameters) -> bool:
    """The codec match aiortc applies, so the answer holds exactly the chosen codec."""
    if mine.mimeType.lower() != theirs.mimeType.lower() or mine.clockRate != theirs.clockRate:
        return False
    if mine.mimeType.lower() != "video/h264":
        return True

    def mode(parameters: dict[str, Any]) -> str:
        return str(parameters.get("packetization-mode", "0"))

    def profile(parameters: dict[str, Any]) -> object:
        # RFC 6184: no profile-level-id means constrained baseline, level 3.1.
        return sdp.parse_h264_profile_level_id(str(parameters.get("profile-level-id", "42E01F")))[0]

    try:
        return mode(mine.parameters) == mode(theirs.parameters) and profile(mine.parameters) == profile(
            theirs.parameters
        )
    except ValueError:
        return False


def _with_rtx(kind: str, codec: RTCRtpCodecCapability) -> list[RTCRtpCodecCapability]:
    """Codec preferences of one codec plus retransmission, which repairs loss without a keyframe."""
    return [codec] + [rtx for rtx in RTCRtpSender.getCapabilities(kind).codecs if is_rtx(rtx)]
