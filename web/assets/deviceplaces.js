// Places and the meeting point on a private bond, on this device (issue 20,
// docs/privacy.md, "Sealed places and the meeting point"): what the CLI's
// `place_book.rs` and `sealed_places.rs` do, in the page. The server of a private bond
// sees no coordinate, so this person's places are kept here only, arriving and leaving
// are judged here on each of this device's own fixes by the plain bond's rules
// (`haurach_bond::place`), and the news goes to the partner as a sealed `place` message;
// the meeting point is a sealed `meeting` message, each device works out its own way to
// it and says when it is there (50 m, `haurach_bond::meeting::ARRIVAL_RADIUS_M`).
//
// What is kept, per person, in IndexedDB (database `haurach-places`, like the keys in
// privatebond.js, through keyed.js; its own database, so moving the server's places here before a private
// invite exists needs no keys' entry): the book, in the CLI's `PlaceBook` shape:
// `mine` (name, lat, lon, radius_m, inside), `read_seq` (the last message of the bond
// read for places and the meeting point), `pin` (lat, lon, name, pinned_by, reached_me,
// reached_partner) and `partner` (the latest news of each of the partner's places).

import { call } from "./api.js";
import { keyedStore } from "./keyed.js";
import { inverse } from "./private.js";
import { coarsenDistance } from "./rounding.js";

const DB = "haurach-places";
const STORE = "books";

/** The factor of the band of hysteresis (`place::EXIT_FACTOR`). */
export const EXIT_FACTOR = 1.1;
/** The narrowest band of hysteresis, metres (`place::MIN_BAND_M`). */
export const MIN_BAND_M = 25;
/** The radius limits, metres (`place::MIN_RADIUS_M`, `MAX_RADIUS_M`). */
export const MIN_RADIUS_M = 10;
export const MAX_RADIUS_M = 50_000;
/** How near the pinned point is being there (`meeting::ARRIVAL_RADIUS_M`). */
export const ARRIVAL_RADIUS_M = 50;
/** The most places one person keeps (`place_book::MAX_PLACES`). */
export const MAX_PLACES = 100;
/** The size a place's news and a meeting point are padded to (`sealed::PLACE_PADDED`). */
export const PLACE_PADDED = 512;
/** A walk's speed, for the time to the point (`meeting::REST_SPEED_MPS`). */
const REST_SPEED_MPS = 1;

// ------------------------------------------------------------------------------ rules

/** The radius beyond which someone inside has left. */
export function exitRadius(radiusM) {
  return Math.max(radiusM * EXIT_FACTOR, radiusM + MIN_BAND_M);
}

/** Whether someone who was `inside` (or not) is inside a circle of `radiusM` at `d`
 *  metres from its centre with a fix of accuracy `acc` (`Place::judge_at`): arriving
 *  needs the whole fix inside, leaving the whole fix beyond the band. */
export function judgeAt(radiusM, inside, d, acc) {
  const a = acc > 0 ? acc : 0;
  return inside ? d - a <= exitRadius(radiusM) : d + a <= radiusM;
}

function judgeFix(wgs84, centre, radiusM, inside, fix) {
  const d = inverse(wgs84, centre.lat, centre.lon, fix.lat, fix.lon).distance_m;
  return judgeAt(radiusM, inside, d, fix.accuracy_m);
}

/** A place's name as the plain bond's server takes it (`place_book::check_name`). */
export function checkName(name) {
  const n = [...name].length;
  const control = /\p{Cc}/u.test(name);
  const bidi = /[\u202A-\u202E\u2066-\u2069]/.test(name);
  if (n < 1 || n > 64 || control || bidi || name.trim() !== name) {
    throw new Error("a place's name is 1 to 64 characters, without control characters or surrounding spaces");
  }
}

const same = (a, b) => a.toLowerCase() === b.toLowerCase();

/** An empty book. */
export const emptyBook = (name) => ({ who: String(name).toLowerCase(), mine: [], read_seq: 0, pin: null, partner: [] });

/** Adds `place` ({name, lat, lon, radius_m}) or replaces the one of the same name (any
 *  case); whether it is new. Whether the person is inside is judged from `latest`
 *  without news: making a place where one stands is not arriving there. */
