// A private bond in the page (issue 20, docs/privacy.md): making and accepting a private
// invite, the device's keys kept in this browser, the key confirmation, and the token
// reports the link carries instead of positions. private.js does the cryptography and
// the geometry; this file decides what is sent, and sends only what the server may see:
// the invite's lookup hash, the device's public key, its confirmation tag and tokens.
//
// What this browser keeps, per person, in IndexedDB (database `haurach-private`): the
// device's X25519 secret as a non-extractable CryptoKey (the page can use it, no script
// can read its bytes), the invite's secret until the bond key is derived, the bond key as
// a non-extractable HMAC key, whether the partner's device confirmed the same key, the
// counter of what this device has sealed in the bond (`sealed`), and where it opened each
// of the partner's counters (`seen`, see `judgeSeen`). IndexedDB rather
// than localStorage because it keeps CryptoKeys as they are; localStorage keeps only
// text, which would put the secrets' bytes within reach of any script.
//
// The counter must never be given twice in one bond, across reloads and across two tabs
// of the same person: the partner orders sealed thoughts by it and could not tell a
// replay from a new message if two shared one. Each counter is taken in one IndexedDB
// read-write transaction (read, add one, write), and the browser runs read-write
// transactions on one store one after another, whichever tab opened them; it is used
// only once the transaction has committed, with strict durability (written to disk), so
// a reload or a crash can lose a counter, never give one again. Every other write of the
// entry changes only its own fields in the same way, so none writes back an old counter.

import { call, ApiError } from "./api.js";
import { keyedStore } from "./keyed.js";
import * as priv from "./private.js";

const DB = "haurach-private";
const STORE = "bonds";

/** Whether this browser can take part in a private bond: WebCrypto exists only on a
 *  secure (HTTPS or localhost) page. */
export const available = Boolean(globalThis.crypto?.subtle && globalThis.indexedDB);

const bonds = keyedStore(DB, STORE);

const who = (name) => String(name).toLowerCase();
const load = (name) => bonds.get(who(name));
const save = (entry) => bonds.put(entry);

/** Changes this person's entry in one read-write transaction: `change(entry)` edits
 *  the entry as it is now and returns what to resolve with. Resolves once the change is
 *  on disk (with `durability` "strict", the default; "relaxed" once the browser has it);
 *  fails when there is no entry. */
function update(name, change, durability = "strict") {
  return bonds.update(who(name), change, { durability, missing: new Error("this browser holds no keys for the bond") });
}

/** Forgets this person's private bond or invite here (the bond ended, or it is plain). */
export function forget(name) {
  return bonds.delete(who(name)).catch(() => {});
}

/** The private invite this person made here and nobody has accepted yet, if it still
 *  works: `{code, expires_at}`. */
export async function pendingInvite(name) {
  if (!available) return null;
  const entry = await load(name).catch(() => null);
  if (entry?.role !== "inviter" || !entry.invite || entry.bondKey || new Date(entry.expires_at) <= new Date()) {
    return null;
  }
  return { code: priv.inviteCode(entry.invite), expires_at: entry.expires_at };
}

/** The `forget_places` of a request that makes a private invite or bond: the places the
 *  server keeps for this person, which this device has written into its own book first
 *  (deviceplaces.moveFromServer); none named, none sent. */
const forgetting = (names) => (names.length ? { forget_places: names } : {});

/** Makes a private invite: the secret and this device's keys here, only the secret's
 *  lookup hash and the public key to the server (and the names of the places it may
 *  forget, `forgetPlaces`). Returns `{code, expires_at}`. */
export async function invite(name, forgetPlaces = []) {
  const secret = priv.newInviteSecret();
  const device = await priv.newDevice();
  const made = await call("POST", "/api/v1/bond/private-invites", {
    lookup: priv.toHex(await priv.lookup(secret)),
    public_key: priv.toHex(device.public),
    ...forgetting(forgetPlaces),
  });
  await save({
    who: who(name),
    role: "inviter",
    device: device.secret,
    public: device.public,
    invite: secret,
    bondKey: null,
    confirmed: false,
    expires_at: made.expires_at,
  });
  return { code: priv.inviteCode(secret), expires_at: made.expires_at };
}

/** Accepts a private invite by its code: this device's keys made and kept here with the
 *  invite's secret, then the bond made. Returns the bond's view; `standing` derives the
 *  bond key and sends this device's tag, as for the inviter. The keys are kept before the
 *  bond is made, since the link's `bonded` frame may come before the answer does. */
