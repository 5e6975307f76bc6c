// The live link (GET /api/v1/link): one WebSocket that reconnects by itself.
//
// After a drop it waits (0.5 s, 1 s, 2 s... up to 15 s, with jitter so a crowd of phones
// does not return at the same instant) and reconnects with ?after=SEQ, the highest
// message sequence number the page has shown; the server replays what was stored after
// it and never sends a message twice. While connected it sends a heartbeat every 15 s so
// the partner's side keeps seeing contact as live.

const HEARTBEAT_MS = 15000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15000;

/** The heartbeat period: 15 s, unless `haurach.heartbeat_ms` in localStorage says
 *  otherwise (servers with a short contact timeout, and the browser tests, set it). */
function heartbeatMs() {
  const v = Number(localStorage.getItem("haurach.heartbeat_ms"));
  return Number.isFinite(v) && v >= 200 ? v : HEARTBEAT_MS;
}

export class Link {
  /**
   * @param {object} o
   * @param {() => string|null} o.token the bearer token
   * @param {() => number|null} o.after resume after this message sequence number
   *        (null: after what the account acknowledged)
   * @param {(frame: object) => void} o.onFrame every server frame, parsed
   * @param {(bytes: Uint8Array) => void} [o.onBinary] every binary frame (camera frames)
   * @param {(state: string, detail: object) => void} o.onState
   *        "connecting" | "live" | "offline" ({retryInMs}) | "stopped"
   * @param {() => void} o.onDrop called after a connection fails or drops
   */
  constructor(o) {
    this.o = o;
    this.ws = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.heartbeatTimer = null;
    this.stopped = true;
    this.live = false;
    this.onOnline = () => this.reconnectNow();
    this.onVisible = () => {
      if (document.visibilityState !== "visible" || this.stopped) return;
      if (this.live) this.send({ type: "heartbeat" });
      else this.reconnectNow();
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    document.addEventListener("visibilitychange", this.onVisible);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    document.removeEventListener("visibilitychange", this.onVisible);
    clearTimeout(this.retryTimer);
    this.stopHeartbeat();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, "bye");
    }
    this.live = false;
    this.o.onState("stopped", {});
  }

  /** Drop any wait and try at once (the "Retry now" button, the browser going online). */
  reconnectNow() {
    if (this.stopped || this.live) return;
    clearTimeout(this.retryTimer);
    if (this.ws && this.ws.readyState === WebSocket.CONNECTING) return;
    this.attempt = 0;
    this.connect();
  }

  /** Sends a frame if the link is up; returns whether it went out. */
  send(frame) {
    if (!this.live || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Sends a binary frame (a camera frame) if the link is up and not backed up; returns
   *  whether it went out. A frame that would queue behind more than `maxBuffered` bytes
   *  is not sent: live frames are worth more dropped than late. */
  sendBinary(bytes, maxBuffered = 256 * 1024) {
    if (!this.live || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    if (this.ws.bufferedAmount > maxBuffered) return false;
    this.ws.send(bytes);
    return true;
  }

  connect() {
    const token = this.o.token();
    if (!token) return;
    this.o.onState("connecting", {});
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    // No `after` on the first connection of a page: the server resumes after the last
    // message this account acknowledged.
    const after = this.o.after();
    let url = `${scheme}//${location.host}/api/v1/link`;
    if (after !== null) url += `?after=${Math.max(0, Math.floor(after))}`;
    let ws;
    try {
      // The token travels as a subprotocol, not in the URL (URLs end up in proxies'
      // logs); the server answers with "haurach".
      ws = new WebSocket(url, ["haurach", `bearer.${token}`]);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      if (ev.data instanceof ArrayBuffer) {
        this.o.onBinary?.(new Uint8Array(ev.data));
        return;
      }
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame.type === "hello") {
        this.live = true;
        this.attempt = 0;
        this.startHeartbeat();
        this.o.onState("live", {});
      }
      this.o.onFrame(frame);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.live = false;
      this.stopHeartbeat();
      if (this.stopped) return;
      this.scheduleRetry();
      this.o.onDrop();
    };
    ws.onerror = () => {
      // onclose follows and does the work.
    };
  }

  scheduleRetry() {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    const wait = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), wait);
    this.o.onState("offline", { retryInMs: wait });
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(() => this.send({ type: "heartbeat" }), heartbeatMs());
  }

  stopHeartbeat() {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }
}
