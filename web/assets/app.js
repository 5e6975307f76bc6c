// The Haurach web client: the gate (register, log in), bonding, and the link itself.
//
// State lives in one object, `state`; the server is the source of truth and every `hello`
// frame (each (re)connection) replaces the bond as the page knows it. Messages the person
// sends go to a local outbox first (kept in localStorage) and leave it only when the
// server says they are stored (`sent`), so a message typed while offline goes out after
// the reconnection, with the same id, and the server stores it once.
//
// In a private bond (docs/privacy.md) words, feelings, an alarm's words and thoughts are
// sealed here before they leave (`privatebond.Sealing`), and what the partner sealed is
// opened here before it is shown; the server carries only the sealed strings. A message
// is sealed once, when it is queued, so a retry sends the same string. Where the person
// is goes the same way: after each token report the fix is rounded to what the open
// tiers allow (`rounding.js`, as `haurach_private::rounding`) and sealed as a
// `sealed_fix`; the partner's is opened here and the pull worked out from it.

import { api, ApiError, call, newId, session } from "./api.js";
import { Camera } from "./camera.js";
import * as devices from "./devices.js";
import * as city from "./city.js";
import { Memories } from "./memories.js";
import * as fmt from "./format.js";
import { holdToConfirm } from "./hold.js";
import { Journey } from "./journey.js";
import { Link } from "./link.js";
import { BondMap } from "./map.js";
import * as locate from "./locate.js";
import { Pictures } from "./pictures.js";
import * as push from "./push.js";
import { Pause } from "./pause.js";
import { Places } from "./places.js";
import * as privateBond from "./privatebond.js";
import * as devicePlaces from "./deviceplaces.js";
import { loadGeodesic } from "./private.js";
import * as rounding from "./rounding.js";
import { destination, Radar, sphereDistance } from "./radar.js";
import { ThoughtSender, ThoughtText } from "./thoughts.js";

const $ = (id) => document.getElementById(id);

/** How often the whole thought is sent again from empty (XEP-0301's reset). */
const THOUGHT_RESET_MS = 3000;
/** Messages kept on screen. */
const HISTORY_SHOWN = 200;
/** Messages fetched back from the resume point when the page opens. */
const HISTORY_FETCH = 500;
/** A bond view that says "lost" right after connecting is often only the partner not
 *  having spoken yet; the banner waits this long for a `contact` frame to say "live". */
const LOST_GRACE_MS = 2500;

const state = {
  me: null,
  bond: null,
  /** seq → Message, for the bond on screen. */
  messages: new Map(),
  /** The highest message seq shown: the link resumes after it. null until the first hello. */
  cursor: null,
  acked: 0,
  outbox: [],
  /** {lat, lon, accuracy_m, source: "device"|"hand"} */
  position: null,
  heading: null,
  guarded: localStorage.getItem("haurach.guard") === "on",
  partnerThought: new ThoughtText(),
  /** In a private bond: the counter of the newest sealed thought shown (the highest is
   *  the newest), and what to say when one does not open. */
  partnerThoughtCounter: -1n,
  thoughtNote: "",
  /** In a private bond: the partner's latest sealed position, `{sealed, at, counter,
   *  opened}`, `opened` being `{lat, lon, reach_m, exact}` or null when it does not open. */
  partnerFix: null,
  /** Sealed contents opened here: `from, kind, sealed` → `{text}`, or `{failed: true}`
   *  when it does not open. */
  opened: new Map(),
  /** The partner's newest feeling, said under the feelings until it has been said once:
   *  `{seq, said}`. */
  feelingIn: null,
  historyFor: null,
  screen: "loading",
  gpsWatch: null,
  contactShownLost: false,
  alarmsIn: [],
  mode: "login",
  /** The bond's privacy as this device knows it: `{bondId, status, key?, role?}`, status
   *  as `privateBond.standing` says, or `checking`. null while no bond is shown. Nothing
   *  about where the person is leaves the page until it says `plain` (a position) or
   *  `confirmed` (a token report) for the bond on screen. */
  private: null,
};

const link = new Link({
  token: () => session.token,
  after: () => state.cursor,
  onFrame: (frame) => onFrame(frame),
  onBinary: (bytes) => camera.onBinary(bytes),
  onState: (s, detail) => renderConnection(s, detail),
  onDrop: () => checkSession(),
});

const thoughts = new ThoughtSender((frame) => link.send(frame));

const map = new BondMap({ me: () => state.me, partner: () => state.bond?.partner ?? null });
const places = new Places({
  position: () => state.position,
  me: () => state.me,
  partner: () => state.bond?.partner ?? null,
  notice: (text) => notice(text),
  onView: (view, meeting) => {
    map.places(view);
    map.meeting(meeting);
  },
  // On a private bond with confirmed keys the places are this device's (deviceplaces.js).
  sealing: () => sealing(),
  paused: () => pause.paused || pause.pausing,
  sightOpen: () => Boolean(state.bond?.tiers?.sight?.open),
  partnerFix: () => state.partnerFix?.opened ?? null,
  lastSeq: () => Math.max(state.bond?.last_seq ?? 0, state.cursor ?? 0),
  send: (kind, text) => sendMessage(kind, { body: text }),
});
const pause = new Pause({
  el: (id) => $(id),
  me: () => state.me,
  onChange: (resumed) => {
    renderBond();
    if (resumed) sendPosition(true);
  },
  notice: (text) => notice(text),
});
let journey = null;
const camera = new Camera({
  link,
  call,
  el: (id) => $(id),
  bond: () => state.bond,
  me: () => state.me,
  privacy: () => privacyNow(),
  known: () => privacyKnown(),
  sealing: () => sealing(),
  sendTrace: (frame) => sendTrace(frame),
  canTrace: () => canTrace(),
});

const memories = new Memories({ el: (id) => $(id), bond: () => state.bond, privacy: () => privacyKnown(), sealing: () => sealing() });

const pictures = new Pictures({
  gallery: $("gallery"),
  me: () => state.me,
  onStatus: (text) => ($("image-status").textContent = text),
  sendFrame: (frame) => sendTrace(frame),
  canTrace: () => canTrace(),
  known: () => privacyKnown(),
  sealing: () => sealing(),
});

// ---------------------------------------------------------------------------- screens

function show(screen, { focus = true } = {}) {
  const changed = state.screen !== screen;
  state.screen = screen;
  for (const s of document.querySelectorAll(".screen")) {
    s.hidden = s.id !== `screen-${screen}`;
  }
  $("page-foot").hidden = screen !== "bond";
  // The camera is never left on behind another screen.
  if (screen !== "bond" && scanner?.running) {
    scanner.stop();
    $("scan-box").hidden = true;
    $("scan-start").hidden = false;
  }
  if (changed && focus) {
    const heading = document.querySelector(`#screen-${screen} h1`);
    heading?.focus({ preventScroll: false });
  }
  if (screen === "link") {
    startPosition();
    if (changed) devices.show();
  }
}

/** The screen a tapped notification asked for (`/?open=letters`), shown once the link
 *  is live. */
let pendingOpen = new URLSearchParams(location.search).get("open");
if (pendingOpen) history.replaceState(null, "", "/");

/** Shows the screen a notification names: the bond, letters or summonses. */
function openScreen(screen) {
  // "NAME asks where you are", tapped: the page answers as it opens.
  if (screen === "locate") {
    locate.answer();
    screen = "link";
  }
  const go = { link: "home", letters: "letters", summons: "summons" }[screen];
  const button = go && document.querySelector(`[data-go="${go}"]`);
  if (button && !button.hidden) button.click();
}

/** A private invite's code from the link its QR code holds, until the bond screen
 *  fills it in (kept in memory only). */
let scannedCode = null;

async function boot() {
  scannedCode = privateBond.codeFromLink();
  // The page already open when the link is followed (only what follows `#` changed).
  window.addEventListener("hashchange", () => {
    const code = privateBond.codeFromLink();
    if (!code) return;
    scannedCode = code;
    if (state.screen === "bond") fillScannedCode();
  });
  wire();
  push.init(openScreen);
  devices.init();
  locate.init({
    bond: () => state.bond,
    position: () => state.position,
    setPosition: (p) => {
      state.position = p;
      renderPosition();
      renderBond();
    },
    sendNow: () => sendPosition(true),
    paused: () => pause.paused,
  });
  city.init({
    show,
    home: showHome,
    notice,
    stretch: (text) => {
      $("banner-stretch-detail").textContent = text;
      showBanner("banner-stretch");
    },
    position: () => state.position,
    me: () => state.me,
    summons: (s) => map.summons(s),
    firstVisit: () => {
      if (!session.token && state.mode !== "register") setMode("register");
    },
    enter: () => {
      loadOutbox();
      show("loading");
      link.start();
    },
  });
  if (!session.token) {
    show("welcome");
    return;
  }
  state.me = session.name;
  loadOutbox();
  show("loading", { focus: false });
  // An applicant waits for the tower on their own page; the link is closed to them.
  try {
    if (!(await city.admitted())) return;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return logout("Your session has ended: log in again.");
  }
  link.start();
}

/** The bond's own screen (the city's navigation comes back here). */
function showHome() {
  if (state.bond) {
    show("link");
    renderBond();
  } else {
    showBondScreen();
  }
}

/** After a failed or dropped connection: is the session still good? */
async function checkSession() {
  if (!session.token) return;
  try {
    await api.me();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      logout("Your session has ended: log in again.");
    }
  }
}

function logout(message) {
  const token = session.token;
  link.stop();
  city.reset();
  camera.reset();
  pictures.reset();
  memories.reset();
  if (token && !message) api.logout().catch(() => {});
  if (state.me) localStorage.removeItem(outboxKey());
  session.clear();
  push.keepSession();
  stopPosition();
  leavePrivate();
  Object.assign(state, {
    me: null,
    bond: null,
    messages: new Map(),
    cursor: null,
    acked: 0,
    outbox: [],
    historyFor: null,
    alarmsIn: [],
  });
  for (const id of ["banner-alarm", "banner-alarm-out", "banner-heard", "banner-contact", "banner-stretch", "banner-offline"]) {
    $(id).hidden = true;
  }
  $("conn").hidden = true;
  // The next person at this device starts from an empty form, not the last one's name
  // and book.
  for (const input of $("auth-form").querySelectorAll("input, textarea")) input.value = "";
  setMode("login");
  show("welcome");
  if (message) showAuthError(message);
}

// ----------------------------------------------------------------------------- frames

