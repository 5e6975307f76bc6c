// Memories: my private journal, and my partner's as far as it opened to me. The journals
// open to each other when we are together (the memories tier); what opened stays shared.
// The server decides what opens; this page writes, lists, and asks again when the tier
// opens or closes.
//
// In a private bond (docs/privacy.md, "Journal entries") the words are sealed here before
// they leave (kind `memory`) and opened here when listed; the server keeps only the
// sealed string. A photo cannot travel sealed yet, so none is sent in a private bond.

import { ApiError, call, newId, session } from "./api.js";

function auth() {
  const token = session.token;
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export class Memories {
  /**
   * @param {object} o
   * @param {(id: string) => HTMLElement} o.el
   * @param {() => object|null} o.bond
   * @param {() => Promise<string>} o.privacy `plain`, `private` or `checking` (not
   *   known after waiting a few seconds)
   * @param {() => object|null} o.sealing what seals and opens in a private bond, once
   *   this browser's keys are confirmed
   */
  constructor({ el, bond, privacy, sealing }) {
    this.el = el;
    this.bond = bond;
    this.privacy = privacy;
    this.sealing = sealing;
    this.urls = [];
  }

  reset() {
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
    this.el("memories-mine").replaceChildren();
    this.el("memories-theirs").replaceChildren();
  }

  async refresh() {
    try {
      const [mine, theirs] = await Promise.all([
        call("GET", "/api/v1/me/memories"),
        call("GET", "/api/v1/bond/memories"),
      ]);
      const partner = this.bond()?.partner ?? "your partner";
      this.el("memories-open").textContent = theirs.open
        ? `You are together: your journals are open to each other.`
        : `Your journals open to each other when you are together (within 25 m); what opened stays.`;
      await this.fill("memories-mine", mine.memories, "Nothing written yet.", true);
      await this.fill("memories-theirs", theirs.memories, `Nothing of ${partner}'s journal has opened to you yet.`, false);
    } catch {
      // Offline or unbonded: the next change tries again.
    }
  }

  /** The words of entry `m` (of my own journal when `mine`): a sealed entry opened here,
   *  or a sentence saying why it is not. */
  async words(m, mine) {
    if (!m.sealed) return m.body ?? null;
    const s = this.sealing();
    if (!s) return "(Sealed: this browser does not hold the bond's keys.)";
    const opened = await s.open(mine, "memory", m.sealed).catch(() => null);
    return opened ? opened.text : "(Sealed, and it does not open here: it was changed on the way, or sealed in another bond.)";
  }

  async fill(id, memories, empty, mine) {
    const list = this.el(id);
    const items = [];
    for (const m of memories) {
      const li = document.createElement("li");
      li.className = "memory";
      if (m.photo) {
        const res = await fetch(m.photo, { headers: auth(), cache: "no-store" });
        if (res.ok) {
          const url = URL.createObjectURL(await res.blob());
          this.urls.push(url);
          const img = document.createElement("img");
          img.src = url;
          img.alt = m.body ?? "A photo from the journal";
          li.append(img);
        }
      }
      const words = await this.words(m, mine);
      if (words) {
        const p = document.createElement("p");
        p.textContent = words;
        li.append(p);
      }
      const when = document.createElement("p");
      when.className = "hint";
      when.textContent = `${new Date(m.created_at).toLocaleString()}${m.shared_at ? " · shared" : ""}`;
      li.append(when);
      items.push(li);
    }
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "hint";
      li.textContent = empty;
      items.push(li);
    }
    list.replaceChildren(...items);
  }

  async write(body) {
    const privacy = await this.privacy();
    let entry;
    if (privacy === "private") {
      const s = this.sealing();
      if (!s) throw new Error("this browser does not hold the bond's keys, so it cannot seal them");
      entry = { id: newId(), sealed: await s.seal("memory", body) };
    } else if (privacy === "plain") {
      entry = { id: newId(), body };
    } else {
      // Words go in the clear only once the bond is known to be plain.
      throw new Error("this page could not find out whether the bond is private; try again");
    }
    await call("POST", "/api/v1/me/memories", entry);
    await this.refresh();
  }

  async writePhoto(file, caption) {
    if ((await this.privacy()) !== "plain") {
      throw new Error("in a private bond a journal photo cannot travel sealed yet, so it was not sent");
    }
    const q = `id=${newId()}${caption ? `&caption=${encodeURIComponent(caption)}` : ""}`;
    const res = await fetch(`/api/v1/me/memories/photos?${q}`, {
      method: "POST",
      headers: { ...auth(), "Content-Type": file.type || "application/octet-stream" },
      body: file,
    });
    if (!res.ok) {
      let problem = null;
      try {
        problem = await res.json();
      } catch {
        problem = null;
      }
      throw new ApiError(res.status, problem || { detail: `the server answered ${res.status}` });
    }
    await this.refresh();
  }
}
