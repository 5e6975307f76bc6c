// The map: where you are, your partner as far as the pull lets you know, your places and
// theirs, the meeting point, a summons, and your own journey. Drawn with Leaflet
// (vendor/leaflet/, loaded the first time the map is shown) over the tiles of the source
// the server names in the page (`<meta name="haurach-tiles">`; none: no map).
//
// Privacy: beyond sight the page has only the coarse pull (bearing to 5°, distance to two
// significant figures), and the map draws exactly that: the wedge of bearing ± 2.5°
// between the least and the most distance that rounds to the pull's. It narrows as you
// come closer and never says more than the pull. Within sight the pull carries the
// partner's position and the map shows it.
//
// On a private bond (with confirmed keys) the map is drawn without tiles unless the
// person chose them for this bond on this device: tiles asked for the area viewed would
// tell the tile server (often the same operator's) where the person is. Without them it
// is a plain background with a scale bar, and Leaflet draws only vectors, so the page
// makes no request that carries a coordinate or a tile's address. The partner is drawn
// from their opened sealed position as what it is: beyond sight an area as wide as its
// reach around the point their device chose (never a point), within sight the point.

import * as fmt from "./format.js";
import { destination } from "./radar.js";

const $ = (id) => document.getElementById(id);
const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";

/** Half the width of the wedge: the pull's bearing is rounded to 5°. */
const HALF_WEDGE_DEG = 2.5;

/** The least and the most distance that two significant figures round to `d`. */
export function coarseInterval(d) {
  if (!(d > 0)) return [0, 0.5];
  const exp = Math.floor(Math.log10(d) + 1e-9);
  const step = 10 ** (exp - 1);
  // Just below a power of ten the step is ten times finer (9,950 m rounds to 10,000 m).
  const powerOfTen = Math.abs(d - 10 ** exp) < 1e-6 * d;
  const below = powerOfTen ? step / 10 : step;
  return [Math.max(0, d - below / 2), d + step / 2];
}

/** The wedge a coarse pull from (lat, lon) allows, as a ring of [lat, lon]. */
export function wedge(lat, lon, bearingDeg, distanceM) {
  const [near, far] = coarseInterval(distanceM);
  const steps = 12;
  const ring = [];
  for (let i = 0; i <= steps; i++) {
    const b = bearingDeg - HALF_WEDGE_DEG + (2 * HALF_WEDGE_DEG * i) / steps;
    const p = destination(lat, lon, b, far);
    ring.push([p.lat, p.lon]);
  }
  for (let i = steps; i >= 0; i--) {
    const b = bearingDeg - HALF_WEDGE_DEG + (2 * HALF_WEDGE_DEG * i) / steps;
    const p = destination(lat, lon, b, near);
    ring.push([p.lat, p.lon]);
  }
  return ring;
}

/** A link that opens a point in the person's maps app (`geo:`) and one to openstreetmap.org. */
export function mapsLinks(lat, lon) {
  const la = lat.toFixed(6), lo = lon.toFixed(6);
  return {
    geo: `geo:${la},${lo}?q=${la},${lo}`,
    osm: `https://www.openstreetmap.org/?mlat=${la}&mlon=${lo}#map=17/${la}/${lo}`,
  };
}

let leaflet = null;

/** Loads Leaflet once: its script and style, from beside this file (so under the same
 *  version of the client). */
function loadLeaflet() {
  leaflet ??= new Promise((resolve, reject) => {
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = new URL("./vendor/leaflet/leaflet.css", import.meta.url).href;
    document.head.append(css);
    const script = document.createElement("script");
    script.src = new URL("./vendor/leaflet/leaflet.js", import.meta.url).href;
    script.onload = () => resolve(window.L);
    script.onerror = () => reject(new Error("the map could not be loaded"));
    document.head.append(script);
  });
  return leaflet;
}

export class BondMap {
  /** @param {{ me: () => (string|null), partner: () => (string|null) }} ctx */
  constructor(ctx) {
    this.ctx = ctx;
    this.tiles = meta("haurach-tiles");
    this.attribution = meta("haurach-tiles-attribution");
    this.data = { position: null, pull: null, sealed: null, places: { mine: [], partner: [] }, meeting: null, summons: null, track: [] };
    this.map = null;
    this.layer = null;
    this.tileLayer = null;
    /** The private bond on screen (its id), or null on a plain bond: tiles then only by
     *  the person's choice, and the partner from `data.sealed`. */
    this.privateBond = null;
    /** Whether the page knows the bond's privacy (plain, or private with confirmed
     *  keys): nothing is drawn, and no tile asked, until it does. */
    this.known = false;
    /** Whether the person moved the map themselves: then it no longer follows. */
    this.moved = false;
    this.pending = null;
  }