function onFrame(f) {
  switch (f.type) {
    case "hello":
      return onHello(f);
    case "bonded":
      notice(`You are bonded with ${f.bond.partner}.`);
      enterBond(f.bond);
      return;
    case "bond_ended":
      return onBondEnded();
    case "pull":
      if (!state.bond) return;
      Object.assign(state.bond, { pull: f.pull, strength: f.strength, next_tier: f.next_tier ?? null });
      journey?.addPull(f.pull.distance_m);
      map.pull(f.pull);
      pictures.onStrength(f.strength);
      locate.onPull(f);
      renderBond();
      return;
    case "locate":
      locate.answer(f.by);
      return;
    case "tier":
      journey?.onTier(f);
      return onTier(f);
    case "place":
    case "places_changed":
    case "meeting":
    case "meeting_reached":
      return places.onFrame(f);
    case "contact":
      return onContact(f);
    case "paused":
      // A pause starts my stretch afresh, as the plain bond's server does.
      if (f.who === state.me) stretchFrom = null;
      return pause.onFrame(f, state.bond);
    case "resumed":
      return pause.onFrame(f, state.bond);
    case "stretch":
      return onStretch(f);
    case "message":
      return onMessage(f.message);
    case "sent":
      takeFromOutbox(f.id);
      renderHistory();
      renderAlarms();
      return;
    case "alarm_acknowledged":
      return onAlarmAcknowledged(f);
    case "thought":
      if (state.partnerThought.apply(f.seq, f.reset, f.edits)) renderPartnerThought();
      return;
    case "sealed_thought":
      return onSealedThought(f);
    case "partner_sealed_fix":
      return openPartnerFix({ sealed: f.sealed, at: f.at ?? null });
    case "guard":
      if (state.bond) state.bond.partner_guarded = f.on;
      if (f.on) clearPartnerThought();
      renderPartnerThought();
      return;
    case "trace":
      return onTrace(f);
    case "sealed_trace":
      // Opened one after the other, so a stroke's parts are drawn in the order sent.
      traceOpening = traceOpening.then(() => onSealedTrace(f));
      return;
    case "glimpse_asked":
      camera.onAsked(f);
      return;
    case "glimpse_sent":
      camera.onGlimpseSent(f);
      return;
    case "sight_rate":
      camera.onRate(f);
      return;
    case "error":
      if (["camera_not_allowed", "no_glimpse_asked"].includes(f.problem?.code) ||
          (f.problem?.code === "tier_closed" && ["glimpse", "sight"].includes(f.problem?.tier))) {
        $("glimpse-status").textContent = `${fmt.capitalise(f.problem.detail)}.`;
        return;
      }
      return onError(f);
    default:
      city.onFrame(f);
      return;
  }
}

function onHello(f) {
  state.me = f.you;
  if (state.cursor === null) state.cursor = f.resume_after;
  state.cursor = Math.max(state.cursor, f.resume_after);
  state.acked = Math.max(state.acked, f.resume_after);
  $("me-name").textContent = f.you;
  pause.load();
  if (!f.bond) {
    state.bond = null;
    showBondScreen();
    return;
  }
  enterBond(f.bond, { resumeAfter: f.resume_after });
  // Whatever was waiting goes out now, in order, with its original ids.
  flushOutbox();
  link.send({ type: "guard", on: state.guarded });
  if (state.position) sendPosition(true);
  resendThought();
}

function enterBond(bond, { resumeAfter } = {}) {
  const newBond = !state.bond || state.bond.id !== bond.id;
  state.bond = bond;
  if (newBond || state.private?.bondId !== bond.id) checkPrivate(bond);
  if (newBond) {
    pictures.reset();
    state.messages = new Map();
    state.opened = new Map();
    state.feelingIn = null;
    state.partnerThoughtCounter = -1n;
    state.partnerFix = null;
    sealedFixSent = "";
    clearPartnerThought();
    state.alarmsIn = [];
    state.contactShownLost = false;
    $("banner-contact").hidden = true;
  }
  // The bond's raised alarms are the truth: one from the partner is shown until answered
  // (even after a reload), and one no longer listed was answered while this page was away.
  const raised = new Set();
  for (const alarm of bond.alarms) {
    addMessage(alarm);
    raised.add(alarm.seq);
    if (alarm.from === bond.partner && !state.alarmsIn.includes(alarm.seq)) {
      state.alarmsIn.push(alarm.seq);
    }
  }
  state.alarmsIn = state.alarmsIn.filter((seq) => raised.has(seq));
  for (const m of state.messages.values()) {
    if (m.kind === "alarm" && !m.acknowledged_at && !raised.has(m.seq)) {
      m.acknowledged_at = new Date().toISOString();
    }
  }
  if (state.historyFor !== bond.id) {
    state.historyFor = bond.id;
    loadHistory(bond.id, resumeAfter ?? state.cursor ?? bond.last_seq);
  }
  for (const el of document.querySelectorAll(".partner-name")) el.textContent = bond.partner;
  $("bond-profile").textContent = bond.profile;
  if (bond.contact === "lost") {
    setTimeout(() => {
      if (state.bond === bond && bond.contact === "lost") showContactLost();
    }, LOST_GRACE_MS);
  } else if (state.contactShownLost) {
    showContactRestored(null);
  }
  show("link");
  places.enter(bond);
  journey?.enter(bond);
  map.pull(bond.pull);
  pictures.refresh();
  camera.load();
  memories.refresh();
  renderBond();
  renderHistory();
  renderAlarms();
  renderPartnerThought();
  renderGuard();
  openMessages();
  // A private bond's view carries the partner's latest sealed position (none while
  // either pauses); opened here once the keys are confirmed (`checkPrivate` otherwise).
  if (sealing()) openPartnerFix(bond.partner_sealed_fix ?? null);
}

function onBondEnded() {
  const partner = state.bond?.partner;
  state.bond = null;
  leavePrivate();
  // The person's places stay in this browser's book for a next private bond, as the
  // CLI keeps them: a person's places are theirs, not a bond's.
  if (state.me && privateBond.available) privateBond.forget(state.me);
  pictures.reset();
  camera.reset();
  memories.reset();
  state.messages = new Map();
  state.historyFor = null;
  state.alarmsIn = [];
  state.outbox = [];
  saveOutbox();
  stopPosition();
  for (const id of ["banner-alarm", "banner-alarm-out", "banner-heard", "banner-contact", "banner-stretch"]) {
    $(id).hidden = true;
  }
  places.leave();
  journey?.leave();
  map.leave();
  showBondScreen();
  if (partner) notice(`The bond with ${partner} has ended.`);
}

const tierNews = { opened: [], closed: [], timer: null };

function onTier(f) {
  if (!state.bond) return;
  const was = state.bond.tiers[f.tier]?.open;
  state.bond.tiers[f.tier] = { open: f.open, range_m: f.range_m };
  if (f.tier === "thoughts") {
    if (f.open) resendThought();
    else clearPartnerThought();
  }
  if (was !== f.open) {
    (f.open ? tierNews.opened : tierNews.closed).push(f.tier === "images" ? "Images" : fmt.TIER_NAMES[f.tier] ?? f.tier);
    clearTimeout(tierNews.timer);
    tierNews.timer = setTimeout(announceTiers, 150);
  }
  camera.follow();
  if (f.tier === "memories" && was !== f.open) memories.refresh();
  // A private bond has no pull to say the strength grew: a tier that opened may let the
  // server serve its pictures larger.
  if (f.open && was !== f.open && privacyNow() === "private") pictures.soon();
  // The rounding depends on the open tiers: sealed again (sent only if it changed), and
  // the pull is exact or coarse with sight.
  if (was !== f.open && sealing()) {
    sendSealedFix();
    privatePull();
  }
  renderBond();
  renderPartnerThought();
}

function announceTiers() {
  const list = (names) => {
    const words = names.map((n, i) => (i === 0 ? n : n.toLowerCase()));
    return words.length === 1 ? words[0] : `${words.slice(0, -1).join(", ")} and ${words.at(-1)}`;
  };
  const parts = [];
  if (tierNews.opened.length) parts.push(`${list(tierNews.opened)} opened.`);
  if (tierNews.closed.length) parts.push(`${fmt.capitalise(list(tierNews.closed).toLowerCase())} closed.`);
  tierNews.opened = [];
  tierNews.closed = [];
  notice(parts.join(" "));
}

function onContact(f) {
  if (!state.bond || f.who !== state.bond.partner) return;
  state.bond.contact = f.state;
  if (f.state === "lost") showContactLost(f.last_heard_ms);
  else if (state.contactShownLost) showContactRestored(f.lost_for_ms);
  renderPull();
}

/** A sudden stretch is news, not danger (a phone's fix often jumps): said calmly, without
 *  the speed (a jump of a fix makes absurd ones), and kept until dismissed. */
function onStretch(f) {
  const partner = state.bond && f.who === state.bond.partner;
  $("banner-stretch-title").textContent = partner ? `${f.who} moved suddenly` : "You moved suddenly";
  $("banner-stretch-detail").textContent =
    `${partner ? `${f.who}'s position` : "Your position"} jumped ${fmt.distance(f.jump_m)} at once; ` +
    "the bond settles by itself.";
  showBanner("banner-stretch");
}

function onMessage(m) {
  const isNew = !state.messages.has(m.seq);
  addMessage(m);
  if (isNew) pictures.onMessage(m);
  if (m.from === state.me) takeFromOutbox(m.id);
  if (isNew && state.bond && m.from === state.bond.partner) {
    if (m.kind === "alarm" && !m.acknowledged_at) {
      if (!state.alarmsIn.includes(m.seq)) state.alarmsIn.push(m.seq);
      navigator.vibrate?.([400, 150, 400, 150, 400]);
    }
    if (m.kind === "feeling") {
      state.feelingIn = { seq: m.seq, said: false };
      renderFeelingIn();
    }
  }
  renderHistory();
  renderAlarms();
  scheduleAck();
  openMessages();
  // A private bond's place news and meeting point are read into this device's book.
  if (isNew && (m.kind === "place" || m.kind === "meeting") && m.sealed) places.onSealedMessage();
}

/** Says the partner's newest feeling under the feelings, once: a sealed one when it has
 *  been opened (or found not to open). */
function renderFeelingIn() {
  const m = state.feelingIn && state.messages.get(state.feelingIn.seq);
  if (!m || state.feelingIn.said) return;
  const v = shown(m);
  if (v.unopened === "opening") return;
  state.feelingIn.said = true;
  const when = fmt.clock(new Date(m.sent_at));
  $("feeling-last").textContent = v.unopened
    ? `${m.from} sent a sealed feeling that ${UNOPENED_LONG[v.unopened]} (${when}).`
    : `${m.from} feels ${v.feeling} (${when}).`;
}

/** Where each kind of news is read in full. */
const LATEST_CARD = { voice: "voice-title", feeling: "feelings-title", image: "pictures-title", alarm: "alarm-title" };

/** The newest thing the partner sent, on the first screen: words, a feeling, a picture or
 *  an alarm. A tap goes to its card. */
function renderLatest() {
  const el = $("latest");
  const b = state.bond;
  let newest = null;
  if (b) {
    for (const m of state.messages.values()) {
      // What the server sent again is not news: the history says so where it came.
      if (m.from !== b.partner || !LATEST_CARD[m.kind] || shown(m).unopened === "replayed") continue;
      if (!newest || m.seq > newest.seq) newest = m;
    }
  }
  if (!newest) {
    el.hidden = true;
    el.dataset.kind = "none";
    return;
  }
  // Sealed words or a feeling that are not open (yet) are said to be so, never shown as
  // empty words.
  const v = shown(newest);
  const what = {
    voice: () => v.unopened
      ? `${v.from} sent a sealed message that ${UNOPENED_LONG[v.unopened]}`
      : `${v.from}: “${v.body ?? ""}”`,
    feeling: () => v.unopened
      ? `${v.from} sent a sealed feeling that ${UNOPENED_LONG[v.unopened]}`
      : `${v.from} feels ${v.feeling}`,
    image: () => `${v.from} sent a picture`,
    alarm: () => `${v.from} raised the alarm${v.acknowledged_at ? " (answered)" : ""}`,
  }[newest.kind]();
  $("latest-what").textContent = what;
  $("latest-when").textContent = fmt.clock(new Date(newest.sent_at));
  // An answered alarm is news told, no longer a call: it loses the alarm's red.
  el.dataset.kind = newest.kind === "alarm" && newest.acknowledged_at ? "alarm-answered" : newest.kind;
  el.dataset.card = LATEST_CARD[newest.kind];
  el.hidden = false;
}

