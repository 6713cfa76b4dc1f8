"""WHIP and WHEP against the real server over HTTP: aiortc cameras publish, aiortc viewers watch."""

import asyncio
import time

import httpx
import pytest
from aiortc import AudioStreamTrack, RTCPeerConnection, RTCRtpSender
from channels.db import database_sync_to_async as sync_to_async

from alerts import services as alert_services
from alerts.models import DeviceKind
from audit.models import AuditRecord
from events.models import Event
from liveview.models import LiveSession, LiveStream
from tests.liveview.conftest import browser_headers
from tests.liveview.peers import LOCAL_ONLY, WhepViewer, WhipCamera

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def patrol(make_unit, make_camera, supervisor):
    """Unit 1A12 with Officer Maria Lopez and her body camera, and a signed-in supervisor."""
    unit = make_unit("1A12", "mlopez", "Maria Lopez")
    device, token = make_camera("bc-1001", unit)
    return {"unit": unit, "device": device, "token": token, "supervisor": browser_headers(supervisor)}


async def wait_until(condition, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not await sync_to_async(condition)():
        if time.monotonic() > deadline:
            raise AssertionError("The condition was not met in time.")
        await asyncio.sleep(0.05)


async def test_eight_viewers_watch_one_camera_and_the_relay_encodes_nothing(live_url, patrol):
    async with httpx.AsyncClient(timeout=10) as client:
        camera = WhipCamera(live_url, "bc-1001", patrol["token"])
        published = await camera.publish(client)
        assert published.status_code == 201, published.text
        assert published.headers["Content-Type"] == "application/sdp"
        assert published.headers["Location"].startswith("/live/whip/bc-1001/")
        assert published.text.startswith("v=0")

        viewers = [WhepViewer(live_url, patrol["supervisor"]) for _ in range(8)]
        answers = await asyncio.gather(*(viewer.watch(client, "bc-1001") for viewer in viewers))
        assert [answer.status_code for answer in answers] == [201] * 8, [a.text for a in answers]
        await asyncio.gather(*(viewer.wait_for_frames(30) for viewer in viewers))
        assert all(viewer.sizes == {(320, 240)} for viewer in viewers)

        stats = (await client.get(f"{live_url}/live/stats/bc-1001", headers=patrol["supervisor"])).json()
        assert stats["viewers"] == 8
        assert stats["video_codec"] == "video/VP8"
        assert stats["video_encoders_opened"] == 0
        assert stats["frames_forwarded"] >= 8 * 30

        late = WhepViewer(live_url, patrol["supervisor"])
        assert (await late.watch(client, "bc-1001")).status_code == 201
        await late.wait_for_frames(1, timeout=2)
        assert late.first_frame_at - late.asked_at < 1.0

        for viewer in [*viewers, late]:
            assert (await viewer.stop(client)).status_code == 200
        assert (await camera.stop(client)).status_code == 200
    assert await sync_to_async(LiveSession.objects.filter(ended_at__isnull=True).count)() == 0
    assert await sync_to_async(LiveStream.objects.filter(ended_at__isnull=True).count)() == 0


async def test_a_viewing_is_recorded_audited_and_shown_to_the_officer_until_it_ends(live_url, patrol, supervisor):
    async with httpx.AsyncClient(timeout=10) as client:
        camera = WhipCamera(live_url, "bc-1001", patrol["token"])
        assert (await camera.publish(client)).status_code == 201
        viewer = WhepViewer(live_url, patrol["supervisor"])
        assert (await viewer.watch(client, "bc-1001", reason="investigation")).status_code == 201
        await viewer.wait_for_frames(5)

        session = await sync_to_async(LiveSession.objects.get)()
        assert (session.viewer_id, session.reason, session.ended_at) == (supervisor.pk, "investigation", None)
        assert viewer.location.endswith(f"/live/whep/bc-1001/{session.resource}")

        stopped = await viewer.stop(client)
        assert stopped.status_code == 200
        await sync_to_async(session.refresh_from_db)()
        assert session.ended_at is not None
        assert (await camera.stop(client)).status_code == 200

    audit = await sync_to_async(list)(AuditRecord.objects.filter(action__startswith="live.view").order_by("id"))
    assert [(r.action, r.actor_name, r.target, r.detail["reason"]) for r in audit] == [
        ("live.view_started", "sam", "camera:bc-1001", "investigation"),
        ("live.view_ended", "sam", "camera:bc-1001", "investigation"),
    ]
    assert audit[1].detail["duration_s"] >= 0

    events = await sync_to_async(list)(Event.objects.filter(kind__startswith="live.").order_by("seq"))
    assert [event.kind for event in events] == ["live.started", "live.viewers", "live.viewers", "live.stopped"]
    started, watching, nobody, stopped_event = (event.data for event in events)
    unit = patrol["unit"]
    assert started | {"since": None} == {
        "device": "bc-1001",
        "kind": "body_camera",
        "kind_label": "Body camera",
        "unit": unit.pk,
        "call_sign": "1A12",
        "officer_name": "Maria Lopez",
        "unit_status": "available",
        "since": None,
    }
    assert watching["unit"] == unit.pk
    assert [(v["name"], v["reason"]) for v in watching["viewers"]] == [("Sam Keller", "investigation")]
    assert nobody == {"device": "bc-1001", "unit": unit.pk, "viewers": []}
    assert stopped_event == {"device": "bc-1001"}


async def test_a_viewer_whose_connection_drops_has_its_viewing_ended(live_url, patrol):
    async with httpx.AsyncClient(timeout=10) as client:
        camera = WhipCamera(live_url, "bc-1001", patrol["token"])
        assert (await camera.publish(client)).status_code == 201
        viewer = WhepViewer(live_url, patrol["supervisor"])
        assert (await viewer.watch(client, "bc-1001")).status_code == 201
        await viewer.wait_for_frames(3)
        viewer.location = None  # the player vanishes without a DELETE: its DTLS close reaches the relay
        await viewer.stop(client)
        await wait_until(lambda: LiveSession.objects.filter(ended_at__isnull=False).exists(), timeout=40)
        await camera.stop(client)


@pytest.fixture
def other_unit(make_unit, make_camera):
    """Unit 2B07 with Officer Jon Reed, his body camera and the unit's MDT camera."""
    unit = make_unit("2B07", "jreed", "Jon Reed")
    make_camera("bc-2001", unit)
    make_camera("mdt-v-2b07", unit, kind=DeviceKind.MDT_CAMERA)
    return unit


@pytest.fixture
def officers(patrol, other_unit):
    """Maria Lopez (1A12) and Jon Reed (2B07), signed in."""
    return {
        "own": browser_headers(patrol["unit"].officers.first().user),
        "other": browser_headers(other_unit.officers.first().user),
    }


async def test_officers_watch_their_own_units_cameras_only(live_url, patrol, officers):
    own_officer, other_officer = officers["own"], officers["other"]
    async with httpx.AsyncClient(timeout=10) as client:
        camera = WhipCamera(live_url, "bc-1001", patrol["token"])
        assert (await camera.publish(client)).status_code == 201

        refused = await WhepViewer(live_url, other_officer).watch(client, "bc-1001", reason="officer_request")
        assert refused.status_code == 403
        assert "not one of your unit's cameras" in refused.text

        partner = WhepViewer(live_url, own_officer)
        assert (await partner.watch(client, "bc-1001", reason="officer_request")).status_code == 201
        await partner.wait_for_frames(3)
        assert (await partner.stop(client)).status_code == 200
        await camera.stop(client)
    assert await sync_to_async(LiveSession.objects.filter(reason="officer_request").count)() == 1


async def test_a_dispatcher_may_watch_and_someone_else_may_not_end_the_viewing(live_url, patrol, dispatcher):
    async with httpx.AsyncClient(timeout=10) as client:
        camera = WhipCamera(live_url, "bc-1001", patrol["token"])
        assert (await camera.publish(client)).status_code == 201
        viewer = WhepViewer(live_url, await sync_to_async(browser_headers)(dispatcher))
        assert (await viewer.watch(client, "bc-1001", reason="alert")).status_code == 201
        foreign = await client.delete(viewer.location, headers=patrol["supervisor"])
        assert foreign.status_code == 403
        assert "someone else's" in foreign.text
        assert (await viewer.stop(client)).status_code == 200
        await camera.stop(client)


@pytest.fixture
def mdt_camera(patrol, make_camera):
    return make_camera("mdt-v-1a12", patrol["unit"], kind=DeviceKind.MDT_CAMERA)[0]


async def test_an_mdt_publishes_its_units_camera_with_the_officers_session(live_url, patrol, mdt_camera, officers):
    officer = officers["own"]
    async with httpx.AsyncClient(timeout=10) as client:
        mdt = WhipCamera(live_url, "mdt-v-1a12", None)
        mdt.headers = lambda: officer
        assert (await mdt.publish(client)).status_code == 201
        stream = await sync_to_async(LiveStream.objects.get)(device__name="mdt-v-1a12")
        assert stream.published_by == "mlopez"
        assert (await mdt.stop(client)).status_code == 200

        for name, sentence in [
            ("mdt-v-2b07", "not the MDT camera of your unit"),
            ("bc-1001", "publishes with its own device token"),
        ]:
            refused = WhipCamera(live_url, name, None)
            refused.headers = lambda: officer
            answer = await refused.publish(client)
            assert answer.status_code == 403
            assert sentence in answer.text
            await refused.pc.close()

        no_csrf = WhipCamera(live_url, "mdt-v-1a12", None)
        no_csrf.headers = lambda: {"Cookie": officer["Cookie"]}
        answer = await no_csrf.publish(client)
        assert answer.status_code == 403
        assert "CSRF" in answer.text
        await no_csrf.pc.close()


@pytest.fixture
def two_cameras(patrol, make_camera):
    """The patrol, with a second body camera's token."""
    return {**patrol, "other_token": make_camera("bc-2002", patrol["unit"])[1]}


OFFER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


@pytest.mark.parametrize(
    ("case", "status", "sentence"),
    [
        ("unknown device", 404, "There is no camera named bc-9999"),
        ("no token", 401, "Send the device's token"),
        ("wrong token", 401, "unknown or revoked"),
        ("revoked token", 401, "unknown or revoked"),
        ("another camera's token", 403, "belongs to camera bc-2002"),
        ("json body", 415, "Content-Type: application/sdp"),
        ("empty body", 400, "The body is not an SDP offer: it is empty"),
        ("garbage body", 400, "The body is not an SDP offer: it does not begin with v=0"),
        ("no media", 400, "The body is not an SDP offer: it has no media section"),
        ("oversized body", 413, "at most 65536 bytes"),
        ("audio only", 406, "no video codec the relay can forward"),
    ],
)
async def test_a_bad_publish_gets_a_clear_4xx(live_url, two_cameras, case, status, sentence):
    patrol, other_token = two_cameras, two_cameras["other_token"]
    name, token, content_type, body = "bc-1001", patrol["token"], "application/sdp", OFFER + "m=video 9 x\r\n"
    if case == "unknown device":
        name = "bc-9999"
    elif case == "no token":
        token = None
    elif case == "wrong token":
        token = "not-a-token"
    elif case == "revoked token":
        await sync_to_async(alert_services.device_revoke_token)(device=patrol["device"])
    elif case == "another camera's token":
        token = other_token
    elif case == "json body":
        content_type, body = "application/json", "{}"
    elif case == "empty body":
        body = ""
    elif case == "garbage body":
        body = "hello"
    elif case == "no media":
        body = OFFER
    elif case == "oversized body":
        body = OFFER + "a=x\r\n" * 20000
    elif case == "audio only":
        pc = RTCPeerConnection(LOCAL_ONLY)
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        body = pc.localDescription.sdp
        await pc.close()
    headers = {"Content-Type": content_type} | ({"Authorization": f"Bearer {token}"} if token else {})
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(f"{live_url}/live/whip/{name}", content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert sentence in answer.text
    if status == 401:
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_bad_viewing_request_gets_a_clear_4xx(live_url, patrol):
    sup = patrol["supervisor"]
    async with httpx.AsyncClient(timeout=10) as client:
        not_live = await WhepViewer(live_url, sup).watch(client, "bc-1001")
        assert (not_live.status_code, not_live.text.strip()) == (404, "Camera bc-1001 is not live.")

        camera = WhipCamera(live_url, "bc-1001", patrol["token"])
        assert (await camera.publish(client)).status_code == 201
        for reason, sentence in [(None, "none was given"), ("curiosity", "'curiosity' is not one")]:
            answer = await WhepViewer(live_url, sup).watch(client, "bc-1001", reason=reason)
            assert answer.status_code == 400
            assert "Give the reason for viewing" in answer.text and sentence in answer.text
        client.cookies.clear()  # the session cookie the server set for the supervisor's requests
        anonymous = await WhepViewer(live_url, {}).watch(client, "bc-1001")
        assert (anonymous.status_code, anonymous.text.strip()) == (403, "Sign in to watch live video.")
        unknown = await WhepViewer(live_url, sup).watch(client, "bc-9999")
        assert unknown.status_code == 404

        h264_only = WhepViewer(live_url, sup)
        h264 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/H264"]
        h264_only.pc.getTransceivers()[0].setCodecPreferences(h264)
        answer = await h264_only.watch(client, "bc-1001")
        assert answer.status_code == 406
        assert "cannot receive VP8" in answer.text
        await h264_only.pc.close()

        viewer = WhepViewer(live_url, sup)
        assert (await viewer.watch(client, "bc-1001")).status_code == 201
        trickle = await client.patch(viewer.location, headers=sup, content="a=candidate")
        assert (trickle.status_code, trickle.headers["Allow"]) == (405, "DELETE")
        assert "Trickle ICE is not supported" in trickle.text
        assert (await viewer.stop(client)).status_code == 200
        await camera.stop(client)
    assert await sync_to_async(LiveSession.objects.count)() == 1
