// The city in the web client: the gate's form (the gatekeeper's book, an invite code),
// the applicant's wait for the tower, fire-mail (letters, parcels, receipts, threads,
// return to sender), summoning (the alarm-like call and the pull toward the summoner),
// and the tower's queue and register. app.js calls init() once, admitted() before it
// opens the link, onFrame() for the city's frames, and reset() on logout.

import { ApiError, call, session } from "./api.js";
import * as fmt from "./format.js";

const $ = (id) => document.getElementById(id);

const city = {
  gate: null,
  standing: null,
  box: "inbox",
  replyTo: null,
  /** The summons shown in the banner (the latest one calling or accepted). */
  summons: null,
  hooks: null,
};

// ------------------------------------------------------------------------------- api

async function raw(method, path, body, contentType) {
  const headers = {};
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (contentType) headers["Content-Type"] = contentType;
  let res;
  try {
    res = await fetch(path, { method, headers, body, cache: "no-store" });
  } catch {
    throw new ApiError(0, { code: "offline", detail: "cannot reach the server: check your connection and try again" });
  }
  if (!res.ok) {
    let problem = null;
    try {
      problem = await res.json();
    } catch {
      problem = null;
    }
    throw new ApiError(res.status, problem || { detail: `the server answered ${res.status}` });
  }
  return res;
}