function onAlarmAcknowledged(f) {
  const m = state.messages.get(f.seq);
  if (m) m.acknowledged_at = new Date().toISOString();
  state.alarmsIn = state.alarmsIn.filter((s) => s !== f.seq);
  if (f.by !== state.me) {
    $("alarm-status").textContent = `${f.by} heard your alarm.`;
    // Kept until seen: the answer to an alarm must not slip by in a few seconds.
    $("banner-heard-text").textContent = `${f.by} heard your alarm (${fmt.clock(new Date())}).`;
    showBanner("banner-heard");
  }
  renderHistory();
  renderAlarms();
}

function onError(f) {
  const detail = f.problem?.detail ?? "the server refused that";
  if (f.id) {
    const item = state.outbox.find((i) => i.id === f.id);
    takeFromOutbox(f.id);
    renderHistory();
    if (item?.kind === "voice") showError("voice-error", `Not sent (“${item.body}”): ${detail}.`);
    else if (item?.kind === "alarm") $("alarm-status").textContent = `Alarm not raised: ${detail}.`;
    else if (item?.kind === "feeling") $("feeling-last").textContent = `Not sent: ${detail}.`;
    else notice(`Not sent: ${detail}.`);
    return;
  }
  notice(`The server refused: ${detail}.`);
}

// ---------------------------------------------------------------------------- history

async function loadHistory(bondId, upTo) {
  let after = Math.max(0, upTo - HISTORY_FETCH);
  try {
    for (;;) {
      const page = await api.messages(after, 500);
      if (state.historyFor !== bondId) return;
      for (const m of page.messages) addMessage(m);
      if (!page.more || page.messages.length === 0) break;
      after = page.messages.at(-1).seq;
      if (after >= upTo) break;
    }
  } catch {
    // The link replays what matters; older history can wait for the next load.
    state.historyFor = null;
  }
  renderHistory();
  // In a private bond the keys may have been confirmed before the history came (a busy
  // device reads its IndexedDB slower than the server answers, or faster): what it holds
  // sealed is opened now either way.
  openMessages();
}

function addMessage(m) {
  const known = state.messages.get(m.seq);
  state.messages.set(m.seq, known && known.acknowledged_at && !m.acknowledged_at ? known : m);
  if (state.cursor === null || m.seq > state.cursor) state.cursor = m.seq;
}

let ackTimer = null;
function scheduleAck() {
  clearTimeout(ackTimer);
  ackTimer = setTimeout(() => {
    if (document.visibilityState !== "visible") return;
    if (state.cursor !== null && state.cursor > state.acked && link.send({ type: "ack", seq: state.cursor })) {
      state.acked = state.cursor;
    }
  }, 300);
}

// ----------------------------------------------------------------------------- outbox

function outboxKey() {
  return `haurach.outbox.${state.me}`;
}

function loadOutbox() {
  try {
    state.outbox = JSON.parse(localStorage.getItem(outboxKey()) || "[]");
  } catch {
    state.outbox = [];
  }
}

function saveOutbox() {
  if (state.me) localStorage.setItem(outboxKey(), JSON.stringify(state.outbox));
}

function takeFromOutbox(id) {
  const before = state.outbox.length;
  state.outbox = state.outbox.filter((i) => i.id !== id);
  if (state.outbox.length !== before) saveOutbox();
}

/** The `send` frame of an outbox item: in a private bond its sealed string, never the
 *  words it keeps here to show while it waits. */
function sendFrame(item) {
  const frame = { type: "send", kind: item.kind, id: item.id };
  if (item.sealed !== undefined) {
    frame.sealed = item.sealed;
    return frame;
  }
  if (item.body !== undefined) frame.body = item.body;
  if (item.feeling !== undefined) frame.feeling = item.feeling;
  return frame;
}

/** Whether an item's words are in the clear: then it may go only once the page knows the
 *  bond is plain. */
function inClear(item) {
  return item.sealed === undefined && (item.body !== undefined || item.feeling !== undefined);
}

/** Whether the outbox held words back because the page did not know yet whether the bond
 *  is private: `checkPrivate` sends them once it knows. */
let outboxHeld = false;

/** Sends what the outbox holds, in order, as far as it may go now. Words in the clear
 *  wait until the page knows the bond is plain; in a private bond they are never sent
 *  (they were queued before it was one) and are said not to have been. */
function flushOutbox() {
  const privacy = privacyNow();
  outboxHeld = false;
  for (const item of [...state.outbox]) {
    if (inClear(item) && privacy !== "plain") {
      if (privacy === "checking") {
        outboxHeld = true;
        break;
      }
      takeFromOutbox(item.id);
      notice("A message written before this bond was private was not sent: nothing goes to a private bond in the clear.");
      continue;
    }
    link.send(sendFrame(item));
  }
  renderHistory();
}

/** Queues a message and sends it if the link is up. In a private bond its words or
 *  feeling are sealed first, and without the bond's keys they are not sent at all. */
async function sendMessage(kind, fields) {
  const item = { id: newId(), kind, at: new Date().toISOString(), ...fields };
  const words = kind === "feeling" ? fields.feeling : fields.body;
  if (words !== undefined) {
    const privacy = await privacyKnown();
    if (privacy === "private") {
      const s = sealing();
      if (!s) throw new Error("this browser does not hold the bond's keys, so it cannot seal them");
      item.sealed = await s.seal(kind, words);
      state.opened.set(openedKey({ from: state.me, kind, sealed: item.sealed }), { text: words });
    } else if (privacy !== "plain") {
      throw new Error("this page could not find out whether the bond is private; try again");
    }
  }
  state.outbox.push(item);
  saveOutbox();
  // Behind words held back it waits its turn, unless it carries none in the clear (an
  // alarm must not wait for the check).
  if (!outboxHeld || !inClear(item)) link.send(sendFrame(item));
  renderHistory();
  return item;
}

/** Raises the alarm, with the words typed beside it if any (sealed in a private bond).
 *  Words that cannot go (a private bond's keys missing here) do not hold the alarm back:
 *  it goes without them, and the person is told. */
async function raiseAlarm() {
  const words = $("alarm-words").value.trim();
  try {
    await sendMessage("alarm", words ? { body: words } : {});
    $("alarm-words").value = "";
  } catch (e) {
    await sendMessage("alarm", {});
    notice(`Alarm raised without its words: ${e.message}.`);
  }
  renderAlarms();
}

// --------------------------------------------------------------------------- position

function startPosition() {
  renderPosition();
  if (state.gpsWatch !== null) return;
  const hand = readHandPosition();
  if (hand) {
    if (!state.position) state.position = { ...hand, accuracy_m: 0, source: "hand" };
    renderPosition();
    return;
  }
  if (!("geolocation" in navigator)) {
    positionStatus("This browser cannot tell where you are: set your position below.");
    return;
  }
  if (!window.isSecureContext) {
    positionStatus("Location needs a secure (HTTPS) page: set your position below.");
    return;
  }
  state.gpsWatch = navigator.geolocation.watchPosition(
    (p) => {
      state.position = {
        lat: p.coords.latitude,
        lon: p.coords.longitude,
        accuracy_m: Math.min(1e6, Math.max(0, p.coords.accuracy || 0)),
        source: "device",
        // When the device took the fix: sent with it, so a fix this page sends again
        // (after waking up) cannot move the person back past a newer one from another
        // device (the OwnTracks app).
        at: p.timestamp,
      };
      sendPosition();
      renderPosition();
      renderBond();
    },
    (err) => {
      const why =
        err.code === err.PERMISSION_DENIED
          ? "Location is not allowed for this page"
          : "Your device cannot find where you are just now";
      positionStatus(`${why}: set your position below.`);
    },
    { enableHighAccuracy: true, maximumAge: 5000, timeout: 60000 },
  );
}

function stopPosition() {
  if (state.gpsWatch !== null) navigator.geolocation.clearWatch(state.gpsWatch);
  state.gpsWatch = null;
}

function readHandPosition() {
  try {
    const p = JSON.parse(localStorage.getItem("haurach.hand_position") || "null");
    return p && Number.isFinite(p.lat) && Number.isFinite(p.lon) ? p : null;
  } catch {
    return null;
  }
}

/** Asks before moving the person by hand: one tap on the radar could move them
 *  hundreds of kilometres and open or close tiers for both partners. */
function askHandPosition(lat, lon) {
  const here = state.position;
  const where = fmt.coordinates(lat, lon);
  let detail = `To ${where}.`;
  if (here) {
    const moved = sphereDistance(here, { lat, lon });
    detail = `To ${where}, ${fmt.distance(moved)} from where ${here.source === "hand" ? "you set yourself" : "your device puts you"}.`;
  }
  $("hand-detail").textContent = detail;
  const dialog = $("hand-dialog");
  dialog.dataset.lat = String(lat);
  dialog.dataset.lon = String(lon);
  dialog.showModal();
}

function setHandPosition(lat, lon) {
  stopPosition();
  const at = Date.now();
  localStorage.setItem("haurach.hand_position", JSON.stringify({ lat, lon, at }));
  state.position = { lat, lon, accuracy_m: 0, source: "hand", at };
  $("position-error").hidden = true;
  sendPosition(true);
  renderPosition();
  renderBond();
}

let positionTimer = null;
let positionSentAt = 0;
/** Sends where I am, at most once a second (a GPS can report many times a second). */
function sendPosition(now = false) {
  clearTimeout(positionTimer);
  const wait = now ? 0 : Math.max(0, 1000 - (Date.now() - positionSentAt));
  positionTimer = setTimeout(() => {
    const p = state.position;
    // Paused: where I am stays on this device.
    if (!p || pause.paused) return;
    // Until the page knows the bond is plain, no position leaves it: in a private bond
    // only a token report does (`checkPrivate` sends again once it knows).
    if (state.bond) {
      const privacy = state.private;
      if (privacy?.bondId !== state.bond.id) return;
      if (privacy.status === "confirmed") return sendReport(p);
      if (privacy.status !== "plain") return;
    }
    const frame = { type: "position", lat: p.lat, lon: p.lon, accuracy_m: p.accuracy_m };
    if (p.source === "hand") frame.by_hand = true;
    if (Number.isFinite(p.at)) frame.at = new Date(Math.min(p.at, Date.now())).toISOString();
    const battery = locate.batteryLevel();
    if (battery !== null) frame.battery = battery;
    if (link.send(frame)) {
      positionSentAt = Date.now();
    }
  }, wait);
}

// ----------------------------------------------------------------------- private bond

/** Makes or accepts a private invite (`act(names)`) after moving the places the server
 *  keeps for this person into this device's book (a private bond's server keeps none):
 *  written here first, then the request names them for the server to forget in the same
 *  transaction (`docs/privacy.md`, "Places kept before the bond"). When the server
 *  refused, this device forgets its copy again (the server kept them); when no answer
 *  came, the server may have made the invite or the bond and forgotten them, so this
 *  device keeps them. */
async function withPlacesMoved(act) {
  const moved = await devicePlaces.moveFromServer(state.me);
  let made;
  try {
    made = await act(moved.names);
  } catch (e) {
    if (e instanceof ApiError && e.status !== 0) await moved.undo();
    throw e;
  }
  const n = moved.names.length;
  if (n > 0) {
    const text = `Your ${n === 1 ? "place is" : `${n} places are`} kept on this device now; the server keeps none for a private bond.`;
    notice(text);
    $("places-news").textContent = text;
  }
  return made;
}

const privateTimers = { recheck: null, epoch: null };
const reporting = { busy: false, again: false };

/** Finds out whether `bond` is private and, if so, brings its keys as far as this device
 *  can (derived, sent, the partner's checked); then lets positions or reports go. */
