// Pictures between partners: sending one, and the gallery of the bond's pictures, each at
// the size the bond's strength allows. The server decides the size (the curve lives in
// crates/bond); this page only asks again when the bond grows stronger, and swaps a
// picture for the sharper one when the server allows more. A picture never shrinks: the
// server remembers the strongest moment since it was sent.
//
// Trace: a finger (or mouse) drawn over a picture sends the stroke to the partner, whose
// page draws it over the same picture in the same place (points are fractions of the
// picture's width and height), while the images tier is open (in a private bond `sendFrame`
// seals it: app.js's sendTrace).
//
// In a private bond (docs/privacy.md, "Sealed content") the server never holds a picture
// in the clear, so this page does what the server does for a plain bond: it draws the
// chosen picture to a canvas (which leaves its EXIF and every other metadata behind),
// encodes a JPEG at every rung of the ladder below its longest side and at that side
// itself, seals each (kind `picture`, all under one counter, with the picture's id and
// the rendition's side sealed inside: `haurach_proto::sealed_pictures`) and sends them
// in one request. What the server serves back is opened here, and one that does not open,
// or is not the picture and the side the server said, is said to have been changed on
// the way and not shown. Nothing goes while the page does not know whether the bond is
// private, nor in a private bond from a browser without its confirmed keys.

import { ApiError, session } from "./api.js";

/** How often, at most, the gallery asks the server whether pictures may sharpen. */
const REFRESH_MS = 1000;
/** Points of a stroke go out in batches this often. */
const TRACE_BATCH_MS = 50;
const SVG = "http://www.w3.org/2000/svg";

/** The rungs a picture is cut to (`haurach_bond::images::LADDER`). */
export const LADDER = [64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072];
/** The media type of a sealed upload (`haurach_proto::sealed_pictures::MEDIA_TYPE`). */
const SEALED_TYPE = "application/vnd.haurach.sealed-picture";
/** The kind bound into a sealed picture (`haurach_proto::sealed_pictures::PICTURE`). */
const PICTURE = "picture";
/** The most pixels and bytes the picture itself may have: the server's defaults for a
 *  plain bond's picture (`max_image_megapixels`, `max_image_bytes`); a larger picture is
 *  scaled down, or encoded at a lower quality, until it fits. */
const MAX_PIXELS = 40_000_000;
const MAX_BYTES = 20 * 1024 * 1024;
/** The qualities the picture itself is encoded at, in turn, until it fits MAX_BYTES;
 *  the smaller renditions take the first. */
const QUALITIES = [0.85, 0.7, 0.5, 0.3];

/** The longest sides of the renditions of a picture whose longest side is `longest`,
 *  smallest first (`haurach_proto::sealed_pictures::sides_for`). */
export function sidesFor(longest) {
  return [...LADDER.filter((rung) => rung < longest), longest];
}

async function jpeg(canvas, quality) {
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
  if (!blob) throw new Error("this browser could not encode the picture");
  return new Uint8Array(await blob.arrayBuffer());
}

/** The picture in `file`, upright, at each side of `sidesFor` its longest (at most
 *  MAX_PIXELS): `[{side, width, height, bytes}]`, each a JPEG drawn from a canvas, so
 *  without the file's metadata. */
export async function renditionsOf(file) {
  return drawn(file, sidesFor);
}

/** The picture in `file`, upright, at its own size (at most MAX_PIXELS), as a JPEG drawn
 *  from a canvas, so without the file's metadata: a journal photo sealed here. */
export async function strippedOf(file) {
  const [only] = await drawn(file, (longest) => [longest]);
  return only.bytes;
}

