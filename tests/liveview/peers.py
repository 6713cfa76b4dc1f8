"""WHIP and WHEP clients made of aiortc peers, as a camera and a supervisor's player would be, over real HTTP."""

import asyncio
import time
from urllib.parse import urljoin

import av
import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError

LOCAL_ONLY = RTCConfiguration(iceServers=[])
WIDTH, HEIGHT = 320, 240


class MovingStripes(VideoStreamTrack):
    """A camera's picture: stripes that move every frame, at 30 fps."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.stripes = bytes(range(0, 256, 2)) * (width // 64 + 2)

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        shift = (pts // 3000 * 8) % 256
        width, height = self.width, self.height
        frame = av.VideoFrame(width, height, "yuv420p")
        frame.planes[0].update(self.stripes[shift : shift + width] * height)
        frame.planes[1].update(bytes([90]) * (width * height // 4))
        frame.planes[2].update(bytes([160]) * (width * height // 4))
        frame.pts, frame.time_base = pts, time_base
        return frame


class WhipCamera:
    """A body camera: publishes moving stripes in VP8 with WHIP."""

    def __init__(self, base_url: str, name: str, token: str | None) -> None:
        self.base_url = base_url
        self.name = name
        self.token = token
        self.pc = RTCPeerConnection(LOCAL_ONLY)
        transceiver = self.pc.addTransceiver(MovingStripes(), direction="sendonly")
        vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
        transceiver.setCodecPreferences(vp8)
        self.location: str | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def publish(self, client: httpx.AsyncClient) -> httpx.Response:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        response = await client.post(
            f"{self.base_url}/live/whip/{self.name}",
            content=self.pc.localDescription.sdp,
            headers={**self.headers(), "Content-Type": "application/sdp"},
        )
        if response.status_code == 201:
            self.location = urljoin(str(response.url), response.headers["Location"])
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        return response

    async def stop(self, client: httpx.AsyncClient) -> httpx.Response | None:
        response = None
        if self.location:
            response = await client.delete(self.location, headers=self.headers())
            self.location = None
        await self.pc.close()
        return response


class WhepViewer:
    """A supervisor's player: watches with WHEP and decodes what it gets, counting frames."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.base_url = base_url
        self.headers = headers
        self.pc = RTCPeerConnection(LOCAL_ONLY)
        self.pc.addTransceiver("video", direction="recvonly")
        self.frames = 0
        self.sizes: set[tuple[int, int]] = set()
        self.asked_at = 0.0
        self.first_frame_at: float | None = None
        self.location: str | None = None
        self._reader: asyncio.Task | None = None
        self.pc.on("track", self._on_track)

    async def watch(self, client: httpx.AsyncClient, name: str, reason: str | None = "supervision") -> httpx.Response:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        query = f"?reason={reason}" if reason is not None else ""
        self.asked_at = time.monotonic()
        response = await client.post(
            f"{self.base_url}/live/whep/{name}{query}",
            content=self.pc.localDescription.sdp,
            headers={**self.headers, "Content-Type": "application/sdp"},
        )
        if response.status_code == 201:
            self.location = urljoin(str(response.url), response.headers["Location"])
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        return response

    async def wait_for_frames(self, count: int, timeout: float = 10) -> None:
        async def received() -> None:
            while self.frames < count:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(received(), timeout)

    async def stop(self, client: httpx.AsyncClient) -> httpx.Response | None:
        response = None
        if self.location:
            response = await client.delete(self.location, headers=self.headers)
            self.location = None
        if self._reader is not None:
            self._reader.cancel()
        await self.pc.close()
        return response

    def _on_track(self, track) -> None:
        if track.kind == "video":
            self._reader = asyncio.ensure_future(self._read(track))

    async def _read(self, track) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if self.first_frame_at is None:
                self.first_frame_at = time.monotonic()
            self.frames += 1
            self.sizes.add((frame.width, frame.height))
