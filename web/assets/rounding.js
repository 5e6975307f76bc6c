// What a private bond's device seals of its own position, and what it makes of the
// partner's (issue 20, docs/privacy.md "Sealed positions"): the rounding rule of
// `haurach_private::rounding` and the pull of `haurach_bond::Disclosure`, in the page, so
// the page gives the partner exactly what the CLI gives and shows the pull as the plain
// bond shows it. Held to the Rust library by the vectors in
// crates/private/tests/vectors/web.json ("rounding"), checked in Chromium by the browser
// test private::the_page_makes_what_the_library_makes.
//
// Within sight range the fix goes as it is. Beyond it the fix is snapped to the centre of
// a cell of a nested latitude and longitude grid whose side is at least a tenth of a
// distance the partner is surely not beyond (`bound`): the least of the distance to the
// partner's own latest sealed position plus its reach, and 1.5 times the narrowest open
// tier's range (or half the meridian when neither is known), raised to half the widest
// closed tier's range. The device keeps the cell it last sealed and sends it again while
// the fix stays within that cell grown by half its height and width (`KEEP_MARGIN`,
// docs/privacy.md "Keeping the cell"), so a still fix jittering across a line does not
// flip between two cells. Pure functions; the geodesics are geographiclib's (`wgs84`,
// from `private.loadGeodesic`).

import { inverse, rangeM, TIERS } from "./private.js";

/** The least a cell's side is, as a fraction of the bound (`rounding::SHARE`). */
export const SHARE = 0.1;
/** The longest geodesic on WGS84, metres (`rounding::FARTHEST_M`). */
export const FARTHEST_M = 20_003_931.5;
/** How far beyond its range the token rule may keep a tier open, as a multiple of it. */
export const OPEN_WITHIN = 1.5;
/** How near within its range the token rule opens a tier for certain, as a fraction. */
export const CLOSED_BEYOND = 0.5;
/** How far beyond its edges a kept cell is still sent, as a fraction of its height and
 *  width (`rounding::KEEP_MARGIN`). */
export const KEEP_MARGIN = 0.5;
/** The finest level of the grid: rows of 180°/2^32. */
export const MAX_LEVEL = 32;
const METRES_PER_DEGREE = 110_574.0;
const MAX_COLUMNS_LOG2 = 40;

/** `haurach_bond::geo::valid_coordinates`. */
export function validCoordinates(lat, lon) {
  return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180;
}

/** The distance (m) the partner is surely not beyond, seen from (lat, lon), given
 *  `known = {profile, open: Set of tier names, partner: {lat, lon, reach_m} | null}`
 *  (`rounding::Known::bound_m`). */
export function boundM(wgs84, known, lat, lon) {
  let upper = FARTHEST_M;
  const p = known.partner;
  if (p && validCoordinates(p.lat, p.lon) && Number.isFinite(p.reach_m) && p.reach_m >= 0) {
    upper = Math.min(upper, inverse(wgs84, lat, lon, p.lat, p.lon).distance_m + p.reach_m);
  }
  let lower = 0;
  for (const tier of TIERS) {
    const range = rangeM(known.profile, tier);
    if (range === null) continue;
    if (known.open.has(tier)) upper = Math.min(upper, OPEN_WITHIN * range);
    else lower = Math.max(lower, CLOSED_BEYOND * range);
  }
  return Math.max(upper, lower);
}

function latStep(level) {
  return 180 / 2 ** level;
}

function sideAt(level) {
  return latStep(level) * METRES_PER_DEGREE;
}

/** The finest level whose rows are at least `sideM` on the ground (`rounding::level_for`). */
export function levelFor(sideM) {
  if (Number.isNaN(sideM)) return 0;
  let level = 0;
  while (level < MAX_LEVEL && sideAt(level + 1) >= sideM) level += 1;
  return level;
}

/** The fewest columns (a power of two) that keep an edge of latitude `poleward` at least
 *  `sideM` long from corner to corner (`rounding::columns_log2`). */
function columnsLog2(wgs84, poleward, sideM) {
  const width = (log2) => inverse(wgs84, poleward, 0, poleward, 360 / 2 ** log2).distance_m;
  let log2 = 0;
  while (log2 < MAX_COLUMNS_LOG2 && width(log2 + 1) >= sideM) log2 += 1;
  return log2;
}

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));