/** The picture in `file` drawn at each side `sides(longest)` gives. */
async function drawn(file, sides) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    throw new ApiError(0, { code: "unreadable_picture", detail: "this browser cannot read it as a picture" });
  }
  try {
    const scale = Math.min(1, Math.sqrt(MAX_PIXELS / (bitmap.width * bitmap.height)));
    const width = Math.max(1, Math.floor(bitmap.width * scale));
    const height = Math.max(1, Math.floor(bitmap.height * scale));
    const longest = Math.max(width, height);
    const out = [];
    for (const side of sides(longest)) {
      const w = side === longest ? width : Math.max(1, Math.round((width * side) / longest));
      const h = side === longest ? height : Math.max(1, Math.round((height * side) / longest));
      const canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      const ctx = canvas.getContext("2d");
      // A transparent picture on white, as JPEG has no transparency.
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, w, h);
      ctx.imageSmoothingQuality = "high";
      ctx.drawImage(bitmap, 0, 0, w, h);
      let bytes = null;
      for (const quality of side === longest ? QUALITIES : QUALITIES.slice(0, 1)) {
        bytes = await jpeg(canvas, quality);
        if (bytes.length <= MAX_BYTES) break;
      }
      if (bytes.length > MAX_BYTES) {
        throw new ApiError(0, { code: "image_too_large", detail: "it is too large to send, even at a low quality" });
      }
      out.push({ side, width: w, height: h, bytes });
    }
    return out;
  } finally {
    bitmap.close();
  }
}

const utf8 = new TextEncoder();

/** What a rendition of picture `id` holds before it is sealed
 *  (`haurach_proto::sealed_pictures::PictureContent::to_bytes`): the header's length (2
 *  bytes, big-endian), the header as JSON, then the JPEG. */
export function pictureContent(id, r) {
  const header = utf8.encode(JSON.stringify({ id, side: r.side, width: r.width, height: r.height, type: "image/jpeg" }));
  const out = new Uint8Array(2 + header.length + r.bytes.length);
  new DataView(out.buffer).setUint16(0, header.length);
  out.set(header, 2);
  out.set(r.bytes, 2 + header.length);
  return out;
}

/** A rendition's content read back, or null when it is not one: `{id, side, width,
 *  height, type, bytes}`. */
export function readContent(content) {
  if (content.length < 2) return null;
  const len = new DataView(content.buffer, content.byteOffset).getUint16(0);
  if (len > 1024 || content.length < 2 + len) return null;
  let header;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(content.subarray(2, 2 + len)));
  } catch {
    return null;
  }
  if (typeof header?.id !== "string" || !Number.isInteger(header.side) || !Number.isInteger(header.width) ||
      !Number.isInteger(header.height) || typeof header.type !== "string") {
    return null;
  }
  return { ...header, bytes: content.subarray(2 + len) };
}

/** The body of a sealed upload (`haurach_proto::sealed_pictures::write_upload`): each
 *  rendition's side (4 bytes, big-endian), its sealed length (4 bytes), its sealed bytes. */
