// A private bond in the browser (issue 20, docs/privacy.md): the same keys, invite code
// and token reports as the Rust library `haurach-private` (crates/private), byte for byte,
// so the page and the CLI can be the two devices of one bond. The vectors its Rust tests
// write (crates/private/tests/vectors/web.json) are checked against this file in Chromium
// (crates/server/tests/browser/private.rs).
//
// The cryptography is WebCrypto's: X25519, HKDF-SHA-256, HMAC-SHA-256 and SHA-256. The
// WGS84 inverse problem is geographiclib's own JavaScript port (vendor/geographiclib/),
// loaded the first time a report is made. Nothing here sends anything: privatebond.js
// does, and only what the server may see (the lookup hash, public keys, tags, tokens).

const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();

/** What a private invite's code starts with. */
export const PREFIX = "HP1-";
/** The invite secret's length: 160 bits, 32 base32 characters. */
export const INVITE_LEN = 20;
/** How long one set of token keys lasts: 10 minutes. */
export const EPOCH_MS = 600_000;
/** How long before an epoch's end a report also holds the next epoch's tokens. */
export const LOOKAHEAD_MS = 120_000;
/** A token's length in bytes. */
export const TOKEN_LEN = 8;
/** The most charts a point uses for one tier. */
export const MAX_CHARTS = 6;
/** The nine shifted grids: (i, j) in thirds of a cell, i the outer loop. */
export const SHIFTS = Array.from({ length: 9 }, (_, k) => ({ i: Math.floor(k / 3), j: k % 3 }));
/** How many tokens each list of a tier holds: one per grid per chart, padded. */
export const PER_LIST = MAX_CHARTS * SHIFTS.length;
/** The open grid's cell side as a fraction of the tier's range. */
export const OPEN_CELL = 0.85;
/** The plain bond's hysteresis (`haurach_bond::TierState::HYSTERESIS`). */
const HYSTERESIS = 1.1;
/** Every point of the Earth has a chart centre within this many metres. */
export const CORE_RADIUS_M = 111_700.0;
const BANDS = 180;

/** The tiers in `haurach_bond::Tier::ALL` order. */
export const TIERS = ["pull", "alarm", "feelings", "voice", "thoughts", "images", "glimpse", "sight", "memories"];

const RANGES = {
  story: { feelings: 20_000, voice: 17_000, thoughts: 16_000, images: 15_000, glimpse: 10_000, sight: 2_000 },
  city: { feelings: 1_000, voice: 850, thoughts: 800, images: 750, glimpse: 500, sight: 100 },
  open: {},
};

/** The distance within which `tier` opens in `profile`, or null when it is open at any
 *  range (as `haurach_bond::Profile::range_m`). */
export function rangeM(profile, tier) {
  if (tier === "pull" || tier === "alarm") return null;
  if (tier === "memories") return 25;
  return RANGES[profile]?.[tier] ?? null;
}

/** Which side of the bond a device is on; its byte in confirmation tags. */
export const ROLE_BYTE = { inviter: 1, accepter: 2 };

