// The radar: you at the centre, your partner where the pull says, an arrow toward them,
// rings labelled with distances, north marked. It turns with the device's heading when
// there is one. A click on it asks to move you to that point (for desktops without GPS).

import { distance } from "./format.js";

const NS = "http://www.w3.org/2000/svg";
const R = 100;
// Outer ring distances, metres: the smallest that holds the partner with some margin.
const SCALES = [
  30, 50, 100, 150, 200, 300, 500, 1e3, 1.5e3, 2e3, 3e3, 5e3, 1e4, 1.5e4, 2e4, 3e4, 5e4, 1e5,
  1.5e5, 2e5, 3e5, 5e5, 1e6, 1.5e6, 2e6, 3e6, 5e6, 1e7, 2.1e7,
];

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function polar(angleDeg, r) {
  const a = (angleDeg * Math.PI) / 180;
  return [r * Math.sin(a), -r * Math.cos(a)];
}

export class Radar {
  /** `onPick(bearingDeg, distanceM)` is called when a point is clicked. */
  constructor(svg, onPick) {
    this.svg = svg;
    this.title = svg.querySelector("title");
    this.scale = 2e4;
    this.heading = 0;
    svg.addEventListener("click", (ev) => {
      const ctm = svg.getScreenCTM();
      if (!ctm) return;
      const p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(ctm.inverse());
      const r = Math.hypot(p.x, p.y);
      if (r > R) return;
      const bearing = (Math.atan2(p.x, -p.y) * 180) / Math.PI + this.heading;
      onPick(((bearing % 360) + 360) % 360, (r / R) * this.scale);
    });
  }

  /**
   * @param {object} s
   * @param {object|null} s.pull the pull ({bearing_deg, distance_m, exact})
   * @param {number} s.heading degrees the top of the radar points to (0: north up)
   * @param {string} s.partner the partner's name
   * @param {{tier: string, range: number}|null} s.ring the next tier's range, drawn dashed
   * @param {string} s.label the text alternative
   */
  render(s) {
    const svg = this.svg;
    this.heading = s.heading;
    const d = s.pull ? s.pull.distance_m : null;
    this.scale = d === null ? this.scale : SCALES.find((x) => x >= d * 1.25) ?? SCALES.at(-1);
    for (const child of [...svg.childNodes]) if (child !== this.title) child.remove();
    this.title.textContent = s.label;

    svg.append(el("circle", { class: "radar-bg", r: R }));
    for (const f of [1 / 3, 2 / 3, 1]) {
      svg.append(el("circle", { class: "radar-ring", r: R * f }));
    }
    for (let a = 0; a < 360; a += 30) {
      const [x1, y1] = polar(a - s.heading, R - 4);
      const [x2, y2] = polar(a - s.heading, R);
      svg.append(el("line", { class: "radar-tick", x1, y1, x2, y2 }));
    }
    // The rings' distances, just inside them at the bottom.
    for (const f of [1 / 3, 2 / 3, 1]) {
      svg.append(
        el("text", { class: "radar-label", x: 0, y: R * f - 3, "text-anchor": "middle" },
          distance(this.scale * f)),
      );
    }
    if (s.ring && s.ring.range <= this.scale) {
      const r = (s.ring.range / this.scale) * R;
      svg.append(el("circle", { class: "radar-next", r }));
      const [x, y] = polar(-45, r);
      svg.append(el("text", { class: "radar-next-label", x: x - 3, y: y - 3, "text-anchor": "end" }, s.ring.tier));
    }
    // North.
    const [nx, ny] = polar(-s.heading, R - 13);
    svg.append(el("text", { class: "radar-north", x: nx, y: ny + 4, "text-anchor": "middle" }, "N"));

    svg.append(el("circle", { class: "radar-me", r: 5 }));
    if (s.pull) {
      const rel = s.pull.bearing_deg - s.heading;
      const r = Math.min(R - 6, (s.pull.distance_m / this.scale) * R);
      const g = el("g", { class: "radar-arrow", transform: `rotate(${rel})` });
      g.append(el("line", { x1: 0, y1: -7, x2: 0, y2: -Math.max(18, r - 9) }));
      g.append(el("path", { d: `M0 ${-Math.max(26, r - 3)} l-7 12 h14 z` }));
      svg.append(g);
      const [px, py] = polar(rel, r);
      svg.append(el("circle", { class: "radar-partner", cx: px, cy: py, r: 7 }));
      svg.append(
        el("text", { class: "radar-partner-label", x: px, y: py + 3.5, "text-anchor": "middle" },
          (s.partner || "?").charAt(0).toUpperCase()),
      );
    } else {
      svg.append(el("text", { class: "radar-unknown", x: 0, y: -30, "text-anchor": "middle" }, "?"));
    }
  }
}

/** The point `distanceM` from (lat, lon) along `bearingDeg` on a sphere; good enough for
 *  a click on the radar (the server measures on the ellipsoid). */
export function destination(lat, lon, bearingDeg, distanceM) {
  const rad = Math.PI / 180;
  const delta = distanceM / 6371008.8;
  const th = bearingDeg * rad;
  const p1 = lat * rad;
  const l1 = lon * rad;
  const p2 = Math.asin(
    Math.sin(p1) * Math.cos(delta) + Math.cos(p1) * Math.sin(delta) * Math.cos(th),
  );
  const l2 =
    l1 +
    Math.atan2(
      Math.sin(th) * Math.sin(delta) * Math.cos(p1),
      Math.cos(delta) - Math.sin(p1) * Math.sin(p2),
    );
  let lonOut = ((l2 / rad + 540) % 360) - 180;
  if (lonOut === -180) lonOut = 180;
  return { lat: p2 / rad, lon: lonOut };
}

/** The distance in metres between two points on a sphere (haversine); good enough to tell
 *  a person how far a position set by hand moves them. */
export function sphereDistance(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h =
    Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
}
