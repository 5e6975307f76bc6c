// Places and the meeting point (the Needle): your places and your partner's, who is where,
// arriving and leaving as news, and where to meet with each one's distance and time.
// The server decides everything (crates/server/src/places.rs, meeting.rs); this module
// shows it and sends what the person asks for.

import { call, session } from "./api.js";
import * as fmt from "./format.js";

const $ = (id) => document.getElementById(id);

const path = (name) => `/api/v1/places/${encodeURIComponent(name)}`;

export class Places {
  /**
   * @param {{ position: () => ({lat: number, lon: number} | null), me: () => string,
   *           partner: () => (string | null), notice: (text: string) => void,
   *           onView: (view: object, meeting: (object | null)) => void }} ctx
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.view = { mine: [], partner: [] };
    this.meeting = null;
    /** How many `meeting` frames came, so an older read does not undo a newer frame. */
    this.meetingFrames = 0;
    this.refreshTimer = null;
  }

  /** Hooks up the forms; called once. */
  wire() {
    $("place-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.add();
    });
    $("meeting-pin").addEventListener("click", () => this.pin());
    $("meeting-pin-here").addEventListener("click", () => this.pinHere());
    $("meeting-unpin").addEventListener("click", () => this.unpin());
    $("journey-gpx").addEventListener("click", () => this.downloadJourney());
  }

  /** Saves the person's own journey as a GPX file (the route needs the bearer token,
   *  so it is fetched and handed to the browser as a file). */
  async downloadJourney() {
    $("journey-error").hidden = true;
    try {
      const res = await fetch("/api/v1/me/journey.gpx", {
        headers: { Authorization: `Bearer ${session.token}` },
        cache: "no-store",
      });
      if (!res.ok) throw new Error((await res.json()).detail ?? `the server answered ${res.status}`);
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement("a");
      a.href = url;
      a.download = `journey-${new Date().toISOString().slice(0, 10)}.gpx`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      this.error("journey-error", `${fmt.capitalise(e.message)}.`);
    }
  }

  /** A bond is on screen (after every hello): read places and the meeting point. */
  enter() {
    this.refresh();
  }

  leave() {
    this.view = { mine: [], partner: [] };
    this.meeting = null;
    this.render();
  }

  /** The link's `place`, `places_changed`, `meeting` and `meeting_reached` frames. */
  onFrame(f) {
    switch (f.type) {
      case "place": {
        const who = f.who === this.ctx.me() ? "You" : f.who;
        this.ctx.notice(f.event === "arrived" ? `${who} arrived at ${f.place}.` : `${who} left ${f.place}.`);
        $("places-news").textContent =
          `${fmt.clock(new Date(f.at))}: ${who} ${f.event === "arrived" ? "arrived at" : "left"} ${f.place}`;
        this.scheduleRefresh();
        return;
      }
      case "places_changed":
        this.scheduleRefresh();
        return;
      case "meeting":
        this.meetingFrames += 1;
        this.meeting = f.meeting;
        this.renderMeeting();
        return;
      case "meeting_reached": {
        const who = f.who === this.ctx.me() ? "You" : f.who;
        this.ctx.notice(`${who} reached the meeting point.`);
        return;
      }
      default:
        return;
    }
  }

  scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.refresh(), 100);
  }

  async refresh() {
    // A `meeting` frame that arrives while this read is on its way is newer than it.
    const heard = this.meetingFrames;
    try {
      this.view = await call("GET", "/api/v1/places");
      // The meeting point comes with the places: asking for it alone would answer 404
      // (logged by the browser) whenever there is none yet.
      if (this.meetingFrames === heard) this.meeting = this.view.meeting ?? null;
    } catch {
      // Unbonded or offline: the list stays as it was; the next hello reads it again.
    }
    this.render();
  }

  async add() {
    const name = $("place-name").value.trim();
    const radius = Number($("place-radius").value || 100);
    const here = this.ctx.position();
    $("place-error").hidden = true;
    if (!name) return this.error("place-error", "Name the place.");
    if (!here) return this.error("place-error", "Set your position first: a place is made where you are.");
    try {
      await call("PUT", path(name), { lat: here.lat, lon: here.lon, radius_m: radius });
      $("place-name").value = "";
      await this.refresh();
    } catch (e) {
      this.error("place-error", `${fmt.capitalise(e.message)}.`);
    }
  }

  async remove(name) {
    try {
      await call("DELETE", path(name));
      await this.refresh();
    } catch (e) {
      this.error("place-error", `${fmt.capitalise(e.message)}.`);
    }
  }

  async pin() {
    const place = $("meeting-place").value;
    if (!place) return this.error("meeting-error", "Make a place first, then pin it.");
    await this.sendPin({ place });
  }

  async pinHere() {
    const here = this.ctx.position();
    if (!here) return this.error("meeting-error", "Set your position first.");
    await this.sendPin({ lat: here.lat, lon: here.lon, name: `where ${this.ctx.me()} stood` });
  }

  async sendPin(body) {
    $("meeting-error").hidden = true;
    try {
      await call("PUT", "/api/v1/bond/meeting", body);
      await this.refresh();
    } catch (e) {
      this.error("meeting-error", `${fmt.capitalise(e.message)}.`);
    }
  }

  async unpin() {
    try {
      await call("DELETE", "/api/v1/bond/meeting");
      await this.refresh();
    } catch (e) {
      this.error("meeting-error", `${fmt.capitalise(e.message)}.`);
    }
  }

  error(id, text) {
    $(id).textContent = text;
    $(id).hidden = false;
  }

  render() {
    this.renderList("places-mine", this.view.mine, true);
    this.renderList("places-partner", this.view.partner, false);
    $("places-mine-empty").hidden = this.view.mine.length > 0;
    $("places-partner-empty").hidden = this.view.partner.length > 0;
    const select = $("meeting-place");
    // Pinning a place needs one: without any, only "Meet where I am" is offered.
    select.hidden = this.view.mine.length === 0;
    $("meeting-pin").hidden = this.view.mine.length === 0;
    select.replaceChildren(
      ...this.view.mine.map((p) => {
        const o = document.createElement("option");
        o.value = p.name;
        o.textContent = p.name;
        return o;
      }),
    );
    this.renderMeeting();
  }

  renderList(id, places, mine) {
    const ul = $(id);
    ul.replaceChildren(
      ...places.map((p) => {
        const li = document.createElement("li");
        li.dataset.inside = String(p.inside);
        const name = document.createElement("span");
        name.className = "place-name";
        name.textContent = p.name;
        const where = document.createElement("span");
        where.className = "hint";
        where.textContent = p.position
          ? `${fmt.coordinates(p.position.lat, p.position.lon)}, radius ${fmt.distance(p.radius_m)}`
          : `radius ${fmt.distance(p.radius_m)}; where it is shows within sight`;
        const state = document.createElement("span");
        state.className = "place-state";
        const who = mine ? "You are" : `${this.ctx.partner() ?? "They"} is`;
        state.textContent = p.inside ? `${who} here` : "away";
        li.append(name, state, where);
        if (mine) {
          const del = document.createElement("button");
          del.type = "button";
          del.className = "link-button";
          del.textContent = "Forget";
          del.setAttribute("aria-label", `Forget ${p.name}`);
          del.addEventListener("click", () => this.remove(p.name));
          li.append(del);
        }
        return li;
      }),
    );
  }

  renderMeeting() {
    const m = this.meeting;
    this.ctx.onView(this.view, m);
    $("meeting-unpin").hidden = !m || m.kind !== "pinned";
    if (!m) {
      $("meeting-text").textContent = "Where to meet shows once you both have a position.";
      $("meeting-legs").replaceChildren();
      return;
    }
    let what;
    if (m.kind === "pinned") {
      what = `Meet at ${m.name ?? "the pinned point"}${m.pinned_by ? ` (pinned by ${m.pinned_by})` : ""}`;
    } else if (m.by_speed) {
      what = "Meet where you both arrive soonest";
    } else {
      what = "Meet halfway";
    }
    const at = m.position ? ` — ${fmt.coordinates(m.position.lat, m.position.lon)}` : "";
    $("meeting-text").textContent = `${what}${at}.`;
    const leg = (who, l) => {
      const li = document.createElement("li");
      if (l.arrived) {
        li.textContent = `${who}: there.`;
      } else {
        const toward = l.bearing_deg != null ? ` ${fmt.compassPoint(l.bearing_deg)}` : "";
        li.textContent = `${who}: ${fmt.distance(l.distance_m)}${toward}, about ${fmt.duration(l.eta_s * 1000)}.`;
      }
      return li;
    };
    const items = [leg("You", m.you)];
    if (m.partner) items.push(leg(this.ctx.partner() ?? "Your partner", m.partner));
    $("meeting-legs").replaceChildren(...items);
    $("meeting-note").hidden = m.exact || m.kind === "pinned";
  }
}
