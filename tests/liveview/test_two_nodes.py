"""Two relay nodes sharing Redis and the database: a camera belongs to the node it published to; the other redirects."""

import httpx
import pytest
from channels.db import database_sync_to_async as sync_to_async

from liveview.console import live_cameras
from liveview.models import LiveSession, LiveStream
from tests.liveview.conftest import browser_headers
from tests.liveview.peers import WhepViewer, WhipCamera
from tests.support import asgi_server, free_port

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]


@pytest.fixture
def nodes(transactional_db):
    """Nodes A and B: two Daphne processes on the test database, with REDIS_URL and their own BEACON_NODE_URL."""
    port_a, port_b = free_port(), free_port()
    with (
        asgi_server(extra_env={"BEACON_NODE_URL": f"http://127.0.0.1:{port_a}"}, port=port_a) as a,
        asgi_server(extra_env={"BEACON_NODE_URL": f"http://127.0.0.1:{port_b}"}, port=port_b) as b,
    ):
        yield a, b


@pytest.fixture
def patrol(make_unit, make_camera, supervisor):
    unit = make_unit("1A12", "mlopez", "Maria Lopez")
    device, token = make_camera("bc-1001", unit)
    return {"device": device, "token": token, "supervisor": browser_headers(supervisor)}


async def test_a_viewer_asking_the_wrong_node_is_redirected_to_the_cameras_node(nodes, patrol):
    node_a, node_b = nodes
    # Cookies in the client's jar, as in a browser's: a redirect carries the jar's cookies, not a Cookie header.
    cookies = dict(pair.split("=", 1) for pair in patrol["supervisor"]["Cookie"].split("; "))
    supervisor = {"X-CSRFToken": patrol["supervisor"]["X-CSRFToken"]}
    async with httpx.AsyncClient(timeout=10, follow_redirects=True, cookies=cookies) as client:
        camera = WhipCamera(node_a, "bc-1001", patrol["token"])
        assert (await camera.publish(client)).status_code == 201

        viewer = WhepViewer(node_b, supervisor)
        answer = await viewer.watch(client, "bc-1001", reason="supervision")
        assert [step.status_code for step in answer.history] == [307]
        assert answer.history[0].headers["Location"] == f"{node_a}/live/whep/bc-1001?reason=supervision"
        assert answer.status_code == 201, answer.text
        assert viewer.location.startswith(f"{node_a}/live/whep/bc-1001/")
        await viewer.wait_for_frames(15)

        session = await sync_to_async(LiveSession.objects.get)()
        assert (session.node, session.reason) == (node_a, "supervision")
        cameras = await sync_to_async(live_cameras)()  # what a console on any process is sent
        assert [(c["device"], [v["name"] for v in c["viewers"]]) for c in cameras] == [("bc-1001", ["Sam Keller"])]

        stats = await client.get(f"{node_b}/live/stats/bc-1001", headers=supervisor)
        assert (stats.status_code, stats.json()["node"], stats.json()["viewers"]) == (200, node_a, 1)

        # A second publish of the same camera at the other node goes to its owner too.
        elsewhere = WhipCamera(node_b, "bc-1001", patrol["token"])
        async with httpx.AsyncClient(timeout=10) as plain:
            moved = await elsewhere.publish(plain)
        assert (moved.status_code, moved.headers["Location"]) == (307, f"{node_a}/live/whip/bc-1001")
        await elsewhere.pc.close()

        assert (await viewer.stop(client)).status_code == 200
        assert (await camera.stop(client)).status_code == 200
        gone = await WhepViewer(node_b, supervisor).watch(client, "bc-1001")
        assert (gone.status_code, gone.text.strip()) == (404, "Camera bc-1001 is not live.")
    await sync_to_async(session.refresh_from_db)()
    assert session.ended_at is not None
    assert not await sync_to_async(LiveStream.objects.filter(ended_at__isnull=True).exists)()
