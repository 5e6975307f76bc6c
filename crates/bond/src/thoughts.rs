//! Thoughts: live typing as XEP-0301 style edits (insert and erase at a position, counted
//! in Unicode scalar values), numbered so a receiver notices a gap, with periodic resets
//! that carry the whole text so a receiver can resynchronise.

use serde::{Deserialize, Serialize};

/// One edit of the text being typed. Positions count Unicode scalar values (chars).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Edit {
    /// Insert `text` before the char at `pos` (at the end when `pos` is the length).
    Insert {
        /// Position in chars.
        pos: usize,
        /// Text to insert.
        text: String,
    },
    /// Erase `n` chars starting at `pos`.
    Erase {
        /// Position in chars.
        pos: usize,
        /// How many chars.
        n: usize,
    },
}

/// The receiver's copy of the partner's thought.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThoughtText {
    text: String,
    next_seq: Option<u64>,
}

impl ThoughtText {
    /// Applies one numbered batch of edits. A `reset` batch starts from the empty text and
    /// is always accepted. Returns false, and leaves the text unchanged, when a batch is out
    /// of sequence (until the next reset) or an edit falls outside the text.
    ///
    /// After an accepted batch `seq`, the next batch expected is `seq + 1`. A batch that
    /// fails leaves the receiver out of sync until the next reset: it cannot know what
    /// the sender's later edits are relative to. A reset with an edit outside the text
    /// leaves the text empty, since the text it replaces is known to be stale.
    pub fn apply(&mut self, seq: u64, reset: bool, edits: &[Edit]) -> bool {
        if !reset && self.next_seq != Some(seq) {
            self.next_seq = None;
            return false;
        }
        let base = if reset { "" } else { self.text.as_str() };
        match apply_edits(base, edits) {
            Some(text) => {
                self.text = text;
                self.next_seq = seq.checked_add(1);
                true
            }
            None => {
                if reset {
                    self.text.clear();
                }
                self.next_seq = None;
                false
            }
        }
    }

    /// The text as far as it is known.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the next batch in sequence would be accepted.
    pub fn in_sync(&self) -> bool {
        self.next_seq.is_some()
    }
}

/// The edits that turn `old` into `new`: one erase and one insert around the common
/// prefix and suffix, or nothing when they are equal.
///
/// The common suffix is looked for only after the common prefix, so the two never
/// overlap: "aa" to "aaa" is one insert at 2, not an insert of a negative span.
pub fn diff(old: &str, new: &str) -> Vec<Edit> {
    let (mut prefix_chars, mut prefix_bytes) = (0, 0);
    for (o, n) in old.chars().zip(new.chars()) {
        if o != n {
            break;
        }
        prefix_chars += 1;
        prefix_bytes += o.len_utf8();
    }
    let (old_rest, new_rest) = (&old[prefix_bytes..], &new[prefix_bytes..]);
    let suffix_bytes: usize = old_rest
        .chars()
        .rev()
        .zip(new_rest.chars().rev())
        .take_while(|(o, n)| o == n)
        .map(|(o, _)| o.len_utf8())
        .sum();
    let erased = &old_rest[..old_rest.len() - suffix_bytes];
    let inserted = &new_rest[..new_rest.len() - suffix_bytes];

    let mut edits = Vec::new();
    let n = erased.chars().count();
    if n > 0 {
        edits.push(Edit::Erase {
            pos: prefix_chars,
            n,
        });
    }
    if !inserted.is_empty() {
        edits.push(Edit::Insert {
            pos: prefix_chars,
            text: inserted.to_owned(),
        });
    }
    edits
}

/// `text` with `edits` applied in order, or `None` when one falls outside the text.
fn apply_edits(text: &str, edits: &[Edit]) -> Option<String> {
    let mut text = text.to_owned();
    for edit in edits {
        match edit {
            Edit::Insert {
                pos,
                text: inserted,
            } => {
                let at = byte_offset(&text, *pos)?;
                text.insert_str(at, inserted);
            }
            Edit::Erase { pos, n } => {
                let start = byte_offset(&text, *pos)?;
                let end = start + byte_offset(&text[start..], *n)?;
                text.replace_range(start..end, "");
            }
        }
    }
    Some(text)
}

/// The byte offset of the char at `pos` in `text` (its length when `pos` is the number of
/// chars), or `None` past the end.
fn byte_offset(text: &str, pos: usize) -> Option<usize> {
    text.char_indices()
        .map(|(idx, _)| idx)
        .chain(std::iter::once(text.len()))
        .nth(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(pos: usize, text: &str) -> Edit {
        Edit::Insert {
            pos,
            text: text.to_owned(),
        }
    }

    #[test]
    fn edits_count_chars_not_bytes() {
        let mut thought = ThoughtText::default();
        assert!(!thought.in_sync());
        assert!(thought.apply(0, true, &[insert(0, "héllo wörld")]));
        assert!(thought.apply(1, false, &[Edit::Erase { pos: 1, n: 4 }, insert(1, "ola")]));
        assert_eq!(thought.text(), "hola wörld");
        assert!(thought.apply(2, false, &[insert(10, "!"), insert(0, "🙂")]));
        assert_eq!(thought.text(), "🙂hola wörld!");
    }

    #[test]
    fn a_gap_in_the_sequence_is_detected_until_a_reset() {
        let mut thought = ThoughtText::default();
        assert!(
            !thought.apply(0, false, &[insert(0, "a")]),
            "nothing before a reset"
        );
        assert!(thought.apply(5, true, &[insert(0, "ab")]));
        assert!(thought.in_sync());
        assert!(
            !thought.apply(7, false, &[insert(2, "c")]),
            "6 went missing"
        );
        assert!(!thought.in_sync());
        assert!(!thought.apply(8, false, &[insert(2, "d")]));
        assert_eq!(thought.text(), "ab");
        assert!(thought.apply(9, true, &[insert(0, "abcd")]));
        assert!(thought.apply(10, false, &[]));
        assert_eq!(thought.text(), "abcd");
    }

    #[test]
    fn an_edit_outside_the_text_changes_nothing() {
        let mut thought = ThoughtText::default();
        assert!(thought.apply(0, true, &[insert(0, "abc")]));
        assert!(!thought.apply(1, false, &[insert(3, "d"), Edit::Erase { pos: 2, n: 3 }]));
        assert_eq!(thought.text(), "abc");
        assert!(!thought.in_sync());

        assert!(!thought.apply(2, true, &[insert(1, "x")]));
        assert_eq!(thought.text(), "");
        assert!(!thought.in_sync());
        assert!(!thought.apply(
            usize::MAX as u64,
            true,
            &[Edit::Erase {
                pos: 0,
                n: usize::MAX
            }]
        ));
    }

    #[test]
    fn diffs() {
        assert_eq!(diff("same", "same"), []);
        assert_eq!(diff("", "abc"), [insert(0, "abc")]);
        assert_eq!(diff("abc", ""), [Edit::Erase { pos: 0, n: 3 }]);
        assert_eq!(diff("aa", "aaa"), [insert(2, "a")]);
        assert_eq!(diff("aaa", "aa"), [Edit::Erase { pos: 2, n: 1 }]);
        assert_eq!(
            diff("héllo", "hallo"),
            [Edit::Erase { pos: 1, n: 1 }, insert(1, "a")]
        );
        assert_eq!(diff("🙂x🙂", "🙂🙂"), [Edit::Erase { pos: 1, n: 1 }]);
    }
}
