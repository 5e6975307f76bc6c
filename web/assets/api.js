// The HTTP API (see /api/v1/openapi.json) and the saved session. Every failure is thrown
// as an ApiError carrying the server's problem detail, whose `detail` is a sentence meant
// for people and is shown as it is.

const TOKEN_KEY = "haurach.token";
const NAME_KEY = "haurach.name";

/** A failed request: the problem detail, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || `request failed (${status})`);
    this.status = status;
    this.problem = problem;
    this.code = problem.code || "";
  }
}

export const session = {
  get token() {
    return localStorage.getItem(TOKEN_KEY);
  },
  get name() {
    return localStorage.getItem(NAME_KEY);
  },
  save(token, name) {
    localStorage.setItem(TOKEN_KEY, token);
    localStorage.setItem(NAME_KEY, name);
  },
  clear() {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(NAME_KEY);
  },
};

/** Calls the API; resolves to the JSON body (or null for 204), throws ApiError. */
export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, {
      code: "offline",
      detail: "cannot reach the server: check your connection and try again",
    });
  }
  if (res.status === 204) return null;
  let json = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  if (!res.ok) {
    throw new ApiError(res.status, json || { detail: `the server answered ${res.status}` });
  }
  return json;
}

export const api = {
  /** `extra`: the gatekeeper's book or an invite code (city.js). */
  register: (name, password, extra = {}) =>
    call("POST", "/api/v1/accounts", { name, password, ...extra }),
  login: (name, password) => call("POST", "/api/v1/sessions", { name, password }),
  logout: () => call("DELETE", "/api/v1/sessions/current"),
  me: () => call("GET", "/api/v1/me"),
  invite: () => call("POST", "/api/v1/bond/invites"),
  accept: (code, profile) => call("POST", "/api/v1/bond", { code, profile }),
  bond: () => call("GET", "/api/v1/bond"),
  endBond: () => call("DELETE", "/api/v1/bond"),
  messages: (after, limit) =>
    call("GET", `/api/v1/bond/messages?after=${after}&limit=${limit}`),
  ackAlarm: (seq) => call("POST", `/api/v1/bond/alarms/${seq}/ack`),
  position: (update) => call("PUT", "/api/v1/me/position", update),
};

/** A message id unique enough for the server's dedup: a random UUID (v4). Built from
 *  getRandomValues because randomUUID exists only on HTTPS pages. */
export function newId() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