async function checkPrivate(bond) {
  leavePrivate();
  state.private = { bondId: bond.id, status: "checking" };
  let found;
  try {
    found = await privateBond.standing(state.me);
  } catch (e) {
    found = { status: "error", detail: e.message };
  }
  if (found.status === "confirmed") {
    try {
      found.sealing = await privateBond.Sealing.of(state.me, bond.id, found);
    } catch (e) {
      found = { status: "error", detail: e.message };
    }
  }
  if (state.bond?.id !== bond.id) return;
  state.private = { bondId: bond.id, ...found };
  for (const waiter of [...privacyWaiters]) waiter();
  if (outboxHeld) flushOutbox();
  renderBond();
  // The camera may send now (plain, or sealed with confirmed keys), or must not.
  camera.follow();
  // Sealed messages shown as "opening" while this was not known: opened now, or said
  // not to open here.
  renderHistory();
  renderAlarms();
  if (found.status === "confirmed") {
    openMessages();
    openPartnerFix(state.bond.partner_sealed_fix ?? null);
    // The journals' sealed entries and the sealed pictures open now.
    memories.refresh();
    pictures.refresh();
  }
  // The places are the server's (plain) or this device's (private, confirmed).
  places.enter(state.bond);
  // Thoughts could not pass while it was not known: the box may go now.
  resendThought();
  // The partner's tag comes through the server with no frame to say so: look again.
  if (found.status === "waiting" || found.status === "error") {
    privateTimers.recheck = setTimeout(() => {
      if (state.bond?.id === bond.id) checkPrivate(state.bond);
    }, 3000);
  }
  if (found.status === "plain" || found.status === "confirmed") sendPosition(true);
}

/** What the page knows of the bond on screen: `plain`, `private`, or `checking` (not yet
 *  known, or the check failed and is being tried again). */
function privacyNow() {
  const privacy = state.private;
  if (!state.bond || privacy?.bondId !== state.bond.id || ["checking", "error"].includes(privacy.status)) {
    return "checking";
  }
  return privacy.status === "plain" ? "plain" : "private";
}

const privacyWaiters = new Set();

/** Waits, a few seconds at most, until the page knows whether the bond is private;
 *  resolves with `privacyNow()`. */
function privacyKnown(ms = 5000) {
  if (privacyNow() !== "checking") return Promise.resolve(privacyNow());
  return new Promise((resolve) => {
    const done = () => {
      privacyWaiters.delete(done);
      clearTimeout(timer);
      resolve(privacyNow());
    };
    const timer = setTimeout(done, ms);
    privacyWaiters.add(done);
  });
}

/** What this device seals and opens with in the bond on screen: set once its keys are
 *  confirmed, null otherwise. */
function sealing() {
  const privacy = state.private;
  if (!state.bond || privacy?.bondId !== state.bond.id || privacy.status !== "confirmed") return null;
  return privacy.sealing ?? null;
}

// --------------------------------------------------------------------- sealed content

// The partner's are opened (and judged against replays) at their sequence number: the
// same sealed string at another number is the server sending it again.
const openedKey = (m) => `${m.from}\n${m.kind}\n${m.from === state.me ? "" : m.seq}\n${m.sealed}`;

/** Why a sealed content is not shown, as the end of a sentence ("NAME sent a sealed
 *  message that …"). */
const UNOPENED_LONG = {
  opening: "is still being opened",
  keys: "this browser cannot open without the bond's keys",
  changed: "does not open: it was changed on the way",
  replayed: "was sent before, and the server sent it again, so it is not shown",
};
/** The same, of an alarm's words ("Its words …"). */
const UNOPENED_WORDS = {
  opening: "are still being opened",
  keys: "are sealed, and this browser cannot open them without the bond's keys",
  changed: "are sealed and do not open: they were changed on the way",
  replayed: "were sent before, and the server sent them again, so they are not shown",
};
/** The same, as a history line says it in brackets. */
const UNOPENED_SHORT = {
  opening: "sealed, opening…",
  keys: "sealed: this browser does not hold the bond's keys",
  changed: "sealed, and it does not open: it was changed on the way",
  replayed: "sealed, and sent before: the server sent it again, so it is not shown",
};

/** A message as it is shown: a sealed one with its words or feeling opened into `body`
 *  or `feeling`, or with `unopened` saying why not (`opening`, `keys`, `changed`, or
 *  `replayed`: the partner's, opened here before at another sequence number). */
function shown(m) {
  // An outbox item keeps its own words beside what it sends sealed.
  if (m.sealed === undefined || m.sealed === null || m.body !== undefined || m.feeling !== undefined) return m;
  const found = state.opened.get(openedKey(m));
  if (!found) return { ...m, unopened: sealing() || privacyNow() === "checking" ? "opening" : "keys" };
  if (found.failed) return { ...m, unopened: "changed" };
  if (found.replayed) return { ...m, unopened: "replayed" };
  return m.kind === "feeling" ? { ...m, feeling: found.text } : { ...m, body: found.text };
}

const opening = new Set();

/** Opens every sealed message not opened yet, then shows them. */
async function openMessages() {
  const s = sealing();
  if (!s) return;
  const jobs = [];
  // In sequence order: of a sealed message the server sent twice, the first is the one
  // shown (`Sealing` judges in the order asked).
  for (const m of [...state.messages.values()].sort((a, b) => a.seq - b.seq)) {
    const key = openedKey(m);
    if (m.sealed === undefined || m.sealed === null || state.opened.has(key) || opening.has(key)) continue;
    opening.add(key);
    jobs.push(
      s.open(m.from === state.me, m.kind, m.sealed, { seq: m.seq })
        .catch(() => null)
        .then((opened) => state.opened.set(key, !opened ? { failed: true } : privateBond.shows(opened.verdict) ? { text: opened.text } : { replayed: true }))
        .finally(() => opening.delete(key)),
    );
  }
  if (jobs.length === 0) return;
  const bondId = state.bond?.id;
  await Promise.all(jobs);
  // What was opened is shown even if the keys were checked again meanwhile (a new
  // `sealing()` skips what this call was still opening, so it would never be shown).
  if (state.bond?.id !== bondId) return;
  renderHistory();
  renderAlarms();
  renderFeelingIn();
}

/** The partner's whole current thought, sealed: shown if it opens and is newer than the
 *  one shown (sealed thoughts carry the sender's counter, the highest the newest). */
async function onSealedThought(f) {
  const s = sealing();
  // Not yet known whether this device holds the keys (the page has just opened): the
  // partner sends the whole thought again within a few seconds.
  if (!state.bond || (!s && privacyNow() === "checking")) return;
  const clears = thoughtClears;
  const opened = s ? await s.open(false, "thought", f.sealed, { kind: "thought" }).catch(() => null) : null;
  // Thoughts closed, or the partner guarded, while it was opened: it is gone.
  if (sealing() !== s || thoughtClears !== clears) return;
  if (opened?.verdict === "older") return;
  if (!opened) {
    state.thoughtNote = s
      ? `${state.bond.partner}'s thought does not open: it was changed on the way.`
      : `${state.bond.partner}'s thought is sealed, and this browser does not hold the bond's keys.`;
  } else if (opened.verdict === "replayed") {
    state.thoughtNote = `The server sent an earlier thought of ${state.bond.partner}'s again, so it is not shown.`;
  } else if (opened.counter > state.partnerThoughtCounter) {
    state.partnerThoughtCounter = opened.counter;
    state.thoughtNote = "";
    state.partnerThought.apply(0, true, opened.text ? [{ op: "insert", pos: 0, text: opened.text }] : []);
  }
  renderPartnerThought();
}

let thoughtClears = 0;

/** Forgets the partner's thought (thoughts closed, or they guard). */
function clearPartnerThought() {
  thoughtClears += 1;
  state.partnerThought.clear();
  state.thoughtNote = "";
}

/** The text of the box as last sent sealed, so the periodic resend knows whether the
 *  partner has anything to see again. */
let sealedThoughtSent = "";

/** Sends the whole box sealed, as a `sealed_thought`, if it may pass when sealed. */
async function sendSealedThought(text) {
  const s = sealing();
  if (!s) return;
  let sealed;
  try {
    sealed = await s.seal("thought", text);
  } catch (e) {
    notice(`Your thought was not sent: ${e.message}.`);
    return;
  }
  // Thoughts closed, or the guard went on, while it was sealed: it stays here.
  if (sealing() !== s || !thoughtsPass()) return;
  if (link.send({ type: "sealed_thought", sealed })) sealedThoughtSent = text;
}

// ------------------------------------------------------------------------ strokes

/** Whether a stroke may be drawn now: the images tier is open, and the bond is plain or
 *  this device holds a private bond's keys to seal it with. */
function canTrace() {
  if (!state.bond?.tiers?.images?.open) return false;
  const privacy = privacyNow();
  return privacy === "plain" || (privacy === "private" && Boolean(sealing()));
}

/** Sends part of a stroke: as it is in a plain bond; in a private bond sealed on this
 *  device (`sealed_trace`, kind `trace`: the points and what they are drawn over), so the
 *  server sees neither. Nothing while the page does not know which, or holds no keys. */
function sendTrace(frame) {
  const privacy = privacyNow();
  if (privacy === "plain") return link.send(frame);
  const s = privacy === "private" ? sealing() : null;
  if (!s) return false;
  const { type: _type, ...stroke } = frame;
  // The sealing queue keeps the order: a stroke's parts go out as drawn.
  s.seal("trace", JSON.stringify(stroke)).then(
    (sealed) => sealing() === s && link.send({ type: "sealed_trace", sealed }),
    () => {},
  );
  return true;
}

let traceOpening = Promise.resolve();

/** Part of a stroke the partner drew: over a picture of the gallery, or over a glimpse or
 *  the sight. */
function onTrace(f) {
  if (f.image) pictures.onTrace(f);
  else camera.onTrace(f);
}

/** Whether `t`, opened from a sealed stroke, is one: what it is drawn over (one of
 *  `image`, `glimpse`, `sight`), a stroke number, at most 256 points in [0, 1]. */
function isStroke(t) {
  const over = ["image", "glimpse", "sight"].filter((k) => typeof t?.[k] === "string");
  const inside = (v) => Number.isFinite(v) && v >= 0 && v <= 1;
  return (
    over.length === 1 &&
    Number.isInteger(t.stroke) &&
    Array.isArray(t.points) &&
    t.points.length <= 256 &&
    t.points.every((p) => Array.isArray(p) && p.length === 2 && inside(p[0]) && inside(p[1]))
  );
}

/** Part of a stroke the partner drew in a private bond: opened here and drawn. One that
 *  does not open, or is not a stroke, is not drawn: strokes are fleeting, and the next
 *  one tells again. */
async function onSealedTrace(f) {
  const s = sealing();
  if (!s || !state.bond) return;
  const opened = await s.open(false, "trace", f.sealed);
  if (!opened || sealing() !== s) return;
  let stroke;
  try {
    stroke = JSON.parse(opened.text);
  } catch {
    return;
  }
  if (isStroke(stroke)) onTrace({ ...stroke, end: stroke.end === true, from: state.bond.partner });
}

function leavePrivate() {
  clearTimeout(privateTimers.recheck);
  clearTimeout(privateTimers.epoch);
  state.private = null;
  stretchFrom = null;
}

/** Sends the token report of fix `p` in place of a position, made here; and again a
 *  little before each epoch ends if nothing moves, so the tiers do not close on a person
 *  standing still. */
