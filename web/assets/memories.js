// Memories: my private journal, and my partner's as far as it opened to me. The journals
// open to each other when we are together (the memories tier); what opened stays shared.
// The server decides what opens; this page writes, lists, and asks again when the tier
// opens or closes.

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
   */
  constructor({ el, bond }) {
    this.el = el;
    this.bond = bond;
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
      await this.fill("memories-mine", mine.memories, "Nothing written yet.");
      await this.fill("memories-theirs", theirs.memories, `Nothing of ${partner}'s journal has opened to you yet.`);
    } catch {
      // Offline or unbonded: the next change tries again.
    }
  }

  async fill(id, memories, empty) {
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
      if (m.body) {
        const p = document.createElement("p");
        p.textContent = m.body;
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
    await call("POST", "/api/v1/me/memories", { id: newId(), body });
    await this.refresh();
  }

  async writePhoto(file, caption) {
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
