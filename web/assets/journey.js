// The journey drawn: the distance to the partner over time as the pull showed it, with
// each tier's range as a band behind it and a mark where each tier opened. The same
// picture as `haurach replay --svg` (crates/cli/src/chart.rs). It comes from the server
// (`GET /api/v1/me/journey`, worked out from both partners' stored fixes), so every
// device of the person draws the same chart; beyond sight range its distances are the
// coarse ones: the picture shows what the person was told, nothing more. Live `pull`
// frames add points between two reads. The same answer carries the person's own track,
// which the map draws.

import { call } from "./api.js";
import * as fmt from "./format.js";

const NS = "http://www.w3.org/2000/svg";
const W = 880, H = 400, LEFT = 64, RIGHT = 130, TOP = 20, BOTTOM = 44;
/** How often the chart is read again while the page is open. */
const REFRESH_MS = 60_000;
const ORDER = ["pull", "alarm", "feelings", "voice", "thoughts", "images", "glimpse", "sight", "memories"];

export class Journey {
  /** @param {SVGElement} svg @param {HTMLElement} empty @param {(fixes: object[]) => void} onTrack */
  constructor(svg, empty, onTrack = () => {}) {
    this.svg = svg;
    this.empty = empty;
    this.onTrack = onTrack;
    this.bond = null;
    this.data = { samples: [], openings: [] };
    this.timer = null;
  }

  /** The bond on screen: its ranges, and its journey as the server has it. */
  enter(bond) {
    const again = this.bond?.id === bond.id;
    this.bond = bond;
    // The chart used to be kept in this browser: the server has it now.
    localStorage.removeItem(`haurach.journey.${bond.id}`);
    if (!again) this.data = { samples: [], openings: [] };
    this.render();
    this.refresh();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  leave() {
    this.bond = null;
    clearInterval(this.timer);
    this.data = { samples: [], openings: [] };
    this.onTrack([]);
    this.render();
  }

  /** Reads the journey from the server; what it says replaces what this page added. */
  async refresh() {
    const bond = this.bond;
    if (!bond) return;
    try {
      const j = await call("GET", "/api/v1/me/journey");
      if (this.bond !== bond) return;
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

  /** A live pull: drawn at once, until the next read from the server. */
  addPull(distanceM, now = Date.now()) {
    if (!this.bond || !Number.isFinite(distanceM)) return;
    const last = this.data.samples.at(-1);
    if (last && last[1] === distanceM) return;
    this.data.samples.push([now, distanceM]);
    this.render();
  }

  onTier(f, now = Date.now()) {
    if (!this.bond || !f.open) return;
    const last = this.data.samples.at(-1);
    if (!last) return;
    this.data.openings.push([now, last[1], f.tier]);
    this.render();
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
    for (const [t, d, tier] of this.data.openings) {
      if (t < t0) continue;
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
      `${this.data.openings.filter(([t]) => t >= t0).length} tiers opened on the way.`);
  }
}
