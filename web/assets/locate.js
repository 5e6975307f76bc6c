// "Where are you now?": asking the partner for a fresh position (the button in the pull
// card), answering at once when the partner asks (a fresh fix from the device, not the
// last one the watch kept), and how fresh the partner's position is and their battery,
// which the server sends only while the feelings tier is open. The battery level this
// device sends with its positions comes from the Battery Status API where the browser
// has it (Chromium; not Firefox or Safari).

import { call } from "./api.js";
import * as fmt from "./format.js";

const $ = (id) => document.getElementById(id);

/** What app.js lends: the bond, the position to send, a way to send it, and whether
 *  sharing is paused. */
let ctx = null;
/** When I asked (ms), until the partner's answer arrives. */
let askedAt = null;
/** This device's battery level, percent, when the browser says. */
let battery = null;

export function init(context) {
  ctx = context;
  $("locate-ask").addEventListener("click", ask);
  // The age shown beside the pull keeps counting between frames.
  setInterval(() => render(), 1000);
  navigator.getBattery?.()
    .then((b) => {
      const read = () => (battery = Math.round(b.level * 100));
      read();
      b.addEventListener("levelchange", read);
    })
    .catch(() => {});
}

/** The battery level to send with a position, or null. */
export function batteryLevel() {
  return battery;
}

async function ask() {
  const b = ctx.bond();
  if (!b) return;
  const status = $("locate-status");
  try {
    await call("POST", "/api/v1/bond/locate");
    askedAt = Date.now();
    status.textContent = `Asked ${b.partner} where they are now. Waiting for the answer…`;
  } catch (e) {
    askedAt = null;
    status.textContent = `${fmt.capitalise(e.message)}.`;
  }
}

/** The partner asks where I am: a fresh fix from the device (maximumAge 0), sent at once;
 *  a position set by hand is sent again as it is. */
export function answer(by) {
  const status = $("locate-status");
  const who = by || ctx.bond()?.partner || "Your partner";
  if (ctx.paused()) {
    status.textContent = `${who} asked where you are; you paused sharing, so nothing was sent.`;
    return;
  }
  const send = () => {
    ctx.sendNow();
    status.textContent = `${who} asked where you are: your position was sent.`;
  };
  const here = ctx.position();
  if (here?.source === "hand" || !("geolocation" in navigator)) {
    if (here) send();
    return;
  }
  status.textContent = `${who} asks where you are: finding your position…`;
  navigator.geolocation.getCurrentPosition(
    (p) => {
      ctx.setPosition({
        lat: p.coords.latitude,
        lon: p.coords.longitude,
        accuracy_m: Math.min(1e6, Math.max(0, p.coords.accuracy || 0)),
        source: "device",
        at: p.timestamp,
      });
      send();
    },
    () => {
      // No fresh fix: the latest one says something all the same.
      if (here) send();
      else status.textContent = `${who} asked where you are, but this device cannot tell.`;
    },
    { enableHighAccuracy: true, maximumAge: 0, timeout: 30000 },
  );
}

/** A pull frame: the answer, when it follows my ask. */
export function onPull(f) {
  if (askedAt === null || f.moved !== "partner") return;
  askedAt = null;
  const b = ctx.bond();
  const seen = f.pull.seen_at ? `: ${fmt.duration(Math.max(0, Date.now() - Date.parse(f.pull.seen_at)))} ago` : "";
  $("locate-status").textContent = `${b?.partner ?? "Your partner"} answered${seen}.`;
}

/** "Last seen 5 s ago, battery 64 %" under the pull, while the server sends them. */
export function render() {
  const el = $("pull-vitals");
  const pull = ctx?.bond()?.pull;
  const parts = [];
  if (pull?.seen_at) {
    parts.push(`last seen ${fmt.duration(Math.max(0, Date.now() - Date.parse(pull.seen_at)))} ago`);
  }
  if (Number.isFinite(pull?.battery)) parts.push(`battery ${pull.battery} %`);
  const text = parts.length ? `${ctx.bond().partner}: ${parts.join(", ")}` : "";
  if (el.textContent !== text) el.textContent = text;
  el.hidden = !text;
}
