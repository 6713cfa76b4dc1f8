// Alert banners: impossible to miss, with a tone until acknowledged. Shared by
// the dispatcher console, the live wall and the MDT.

import { api } from "./api.js";
import { startTone, stopTone } from "./alert-tone.js";

const OPEN = new Set(["raised", "acknowledged"]);

export const KIND_LABELS = {
  officer_down: "OFFICER DOWN", panic: "PANIC", weapon_drawn: "WEAPON DRAWN", gunshot: "GUNSHOT",
  foot_pursuit: "FOOT PURSUIT", struggle: "STRUGGLE",
};

export function kindLabel(alert) {
  return KIND_LABELS[alert.kind] || String(alert.kind_label || alert.kind).replaceAll("_", " ").toUpperCase();
}

function ago(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return seconds < 60 ? `${seconds}s ago` : `${Math.floor(seconds / 60)}m ${seconds % 60}s ago`;
}

export class AlertBanners {
  // options: {actions: bool, visible(alert) -> bool, detail(alert) -> string, onWatch(alert), onChange(alerts)}
  constructor(container, options = {}) {
    this.container = container;
    this.options = options;
    this.alerts = new Map();
    this.elements = new Map(); // alert id -> its banner, kept while nothing but the clock changes
    setInterval(() => this.tick(), 1000);
  }

  replaceAll(alerts) {
    this.alerts.clear();
    for (const alert of alerts) this.alerts.set(alert.id, alert);
    this.render();
  }

  apply(alert) {
    if (OPEN.has(alert.status)) this.alerts.set(alert.id, alert);
    else this.alerts.delete(alert.id);
    this.render();
  }

  visibleAlerts() {
    const visible = this.options.visible || (() => true);
    return [...this.alerts.values()].filter(visible).sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at));
  }

  render() {
    const alerts = this.visibleAlerts();
    const unacknowledged = alerts.filter((alert) => alert.status === "raised");
    if (unacknowledged.length) startToneOnce(unacknowledged.some((alert) => alert.escalated_at));
    else stopToneOnce();
    // A banner is rebuilt only when what it says changes, so a button never
    // disappears under the pointer between press and release.
    const banners = alerts.map((alert) => {
      const key = JSON.stringify([alert.status, alert.escalated_at, alert.acknowledged_by_name, this.options.detail?.(alert), alert.call_number]);
      let element = this.elements.get(alert.id);
      if (!element || element.dataset.key !== key) {
        element = this.banner(alert);
        element.dataset.key = key;
        this.elements.set(alert.id, element);
      }
      return element;
    });
    for (const id of [...this.elements.keys()]) if (!alerts.some((alert) => alert.id === id)) this.elements.delete(id);
    const current = [...this.container.children];
    if (current.length !== banners.length || current.some((element, index) => element !== banners[index])) {
      this.container.replaceChildren(...banners);
    }
    this.options.onChange?.(alerts);
  }

  tick() {
    for (const [id, element] of this.elements) {
      const alert = this.alerts.get(id);
      if (alert) element.querySelector(".alert-time").textContent = ago(alert.raised_at);
    }
  }

  banner(alert) {
    const element = document.createElement("div");
    element.className = `alert-banner${alert.status === "acknowledged" ? " acknowledged" : ""}${alert.escalated_at ? " escalated" : ""}`;
    element.dataset.alert = alert.id;
    element.setAttribute("role", "alert");
    const who = [alert.unit_call_sign, alert.officer_name].filter(Boolean).join(" · ");
    const detail = this.options.detail?.(alert) ?? (alert.call_number ? `Call ${alert.call_number}` : "");
    const state = alert.status === "acknowledged" ? `Acknowledged by ${alert.acknowledged_by_name ?? "?"}` : (alert.escalated_at ? "ESCALATED · not acknowledged" : "Not acknowledged");
    element.innerHTML = `<span class="alert-kind"></span><span class="alert-who"></span><span class="alert-detail"></span>
      <span class="alert-time"></span><span class="spacer"></span><span class="alert-state"></span>`;
    element.querySelector(".alert-kind").textContent = kindLabel(alert);
    element.querySelector(".alert-who").textContent = who;
    element.querySelector(".alert-detail").textContent = detail;
    element.querySelector(".alert-time").textContent = ago(alert.raised_at);
    element.querySelector(".alert-state").textContent = state;
    if (this.options.onWatch && alert.device_name) element.append(this.button("Watch feed", () => this.options.onWatch(alert)));
    if (this.options.actions) {
      if (alert.status === "raised") element.append(this.button("Acknowledge", () => this.act(alert, "acknowledge"), "ack"));
      else {
        element.append(this.button("Resolve", () => this.act(alert, "resolve")));
        element.append(this.button("False alarm", () => this.act(alert, "false")));
      }
    }
    for (const extra of this.options.extraButtons?.(alert) ?? []) element.append(extra);
    return element;
  }

  button(label, onClick, name) {
    const button = document.createElement("button");
    button.className = "btn";
    button.type = "button";
    button.textContent = label;
    if (name) button.dataset.action = name;
    button.addEventListener("click", onClick);
    return button;
  }

  async act(alert, action) {
    try {
      this.apply(await api("POST", `alerts/${alert.id}/${action}/`, {}));
    } catch (error) {
      window.alert(error.message);
    }
  }

  // Acknowledge the newest unacknowledged alert (keyboard shortcut).
  acknowledgeNewest() {
    const newest = this.visibleAlerts().find((alert) => alert.status === "raised");
    if (newest && this.options.actions) this.act(newest, "acknowledge");
  }
}

let toneState = null;
function startToneOnce(escalated) {
  const wanted = escalated ? "escalated" : "on";
  if (toneState !== wanted) { startTone({ escalated }); toneState = wanted; }
}
function stopToneOnce() {
  if (toneState !== null) { stopTone(); toneState = null; }
}
