// The map of units and calls. Works with no tiles at all (a police network
// without internet): the background is a plain grid and labels carry the meaning.

const STATUS_COLOURS = {
  available: "#2ecc71", dispatched: "#f5b82e", en_route: "#ff8c42", on_scene: "#4da3ff",
  busy: "#b18cff", out_of_service: "#7d8a99", off_duty: "#4a5563",
};

export function statusColour(status) {
  return STATUS_COLOURS[status] || "#9fb0c3";
}

// Units on a call are labelled first, then those that can take one.
const LABEL_ORDER = ["on_scene", "en_route", "dispatched", "available", "busy", "out_of_service", "off_duty"];
const LABEL_FONT = "700 12px system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif";

// Call-sign labels, drawn on one canvas in one pass whenever the map or a unit
// moves. A permanent Leaflet tooltip per unit was an element and a layout each,
// a second for a thousand units. A label that would cover one already drawn is
// left out, so every label drawn can be read; zooming in makes room for more.
// Made on first use: the MDT imports this module without loading Leaflet.
let UnitLabels = null;
const unitLabels = (markers) => new (UnitLabels ||= L.Layer.extend({
  initialize(markers) {
    this.markers = markers;
    this.widths = new Map();
    this.pending = false;
  },

  onAdd(map) {
    const pane = map.getPane("unitLabels") || map.createPane("unitLabels");
    pane.style.zIndex = 450; // over the unit markers (400), under the call pins (600)
    pane.style.pointerEvents = "none";
    this.canvas = L.DomUtil.create("canvas", "unit-labels leaflet-zoom-hide", pane);
    map.on("moveend zoomend resize viewreset", this.redraw, this);
    this.redraw();
  },

  onRemove(map) {
    map.off("moveend zoomend resize viewreset", this.redraw, this);
    this.canvas.remove();
  },

  redraw() {
    if (this.pending || !this._map) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      if (this._map) this.draw();
    });
  },

  draw() {
    const map = this._map;
    const size = map.getSize();
    const ratio = window.devicePixelRatio || 1;
    const canvas = this.canvas;
    if (canvas.width !== size.x * ratio || canvas.height !== size.y * ratio) {
      canvas.width = size.x * ratio;
      canvas.height = size.y * ratio;
      canvas.style.width = `${size.x}px`;
      canvas.style.height = `${size.y}px`;
    }
    // The pane moves with the map while it is dragged; the canvas covers the view where the drag ended.
    L.DomUtil.setPosition(canvas, map.containerPointToLayerPoint([0, 0]));
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, size.x, size.y);
    ctx.font = LABEL_FONT;
    ctx.textBaseline = "middle";
    const candidates = [];
    for (const marker of this.markers.values()) {
      const point = map.latLngToContainerPoint(marker.getLatLng());
      if (point.x < -80 || point.y < -20 || point.x > size.x || point.y > size.y + 20) continue;
      candidates.push({ marker, point, rank: LABEL_ORDER.indexOf(marker.unit.status) >>> 0 });
    }
    candidates.sort((a, b) => a.rank - b.rank);
    const taken = new Map(); // grid cell -> label boxes in it
    const CELL = 64;
    let drawn = 0;
    for (const { marker, point } of candidates) {
      const text = marker.unit.call_sign;
      let width = this.widths.get(text);
      if (width === undefined) this.widths.set(text, (width = Math.ceil(ctx.measureText(text).width) + 8));
      const box = { x: point.x + 9, y: point.y - 9, w: width, h: 18 };
      const cells = [];
      for (let cx = Math.floor(box.x / CELL); cx <= Math.floor((box.x + box.w) / CELL); cx++) {
        for (let cy = Math.floor(box.y / CELL); cy <= Math.floor((box.y + box.h) / CELL); cy++) cells.push(`${cx},${cy}`);
      }
      const overlaps = cells.some((cell) => (taken.get(cell) || []).some((other) =>
        box.x < other.x + other.w && other.x < box.x + box.w && box.y < other.y + other.h && other.y < box.y + box.h));
      if (overlaps) continue;
      for (const cell of cells) (taken.get(cell) || taken.set(cell, []).get(cell)).push(box);
      ctx.fillStyle = "rgba(11,15,20,.85)";
      ctx.fillRect(box.x, box.y, box.w, box.h);
      ctx.fillStyle = "#fff";
      ctx.fillText(text, box.x + 4, point.y + 1);
      drawn++;
    }
    map.getContainer().dataset.unitLabels = drawn; // how many call signs can be read (tests)
  },
}))(markers);

