"""The live view relay with real aiortc peers on this machine: a camera publishing moving stripes, viewers watching."""

import asyncio
import time

import av
import pytest
from aiortc import (
    AudioStreamTrack,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from liveview.relay import CameraOffline, ForwardingRelay, NoCommonCodec, ViewerState, is_keyframe
from tests.liveview.peers import LOCAL_ONLY, MovingStripes

WIDTH, HEIGHT = 640, 480


class Camera:
    """A body camera publishing to the relay, as a WHIP client would."""

    def __init__(self, codec: str = "video/VP8", sound: bool = False) -> None:
        self.pc = RTCPeerConnection(LOCAL_ONLY)
        if sound:
            self.pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        transceiver = self.pc.addTransceiver(MovingStripes(WIDTH, HEIGHT), direction="sendonly")
        capabilities = RTCRtpSender.getCapabilities("video").codecs
        transceiver.setCodecPreferences([c for c in capabilities if c.mimeType == codec])

    async def publish(self, relay: ForwardingRelay, camera_id: str) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await relay.publish(camera_id, self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    def encoder_opened(self) -> bool:
        """Whether the camera's own sender encodes: proves the relay's probe would notice an encoder."""
        video = next(sender for sender in self.pc.getSenders() if sender.kind == "video")
        encoder = getattr(video, "_RTCRtpSender__encoder", None)
        return getattr(encoder, "codec", None) is not None


class Viewer:
    """A supervisor's player, as a WHEP client would be; it decodes what it gets."""

    def __init__(self, codec: str | None = None, sound: bool = False) -> None:
        self.pc = RTCPeerConnection(LOCAL_ONLY)
        if sound:
            self.pc.addTransceiver("audio", direction="recvonly")
        transceiver = self.pc.addTransceiver("video", direction="recvonly")
        if codec is not None:
            capabilities = RTCRtpSender.getCapabilities("video").codecs
            transceiver.setCodecPreferences([c for c in capabilities if c.mimeType == codec])
        self.frames = 0
        self.sounds = 0
        self.sizes: set[tuple[int, int]] = set()
        self.first_frame_at: float | None = None
        self.states: list[ViewerState] = []
        self.changed = asyncio.Event()
        self.viewer_id = ""
        self.reader: asyncio.Task | None = None
        self.listener: asyncio.Task | None = None
        self.pc.on("track", self._on_track)

    async def watch(self, relay: ForwardingRelay, camera_id: str) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.viewer_id, answer = await relay.subscribe(camera_id, self.pc.localDescription.sdp, on_change=self._changed)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    def stop_reading(self) -> None:
        self.reader.cancel()

    async def frames_in(self, seconds: float) -> int:
        before = self.frames
        await asyncio.sleep(seconds)
        return self.frames - before

    async def wait_for_state(self, state: ViewerState, timeout: float = 5) -> None:
        async def reached() -> None:
            while state not in self.states:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(reached(), timeout)

    async def wait_for_frames(self, count: int, timeout: float = 5) -> None:
        async def received() -> None:
            while self.frames < count:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(received(), timeout)

    def _changed(self, viewer_id: str, state: ViewerState) -> None:
        self.states.append(state)
        self.changed.set()

    def _on_track(self, track) -> None:
        if track.kind == "audio":
            self.listener = asyncio.ensure_future(self._listen(track))
        else:
            self.reader = asyncio.ensure_future(self._read(track))

    async def _listen(self, track) -> None:
        try:
            while True:
                await track.recv()
                self.sounds += 1
        except MediaStreamError:
            pass

    async def _read(self, track) -> None:
        try:
            while True:
                frame = await track.recv()
                if self.first_frame_at is None:
                    self.first_frame_at = time.monotonic()
                self.frames += 1
                self.sizes.add((frame.width, frame.height))
        except MediaStreamError:
            pass


@pytest.fixture
async def relay():
    relay = ForwardingRelay(configuration=LOCAL_ONLY)
    yield relay
    await relay.close()


@pytest.fixture
async def peers():
    """Collects the test's cameras and viewers, and hangs them all up at the end."""
    created: list[Camera | Viewer] = []
    yield created
    await asyncio.gather(*(peer.pc.close() for peer in created))


async def start_camera(relay, peers, camera_id="cam-1", codec="video/VP8", sound=False) -> Camera:
    camera = Camera(codec, sound)
    peers.append(camera)
    await camera.publish(relay, camera_id)
    return camera


async def start_viewers(relay, peers, count, camera_id="cam-1", codec=None) -> list[Viewer]:
    viewers = [Viewer(codec) for _ in range(count)]
    peers.extend(viewers)
    await asyncio.gather(*(viewer.watch(relay, camera_id) for viewer in viewers))
    return viewers


async def test_eight_viewers_watch_one_camera_and_no_encoder_runs_for_them(relay, peers):
    camera = await start_camera(relay, peers)
    viewers = await start_viewers(relay, peers, 8)

    await asyncio.gather(*(viewer.wait_for_frames(30, timeout=10) for viewer in viewers))

    stats = relay.stats("cam-1")
    assert stats.viewers == 8
    assert stats.video_codec == "video/VP8"
    assert all(viewer.sizes == {(WIDTH, HEIGHT)} for viewer in viewers)
    assert all(viewer.states[-1] == ViewerState.WATCHING for viewer in viewers)
    assert stats.frames_forwarded >= 8 * 30
    assert stats.video_encoders_opened == 0
    assert camera.encoder_opened(), "the probe must see an encoder where one runs"


async def test_a_viewer_joining_late_sees_a_picture_within_a_second(relay, peers):
    await start_camera(relay, peers)
    first = (await start_viewers(relay, peers, 1))[0]
    await first.wait_for_frames(45, timeout=10)  # well past the camera's first keyframe
    requests_before = relay.stats("cam-1").keyframe_requests

    joined_at = time.monotonic()
    late = (await start_viewers(relay, peers, 1))[0]
    await late.wait_for_frames(1, timeout=5)

    assert late.first_frame_at - joined_at < 1.0
    assert relay.stats("cam-1").keyframe_requests > requests_before


async def test_viewers_are_told_when_the_camera_goes_and_watch_again_when_it_returns(relay, peers):
    camera = await start_camera(relay, peers)
    viewers = await start_viewers(relay, peers, 2)
    await asyncio.gather(*(viewer.wait_for_frames(10) for viewer in viewers))

    await camera.pc.close()
    await asyncio.gather(*(viewer.wait_for_state(ViewerState.CAMERA_OFFLINE) for viewer in viewers))
    assert not relay.is_live("cam-1")
    assert all(relay.viewer_state(viewer.viewer_id) == ViewerState.CAMERA_OFFLINE for viewer in viewers)

    await start_camera(relay, peers)
    before = [viewer.frames for viewer in viewers]
    await asyncio.gather(*(viewer.wait_for_frames(count + 30) for viewer, count in zip(viewers, before, strict=True)))
    assert relay.is_live("cam-1")
    assert all(viewer.states[-1] == ViewerState.WATCHING for viewer in viewers)


async def test_a_viewer_asking_for_a_keyframe_gets_one_from_the_camera(relay, peers):
    await start_camera(relay, peers)
    viewer = (await start_viewers(relay, peers, 1))[0]
    await viewer.wait_for_frames(30)
    before = relay.stats("cam-1")

    # What a player does when it cannot decode: a PLI to the relay's sender (RFC 4585 6.3.1).
    receiver = viewer.pc.getReceivers()[0]
    await receiver._send_rtcp_pli(receiver.getSynchronizationSources()[0].source)
    await asyncio.sleep(0.5)

    after = relay.stats("cam-1")
    assert after.keyframe_requests > before.keyframe_requests
    assert after.keyframes_received > before.keyframes_received


async def test_a_camera_publishing_again_replaces_its_stale_session(relay, peers):
    await start_camera(relay, peers)
    viewer = (await start_viewers(relay, peers, 1))[0]
    await viewer.wait_for_frames(10)

    await start_camera(relay, peers)  # the camera reconnected before its old session timed out
    frames = await viewer.frames_in(1.0)

    assert frames >= 20
    assert viewer.states == [ViewerState.WATCHING, ViewerState.WAITING, ViewerState.WATCHING]


async def test_a_viewer_hanging_up_ends_its_session(relay, peers):
    await start_camera(relay, peers)
    viewer = (await start_viewers(relay, peers, 1))[0]
    await viewer.wait_for_frames(5)

    await viewer.pc.close()
    await viewer.wait_for_state(ViewerState.ENDED)

    assert relay.stats("cam-1").viewers == 0
    assert not await relay.unsubscribe(viewer.viewer_id)


async def test_a_camera_with_sound_is_heard_as_well_as_seen(relay, peers):
    await start_camera(relay, peers, sound=True)
    viewer = Viewer(sound=True)
    peers.append(viewer)
    await viewer.watch(relay, "cam-1")

    await viewer.wait_for_frames(30)
    assert viewer.sounds >= 25  # 20 ms Opus packets
    assert relay.stats("cam-1").video_encoders_opened == 0


async def test_an_h264_camera_is_forwarded_as_h264(relay, peers):
    await start_camera(relay, peers, codec="video/H264")
    viewers = await start_viewers(relay, peers, 2)
    await asyncio.gather(*(viewer.wait_for_frames(30, timeout=10) for viewer in viewers))

    stats = relay.stats("cam-1")
    assert stats.video_codec == "video/H264"
    assert all(viewer.sizes == {(WIDTH, HEIGHT)} for viewer in viewers)
    assert stats.video_encoders_opened == 0

    vp8_only = Viewer(codec="video/VP8")
    peers.append(vp8_only)
    with pytest.raises(NoCommonCodec):
        await vp8_only.watch(relay, "cam-1")


async def test_a_viewer_that_stops_reading_does_not_hold_up_the_others(relay, peers):
    await start_camera(relay, peers)
    viewers = await start_viewers(relay, peers, 3)
    await asyncio.gather(*(viewer.wait_for_frames(10) for viewer in viewers))
    stalled = relay.open_track("cam-1")
    await stalled.recv()  # reads once, then falls behind

    viewers[0].stop_reading()
    counts = await asyncio.gather(*(viewer.frames_in(2.0) for viewer in viewers[1:]))

    assert min(counts) >= 45  # 30 fps, less a little for a shared machine
    assert stalled.frames_dropped > 0
    assert relay.stats("cam-1").frames_dropped == stalled.frames_dropped
    resumed = await asyncio.wait_for(stalled.recv(), 2)
    assert is_keyframe("video/VP8", bytes(resumed)), "a consumer that fell behind starts again at a keyframe"
    stalled.stop()


@pytest.mark.parametrize(("codec", "file_name"), [("video/VP8", "cam-1.webm"), ("video/H264", "cam-1.mp4")])
async def test_a_recording_holds_the_camera_video_as_sent(relay, peers, tmp_path, codec, file_name):
    await start_camera(relay, peers, codec=codec)
    path = tmp_path / file_name

    relay.start_recording("cam-1", str(path))
    await asyncio.sleep(2)
    await relay.stop_recording("cam-1")

    with av.open(str(path)) as recording:
        stream = recording.streams.video[0]
        frames = list(recording.decode(stream))
    assert stream.codec_context.name == codec.split("/")[1].lower()
    assert (frames[0].width, frames[0].height) == (WIDTH, HEIGHT)
    assert len(frames) >= 40
    assert frames[-1].time - frames[0].time == pytest.approx((len(frames) - 1) / 30, abs=0.2)


async def test_watching_a_camera_that_is_not_live_is_refused(relay, peers):
    viewer = Viewer()
    peers.append(viewer)
    with pytest.raises(CameraOffline):
        await viewer.watch(relay, "cam-9")


def test_keyframes_are_recognised_in_both_codecs():
    vp8_key = b"\x10\x02\x00\x9d\x01\x2a\x80\x02\xe0\x01"
    vp8_delta = b"\x11\x02\x00" + bytes(7)
    assert is_keyframe("video/VP8", vp8_key)
    assert not is_keyframe("video/VP8", vp8_delta)
    assert is_keyframe("video/H264", b"\x00\x00\x00\x01\x67\x42\x00\x00\x00\x01\x68\xce\x00\x00\x00\x01\x65\x88")
    assert not is_keyframe("video/H264", b"\x00\x00\x00\x01\x41\x9a")