export async function accept(name, code, profile, forgetPlaces = []) {
  const secret = priv.parseInviteCode(code);
  if (!secret) throw new Error("that is not a private invite code");
  const device = await priv.newDevice();
  await save({
    who: who(name),
    role: "accepter",
    device: device.secret,
    public: device.public,
    invite: secret,
    bondKey: null,
    confirmed: false,
  });
  try {
    return await call("POST", "/api/v1/bond/private", {
      lookup: priv.toHex(await priv.lookup(secret)),
      public_key: priv.toHex(device.public),
      profile,
      ...forgetting(forgetPlaces),
    });
  } catch (e) {
    await forget(name);
    throw e;
  }
}

async function sendTag(key, role) {
  await call("PUT", "/api/v1/bond/private/confirmation", { tag: priv.toHex(await key.confirmation(role)) });
}

/**
 * Where this person's bond stands, as far as this device can take it:
 * - `plain`: not a private bond (positions go as usual);
 * - `unavailable`: private, and this page cannot use WebCrypto (not HTTPS);
 * - `elsewhere`: private, and its keys are not in this browser;
 * - `waiting`: the bond key is derived and sent, the partner's tag not yet there;
 * - `confirmed`: both devices hold the same key (`key` is set);
 * - `mismatch`: the partner's tag is not this key's: the keys were tampered with.
 * With `maxSpeedKmh`, the city's plausible top speed (`max_speed_kmh`), by which this
 * device judges its own stretch (the server sees no position).
 * @returns {Promise<{status: string, key?: priv.BondKey, role?: string, maxSpeedKmh?: number}>}
 */
export async function standing(name) {
  let view;
  try {
    view = await call("GET", "/api/v1/bond/private");
  } catch (e) {
    if (e instanceof ApiError && (e.code === "plain_bond" || e.code === "not_bonded")) {
      // A private invite this device made was not the one taken: nothing to keep.
      if (available && e.code === "plain_bond") await forget(name);
      return { status: "plain" };
    }
    throw e;
  }
  if (!available) return { status: "unavailable" };
  const entry = await load(name).catch(() => null);
  if (!entry || entry.role !== view.role) return { status: "elsewhere" };
  const role = entry.role;
  const other = role === "inviter" ? "accepter" : "inviter";
  let key;
  if (entry.bondKey) {
    key = new priv.BondKey(entry.bondKey);
  } else if (entry.invite) {
    const partner = priv.fromHex(view[`${other}_key`]);
    const bytes = await priv.deriveBondBytes(role, { secret: entry.device, public: entry.public }, partner, entry.invite);
    key = await priv.BondKey.fromBytes(bytes);
    bytes.fill(0);
    await sendTag(key, role);
    // The secret has done its work: the bond key is all this device needs now.
    await update(name, (kept) => {
      kept.invite = null;
      kept.bondKey = key.key;
    });
  } else {
    return { status: "elsewhere" };
  }
  const maxSpeedKmh = view.max_speed_kmh;
  if (entry.confirmed) return { status: "confirmed", key, role, maxSpeedKmh };
  const tag = view[`${other}_tag`];
  if (!tag) return { status: "waiting", key, role };
  const bytes = priv.fromHex(tag);
  if (!bytes || bytes.length !== 32 || !(await key.checkConfirmation(other, bytes))) {
    return { status: "mismatch", role };
  }
  await update(name, (kept) => {
    kept.confirmed = true;
  });
  return { status: "confirmed", key, role, maxSpeedKmh };
}

/** Takes the counter for the next thing this device seals in this person's bond: one
 *  more than the last, on disk before it is returned (see the top of this file). */
export function nextCounter(name) {
  return update(name, (entry) => {
    entry.sealed = (entry.sealed ?? 0) + 1;
    return entry.sealed;
  });
}

/** How many of the partner's messages are remembered one by one (as
 *  `haurach_private::seen::MESSAGE_WINDOW`). */
export const MESSAGE_WINDOW = 1024;
/** How many counters of each latest kind are remembered (`LATEST_WINDOW`). */
export const LATEST_WINDOW = 64;

/**
 * Judges a sealed thing of the partner's that opened with `counter` at `place` (`{seq}`
 * for a message at its sequence number, `{kind}` for a latest kind: a position, a
 * thought, a glimpse, a frame of the sight), against `seen`, what this device opened
 * before, and remembers it there when it is new: exactly `haurach_private::seen`
 * (docs/privacy.md, "Replays"), in the same shape (`messages` as `[counter, seq]` pairs
 * by counter, `floor` as `{counter, seq}`, `latest` as counters by kind, rising).
 * Returns "fresh" or "again" (show it), "replayed" (the server sent it again: do not
 * show it, say so) or "older" (a latest kind that overtook a newer one: do not show it).
 */
