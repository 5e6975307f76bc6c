// The installable app and notifications: registers the service worker (sw.js: the
// offline shell, pushes shown as notifications), offers notifications on this device,
// and keeps the session where the worker can use it to answer an alarm from its
// notification ("I hear you").

import { call, session } from "./api.js";

const SESSION_CACHE = "haurach-session";
let registration = null;
let onOpen = () => {};

const $ = (id) => document.getElementById(id);

/** base64url → bytes, for `applicationServerKey`. */
function keyBytes(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** Whether this browser can receive pushes at all. */
function supported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

/** Keeps (or forgets) the session for the service worker. */
export async function keepSession() {
  if (!("caches" in window)) return;
  try {
    const cache = await caches.open(SESSION_CACHE);
    if (session.token) await cache.put("/session", new Response(session.token));
    else await cache.delete("/session");
  } catch {
    // Private windows may have no cache storage: the action then opens the page.
  }
}

async function subscription() {
  return registration ? registration.pushManager.getSubscription() : null;
}

async function render() {
  const sub = await subscription().catch(() => null);
  const denied = Notification.permission === "denied";
  $("push-toggle").textContent = sub ? "Stop notifying this device" : "Notify me on this device";
  $("push-toggle").disabled = denied;
  $("push-status").textContent = denied
    ? "Notifications are blocked for this site: allow them in the browser's settings."
    : sub
      ? "This device is notified while the page is closed."
      : "";
}

async function toggle() {
  const status = $("push-status");
  try {
    const existing = await subscription();
    if (existing) {
      await call("DELETE", "/api/v1/push/subscriptions", { endpoint: existing.endpoint });
      await existing.unsubscribe();
      return render();
    }
    if ((await Notification.requestPermission()) !== "granted") return render();
    const { public_key } = await call("GET", "/api/v1/push/key");
    const sub = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(public_key),
    });
    await call("POST", "/api/v1/push/subscriptions", sub.toJSON());
    await keepSession();
    return render();
  } catch (e) {
    status.textContent = `Could not change notifications: ${e.message}.`;
  }
}

/** Registers the service worker and wires the notifications card; `open(screen)` shows a
 *  screen when a notification is tapped while the page is open. */
export async function init(open) {
  onOpen = open;
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.addEventListener("message", (ev) => {
    if (ev.data && typeof ev.data.open === "string") onOpen(ev.data.open);
  });
  try {
    registration = await navigator.serviceWorker.register("/assets/sw.js", { scope: "/" });
  } catch {
    return;
  }
  if (!supported()) return;
  $("push-card").hidden = false;
  $("push-toggle").addEventListener("click", toggle);
  await keepSession();
  await render();
  // Allowed or blocked in the browser's settings meanwhile: say so at once.
  try {
    const status = await navigator.permissions.query({ name: "notifications" });
    status.addEventListener("change", () => render());
  } catch {
    // No Permissions API: the card is right again at the next visit.
  }
}