export class UnitMap {
  constructor(element, { centre, zoom = 14, tileUrl = "" }) {
    // Canvas: a thousand unit markers as SVG paths cost a layout each; on one canvas they cost a redraw.
    this.map = L.map(element, { zoomControl: true, attributionControl: Boolean(tileUrl), preferCanvas: true }).setView(centre, zoom);
    this.element = element;
    if (tileUrl) L.tileLayer(tileUrl, { maxZoom: 19 }).addTo(this.map);
    else element.classList.add("no-tiles");
    L.control.scale({ imperial: true, metric: true }).addTo(this.map);
    this.units = new Map();
    this.calls = new Map();
    this.alerts = new Map();
    this.labels = unitLabels(this.units).addTo(this.map);
  }

  setUnit(unit) {
    const position = unit.position;
    let marker = this.units.get(unit.id);
    if (!position) {
      if (marker) {
        marker.remove();
        this.units.delete(unit.id);
        this.element.dataset.unitMarkers = this.units.size;
        this.labels.redraw();
      }
      return;
    }
    const latlng = [position.lat, position.lon];
    const colour = statusColour(unit.status);
    if (!marker) {
      marker = L.circleMarker(latlng, { radius: 7, weight: 2, color: "#000", fillOpacity: 1, fillColor: colour });
      marker.addTo(this.map);
      this.units.set(unit.id, marker);
      this.element.dataset.unitMarkers = this.units.size;  // how many units the map shows (tests, benchmarks)
    } else {
      marker.setLatLng(latlng);
      if (marker.options.fillColor !== colour) marker.setStyle({ fillColor: colour });
    }
    marker.unit = { call_sign: unit.call_sign, status: unit.status };
    this.labels.redraw();
  }

  moveUnit(id, lat, lon) {
    this.units.get(id)?.setLatLng([lat, lon]);
    this.labels.redraw();
  }

  setCall(call, { selected = false, onClick } = {}) {
    this.removeCall(call.id);
    if (call.lat == null || call.lon == null || !call.is_open) return;
    const icon = L.divIcon({
      className: "",
      html: `<div class="call-pin prio-${call.priority}${selected ? " selected" : ""}"><span>P${call.priority}</span></div>`,
      iconSize: [30, 30], iconAnchor: [15, 30],
    });
    const marker = L.marker([call.lat, call.lon], { icon, zIndexOffset: selected ? 1000 : 0 })
      .bindTooltip(`${call.number} ${call.type?.name ?? ""}`, { direction: "top", offset: [0, -30] });
    if (onClick) marker.on("click", () => onClick(call.id));
    marker.addTo(this.map);
    this.calls.set(call.id, marker);
  }

  removeCall(id) {
    this.calls.get(id)?.remove();
    this.calls.delete(id);
  }

  setAlert(alert) {
    this.removeAlert(alert.id);
    if (alert.lat == null || alert.lon == null) return;
    const icon = L.divIcon({ className: "", html: `<div class="alert-pin" title="${alert.kind}">!</div>`, iconSize: [34, 34], iconAnchor: [17, 17] });
    this.alerts.set(alert.id, L.marker([alert.lat, alert.lon], { icon, zIndexOffset: 2000 }).addTo(this.map));
  }

  removeAlert(id) {
    this.alerts.get(id)?.remove();
    this.alerts.delete(id);
  }

  onClick(handler) {
    this.map.on("click", (event) => handler(event.latlng));
  }

  focus(lat, lon) {
    if (lat != null && lon != null) this.map.panTo([lat, lon]);
  }
}

// Distance in metres and initial bearing in degrees between two points.
export function distanceAndBearing(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  const distance = 2 * 6371000 * Math.asin(Math.sqrt(a));
  const y = Math.sin(dLon) * Math.cos(lat2 * rad);
  const x = Math.cos(lat1 * rad) * Math.sin(lat2 * rad) - Math.sin(lat1 * rad) * Math.cos(lat2 * rad) * Math.cos(dLon);
  const bearing = (Math.atan2(y, x) / rad + 360) % 360;
  return { distance, bearing };
}

export function compass(bearing) {
  return ["N", "NE", "E", "SE", "S", "SW", "W", "NW"][Math.round(bearing / 45) % 8];
}

export function formatDistance(metres) {
  const miles = metres / 1609.344;
  return miles < 0.1 ? `${Math.round(metres * 3.281)} ft` : `${miles.toFixed(miles < 10 ? 1 : 0)} mi`;
}
