// The service worker: the page's shell kept for when there is no network, and the
// pushes the server sends while the page is closed, shown as notifications.
//
// The server fills in VERSION (a hash of every file of the web client) and SHELL (their
// paths) when it serves this file, so a new release is a new service worker: it keeps
// the new files under a new cache and deletes the old one.

const VERSION = "__HAURACH_VERSION__";
const SHELL = __HAURACH_SHELL__;
const CACHE = `haurach-shell-${VERSION}`;
// Where the page keeps its session for the worker (the "I hear you" action needs it).
const SESSION = "haurach-session";

self.addEventListener("install", (ev) => {
  ev.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (ev) => {
  ev.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys
            .filter((k) => k.startsWith("haurach-shell-") && k !== CACHE)
            .map((k) => caches.delete(k)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (ev) => {
  const req = ev.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) return;
  if (req.mode === "navigate") {
    // The network first, so a new page shows at once; the kept shell without one.
    ev.respondWith(
      fetch(req).catch(() =>
        caches.match("/", { cacheName: CACHE }).then((hit) => hit || Response.error()),
      ),
    );
    return;
  }
  if (url.pathname.startsWith("/assets/")) {
    ev.respondWith(
      caches
        .match(req, { cacheName: CACHE, ignoreSearch: true })
        .then((hit) => hit || fetch(req)),
    );
  }
  // The API is never answered from a cache.
});

/** A push's title and options: who, and what kind of news; never a letter's words. */
function describe(note) {
  switch (note.kind) {
    case "alarm":
      return [
        `${note.from} raised the alarm`,
        {
          body: "Tap “I hear you” so they know you heard.",
          tag: "alarm",
          renotify: true,
          requireInteraction: true,
          actions: [{ action: "ack", title: "I hear you" }],
          data: { open: "link", ack: note.seq },
        },
      ];
    case "summons":
      return [
        `${note.from} summons you`,
        { body: "Open to see where they call you.", tag: "summons", data: { open: "summons" } },
      ];
    case "letter":
      return [
        `A letter from ${note.from}`,
        { body: "Open to read it.", tag: "letter", data: { open: "letters" } },
      ];
    case "place":
      return [
        `${note.who} ${note.event === "arrived" ? "arrived at" : "left"} ${note.place}`,
        { body: "", tag: `place-${note.place}`, data: { open: "link" } },
      ];
    case "contact_lost":
      return [
        `Contact with ${note.who} lost`,
        { body: "Nothing has been heard from them for a while.", tag: "contact", data: { open: "link" } },
      ];
    case "contact_restored":
      return [
        `${note.who} is back`,
        { body: "Contact is restored.", tag: "contact", data: { open: "link" } },
      ];
    case "locate":
      return [
        `${note.from} asks where you are`,
        { body: "Open to answer with where you are now.", tag: "locate", data: { open: "locate" } },
      ];
    case "resumed":
      return [
        `${note.who} is sharing again`,
        { body: "Their pause is over.", tag: "pause", data: { open: "link" } },
      ];
    case "voice":
      return [
        `${note.from} spoke to you`,
        { body: "Open to read it.", tag: "voice", data: { open: "link" } },
      ];
    case "feeling":
      return [
        `${note.from} sent you a feeling`,
        { body: "Open to feel it.", tag: "feeling", data: { open: "link" } },
      ];
    // A private bond's: the server cannot say which place or where; the page opens it.
    case "sealed_place":
      return [
        `${note.from} has news of a place`,
        { body: "Open to read it.", tag: "sealed-place", data: { open: "link" } },
      ];
    case "sealed_meeting":
      return [
        `${note.from} sent news of the meeting point`,
        { body: "Open to read it.", tag: "sealed-meeting", data: { open: "link" } },
      ];
    default:
      return ["Haurach", { body: "Something happened.", tag: "news", data: { open: "link" } }];
  }
}

self.addEventListener("push", (ev) => {
  let note = {};
  try {
    note = ev.data ? ev.data.json() : {};
  } catch {
    note = {};
  }
  const [title, options] = describe(note);
  ev.waitUntil(
    self.registration.showNotification(title, {
      icon: "/assets/icon-192.png",
      badge: "/assets/icon-192.png",
      ...options,
    }),
  );
});

/** Acknowledges alarm `seq` with the page's session; true when the server took it. */
async function acknowledge(seq) {
  const cache = await caches.open(SESSION);
  const kept = await cache.match("/session");
  if (!kept) return false;
  const token = await kept.text();
  try {
    const res = await fetch(`/api/v1/bond/alarms/${encodeURIComponent(seq)}/ack`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
    });
    return res.ok || res.status === 409;
  } catch {
    return false;
  }
}

/** Focuses an open page on `screen`, or opens one there. */
async function openScreen(screen) {
  const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const page of pages) {
    if (new URL(page.url).origin !== self.location.origin) continue;
    page.postMessage({ open: screen });
    return page.focus();
  }
  return self.clients.openWindow(`/?open=${encodeURIComponent(screen)}`);
}

self.addEventListener("notificationclick", (ev) => {
  const data = ev.notification.data || {};
  ev.notification.close();
  if (ev.action === "ack" && data.ack !== undefined) {
    // Answered from the notification; the page opens only if that failed.
    ev.waitUntil(acknowledge(data.ack).then((ok) => (ok ? undefined : openScreen("link"))));
    return;
  }
  ev.waitUntil(openScreen(data.open || "link"));
});
