// The supervisor's live wall: every live camera as a tile, several feeds at
// once, an alert's feed opened on top, new cameras appearing without reload.

import { AlertBanners } from "./alerts.js";
import { ConsoleSocket } from "./console-socket.js";
import { watch } from "./live.js";
import { el } from "./dom.js";

const page = JSON.parse(document.getElementById("page-data").textContent);
const STATUS_LABEL = Object.fromEntries(page.unit_statuses.map((s) => [s.value, s.label]));
const $ = (selector) => document.querySelector(selector);

const state = { cameras: new Map(), units: new Map(), sessions: new Map(), alerts: [] };

const banners = new AlertBanners($("#alerts"), {
  actions: true,
  onWatch: (alert) => openFeed(alert.device_name, "alert", { onTop: true }),
  onChange: (alerts) => { state.alerts = alerts; renderTiles(); },
});


function since(iso) {
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
}

function showError(message) {
  $("#wall-error").textContent = message;
  $("#wall-error").hidden = !message;
}

async function openFeed(device, reason, { onTop = false } = {}) {
  if (!device) return;
  if (!reason) {
    showError("Choose a reason for viewing first: it is recorded with your name.");
    $("#reason").focus();
    return;
  }
  showError("");
  if (onTop) state.top = device;
  const tile = document.querySelector(`[data-camera="${CSS.escape(device)}"]`);
  if (state.sessions.has(device)) {
    tile?.classList.toggle("enlarged", onTop || !tile.classList.contains("enlarged"));
    renderTiles();
    return;
  }
  state.sessions.set(device, { pending: true, started: new Date().toISOString(), reason });
  renderTiles();
  const video = document.querySelector(`[data-camera="${CSS.escape(device)}"] video`);
  try {
    const session = await watch(device, video, reason);
    state.sessions.set(device, { session, started: new Date().toISOString(), reason });
  } catch (error) {
    state.sessions.delete(device);
    showError(`${device}: ${error.message}`);
  }
  renderTiles();
}

async function closeFeed(device) {
  const entry = state.sessions.get(device);
  state.sessions.delete(device);
  if (state.top === device) state.top = null;
  await entry?.session?.stop();
  renderTiles();
}

function tileFor(camera) {
  let tile = document.querySelector(`[data-camera="${CSS.escape(camera.device)}"]`);
  if (!tile) {
    tile = el("article", { class: "tile", "data-camera": camera.device },
      el("div", { class: "tile-video" }, el("video", { autoplay: true, muted: true, playsinline: true }),
        el("div", { class: "tile-overlay" })),
      el("header", { class: "tile-head" }));
    tile.querySelector("video").muted = true;
  }
  const unit = state.units.get(camera.unit);
  const alert = state.alerts.find((a) => a.device_name === camera.device || (camera.unit && a.unit === camera.unit));
  const entry = state.sessions.get(camera.device);
  tile.classList.toggle("alerting", Boolean(alert));
  tile.classList.toggle("top", state.top === camera.device);
  const head = tile.querySelector(".tile-head");
  // Rebuilt only when its content changes, so Watch and Close stay put under the pointer.
  const key = JSON.stringify([camera.call_sign, camera.officer_name, unit?.status, alert?.kind, entry?.pending, entry?.started]);
  if (head.dataset.key !== key) {
    head.dataset.key = key;
    head.replaceChildren(...[
      el("strong", { class: "tile-callsign" }, camera.call_sign || camera.device),
      el("span", { class: "muted" }, [camera.kind_label, camera.officer_name].filter(Boolean).join(" · ")),
      unit ? el("span", { class: `badge st-${unit.status}` }, STATUS_LABEL[unit.status]) : null,
      alert ? el("span", { class: "badge alert-badge" }, alert.kind.replaceAll("_", " ").toUpperCase()) : null,
      el("span", { class: "spacer" }),
      entry && !entry.pending ? el("span", { class: "muted mono", "data-watching": entry.started }, `watching ${since(entry.started)}`) : null,
      entry
        ? el("button", { class: "btn", type: "button", onclick: () => closeFeed(camera.device) }, "Close")
        : el("button", { class: "btn btn-primary", type: "button", onclick: () => openFeed(camera.device, $("#reason").value) }, "Watch"),
    ].filter((child) => child !== null));
  }
  const overlay = tile.querySelector(".tile-overlay");
  overlay.textContent = camera.offline ? "Camera offline — waiting for it to return" : entry?.pending ? "Connecting…" : entry ? "" : "Not watching";
  overlay.hidden = Boolean(entry && !entry.pending && !camera.offline);
  tile.querySelector(".tile-video").onclick = () => entry && tile.classList.toggle("enlarged");
  return tile;
}

function renderTiles() {
  const cameras = [...state.cameras.values()].sort((a, b) =>
    (b.device === state.top) - (a.device === state.top) || (a.call_sign || a.device).localeCompare(b.call_sign || b.device));
  const tiles = cameras.map(tileFor);
  const current = [...$("#tiles").children];
  // Moving a tile would pause its video: touch the list only when it changed.
  if (current.length !== tiles.length || current.some((tile, index) => tile !== tiles[index])) {
    $("#tiles").replaceChildren(...tiles);
  }
  $("#live-count").textContent = cameras.filter((c) => !c.offline).length;
  $("#no-live").hidden = cameras.length > 0;
}

function upsertCamera(camera) {
  state.cameras.set(camera.device, { ...camera, offline: false });
}

function cameraStopped(data) {
  const camera = state.cameras.get(data.device);
  if (!camera) return;
  if (state.sessions.has(data.device)) camera.offline = true; // keep the tile: the viewer recovers when it returns
  else state.cameras.delete(data.device);
}

new ConsoleSocket({
  snapshot(frame) {
    state.units = new Map(frame.units.map((unit) => [unit.id, unit]));
    const live = new Set((frame.live || []).map((camera) => camera.device));
    for (const [device, camera] of state.cameras) if (!live.has(device)) cameraStopped(camera);
    (frame.live || []).forEach(upsertCamera);
    banners.replaceAll(frame.alerts);
    renderTiles();
    if (page.camera && state.cameras.has(page.camera) && !state.sessions.has(page.camera)) {
      openFeed(page.camera, "alert", { onTop: true });
      page.camera = "";
    }
  },
  event({ event, data }) {
    if (event === "live.started") {
      upsertCamera(data);
      // A camera that goes live because of an alert opens on top, as the alert's feed.
      const alert = state.alerts.find((a) => a.device_name === data.device && a.status === "raised");
      if (alert && !state.sessions.has(data.device)) {
        renderTiles();
        openFeed(data.device, "alert", { onTop: true });
      }
    }
    else if (event === "live.stopped") cameraStopped(data);
    else if (event === "unit.status_changed") state.units.set(data.id, data);
    else if (event.startsWith("alert.")) {
      banners.apply(data);
      if (event === "alert.raised" && data.device_name && state.cameras.has(data.device_name)) {
        openFeed(data.device_name, "alert", { onTop: true });
      }
    }
    renderTiles();
  },
});

setInterval(() => document.querySelectorAll("[data-watching]").forEach((span) => (span.textContent = `watching ${since(span.dataset.watching)}`)), 1000);
addEventListener("pagehide", () => { for (const device of state.sessions.keys()) closeFeed(device); });
