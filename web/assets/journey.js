// The journey drawn: the distance to the partner over time as the pull showed it, with
// each tier's range as a band behind it and a mark where each tier opened. The same
// picture as `haurach replay --svg` (crates/cli/src/chart.rs).
//
// On a plain bond it comes from the server (`GET /api/v1/me/journey`, worked out from
// both partners' stored fixes), so every device of the person draws the same chart;
// beyond sight range its distances are the coarse ones: the picture shows what the
// person was told, nothing more. Live `pull` frames add points between two reads. The
// same answer carries the person's own track, which the map draws.
//
// On a private bond the server has no position to work it out from, and must not be
// given one: the page keeps the journey itself, in this browser's IndexedDB
// (`haurach-journey`, one record per person and bond), from what it already knows: the
// distance of each pull it worked out from the partner's opened sealed position, the
// tiers it saw open, and its own fixes. Nothing of it is sent anywhere. It is bounded
// (`KEEP_MS`, `MAX_SAMPLES`, `MAX_TRACK`, `MAX_OPENINGS`: the oldest go first) and
// deleted when the bond ends.

import { call } from "./api.js";
import * as fmt from "./format.js";

const NS = "http://www.w3.org/2000/svg";
const W = 880, H = 400, LEFT = 64, RIGHT = 130, TOP = 20, BOTTOM = 44;
/** How often the chart is read again while the page is open. */
const REFRESH_MS = 60_000;
const ORDER = ["pull", "alarm", "feelings", "voice", "thoughts", "images", "glimpse", "sight", "memories"];

/** A private bond's journey on the device keeps the last day, the span a plain bond's
 *  chart shows (`GET /api/v1/me/journey` without `from`)... */
export const KEEP_MS = 24 * 3600 * 1000;
/** ...and at most as many distances and track points as the server's answer holds
 *  (`CHART_SHOWN`, `TRACK_SHOWN`), the oldest dropped first: about half a megabyte
 *  when full. */
export const MAX_SAMPLES = 2000;
export const MAX_TRACK = 5000;
export const MAX_OPENINGS = 500;
/** A fix joins the track when it is this far from the last point kept, or this long
 *  after it: a still phone's jitter does not fill the record. */
const TRACK_STEP_M = 10;
const TRACK_EVERY_MS = 5 * 60_000;

const DB = "haurach-journey";
const STORE = "journeys";

export class Journey {
  /** @param {SVGElement} svg @param {HTMLElement} empty @param {(fixes: object[]) => void} onTrack */
  constructor(svg, empty, onTrack = () => {}) {
    this.svg = svg;
    this.empty = empty;
    this.onTrack = onTrack;
    this.bond = null;
    this.data = { samples: [], openings: [] };
    this.timer = null;
    /** Where the journey comes from: `server` (a plain bond), `device` (a private bond
     *  whose keys are confirmed: this browser's record), or `none` (not known yet, or a
     *  private bond this browser cannot open): nothing is read or recorded. */
    this.source = "none";
    /** The device's record while `source` is `device`: `{key, samples, openings, track}`. */
    this.record = null;
    this.saving = Promise.resolve();
    /** My latest fix and when it came, `{p, now}`. */
    this.lastFix = null;
  }

  /** The bond on screen: its ranges. Its journey comes once `source` says from where. */
  enter(bond) {
    const again = this.bond?.id === bond.id;
    this.bond = bond;
    // The chart used to be kept in this browser's localStorage: the server has it now.
    localStorage.removeItem(`haurach.journey.${bond.id}`);
    if (!again) {
      this.data = { samples: [], openings: [] };
      this.record = null;
      this.source = "none";
      clearInterval(this.timer);
    }
    this.render();
    if (this.source === "server") this.refresh();
  }

  /**
   * Where the journey of the bond on screen comes from, told by the page whenever what
   * it knows of the bond's privacy may have changed: `server`, `device` (with `who`, the
   * person), or `none`. A private bond's journey is never asked of the server: it has
   * none, and the page must not make it look as if it had.
   */
  from(source, who = null) {
    if (!this.bond) return;
    const key = source === "device" ? `${String(who).toLowerCase()}:${this.bond.id}` : null;
    if (source === this.source && (source !== "device" || this.record?.key === key)) return;
    this.source = source;
    clearInterval(this.timer);
    this.data = { samples: [], openings: [] };
    this.record = null;
    if (source === "server") {
      this.refresh();
      this.timer = setInterval(() => this.refresh(), REFRESH_MS);
    } else if (source === "device") {
      this.loadRecord(key);
    }
    this.onTrack([]);
    this.render();
  }