async function sendReport(p) {
  if (reporting.busy) {
    reporting.again = true;
    return;
  }
  const privacy = state.private;
  reporting.busy = true;
  try {
    const frame = await privateBond.reportFrame(privacy.key, state.bond.profile, p);
    if (state.private === privacy && link.send(frame)) {
      positionSentAt = Date.now();
      // Right after its report, the fix rounded and sealed, as the CLI's `move` sends it.
      await sendSealedFix({ always: true });
      privatePull();
      // Then its places and the pinned point judged on this device, as the CLI's `move`.
      places.judge({ lat: p.lat, lon: p.lon, accuracy_m: p.accuracy_m, at: p.at });
    }
  } catch (e) {
    positionStatus(`Could not make the report of where you are: ${e.message}.`);
  } finally {
    reporting.busy = false;
  }
  clearTimeout(privateTimers.epoch);
  privateTimers.epoch = setTimeout(() => sendPosition(true), privateBond.untilNextReport());
  if (reporting.again) {
    reporting.again = false;
    sendPosition();
  }
}

/** The content of this device's latest sealed position (without a stretch), so one
 *  sealed again because the tiers moved or the partner's came goes only when it says
 *  something new (two devices narrowing each other's cells stop as soon as neither
 *  changes). */
let sealedFixSent = "";
/** The fix my next one's stretch is judged from (`{lat, lon, accuracy_m, at}`): the last
 *  I reported, none after a pause. The server of a private bond sees no position, so
 *  this device judges its own jumps, as `haurach_bond::StretchDetector`, and seals the
 *  stretch inside the position for the partner. */
let stretchFrom = null;
/** One sealed position at a time, in the order asked. */
let sealingFix = Promise.resolve();

/** The cell this device last sealed its position to in bond `id`, sent again while the
 *  fix stays near it (`rounding.round`'s `kept`), kept across reloads like the CLI's
 *  `private.toml`; null when none or after an exact position. */
function keptCell(id) {
  try {
    return JSON.parse(localStorage.getItem(`haurach.kept_cell.${id}`) || "null");
  } catch {
    return null;
  }
}

function keepCell(id, cell) {
  if (cell) localStorage.setItem(`haurach.kept_cell.${id}`, JSON.stringify(cell));
  else localStorage.removeItem(`haurach.kept_cell.${id}`);
}

/** What this device knows when it rounds its fix: the profile, the open tiers and the
 *  partner's latest sealed position as opened here. */
function knownNow() {
  const open = new Set(Object.entries(state.bond.tiers).filter(([, t]) => t.open).map(([tier]) => tier));
  const partner = state.partnerFix?.opened ?? null;
  return { profile: state.bond.profile, open, partner };
}

/** Seals where I am, rounded to what the open tiers allow, and sends it as `sealed_fix`:
 *  after each token report (`always`: a new fix, whose stretch is judged here and sealed
 *  with it), and again when the rounding changed (the tiers moved, the partner's position
 *  came). Nothing before the keys are confirmed, nothing while paused (the server would
 *  drop it; it must not leave). Every sealed position is padded to one length. */
function sendSealedFix({ always = false } = {}) {
  const run = sealingFix.then(async () => {
    const s = sealing();
    const p = state.position;
    if (!s || !p || pause.paused || pause.pausing || !state.bond) return;
    const wgs84 = await loadGeodesic();
    const bondId = state.bond.id;
    const shared = rounding.round(wgs84, p, knownNow(), keptCell(bondId));
    const content = rounding.fixContent(shared);
    if (!always && content === sealedFixSent) return;
    let stretch = null;
    if (always) {
      const fix = { lat: p.lat, lon: p.lon, accuracy_m: p.accuracy_m, at: Number.isFinite(p.at) ? Math.min(p.at, Date.now()) : Date.now() };
      const maxSpeedKmh = state.private?.maxSpeedKmh;
      if (Number.isFinite(maxSpeedKmh)) stretch = rounding.stretchOf(wgs84, stretchFrom, fix, maxSpeedKmh);
      if (!stretchFrom || fix.at >= stretchFrom.at) stretchFrom = fix;
    }
    const sealed = await s.seal("position", rounding.padFix(rounding.fixContent(shared, stretch)));
    if (sealing() !== s || pause.paused || pause.pausing) return;
    if (link.send({ type: "sealed_fix", sealed })) {
      sealedFixSent = content;
      keepCell(bondId, shared.cell);
      // Judged here, told here too, as the plain bond's server tells the mover.
      if (stretch) onStretch({ who: state.me, jump_m: stretch.jump_m });
    }
  }).catch((e) => positionStatus(`Could not seal where you are: ${e.message}.`));
  sealingFix = run;
  return run;
}

/** Opens the partner's latest sealed position (`{sealed, at}` from a frame or the bond's
 *  view, or null when there is none), keeps the newest by its counter, works out the
 *  pull from it and seals mine again (my rounding depends on it). */
async function openPartnerFix(kept) {
  const s = sealing();
  if (!state.bond || !s) return;
  const bond = state.bond;
  if (!kept) {
    state.partnerFix = null;
    return privatePull();
  }
  if (state.partnerFix?.sealed === kept.sealed) {
    state.partnerFix.at = kept.at ?? null;
    return privatePull();
  }
  const opened = await s.open(false, "position", kept.sealed, { kind: "position" }).catch(() => null);
  if (state.bond?.id !== bond.id || sealing() !== s) return;
  // An older one than this browser opened: older news, or the server sending it again.
  if (opened && !privateBond.shows(opened.verdict)) {
    if (opened.verdict === "replayed") notice(`The server sent an earlier position of ${bond.partner}'s again, so it is not shown.`);
    return;
  }
  const content = opened && rounding.readFixContent(opened.text);
  // One that overtook a newer one on the way is older news.
  if (content && state.partnerFix?.opened && opened.counter < state.partnerFix.counter) return;
  state.partnerFix = { sealed: kept.sealed, at: kept.at ?? null, opened: content, counter: opened?.counter ?? -1n };
  // The stretch their device sealed with it, told once: the first time this browser
  // opens the position, not when the server sends it again as the newest.
  if (content?.stretch && opened.verdict === "fresh") onStretch({ who: bond.partner, jump_m: content.stretch.jump_m });
  await privatePull();
  if (content) sendSealedFix();
}

/** The strength a private bond's open tiers prove without a distance: the plain bond's
 *  at the edge of the narrowest tier open (as the server sizes a private bond's pictures
 *  and camera frames, `haurach_private::matcher::strength`); 0 with none open. */
function tiersStrength(b) {
  const ranges = Object.values(b.tiers ?? {})
    .filter((t) => t.open && typeof t.range_m === "number")
    .map((t) => t.range_m);
  return ranges.length ? rounding.strength(b.profile, Math.min(...ranges)) : 0;
}

/** The pull toward the partner's opened sealed position, worked out here as the plain
 *  bond's server would send it (coarse beyond sight, exact within it, as the CLI's
 *  `where`), and the strength of that distance; `roughWithin` is set while their
 *  position is still rough (it may be farther from them than the whole distance to it:
 *  a kept cell claims twice its own reach, docs/privacy.md "Keeping the cell"). */
async function privatePull() {
  const b = state.bond;
  if (!b || !sealing()) return;
  const partner = state.partnerFix?.opened;
  const me = state.position;
  if (partner && me) {
    const wgs84 = await loadGeodesic();
    if (state.bond !== b) return;
    const { pull, strength, toward_m } = rounding.pullToward(wgs84, me, partner, Boolean(b.tiers.sight?.open), b.profile);
    Object.assign(pull, { by_hand: false, seen_at: state.partnerFix.at ?? null });
    Object.assign(b, { pull, strength, roughWithin: !partner.exact && partner.reach_m > toward_m ? partner.reach_m : null });
    // This device's journey of a private bond: the distance as it was shown here, once
    // it says something (a rough area's distance may be off by more than itself).
    if (!b.roughWithin) journey?.addPull(pull.distance_m);
  } else {
    // No distance here yet: the strength the open tiers prove, as the server takes it.
    Object.assign(b, { pull: null, strength: tiersStrength(b), roughWithin: null });
  }
  map.pull(b.pull);
  map.sealed(partner ?? null, Boolean(b.tiers.sight?.open));
  renderBond();
  // The meeting sentence goes from my fix and the partner's sealed position.
  places.renderOnDevice();
}

/** What the page says of a private bond, and what it hides: the partner's direction;
 *  words, feelings, thoughts, pictures, the camera, the journal, the map and the
 *  journey too while this browser cannot seal them (no confirmed keys). */
function renderPrivate() {
  const privacy = state.private;
  const shownPrivate = isPrivate();
  // The map draws without tiles unless chosen, and the journey is kept on this device,
  // once the keys are confirmed; on a plain bond both are the server's as before.
  const onDevice = shownPrivate && sealing() !== null;
  map.privately(onDevice ? state.bond.id : null, onDevice || privacyNow() === "plain");
  journey?.from(privacyNow() === "plain" ? "server" : onDevice ? "device" : "none", state.me);
  $("screen-link").classList.toggle("private", shownPrivate);
  // Words, feelings and thoughts come back once this device can seal and open them.
  $("screen-link").classList.toggle("sealing", shownPrivate && sealing() !== null);
  $("private-card").hidden = !shownPrivate;
  if (!shownPrivate) return;
  const partner = state.bond?.partner ?? "your partner";
  const status = $("private-status");
  status.classList.toggle("error", privacy.status === "mismatch");
  status.setAttribute("role", privacy.status === "mismatch" ? "alert" : "status");
  status.textContent = {
    waiting: `Waiting for ${partner}'s device to confirm the bond's keys. Until it does, nothing about where you are leaves this device.`,
    confirmed: "Keys confirmed: this device sends the server tokens of where you are, never the place itself, and seals where you are and what you say before they leave.",
    mismatch:
      "The bond's keys do not match: they were tampered with on the way. Nothing about where you are was sent. End the bond and make a new private invite.",
    elsewhere:
      "This bond's keys are on the device that made or accepted it, not in this browser: nothing about where you are is sent from here. Use that device.",
    unavailable: "A private bond needs a secure (HTTPS) page: nothing about where you are is sent from here.",
  }[privacy.status] ?? "";
}

function positionStatus(text) {
  $("position-status").textContent = text;
}

function renderPosition() {
  const p = state.position;
  map.position(p);
  // Kept on this device on a private bond (journey.js keeps nothing otherwise).
  journey?.ownFix(p);
  const hand = p?.source === "hand";
  $("gps-resume").hidden = !hand || !("geolocation" in navigator);
  if (!p) {
    if (state.gpsWatch !== null) positionStatus("Finding where you are…");
    return;
  }
  const acc = p.accuracy_m > 0 ? ` (within ${fmt.distance(p.accuracy_m)})` : "";
  positionStatus(
    `You are at ${fmt.coordinates(p.lat, p.lon)}${acc}, ` +
      (hand ? "set by hand." : "from your device."),
  );
}

// ---------------------------------------------------------------------------- compass

function onOrientation(ev) {
  let h = null;
  if (typeof ev.webkitCompassHeading === "number") h = ev.webkitCompassHeading;
  else if (ev.absolute && typeof ev.alpha === "number") h = 360 - ev.alpha;
  if (h === null || !Number.isFinite(h)) return;
  const screenAngle = screen.orientation?.angle ?? 0;
  const heading = (((h + screenAngle) % 360) + 360) % 360;
  // Redraw only when the heading moved by a degree or more.
  if (state.heading !== null && Math.abs(fmt.signedAngle(heading - state.heading)) < 1) return;
  state.heading = heading;
  requestRenderPull();
}

function startCompass() {
  window.addEventListener("deviceorientationabsolute", onOrientation);
  window.addEventListener("deviceorientation", onOrientation);
}

let pullFrame = null;
function requestRenderPull() {
  if (pullFrame !== null) return;
  pullFrame = requestAnimationFrame(() => {
    pullFrame = null;
    renderPull();
  });
}

// ---------------------------------------------------------------------------- render

let radar = null;