export function put(wgs84, book, place, latest) {
  checkName(place.name);
  if (!(Math.abs(place.lat) <= 90 && Math.abs(place.lon) <= 180)) {
    throw new Error(`lat must be in [-90, 90] and lon in [-180, 180]; got lat ${place.lat} lon ${place.lon}`);
  }
  if (!(place.radius_m >= MIN_RADIUS_M && place.radius_m <= MAX_RADIUS_M)) {
    throw new Error(`the radius must be between ${MIN_RADIUS_M} and ${MAX_RADIUS_M} metres; got ${place.radius_m}`);
  }
  const kept = {
    name: place.name,
    lat: place.lat,
    lon: place.lon,
    radius_m: place.radius_m,
    inside: Boolean(latest) && judgeFix(wgs84, place, place.radius_m, false, latest),
  };
  const at = book.mine.findIndex((p) => same(p.name, place.name));
  if (at >= 0) {
    book.mine[at] = kept;
    return false;
  }
  if (book.mine.length >= MAX_PLACES) throw new Error(`a person keeps at most ${MAX_PLACES} places: forget one first`);
  book.mine.push(kept);
  return true;
}

/** Keeps `place` as it is (its `inside` included), in place of one of the same name (any
 *  case): a place brought from the server, which judged it last (`PlaceBook::keep`). */
export function keep(book, place) {
  book.mine = book.mine.filter((p) => !same(p.name, place.name));
  book.mine.push(place);
}

/** The places the server keeps for this person (`GET /api/v1/places`, `mine`), as this
 *  book keeps them. */
async function stored() {
  const view = await call("GET", "/api/v1/places");
  return (view.mine ?? [])
    .filter((p) => p.position)
    .map((p) => ({ name: p.name, lat: p.position.lat, lon: p.position.lon, radius_m: p.radius_m, inside: Boolean(p.inside) }));
}

/** Judges every place by a new fix: each `{name, event}` ("arrived" or "left"), in order. */
export function judge(wgs84, book, fix) {
  const changes = [];
  for (const p of book.mine) {
    const now = judgeFix(wgs84, p, p.radius_m, p.inside, fix);
    if (now !== p.inside) {
      p.inside = now;
      changes.push({ name: p.name, event: now ? "arrived" : "left" });
    }
  }
  return changes;
}

/** Whether this person reached the pinned point with `fix` just now (`judge_pin`). */
export function judgePin(wgs84, book, fix) {
  const pin = book.pin;
  if (!pin) return false;
  const was = pin.reached_me;
  pin.reached_me = judgeFix(wgs84, pin, ARRIVAL_RADIUS_M, was, fix);
  return pin.reached_me && !was;
}

/** `json` followed by spaces up to a multiple of PLACE_PADDED bytes of UTF-8 (`padded`). */
export function padded(json) {
  const n = new TextEncoder().encode(json).length;
  const len = Math.max(1, Math.ceil(n / PLACE_PADDED)) * PLACE_PADDED;
  return json + " ".repeat(len - n);
}

/** A place's news as `sealed::PlaceContent` writes it (the centre only within sight). */
export function placeContent(name, event, atMs, centre) {
  const content = { place: name, event, at: new Date(atMs).toISOString() };
  if (centre) content.position = { lat: centre.lat, lon: centre.lon };
  return padded(JSON.stringify(content));
}

/** A meeting point as `sealed::MeetingContent` writes it: `{lat, lon, name?}` pinned,
 *  "unpinned" or "reached". */
export function meetingContent(what) {
  if (what === "unpinned" || what === "reached") return padded(JSON.stringify({ what }));
  const content = { what: "pinned", lat: what.lat, lon: what.lon };
  if (what.name) content.name = what.name;
  return padded(JSON.stringify(content));
}