  /** The bond ended: its record on this device goes too (a private bond's journey is
   *  the partners' business while it lasts, no longer). */
  leave() {
    const key = this.record?.key;
    this.bond = null;
    this.source = "none";
    this.record = null;
    clearInterval(this.timer);
    this.data = { samples: [], openings: [] };
    this.onTrack([]);
    this.render();
    if (key) this.saving = this.saving.then(() => withStore("readwrite", (s) => s.delete(key))).catch(() => {});
  }

  /** Reads the journey from the server (a plain bond); what it says replaces what this
   *  page added. */
  async refresh() {
    const bond = this.bond;
    if (!bond || this.source !== "server") return;
    try {
      const j = await call("GET", "/api/v1/me/journey");
      if (this.bond !== bond || this.source !== "server") return;
      this.data = {
        samples: j.distances.map((d) => [Date.parse(d.at), d.distance_m]),
        openings: j.openings.map((o) => [Date.parse(o.at), o.distance_m, o.tier]),
      };
      this.onTrack(j.fixes);
      this.render();
    } catch {
      // Offline: the chart stays as it was; the next read brings it up to date.
    }
  }

  /** A live pull: drawn at once (until the next read from the server, or kept on the
   *  device on a private bond). */
  addPull(distanceM, now = Date.now()) {
    if (!this.bond || !Number.isFinite(distanceM) || this.source === "none") return;
    const last = this.data.samples.at(-1);
    if (last && last[1] === distanceM) return;
    this.data.samples.push([now, distanceM]);
    this.keep();
    this.render();
  }

  onTier(f, now = Date.now()) {
    if (!this.bond || !f.open || this.source === "none") return;
    const last = this.data.samples.at(-1);
    // On the device a tier may open before the partner's position says how far they
    // are (it is still rough): the mark then goes at the first distance known after it.
    if (!last && this.source !== "device") return;
    this.data.openings.push([now, last?.[1] ?? null, f.tier]);
    this.keep();
    this.render();
  }

  /** My own fix on a private bond: it joins the track this device keeps (a plain bond's
   *  track comes from the server). */
  ownFix(p, now = Date.now()) {
    // The latest, kept for when the record has been read (a page opens with a fix).
    this.lastFix = p ? { p, now } : null;
    if (this.source !== "device" || !this.record || !p) return;
    const track = this.record.track;
    const last = track.at(-1);
    if (last && roughMetres(last, p) < TRACK_STEP_M && now - Date.parse(last.at) < TRACK_EVERY_MS) return;
    track.push({ at: new Date(now).toISOString(), lat: p.lat, lon: p.lon });
    this.keep();
    this.onTrack(track);
  }

  /** Opens this device's record (an empty one when there is none) and draws it. */
  async loadRecord(key) {
    let kept = null;
    try {
      kept = await withStore("readonly", (s) => s.get(key));
    } catch {
      // No IndexedDB (a private window may refuse it): the record lives in memory only.
    }
    if (this.source !== "device" || this.record) return;
    const record = kept ?? { key, samples: [], openings: [], track: [] };
    // What came while it was being read (a pull, a fix) goes after what was kept.
    record.samples.push(...this.data.samples.filter(([t]) => t > (record.samples.at(-1)?.[0] ?? -Infinity)));
    record.openings.push(...this.data.openings.filter(([t]) => t > (record.openings.at(-1)?.[0] ?? -Infinity)));
    this.record = record;
    this.data = { samples: record.samples, openings: record.openings };
    bound(record);
    this.onTrack(record.track);
    this.render();
    if (this.lastFix) this.ownFix(this.lastFix.p, this.lastFix.now);
  }

  /** Writes the device's record down (bounded first), one write after another. */
  keep() {
    const record = this.record;
    if (this.source !== "device" || !record) return;
    bound(record);
    const copy = structuredClone(record);
    this.saving = this.saving.then(() => withStore("readwrite", (s) => s.put(copy))).catch(() => {});
  }