const api = {
  gate: () => call("GET", "/api/v1/gate"),
  myArrival: () => call("GET", "/api/v1/gate/me"),
  queue: () => call("GET", "/api/v1/gate/queue"),
  register: () => call("GET", "/api/v1/gate/register"),
  decide: (name, decision, answer) =>
    call("POST", `/api/v1/gate/applications/${encodeURIComponent(name)}/decision`, { decision, answer }),
  letters: (box) => call("GET", `/api/v1/letters?box=${box}`),
  send: (letter) => call("POST", "/api/v1/letters", letter),
  read: (id) => call("POST", `/api/v1/letters/${id}/read`),
  giveBack: (id) => call("POST", `/api/v1/letters/${id}/return`),
  thread: (id) => call("GET", `/api/v1/letters/threads/${id}`),
  upload: async (file) => (await raw("POST", "/api/v1/parcels", file, "application/octet-stream")).json(),
  summonses: () => call("GET", "/api/v1/summons"),
  summon: (body) => call("POST", "/api/v1/summons", body),
  answer: (id, action) => call("POST", `/api/v1/summons/${id}/${action}`),
  allowed: () => call("GET", "/api/v1/summons/allowed"),
  allow: (name) => call("PUT", `/api/v1/summons/allowed/${encodeURIComponent(name)}`),
  disallow: (name) => call("DELETE", `/api/v1/summons/allowed/${encodeURIComponent(name)}`),
};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function showError(id, e) {
  const box = $(id);
  box.textContent = `${fmt.capitalise(e.message || String(e))}.`;
  box.hidden = false;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

/** Saves bytes fetched with the session (a parcel, the CSV) as a file. */
async function saveAs(path, name) {
  const res = await raw("GET", path);
  const url = URL.createObjectURL(await res.blob());
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ------------------------------------------------------------------------------ gate

/** Called once by app.js with what the city needs of the page. */
export function init(hooks) {
  city.hooks = hooks;
  wire();
  api
    .gate()
    .then((g) => {
      city.gate = g;
      // Nobody lives here yet: whoever comes first makes the tower's account.
      if (g.first) hooks.firstVisit();
      renderGateForm();
    })
    .catch(() => {});
}

/** What `register` sends besides the name and password. */
export function registration() {
  const extra = {};
  const text = (id) => $(id).value.trim() || undefined;
  if (!$("book-fields").hidden) {
    const age = text("book-age");
    extra.book = {
      name: text("book-name"),
      family_name: text("book-family"),
      from: text("book-from"),
      age: age === undefined ? undefined : Number.parseInt(age, 10),
      calling: text("book-calling"),
      note: text("book-note"),
    };
  }
  if (!$("invite-field").hidden && text("gate-invite")) extra.invite = text("gate-invite");
  return extra;
}

/** The gate form switched between logging in and registering (by a click, a key or the
 *  page itself): shows the book or the invite field, and asks the server again how the
 *  gate stands, since it may have changed since the page opened (the tower's account was
 *  made). */
export function gateModeChanged(mode) {
  renderGateForm(mode);
  api
    .gate()
    .then((g) => {
      city.gate = g;
      renderGateForm(mode);
    })
    .catch(() => {});
}

/** Shows the book or the invite field when the register tab is chosen. */
export function renderGateForm(mode) {
  const registering = (mode ?? ($("tab-register").getAttribute("aria-selected") === "true" ? "register" : "login")) === "register";
  const g = city.gate;
  const first = !!g?.first;
  $("book-fields").hidden = !(registering && g && g.mode === "application" && !first);
  $("invite-field").hidden = !(registering && g && g.mode === "invite" && !first);
  $("gate-first").hidden = !(registering && first);
}

/** Whether the logged-in account may open the link; shows the applicant's page if not. */
export async function admitted() {
  let arrival;
  try {
    arrival = await api.myArrival();
  } catch (e) {
    // An account older than the gate has no page; a network failure is the link's to
    // report. Either way the link decides.
    if (e instanceof ApiError && e.status === 401) throw e;
    city.standing = "citizen";
    enterCity();
    return true;
  }
  city.standing = arrival.standing;
  if (arrival.standing === "tower" || arrival.standing === "citizen") {
    enterCity();
    return true;
  }
  showApplicant(arrival);
  return false;
}

function enterCity() {
  $("city-nav").hidden = false;
  $("nav-tower").hidden = city.standing !== "tower";
  refreshBadge();
  api
    .summonses()
    .then((list) => {
      const open = list.summonses.find((s) => s.state === "calling" || s.state === "accepted");
      if (open) renderSummonsBanner(open);
    })
    .catch(() => {});
}

function bookRows(dl, arrival) {
  dl.replaceChildren();
  const b = arrival.book || {};
  const rows = [
    ["Name", arrival.account.name],
    ["Called", [b.name, b.family_name].filter(Boolean).join(" ")],
    ["From", b.from],
    ["Age", b.age],
    ["Calling", b.calling],
    ["Note", b.note],
    ["Arrived", when(arrival.arrived_at)],
  ];
  for (const [k, v] of rows) {
    if (v === undefined || v === null || v === "") continue;
    dl.append(el("dt", {}, k), el("dd", {}, String(v)));
  }
}

/** While the applicant's page is open, the book is looked at again every 15 s. */
let applicantPoll = null;

function showApplicant(arrival) {
  city.hooks.show("applicant");
  $("applicant-title").textContent =
    arrival.decision === "approved"
      ? "The tower let you in"
      : arrival.decision === "declined"
        ? "The tower declined your application"
        : "Your application is with the tower";
  clearInterval(applicantPoll);
  if (!arrival.decision) {
    applicantPoll = setInterval(async () => {
      if (state().screen !== "applicant" || !session.token) return clearInterval(applicantPoll);
      try {
        const again = await api.myArrival();
        if (again.decision) showApplicant(again);
      } catch {
        // The next tick tries again.
      }
    }, 15_000);
  }
  bookRows($("applicant-book"), arrival);
  const answer = $("applicant-answer");
  if (arrival.decision) {
    $("applicant-status").textContent =
      arrival.decision === "approved"
        ? "The tower approved your application."
        : "The tower declined your application.";
    answer.textContent = `The tower (${arrival.decided_by}) wrote: ${arrival.answer}`;
    answer.hidden = false;
  } else {
    $("applicant-status").textContent = "The book was sent to the tower. Its answer will come back here.";
    answer.hidden = true;
  }
  $("applicant-refresh").hidden = arrival.decision === "approved";
  if (arrival.decision === "approved") {
    $("applicant-refresh").hidden = false;
    $("applicant-refresh").textContent = "Enter the city";
  } else {
    $("applicant-refresh").textContent = "Has the tower answered?";
  }
}

// --------------------------------------------------------------------------- letters

function letterState(l, me) {
  const mine = l.from.toLowerCase() === me.toLowerCase();
  if (l.state === "returned") return mine ? "returned to you, unopened" : "you returned it";
  if (l.state === "read") return mine ? `read ${when(l.read_at)}` : "read";
  if (mine) return l.delivered_at ? `delivered ${when(l.delivered_at)}, unread` : "on its way";
  return "unread";
}

function letterItem(l) {
  const me = city.hooks.me() || "";
  const mine = l.from.toLowerCase() === me.toLowerCase();
  const head = el(
    "p",
    { class: "letter-head" },
    el("strong", {}, mine ? `To ${l.to}` : `From ${l.from}`),
    el("span", { class: "letter-state" }, ` ${when(l.sent_at)} · ${letterState(l, me)}`),
  );
  const item = el("li", { class: "letter", "data-letter": l.id, "data-state": l.state }, head);
  if (l.in_reply_to) item.append(el("p", { class: "hint" }, "A reply."));
  item.append(el("p", { class: "letter-body" }, l.body ?? "(sealed: open it to read it)"));
  for (const p of l.parcels) {
    const canOpen = mine || l.state === "read";
    const label = `${p.name} (${p.size} bytes)`;
    item.append(
      canOpen
        ? el("p", {}, el("button", {
            type: "button",
            class: "link-button parcel",
            onclick: () => saveAs(`/api/v1/letters/${l.id}/parcels/${p.index}`, p.name).catch((e) => showError("letters-error", e)),
          }, `Save the parcel ${label}`))
        : el("p", { class: "hint" }, `With a parcel: ${label}`),
    );
  }
  const actions = el("div", { class: "letter-actions" });
  const holding = l.holder.toLowerCase() === me.toLowerCase();
  if (holding && !mine && l.state === "unread") {
    actions.append(
      el("button", { type: "button", class: "button letter-read", onclick: () => move(l.id, "read") }, "Open it"),
      el("button", { type: "button", class: "button button-quiet letter-return", onclick: () => move(l.id, "return") }, "Return to sender"),
    );
  }
  if (l.state !== "returned") {
    actions.append(el("button", { type: "button", class: "button button-quiet letter-reply", onclick: () => startReply(l) }, "Reply"));
  }
  actions.append(el("button", { type: "button", class: "link-button letter-thread", onclick: () => showThread(l.thread) }, "The thread"));
  item.append(actions);
  return item;
}

async function renderLetters() {
  $("letters-error").hidden = true;
  try {
    const list = await api.letters(city.box);
    $("letters-list").replaceChildren(...list.letters.map(letterItem));
    if (!list.letters.length) {
      $("letters-list").append(el("li", { class: "hint" }, city.box === "inbox" ? "No letters in your hands." : "You have sent no letters."));
    }
    if (city.box === "inbox") setBadge(list.letters.filter((l) => l.state === "unread" && l.to.toLowerCase() === (city.hooks.me() || "").toLowerCase()).length);
  } catch (e) {
    showError("letters-error", e);
  }
}

function setBadge(n) {
  $("letters-badge").textContent = String(n);
  $("letters-badge").hidden = n === 0;
}

function refreshBadge() {
  if (state().screen === "letters") return renderLetters();
  // Counting unread letters lists the inbox, which also delivers them: that is true, the
  // client has them now.
  api
    .letters("inbox")
    .then((list) => setBadge(list.letters.filter((l) => l.state === "unread" && l.to.toLowerCase() === (city.hooks.me() || "").toLowerCase()).length))
    .catch(() => {});
}

async function move(id, how) {
  try {
    if (how === "read") await api.read(id);
    else await api.giveBack(id);
    if (how === "return") city.hooks.notice("The letter went back to its sender.");
  } catch (e) {
    showError("letters-error", e);
  }
  renderLetters();
}

function startReply(l) {
  const me = city.hooks.me() || "";
  const other = l.from.toLowerCase() === me.toLowerCase() ? l.to : l.from;
  city.replyTo = l.id;
  $("compose-to").value = other;
  $("compose-reply").textContent = `A reply to ${other}'s letter: it goes in the same thread.`;
  $("compose-reply").hidden = false;
  $("compose-cancel-reply").hidden = false;
  $("compose-body").focus();
}

function stopReply() {
  city.replyTo = null;
  $("compose-reply").hidden = true;
  $("compose-cancel-reply").hidden = true;
}

async function showThread(thread) {
  try {
    const list = await api.thread(thread);
    $("thread-list").replaceChildren(...list.letters.map(letterItem));
    $("thread-card").hidden = false;
    $("thread-title").focus?.();
  } catch (e) {
    showError("letters-error", e);
  }
}

async function sendLetter(ev) {
  ev.preventDefault();
  $("compose-error").hidden = true;
  const to = $("compose-to").value.trim();
  const body = $("compose-body").value;
  if (!to && !city.replyTo) return showError("compose-error", new Error("say whom the letter is to"));
  if (!body.trim()) return showError("compose-error", new Error("a letter needs some words"));
  $("compose-send").disabled = true;
  try {
    const parcels = [];
    for (const file of $("compose-files").files) {
      $("compose-status").textContent = `Sending the parcel ${file.name}…`;
      const up = await api.upload(file);
      parcels.push({ name: file.name, hash: up.hash });
    }
    const letter = { to: to || undefined, body, parcels, id: crypto.getRandomValues(new Uint32Array(4)).join("-") };
    if (city.replyTo) letter.in_reply_to = city.replyTo;
    const sent = await api.send(letter);
    $("compose-status").textContent = `Sent: the letter is in ${sent.to}'s hands now.`;
    $("compose-body").value = "";
    $("compose-files").value = "";
    stopReply();
    renderLetters();
  } catch (e) {
    $("compose-status").textContent = "";
    showError("compose-error", e);
  } finally {
    $("compose-send").disabled = false;
  }
}

// --------------------------------------------------------------------------- summons

function pullText(s) {
  if (s.distance_m === undefined || s.distance_m === null) return "";
  return `${fmt.compassPoint(s.bearing_deg)}, ${fmt.distance(s.distance_m)} away`;
}

function renderSummonsBanner(s) {
  const me = (city.hooks.me() || "").toLowerCase();
  const summoned = s.to.toLowerCase() === me;
  const banner = $("banner-summons");
  const open = s.state === "calling" || s.state === "accepted";
  city.summons = open ? s : null;
  city.hooks.summons(city.summons);
  if (!open) {
    const why = { declined: "was declined", ended: "ended", arrived: "is over: you are together" }[s.state];
    banner.hidden = true;
    city.hooks.notice(`The summons ${why}.`);
    if (state().screen === "summons") renderSummons();
    return;
  }
  let title, detail;
  if (summoned && s.state === "calling") {
    title = `${s.from} summons you`;
    detail = `The pull: ${s.from} is ${pullText(s) || "waiting for your position"} (at ${s.summoner.lat.toFixed(5)}, ${s.summoner.lon.toFixed(5)}).`;
  } else if (summoned) {
    title = `On your way to ${s.from}`;
    detail = `${s.from} is ${pullText(s) || "where they called from"}.`;
  } else if (s.state === "calling") {
    title = `You are summoning ${s.to}`;
    detail = "Waiting for an answer.";
  } else {
    title = `${s.to} is coming`;
    detail = s.summoned ? `${s.to} is ${fmt.distance(s.distance_m)} away, at ${s.summoned.lat.toFixed(5)}, ${s.summoned.lon.toFixed(5)}.` : `${s.to} accepted.`;
  }
  $("banner-summons-title").textContent = title;
  $("banner-summons-detail").textContent = detail;
  $("summons-accept").hidden = !(summoned && s.state === "calling");
  $("summons-decline").hidden = !(summoned && s.state === "calling");
  $("summons-end").hidden = summoned && s.state === "calling";
  banner.hidden = false;
  if (state().screen === "summons") renderSummons();
}

async function answerSummons(action) {
  if (!city.summons) return;
  try {
    const s = await api.answer(city.summons.id, action);
    renderSummonsBanner(s);
  } catch (e) {
    city.hooks.notice(`${fmt.capitalise(e.message)}.`);
  }
}

async function renderSummons() {
  const pos = city.hooks.position();
  if (pos && !$("summon-lat").value) {
    $("summon-lat").value = pos.lat.toFixed(5);
    $("summon-lon").value = pos.lon.toFixed(5);
  }
  try {
    const [list, allowed] = await Promise.all([api.summonses(), api.allowed()]);
    $("summons-list").replaceChildren(
      ...list.summonses.map((s) => el("li", { class: "letter" }, `${s.from} summons ${s.to}: ${s.state}${pullText(s) ? ` (${pullText(s)})` : ""}`)),
    );
    if (!list.summonses.length) $("summons-list").append(el("li", { class: "hint" }, "No summons is calling or on the way."));
    $("allowed-list").replaceChildren(
      ...allowed.allowed.map((name) =>
        el("li", {}, `${name} `, el("button", {
          type: "button",
          class: "link-button",
          onclick: async () => {
            await api.disallow(name).catch((e) => showError("allow-error", e));
            renderSummons();
          },
        }, "no longer")),
      ),
    );
    if (!allowed.allowed.length) $("allowed-list").append(el("li", { class: "hint" }, "Nobody may summon you."));
  } catch (e) {
    showError("summon-error", e);
  }
}

// ----------------------------------------------------------------------------- tower

async function renderTower() {
  $("tower-error").hidden = true;
  try {
    const [queue, register] = await Promise.all([api.queue(), api.register()]);
    $("queue-empty").hidden = queue.arrivals.length > 0;
    $("queue-list").replaceChildren(...queue.arrivals.map(applicationItem));
    $("register-table").tBodies[0].replaceChildren(
      ...register.arrivals.map((a) =>
        el(
          "tr",
          {},
          el("td", {}, a.account.name),
          el("td", {}, [a.book.name, a.book.family_name].filter(Boolean).join(" ")),
          el("td", {}, a.book.from || ""),
          el("td", {}, when(a.arrived_at)),
          el("td", {}, a.way),
          el("td", {}, a.standing),
          el("td", {}, a.answer || ""),
        ),
      ),
    );
  } catch (e) {
    showError("tower-error", e);
  }
}

function applicationItem(a) {
  const id = `answer-${a.account.name}`;
  const dl = el("dl", { class: "book-view" });
  bookRows(dl, a);
  const answer = el("textarea", { id, rows: "2", maxlength: "2000" });
  const decide = async (decision) => {
    if (!answer.value.trim()) {
      showError("tower-error", new Error("write an answer in the book first"));
      return;
    }
    try {
      await api.decide(a.account.name, decision, answer.value.trim());
      city.hooks.notice(`${a.account.name} is ${decision === "approved" ? "a citizen" : "turned away"}.`);
    } catch (e) {
      showError("tower-error", e);
    }
    renderTower();
  };
  return el(
    "li",
    { class: "letter application", "data-applicant": a.account.name },
    el("strong", {}, a.account.name),
    dl,
    el("div", { class: "field" }, el("label", { for: id }, "The tower's answer"), answer),
    el(
      "div",
      { class: "letter-actions" },
      el("button", { type: "button", class: "button approve", onclick: () => decide("approved") }, "Approve"),
      el("button", { type: "button", class: "button button-quiet decline", onclick: () => decide("declined") }, "Decline"),
    ),
  );
}

// ---------------------------------------------------------------------------- frames

function state() {
  return { screen: document.querySelector(".screen:not([hidden])")?.id?.replace("screen-", "") };
}

/** The city's frames of the live link; returns whether the frame was one. */
export function onFrame(f) {
  switch (f.type) {
    case "letter": {
      const l = f.letter;
      if (l.state === "returned") city.hooks.notice(`Your letter to ${l.to} came back unopened.`);
      else city.hooks.notice(`A letter from ${l.from} is in your hands${l.parcels.length ? ", with a parcel" : ""}.`);
      refreshBadge();
      return true;
    }
    case "letter_receipt":
      if (state().screen === "letters") renderLetters();
      return true;
    case "summons":
      renderSummonsBanner(f.summons);
      return true;
    case "application":
      city.hooks.notice(`${f.arrival.account.name} applied at the gate: the tower's queue has their book.`);
      if (state().screen === "tower") renderTower();
      return true;
    case "partner_summoned":
      city.hooks.stretch(`${f.partner} answered ${f.by}'s summons and is going to them.`);
      return true;
    default:
      return false;
  }
}

/** Forget everything of the session. */
export function reset() {
  clearInterval(applicantPoll);
  Object.assign(city, { standing: null, replyTo: null, summons: null, box: "inbox" });
  $("city-nav").hidden = true;
  $("banner-summons").hidden = true;
  city.hooks.summons?.(null);
  $("letters-list").replaceChildren();
  setBadge(0);
}

function go(where) {
  for (const b of document.querySelectorAll("#city-nav [data-go]")) {
    if (b.dataset.go === where) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  if (where === "home") return city.hooks.home();
  city.hooks.show(where);
  if (where === "letters") renderLetters();
  if (where === "summons") renderSummons();
  if (where === "tower") renderTower();
}

function setBox(box) {
  city.box = box;
  $("tab-inbox").setAttribute("aria-selected", String(box === "inbox"));
  $("tab-sent").setAttribute("aria-selected", String(box === "sent"));
  $("tab-inbox").tabIndex = box === "inbox" ? 0 : -1;
  $("tab-sent").tabIndex = box === "sent" ? 0 : -1;
  renderLetters();
}

function wire() {
  for (const b of document.querySelectorAll("#city-nav [data-go]")) {
    b.addEventListener("click", () => go(b.dataset.go));
  }
  $("applicant-refresh").addEventListener("click", async () => {
    try {
      if (await admitted()) city.hooks.enter();
    } catch (e) {
      city.hooks.notice(`${fmt.capitalise(e.message)}.`);
    }
  });
  $("compose-form").addEventListener("submit", sendLetter);
  $("compose-cancel-reply").addEventListener("click", stopReply);
  $("tab-inbox").addEventListener("click", () => setBox("inbox"));
  $("tab-sent").addEventListener("click", () => setBox("sent"));
  $("thread-close").addEventListener("click", () => ($("thread-card").hidden = true));
  $("summons-accept").addEventListener("click", () => answerSummons("accept"));
  $("summons-decline").addEventListener("click", () => answerSummons("decline"));
  $("summons-end").addEventListener("click", () => answerSummons("end"));
  $("summon-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("summon-error").hidden = true;
    const lat = Number.parseFloat($("summon-lat").value);
    const lon = Number.parseFloat($("summon-lon").value);
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) {
      return showError("summon-error", new Error("a summons carries where you are: give your latitude and longitude"));
    }
    try {
      const s = await api.summon({ to: $("summon-to").value.trim(), lat, lon });
      renderSummonsBanner(s);
    } catch (e) {
      showError("summon-error", e);
    }
  });
  $("allow-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("allow-error").hidden = true;
    try {
      await api.allow($("allow-name").value.trim());
      $("allow-name").value = "";
      renderSummons();
    } catch (e) {
      showError("allow-error", e);
    }
  });
  $("register-csv").addEventListener("click", () =>
    saveAs("/api/v1/gate/register.csv", "register.csv").catch((e) => showError("tower-error", e)),
  );
}
