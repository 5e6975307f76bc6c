// The "Devices" card: passwords of the person's own devices (the OwnTracks app), made
// here, shown once, listed and revoked. A device password only posts positions to
// /owntracks; the server keeps only its hash, so the page cannot show it again.

import { call } from "./api.js";

const $ = (id) => document.getElementById(id);

/** The device names the server accepts. */
const NAME = /^[A-Za-z0-9._-]{1,32}$/;

async function refresh() {
  const list = $("devices-list");
  let devices;
  try {
    devices = await call("GET", "/api/v1/me/devices");
  } catch (e) {
    $("devices-status").textContent = `Could not list your devices: ${e.message}.`;
    return;
  }
  list.replaceChildren(
    ...devices.map((d) => {
      const li = document.createElement("li");
      li.className = "device";
      const name = document.createElement("span");
      name.textContent = `${d.name}, since ${new Date(d.created_at).toLocaleDateString()}`;
      const revoke = document.createElement("button");
      revoke.type = "button";
      revoke.className = "button button-quiet";
      revoke.textContent = "Revoke";
      revoke.setAttribute("aria-label", `Revoke ${d.name}'s password`);
      revoke.addEventListener("click", () => revokeDevice(d.name));
      li.append(name, revoke);
      return li;
    }),
  );
  $("devices-empty").hidden = devices.length > 0;
}

async function revokeDevice(name) {
  try {
    await call("DELETE", `/api/v1/me/devices/${encodeURIComponent(name)}`);
    $("devices-status").textContent = `${name}'s password is revoked: the device is refused from now on.`;
    $("device-made").hidden = true;
  } catch (e) {
    $("devices-status").textContent = `Could not revoke ${name}: ${e.message}.`;
  }
  await refresh();
}

async function add(ev) {
  ev.preventDefault();
  const input = $("device-name");
  const name = input.value.trim();
  const error = $("device-error");
  error.hidden = true;
  if (!NAME.test(name)) {
    error.textContent = "A device's name is 1 to 32 letters, digits, '-', '_' or '.'.";
    error.hidden = false;
    input.focus();
    return;
  }
  try {
    const made = await call("POST", "/api/v1/me/devices", { name });
    $("device-made-name").textContent = made.name;
    $("device-password").textContent = made.password;
    $("device-made").hidden = false;
    $("devices-status").textContent = "";
    input.value = "";
  } catch (e) {
    error.textContent = `${e.message}.`;
    error.hidden = false;
  }
  await refresh();
}

/** Wires the card; the list is read when the link screen is first shown. */
export function init() {
  $("device-form").addEventListener("submit", add);
}

/** Reads the list again (the link screen shows). */
export function show() {
  refresh();
}
