// Glimpse and sight: the partner's camera, as the bond allows.
//
// - My camera is mine: nothing is captured unless I turn on "Let my partner see through
//   my camera" (stored on the server, off until turned on).
// - A glimpse: within glimpse range I may ask; the server asks the partner's page, which
//   (if they allowed it) asks them, each time unless they chose "always for this bond",
//   and only on their yes captures one frame at the size the server names and sends it
//   as a binary frame 0x01 + JPEG; it arrives here as the same. Unanswered, the ask
//   lapses on the server after 30 s.
// - Sight: within sight range, a page that allows its camera sends frames (0x02 + JPEG)
//   by itself, starting slow and small and following what the server says the bond
//   allows (`sight_rate`). Leaving the range stops the camera. While it sends, the page
//   shows its own camera view, and a banner at the top says the partner sees through the
//   camera, with a button that stops it at once (it turns the consent off).
// - Trace (while the images tier is open): strokes drawn over a glimpse or the sight go
//   to the partner and land on the same picture on their side (trace.js). A glimpse is
//   named by the id the server gave it: it comes in the binary frame to the one who
//   asked (0x01 + 16 bytes of id + JPEG), and in `glimpse_sent` to the one who sent it,
//   whose page keeps the frame it sent and shows the strokes over it. The sight is named
//   by whose camera it is: a stroke over the partner's sight appears over their own
//   camera view, and one over my own view over their sight of me.
// - In a private bond (docs/privacy.md) every frame is sealed here before it leaves, with
//   the bond's content key and this device's counter (`privatebond.Sealing`): 0x03 + the
//   sealed glimpse, 0x04 + the sealed sight frame; what the partner sealed is opened here,
//   and a frame that does not open is said to have been changed on the way. Nothing is
//   sent while the page does not know whether the bond is private, nor in a private bond
//   by a browser without its keys. The server cannot read a sealed JPEG, so it bounds
//   its bytes by the side (`jpegBound`): a frame over it is encoded again at a lower
//   quality. Strokes are sealed too (`sealed_trace`, app.js's `sendTrace`): the server
//   sees neither their points nor which glimpse or sight they are drawn over.

import { TraceCanvas } from "./trace.js";

const GLIMPSE = 0x01;
const SIGHT = 0x02;
/** A private bond's sealed glimpse and sight frame (`haurach_proto::sealed`). */
const SEALED_GLIMPSE = 0x03;
const SEALED_SIGHT = 0x04;
/** The qualities a frame is encoded at, in turn, until it fits its bound. */
const QUALITIES = [0.7, 0.5, 0.3, 0.15];
/** Bytes of the glimpse's id after the first byte of a glimpse from the server. */
const GLIMPSE_ID = 16;
/** How long an ask for a glimpse waits for the person's yes (the server's own limit). */
const ASK_MS = 30_000;
/** Where a sight starts before the server's first report: the edge of the sight tier. */
const START = { fps: 2, side: 240 };

async function encode(canvas, quality) {
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
  return new Uint8Array(await blob.arrayBuffer());
}

/** The most bytes a JPEG whose longest side is `side` may take, as the server bounds a
 *  sealed frame (`haurach_bond::images::jpeg_bytes_bound`): 2,048 bytes of headers and 4
 *  bits for every pixel of a `side` × `side` square. */
export function jpegBound(side) {
  return 2048 + Math.floor((side * side * 4) / 8);
}