function renderConnection(s, detail) {
  const conn = $("conn");
  conn.hidden = s === "stopped";
  conn.dataset.state = s;
  const text = {
    connecting: "connecting…",
    live: "live",
    offline: "offline",
    stopped: "logged out",
  }[s];
  $("conn-text").textContent = text;
  if (state.bond && state.screen === "link") {
    requestRenderPull();
    renderHistory();
  }
  const offline = $("banner-offline");
  if (s === "offline") {
    const secs = Math.max(1, Math.round(detail.retryInMs / 1000));
    $("banner-offline-detail").textContent =
      `Trying again in ${secs} s. What you send now waits and goes out when the link is back.`;
    offline.hidden = false;
    if (state.screen === "loading") $("loading-title").nextElementSibling.textContent =
      "Cannot reach the server yet: trying again…";
  } else if (s === "live" || s === "stopped") {
    offline.hidden = true;
  }
  if (s === "live" && pendingOpen) {
    const screen = pendingOpen;
    pendingOpen = null;
    setTimeout(() => openScreen(screen));
  }
}

/** Puts the code from a scanned invite into the accept form, and says where it came
 *  from; the partner still picks how close and accepts. */
function fillScannedCode() {
  if (!scannedCode) return;
  $("accept-code").value = scannedCode;
  scannedCode = null;
  $("accept-scanned").hidden = false;
}

/** The accept form's own QR code reader (scan.js): the camera, or a picture. A code read
 *  is filled in, never accepted by itself: the partner still picks how close. */
let scanner = null;
function wireScanner() {
  const status = (text) => ($("scan-status").textContent = text);
  const read = (code, how) => {
    $("accept-code").value = code;
    $("accept-scanned").textContent =
      `The private code was read from ${how}. Pick how close you must be, then accept.`;
    $("accept-scanned").hidden = false;
    status("");
    $("accept-code").focus();
  };
  const stopCamera = () => {
    scanner?.stop();
    $("scan-box").hidden = true;
    $("scan-start").hidden = false;
  };
  $("scan-start").addEventListener("click", async () => {
    const scan = await import("./scan.js");
    scanner ??= new scan.Scanner({
      video: $("scan-video"),
      onCode: (code) => {
        stopCamera();
        read(code, "the QR code");
      },
      onStatus: status,
    });
    $("scan-box").hidden = false;
    $("scan-start").hidden = true;
    status("Starting the camera…");
    try {
      await scanner.start();
    } catch (e) {
      stopCamera();
      status(`The camera cannot be used: ${e.message}. Read the code from a picture, or type it.`);
    }
  });
  $("scan-stop").addEventListener("click", () => {
    stopCamera();
    status("");
  });
  $("scan-file").addEventListener("change", async () => {
    const file = $("scan-file").files[0];
    $("scan-file").value = "";
    if (!file) return;
    status("Reading the picture…");
    const scan = await import("./scan.js");
    const found = await scan.codeInFile(file);
    if (found.code) read(found.code, "the picture");
    else status(`Nothing filled in: ${found.error}.`);
  });
}

function showBondScreen() {
  show("bond");
  fillScannedCode();
  const saved = readInvite();
  if (saved) showInvite(saved);
  if (privateBond.available && state.me) {
    privateBond.pendingInvite(state.me).then((pending) => {
      if (pending && state.screen === "bond") showInvite(pending, { private: true });
    });
  }
}

function renderBond() {
  if (!state.bond || state.screen !== "link") return;
  renderPrivate();
  renderPull();
  renderStrength();
  renderTiers();
  renderGates();
}

function pullSentence() {
  const b = state.bond;
  if (pause.paused) return "You paused sharing: no pull until you resume.";
  const paused = pause.partnerSentence(b);
  if (paused) return paused;
  if (isPrivate()) {
    if (!sealing()) return `Where ${b.partner} is stays between your two devices; this page cannot show it yet.`;
    if (state.partnerFix && !state.partnerFix.opened) {
      return `${b.partner}'s position came sealed and does not open: it was changed on the way.`;
    }
  }
  if (!b.pull) {
    return state.position
      ? `Waiting for ${b.partner}'s position…`
      : "Waiting for your position: allow location, or set it below.";
  }
  return `${b.partner} is ${fmt.compassPoint(b.pull.bearing_deg)}, ${fmt.distance(b.pull.distance_m)}`;
}

/** Whether the bond on screen is private (as far as this device has found out). */
function isPrivate() {
  const privacy = state.private;
  // Not yet known (checking, or the check failed and is tried again): neither a position
  // nor a report goes, and the page stays as it is.
  return Boolean(privacy && state.bond && privacy.bondId === state.bond.id && !["plain", "checking", "error"].includes(privacy.status));
}

function renderPull() {
  const b = state.bond;
  if (!b) return;
  const sentence = pullSentence();
  const compass = state.heading !== null;
  let text = sentence;
  if (b.pull && (b.contact === "lost" || !link.live)) text += " (last known)";
  if (b.pull?.by_hand) text += `, a position ${b.partner} set by hand`;
  if (b.pull && compass) text += ` — ${fmt.relativeDirection(b.pull.bearing_deg, state.heading)}`;
  if ($("pull-text").textContent !== text) $("pull-text").textContent = text;
  $("heading-mode").textContent = compass
    ? "The arrow turns with your phone (compass)."
    : "North is up (this device gives no compass heading).";
  const rough = isPrivate() && b.pull && b.roughWithin
    ? `${b.partner}'s device has shared only a rough area so far (within ${fmt.distance(b.roughWithin)} of that point); it narrows as you both move.`
    : "";
  const note = $("pull-rough");
  note.hidden = !rough;
  if (note.textContent !== rough) note.textContent = rough;
  const exact = $("pull-exact");
  if (b.pull?.exact && b.pull.position) {
    exact.hidden = false;
    exact.textContent =
      `Within sight: ${b.partner} is exactly at ${fmt.coordinates(b.pull.position.lat, b.pull.position.lon)}.`;
  } else {
    exact.hidden = true;
  }
  locate.render();
  const next = b.next_tier;
  const ring = next && b.tiers[next.tier]?.range_m
    ? { tier: next.tier, range: b.tiers[next.tier].range_m }
    : null;
  radar.render({
    pull: b.pull,
    heading: state.heading ?? 0,
    partner: b.partner,
    ring,
    label: b.pull ? `${sentence}. You are at the centre.` : sentence,
  });
}

function renderStrength() {
  const pct = Math.round((state.bond.strength ?? 0) * 100);
  const meter = $("strength");
  meter.setAttribute("aria-valuenow", String(pct));
  meter.setAttribute("aria-valuetext", `${pct}%`);
  $("strength-fill").style.width = `${pct}%`;
  $("strength-text").textContent = `${pct}%`;
}

function renderTiers() {
  const b = state.bond;
  const ul = $("tiers");
  const keys = [...fmt.TIER_ORDER, ...Object.keys(b.tiers).filter((k) => !fmt.TIER_ORDER.includes(k))];
  const items = [];
  for (const key of keys) {
    const t = b.tiers[key];
    if (!t) continue;
    const li = document.createElement("li");
    li.dataset.tier = key;
    li.dataset.open = String(t.open);
    const name = document.createElement("span");
    name.className = "tier-name";
    name.textContent = fmt.TIER_NAMES[key] ?? key;
    const range = document.createElement("span");
    range.className = "tier-range";
    range.textContent = t.range_m === null ? "any distance" : `within ${fmt.distance(t.range_m)}`;
    const badge = document.createElement("span");
    badge.className = "tier-state";
    badge.textContent = t.open ? "open" : "closed";
    li.append(name, range, badge);
    items.push(li);
  }
  ul.replaceChildren(...items);
  const next = b.next_tier;
  let line = "";
  if (next) {
    const name = fmt.TIER_NAMES[next.tier] ?? next.tier;
    const verb = fmt.PLURAL_TIERS.has(next.tier) ? "open" : "opens";
    line = next.opens_in_m > 0
      ? `${name} ${verb} in ${fmt.distance(next.opens_in_m)}`
      : `${name} ${verb} any moment now`;
  } else if (b.pull && !isPrivate()) {
    // (A private bond's server knows no distance, so it names no next tier.)
    line = "Everything is open.";
  }
  $("next-tier").textContent = line;
}

/** Whether what is typed may pass now: the thoughts tier is open and the person does not
 *  guard. When it may not, the box is locked, so nothing typed then can ever be sent,
 *  neither now nor when the tier opens or the guard comes off: the box then holds only what
 *  the partner has already seen. */
function thoughtsPass() {
  // In a private bond thoughts pass only sealed, so not until this device can seal.
  if (!state.bond?.tiers.thoughts?.open || state.guarded) return false;
  return privacyNow() === "plain" || sealing() !== null;
}

/** Locks the box while nothing typed may pass, and says so in its place. */
function lockThoughts() {
  const box = $("thought-text");
  box.disabled = !thoughtsPass();
  box.placeholder = box.disabled ? "Locked: nothing typed now could pass" : "";
}

/** Sends the whole box again (XEP-0301's reset, or the whole text sealed), if it may
 *  pass. */
function resendThought() {
  if (!thoughtsPass()) return;
  if (sealing()) sendSealedThought($("thought-text").value);
  else thoughts.reset($("thought-text").value);
}

function closedNote(tier, what) {
  const t = state.bond.tiers[tier];
  if (!t || t.open) return "";
  const apart = state.bond.pull ? ` — you are ${fmt.distance(state.bond.pull.distance_m)} apart` : "";
  return `${what} within ${fmt.distance(t.range_m)}${apart}.`;
}

function renderGates() {
  const b = state.bond;
  const feelings = closedNote("feelings", "Feelings pass");
  $("feelings-closed").hidden = !feelings;
  $("feelings-closed").textContent = feelings;
  for (const btn of $("feelings").querySelectorAll("button")) btn.disabled = Boolean(feelings);

  const voice = closedNote("voice", "Voice passes");
  $("voice-closed").hidden = !voice;
  $("voice-closed").textContent = voice;
  $("voice-send").disabled = Boolean(voice);

  const imagesNote = closedNote("images", "Pictures pass");
  $("images-closed").hidden = !imagesNote;
  $("images-closed").textContent = imagesNote;
  $("image-file").disabled = Boolean(imagesNote);

  const thoughtsNote = closedNote("thoughts", "Thoughts pass");
  $("thoughts-closed").hidden = !thoughtsNote;
  $("thoughts-closed").textContent = thoughtsNote ? `${thoughtsNote} Until then the box is locked.` : "";
  lockThoughts();
}

/** A private bond's sealed place news or meeting point, opened (its JSON, padded with
 *  spaces), as the plain bond's notices say them; one that is not what it claims to be
 *  says so. */
function whereaboutsText(m) {
  let c = null;
  try {
    c = JSON.parse(m.body ?? "");
  } catch {
    c = null;
  }
  const at = (p) => (p && Number.isFinite(p.lat) && Number.isFinite(p.lon) ? ` (${p.lat.toFixed(5)}, ${p.lon.toFixed(5)})` : "");
  if (m.kind === "place" && c && typeof c.place === "string") {
    return `${c.event === "arrived" ? "arrived at" : "left"} ${c.place}${at(c.position)}`;
  }
  if (m.kind === "meeting" && c?.what === "pinned") {
    return `pinned the meeting point: ${c.name ? `${c.name} ` : ""}${at(c).trim()}`;
  }
  if (m.kind === "meeting" && c?.what === "unpinned") return "unpinned the meeting point";
  if (m.kind === "meeting" && c?.what === "reached") return "reached the meeting point";
  return `sent something sealed that is not ${m.kind === "place" ? "place news" : "a meeting point"}`;
}

