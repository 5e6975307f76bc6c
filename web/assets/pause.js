// Pausing one's sharing: the control (an hour, eight hours, or until resumed), the banner
// that says so plainly while paused with its Resume button, and how the partner's pause
// reads. While paused the page sends no position at all (the server would drop it
// anyway: positions from every source are kept private while paused).

import { call } from "./api.js";

/** When a pause ends, as people read it: "until 14:30", "until Sat 09:00". */
export function untilText(until, who) {
  if (!until) return `until ${who} resume`;
  const end = new Date(until);
  const time = end.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const sameDay = end.toDateString() === new Date().toDateString();
  return sameDay ? `until ${time}` : `until ${end.toLocaleDateString([], { weekday: "short" })} ${time}`;
}

export class Pause {
  /**
   * `el(id)`: an element of the page; `me()`: my name; `onChange(resumed)`: my pause or
   * the partner's changed (redraw the pull; `resumed`: mine just ended, send where I am);
   * `notice(text)`: a short message.
   */
  constructor({ el, me, onChange, notice }) {
    this.el = el;
    this.me = me;
    this.onChange = onChange;
    this.notice = notice;
    this.mine = { paused: false };
    /** Whether a pause was asked and the server has not answered yet: the server may have
     *  paused already (its `tier` frames can come before its answer), so nothing of where
     *  I am is sent meanwhile either. */
    this.pausing = false;
    this.timer = null;
  }

  /** Whether my sharing is paused now. */
  get paused() {
    if (!this.mine.paused) return false;
    return !this.mine.until || Date.parse(this.mine.until) > Date.now();
  }

  wire() {
    for (const button of this.el("pause-choices").querySelectorAll("button[data-pause-s]")) {
      button.addEventListener("click", () => this.pause(Number(button.dataset.pauseS)));
    }
    this.el("pause-resume").addEventListener("click", () => this.resume());
  }

  /** Reads my pause from the server (at each hello: another device may have changed it). */
  async load() {
    try {
      this.set(await call("GET", "/api/v1/me/pause"));
    } catch {
      // Offline: the page keeps what it knew; the server drops positions anyway.
    }
  }

  /** Pauses for `seconds` (0: until I resume). */
  async pause(seconds) {
    const body = seconds > 0 ? { until: new Date(Date.now() + seconds * 1000).toISOString() } : {};
    this.showError("");
    this.pausing = true;
    try {
      this.set(await call("PUT", "/api/v1/me/pause", body));
      this.el("pause-resume").focus();
    } catch (e) {
      this.showError(e.message);
    } finally {
      this.pausing = false;
    }
  }

  async resume() {
    this.showError("");
    try {
      await call("DELETE", "/api/v1/me/pause");
      this.set({ paused: false });
      this.notice("Sharing again: your partner is told.");
    } catch (e) {
      this.showError(e.message);
    }
  }

  /** A `paused` or `resumed` frame; mine (from another device) or the partner's (`bond`). */
  onFrame(f, bond) {
    const paused = f.type === "paused";
    if (paused && bond) {
      // The pull the page last had is no longer true: none is shown until a fresh one.
      Object.assign(bond, { pull: null, next_tier: null, strength: 0 });
    }
    if (f.who === this.me()) {
      this.set(paused ? { paused, until: f.until ?? null } : { paused: false });
      return;
    }
    if (!bond) return;
    bond.partner_pause = paused ? { paused, until: f.until ?? null } : { paused: false };
    if (!paused) {
      // No pull from before the pause is shown again: the next one comes with their fix.
      this.notice(`${bond.partner} is sharing again.`);
    }
    this.onChange(false);
  }

  /** What the pull card says of a paused partner, or null. */
  partnerSentence(bond) {
    const p = bond?.partner_pause;
    if (!p?.paused) return null;
    return `${bond.partner} paused sharing ${untilText(p.until, "they")}: no pull meanwhile.`;
  }

  set(view) {
    const was = this.paused;
    this.mine = view;
    clearTimeout(this.timer);
    if (this.paused && view.until) {
      // The server ends it by itself at `until`; the page follows.
      const left = Date.parse(view.until) - Date.now();
      this.timer = setTimeout(() => this.set({ paused: false }), Math.min(left, 2 ** 31 - 1));
    }
    this.render();
    this.onChange(was && !this.paused);
  }

  render() {
    const paused = this.paused;
    this.el("banner-paused").hidden = !paused;
    this.el("pause-choices").hidden = paused;
    if (paused) {
      this.el("banner-paused-detail").textContent =
        `${untilText(this.mine.until, "you")}. Nothing of where you are leaves this device meanwhile; the alarm still passes.`;
    }
  }

  showError(text) {
    this.el("pause-error").hidden = !text;
    this.el("pause-error").textContent = text;
  }
}