/** A UUID's 16 bytes in its usual written form. */
function uuid(bytes) {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function framed(kind, jpeg) {
  const out = new Uint8Array(jpeg.length + 1);
  out[0] = kind;
  out.set(jpeg, 1);
  return out;
}

export class Camera {
  /**
   * @param {object} o
   * @param {import("./link.js").Link} o.link
   * @param {(method: string, path: string, body?: object) => Promise<any>} o.call
   * @param {(id: string) => HTMLElement} o.el
   * @param {() => object|null} o.bond the bond as the page knows it
   * @param {() => string|null} o.me the name of the person using the page
   * @param {() => string} o.privacy whether the bond is `plain`, `private` or still
   *   `checking`, now
   * @param {() => Promise<string>} o.known the same, once known (a few seconds at most)
   * @param {() => object|null} o.sealing what this device seals and opens with, in a
   *   private bond whose keys it holds confirmed (`privatebond.Sealing`)
   * @param {(frame: object) => boolean} o.sendTrace sends part of a stroke (sealed in a
   *   private bond)
   * @param {() => boolean} o.canTrace whether a stroke may be drawn now
   */
  constructor({ link, call, el, bond, me, privacy, known, sealing, sendTrace, canTrace }) {
    this.link = link;
    this.call = call;
    this.el = el;
    this.bond = bond;
    this.me = me;
    this.privacy = privacy;
    this.known = known;
    this.sealing = sealing;
    /** Sealed frames of each kind as they arrived, and the latest shown: each opens on
     *  its own, and one that opens after a later one is not shown over it. */
    this.arrived = { glimpse: 0, sight: 0 };
    this.shownOrder = { glimpse: 0, sight: 0 };
    this.allow = false;
    this.stream = null;
    this.video = null;
    this.params = { ...START };
    this.timer = null;
    /** The sight being sent, if any (see startSight). */
    this.run = null;
    this.urls = { glimpse: null, sight: null, sent: null };
    this.sending = false;
    /** The id of the glimpse shown from the partner, and of the last one I sent. */
    this.glimpseIn = null;
    this.glimpseOut = null;
    /** The JPEG of my glimpse on its way, until the server says it passed. */
    this.pending = null;
    /** The partner's ask for a glimpse waiting for my answer, and when it lapses. */
    this.ask = null;
    this.askTimer = null;
    /** When I asked for a glimpse, until one comes or the ask lapses. */
    this.askedTimer = null;
    const trace = (canvas, over) =>
      new TraceCanvas({
        canvas: el(canvas),
        over,
        sendFrame: sendTrace,
        canTrace,
      });
    this.traces = {
      glimpse: trace("glimpse-trace", () => (this.glimpseIn ? { glimpse: this.glimpseIn } : null)),
      sent: trace("glimpse-sent-trace", () => (this.glimpseOut ? { glimpse: this.glimpseOut } : null)),
      sight: trace("sight-trace", () => (this.bond() ? { sight: this.bond().partner } : null)),
      self: trace("sight-self-trace", () => (this.me() ? { sight: this.me() } : null)),
    };
  }

  /** Reads my consent from the server (each time the bond screen opens). */
  async load() {
    try {
      const { allow } = await this.call("GET", "/api/v1/me/camera");
      this.allow = allow;
    } catch {
      this.allow = false;
    }
    this.render();
    this.follow();
  }

  async setAllow(allow) {
    const res = await this.call("PUT", "/api/v1/me/camera", { allow });
    this.allow = res.allow;
    this.render();
    this.follow();
  }

  /** Whether the person said "always for this bond" to glimpses. */
  always() {
    const id = this.bond()?.id;
    return Boolean(id) && localStorage.getItem(`haurach.glimpse_always.${id}`) === "yes";
  }

  render() {
    const streaming = Boolean(this.run);
    this.el("banner-camera").hidden = !streaming;
    if (streaming) {
      const partner = this.bond()?.partner ?? "Your partner";
      this.el("banner-camera-text").textContent = `${partner} sees through your camera now.`;
    }
    const sw = this.el("camera-allow");
    sw.setAttribute("aria-checked", String(this.allow));
    const partner = this.bond()?.partner ?? "your partner";
    this.el("camera-state").textContent = this.allow
      ? `${partner} may glimpse and, within sight range, see through your camera.`
      : `Off: ${partner} cannot see through your camera.`;
    const b = this.bond();
    const glimpseOpen = Boolean(b?.tiers?.glimpse?.open);
    this.el("glimpse-ask").disabled = !glimpseOpen;
  }

  /** A tier opened or closed, or consent changed: start or stop the sight. */
  follow() {
    const open = Boolean(this.bond()?.tiers?.sight?.open);
    if (open && this.allow && this.canSend()) this.startSight();
    else this.stopSight();
    if (!open) {
      this.el("sight-view").hidden = true;
      this.traces.sight.clear();
      this.el("sight-status").textContent = "";
    }
    this.render();
  }

  askGlimpse() {
    const partner = this.bond()?.partner ?? "your partner";
    this.el("glimpse-status").textContent = `Asking ${partner}…`;
    this.link.send({ type: "glimpse_ask" });
    clearTimeout(this.askedTimer);
    this.askedTimer = setTimeout(() => {
      this.el("glimpse-status").textContent = `No glimpse came: ${partner} did not say yes.`;
    }, ASK_MS + 2000);
  }

  /** Whether a frame may leave this page: in the clear on a plain bond, sealed on a
   *  private one whose keys this device holds; never while it is not known which. */
  canSend() {
    return this.privacy() === "plain" || this.sealing() !== null;
  }

  /** The binary frame that carries `jpeg` as a `kind` ("glimpse" or "sight"): as it is on
   *  a plain bond, sealed on a private one; null when it may not leave this page. */
  async frame(kind, jpeg) {
    const privacy = await this.known();
    if (privacy === "plain") return framed(kind === "glimpse" ? GLIMPSE : SIGHT, jpeg);
    const s = this.sealing();
    if (privacy !== "private" || !s) return null;
    const sealed = await s.sealBytes(kind, jpeg);
    return framed(kind === "glimpse" ? SEALED_GLIMPSE : SEALED_SIGHT, sealed);
  }

  async ensureCamera() {
    if (this.stream) return true;
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    } catch (e) {
      this.el("camera-state").textContent = `The camera could not be opened: ${e.message}.`;
      return false;
    }
    this.video = document.createElement("video");
    this.video.muted = true;
    this.video.playsInline = true;
    this.video.srcObject = this.stream;
    await this.video.play();
    return true;
  }

  releaseCamera() {
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = null;
    this.video = null;
  }

  /** One frame of the camera, its longest side at most `side`, as JPEG no larger than
   *  `jpegBound(side)` (encoded from a canvas, so without metadata); null when even the
   *  lowest quality does not fit. */
  async grab(side) {
    const v = this.video;
    const scale = Math.min(1, side / Math.max(v.videoWidth, v.videoHeight));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.min(side, Math.round(v.videoWidth * scale)));
    canvas.height = Math.max(1, Math.min(side, Math.round(v.videoHeight * scale)));
    canvas.getContext("2d").drawImage(v, 0, 0, canvas.width, canvas.height);
    for (const quality of QUALITIES) {
      const jpeg = await encode(canvas, quality);
      if (jpeg.length <= jpegBound(side)) return jpeg;
    }
    return null;
  }

  /** The partner asked for a glimpse (the server only asks when I allowed it): ask the
   *  person, unless they said "always for this bond". */
  onAsked(f) {
    if (!this.allow) return;
    if (this.always()) {
      this.glimpse(f);
      return;
    }
    this.ask = f;
    this.el("glimpse-ask-title").textContent = f.on_sending
      ? `${f.by}'s picture reached you: may they glimpse you as you look at it?`
      : `${f.by} asks to glimpse through your camera.`;
    this.el("glimpse-always").checked = false;
    this.el("banner-glimpse-ask").hidden = false;
    clearTimeout(this.askTimer);
    this.askTimer = setTimeout(() => this.answer(false), ASK_MS);
  }

  /** The person's answer to the waiting ask. */
  answer(yes) {
    const f = this.ask;
    this.ask = null;
    clearTimeout(this.askTimer);
    this.el("banner-glimpse-ask").hidden = true;
    if (!f) return;
    if (yes && this.el("glimpse-always").checked && this.bond()?.id) {
      localStorage.setItem(`haurach.glimpse_always.${this.bond().id}`, "yes");
    }
    if (yes) this.glimpse(f);
    else this.el("camera-state").textContent = `${f.by} did not glimpse you.`;
  }

  /** Captures one frame for the ask `f` and sends it. */
  async glimpse(f) {
    if (!this.allow) return;
    const keep = Boolean(this.stream);
    if (!(await this.ensureCamera())) return;
    const jpeg = await this.grab(f.side);
    const out = jpeg && (await this.frame("glimpse", jpeg));
    if (!out) {
      this.el("camera-state").textContent = `No glimpse went to ${f.by}: this page could not send it.`;
      if (!keep && !this.run) this.releaseCamera();
      return;
    }
    this.pending = jpeg;
    this.link.sendBinary(out);
    this.el("camera-state").textContent = f.on_sending
      ? `${f.by} saw you as their picture reached you.`
      : `${f.by} glimpsed through your camera.`;
    if (!keep && !this.run) this.releaseCamera();
  }

  /** The glimpse I sent passed, under this id: show it, ready for my partner's strokes. */
  onGlimpseSent(f) {
    if (!this.pending) return;
    const url = URL.createObjectURL(new Blob([this.pending], { type: "image/jpeg" }));
    this.pending = null;
    if (this.urls.sent) URL.revokeObjectURL(this.urls.sent);
    this.urls.sent = url;
    this.glimpseOut = f.glimpse;
    this.traces.sent.clear();
    this.el("glimpse-sent-img").src = url;
    this.el("glimpse-sent").hidden = false;
  }

  /** Part of a stroke the partner drew over a glimpse or the sight. */
  onTrace(f) {
    let on = null;
    if (f.glimpse) {
      if (f.glimpse === this.glimpseIn) on = "glimpse";
      else if (f.glimpse === this.glimpseOut) on = "sent";
    } else if (f.sight) {
      on = f.sight === this.me() ? (this.run ? "self" : null) : "sight";
    }
    if (on) this.traces[on].add(f);
  }

  async startSight() {
    if (this.run || this.sending) return;
    this.sending = true;
    const ok = await this.ensureCamera();
    this.sending = false;
    if (this.run) return;
    // The tier may have closed, or the consent gone, while the camera opened.
    if (!ok || !this.allow || !this.bond()?.tiers?.sight?.open) {
      this.releaseCamera();
      return;
    }
    // This sight, until stopSight ends it: a tick of an earlier one (still taking its
    // frame when it was stopped) neither sends nor schedules another.
    const run = {};
    this.run = run;
    const self = this.el("sight-self-video");
    self.srcObject = this.stream;
    self.play().catch(() => {
      // Shown without playing (a browser that refuses): the sight still goes out.
    });
    this.el("sight-self").hidden = false;
    const tick = async () => {
      if (this.run !== run) return;
      let jpeg = null;
      try {
        jpeg = await this.grab(this.params.side);
      } catch {
        // A frame lost; the next one follows.
      }
      // Stopped while the frame was taken: it stays on this device.
      if (this.run !== run) return;
      const out = jpeg && (await this.frame("sight", jpeg).catch(() => null));
      if (this.run !== run) return;
      if (out) this.link.sendBinary(out);
      this.timer = setTimeout(tick, 1000 / this.params.fps);
    };
    this.timer = setTimeout(tick, 0);
    this.render();
  }

  stopSight() {
    clearTimeout(this.timer);
    this.timer = null;
    this.run = null;
    this.el("banner-camera").hidden = true;
    this.params = { ...START };
    this.releaseCamera();
    this.el("sight-out").textContent = "";
    this.el("sight-self").hidden = true;
    this.el("sight-self-video").srcObject = null;
    this.traces.self.clear();
  }

  /** The server says how my sight flows: follow what the bond allows. */
  onRate(f) {
    this.params = { fps: f.allowed_fps, side: f.side };
    const partner = this.bond()?.partner ?? "Your partner";
    this.el("sight-out").textContent =
      `${partner} sees you: ${f.delivered_fps.toFixed(1)} of ${f.sent_fps.toFixed(1)} frames a second ` +
      `(the bond allows ${f.allowed_fps.toFixed(1)} at ${f.side} pixels).`;
  }

  /** A camera frame from the partner. */
  onBinary(bytes) {
    const kind = bytes[0];
    if (kind === SEALED_GLIMPSE || kind === SEALED_SIGHT) {
      this.openSealed(kind === SEALED_GLIMPSE ? "glimpse" : "sight", bytes);
      return;
    }
    const which = kind === GLIMPSE ? "glimpse" : kind === SIGHT ? "sight" : null;
    if (!which) return;
    if (which === "glimpse") {
      this.show(which, bytes.subarray(1 + GLIMPSE_ID), bytes.subarray(1, 1 + GLIMPSE_ID));
    } else {
      this.show(which, bytes.subarray(1), null);
    }
  }

  /** A sealed frame from the partner (`0x03` + the glimpse's id + sealed bytes, or
   *  `0x04` + sealed bytes): opened here, and shown, or said to have been changed on the
   *  way, or sent again by the server (its counter opened here before: docs/privacy.md,
   *  "Replays"); one older than a frame shown is dropped. */
  async openSealed(which, bytes) {
    const s = this.sealing();
    if (!s) return;
    const order = ++this.arrived[which];
    const id = which === "glimpse" ? bytes.subarray(1, 1 + GLIMPSE_ID) : null;
    const sealed = bytes.subarray(which === "glimpse" ? 1 + GLIMPSE_ID : 1);
    const opened = await s.openBytes(which, sealed).catch(() => null);
    if (order < this.shownOrder[which] || this.sealing() !== s) return;
    if (opened?.verdict === "older") return;
    this.shownOrder[which] = order;
    if (opened?.verdict === "fresh" || opened?.verdict === "again") {
      this.show(which, opened.content, id);
      return;
    }
    const partner = this.bond()?.partner ?? "your partner";
    const why = opened ? "was sent before, and the server sent it again" : "was changed on the way";
    if (which === "glimpse") {
      clearTimeout(this.askedTimer);
      // The glimpse before it goes too: under these words it would read as the changed one.
      this.el("glimpse-view").hidden = true;
      this.traces.glimpse.clear();
      this.glimpseIn = null;
      this.el("glimpse-status").textContent = `A glimpse from ${partner} ${why}, so it is not shown.`;
    } else {
      this.el("sight-status").textContent = `A frame of ${partner}'s sight ${why}, so it is not shown.`;
    }
  }

  /** Shows a frame from the partner: a glimpse (with its id) or the sight. */
  show(which, jpeg, id) {
    if (which === "glimpse") {
      clearTimeout(this.askedTimer);
      // A new picture: the strokes over the last one do not belong on it.
      this.glimpseIn = uuid(id);
      this.traces.glimpse.clear();
    }
    const url = URL.createObjectURL(new Blob([jpeg], { type: "image/jpeg" }));
    const img = this.el(`${which}-img`);
    const old = this.urls[which];
    this.urls[which] = url;
    img.onload = () => {
      if (old) URL.revokeObjectURL(old);
      img.dataset.width = String(img.naturalWidth);
    };
    img.src = url;
    this.el(`${which}-view`).hidden = false;
    const partner = this.bond()?.partner ?? "your partner";
    if (which === "glimpse") {
      this.el("glimpse-status").textContent = `A glimpse through ${partner}'s eyes, blurred by the distance.`;
    } else {
      this.el("sight-status").textContent = `What ${partner} sees, live.`;
    }
  }

  /** The bond ended or the page logs out. */
  reset() {
    this.stopSight();
    this.answer(false);
    for (const which of ["glimpse", "sight", "sent"]) {
      if (this.urls[which]) URL.revokeObjectURL(this.urls[which]);
      this.urls[which] = null;
    }
    for (const id of ["glimpse-view", "sight-view", "glimpse-sent"]) this.el(id).hidden = true;
    for (const t of Object.values(this.traces)) t.clear();
    this.glimpseIn = null;
    this.glimpseOut = null;
    this.pending = null;
    this.arrived = { glimpse: 0, sight: 0 };
    this.shownOrder = { glimpse: 0, sight: 0 };
  }
}