function messageLine(message) {
  const m = shown(message);
  const who = m.from === state.me ? "You" : m.from;
  const sealed = m.unopened && UNOPENED_SHORT[m.unopened];
  switch (m.kind) {
    case "voice":
      return { who, text: sealed ? `(${sealed})` : m.body ?? "" };
    case "feeling":
      return sealed
        ? { who, text: `sent a feeling (${sealed})`, feeling: true }
        : { who, text: `${m.from === state.me ? "felt" : "feels"} ${m.feeling}`, feeling: true };
    case "alarm": {
      const answered = m.acknowledged_at ? "answered" : "not answered yet";
      const words = sealed ? ` with words (${sealed})` : m.body ? `: ${m.body}` : "";
      return { who, text: `raised the alarm${words} (${answered})`, alarm: true };
    }
    case "image":
      return { who, text: m.from === state.me ? "sent a picture" : "sent a picture (see Pictures)" };
    case "place":
    case "meeting":
      return { who, text: sealed ? `sent ${m.kind === "place" ? "place news" : "a meeting point"} (${sealed})` : whereaboutsText(m) };
    default:
      return { who, text: m.body ?? m.kind };
  }
}

/**
 * Renders the history without rebuilding it: the list is a live region, and a screen
 * reader announces every node added to it, so nodes are kept (by sender and id, which a
 * message keeps from the outbox to the store) and only new ones are inserted.
 */
function renderHistory() {
  renderLatest();
  const ol = $("history");
  if (!ol) return;
  const wanted = [];
  const seqs = [...state.messages.keys()].sort((a, b) => a - b).slice(-HISTORY_SHOWN);
  for (const seq of seqs) {
    const m = state.messages.get(seq);
    wanted.push({ m, line: messageLine(m), pending: false });
  }
  for (const item of state.outbox) {
    const m = { from: state.me, sent_at: item.at, id: item.id };
    wanted.push({ m, line: messageLine({ ...item, from: state.me }), pending: true });
  }
  if (wanted.length === 0) {
    wanted.push(null);
  }
  const atBottom = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 40;
  const existing = new Map();
  for (const li of ol.children) existing.set(li.dataset.key, li);
  let at = ol.firstElementChild;
  const keep = new Set();
  for (const w of wanted) {
    const key = w ? `${w.m.from}:${w.m.id}` : "empty";
    keep.add(key);
    let li = existing.get(key);
    if (!li) {
      li = document.createElement("li");
      li.dataset.key = key;
    }
    fillHistoryItem(li, w);
    if (li !== at) ol.insertBefore(li, at);
    else at = at.nextElementSibling;
  }
  for (const li of [...ol.children]) if (!keep.has(li.dataset.key)) li.remove();
  if (atBottom) ol.scrollTop = ol.scrollHeight;
}

/** Fills a history item, touching it only when what it shows has changed. */
function fillHistoryItem(li, w) {
  if (!w) {
    if (li.dataset.sig !== "empty") {
      li.className = "msg empty";
      li.textContent = "No messages yet.";
      li.dataset.sig = "empty";
    }
    return;
  }
  const { m, line, pending } = w;
  const when = pending
    ? link.live ? "sending…" : "waiting for the link…"
    : fmt.clock(new Date(m.sent_at));
  const sig = JSON.stringify([line, when, pending]);
  if (li.dataset.sig === sig) return;
  li.dataset.sig = sig;
  li.className = `msg ${m.from === state.me ? "from-me" : "from-partner"}`;
  if (line.alarm) li.classList.add("msg-alarm");
  if (line.feeling) li.classList.add("msg-feeling");
  if (pending) li.classList.add("pending");
  if (m.seq !== undefined) li.dataset.seq = String(m.seq);
  const head = document.createElement("span");
  head.className = "msg-head";
  const who = document.createElement("strong");
  who.textContent = line.who;
  const time = document.createElement("time");
  time.dateTime = m.sent_at;
  time.textContent = when;
  head.append(who, " ", time);
  const body = document.createElement("span");
  body.className = "msg-body";
  body.textContent = line.text;
  li.replaceChildren(head, body);
}

function renderAlarms() {
  const banner = $("banner-alarm");
  const seq = state.alarmsIn[0];
  const m = seq !== undefined ? state.messages.get(seq) : null;
  if (m && !m.acknowledged_at) {
    const v = shown(m);
    const at = `At ${fmt.clock(new Date(m.sent_at))}`;
    $("banner-alarm-title").textContent = `${m.from} raised the alarm!`;
    $("banner-alarm-detail").textContent = v.unopened
      ? `${at}. Its words ${UNOPENED_WORDS[v.unopened]}. Let them know you felt it.`
      : `${at}${v.body ? `: “${v.body}”` : ""}. Let them know you felt it.`;
    $("alarm-ack").hidden = false;
    $("alarm-ack").dataset.seq = String(seq);
    banner.hidden = false;
  } else {
    banner.hidden = true;
    $("alarm-ack").hidden = true;
  }
  // My own raised alarms still waiting for an answer (or for the link, if offline).
  const mine = [...state.messages.values()].filter(
    (x) => x.kind === "alarm" && x.from === state.me && !x.acknowledged_at,
  );
  const queued = state.outbox.some((i) => i.kind === "alarm");
  const out = $("banner-alarm-out");
  if ((mine.length > 0 || queued) && state.bond) {
    const text = mine.length > 0
      ? `Your alarm is raised: waiting for ${state.bond.partner} to answer…`
      : link.live ? "Raising your alarm…" : "Your alarm goes out as soon as the link is back…";
    $("banner-alarm-out-text").textContent = text;
    $("alarm-status").textContent = text;
    out.hidden = false;
  } else {
    out.hidden = true;
  }
}

function renderPartnerThought() {
  const b = state.bond;
  if (!b) return;
  const p = $("partner-thought");
  const text = b.tiers.thoughts?.open && !b.partner_guarded ? state.partnerThought.text : "";
  p.textContent = text;
  p.dataset.empty = String(text === "");
  $("partner-guard").textContent = b.partner_guarded ? `${b.partner} is guarding their thoughts.` : state.thoughtNote;
}

function renderGuard() {
  const g = $("guard");
  g.setAttribute("aria-checked", String(state.guarded));
  const partner = state.bond?.partner ?? "your partner";
  $("guard-state").textContent = state.guarded
    ? `Guarded: the box is locked and nothing reaches ${partner}.`
    : `Not guarded: ${partner} sees what you type.`;
  lockThoughts();
}

// --------------------------------------------------------------------------- banners

const bannerTimers = {};
function showBanner(id, hideAfterMs) {
  const el = $(id);
  el.hidden = false;
  clearTimeout(bannerTimers[id]);
  if (hideAfterMs) bannerTimers[id] = setTimeout(() => (el.hidden = true), hideAfterMs);
}

function notice(text) {
  if (!text) return;
  $("banner-notice-text").textContent = text;
  showBanner("banner-notice", 6000);
}

/** Contact lost, with when the partner was last heard (when the server says), kept until
 *  contact is back or the person dismisses it. */
function showContactLost(lastHeardMs) {
  const b = state.bond;
  if (!b) return;
  state.contactShownLost = true;
  const el = $("banner-contact");
  el.className = "banner banner-lost";
  $("banner-contact-title").textContent = `Contact with ${b.partner} lost`;
  const heard = lastHeardMs
    ? `Last heard at ${fmt.clock(new Date(lastHeardMs))} (${fmt.duration(Math.max(0, Date.now() - lastHeardMs))} ago). `
    : "Their link is silent. ";
  $("banner-contact-detail").textContent = `${heard}What you send waits for them.`;
  showBanner("banner-contact");
}

function showContactRestored(ms) {
  const b = state.bond;
  if (!b) return;
  state.contactShownLost = false;
  const el = $("banner-contact");
  el.className = "banner banner-restored";
  $("banner-contact-title").textContent = `Contact with ${b.partner} restored`;
  $("banner-contact-detail").textContent = ms ? `after ${fmt.duration(ms)}.` : "";
  // Kept until seen, like the loss it ends.
  showBanner("banner-contact");
}

function showError(id, text) {
  const el = $(id);
  if (!el) return;
  el.textContent = text;
  el.hidden = false;
  clearTimeout(bannerTimers[id]);
  bannerTimers[id] = setTimeout(() => (el.hidden = true), 15000);
}

function showAuthError(text) {
  $("auth-error").textContent = text;
  $("auth-error").hidden = false;
}

// ---------------------------------------------------------------------------- invite

function inviteKey() {
  return `haurach.invite.${state.me}`;
}

function readInvite() {
  try {
    const saved = JSON.parse(localStorage.getItem(inviteKey()) || "null");
    return saved && new Date(saved.expires_at) > new Date() ? saved : null;
  } catch {
    return null;
  }
}

function showInvite(invite, { private: secret = false } = {}) {
  $("invite-code").textContent = invite.code;
  $("invite-code").classList.toggle("code-long", secret);
  const qr = $("invite-qr");
  qr.hidden = true;
  qr.replaceChildren();
  if (secret) {
    privateBond.qrCode(invite.code).then((svg) => {
      if ($("invite-code").textContent !== invite.code) return;
      qr.replaceChildren(svg);
      qr.hidden = false;
    }).catch(() => {});
  }
  $("invite-box").hidden = false;
  $("invite-empty").hidden = true;
  $("invite-make").textContent = "Make a new code";
  const expires = new Date(invite.expires_at);
  const until = `${expires.toLocaleDateString([], { weekday: "long" })} ${fmt.clock(expires)}`;
  $("invite-hint").textContent = secret
    ? `A private invite: give this code to your partner yourself, face to face or by a message the server does not carry; their phone's camera can scan the QR code, which opens this page with the code filled in. The server never sees it. It works until ${until}; this page moves on by itself once they enter it.`
    : `Give this code to your partner. It works until ${until}; this page moves on by itself once they enter it.`;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard API on plain-HTTP pages: select and copy the old way.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.append(area);
    area.select();
    const ok = document.execCommand?.("copy") ?? false;
    area.remove();
    return ok;
  }
}

// ------------------------------------------------------------------------------ wire

function setMode(mode) {
  state.mode = mode;
  const login = mode === "login";
  $("tab-login").setAttribute("aria-selected", String(login));
  $("tab-register").setAttribute("aria-selected", String(!login));
  $("tab-login").tabIndex = login ? 0 : -1;
  $("tab-register").tabIndex = login ? -1 : 0;
  $("auth-panel").setAttribute("aria-labelledby", login ? "tab-login" : "tab-register");
  $("auth-submit").textContent = login ? "Log in" : "Register";
  $("auth-password").autocomplete = login ? "current-password" : "new-password";
  $("auth-error").hidden = true;
  city.gateModeChanged(mode);
}

