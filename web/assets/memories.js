// Memories: my private journal, and my partner's as far as it opened to me. The journals
// open to each other when we are together (the memories tier); what opened stays shared.
// The server decides what opens; this page writes, lists, and asks again when the tier
// opens or closes.
//
// In a private bond (docs/privacy.md, "Journal entries") the words are sealed here before
// they leave (kind `memory`) and opened here when listed; the server keeps only the
// sealed string. A photo is drawn to a canvas here (which leaves its metadata behind) and
// sealed with its caption and the entry's id (kind `memory-photo`,
// `haurach_proto::sealed::PhotoContent`); the partner's page opens it, and checks the id.

import { ApiError, call, newId, session } from "./api.js";
import { strippedOf } from "./pictures.js";

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** What a sealed journal photo holds (`PhotoContent::encode`): the header's length (4
 *  bytes, big-endian), `{"id", "caption"}` as JSON, then the photo. */
export function photoContent(id, caption, photo) {
  const header = utf8.encode(JSON.stringify(caption ? { id, caption } : { id }));
  const out = new Uint8Array(4 + header.length + photo.length);
  new DataView(out.buffer).setUint32(0, header.length);
  out.set(header, 4);
  out.set(photo, 4 + header.length);
  return out;
}

/** `photoContent` read back: `{id, caption, photo}`, or null when it is not one. */
export function readPhotoContent(bytes) {
  if (bytes.length < 4) return null;
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  if (4 + len > bytes.length) return null;
  let header;
  try {
    header = JSON.parse(fromUtf8.decode(bytes.subarray(4, 4 + len)));
  } catch {
    return null;
  }
  if (typeof header?.id !== "string") return null;
  const caption = typeof header.caption === "string" ? header.caption : null;
  return { id: header.id, caption, photo: bytes.slice(4 + len) };
}

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

  /** The photo of entry `m` (of my own journal when `mine`) and its caption, opened here
   *  when it is sealed: `{blob, caption}`, `{note}` saying why it is not shown, or null
   *  when it cannot be fetched now. */
  async photo(m, mine) {
    const res = await fetch(m.photo, { headers: auth(), cache: "no-store" });
    if (!res.ok) return null;
    if (!m.photo_sealed) return { blob: await res.blob(), caption: m.body ?? null };
    const s = this.sealing();
    if (!s) return { note: "(A sealed photo: this browser does not hold the bond's keys.)" };
    const bytes = new Uint8Array(await res.arrayBuffer());
    const opened = await s.openAny(mine, "memory-photo", bytes).catch(() => null);
    const content = opened && readPhotoContent(opened);
    // One entry's photo passed off as another's does not open as this one.
    if (!content || content.id !== m.client_id) {
      return { note: "(A sealed photo that does not open here: it was changed on the way, or sealed in another bond.)" };
    }
    return { blob: new Blob([content.photo], { type: "image/jpeg" }), caption: content.caption };
  }

  async fill(id, memories, empty, mine) {
    const list = this.el(id);
    const items = [];
    for (const m of memories) {
      const li = document.createElement("li");
      li.className = "memory";
      let caption = null;
      if (m.photo) {
        const shown = await this.photo(m, mine);
        if (shown?.blob) {
          const url = URL.createObjectURL(shown.blob);
          this.urls.push(url);
          const img = document.createElement("img");
          img.src = url;
          img.alt = shown.caption ?? "A photo from the journal";
          li.append(img);
          caption = shown.caption;
        } else if (shown?.note) {
          caption = shown.note;
        }
      }
      const words = m.photo ? caption : await this.words(m, mine);
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
    const privacy = await this.privacy();
    let res;
    if (privacy === "private") {
      // Drawn here (no metadata) and sealed with its caption: the server sees neither.
      const s = this.sealing();
      if (!s) throw new Error("this browser does not hold the bond's keys, so it cannot seal the photo");
      const id = newId();
      const sealed = await s.sealBytes("memory-photo", photoContent(id, caption, await strippedOf(file)));
      res = await fetch(`/api/v1/me/memories/photos/sealed?id=${encodeURIComponent(id)}`, {
        method: "POST",
        headers: { ...auth(), "Content-Type": "application/octet-stream" },
        body: sealed,
      });
    } else if (privacy === "plain") {
      const q = `id=${newId()}${caption ? `&caption=${encodeURIComponent(caption)}` : ""}`;
      res = await fetch(`/api/v1/me/memories/photos?${q}`, {
        method: "POST",
        headers: { ...auth(), "Content-Type": file.type || "application/octet-stream" },
        body: file,
      });
    } else {
      throw new Error("this page could not find out whether the bond is private; try again");
    }
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
