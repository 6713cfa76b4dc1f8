// The dispatcher console: call entry, the queue of open calls, the unit board,
// the map, recommendations and dispatch in one click, all live.

import { api } from "./api.js";
import { AlertBanners } from "./alerts.js";
import { ConsoleSocket } from "./console-socket.js";
import { UnitMap, formatDistance, statusColour } from "./map.js";
import { RowWindow, el } from "./dom.js";

const page = JSON.parse(document.getElementById("page-data").textContent);
const STATUS_ORDER = page.unit_statuses.map((status) => status.value);
const STATUS_LABEL = Object.fromEntries(page.unit_statuses.map((status) => [status.value, status.label]));

const state = { calls: new Map(), units: new Map(), queue: [], selected: null, recommended: [], placing: null };
const $ = (selector) => document.querySelector(selector);
const map = new UnitMap($("#map"), { centre: page.centre, tileUrl: document.body.dataset.tiles || "" });
const banners = new AlertBanners($("#alerts"), {
  actions: true,
  detail: (alert) => [alert.call_number && `Call ${alert.call_number}`, alert.address].filter(Boolean).join(" · "),
  onChange: (alerts) => {
    for (const marker of [...map.alerts.keys()]) if (!alerts.some((alert) => alert.id === marker)) map.removeAlert(marker);
    alerts.forEach((alert) => map.setAlert(alert));
  },
});