  render() {
    const svg = this.svg;
    svg.replaceChildren();
    const samples = this.data.samples;
    const shown = this.bond && samples.length >= 2;
    this.empty.hidden = shown;
    svg.toggleAttribute("hidden", !shown);
    if (!shown) return;
    const el = (name, attrs, text) => {
      const e = document.createElementNS(NS, name);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
      if (text !== undefined) e.textContent = text;
      svg.append(e);
      return e;
    };
    const t0 = samples[0][0];
    const t1 = Math.max(samples.at(-1)[0], t0 + 1000);
    const dMax = Math.max(...samples.map((s) => s[1]));
    const ranged = ORDER.map((t) => [t, this.bond.tiers[t]?.range_m])
      .filter(([, r]) => r != null && Number.isFinite(r));
    const topRange = Math.max(0, ...ranged.map(([, r]) => r));
    const yMax = Math.max(Math.max(dMax, Math.min(topRange, dMax * 1.5)) * 1.05, 100);
    const pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
    const x = (t) => LEFT + ((t - t0) / (t1 - t0)) * pw;
    const y = (d) => TOP + ph - (Math.min(Math.max(d, 0), yMax) / yMax) * ph;

    let nextLabel = TOP;
    ranged.forEach(([tier, range], i) => {
      const below = ranged[i + 1]?.[1] ?? 0;
      const ya = y(range), yb = y(below);
      if (ya >= TOP + ph || range <= below) return;
      el("rect", { x: LEFT, y: ya, width: pw, height: Math.max(yb - ya, 0), class: "band", "fill-opacity": (0.05 + 0.07 * i).toFixed(2) });
      const ly = Math.min(Math.max(ya + 11, nextLabel + 13), TOP + ph + 4);
      nextLabel = ly;
      el("text", { x: LEFT + pw + 6, y: ly, class: "band-label" }, `${fmt.TIER_NAMES[tier] ?? tier} ≤ ${fmt.distance(range)}`);
    });
    el("line", { x1: LEFT, x2: LEFT, y1: TOP, y2: TOP + ph, class: "axis" });
    el("line", { x1: LEFT, x2: LEFT + pw, y1: TOP + ph, y2: TOP + ph, class: "axis" });
    for (const frac of [0, 0.25, 0.5, 0.75, 1]) {
      el("text", { x: LEFT - 6, y: y(yMax * frac) + 4, "text-anchor": "end", class: "tick" }, fmt.distance(yMax * frac));
      const t = t0 + (t1 - t0) * frac;
      el("text", { x: x(t), y: TOP + ph + 18, "text-anchor": "middle", class: "tick" }, fmt.clock(new Date(t)));
    }
    el("polyline", {
      class: "distance",
      fill: "none",
      points: samples.map(([t, d]) => `${x(t).toFixed(1)},${y(d).toFixed(1)}`).join(" "),
    });
    const placed = [];
    let drawn = 0;
    for (const [at, distance, tier] of this.data.openings) {
      let t = at, d = distance;
      if (d == null) {
        const next = samples.find(([st]) => st >= at) ?? samples.at(-1);
        [t, d] = [Math.max(at, t0), next[1]];
      } else if (t < t0) continue;
      drawn += 1;
      const cx = x(t), cy = y(d);
      const text = `${fmt.TIER_NAMES[tier] ?? tier} opened`;
      const width = 7 * text.length;
      const before = cx + 8 + width > LEFT + pw;
      const x0 = before ? cx - 8 - width : cx + 8;
      let ly = cy - 8;
      while (placed.some(([a, b, py]) => x0 < b && a < x0 + width && Math.abs(ly - py) < 14)) ly -= 14;
      placed.push([x0, x0 + width, ly]);
      el("circle", { cx, cy, r: 4.5, class: "opening" });
      el("text", { x: x0, y: ly, class: "opening-label" }, text);
    }
    svg.setAttribute("aria-label",
      `The distance to ${this.bond.partner} since ${fmt.clock(new Date(t0))}: now ${fmt.distance(samples.at(-1)[1])}, ` +
      `${drawn} tiers opened on the way.`);
  }
}

/** Drops from a device's record what is older than `KEEP_MS` and what is beyond the
 *  caps, oldest first; in place. */
export function bound(record, now = Date.now()) {
  const cut = (list, max, at) => {
    let drop = 0;
    while (drop < list.length && at(list[drop]) < now - KEEP_MS) drop += 1;
    drop = Math.max(drop, list.length - max);
    if (drop > 0) list.splice(0, drop);
  };
  cut(record.samples, MAX_SAMPLES, (s) => s[0]);
  cut(record.openings, MAX_OPENINGS, (o) => o[0]);
  cut(record.track, MAX_TRACK, (f) => Date.parse(f.at));
}

/** Metres between two nearby points, flat: enough to tell a step from a phone's jitter. */
function roughMetres(a, b) {
  const k = Math.PI / 180;
  const x = (b.lon - a.lon) * k * Math.cos(((a.lat + b.lat) / 2) * k);
  const y = (b.lat - a.lat) * k;
  return Math.hypot(x, y) * 6_371_000;
}

function withStore(mode, act) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "key" });
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      const tx = db.transaction(STORE, mode);
      const r = act(tx.objectStore(STORE));
      tx.oncomplete = () => {
        db.close();
        resolve(r?.result);
      };
      tx.onerror = tx.onabort = () => {
        db.close();
        reject(tx.error);
      };
    };
  });
}