export function judgeSeen(seen, counter, place) {
  if (place.seq !== undefined) {
    const messages = (seen.messages ??= []);
    const at = messages.find(([c]) => c === counter);
    if (at) return at[1] === place.seq ? "again" : "replayed";
    // Another counter already opened at this sequence number.
    if (messages.some(([, seq]) => seq === place.seq)) return "replayed";
    const floor = seen.floor;
    if (floor && counter <= floor.counter) return place.seq > floor.seq ? "replayed" : "again";
    messages.push([counter, place.seq]);
    messages.sort((a, b) => a[0] - b[0]);
    while (messages.length > MESSAGE_WINDOW) {
      const [c, seq] = messages.shift();
      seen.floor = seen.floor
        ? { counter: Math.max(seen.floor.counter, c), seq: Math.max(seen.floor.seq, seq) }
        : { counter: c, seq };
    }
    return "fresh";
  }
  const latest = (seen.latest ??= {});
  const counters = (latest[place.kind] ??= []);
  const newest = counters.at(-1);
  if (newest === undefined || counter > newest) {
    counters.push(counter);
    if (counters.length > LATEST_WINDOW) counters.shift();
    return "fresh";
  }
  if (counter === newest) return "again";
  return counters.includes(counter) ? "replayed" : "older";
}

/** Whether a verdict of `judgeSeen` lets what opened be shown. */
export const shows = (verdict) => verdict === "fresh" || verdict === "again";

/** Judges the partner's sealed thing of `counter` at `place` against what this browser
 *  opened in this person's bond (`judgeSeen`), in one read-write transaction, so two tabs
 *  judge one after the other; resolves once it is remembered. Relaxed durability: a crash
 *  can forget the last few things opened (each would then show once more if sent again),
 *  where strict would cost a disk flush per frame of the sight. */
