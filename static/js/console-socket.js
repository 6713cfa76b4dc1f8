// The console's live link: snapshot, then events in sequence order; resumes
// after a drop, a gap or a silence so that nothing is ever missed.
//
// It acknowledges what it has applied ({"type": "ack", "seq": n}) after the
// snapshot, in answer to every heartbeat and every ACK_EVERY events: the
// server closes (4008) a console that stops acknowledging while events wait,
// or falls too far behind, even when the server buffers its socket without
// limit. The close is followed by a reconnect with ?after=, so nothing is lost.

const SILENCE_MS = 10000; // heartbeats come at least every 5 s
const RETRY_MS = [500, 1000, 2000, 4000, 8000];
const ACK_EVERY = 100; // events; well under the server's queue capacity (1,000)

export class ConsoleSocket {
  // handlers: {snapshot(frame), event(frame), positions(frame), status(state)}
  constructor(handlers) {
    this.handlers = handlers;
    this.seq = null; // last sequence applied; null until the first snapshot
    this.unacknowledged = 0; // events applied since the last ack
    this.attempt = 0;
    this.socket = null;
    this.silenceTimer = null;
    this.connect();
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const after = this.seq === null ? "" : `?after=${this.seq}`;
    return `${scheme}://${location.host}/ws/console/${after}`;
  }

  connect() {
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.status("live");
      this.touch();
    };
    socket.onmessage = (message) => {
      this.touch();
      this.receive(JSON.parse(message.data));
    };
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      clearTimeout(this.silenceTimer);
      if (close.code === 4003) {
        this.status("refused");
        return; // signed out or role removed: reloading shows the sign-in page
      }
      this.status("down");
      const delay = RETRY_MS[Math.min(this.attempt++, RETRY_MS.length - 1)];
      setTimeout(() => this.connect(), delay);
    };
  }

  receive(frame) {
    switch (frame.type) {
      case "snapshot":
        this.seq = frame.seq;
        this.handlers.snapshot?.(frame);
        this.ack();
        break;
      case "event":
        if (this.seq !== null && frame.seq <= this.seq) return; // already applied
        if (this.seq !== null && frame.seq !== this.seq + 1) {
          this.resume(); // a gap: ask for everything after what we have
          return;
        }
        this.seq = frame.seq;
        this.handlers.event?.(frame);
        if (++this.unacknowledged >= ACK_EVERY) this.ack();
        break;
      case "positions":
        this.handlers.positions?.(frame);
        break;
      case "heartbeat":
        if (this.seq !== null && frame.seq > this.seq) this.resume();
        this.ack();
        break;
      case "error":
        console.warn("console socket:", frame.detail);
        break;
    }
  }

  resume() {
    if (this.resuming) return;
    this.resuming = true;
    this.send({ type: "resume", after: this.seq });
    setTimeout(() => (this.resuming = false), 1000);
  }

  ack() {
    // Sent after the handler ran: the sequence is applied, not just received.
    if (this.seq === null) return;
    this.unacknowledged = 0;
    this.send({ type: "ack", seq: this.seq });
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  touch() {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => {
      this.status("down");
      this.socket.close(); // silence: the socket is dead even if the browser has not noticed
    }, SILENCE_MS);
  }

  status(state) {
    const badge = document.getElementById("link-status");
    if (badge) {
      badge.hidden = false;
      badge.className = `link-status ${state === "live" ? "live" : "down"}`;
      badge.textContent = state === "live" ? "● Live" : state === "refused" ? "Signed out" : "Reconnecting…";
    }
    this.handlers.status?.(state);
  }
}
