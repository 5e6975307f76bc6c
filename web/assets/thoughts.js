// Thoughts: live typing as edits (insert and erase at a position counted in Unicode code
// points), the same model as crates/bond/src/thoughts.rs. JavaScript strings count UTF-16
// units, so every position here goes through Array.from, which splits by code point.

/** The edits that turn `oldText` into `newText`: one erase and one insert around the
 *  common prefix and suffix, or none when they are equal. */
export function diff(oldText, newText) {
  const a = Array.from(oldText);
  const b = Array.from(newText);
  let prefix = 0;
  while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix++;
  // The suffix is looked for only after the prefix, so the two never overlap.
  let suffix = 0;
  while (
    suffix < a.length - prefix &&
    suffix < b.length - prefix &&
    a[a.length - 1 - suffix] === b[b.length - 1 - suffix]
  ) suffix++;
  const erased = a.length - prefix - suffix;
  const inserted = b.slice(prefix, b.length - suffix).join("");
  const edits = [];
  if (erased > 0) edits.push({ op: "erase", pos: prefix, n: erased });
  if (inserted.length > 0) edits.push({ op: "insert", pos: prefix, text: inserted });
  return edits;
}

/** `text` with `edits` applied, or null when an edit falls outside the text. */
export function applyEdits(text, edits) {
  let chars = Array.from(text);
  for (const e of edits) {
    if (e.op === "insert") {
      if (e.pos > chars.length) return null;
      chars.splice(e.pos, 0, ...Array.from(e.text));
    } else if (e.op === "erase") {
      if (e.pos + e.n > chars.length) return null;
      chars.splice(e.pos, e.n);
    } else {
      return null;
    }
  }
  return chars.join("");
}

/** The receiver's copy of the partner's thought. */
export class ThoughtText {
  constructor() {
    this.text = "";
    this.nextSeq = null;
  }

  /** Applies one numbered batch; returns whether it was taken. A batch out of sequence
   *  (until the next reset) or with an edit outside the text leaves the text as it is. */
  apply(seq, reset, edits) {
    if (!reset && this.nextSeq !== seq) {
      this.nextSeq = null;
      return false;
    }
    const next = applyEdits(reset ? "" : this.text, edits);
    if (next === null) {
      if (reset) this.text = "";
      this.nextSeq = null;
      return false;
    }
    this.text = next;
    this.nextSeq = seq + 1;
    return true;
  }

  clear() {
    this.text = "";
    this.nextSeq = null;
  }
}

/** The sender's side: turns what is in the text box into numbered batches. */
export class ThoughtSender {
  /** `send(frame)` returns whether the frame went out. */
  constructor(send) {
    this.send = send;
    this.seq = 0;
    this.sent = "";
    this.needsReset = true;
  }

  /** The box now holds `text`: send the edits since the last batch. */
  update(text) {
    if (this.needsReset) return this.reset(text);
    const edits = diff(this.sent, text);
    if (edits.length === 0) return;
    this.seq += 1;
    if (this.send({ type: "thought", seq: this.seq, reset: false, edits })) {
      this.sent = text;
    } else {
      this.needsReset = true;
    }
  }

  /** Send the whole text again from empty, so a receiver that lost a batch resyncs. */
  reset(text) {
    this.seq += 1;
    const edits = text.length > 0 ? [{ op: "insert", pos: 0, text }] : [];
    if (this.send({ type: "thought", seq: this.seq, reset: true, edits })) {
      this.sent = text;
      this.needsReset = false;
    } else {
      this.needsReset = true;
    }
  }
}