/** The cell of `level` that holds (lat, lon): `{level, row, columns_log2, column}`
 *  (`rounding::Cell::of`). */
export function cellOf(wgs84, lat, lon, level) {
  level = Math.min(level, MAX_LEVEL);
  const rows = 2 ** level;
  const step = latStep(level);
  const row = Math.min(Math.floor((clamp(lat, -90, 90) + 90) / step), rows - 1);
  const south = -90 + row * step;
  const poleward = south + step <= 0 ? south : south + step;
  const log2 = columnsLog2(wgs84, poleward, sideAt(level));
  const columns = 2 ** log2;
  const lonStep = 360 / columns;
  const column = Math.floor((clamp(lon, -180, 180) + 180) / lonStep) % columns;
  return { level, row, columns_log2: log2, column };
}

function latSpan(c) {
  const step = latStep(c.level);
  const south = -90 + c.row * step;
  return [south, south + step];
}

function lonSpan(c) {
  const step = 360 / 2 ** c.columns_log2;
  const west = -180 + c.column * step;
  return [west, west + step];
}

/** A cell's centre, [lat, lon]: the point a partner is given. */
export function centre(c) {
  const [south, north] = latSpan(c);
  const [west, east] = lonSpan(c);
  return [(south + north) / 2, (west + east) / 2];
}

/** How far from the cell's centre a point of the box `[south, north]` by `lonSpan`
 *  (`[west, east]`, or null for all round) may be, metres (`Cell::reach_over`). */
function reachOver(wgs84, c, [south, north], lonSpan) {
  const [lat, lon] = centre(c);
  const distance = (toLat, toLon) => inverse(wgs84, lat, lon, toLat, toLon).distance_m;
  if (lonSpan === null) {
    const far = lon + 180;
    let reach = Math.max(distance(south, far), distance(north, far));
    if (south <= -lat && -lat <= north) reach = Math.max(reach, distance(-lat, far));
    return reach;
  }
  const [west, east] = lonSpan;
  return [[south, west], [south, east], [north, west], [north, east]]
    .map(([a, b]) => distance(a, b))
    .reduce((x, y) => Math.max(x, y), 0);
}

/** How far from its centre a point of the cell may be, metres (`Cell::reach_m`). */
export function reachM(wgs84, c) {
  return reachOver(wgs84, c, latSpan(c), c.columns_log2 === 0 ? null : lonSpan(c));
}

/** The cell grown by `KEEP_MARGIN` of its height on each side, within the poles
 *  (`Cell::kept_lat_span`). */
function keptLatSpan(c) {
  const [south, north] = latSpan(c);
  const margin = KEEP_MARGIN * (north - south);
  return [Math.max(south - margin, -90), Math.min(north + margin, 90)];
}

/** The cell grown by `KEEP_MARGIN` of its width on each side (the edges may pass ±180),
 *  or null when it goes all round (`Cell::kept_lon_span`). */
function keptLonSpan(c) {
  if (c.columns_log2 === 0) return null;
  const [west, east] = lonSpan(c);
  const margin = KEEP_MARGIN * (east - west);
  return east - west + 2 * margin < 360 ? [west - margin, east + margin] : null;
}

/** Whether a device that sealed cell `c` may send it again for a fix at (lat, lon): within
 *  the cell grown by `KEEP_MARGIN` on every side (`Cell::keeps`). */
export function keeps(c, lat, lon) {
  const [south, north] = keptLatSpan(c);
  if (!(south <= lat && lat <= north)) return false;
  const span = keptLonSpan(c);
  if (span === null) return true;
  const [west, east] = span;
  return [lon, lon - 360, lon + 360].some((l) => west <= l && l <= east);
}

/** The reach every rounded position claims: the grown cell's (`Cell::kept_reach_m`). */
export function keptReachM(wgs84, c) {
  return reachOver(wgs84, c, keptLatSpan(c), keptLonSpan(c));
}

/** The cell of `level` (at most `c`'s) that holds `c` (`Cell::ancestor`). */
export function ancestor(wgs84, c, level) {
  const [lat, lon] = centre(c);
  return cellOf(wgs84, lat, lon, Math.min(level, c.level));
}

