"""Recording a live camera on the node that relays it: its packets written to a file, nothing encoded."""

import asyncio

import av
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from django.test import RequestFactory

from liveview import services
from liveview.node import _nodes, node_for
from liveview.relay import CameraOffline
from tests.liveview.peers import LOCAL_ONLY, MovingStripes

pytestmark = pytest.mark.timeout(60)


async def test_a_live_camera_is_recorded_to_a_webm_under_media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.REDIS_URL = ""
    node = node_for(RequestFactory().get("/"))
    camera = RTCPeerConnection(LOCAL_ONLY)
    camera.addTransceiver(MovingStripes(), direction="sendonly")
    try:
        with pytest.raises(CameraOffline):
            await services.start_recording("bc-1001")
        await camera.setLocalDescription(await camera.createOffer())
        answer = await node.relay.publish("bc-1001", camera.localDescription.sdp)
        await camera.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

        path = await services.start_recording("bc-1001")
        await asyncio.sleep(2)
        assert await services.stop_recording("bc-1001")
        assert not await services.stop_recording("bc-1001")
    finally:
        await camera.close()
        await node.relay.close()
        node._refresher.cancel()
        _nodes.pop(asyncio.get_running_loop(), None)

    assert path.parent == tmp_path / "recordings" / "bc-1001"
    assert path.suffix == ".webm"
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("vp8", 320, 240)
        assert sum(1 for _ in container.demux(stream)) > 20