function clock(iso) {
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}` : `${m}:${String(s).padStart(2, "0")}`;
}

function time(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }) : "—";
}

// --- calls -----------------------------------------------------------------

function upsertCall(call) {
  if (call.is_open) state.calls.set(call.id, call);
  else state.calls.delete(call.id);
  map.setCall(call, { selected: call.id === state.selected, onClick: selectCall });
  if (call.id === state.selected) renderDetail();
}

function callRow(call) {
  const units = call.assignments.filter((a) => a.active).map((a) => a.call_sign).join(", ");
  return el("li", {
    class: "call-item", tabindex: 0, "data-call": call.id,
    onclick: () => selectCall(call.id), onkeydown: (event) => event.key === "Enter" && selectCall(call.id),
  },
    el("span", { class: `badge prio prio-${call.priority}` }, `P${call.priority}`),
    el("div", { class: "call-main" },
      el("div", { class: "call-line" }, el("strong", {}, call.type?.name ?? ""), " ", el("span", { class: "muted mono call-number" }, call.number)),
      el("div", { class: "call-line muted" }, call.address || "No address"),
      el("div", { class: "call-line" }, el("span", { class: "call-status" }, call.status_label), units ? ` · ${units}` : " · no unit")),
    el("span", { class: "timer mono", "data-since": call.created_at }, clock(call.created_at)));
}

// Only the rows in sight are elements: 500 open calls are a few dozen.
const queue = new RowWindow($("#call-queue"), $("#call-queue").closest(".scroll"), {
  render: callRow,
  decorate: (element, call) => element.classList.toggle("selected", call.id === state.selected),
});

function renderQueue() {
  const since = new Map([...state.calls.values()].map((call) => [call, Date.parse(call.created_at)]));
  state.queue = [...since.keys()].sort((a, b) => a.priority - b.priority || since.get(a) - since.get(b));
  $("#call-count").textContent = state.queue.length;
  $("#no-calls").hidden = state.queue.length > 0;
  queue.setItems(state.queue);
}

function selectCall(id) {
  const previous = state.selected;
  state.selected = id;
  if (previous && state.calls.has(previous)) map.setCall(state.calls.get(previous), { onClick: selectCall });
  const call = state.calls.get(id);
  if (call) {
    map.setCall(call, { selected: true, onClick: selectCall });
    map.focus(call.lat, call.lon);
  }
  renderQueue();
  queue.reveal(queue.indexOf(id));
  renderDetail();
  loadRecommendations();
}

async function loadRecommendations() {
  const id = state.selected;
  state.recommended = [];
  state.recommendProblem = "";
  if (!id) return;
  try {
    const answer = await api("GET", `calls/${id}/recommend/`);
    if (state.selected !== id) return;
    state.recommended = answer.results ?? answer;
  } catch (error) {
    state.recommendProblem = error.message;
  }
  renderDetail();
}

async function dispatchUnit(unitId) {
  const id = state.selected;
  try {
    upsertCall(await api("POST", `calls/${id}/assign/`, { unit: unitId }));
    loadRecommendations();
  } catch (error) {
    showDetailError(error.message);
  }
}

function showDetailError(message) {
  const box = $("#detail-error");
  if (box) { box.textContent = message; box.hidden = false; }
}

function renderDetail() {
  const box = $("#call-detail");
  const call = state.calls.get(state.selected);
  if (!call) {
    box.replaceChildren(el("p", { class: "empty" }, "Select a call to see its details, recommended units and timeline."));
    return;
  }
  const assigned = call.assignments.filter((a) => a.active);
  const recommendations = state.recommended.slice(0, 6);
  box.replaceChildren(
    el("div", { class: "detail-head" },
      el("span", { class: `badge prio prio-${call.priority}` }, `P${call.priority}`),
      el("h3", {}, `${call.type?.name ?? ""} `, el("span", { class: "muted mono" }, call.number)),
      el("span", { class: "call-status" }, call.status_label),
      el("span", { class: "timer mono", "data-since": call.created_at }, clock(call.created_at))),
    el("p", { class: "detail-line" }, call.address || "No address",
      call.caller_name ? ` · Caller ${call.caller_name}` : "", call.caller_phone ? ` ${call.caller_phone}` : ""),
    el("p", { class: "form-error", id: "detail-error", hidden: true }),
    el("div", { class: "detail-columns" },
      el("div", {},
        el("h2", {}, "Recommended"),
        recommendations.length
          ? el("ol", { class: "recommend" }, ...recommendations.map((r, index) =>
              el("li", {},
                el("button", { class: "btn btn-primary", "data-dispatch": r.unit.id, onclick: () => dispatchUnit(r.unit.id), title: `Dispatch (${index + 1})` },
                  el("kbd", {}, index + 1), ` ${r.unit.call_sign}`),
                el("span", { class: "muted" }, ` ${formatDistance(r.distance_m)} · fix ${Math.round(r.fix_age_s)}s`))))
          : el("p", { class: "muted" }, state.recommendProblem || "No available unit with a position.")),
      el("div", {},
        el("h2", {}, "Units on this call"),
        assigned.length
          ? el("ul", { class: "assigned" }, ...assigned.map((a) =>
              el("li", {}, el("strong", {}, a.call_sign),
                el("div", { class: "muted mono small" }, `disp ${time(a.dispatched_at)} · enr ${time(a.en_route_at)} · scn ${time(a.on_scene_at)}`))))
          : el("p", { class: "muted" }, "None yet."),
        el("h2", {}, "Notes"),
        el("ul", { class: "notes" }, ...call.notes.map((note) =>
          el("li", {}, el("span", { class: "muted mono" }, `${time(note.at)} ${note.author_name}: `), note.text))),
        el("form", { class: "row", onsubmit: addNote },
          el("input", { id: "note-text", placeholder: "Add a note", autocomplete: "off", "aria-label": "Add a note" }),
          el("button", { class: "btn", type: "submit" }, "Add"))),
      el("div", {},
        el("h2", {}, "Timeline"),
        el("ol", { class: "timeline", id: "timeline" }),
        el("form", { class: "row close-row", onsubmit: closeCall },
          el("select", { id: "close-disposition", "aria-label": "Disposition" },
            ...page.dispositions.map((d) => el("option", { value: d.code }, `${d.code} · ${d.name}`))),
          el("button", { class: "btn btn-danger", type: "submit" }, "Close")))),
  );
  loadTimeline(call.id);
}

async function loadTimeline(id) {
  try {
    const entries = await api("GET", `calls/${id}/timeline/`);
    if (state.selected !== id) return;
    $("#timeline")?.replaceChildren(...(entries.results ?? entries).map((entry) =>
      el("li", {}, el("span", { class: "muted mono" }, `${time(entry.at)} `), `${entry.actor_name || "system"}: ${entry.description}`)));
  } catch (error) {
    /* the timeline is a convenience; the call itself is already shown */
  }
}

async function addNote(event) {
  event.preventDefault();
  const input = $("#note-text");
  if (!input.value.trim()) return;
  try {
    await api("POST", `calls/${state.selected}/notes/`, { text: input.value });
    input.value = "";
  } catch (error) {
    showDetailError(error.message);
  }
}

async function closeCall(event) {
  event.preventDefault();
  try {
    upsertCall(await api("POST", `calls/${state.selected}/close/`, { disposition: $("#close-disposition").value }));
    state.selected = null;
    renderQueue();
    renderDetail();
  } catch (error) {
    showDetailError(error.message);
  }
}

// --- new call ---------------------------------------------------------------

const form = $("#new-call");
const typeSelect = $("#nc-type");
typeSelect.append(...page.incident_types.map((t) => el("option", { value: t.code, "data-priority": t.default_priority }, `${t.name} (${t.code})`)));
typeSelect.addEventListener("change", () => {
  $("#nc-priority").value = typeSelect.selectedOptions[0]?.dataset.priority || "3";
});

function openNewCall() {
  form.hidden = false;
  typeSelect.focus();
  typeSelect.dispatchEvent(new Event("change"));
}

function closeNewCall() {
  form.hidden = true;
  form.reset();
  state.placing?.remove();
  state.placing = null;
  $("#nc-place").textContent = "Click the map to place the call.";
  $("#nc-error").hidden = true;
}

map.onClick((latlng) => {
  if (form.hidden) return;
  state.placing?.remove();
  state.placing = L.circleMarker(latlng, { radius: 9, color: "#fff", weight: 3, fillOpacity: 0.2 }).addTo(map.map);
  state.placing.latlng = latlng;
  $("#nc-place").textContent = `Placed at ${latlng.lat.toFixed(5)}, ${latlng.lng.toFixed(5)}.`;
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(form));
  data.priority = Number(data.priority);
  if (state.placing) { data.lat = state.placing.latlng.lat; data.lon = state.placing.latlng.lng; }
  try {
    const call = await api("POST", "calls/", data);
    closeNewCall();
    upsertCall(call);
    renderQueue();
    selectCall(call.id);
  } catch (error) {
    $("#nc-error").textContent = error.message;
    $("#nc-error").hidden = false;
  }
});
form.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
});
$("#new-call-button").addEventListener("click", openNewCall);
$("#nc-cancel").addEventListener("click", closeNewCall);

// --- units -------------------------------------------------------------------

function upsertUnit(unit) {
  state.units.set(unit.id, unit);
  map.setUnit(unit);
}

function unitRow(unit) {
  return el("li", { class: "unit-row", "data-unit": unit.id, onclick: () => unit.position && map.focus(unit.position.lat, unit.position.lon) },
    el("strong", {}, unit.call_sign),
    el("span", { class: "muted" }, unit.officers.map((o) => o.name).join(", ")),
    unit.call ? el("span", { class: "badge" }, unit.call.number) : null,
    el("span", { class: "fix-age muted mono", "data-unit-fix": unit.id }, fixAge(unit)));
}

// One group per status, in the board's order; each holds elements only for the rows in sight.
const board = $("#unit-board");
const bySign = new Intl.Collator().compare;
const unitGroups = STATUS_ORDER.map((status) => {
  const count = el("span", { class: "muted" });
  const list = el("ul", {});
  const element = el("div", { class: "unit-group", "data-status": status, hidden: true },
    el("h3", {}, el("span", { class: "status-dot", style: `background:${statusColour(status)}` }), `${STATUS_LABEL[status]} `, count),
    list);
  board.append(element);
  return { status, element, count, rows: new RowWindow(list, board, { render: unitRow }) };
});

function renderUnits() {
  const byStatus = new Map(STATUS_ORDER.map((status) => [status, []]));
  for (const unit of state.units.values()) byStatus.get(unit.status)?.push(unit);
  for (const group of unitGroups) {
    const units = byStatus.get(group.status).sort((a, b) => bySign(a.call_sign, b.call_sign));
    group.element.hidden = units.length === 0;
    group.count.textContent = units.length;
    group.rows.setItems(units); // top to bottom: the groups above this one have their height already
  }
}

function fixAge(unit) {
  if (!unit.position) return "no fix";
  const seconds = Math.round((Date.now() - Date.parse(unit.position.at)) / 1000);
  return seconds < 120 ? `${seconds}s` : `${Math.round(seconds / 60)}m`;
}

// --- live link -----------------------------------------------------------------

// Events re-render the queue and the board (and ask for recommendations) once
// per frame, however many came: a resume replays up to thousands of them at once.
const due = new Set();
function soon(render) {
  if (!due.size) requestAnimationFrame(() => {
    const renders = [...due];
    due.clear();
    renders.forEach((render) => render());
  });
  due.add(render);
}

new ConsoleSocket({
  snapshot(frame) {
    state.calls.clear();
    for (const marker of [...map.calls.keys()]) map.removeCall(marker);
    frame.calls.forEach(upsertCall);
    frame.units.forEach(upsertUnit);
    banners.replaceAll(frame.alerts);
    renderQueue();
    renderUnits();
    renderDetail();
  },
  event({ event, data }) {
    if (event.startsWith("call.")) {
      upsertCall(data.call ?? data);
      soon(renderQueue);
      if ((data.call ?? data).id === state.selected) soon(loadRecommendations);
    } else if (event.startsWith("unit.")) {
      if (data.call_sign) { upsertUnit(data); soon(renderUnits); }
      else if (data.unit?.call_sign) { upsertUnit(data.unit); soon(renderUnits); }
      if (state.selected) soon(loadRecommendations);
    } else if (event.startsWith("alert.")) {
      banners.apply(data.alert ?? data);
    }
  },
  positions({ units }) {
    for (const fix of units) {
      const unit = state.units.get(fix.unit);
      if (!unit) continue;
      unit.position = { ...(unit.position || {}), lat: fix.lat, lon: fix.lon, at: fix.at, speed_mps: fix.speed_mps, heading_deg: fix.heading_deg };
      map.setUnit(unit);
    }
  },
});

setInterval(() => {
  document.querySelectorAll("[data-since]").forEach((timer) => (timer.textContent = clock(timer.dataset.since)));
  document.querySelectorAll("[data-unit-fix]").forEach((cell) => {
    const unit = state.units.get(Number(cell.dataset.unitFix));
    if (unit) cell.textContent = fixAge(unit);
  });
}, 1000);

// --- keyboard ------------------------------------------------------------------

document.addEventListener("keydown", (event) => {
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName);
  if (event.key === "Escape" && !form.hidden) { closeNewCall(); return; }
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "n" || event.key === "N") { event.preventDefault(); openNewCall(); }
  else if (event.key === "a" || event.key === "A") banners.acknowledgeNewest();
  else if (/^[1-9]$/.test(event.key) && state.selected) {
    const choice = state.recommended[Number(event.key) - 1];
    if (choice) dispatchUnit(choice.unit.id);
  } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    if (due.has(renderQueue)) renderQueue(); // an event changed the queue since the last frame
    const ids = state.queue.map((call) => call.id);
    if (!ids.length) return;
    const index = ids.indexOf(state.selected);
    const next = event.key === "ArrowDown" ? Math.min(ids.length - 1, index + 1) : Math.max(0, index - 1);
    selectCall(ids[next]);
    event.preventDefault();
  }
});