function wire() {
  places.wire();
  wireScanner();
  pause.wire();
  map.wire();
  journey = new Journey($("journey"), $("journey-empty"), (fixes) => map.track(fixes));
  // Scrolling to a field must not leave it under the sticky header and banners.
  new ResizeObserver(() => {
    document.documentElement.style.setProperty("--sticky-h", `${$("sticky").offsetHeight}px`);
  }).observe($("sticky"));

  radar = new Radar($("radar"), (bearing, dist) => {
    if (!state.position) {
      showError("position-error", "The radar is centred on you: set your position with coordinates first.");
      return;
    }
    const p = destination(state.position.lat, state.position.lon, bearing, dist);
    askHandPosition(p.lat, p.lon);
  });

  // The gate.
  for (const tab of [$("tab-login"), $("tab-register")]) {
    tab.addEventListener("click", () => setMode(tab.id === "tab-login" ? "login" : "register"));
    tab.addEventListener("keydown", (ev) => {
      if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(ev.key)) return;
      ev.preventDefault();
      const next = state.mode === "login" ? "register" : "login";
      setMode(ev.key === "Home" ? "login" : ev.key === "End" ? "register" : next);
      $(`tab-${state.mode}`).focus();
    });
  }
  $("auth-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = $("auth-name").value.trim();
    const password = $("auth-password").value;
    if (!name) return showAuthError("Enter your name.");
    if (state.mode === "register" && password.length < 8) {
      return showAuthError("Choose a password of at least 8 characters.");
    }
    if (state.mode === "register" && !$("book-fields").hidden && !$("book-name").value.trim()) {
      $("book-name").focus();
      return showAuthError("Write at least your name in the gatekeeper's book: the tower reads it before it lets you in.");
    }
    if (state.mode === "register" && !$("invite-field").hidden && !$("gate-invite").value.trim()) {
      $("gate-invite").focus();
      return showAuthError("Type the invite code a citizen of this city gave you.");
    }
    $("auth-submit").disabled = true;
    $("auth-error").hidden = true;
    try {
      if (state.mode === "register") await api.register(name, password, city.registration());
      const s = await api.login(name, password);
      session.save(s.token, s.account.name);
      push.keepSession();
      state.me = s.account.name;
      $("auth-password").value = "";
      loadOutbox();
      show("loading");
      if (!(await city.admitted())) return;
      link.start();
    } catch (e) {
      showAuthError(`${fmt.capitalise(e.message)}.`);
    } finally {
      $("auth-submit").disabled = false;
    }
  });

  // Bonding.
  $("invite-make").addEventListener("click", async () => {
    $("invite-error").hidden = true;
    try {
      const invite = await api.invite();
      localStorage.setItem(inviteKey(), JSON.stringify(invite));
      // A new code replaces the one shown, a private one too: its keys are forgotten.
      if (privateBond.available) await privateBond.forget(state.me);
      showInvite(invite);
      $("invite-code").focus?.();
    } catch (e) {
      showError("invite-error", `${fmt.capitalise(e.message)}.`);
    }
  });
  $("invite-private").addEventListener("click", async () => {
    $("invite-error").hidden = true;
    if (!privateBond.available) {
      return showError("invite-error", "A private bond needs a secure (HTTPS) page: this browser cannot make its keys here.");
    }
    try {
      const invite = await withPlacesMoved((names) => privateBond.invite(state.me, names));
      // The plain code, if there was one, is no longer the one shown.
      localStorage.removeItem(inviteKey());
      showInvite(invite, { private: true });
    } catch (e) {
      showError("invite-error", `${fmt.capitalise(e.message)}.`);
    }
  });
  $("invite-copy").addEventListener("click", async () => {
    const ok = await copyText($("invite-code").textContent);
    $("invite-copied").textContent = ok ? "Copied." : "Select the code and copy it by hand.";
  });
  // The code's box is a text area (a private code wraps): Enter still sends the form.
  $("accept-code").addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter" || ev.shiftKey || ev.isComposing) return;
    ev.preventDefault();
    $("accept-form").requestSubmit();
  });
  $("accept-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const code = $("accept-code").value.trim();
    if (!code) return showError("accept-error", "Enter the code your partner gave you.");
    const profile = new FormData($("accept-form")).get("profile") || "story";
    try {
      let bond;
      if (privateBond.isPrivateCode(code)) {
        if (!privateBond.available) {
          return showError("accept-error", "A private bond needs a secure (HTTPS) page: this browser cannot make its keys here.");
        }
        bond = await withPlacesMoved((names) => privateBond.accept(state.me, code, profile, names));
      } else {
        bond = await api.accept(code, profile);
      }
      $("accept-code").value = "";
      $("accept-scanned").hidden = true;
      // The `bonded` frame may have come first, and a pull after it: the answer, which
      // has no pull, must not take its place.
      if (state.bond?.id !== bond.id) enterBond(bond);
    } catch (e) {
      showError("accept-error", `${fmt.capitalise(e.message)}.`);
    }
  });

  // Feelings.
  const feelings = $("feelings");
  for (const f of fmt.FEELINGS) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `feeling feeling-${f}`;
    b.textContent = fmt.capitalise(f);
    b.addEventListener("click", async () => {
      try {
        await sendMessage("feeling", { feeling: f });
        $("feeling-last").textContent = `You sent ${f}.`;
      } catch (e) {
        $("feeling-last").textContent = `Not sent: ${e.message}.`;
      }
    });
    feelings.append(b);
  }

  // Voice.
  $("voice-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = $("voice-text").value.trim();
    if (!body) return;
    $("voice-text").value = "";
    $("voice-error").hidden = true;
    sendMessage("voice", { body }).catch((e) => {
      $("voice-text").value = body;
      showError("voice-error", `Not sent: ${e.message}.`);
    });
  });

  // Pictures.
  $("image-file").addEventListener("change", async () => {
    const input = $("image-file");
    const file = input.files?.[0];
    if (!file) return;
    $("image-error").hidden = true;
    $("image-status").textContent = `Sending ${file.name}…`;
    try {
      await pictures.send(file);
    } catch (e) {
      $("image-status").textContent = "";
      showError("image-error", `${file.name} was not sent: ${e.message}.`);
    } finally {
      input.value = "";
    }
  });

  // Thoughts.
  let thoughtTimer = null;
  $("thought-text").addEventListener("input", () => {
    // Keystrokes within 50 ms go out as one batch.
    if (thoughtTimer !== null) return;
    thoughtTimer = setTimeout(() => {
      thoughtTimer = null;
      if (!thoughtsPass()) return;
      // Sealed, each change is the whole text: the server cannot apply edits to it.
      if (sealing()) sendSealedThought($("thought-text").value);
      else thoughts.update($("thought-text").value);
    }, 50);
  });
  setInterval(() => {
    const text = $("thought-text").value;
    if (!thoughtsPass() || !link.live) return;
    if (sealing()) {
      if (text !== "" || sealedThoughtSent !== "") sendSealedThought(text);
    } else if (text !== "" || thoughts.sent !== "") {
      thoughts.reset(text);
    }
  }, THOUGHT_RESET_MS);
  // Memories.
  $("memory-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = $("memory-text").value.trim();
    if (!body) return;
    try {
      await memories.write(body);
      $("memory-text").value = "";
      $("memory-error").hidden = true;
    } catch (e) {
      showError("memory-error", `Not kept: ${e.message}.`);
    }
  });
  $("memory-photo").addEventListener("change", async () => {
    const file = $("memory-photo").files?.[0];
    if (!file) return;
    try {
      await memories.writePhoto(file, $("memory-text").value.trim());
      $("memory-text").value = "";
      $("memory-error").hidden = true;
    } catch (e) {
      showError("memory-error", `${file.name} was not kept: ${e.message}.`);
    } finally {
      $("memory-photo").value = "";
    }
  });

  // Glimpse and sight.
  $("camera-allow").addEventListener("click", async () => {
    try {
      await camera.setAllow(!camera.allow);
    } catch (e) {
      $("camera-state").textContent = `Not changed: ${e.message}.`;
    }
  });
  $("glimpse-ask").addEventListener("click", () => camera.askGlimpse());
  $("glimpse-yes").addEventListener("click", () => camera.answer(true));
  $("glimpse-no").addEventListener("click", () => camera.answer(false));
  $("camera-stop").addEventListener("click", async () => {
    try {
      await camera.setAllow(false);
    } catch (e) {
      // The server did not hear it, but the camera stops on this device now.
      camera.allow = false;
      camera.follow();
      notice(`The camera stopped here, but the server did not hear it: ${e.message}.`);
    }
  });

  $("guard").addEventListener("click", () => {
    state.guarded = !state.guarded;
    localStorage.setItem("haurach.guard", state.guarded ? "on" : "off");
    link.send({ type: "guard", on: state.guarded });
    renderGuard();
    resendThought();
  });

  // The alarm.
  holdToConfirm($("alarm-hold"), {
    ms: 1000,
    onStart: () => ($("alarm-hold-label").textContent = "Keep holding…"),
    onDone: () => {
      $("alarm-hold-label").textContent = "Hold to raise the alarm";
      raiseAlarm();
    },
    onCancel: () => {
      $("alarm-hold-label").textContent = "Hold to raise the alarm";
      $("alarm-status").textContent = "Keep holding for a whole second to raise the alarm.";
    },
  });
  $("alarm-ack").addEventListener("click", async () => {
    const seq = Number($("alarm-ack").dataset.seq);
    if (!Number.isFinite(seq)) return;
    if (!link.send({ type: "ack_alarm", seq })) {
      try {
        await api.ackAlarm(seq);
        onAlarmAcknowledged({ seq, by: state.me });
      } catch (e) {
        notice(`Could not answer the alarm: ${e.message}.`);
      }
    }
  });

  // Position by hand.
  $("position-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const lat = Number($("pos-lat").value.trim().replace(",", "."));
    const lon = Number($("pos-lon").value.trim().replace(",", "."));
    const latText = $("pos-lat").value.trim();
    const lonText = $("pos-lon").value.trim();
    if (!latText || !Number.isFinite(lat) || lat < -90 || lat > 90) {
      return showError("position-error", "Latitude is a number from -90 to 90.");
    }
    if (!lonText || !Number.isFinite(lon) || lon < -180 || lon > 180) {
      return showError("position-error", "Longitude is a number from -180 to 180.");
    }
    askHandPosition(lat, lon);
  });
  $("hand-yes").addEventListener("click", () => {
    const dialog = $("hand-dialog");
    const lat = Number(dialog.dataset.lat);
    const lon = Number(dialog.dataset.lon);
    dialog.close();
    $("pos-lat").value = lat.toFixed(5);
    $("pos-lon").value = lon.toFixed(5);
    setHandPosition(lat, lon);
  });
  $("hand-no").addEventListener("click", () => $("hand-dialog").close());
  $("gps-resume").addEventListener("click", () => {
    localStorage.removeItem("haurach.hand_position");
    state.position = null;
    startPosition();
  });

  // The compass. Most phones just send headings; iOS sends none until asked, and asking
  // needs a tap, so a touch device that stays silent gets a button to ask with.
  startCompass();
  const DOE = window.DeviceOrientationEvent;
  if (DOE && typeof DOE.requestPermission === "function" && matchMedia("(pointer: coarse)").matches) {
    setTimeout(() => ($("compass-enable").hidden = state.heading !== null), 1500);
    $("compass-enable").addEventListener("click", async () => {
      try {
        if ((await DOE.requestPermission()) === "granted") $("compass-enable").hidden = true;
      } catch {
        // Refused: north stays up.
      }
    });
  }

  // Leaving.
  $("end-bond").addEventListener("click", async () => {
    const partner = state.bond?.partner ?? "your partner";
    if (!confirm(`End the bond with ${partner}? You will both need a new code to bond again.`)) return;
    try {
      await api.endBond();
      onBondEnded();
    } catch (e) {
      notice(`Could not end the bond: ${e.message}.`);
    }
  });
  for (const b of document.querySelectorAll(".logout")) b.addEventListener("click", () => logout());

  $("conn-retry").addEventListener("click", () => link.reconnectNow());
  $("latest").addEventListener("click", () => {
    const title = $($("latest").dataset.card);
    title?.scrollIntoView({ behavior: "smooth", block: "start" });
    title?.focus({ preventScroll: true });
  });
  for (const b of document.querySelectorAll("[data-close]")) {
    b.addEventListener("click", () => ($(b.dataset.close).hidden = true));
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") scheduleAck();
  });
}

boot();
