// The map of units and calls. Works with no tiles at all (a police network
// without internet): the background is a plain grid and labels carry the meaning.

const STATUS_COLOURS = {
  available: "#2ecc71", dispatched: "#f5b82e", en_route: "#ff8c42", on_scene: "#4da3ff",
  busy: "#b18cff", out_of_service: "#7d8a99", off_duty: "#4a5563",
};

export function statusColour(status) {
  return STATUS_COLOURS[status] || "#9fb0c3";
}

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
  }

  setUnit(unit) {
    const position = unit.position;
    let marker = this.units.get(unit.id);
    if (!position) {
      if (marker) { marker.remove(); this.units.delete(unit.id); this.element.dataset.unitMarkers = this.units.size; }
      return;
    }
    const latlng = [position.lat, position.lon];
    const colour = statusColour(unit.status);
    if (!marker) {
      marker = L.circleMarker(latlng, { radius: 7, weight: 2, color: "#000", fillOpacity: 1, fillColor: colour });
      marker.bindTooltip(unit.call_sign, { permanent: true, direction: "right", className: "unit-label", offset: [8, 0] });
      marker.addTo(this.map);
      this.units.set(unit.id, marker);
      this.element.dataset.unitMarkers = this.units.size;  // how many units the map shows (tests, benchmarks)
    } else {
      marker.setLatLng(latlng);
      marker.setStyle({ fillColor: colour });
    }
  }

  moveUnit(id, lat, lon) {
    this.units.get(id)?.setLatLng([lat, lon]);
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