// ------------------------------------------------------------------------------ bytes

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(text) {
  if (typeof text !== "string" || !/^(?:[0-9a-fA-F]{2})*$/.test(text)) return null;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toBase64(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A whole number as `n` big-endian bytes (two's complement), as Rust's `to_be_bytes`. */
function bigEndian(value, n) {
  const out = new Uint8Array(n);
  const view = new DataView(out.buffer);
  if (n === 4) view.setUint32(0, value);
  else view.setBigInt64(0, BigInt(value));
  return out;
}

function compareBytes(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

// ----------------------------------------------------------------------------- invite

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** 160 random bits from the browser's random source. */
export function newInviteSecret() {
  return crypto.getRandomValues(new Uint8Array(INVITE_LEN));
}

/** The code for an invite secret: `HP1-` and 32 base32 characters in groups of four. */
export function inviteCode(secret) {
  let bits = 0;
  let value = 0;
  let body = "";
  for (const byte of secret) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      body += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= 0xff;
  }
  return PREFIX + body.match(/.{1,4}/g).join("-");
}

/** The secret in a code as a person typed it, or null when it is not one. Case, spaces
 *  and dashes do not matter, a 0, 1 or 8 typed for O, I or B reads as meant, and the
 *  prefix may be left out (as `haurach_private::invite::parse_code`). */
export function parseInviteCode(typed) {
  let body = Array.from(String(typed))
    .filter((c) => !/\s/u.test(c) && c !== "-")
    .map((c) => ({ 0: "O", 1: "I", 8: "B" })[c] ?? (c.length === 1 && c < "\x80" ? c.toUpperCase() : c))
    .join("");
  if (body.length === 35 && (body.startsWith("HP1") || body.startsWith("HPI"))) body = body.slice(3);
  if (body.length !== 32) return null;
  const out = new Uint8Array(INVITE_LEN);
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const c of body) {
    const idx = BASE32.indexOf(c);
    if (idx < 0) return null;
    value = ((value << 5) | idx) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out[at++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return out;
}

/** Whether `typed` is a private invite's code rather than a plain invite's eight
 *  characters. */
export function isPrivateCode(typed) {
  return parseInviteCode(typed) !== null;
}

/** What the server keeps to find the invite: SHA-256 of a fixed label and the secret. */
export async function lookup(secret) {
  const label = utf8.encode("haurach private invite lookup v1\0");
  return new Uint8Array(await subtle.digest("SHA-256", concat(label, secret)));
}

// ------------------------------------------------------------------------------- keys

const X25519 = { name: "X25519" };
/** PKCS #8's wrapping of a raw X25519 private key (RFC 8410). */
const PKCS8_X25519 = fromHex("302e020100300506032b656e04220420");
/** The curve's base point, u = 9: X25519(k, 9) is k's public key. */
const BASE_POINT = (() => {
  const p = new Uint8Array(32);
  p[0] = 9;
  return p;
})();

/** A new device key pair; its secret cannot be read out of the browser (not
 *  extractable), only used, and may be kept in IndexedDB as it is.
 *  @returns {Promise<{secret: CryptoKey, public: Uint8Array}>} */
export async function newDevice() {
  const pair = await subtle.generateKey(X25519, false, ["deriveBits"]);
  return { secret: pair.privateKey, public: new Uint8Array(await subtle.exportKey("raw", pair.publicKey)) };
}

/** A device from a secret's 32 bytes (the tests' fixed secrets), its public key worked
 *  out as X25519(secret, 9). */
export async function deviceFromBytes(bytes) {
  const secret = await subtle.importKey("pkcs8", concat(PKCS8_X25519, bytes), X25519, false, ["deriveBits"]);
  const base = await subtle.importKey("raw", BASE_POINT, X25519, true, []);
  const pub = new Uint8Array(await subtle.deriveBits({ name: "X25519", public: base }, secret, 256));
  return { secret, public: pub };
}

/** The bond key's 32 bytes as one device derives them:
 *  `HKDF-SHA256(ikm = X25519(own secret, partner public), salt = invite secret,
 *  info = "haurach bond key v1" ‖ inviter's public key ‖ accepter's public key)`.
 *  Throws "weak" when the partner's key is of low order (the shared secret would be a
 *  constant anyone knows). */
export async function deriveBondBytes(role, device, partnerPublic, inviteSecret) {
  const partner = await subtle.importKey("raw", partnerPublic, X25519, true, []);
  let shared;
  try {
    shared = new Uint8Array(await subtle.deriveBits({ name: "X25519", public: partner }, device.secret, 256));
  } catch {
    // WebCrypto refuses an all-zero result itself.
    throw new Error("the partner's public key is not usable");
  }
  if (shared.every((b) => b === 0)) throw new Error("the partner's public key is not usable");
  const [inviter, accepter] = role === "inviter" ? [device.public, partnerPublic] : [partnerPublic, device.public];
  const ikm = await subtle.importKey("raw", shared, "HKDF", false, ["deriveBits"]);
  const info = concat(utf8.encode("haurach bond key v1"), inviter, accepter);
  return new Uint8Array(
    await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: inviteSecret, info }, ikm, 256),
  );
}

function hmacKey(bytes, extractable = false) {
  return subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, extractable, ["sign"]);
}

async function hmac(key, data) {
  return new Uint8Array(await subtle.sign("HMAC", key, data));
}

/** The key two partners share, kept as a non-extractable HMAC key: HKDF-Expand under it
 *  is one HMAC, since every key derived from it is 32 bytes (one block). */
export class BondKey {
  /** @param {CryptoKey} key HMAC-SHA-256 under the bond key's bytes */
  constructor(key) {
    this.key = key;
  }

  /** A bond key from its 32 bytes; the bytes are not kept. */
  static async fromBytes(bytes) {
    return new BondKey(await hmacKey(bytes));
  }

  /** `HKDF-Expand(bond key, label ‖ context)`, 32 bytes: `HMAC(bond key, label ‖
   *  context ‖ 0x01)`. */
  async expand(label, context = new Uint8Array(0)) {
    return hmac(this.key, concat(utf8.encode(label), context, Uint8Array.of(1)));
  }

  /** The tag `role`'s device sends to show its partner it holds the same key. */
  async confirmation(role) {
    const key = await hmacKey(await this.expand("haurach confirm v1"));
    return hmac(key, Uint8Array.of(ROLE_BYTE[role]));
  }

  /** Whether the partner's tag (bytes) is this key's for `partnerRole`. */
  async checkConfirmation(partnerRole, tag) {
    const key = await subtle.importKey(
      "raw",
      await this.expand("haurach confirm v1"),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    return subtle.verify("HMAC", key, tag, Uint8Array.of(ROLE_BYTE[partnerRole]));
  }

  /** The token key of one tier in one epoch: `"haurach tokens v1" ‖ tier ‖ 0 ‖ range
   *  in mm ‖ epoch`. */
  async tierKey(tier, rangeM, epoch) {
    const context = concat(
      utf8.encode(tier),
      Uint8Array.of(0),
      bigEndian(Math.round(rangeM * 1000), 8),
      bigEndian(epoch, 8),
    );
    return hmacKey(await this.expand("haurach tokens v1", context));
  }
}

// --------------------------------------------------------------------------- geometry

let geodesic = null;

/** Loads geographiclib's JavaScript port once, from beside this file. */
export function loadGeodesic() {
  geodesic ??= new Promise((resolve, reject) => {
    if (globalThis.geodesic?.Geodesic) {
      resolve(globalThis.geodesic.Geodesic.WGS84);
      return;
    }
    const script = document.createElement("script");
    script.src = new URL("./vendor/geographiclib/geographiclib-geodesic.min.js", import.meta.url).href;
    script.onload = () => resolve(globalThis.geodesic.Geodesic.WGS84);
    script.onerror = () => {
      geodesic = null;
      reject(new Error("the geodesic library could not be loaded"));
    };
    document.head.append(script);
  });
  return geodesic;
}

/** Degrees to radians as Rust's `f64::to_radians` rounds it. */
const RAD_PER_DEG = Math.PI / 180;

/** Rust's `f64::round`: halves away from zero (JavaScript's rounds them up). */
function roundAway(x) {
  return Math.sign(x) * Math.round(Math.abs(x));
}

/** How many chart centres band `band` (0 for 90°S to 89°S, up to 179) has. */
export function centresIn(band) {
  if (band === 0 || band === BANDS - 1) return 1;
  const edge = band < 90 ? band - 89 : band - 90;
  return Math.ceil(360 * Math.cos(edge * RAD_PER_DEG));
}

/** Centre `idx` of band `band`: {id, lat, lon}. */
export function chart(band, idx) {
  const id = band * 512 + idx;
  if (band === 0) return { id, lat: -90, lon: 0 };
  if (band === BANDS - 1) return { id, lat: 90, lon: 0 };
  const n = centresIn(band);
  return { id, lat: band - 89.5, lon: -180 + ((idx + 0.5) * 360) / n };
}

function bandOf(lat) {
  return Math.min(BANDS - 1, Math.max(0, Math.floor(lat + 90)));
}

/** Distance (m) and initial bearing in [0, 360) from (lat1, lon1) to (lat2, lon2) on
 *  WGS84, as `haurach_bond::geo::inverse`. */
export function inverse(wgs84, lat1, lon1, lat2, lon2) {
  const g = wgs84.Inverse(lat1, lon1, lat2, lon2);
  let bearing = g.azi1 % 360;
  if (bearing < 0) bearing += 360;
  if (bearing >= 360) bearing = 0;
  return { distance_m: g.s12, bearing_deg: bearing + 0 };
}

/** The charts a point uses for a grid that matches every pair within `gM`: those whose
 *  centre is within `d₀ + 2·gM`, nearest first, each `{chart, distance_m}` (as
 *  `haurach_private::geometry::charts_near`). */
export function chartsNear(wgs84, lat, lon, gM) {
  const g = Math.min(30_000, Math.max(0, gM));
  const reach = CORE_RADIUS_M + 2 * g;
  const near = [];
  const band = bandOf(lat);
  for (let b = Math.max(0, band - 2); b <= Math.min(BANDS - 1, band + 2); b++) {
    const n = centresIn(b);
    const poleward = Math.min(90, Math.max(Math.abs(lat), Math.abs(b - 89.5)) + 1.6);
    const parallelDegM = 111_000 * Math.cos(poleward * RAD_PER_DEG);
    const window = (2 * reach) / parallelDegM;
    let idxs;
    if (n === 1 || Number.isNaN(window) || window >= 90) {
      idxs = Array.from({ length: n }, (_, k) => k);
    } else {
      const spacing = 360 / n;
      const centreIdx = roundAway((lon + 180) / spacing - 0.5);
      const span = Math.ceil(window / spacing) + 1;
      const set = new Set();
      for (let k = centreIdx - span; k <= centreIdx + span; k++) set.add(((k % n) + n) % n);
      idxs = [...set].sort((x, y) => x - y);
    }
    for (const idx of idxs) {
      const c = chart(b, idx);
      const distance_m = inverse(wgs84, c.lat, c.lon, lat, lon).distance_m;
      if (distance_m <= reach) near.push({ chart: c, distance_m });
    }
  }
  near.sort((x, y) => x.distance_m - y.distance_m);
  const nearest = near.length ? near[0].distance_m : 0;
  return near.filter((n) => n.distance_m <= nearest + 2 * g);
}

/** Where (lat, lon) is on `chart`: metres east and north of its centre, by the azimuthal
 *  equidistant projection. */
export function project(wgs84, c, lat, lon) {
  const g = inverse(wgs84, c.lat, c.lon, lat, lon);
  const azimuth = g.bearing_deg * RAD_PER_DEG;
  return [g.distance_m * Math.sin(azimuth), g.distance_m * Math.cos(azimuth)];
}

/** The cell of the grid `shift`, cells of side `side`, that holds (x, y). */
export function cell(x, y, side, shift) {
  const third = side / 3;
  return [Math.floor((x - shift.i * third) / side), Math.floor((y - shift.j * third) / side)];
}

/** The cell sides of a tier of range `range`: [to open, to keep open], metres. */
export function cellSides(range) {
  const open = OPEN_CELL * range;
  return [open, open * HYSTERESIS];
}

// ----------------------------------------------------------------------------- tokens

/** The epoch a moment (Unix ms) falls in. */
export function epochOf(atMs) {
  return Math.floor(atMs / EPOCH_MS);
}

/** The real tokens of one grid size (kind 0 open, 1 keep) under one tier key. */
async function gridTokens(placed, key, kind, side) {
  const nearest = placed.length ? placed[0].near.distance_m : 0;
  const reach = nearest + 2 * ((2 * side) / 3);
  const charts = placed.filter((p) => p.near.distance_m <= reach).slice(0, MAX_CHARTS);
  const jobs = [];
  for (const { near, xy } of charts) {
    for (const shift of SHIFTS) {
      const [cx, cy] = cell(xy[0], xy[1], side, shift);
      const data = concat(
        Uint8Array.of(kind),
        bigEndian(near.chart.id, 4),
        Uint8Array.of(shift.i, shift.j),
        bigEndian(cx, 8),
        bigEndian(cy, 8),
      );
      jobs.push(hmac(key, data).then((full) => full.slice(0, TOKEN_LEN)));
    }
  }
  return Promise.all(jobs);
}

/** `tokens` padded with random ones to PER_LIST, sorted. `fill` fills an array with
 *  random bytes (the tests pass one that fills zeros, to compare with the Rust library). */
function padded(tokens, fill) {
  const random = new Uint8Array(Math.max(0, PER_LIST - tokens.length) * TOKEN_LEN);
  fill(random);
  for (let at = 0; at < random.length; at += TOKEN_LEN) tokens.push(random.slice(at, at + TOKEN_LEN));
  return tokens.sort(compareBytes);
}

/** The token report for a fix `{lat, lon, accuracy_m, at_ms}` in a bond with `profile`:
 *  `{epochs: [{epoch, tiers: [{tier, open: [Uint8Array], keep: [Uint8Array]}]}]}`, as
 *  `haurach_private::tokens::report_with`. */
export async function report(key, profile, fix, fill = (a) => crypto.getRandomValues(a)) {
  const wgs84 = await loadGeodesic();
  const epoch = epochOf(fix.at_ms);
  const epochs = [epoch];
  if (fix.at_ms >= (epoch + 1) * EPOCH_MS - LOOKAHEAD_MS) epochs.push(epoch + 1);
  const ranged = TIERS.filter((t) => rangeM(profile, t) !== null);
  const largest = ranged.map((t) => cellSides(rangeM(profile, t))[1]).reduce((a, b) => Math.max(a, b), 0);
  const placed = chartsNear(wgs84, fix.lat, fix.lon, (2 * largest) / 3).map((near) => ({
    near,
    xy: project(wgs84, near.chart, fix.lat, fix.lon),
  }));
  const accuracy = fix.accuracy_m > 0 ? fix.accuracy_m : 0;
  const out = [];
  for (const e of epochs) {
    const tiers = [];
    for (const tier of ranged) {
      const range = rangeM(profile, tier);
      const [openSide, keepSide] = cellSides(range);
      const usable = tier === "memories" || accuracy <= range / 2;
      let open = [];
      let keep = [];
      if (usable) {
        const tierKey = await key.tierKey(tier, range, e);
        [open, keep] = await Promise.all([gridTokens(placed, tierKey, 0, openSide), gridTokens(placed, tierKey, 1, keepSide)]);
      }
      tiers.push({ tier, open: padded(open, fill), keep: padded(keep, fill) });
    }
    out.push({ epoch: e, tiers });
  }
  return { epochs: out };
}

/** A report as the link's `report` frame carries it: each list's tokens side by side in
 *  base64 (`haurach_proto::TokenReport`). */
export function reportFrame(r) {
  return {
    type: "report",
    epochs: r.epochs.map((e) => ({
      epoch: e.epoch,
      tiers: e.tiers.map((t) => ({ tier: t.tier, open: toBase64(concat(...t.open)), keep: toBase64(concat(...t.keep)) })),
    })),
  };
}

// ---------------------------------------------------------------------------- sealing

/** The sender's counter's length in front of a sealed string's bytes. */
const COUNTER_LEN = 8;
/** The nonce's length: GCM's 96 bits. */
const NONCE_LEN = 12;
/** What sealing adds to the content: the nonce and the 16-byte tag. */
export const OVERHEAD = NONCE_LEN + 16;
/** The most bytes of content one sealed string carries (`haurach_proto::sealed::MAX_CONTENT`:
 *  4,000 characters of words of up to 4 bytes each). */
export const MAX_CONTENT = 16_000;
/** The fewest bytes a sealed string decodes to: a counter and an empty content sealed. */
const MIN_BYTES = COUNTER_LEN + OVERHEAD;
/** The longest a sealed string may be, characters. */
const MAX_CHARS = Math.ceil(((MIN_BYTES + MAX_CONTENT) * 4) / 3);

/** The bond's content key, `HKDF-Expand(bond key, "haurach content v1")`, as a
 *  non-extractable AES-256-GCM key (as `haurach_private::Sealer::new`). */
export async function contentKey(bondKey) {
  const bytes = await bondKey.expand("haurach content v1");
  try {
    return await subtle.importKey("raw", bytes, "AES-GCM", false, ["encrypt", "decrypt"]);
  } finally {
    bytes.fill(0);
  }
}

/** A UUID's 16 bytes, from its text (the server's bond id). */
function uuidBytes(id) {
  const bytes = fromHex(String(id).replaceAll("-", ""));
  if (!bytes || bytes.length !== 16) throw new Error("not a bond id");
  return bytes;
}

/** The associated data of a sealed content: `"haurach seal v1\0" ‖ bond id ‖ the sender's
 *  role ‖ the kind's length and bytes ‖ the counter` (as `haurach_private::seal`). */
function associatedData({ bond, from, kind }, counterBytes) {
  const kindBytes = utf8.encode(kind);
  if (kindBytes.length > 255) throw new Error("the kind is too long");
  return concat(
    utf8.encode("haurach seal v1\0"),
    uuidBytes(bond),
    Uint8Array.of(ROLE_BYTE[from]),
    Uint8Array.of(kindBytes.length),
    kindBytes,
    counterBytes,
  );
}

/** Base64url without padding (RFC 4648 §5), as the `sealed` field carries bytes. */
export function toBase64Url(bytes) {
  return toBase64(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The bytes of base64url text without padding, or null when it is not exactly that: a
 *  stray character, padding, or unused bits set in the last character are refused, as
 *  the Rust decoder refuses them, so the page opens exactly what the CLI opens. */
export function fromBase64Url(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  let binary;
  try {
    binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  } catch {
    return null;
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return toBase64Url(bytes) === text ? bytes : null;
}

/**
 * Seals `content` (bytes) as the sender's `counter`-th sealed thing in the bond: the
 * `sealed` string to send, base64url of `counter (8 bytes, big-endian) ‖ nonce ‖
 * ciphertext ‖ tag` (`haurach_proto::sealed::Envelope::seal`).
 * @param {CryptoKey} key the content key
 * @param {{bond: string, from: string, kind: string}} envelope the bond's id, the
 *   sender's role ("inviter" or "accepter") and the kind ("voice", "feeling", "alarm",
 *   "thought")
 * @param {number} counter a whole number, never used twice by this sender in this bond
 * @param {Uint8Array} content at most MAX_CONTENT bytes
 * @param {Uint8Array} [nonce] 12 bytes; random unless given (the tests give one, to
 *   compare with the Rust library)
 */
export async function seal(key, envelope, counter, content, nonce = crypto.getRandomValues(new Uint8Array(NONCE_LEN))) {
  if (content.length > MAX_CONTENT) throw new Error("too long to seal");
  return toBase64Url(await sealBytes(key, envelope, counter, content, nonce));
}

/** What sealing adds to a camera frame's JPEG: the counter, the nonce and the tag
 *  (`haurach_proto::sealed::FRAME_OVERHEAD`). */
export const FRAME_OVERHEAD = COUNTER_LEN + OVERHEAD;

/**
 * Seals `content` as `seal` does, as bytes rather than a string: `counter (8 bytes,
 * big-endian) ‖ nonce ‖ ciphertext ‖ tag`, what follows a sealed camera frame's first
 * byte (`haurach_proto::sealed::Envelope::seal_frame`). Not bounded here: the server
 * bounds a camera frame by the side the bond allows.
 */
export async function sealBytes(key, envelope, counter, content, nonce = crypto.getRandomValues(new Uint8Array(NONCE_LEN))) {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new Error("not a counter");
  if (nonce.length !== NONCE_LEN) throw new Error("a nonce is 12 bytes");
  const counterBytes = new Uint8Array(COUNTER_LEN);
  new DataView(counterBytes.buffer).setBigUint64(0, BigInt(counter));
  const additionalData = associatedData(envelope, counterBytes);
  const sealed = await subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData, tagLength: 128 }, key, content);
  return concat(counterBytes, nonce, new Uint8Array(sealed));
}

/**
 * Opens a `sealed` string sealed under `envelope`: `{counter, content}`, the counter a
 * BigInt (it is a u64), or null when it does not open: not of the sealed shape, a byte
 * changed on the way, another key, or another bond, sender or kind. Nothing more is
 * said, as the library says nothing more.
 */
export async function open(key, envelope, text) {
  if (typeof text !== "string" || text.length > MAX_CHARS) return null;
  const raw = fromBase64Url(text);
  if (!raw) return null;
  return openBytes(key, envelope, raw);
}

/** Opens sealed bytes (`counter ‖ nonce ‖ ciphertext ‖ tag`, as `sealBytes` makes them):
 *  `{counter, content}`, or null when they do not open. */
export async function openBytes(key, envelope, raw) {
  if (!(raw instanceof Uint8Array) || raw.length < MIN_BYTES) return null;
  const counterBytes = raw.slice(0, COUNTER_LEN);
  const iv = raw.slice(COUNTER_LEN, COUNTER_LEN + NONCE_LEN);
  try {
    const additionalData = associatedData(envelope, counterBytes);
    const content = await subtle.decrypt({ name: "AES-GCM", iv, additionalData, tagLength: 128 }, key, raw.slice(COUNTER_LEN + NONCE_LEN));
    return { counter: new DataView(counterBytes.buffer).getBigUint64(0), content: new Uint8Array(content) };
  } catch {
    return null;
  }
}
