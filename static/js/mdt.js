// The officer's MDT: one-tap status, the assigned call with distance, nearby
// officer-down alerts with distance and bearing, the "Are you OK?" prompt, and
// live video: "Go live" with the MDT's camera, and who is watching the unit's cameras.

import { api } from "./api.js";
import { AlertBanners } from "./alerts.js";
import { ConsoleSocket } from "./console-socket.js";
import { publish } from "./live.js";
import { compass, distanceAndBearing, formatDistance } from "./map.js";
import { el } from "./dom.js";

const page = JSON.parse(document.getElementById("page-data").textContent);
const me = page.officer;
const $ = (selector) => document.querySelector(selector);
const STATUS_LABEL = Object.fromEntries(page.unit_statuses.map((s) => [s.value, s.label]));
// Statuses an officer sets with one tap; "dispatched" comes only from a dispatcher.
const BUTTONS = ["en_route", "on_scene", "available", "busy", "out_of_service", "off_duty"];

const state = { unit: null, calls: new Map(), position: null };

document.documentElement.dataset.theme = localStorage.getItem("beacon-theme") || "night";
$("#theme-toggle")?.addEventListener("click", () => {
  const next = document.documentElement.dataset.theme === "night" ? "day" : "night";
  document.documentElement.dataset.theme = next;
  localStorage.setItem("beacon-theme", next);
});


// --- alerts: nearby colleagues ------------------------------------------------

// The server names the units that were within the alert radius when it was
// raised; where the alert is from here comes from this unit's latest fix.
function isNearby(alert) {
  return (alert.nearby_units || []).includes(me?.unit);
}

function whereFromMe(alert) {
  if (!state.position || alert.lat == null) return "";
  const { distance, bearing } = distanceAndBearing(state.position.lat, state.position.lon, alert.lat, alert.lon);
  return `${formatDistance(distance)} ${compass(bearing)} (${Math.round(bearing)}°)`;
}

const banners = new AlertBanners($("#alerts"), {
  actions: false,
  // Officers see alerts of colleagues within the alert radius, and every escalated alert.
  visible: (alert) => alert.unit !== me?.unit && (isNearby(alert) || Boolean(alert.escalated_at)),
  detail: (alert) => whereFromMe(alert),
  extraButtons: (alert) => [el("button", { class: "btn", type: "button", onclick: () => respond(alert) }, "Respond")],
});

async function respond(alert) {
  try {
    await api("POST", `alerts/${alert.id}/respond/`, {});
  } catch (error) {
    window.alert(error.message);
  }
}

// --- are you OK? ----------------------------------------------------------------

const dialog = $("#ok-prompt");
let countdown = null;

function openPrompt(data) {
  if (data.unit !== me?.unit) return;
  if (!dialog.open) dialog.showModal();
  clearInterval(countdown);
  const deadline = Date.parse(data.deadline);
  const tick = () => ($("#ok-countdown").textContent = Math.max(0, Math.ceil((deadline - Date.now()) / 1000)));
  tick();
  countdown = setInterval(tick, 250);
}

function closePrompt(data) {
  if (data.unit !== me?.unit) return;
  clearInterval(countdown);
  if (dialog.open) dialog.close();
}

$("#ok-button")?.addEventListener("click", async () => {
  try {
    await api("POST", `alerts/prompts/${me.unit}/ok/`, {});
    closePrompt({ unit: me.unit });
  } catch (error) {
    $("#ok-prompt-detail").textContent = error.message;
  }
});

// --- my unit and my call -------------------------------------------------------------

function renderStatus() {
  const unit = state.unit;
  if (!unit) return;
  $("#unit-status").textContent = STATUS_LABEL[unit.status];
  $("#unit-status").dataset.status = unit.status;
  const allowed = new Set(page.unit_transitions[unit.status] || []);
  $("#status-buttons").replaceChildren(...BUTTONS.map((status) =>
    el("button", {
      class: `btn status-button${unit.status === status ? " current" : ""}`, type: "button", "data-status": status,
      disabled: !allowed.has(status) && unit.status !== status,
      onclick: () => setStatus(status),
    }, STATUS_LABEL[status])));
}

async function setStatus(status) {
  if (state.unit?.status === status) return;
  $("#status-error").hidden = true;
  try {
    state.unit = await api("POST", `units/${me.unit}/status/`, { status });
    renderStatus();
    renderCall();
  } catch (error) {
    $("#status-error").textContent = error.message;
    $("#status-error").hidden = false;
  }
}