/** What the sender seals of `fix = {lat, lon, accuracy_m}` (`rounding::round_keeping`
 *  then `FixContent::of`), keeping `kept`, the cell it last sealed (or null): `{lat, lon,
 *  reach_m, exact, cell, bound_m}`; `cell` and `bound_m` are null when exact. The caller
 *  keeps `cell` of what it sent for the next fix. */
export function round(wgs84, fix, known, kept = null) {
  if (known.open.has("sight")) {
    const accuracy = fix.accuracy_m > 0 ? fix.accuracy_m : 0;
    return { lat: fix.lat, lon: fix.lon, reach_m: accuracy, exact: true, cell: null, bound_m: null };
  }
  const bound = boundM(wgs84, known, fix.lat, fix.lon);
  const level = levelFor(SHARE * bound);
  let cell = null;
  if (kept && kept.level >= level) {
    const held = ancestor(wgs84, kept, level);
    if (keeps(held, fix.lat, fix.lon)) cell = held;
  }
  if (!cell) cell = cellOf(wgs84, fix.lat, fix.lon, level);
  const [lat, lon] = centre(cell);
  return { lat, lon, reach_m: keptReachM(wgs84, cell), exact: false, cell, bound_m: bound };
}

/** A float as serde_json writes it (the shortest digits that read back the same, laid
 *  out its way): "5.0", "-0.0", "0.0001", "1e-7", "1e+16", "1.5e-6". JavaScript's own
 *  shortest digits are the same; only where the point goes and the exponent's spelling
 *  differ. */
export function rustFloat(x) {
  if (!Number.isFinite(x)) return "null";
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  if (x === 0) return `${sign}0.0`;
  const [mantissa, exp] = Math.abs(x).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const length = digits.length;
  const kk = Number(exp) + 1;
  const k = kk - length;
  let text;
  if (k >= 0 && kk <= 16) text = `${digits}${"0".repeat(k)}.0`;
  else if (kk > 0 && kk <= 16) text = `${digits.slice(0, kk)}.${digits.slice(kk)}`;
  else if (kk > -5 && kk <= 0) text = `0.${"0".repeat(-kk)}${digits}`;
  else {
    const e = kk - 1;
    const mantissaText = length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
    text = `${mantissaText}e${e > 0 ? "+" : ""}${e}`;
  }
  return sign + text;
}

/** The bytes sealed of a rounded fix: `haurach_proto::sealed::FixContent`'s JSON, as
 *  serde_json writes it, with the stretch (`{jump_m, over_ms}`) when there is one. */
export function fixContent(shared, stretch = null) {
  const tail = stretch ? `,"stretch":{"jump_m":${rustFloat(stretch.jump_m)},"over_ms":${stretch.over_ms}}` : "";
  return `{"lat":${rustFloat(shared.lat)},"lon":${rustFloat(shared.lon)},"reach_m":${rustFloat(shared.reach_m)},"exact":${shared.exact ? "true" : "false"}${tail}}`;
}

/** How long every sealed position's content is, bytes (`sealed::MAX_FIX_CONTENT`). */
export const FIX_CONTENT_BYTES = 256;

/** A position's JSON padded with spaces to `FIX_CONTENT_BYTES` (`sealed::pad_fix`), so
 *  its length tells the server nothing (not whether it carries a stretch). ASCII only,
 *  so characters are bytes. */
export function padFix(json) {
  return json.length < FIX_CONTENT_BYTES ? json.padEnd(FIX_CONTENT_BYTES, " ") : json;
}

/** A sealed position's content read back (`FixContent::from_bytes`): `{lat, lon,
 *  reach_m, exact, stretch}` (`stretch` is `{jump_m, over_ms}` or null), or null when it
 *  is not one or not a place on Earth with a reach. */
export function readFixContent(text) {
  let c;
  try {
    c = JSON.parse(text);
  } catch {
    return null;
  }
  if (!c || typeof c !== "object") return null;
  const { lat, lon, reach_m, exact } = c;
  if (![lat, lon, reach_m].every((v) => typeof v === "number") || typeof exact !== "boolean") return null;
  if (!validCoordinates(lat, lon) || !Number.isFinite(reach_m) || reach_m < 0) return null;
  let stretch = null;
  if (c.stretch !== undefined && c.stretch !== null) {
    const { jump_m, over_ms } = c.stretch;
    if (!(Number.isFinite(jump_m) && jump_m >= 0 && Number.isInteger(over_ms) && over_ms > 0)) return null;
    stretch = { jump_m, over_ms };
  }
  return { lat, lon, reach_m, exact, stretch };
}

