// Places and the meeting point (the Needle): your places and your partner's, who is where,
// arriving and leaving as news, and where to meet with each one's distance and time.
// On a plain bond the server decides everything (crates/server/src/places.rs,
// meeting.rs); this module shows it and sends what the person asks for. On a private
// bond the server sees no coordinate: the places are kept on this device and judged on
// its own fixes, the news and the meeting point go sealed (deviceplaces.js has the rules
// and the book).

import { call, session } from "./api.js";
import * as book from "./deviceplaces.js";
import * as fmt from "./format.js";
import { loadGeodesic } from "./private.js";

const $ = (id) => document.getElementById(id);

const path = (name) => `/api/v1/places/${encodeURIComponent(name)}`;

export class Places {
  /**
   * @param {{ position: () => ({lat: number, lon: number} | null), me: () => string,
   *           partner: () => (string | null), notice: (text: string) => void,
   *           onView: (view: object, meeting: (object | null)) => void,
   *           sealing: () => (object | null), paused: () => boolean,
   *           sightOpen: () => boolean, partnerFix: () => (object | null),
   *           lastSeq: () => number,
   *           send: (kind: string, text: string) => Promise<object> }} ctx
   *   `sealing` is set on a private bond whose keys are confirmed: then the places and
   *   the meeting point are this device's (`send` seals and queues a message).
   *   `lastSeq` is the newest message of the bond this page knows of (the bond's view
   *   and every message the link brought), so the book reads the bond's messages only
   *   when one is new, as the CLI's `catch_up` does.
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.view = { mine: [], partner: [] };
    this.meeting = null;
    /** How many `meeting` frames came, so an older read does not undo a newer frame. */
    this.meetingFrames = 0;
    this.refreshTimer = null;
    /** On a private bond: this device's book (deviceplaces.js), once read. */
    this.book = null;
    /** One change of the book at a time, in the order asked. */
    this.queue = Promise.resolve();
    /** geographiclib's WGS84, once loaded (the meeting sentence is worked out here). */
    this.wgs84 = null;
  }

  /** Whether this bond's places are this device's (a private bond with confirmed keys). */
  onDevice() {
    return this.ctx.sealing() !== null;
  }

  /** Runs `act` after every change of the book asked before it. */
  inTurn(act) {
    const run = this.queue.then(act);
    this.queue = run.catch(() => {});
    return run;
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

  /** A bond is on screen (after every hello), or its privacy became known: read places
   *  and the meeting point, from the server or from this device (bringing any place the
   *  server still keeps there first). */
  enter() {
    if (this.onDevice()) this.catchUp({ bring: true });
    else this.refresh();
  }

  leave() {
    this.view = { mine: [], partner: [] };
    this.meeting = null;
    this.book = null;
    this.render();
  }

  // ------------------------------------------------------------- on a private bond

  /** Reads the bond's messages this device has not read for places and the meeting
   *  point (opened and judged against replays as every sealed message), keeps what they
   *  say, and shows the book. With `bring`, first keeps here the places the server still
   *  keeps for this person (`bringStored`). */
  catchUp({ bring = false } = {}) {
    return this.inTurn(async () => {
      const s = this.ctx.sealing();
      if (!s) return;
      const kept = await this.readNew(s, await book.load(this.ctx.me()));
      if (this.ctx.sealing() !== s) return;
      if (bring) await this.bringStored(kept);
      this.book = kept;
      this.render();
    });
  }

  /** Places an older server kept for this person as the bond turned private (a server
   *  of today forgets them in that step, "Places kept before the bond" in
   *  docs/privacy.md): written into the book here first, then forgotten on the server,
   *  as the CLI's `place` does; the person is told. When the server cannot be asked, they
   *  stay where they are until the next time the card is shown. */
  async bringStored(b) {
    let names;
    try {
      names = await book.bringStored(b);
    } catch (e) {
      this.error("place-error", `Could not bring the places the server still keeps: ${e.message}.`);
      return;
    }
    if (names.length === 0) return;
    const which = names.length === 1 ? `place ${names[0]} is` : `${names.length} places (${names.join(", ")}) are`;
    const text = `Your ${which} kept on this device now; the server keeps none for a private bond.`;
    this.ctx.notice(text);
    $("places-news").textContent = text;
  }

  async readNew(s, b) {
    this.wgs84 ??= await loadGeodesic();
    const me = this.ctx.me();
    const latest = this.ctx.position();
    // What was read of another bond (one that ended while no page of this person was
    // open) says nothing of this one; the person's own places stay.
    if (b.bond !== s.bond) Object.assign(b, { bond: s.bond, read_seq: 0, pin: null, partner: [] });
    const before = b.read_seq;
    // Nothing is asked while no message is newer than what the book has read (after
    // every report, mostly): a new one comes on the link and reads it then.
    while (b.read_seq < this.ctx.lastSeq()) {
      const page = await call("GET", `/api/v1/bond/messages?after=${b.read_seq}&limit=500`);
      for (const m of page.messages) {
        b.read_seq = Math.max(b.read_seq, m.seq);
        if ((m.kind !== "place" && m.kind !== "meeting") || typeof m.sealed !== "string") continue;
        const mine = m.from === me;
        const opened = await s.open(mine, m.kind, m.sealed, { seq: m.seq }).catch(() => null);
        // One that does not open, or that the server sent again, says nothing.
        if (!opened || !["fresh", "again"].includes(opened.verdict)) continue;
        book.take(this.wgs84, b, m, opened.text, mine, latest);
      }
      if (!page.more || page.messages.length === 0) break;
    }
    if (b.read_seq !== before || b.read_seq === 0) await book.save(b);
    return b;
  }

  /** A sealed `place` or `meeting` message of the bond came: read it into the book. */
  onSealedMessage() {
    if (this.onDevice()) this.catchUp();
  }

  /** After this device reported fix `fix` on a private bond: judges this person's places
   *  and the pinned point by it, writes the book down, and only then tells the partner of
   *  each arrival and departure and of reaching the point, sealed. A place's centre goes
   *  with its news only while sight is open. Nothing while the person pauses. */
  judge(fix) {
    return this.inTurn(async () => {
      const s = this.ctx.sealing();
      if (!s || this.ctx.paused()) return;
      const b = await this.readNew(s, await book.load(this.ctx.me()));
      this.book = b;
      if (b.mine.length === 0 && !b.pin) return this.render();
      const wasThere = b.pin?.reached_me;
      const changes = book.judge(this.wgs84, b, fix);
      const reached = book.judgePin(this.wgs84, b, fix);
      // Leaving the pinned point is no news, but it is written down too (the CLI writes
      // its book after every fix): else the next read of the book says "there" again,
      // and coming back is not told.
      if (changes.length === 0 && b.pin?.reached_me === wasThere) return this.render();
      // Written down before anything is sent: a reload between repeats no news.
      await book.save(b);
      this.render();
      if (this.ctx.sealing() !== s || this.ctx.paused()) return;
      const sight = this.ctx.sightOpen();
      const at = Number.isFinite(fix.at) ? Math.min(fix.at, Date.now()) : Date.now();
      for (const { name, event } of changes) {
        const place = b.mine.find((p) => p.name === name);
        await this.ctx.send("place", book.placeContent(name, event, at, sight ? place : null));
        this.ctx.notice(event === "arrived" ? `You arrived at ${name}.` : `You left ${name}.`);
      }
      if (reached) {
        await this.ctx.send("meeting", book.meetingContent("reached"));
        this.ctx.notice("You reached the meeting point.");
      }
    }).catch((e) => this.error("place-error", `${fmt.capitalise(e.message)}.`));
  }

  async addOnDevice(name, radius, here) {
    await this.inTurn(async () => {
      this.wgs84 ??= await loadGeodesic();
      const b = await book.load(this.ctx.me());
      book.put(this.wgs84, b, { name, lat: here.lat, lon: here.lon, radius_m: radius }, here);
      await book.save(b);
      this.book = b;
    });
    this.render();
  }

  async removeOnDevice(name) {
    await this.inTurn(async () => {
      const b = await book.load(this.ctx.me());
      b.mine = b.mine.filter((p) => p.name.toLowerCase() !== name.toLowerCase());
      await book.save(b);
      this.book = b;
    });
    this.render();
  }

  /** Pins (`{lat, lon, name}`) or unpins (null) the meeting point, sealed; the book
   *  takes it when the server has stored it (`onSealedMessage`). */
  async pinOnDevice(pin) {
    $("meeting-error").hidden = true;
    try {
      await this.ctx.send("meeting", book.meetingContent(pin ?? "unpinned"));
    } catch (e) {
      this.error("meeting-error", `${fmt.capitalise(e.message)}.`);
    }
  }

  /** The view the card shows, from this device's book. */
  deviceView() {
    const b = this.book;
    if (!b) return { mine: [], partner: [] };
    return {
      mine: b.mine.map((p) => ({ name: p.name, radius_m: p.radius_m, position: { lat: p.lat, lon: p.lon }, inside: p.inside })),
      partner: b.partner.map((p) => ({ name: p.name, position: p.position, inside: p.inside })),
    };
  }

  /** The meeting sentence on a private bond, worked out here: called again when my fix,
   *  the partner's sealed position or the tiers change. */
  renderOnDevice() {
    if (!this.onDevice() || !this.book || !this.wgs84) return;
    this.meeting = book.meetingView(this.wgs84, this.book, this.ctx.position(), this.ctx.partnerFix(), this.ctx.sightOpen());
    this.renderMeeting();
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
    if (this.onDevice()) {
      try {
        await this.addOnDevice(name, radius, here);
        $("place-name").value = "";
      } catch (e) {
        this.error("place-error", `${fmt.capitalise(e.message)}.`);
      }
      return;
    }
    try {
      await call("PUT", path(name), { lat: here.lat, lon: here.lon, radius_m: radius });
      $("place-name").value = "";
      await this.refresh();
    } catch (e) {
      this.error("place-error", `${fmt.capitalise(e.message)}.`);
    }
  }

  async remove(name) {
    if (this.onDevice()) {
      return this.removeOnDevice(name).catch((e) => this.error("place-error", `${fmt.capitalise(e.message)}.`));
    }
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
    if (this.onDevice()) {
      const kept = this.book?.mine.find((p) => p.name === place);
      if (!kept) return this.error("meeting-error", "Make a place first, then pin it.");
      return this.pinOnDevice({ lat: kept.lat, lon: kept.lon, name: kept.name });
    }
    await this.sendPin({ place });
  }

  async pinHere() {
    const here = this.ctx.position();
    if (!here) return this.error("meeting-error", "Set your position first.");
    if (this.onDevice()) return this.pinOnDevice({ lat: here.lat, lon: here.lon, name: `where ${this.ctx.me()} stood` });
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
    if (this.onDevice()) return this.pinOnDevice(null);
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
    if (this.onDevice()) {
      this.view = this.deviceView();
      if (this.book && this.wgs84) {
        this.meeting = book.meetingView(this.wgs84, this.book, this.ctx.position(), this.ctx.partnerFix(), this.ctx.sightOpen());
      }
    }
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
        const radius = typeof p.radius_m === "number" ? `radius ${fmt.distance(p.radius_m)}` : "";
        where.textContent = p.position
          ? [fmt.coordinates(p.position.lat, p.position.lon), radius].filter(Boolean).join(", ")
          : `${radius ? `${radius}; ` : ""}where it is shows within sight`;
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
    const onDevice = this.onDevice();
    this.ctx.onView(this.view, m);
    $("meeting-unpin").hidden = !m || m.kind !== "pinned";
    $("meeting-unpin").textContent = onDevice ? "Unpin" : "Back to the fair suggestion";
    if (!m) {
      $("meeting-text").textContent = !onDevice
        ? "Where to meet shows once you both have a position."
        : this.book?.pin
          ? "A meeting point is pinned: the way there shows once you have a position."
          : "No meeting point is pinned: pin one of your places or where you are. A private bond suggests none, since that would need both of your positions.";
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
