// Live video in the browser: WHEP to watch a camera, WHIP to publish the MDT's
// own camera. One HTTP exchange of SDP each (RFC 9725); ICE is gathered before
// the offer is sent, so no trickle is needed.

import { csrfToken } from "./api.js";

async function gathered(pc) {
  if (pc.iceGatheringState === "complete") return;
  await new Promise((resolve) => {
    const check = () => pc.iceGatheringState === "complete" && resolve();
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(resolve, 2000); // host candidates on a LAN arrive at once; do not wait for unreachable STUN
  });
}

async function exchange(url, pc) {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/sdp", "X-CSRFToken": csrfToken() },
    body: pc.localDescription.sdp,
  });
  const text = await response.text();
  if (response.status !== 201) {
    let sentence = text;
    try { sentence = JSON.parse(text).detail ?? text; } catch (error) { /* plain text answer */ }
    throw new Error(sentence || `The server answered ${response.status}.`);
  }
  await pc.setRemoteDescription({ type: "answer", sdp: text });
  return new URL(response.headers.get("Location"), response.url).toString();
}

class Session {
  constructor(pc, resource) {
    this.pc = pc;
    this.resource = resource;
  }

  async stop() {
    this.pc.close();
    if (this.resource) {
      await fetch(this.resource, { method: "DELETE", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() } }).catch(() => {});
      this.resource = null;
    }
  }
}

// Watch a camera in `video`; reason is one of alert, supervision, investigation, training, officer_request.
export async function watch(deviceName, video, reason) {
  const pc = new RTCPeerConnection();
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  pc.addEventListener("track", (event) => {
    if (event.track.kind !== "video") return;
    video.srcObject = event.streams[0] ?? new MediaStream([event.track]);
    video.play().catch(() => {});
  });
  try {
    const resource = await exchange(`/live/whep/${encodeURIComponent(deviceName)}?reason=${encodeURIComponent(reason)}`, pc);
    return new Session(pc, resource);
  } catch (error) {
    pc.close();
    throw error;
  }
}

// Publish this browser's camera as the device `deviceName` (the MDT's own camera).
export async function publish(deviceName, stream) {
  const pc = new RTCPeerConnection();
  for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
  try {
    const resource = await exchange(`/live/whip/${encodeURIComponent(deviceName)}`, pc);
    return new Session(pc, resource);
  } catch (error) {
    pc.close();
    throw error;
  }
}