/** What one opened `place` or `meeting` message says, kept in `book` (`take`). */
export function take(wgs84, book, m, text, mine, latest) {
  let c;
  try {
    c = JSON.parse(text);
  } catch {
    return;
  }
  if (!c || typeof c !== "object") return;
  if (m.kind === "place" && !mine) {
    const named = typeof c.place === "string" && [...c.place].length >= 1 && [...c.place].length <= 64;
    if (!named || !["arrived", "left"].includes(c.event)) return;
    const position = c.position && Number.isFinite(c.position.lat) && Number.isFinite(c.position.lon) ? { lat: c.position.lat, lon: c.position.lon } : null;
    const heard = { name: c.place, inside: c.event === "arrived", at: c.at ?? null, position };
    const at = book.partner.findIndex((p) => same(p.name, c.place));
    if (at >= 0) book.partner[at] = heard;
    else book.partner.push(heard);
  } else if (m.kind === "meeting") {
    if (c.what === "pinned" && Math.abs(c.lat) <= 90 && Math.abs(c.lon) <= 180) {
      book.pin = {
        lat: c.lat,
        lon: c.lon,
        name: typeof c.name === "string" ? c.name : null,
        pinned_by: m.from,
        // Pinning where one stands is being there, without news.
        reached_me: Boolean(latest) && judgeFix(wgs84, c, ARRIVAL_RADIUS_M, false, latest),
        reached_partner: false,
      };
    } else if (c.what === "unpinned") {
      book.pin = null;
    } else if (c.what === "reached" && book.pin) {
      if (mine) book.pin.reached_me = true;
      else book.pin.reached_partner = true;
    }
  }
}

/** The meeting point as the places card shows it (the plain bond's `MeetingView`
 *  shape), worked out here: my way there from my fix, exactly (the pin was shared on
 *  purpose), and the partner's from their opened sealed position, coarse unless it is
 *  exact and sight is open. null without a pin or a fix of mine. */
export function meetingView(wgs84, book, me, partner, sightOpen) {
  const pin = book.pin;
  if (!pin || !me) return null;
  const mine = inverse(wgs84, me.lat, me.lon, pin.lat, pin.lon);
  const exact = Boolean(sightOpen && partner?.exact);
  let theirs = null;
  if (partner) {
    const d = inverse(wgs84, partner.lat, partner.lon, pin.lat, pin.lon).distance_m;
    const eta = d / REST_SPEED_MPS;
    theirs = {
      distance_m: exact ? d : coarsenDistance(d),
      bearing_deg: null,
      eta_s: exact ? eta : coarsenDistance(eta),
      arrived: pin.reached_partner,
    };
  }
  return {
    kind: "pinned",
    name: pin.name,
    pinned_by: pin.pinned_by,
    position: { lat: pin.lat, lon: pin.lon },
    exact,
    you: { distance_m: mine.distance_m, bearing_deg: mine.bearing_deg, eta_s: mine.distance_m / REST_SPEED_MPS, arrived: pin.reached_me },
    partner: theirs,
  };
}

// ---------------------------------------------------------------------------- storage

// Strict: a book is written down before what it judged is sent.
const books = keyedStore(DB, STORE, { durability: "strict" });

/** This person's book as kept here (an empty one when there is none). */
export async function load(name) {
  const kept = await books.get(String(name).toLowerCase());
  return kept ?? emptyBook(name);
}

/** Writes `book` down; resolves once it is on disk. */
export function save(book) {
  return books.put(book);
}

/**
 * Before a private invite is made or accepted (a private bond keeps no place on the
 * server): the places the server keeps for this person (`GET /api/v1/places`, `mine`)
 * written into this device's book first, beside the ones an earlier private bond left
 * here. Returns `{names, undo}`: the names to send as `forget_places`, and what puts the
 * book back as it was when the server refused the request (it kept them then).
 */
export async function moveFromServer(name) {
  const found = await stored();
  if (found.length === 0) return { names: [], undo: async () => {} };
  const before = await load(name);
  const book = structuredClone(before);
  for (const p of found) keep(book, p);
  await save(book);
  return { names: found.map((p) => p.name), undo: () => save(before) };
}

/**
 * On a private bond: the places the server still keeps for this person (an older server
 * kept them as the bond turned private) kept in `book` and written down first, then
 * deleted on the server one by one, as the CLI's `place` does (`bring_stored`). A place
 * the server still has when this stops is kept in both, and brought again next time.
 * Returns the names of those brought.
 */
export async function bringStored(book) {
  const found = await stored();
  if (found.length === 0) return [];
  for (const p of found) keep(book, p);
  await save(book);
  for (const p of found) await call("DELETE", `/api/v1/places/${encodeURIComponent(p.name)}`);
  return found.map((p) => p.name);
}