export function uploadBody(sides, sealed) {
  const total = sealed.reduce((n, s) => n + 8 + s.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  sides.forEach((side, i) => {
    view.setUint32(at, side);
    view.setUint32(at + 4, sealed[i].length);
    out.set(sealed[i], at + 8);
    at += 8 + sealed[i].length;
  });
  return out;
}

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

/** Posts an upload's `body` as `type` to `path`: the stored image, or the problem. */
async function upload(path, type, body) {
  let res;
  try {
    res = await fetch(path, { method: "POST", headers: { ...auth(), "Content-Type": type }, body });
  } catch {
    throw new ApiError(0, {
      code: "offline",
      detail: "cannot reach the server: check your connection and try again",
    });
  }
  if (!res.ok) throw await problemOf(res);
  return res.json();
}

export class Pictures {
  /**
   * @param {object} o
   * @param {HTMLElement} o.gallery the list the pictures go in
   * @param {() => string|null} o.me the name of the person using the page
   * @param {(text: string) => void} o.onStatus a sentence about the last send
   * @param {(frame: object) => boolean} o.sendFrame sends a link frame
   * @param {() => boolean} o.canTrace whether the images tier is open
   * @param {() => Promise<string>} o.known whether the bond is `plain`, `private` or
   *   still `checking`, once known (a few seconds at most)
   * @param {() => object|null} o.sealing what this device seals and opens with, in a
   *   private bond whose keys it holds confirmed (`privatebond.Sealing`)
   */
  constructor({ gallery, me, onStatus, sendFrame, canTrace, known, sealing }) {
    this.known = known;
    this.sealing = sealing;
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
      // A private bond's pictures are sealed: shown once this browser can open them.
      for (const image of images) if (!image.sealed || this.sealing()) await this.show(image);
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
    // Not opened here without the keys (the card is hidden then).
    if (image.sealed && !this.sealing()) return;
    const res = await fetch(image.picture, { headers: auth(), cache: "no-store" });
    if (!res.ok) return;
    const side = Number(res.headers.get("haurach-side")) || image.side;
    let blob = await res.blob();
    const mine = image.from === this.me();
    const who = mine ? "You" : image.from;
    if (image.sealed) {
      const opened = await this.open(image, side, mine, new Uint8Array(await blob.arrayBuffer()));
      if (!opened) {
        // Nothing of it is shown, not even a smaller copy that opened before: under these
        // words it would read as the changed one. A larger copy served later is tried.
        entry.side = side;
        if (entry.url) URL.revokeObjectURL(entry.url);
        entry.url = null;
        entry.img.removeAttribute("src");
        entry.figure.querySelector(".picture-frame").hidden = true;
        entry.figure.dataset.changed = "true";
        entry.caption.textContent = `${who} · changed on the way, so it is not shown`;
        this.onStatus(`A picture from ${mine ? "you" : image.from} was changed on the way, so it is not shown.`);
        return;
      }
      blob = new Blob([opened.bytes], { type: opened.type });
      entry.img.width = opened.width;
      entry.img.height = opened.height;
      entry.figure.querySelector(".picture-frame").hidden = false;
      delete entry.figure.dataset.changed;
    }
    const url = URL.createObjectURL(blob);
    if (entry.url) URL.revokeObjectURL(entry.url);
    Object.assign(entry, { side, url });
    entry.img.src = url;
    entry.img.dataset.side = String(side);
    const full = Math.max(image.width, image.height);
    entry.caption.textContent =
      side >= full
        ? `${who} · full size`
        : `${who} · ${side} of ${full} pixels: sharper as you come closer`;
    entry.figure.dataset.sharp = String(side >= full);
  }

  /** Opens the sealed rendition `bytes` of `image` that the server said is `side` pixels
   *  on its longest side: its content, or null when it does not open, or opens as
   *  another picture or another side than the server said (a server that passes a small
   *  rung off as a large one, or one picture as another, is caught so). */
  async open(image, side, mine, bytes) {
    const s = this.sealing();
    if (!s) return null;
    const content = await s.openAny(mine, PICTURE, bytes);
    const opened = content && readContent(content);
    if (!opened || opened.id !== image.client_id || opened.side !== side) return null;
    return opened;
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

  /** Sends a picture file (sealed on a private bond); resolves when it is stored
   *  (throws ApiError otherwise). */
  async send(file) {
    const id = crypto.getRandomValues(new Uint32Array(4)).join("-");
    const privacy = await this.known();
    if (privacy !== "plain") return this.sendSealed(file, id, privacy);
    const image = await upload(`/api/v1/bond/images?id=${id}`, file.type || "application/octet-stream", file);
    this.onStatus(`Sent ${file.name}; the server kept none of its metadata (no location).`);
    await this.show(image);
    return image;
  }

  /** Sends a picture in a private bond: its renditions made and sealed here, only they
   *  sent. Nothing is sent while the page does not know the bond is private, or holds no
   *  confirmed keys for it. */
  async sendSealed(file, id, privacy) {
    const s = this.sealing();
    if (privacy !== "private" || !s) {
      throw new ApiError(0, {
        code: "cannot_seal",
        detail:
          privacy === "private"
            ? "this browser cannot seal it without the bond's confirmed keys"
            : "this page does not know yet whether your bond is private; try again in a moment",
      });
    }
    const renditions = await renditionsOf(file);
    const sealed = await s.sealAll(PICTURE, renditions.map((r) => pictureContent(id, r)));
    // Sealed at the moment the keys changed (the bond ended): not sent.
    if (this.sealing() !== s) throw new ApiError(0, { code: "cannot_seal", detail: "the bond changed while it was sealed" });
    const body = uploadBody(
      renditions.map((r) => r.side),
      sealed,
    );
    const image = await upload(`/api/v1/bond/images/sealed?id=${id}`, SEALED_TYPE, body);
    this.onStatus(`Sent ${file.name}, sealed on this device without its metadata (no location): the server cannot see it.`);
    await this.show(image);
    return image;
  }
}