// ------------------------------------------------------------------------- the stretch

/** Jumps shorter than this beyond accuracy are GPS noise (`StretchDetector::MIN_JUMP_M`). */
export const MIN_JUMP_M = 100;

/** `x` to two significant figures (`sealed::two_figures`). */
function twoFigures(x) {
  if (!(Number.isFinite(x) && x > 0)) return 0;
  const step = 10 ** (Math.floor(Math.log10(x)) - 1);
  return roundAway(x / step) * step;
}

/**
 * The stretch from this device's previous fix `last` to `fix` (each `{lat, lon,
 * accuracy_m, at}`, `at` in Unix ms), as `haurach_bond::StretchDetector::observe` judges
 * it at `maxSpeedKmh`, sealed as `StretchContent::of` seals it: `{jump_m, over_ms}` (the
 * jump to two significant figures), or null. A fix older than `last` is no stretch.
 */
export function stretchOf(wgs84, last, fix, maxSpeedKmh) {
  if (!last || !(fix.at >= last.at)) return null;
  const distance = inverse(wgs84, last.lat, last.lon, fix.lat, fix.lon).distance_m;
  const accuracy = (f) => (f.accuracy_m > 0 ? f.accuracy_m : 0);
  const jump = Math.max(0, distance - accuracy(last) - accuracy(fix));
  const overMs = Math.max(1, fix.at - last.at);
  const speedKmh = (jump / overMs) * 3_600;
  if (!(jump >= MIN_JUMP_M && speedKmh > maxSpeedKmh)) return null;
  return { jump_m: twoFigures(jump), over_ms: overMs };
}

// ----------------------------------------------------------------------------- the pull

/** Rust's `f64::round`: halves away from zero. */
function roundAway(x) {
  return Math.sign(x) * Math.round(Math.abs(x));
}

/** A bearing rounded to 5° in [0, 360) (`disclosure::coarsen_bearing`). */
export function coarsenBearing(deg) {
  let b = (roundAway(deg / 5) * 5) % 360;
  if (b < 0) b += 360;
  return b + 0;
}

/** A distance to two significant figures (`disclosure::coarsen_distance`). */
export function coarsenDistance(m) {
  if (m === 0 || !Number.isFinite(m)) return m;
  const magnitude = Math.abs(m);
  let exp = Math.floor(Math.log10(magnitude));
  if (10 ** exp > magnitude) exp -= 1;
  else if (10 ** (exp + 1) <= magnitude) exp += 1;
  const stepExp = exp - 1;
  if (stepExp >= 0) {
    const step = 10 ** stepExp;
    return roundAway(m / step) * step;
  }
  const scale = 10 ** -stepExp;
  return roundAway(m * scale) / scale;
}

/** How strong the bond is at `distanceM` in `profile` (`Profile::strength`). */
export function strength(profile, distanceM) {
  const feelings = rangeM(profile, "feelings");
  const memories = rangeM(profile, "memories");
  if (feelings === null || memories === null) return 1;
  if (Number.isNaN(distanceM) || distanceM >= feelings) return 0;
  if (distanceM <= memories) return 1;
  return clamp(Math.log(feelings / distanceM) / Math.log(feelings / memories), 0, 1);
}

/** The pull from my fix `me` toward the partner's opened sealed position, as the plain
 *  bond's server would send it (the CLI's `pull_toward`): exact only when the position is
 *  exact and sight is open, otherwise the bearing to 5° and the distance to two figures
 *  and no position. `{pull: {bearing_deg, distance_m, exact, position}, strength}`. */
export function pullToward(wgs84, me, partner, sightOpen, profile) {
  const toward = inverse(wgs84, me.lat, me.lon, partner.lat, partner.lon);
  const exact = sightOpen && partner.exact;
  const pull = exact
    ? { bearing_deg: toward.bearing_deg, distance_m: toward.distance_m, exact: true, position: { lat: partner.lat, lon: partner.lon } }
    : { bearing_deg: coarsenBearing(toward.bearing_deg), distance_m: coarsenDistance(toward.distance_m), exact: false, position: null };
  return { pull, strength: strength(profile, pull.distance_m), toward_m: toward.distance_m };
}