function renderCall() {
  const box = $("#assigned-call");
  const call = state.unit?.call ? state.calls.get(state.unit.call.id) : null;
  if (!call) {
    box.replaceChildren(el("p", { class: "empty" }, "No call assigned."));
    return;
  }
  let where = "";
  if (state.position && call.lat != null) {
    const { distance, bearing } = distanceAndBearing(state.position.lat, state.position.lon, call.lat, call.lon);
    where = distance < 30 ? "At the address" : `${formatDistance(distance)} ${compass(bearing)}`;
  }
  box.replaceChildren(el("div", {},
    el("div", { class: "mdt-call-head" },
      el("span", { class: `badge prio prio-${call.priority}` }, `P${call.priority}`),
      el("strong", {}, call.type?.name ?? ""), el("span", { class: "muted mono" }, call.number)),
    el("p", { class: "mdt-address" }, call.address || "No address"),
    el("p", { class: "mdt-distance", id: "call-distance" }, where),
    call.caller_name ? el("p", {}, `Caller: ${call.caller_name} ${call.caller_phone || ""}`) : null,
    el("h2", {}, "Notes"),
    el("ul", { class: "notes mdt-notes" }, ...[...call.notes].reverse().map((note) =>
      el("li", {}, el("span", { class: "muted" }, `${new Date(note.at).toLocaleTimeString([], { hour12: false })} `), note.text))),
  ));
}


// --- live video: my MDT camera, and who watches my unit's cameras ------------------

const REASON_LABEL = {
  alert: "alert", supervision: "supervision", investigation: "investigation",
  training: "training", officer_request: "officer's request",
};
const live = { session: null, stream: null, starting: false, error: "", viewers: new Map() };
const preview = el("video", { class: "mdt-live-preview", autoplay: true, playsinline: true, style: "width: 12rem; border-radius: 6px; background: #000;" });
preview.muted = true;

async function goLive() {
  live.error = "";
  live.starting = true;
  renderLive();
  try {
    live.stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    preview.srcObject = live.stream;
    live.session = await publish(me.mdt_camera, live.stream);
  } catch (error) {
    live.error = `Could not go live: ${error.message}`;
    stopTracks();
  }
  live.starting = false;
  renderLive();
}

function stopTracks() {
  live.stream?.getTracks().forEach((track) => track.stop());
  live.stream = null;
  preview.srcObject = null;
}

async function stopLive() {
  const session = live.session;
  live.session = null;
  stopTracks();
  renderLive();
  await session?.stop();
}

function renderLive() {
  const panel = $("#live-panel");
  if (!panel || !me) return;
  const watching = [...live.viewers.values()].flat();
  const names = watching.map((viewer) => `${viewer.name} (${REASON_LABEL[viewer.reason] ?? viewer.reason})`);
  let control;
  if (!me.mdt_camera) control = el("span", { class: "muted" }, "This unit has no MDT camera.");
  else if (live.session) control = el("button", { class: "btn", type: "button", id: "live-stop", onclick: stopLive }, "Stop");
  else control = el("button", { class: "btn btn-primary", type: "button", id: "go-live", onclick: goLive, disabled: live.starting }, live.starting ? "Starting…" : "Go live");
  panel.replaceChildren(el("div", {},
    el("div", { class: "mdt-live-head", style: "display: flex; gap: .75rem; align-items: center; flex-wrap: wrap;" },
      control,
      live.session ? el("span", { class: "badge alert-badge", id: "live-badge" }, "LIVE") : null,
      live.session ? preview : null),
    live.error ? el("p", { class: "form-error" }, live.error) : null,
    el("p", { id: "watching", class: watching.length ? "mdt-watching" : "mdt-watching muted" },
      watching.length ? `Watching now: ${names.join(", ")}` : "Nobody is watching"),
  ));
}

function setViewers(camera) {
  if (camera.unit !== me?.unit) return;
  if (camera.viewers?.length) live.viewers.set(camera.device, camera.viewers);
  else live.viewers.delete(camera.device);
  renderLive();
}

addEventListener("pagehide", () => { live.session?.stop(); });
renderLive();

if (me) {
  new ConsoleSocket({
    snapshot(frame) {
      state.calls = new Map(frame.calls.map((call) => [call.id, call]));
      state.unit = frame.units.find((unit) => unit.id === me.unit) || null;
      state.position = state.unit?.position || null;
      banners.replaceAll(frame.alerts);
      for (const prompt of frame.prompts || []) openPrompt(prompt);
      live.viewers.clear();
      (frame.live || []).forEach(setViewers);
      renderLive();
      renderStatus();
      renderCall();
    },
    event({ event, data }) {
      if (event.startsWith("call.")) {
        const call = data.call ?? data;
        state.calls.set(call.id, call);
        renderCall();
      } else if (event === "unit.status_changed" && (data.id ?? data.unit?.id) === me.unit) {
        state.unit = data.unit ?? data;
        renderStatus();
        renderCall();
      } else if (event === "unit.prompt_ok") openPrompt(data);
      else if (event === "unit.prompt_closed") closePrompt(data);
      else if (event === "live.viewers") setViewers(data);
      else if (event.startsWith("alert.")) banners.apply(data.alert ?? data);
    },
    positions({ units }) {
      const fix = units.find((unit) => unit.unit === me.unit);
      if (fix) {
        state.position = fix;
        renderCall();
        banners.render();
      }
    },
  });
}