  /** Hooks up the card; called once. Without a tile source the card stays hidden on a
   *  plain bond (a private one draws without tiles). */
  wire() {
    $("map-card").hidden = !this.tiles;
    $("map-fit").addEventListener("click", () => {
      this.moved = false;
      this.render();
    });
    if (this.tiles) {
      for (const el of document.querySelectorAll("#map-tiles-host, .map-tiles-host-again")) el.textContent = tileHost(this.tiles);
    }
    $("map-tiles-on").addEventListener("change", (e) => {
      if (!this.privateBond) return;
      const key = `haurach.map_tiles.${this.privateBond}`;
      if (e.target.checked) localStorage.setItem(key, "on");
      else localStorage.removeItem(key);
      this.syncTiles();
    });
  }

  /** The bond on screen is private with confirmed keys (its id), or not (null); `known`
   *  is false while the page does not know yet, or cannot seal on a private bond. */
  privately(bondId, known) {
    bondId ??= null;
    known = Boolean(known);
    if (bondId === this.privateBond && known === this.known) return;
    this.privateBond = bondId;
    this.known = known;
    $("map-card").hidden = !this.tiles && !bondId;
    const choice = $("map-tiles-choice");
    choice.hidden = !bondId || !this.tiles;
    $("map-tiles-on").checked = this.tilesChosen();
    if (!bondId) this.data.sealed = null;
    this.syncTiles();
    this.update({});
  }

  /** Whether tiles are drawn: always on a plain bond, on a private one only when the
   *  person chose them for it here. */
  tilesChosen() {
    if (!this.tiles) return false;
    if (!this.privateBond) return true;
    return localStorage.getItem(`haurach.map_tiles.${this.privateBond}`) === "on";
  }

  /** Adds or takes away the tile layer as `tilesChosen` says. */
  syncTiles() {
    if (!this.map) return;
    // No tile source set (a private bond's map without one): no layer to add or take away.
    const want = Boolean(this.tileLayer) && this.known && this.tilesChosen();
    if (this.tileLayer) {
      if (want && !this.map.hasLayer(this.tileLayer)) this.tileLayer.addTo(this.map);
      if (!want && this.map.hasLayer(this.tileLayer)) this.tileLayer.remove();
    }
    $("map").classList.toggle("map-tileless", !want);
  }

  /** Where I am now; it extends my track at once (the server's is read again later). */
  position(p) {
    const track = this.data.track;
    const last = track.at(-1);
    if (p && (!last || last.lat !== p.lat || last.lon !== p.lon)) {
      track.push({ at: new Date().toISOString(), lat: p.lat, lon: p.lon });
    }
    this.update({ position: p ? { lat: p.lat, lon: p.lon, accuracy_m: p.accuracy_m } : null });
  }
  pull(pull) { this.update({ pull: pull ?? null }); }
  /** A private bond: the partner's opened sealed position (`{lat, lon, reach_m, exact}`)
   *  or null, and whether sight is open. */
  sealed(opened, sightOpen) { this.update({ sealed: opened ? { ...opened, sightOpen: Boolean(sightOpen) } : null }); }
  places(view) { this.update({ places: view ?? { mine: [], partner: [] } }); }
  meeting(m) { this.update({ meeting: m ?? null }); }
  summons(s) { this.update({ summons: s ?? null }); }
  // A copy: `position` extends it, and the array given stays its owner's.
  track(fixes) { this.update({ track: [...(fixes ?? [])] }); }

  leave() {
    this.data = { position: null, pull: null, sealed: null, places: { mine: [], partner: [] }, meeting: null, summons: null, track: [] };
    this.moved = false;
    // The next bond's privacy is found out afresh before anything is drawn.
    this.known = false;
    this.syncTiles();
    this.render();
  }