export function judge(name, counter, place) {
  return update(
    name,
    (entry) => {
      entry.seen ??= {};
      return judgeSeen(entry.seen, counter, place);
    },
    "relaxed",
  );
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** What this device needs to seal and open in its private bond: the content key, the
 *  bond's id and its own role. Made once the keys are confirmed. */
export class Sealing {
  /** @param {string} name the person, whose entry keeps the counter
   *  @param {string} bond the bond's id
   *  @param {{key: priv.BondKey, role: string}} standing as `standing` gave it, confirmed */
  static async of(name, bond, standing) {
    return new Sealing(name, bond, standing.role, await priv.contentKey(standing.key));
  }

  constructor(name, bond, role, key) {
    this.name = name;
    this.bond = bond;
    this.role = role;
    this.key = key;
    // One thing sealed at a time, in the order asked: counters are taken in that order,
    // so what is sent in that order has rising counters (a partner keeps the highest
    // thought).
    this.queue = Promise.resolve();
    // What is opened is judged against replays in the order it was asked, whatever order
    // the decryptions end in: of the same sealed thing at two places, the first asked
    // for (a history is opened in sequence order) is the one shown.
    this.judging = Promise.resolve();
  }

  /** Judges the partner's sealed thing at `place` after everything asked before it
   *  (`judge`), once `counter` resolves; nothing when it resolves to null (it did not
   *  open). */
  judgeInTurn(counter, place) {
    const run = this.judging.then(async () => {
      const n = await counter;
      return n === null ? null : judge(this.name, Number(n), place);
    });
    this.judging = run.catch(() => {});
    return run;
  }

  envelope(mine, kind) {
    const other = this.role === "inviter" ? "accepter" : "inviter";
    return { bond: this.bond, from: mine ? this.role : other, kind };
  }

  /** Seals `text` (UTF-8) as this device's next sealed thing of `kind`: the `sealed`
   *  string to send. */
  seal(kind, text) {
    const run = this.queue.then(async () => {
      const counter = await nextCounter(this.name);
      return priv.seal(this.key, this.envelope(true, kind), counter, utf8.encode(text));
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** Seals `bytes` (a camera frame's JPEG) as this device's next sealed thing of `kind`:
   *  the bytes that follow a sealed frame's first byte. */
  sealBytes(kind, bytes) {
    const run = this.queue.then(async () => {
      const counter = await nextCounter(this.name);
      return priv.sealBytes(this.key, this.envelope(true, kind), counter, bytes);
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** Seals each of `contents` (a picture's renditions) as this device's next sealed
   *  thing of `kind`, all under one counter, as the library's `seal_picture` does: the
   *  sealed bytes of each, in the order given. */
  sealAll(kind, contents) {
    const run = this.queue.then(async () => {
      const counter = await nextCounter(this.name);
      const out = [];
      for (const content of contents) out.push(await priv.sealBytes(this.key, this.envelope(true, kind), counter, content));
      return out;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** Opens sealed bytes of `kind` sealed by this device (`mine`) or the partner's: the
   *  content, or null when it does not open. A picture's renditions share one counter, so
   *  a larger one fetched later carries the counter of one opened before. */
  async openAny(mine, kind, bytes) {
    const opened = await priv.openBytes(this.key, this.envelope(mine, kind), bytes);
    return opened && opened.content;
  }

  /** Opens the partner's sealed bytes of `kind` (a camera frame, a latest kind):
   *  `{content, verdict}` (`judgeSeen`'s), or null when it does not open. */
  async openBytes(kind, bytes) {
    const opening = priv.openBytes(this.key, this.envelope(false, kind), bytes);
    const verdict = this.judgeInTurn(opening.then((o) => o?.counter ?? null), { kind });
    const opened = await opening;
    if (!opened) return null;
    return { content: opened.content, verdict: await verdict };
  }

  /** Opens a sealed string of this bond, sealed by this device (`mine`) or the partner's:
   *  `{counter, text, verdict}`, or null when it does not open. The partner's is judged
   *  at `place` (`judgeSeen`: `{seq}` for a message, `{kind}` for a latest kind), and
   *  remembered here; this device's own, and one opened without a place (a journal
   *  entry), is not (`verdict` "fresh"). */
  async open(mine, kind, sealed, place = null) {
    const opening = priv.open(this.key, this.envelope(mine, kind), sealed);
    const judged = mine || !place ? null : this.judgeInTurn(opening.then((o) => o?.counter ?? null), place);
    const opened = await opening;
    if (!opened) return null;
    const verdict = judged ? await judged : "fresh";
    return { counter: opened.counter, text: fromUtf8.decode(opened.content), verdict };
  }
}

/** The `report` frame for a fix, made here: tokens of the cells the fix stands in, for
 *  the bond's profile, at now's epoch. */
export async function reportFrame(key, profile, fix) {
  const r = await priv.report(key, profile, {
    lat: fix.lat,
    lon: fix.lon,
    accuracy_m: fix.accuracy_m ?? 0,
    at_ms: Date.now(),
  });
  return priv.reportFrame(r);
}

/** How long until a report should go again though nothing moved: a few seconds into the
 *  next epoch's look-ahead, so both partners' latest reports share the coming epoch
 *  before it begins. */
export function untilNextReport(now = Date.now()) {
  const epoch = priv.epochOf(now);
  let at = (epoch + 1) * priv.EPOCH_MS - priv.LOOKAHEAD_MS + 5_000;
  if (at <= now) at += priv.EPOCH_MS;
  return at - now;
}

/** The link a private invite's QR code holds: this page with the code after `#accept=`.
 *  A phone's camera opens it in the browser, and the page fills the code in; what
 *  follows `#` is never sent to a server (no request, no Referer carries it). */
export function inviteLink(code) {
  return `${location.origin}/#accept=${encodeURIComponent(code)}`;
}

/** The code taken from a link `inviteLink` made, if the page was opened from one:
 *  taken out of the address at once, so it stays in neither the history nor a bookmark. */
export function codeFromLink() {
  const m = /^#accept=([^&]+)$/.exec(location.hash);
  if (!m) return null;
  history.replaceState(null, "", location.pathname + location.search);
  let code;
  try {
    code = decodeURIComponent(m[1]).trim();
  } catch {
    return null;
  }
  return priv.isPrivateCode(code) ? code : null;
}

/** The invite's link (`inviteLink`) drawn as a QR code (an SVG element), here in the
 *  page: the code is the invite's secret, so the server never draws it. The encoder
 *  (vendor/qr/) is loaded the first time. */
export async function qrCode(code) {
  const { encodeQR } = await import("./vendor/qr/qr.js");
  const rows = encodeQR(inviteLink(code), "raw", { ecc: "medium", border: 4 });
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${rows.length} ${rows.length}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "The private invite as a QR code: your partner's phone camera opens this page with the code filled in");
  svg.setAttribute("shape-rendering", "crispEdges");
  const paper = document.createElementNS(ns, "rect");
  paper.setAttribute("width", String(rows.length));
  paper.setAttribute("height", String(rows.length));
  paper.setAttribute("fill", "#fff");
  let d = "";
  rows.forEach((row, y) => row.forEach((dark, x) => {
    if (dark) d += `M${x} ${y}h1v1h-1z`;
  }));
  const modules = document.createElementNS(ns, "path");
  modules.setAttribute("d", d);
  modules.setAttribute("fill", "#000");
  svg.append(paper, modules);
  return svg;
}

export { isPrivateCode } from "./private.js";
