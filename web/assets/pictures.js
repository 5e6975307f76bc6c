// Pictures between partners: sending one, and the gallery of the bond's pictures, each at
// the size the bond's strength allows. The server decides the size (the curve lives in
// crates/bond); this page only asks again when the bond grows stronger, and swaps a
// picture for the sharper one when the server allows more. A picture never shrinks: the
// server remembers the strongest moment since it was sent.
//
// Trace: a finger (or mouse) drawn over a picture sends the stroke to the partner, whose
// page draws it over the same picture in the same place (points are fractions of the
// picture's width and height), while the images tier is open.

import { ApiError, session } from "./api.js";

/** How often, at most, the gallery asks the server whether pictures may sharpen. */
const REFRESH_MS = 1000;
/** Points of a stroke go out in batches this often. */
const TRACE_BATCH_MS = 50;
const SVG = "http://www.w3.org/2000/svg";

async function problemOf(res) {
  let json = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  return new ApiError(res.status, json || { detail: `the server answered ${res.status}` });
}

function auth() {
  const token = session.token;
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export class Pictures {
  /**
   * @param {object} o
   * @param {HTMLElement} o.gallery the list the pictures go in
   * @param {() => string|null} o.me the name of the person using the page
   * @param {(text: string) => void} o.onStatus a sentence about the last send
   * @param {(frame: object) => boolean} o.sendFrame sends a link frame
   * @param {() => boolean} o.canTrace whether the images tier is open
   */
  constructor({ gallery, me, onStatus, sendFrame, canTrace }) {
    this.gallery = gallery;
    this.me = me;
    this.onStatus = onStatus;
    this.sendFrame = sendFrame;
    this.canTrace = canTrace;
    this.strokeNo = 0;
    /** "from:stroke" → the polyline being drawn */
    this.lines = new Map();
    /** image id → {figure, img, side, url} */
    this.shown = new Map();
    this.strength = 0;
    this.timer = null;
    this.busy = false;
    this.again = false;
  }

  /** Forgets every picture (a new bond, or none). */
  reset() {
    for (const { url } of this.shown.values()) if (url) URL.revokeObjectURL(url);
    this.shown.clear();
    this.gallery.replaceChildren();
    this.strength = 0;
  }

  /** The bond's strength moved: pictures may sharpen (never the other way). */
  onStrength(strength) {
    if (!(strength > this.strength)) return;
    this.strength = strength;
    this.soon();
  }

  /** A message arrived; an image message means a new picture. */
  onMessage(m) {
    if (m.kind === "image") this.soon();
  }

  /** Refreshes within REFRESH_MS, once however many reasons came meanwhile. */
  soon() {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.refresh();
    }, this.shown.size === 0 ? 0 : REFRESH_MS);
  }

  /** Asks which pictures there are and how large each may be now; fetches what grew. */
  async refresh() {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      const res = await fetch("/api/v1/bond/images", { headers: auth(), cache: "no-store" });
      if (!res.ok) return;
      const { images } = await res.json();
      // A private bond's pictures are sealed, and this page cannot open them yet (the
      // CLI does): none is shown rather than a broken one.
      for (const image of images) if (!image.sealed) await this.show(image);
    } catch {
      // Offline: the next strength change or message tries again.
    } finally {
      this.busy = false;
      if (this.again) {
        this.again = false;
        this.soon();
      }
    }
  }

  async show(image) {
    let entry = this.shown.get(image.id);
    if (!entry) {
      const figure = document.createElement("figure");
      figure.className = "picture";
      figure.dataset.id = image.id;
      const img = document.createElement("img");
      img.alt = `A picture from ${image.from === this.me() ? "you" : image.from}`;
      img.width = image.width;
      img.height = image.height;
      img.decoding = "async";
      const caption = document.createElement("figcaption");
      const frame = document.createElement("div");
      frame.className = "picture-frame";
      const svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("class", "trace");
      svg.setAttribute("viewBox", "0 0 1 1");
      svg.setAttribute("preserveAspectRatio", "none");
      svg.setAttribute("aria-hidden", "true");
      frame.append(img, svg);
      figure.append(frame, caption);
      this.gallery.prepend(figure);
      entry = { figure, img, caption, svg, side: 0, url: null };
      this.shown.set(image.id, entry);
      this.drawable(image.id, svg);
    }
    if (image.side <= entry.side) return;
    const res = await fetch(image.picture, { headers: auth(), cache: "no-store" });
    if (!res.ok) return;
    const side = Number(res.headers.get("haurach-side")) || image.side;
    const url = URL.createObjectURL(await res.blob());
    if (entry.url) URL.revokeObjectURL(entry.url);
    Object.assign(entry, { side, url });
    entry.img.src = url;
    entry.img.dataset.side = String(side);
    const full = Math.max(image.width, image.height);
    const who = image.from === this.me() ? "You" : image.from;
    entry.caption.textContent =
      side >= full
        ? `${who} · full size`
        : `${who} · ${side} of ${full} pixels: sharper as you come closer`;
    entry.figure.dataset.sharp = String(side >= full);
  }

  /** Lets the person draw over a picture; each stroke goes to the partner as it is drawn. */
  drawable(id, svg) {
    let stroke = null;
    const at = (ev) => {
      const r = svg.getBoundingClientRect();
      const clamp = (v) => Math.min(1, Math.max(0, v));
      return [clamp((ev.clientX - r.left) / r.width), clamp((ev.clientY - r.top) / r.height)];
    };
    const flush = (end) => {
      if (!stroke) return;
      if (stroke.pending.length || end) {
        this.sendFrame({ type: "trace", image: id, stroke: stroke.no, points: stroke.pending, end });
        stroke.pending = [];
      }
      if (end) {
        clearInterval(stroke.timer);
        stroke = null;
      }
    };
    svg.addEventListener("pointerdown", (ev) => {
      if (!this.canTrace()) return;
      ev.preventDefault();
      try {
        svg.setPointerCapture(ev.pointerId);
      } catch {
        // A pointer the browser no longer tracks: the stroke still draws.
      }
      this.strokeNo += 1;
      const line = this.line(svg, "mine");
      stroke = { no: this.strokeNo, line, pending: [], timer: setInterval(() => flush(false), TRACE_BATCH_MS) };
      const p = at(ev);
      stroke.pending.push(p);
      this.extend(line, [p]);
    });
    svg.addEventListener("pointermove", (ev) => {
      if (!stroke) return;
      const p = at(ev);
      stroke.pending.push(p);
      this.extend(stroke.line, [p]);
    });
    for (const type of ["pointerup", "pointercancel"]) svg.addEventListener(type, () => flush(true));
  }

  line(svg, whose) {
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("class", `stroke stroke-${whose}`);
    line.setAttribute("points", "");
    svg.append(line);
    return line;
  }

  extend(line, points) {
    const more = points.map(([x, y]) => `${x.toFixed(4)},${y.toFixed(4)}`).join(" ");
    const now = line.getAttribute("points");
    line.setAttribute("points", now ? `${now} ${more}` : more);
  }

  /** Part of a stroke the partner drew: drawn over the same picture, in place. */
  onTrace(f) {
    const entry = this.shown.get(f.image);
    if (!entry) return;
    const key = `${f.from}:${f.stroke}`;
    let line = this.lines.get(key);
    if (!line) {
      line = this.line(entry.svg, "theirs");
      line.dataset.from = f.from;
      this.lines.set(key, line);
    }
    this.extend(line, f.points);
    if (f.end) this.lines.delete(key);
  }

  /** Sends a picture file; resolves when it is stored (throws ApiError otherwise). */
  async send(file) {
    const id = crypto.getRandomValues(new Uint32Array(4)).join("-");
    let res;
    try {
      res = await fetch(`/api/v1/bond/images?id=${id}`, {
        method: "POST",
        headers: { ...auth(), "Content-Type": file.type || "application/octet-stream" },
        body: file,
      });
    } catch {
      throw new ApiError(0, {
        code: "offline",
        detail: "cannot reach the server: check your connection and try again",
      });
    }
    if (!res.ok) throw await problemOf(res);
    const image = await res.json();
    this.onStatus(`Sent ${file.name}; the server kept none of its metadata (no location).`);
    await this.show(image);
    return image;
  }
}