  update(part) {
    Object.assign(this.data, part);
    this.renderMeetingLinks();
    // One drawing per frame, however many updates came.
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      this.render();
    });
  }

  /** "Open in Maps" for the meeting point, when its position may be shown. */
  renderMeetingLinks() {
    const m = this.data.meeting;
    const box = $("map-meeting-open");
    if (!m?.position) {
      box.hidden = true;
      return;
    }
    const links = mapsLinks(m.position.lat, m.position.lon);
    $("map-meeting-geo").href = links.geo;
    $("map-meeting-osm").href = links.osm;
    box.hidden = false;
  }

  async ensureMap() {
    if (this.map || (!this.tiles && !this.privateBond)) return this.map;
    const L = await loadLeaflet();
    if (this.map) return this.map;
    const el = $("map");
    this.map = L.map(el, { zoomControl: true, attributionControl: true, worldCopyJump: true, maxZoom: 19 });
    el.setAttribute("role", "region");
    el.setAttribute("aria-label", "Map");
    this.map.attributionControl.setPrefix(false);
    // Made here, added only while `tilesChosen` says so (`syncTiles`): on a private bond
    // no tile is asked unless the person chose it.
    this.tileLayer = this.tiles
      ? L.tileLayer(this.tiles, {
        maxZoom: 19,
        attribution: escapeHtml(this.attribution),
        // Most tile servers (OpenStreetMap's among them) want to know which site asks;
        // the origin says it, the page's path does not.
        referrerPolicy: "strict-origin",
      })
      : null;
    L.control.scale({ imperial: false }).addTo(this.map);
    this.layer = L.layerGroup().addTo(this.map);
    // Once the person touches, scrolls or uses the keys on the map, it stays where they
    // put it ("Show everything" follows again).
    for (const ev of ["pointerdown", "wheel", "keydown"]) {
      el.addEventListener(ev, () => (this.moved = true), { passive: true });
    }
    this.map.setView([20, 0], 2);
    this.syncTiles();
    // A phone turned, a window widened: the map fills its new size and, unless the person
    // moved it, shows everything again.
    new ResizeObserver(() => this.update({})).observe(el);
    return this.map;
  }

  async render() {
    const card = $("map-card");
    if ((!this.tiles && !this.privateBond) || card.hidden || !this.known) return;
    const map = await this.ensureMap();
    if (!map) return;
    const L = window.L;
    this.layer.clearLayers();
    const d = this.data;
    const shown = [];
    const label = (layer, text, cls) =>
      layer.bindTooltip(text, { permanent: true, direction: "top", className: `map-label ${cls}`, offset: [0, -6] });
    const status = [];
    /** The wedge drawn, as "near far bearing" (metres, degrees), for the tests to read. */
    let wedgeShown = "";
    /** What of the partner is drawn: "point", "area REACH_M" or "wedge" ("" for
     *  nothing), for the tests to read. */
    let partnerShown = "";

    // My own journey, under everything else.
    if (d.track.length >= 2) {
      L.polyline(d.track.map((f) => [f.lat, f.lon]), { className: "map-journey", interactive: false }).addTo(this.layer);
    }
    for (const p of d.places.mine) {
      if (!p.position) continue;
      L.circle([p.position.lat, p.position.lon], { radius: p.radius_m, className: "map-place map-place-mine", interactive: false }).bindTooltip(p.name, { permanent: true, direction: "bottom", className: "map-label map-label-place", offset: [0, 8] }).addTo(this.layer);
      shown.push([p.position.lat, p.position.lon]);
    }
    for (const p of d.places.partner) {
      if (!p.position) continue;
      L.circle([p.position.lat, p.position.lon], { radius: p.radius_m, className: "map-place map-place-partner", interactive: false }).bindTooltip(`${this.ctx.partner() ?? "Partner"}: ${p.name}`, { permanent: true, direction: "bottom", className: "map-label map-label-place", offset: [0, 8] }).addTo(this.layer);
      shown.push([p.position.lat, p.position.lon]);
    }
    const me = d.position;
    if (me) {
      if (me.accuracy_m > 0) {
        L.circle([me.lat, me.lon], { radius: me.accuracy_m, className: "map-accuracy", interactive: false }).addTo(this.layer);
      }
      label(L.circleMarker([me.lat, me.lon], { radius: 8, className: "map-me", interactive: false }), "You", "map-label-me").addTo(this.layer);
      shown.push([me.lat, me.lon]);
    }
    const pull = d.pull;
    const partner = this.ctx.partner() ?? "Your partner";
    const sealed = this.privateBond ? d.sealed : null;
    if (sealed && !sealed.exact) {
      // A rounded position: the partner may be anywhere within its reach of the point
      // their device chose, so the area is drawn and the point is not.
      L.circle([sealed.lat, sealed.lon], { radius: sealed.reach_m, className: "map-area", interactive: false }).addTo(this.layer);
      const area = L.latLng(sealed.lat, sealed.lon).toBounds(2 * sealed.reach_m);
      shown.push(area.getSouthWest(), area.getNorthEast());
      status.push(`${partner} is somewhere in the shaded area, up to ${fmt.distance(sealed.reach_m)} from its middle: ` +
        "their device shares no finer position beyond sight.");
      partnerShown = `area ${sealed.reach_m}`;
    } else if (this.privateBond && sealed?.exact && sealed.sightOpen) {
      label(L.circleMarker([sealed.lat, sealed.lon], { radius: 8, className: "map-partner", interactive: false }), partner, "map-label-partner").addTo(this.layer);
      shown.push([sealed.lat, sealed.lon]);
      status.push(`${partner} is shown where they are: you are within sight.`);
      partnerShown = "point";
    } else if (this.privateBond && !sealed) {
      // Nothing opened of the partner yet: nothing to draw of them.
    } else if (pull?.exact && pull.position) {
      partnerShown = "point";
      label(L.circleMarker([pull.position.lat, pull.position.lon], { radius: 8, className: "map-partner", interactive: false }), partner, "map-label-partner").addTo(this.layer);
      shown.push([pull.position.lat, pull.position.lon]);
      status.push(`${partner} is shown where they are: you are within sight.`);
    } else if (pull && me) {
      const ring = wedge(me.lat, me.lon, pull.bearing_deg, pull.distance_m);
      L.polygon(ring, { className: "map-wedge", interactive: false }).addTo(this.layer);
      shown.push(...ring);
      const [near, far] = coarseInterval(pull.distance_m);
      status.push(`${partner} is somewhere in the shaded wedge, ${fmt.compassPoint(pull.bearing_deg)}: ` +
        `${span(near)} to ${span(far)} away, within 2.5° either side. ` +
        "Their exact position shows within sight.");
      wedgeShown = `${near} ${far} ${pull.bearing_deg}`;
      partnerShown = "wedge";
    } else if (!me) {
      status.push("Your position shows here once you share it.");
    }
    const m = d.meeting;
    if (m?.position) {
      label(L.circleMarker([m.position.lat, m.position.lon], { radius: 9, className: "map-meeting", interactive: false }),
        m.kind === "pinned" ? `Meet: ${m.name ?? "pinned point"}` : "Meet here", "map-label-meeting").addTo(this.layer);
      shown.push([m.position.lat, m.position.lon]);
    }
    const s = d.summons;
    const who = (this.ctx.me() ?? "").toLowerCase();
    if (s && (s.state === "calling" || s.state === "accepted")) {
      const other = s.to.toLowerCase() === who ? { p: s.summoner, name: s.from } : { p: s.summoned, name: s.to };
      if (other.p) {
        label(L.circleMarker([other.p.lat, other.p.lon], { radius: 9, className: "map-summons", interactive: false }),
          `Summons: ${other.name}`, "map-label-summons").addTo(this.layer);
        shown.push([other.p.lat, other.p.lon]);
      }
    }
    $("map-status").textContent = status.join(" ");
    $("map").dataset.wedge = wedgeShown;
    $("map").dataset.partner = partnerShown;
    $("map").dataset.track = String(d.track.length >= 2 ? d.track.length : 0);
    map.invalidateSize();
    // Follow what is drawn until the person moves the map; "Show everything" follows again.
    if (shown.length && !this.moved) {
      map.fitBounds(L.latLngBounds(shown), { padding: [28, 28], maxZoom: 17, animate: false });
    }
  }
}

/** An end of the wedge, as exactly as the rounding put it ("10.5 km", "3.25 km", "950 m"):
 *  the everyday rounding of `fmt.distance` would say "11 km to 12 km" for 10.5 to 11.5. */
function span(m) {
  if (m < 1000) return `${Math.round(m)} m`;
  return `${(m / 1000).toLocaleString("en-US", { maximumFractionDigits: 2 })} km`;
}

/** The host the tile template names ("tile.openstreetmap.org"). */
function tileHost(template) {
  try {
    return new URL(template.replace(/\{[^}]*\}/g, "0")).host;
  } catch {
    return template;
  }
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
