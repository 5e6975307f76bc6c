//! Which of the partner's sealed things a device has opened, so that it can refuse one
//! the server sends again (`docs/privacy.md`, "Replays").
//!
//! The server cannot open what the partner sealed, nor change it, but it can send a
//! sealed thing a second time: an old message stored again under a new sequence number,
//! an old "I'm here" or an old position sent as new. Each sealed thing carries its
//! sender's counter, bound into its associated data ([`crate::seal::Context::counter`]),
//! and a sender never gives one counter twice, so a counter is the name of one thing the
//! partner sealed. A device remembers where it opened each counter and refuses the same
//! counter somewhere else. Two kinds of place:
//!
//! - [`Place::Message`]: words, a feeling or an alarm, at its sequence number in the
//!   bond. The same counter at the same sequence number is the same message delivered
//!   again (a link that resumes, the history fetched again): shown, as before. At another
//!   sequence number it is a replay; so is another counter at a sequence number already
//!   opened with one.
//! - [`Place::Latest`]: what only its newest counts (a position, a thought, a frame of
//!   the live sight, a glimpse). The newest again is what is shown already (the server
//!   keeps the latest position for a link opened later, two tabs see the same frame);
//!   an older one that was opened before is a replay, and an older one never opened
//!   overtook a newer one on the way and is older news. Neither is shown.
//!
//! The memory is bounded. Messages: the last [`MESSAGE_WINDOW`] opened are remembered
//! one by one; of those forgotten, only the highest counter and the highest sequence
//! number are kept (the floor). A counter at or below the floor's was sealed before the
//! forgotten ones, so its message, if the device saw it, had a sequence number at or
//! below the floor's: one above it is a replay. One at or below it is let through (it
//! may be older history this device opened long ago or never saw); so a server can still
//! put one old message's words in place of another's among messages older than the
//! window, but never show them as new. Latest kinds: the last [`LATEST_WINDOW`] counters
//! of each; anything older is not shown either way.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// How many of the partner's messages are remembered one by one: a year of a few
/// messages a day.
pub const MESSAGE_WINDOW: usize = 1024;

/// How many counters of each latest kind are remembered.
pub const LATEST_WINDOW: usize = 64;

/// Where a sealed thing of the partner's arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place<'a> {
    /// A message (words, a feeling, an alarm) at this sequence number in the bond.
    Message(i64),
    /// The newest thing of this kind, which replaces the one before: `position`,
    /// `thought`, `sight`, `glimpse`.
    Latest(&'a str),
}

/// What to do with a sealed thing that opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not opened before: show it.
    Fresh,
    /// The same thing at the same place again (a resume, a history fetched again, the
    /// newest position kept by the server): show it as before.
    Again,
    /// Opened before somewhere else: the server sent it again. Do not show it, and say so.
    Replayed,
    /// A latest kind older than the newest shown, never opened before: it overtook a
    /// newer one on the way. Do not show it.
    Older,
}

impl Verdict {
    /// Whether what opened may be shown.
    pub fn shows(self) -> bool {
        matches!(self, Verdict::Fresh | Verdict::Again)
    }
}

/// The highest counter and sequence number among messages no longer remembered one by
/// one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Floor {
    counter: u64,
    seq: i64,
}

/// What a device remembers of the sealed things its partner sent (see the module's
/// documentation). Kept on the device beside the bond key, written after each change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Stored", into = "Stored")]
pub struct Seen {
    messages: BTreeMap<u64, i64>,
    floor: Option<Floor>,
    latest: BTreeMap<String, BTreeSet<u64>>,
}

/// How [`Seen`] is written: lists, which every format keeps (TOML's tables take only
/// text keys). `messages` is `[counter, seq]` pairs.
#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(default)]
    messages: Vec<(u64, i64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    floor: Option<Floor>,
    #[serde(default)]
    latest: BTreeMap<String, Vec<u64>>,
}

impl From<Stored> for Seen {
    fn from(stored: Stored) -> Seen {
        let mut seen = Seen {
            messages: stored.messages.into_iter().collect(),
            floor: stored.floor,
            latest: stored
                .latest
                .into_iter()
                .map(|(kind, counters)| (kind, counters.into_iter().collect()))
                .collect(),
        };
        // A file written by hand (or by a larger window) is brought within the bounds.
        seen.prune();
        seen
    }
}

impl From<Seen> for Stored {
    fn from(seen: Seen) -> Stored {
        Stored {
            messages: seen.messages.into_iter().collect(),
            floor: seen.floor,
            latest: seen
                .latest
                .into_iter()
                .map(|(kind, counters)| (kind, counters.into_iter().collect()))
                .collect(),
        }
    }
}

impl Seen {
    /// What to do with the partner's sealed thing of `counter`, which opened at `place`,
    /// without remembering it.
    pub fn check(&self, counter: u64, place: Place<'_>) -> Verdict {
        match place {
            Place::Message(seq) => {
                if let Some(&opened_at) = self.messages.get(&counter) {
                    return if opened_at == seq {
                        Verdict::Again
                    } else {
                        Verdict::Replayed
                    };
                }
                // Another counter already opened at this sequence number: the server put
                // something else where a message was.
                if self.messages.values().any(|&s| s == seq) {
                    return Verdict::Replayed;
                }
                match self.floor {
                    Some(floor) if counter <= floor.counter && seq > floor.seq => Verdict::Replayed,
                    Some(floor) if counter <= floor.counter => Verdict::Again,
                    _ => Verdict::Fresh,
                }
            }
            Place::Latest(kind) => {
                let Some(counters) = self.latest.get(kind) else {
                    return Verdict::Fresh;
                };
                match counters.last() {
                    None => Verdict::Fresh,
                    Some(&newest) if counter > newest => Verdict::Fresh,
                    Some(&newest) if counter == newest => Verdict::Again,
                    _ if counters.contains(&counter) => Verdict::Replayed,
                    _ => Verdict::Older,
                }
            }
        }
    }

    /// What to do with the partner's sealed thing of `counter`, which opened at `place`;
    /// remembers it when it is [`Verdict::Fresh`]. Returns whether anything changed too,
    /// so that a device writes its memory only then.
    pub fn open(&mut self, counter: u64, place: Place<'_>) -> (Verdict, bool) {
        let verdict = self.check(counter, place);
        if verdict != Verdict::Fresh {
            return (verdict, false);
        }
        match place {
            Place::Message(seq) => {
                self.messages.insert(counter, seq);
            }
            Place::Latest(kind) => {
                self.latest
                    .entry(kind.to_owned())
                    .or_default()
                    .insert(counter);
            }
        }
        self.prune();
        (verdict, true)
    }

    /// Forgets what is beyond the windows: the oldest messages into the floor, the
    /// oldest counters of each latest kind.
    fn prune(&mut self) {
        while self.messages.len() > MESSAGE_WINDOW {
            let (counter, seq) = self.messages.pop_first().expect("more than the window");
            self.floor = Some(match self.floor {
                Some(floor) => Floor {
                    counter: floor.counter.max(counter),
                    seq: floor.seq.max(seq),
                },
                None => Floor { counter, seq },
            });
        }
        for counters in self.latest.values_mut() {
            while counters.len() > LATEST_WINDOW {
                counters.pop_first();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_resumed_shows_again_and_one_moved_is_refused() {
        let mut seen = Seen::default();
        assert_eq!(seen.open(7, Place::Message(40)), (Verdict::Fresh, true));
        // The link resumes, or the history is fetched again: the same message.
        assert_eq!(seen.open(7, Place::Message(40)), (Verdict::Again, false));
        // The server stores it again as a new message.
        assert_eq!(seen.open(7, Place::Message(52)), (Verdict::Replayed, false));
        // ... or puts another of the partner's messages where this one was.
        assert_eq!(seen.open(9, Place::Message(40)), (Verdict::Replayed, false));
        // The next one is new, whatever its number.
        assert_eq!(seen.open(9, Place::Message(53)), (Verdict::Fresh, true));
        // The refusals were not remembered: the first message is still where it was.
        assert_eq!(seen.check(7, Place::Message(40)), Verdict::Again);
    }

    #[test]
    fn the_newest_position_again_shows_and_an_older_one_does_not() {
        let mut seen = Seen::default();
        let position = Place::Latest("position");
        assert_eq!(seen.open(3, position).0, Verdict::Fresh);
        assert_eq!(seen.open(5, position).0, Verdict::Fresh);
        // The server keeps the newest for a link opened later.
        assert_eq!(seen.open(5, position).0, Verdict::Again);
        // An old one sent again.
        assert_eq!(seen.open(3, position).0, Verdict::Replayed);
        // One never opened that came after a newer one.
        assert_eq!(seen.open(4, position).0, Verdict::Older);
        assert!(!Verdict::Older.shows() && !Verdict::Replayed.shows());
        // Each latest kind on its own: counter 4 as a thought is news.
        assert_eq!(seen.open(4, Place::Latest("thought")).0, Verdict::Fresh);
    }

    #[test]
    fn a_message_beyond_the_window_is_refused_above_the_floor() {
        let mut seen = Seen::default();
        // Counters 1, 3, 5, ... at sequence numbers 10, 11, 12, ...
        let n = MESSAGE_WINDOW as u64 + 10;
        for i in 0..n {
            seen.open(2 * i + 1, Place::Message(10 + i as i64));
        }
        assert_eq!(seen.messages.len(), MESSAGE_WINDOW);
        let floor = seen.floor.unwrap();
        assert_eq!(
            floor,
            Floor {
                counter: 19,
                seq: 19
            }
        );
        // Forgotten one by one: the first message, fetched again, shows; sent as new, not.
        assert_eq!(seen.check(1, Place::Message(10)), Verdict::Again);
        let last = 10 + n as i64 - 1;
        assert_eq!(seen.check(1, Place::Message(last + 1)), Verdict::Replayed);
        assert_eq!(seen.check(19, Place::Message(20)), Verdict::Replayed);
        // Within the window, exactly.
        assert_eq!(seen.check(21, Place::Message(20)), Verdict::Again);
        assert_eq!(seen.check(21, Place::Message(19)), Verdict::Replayed);
        assert_eq!(
            seen.check(2 * n + 1, Place::Message(last + 1)),
            Verdict::Fresh
        );
    }

    #[test]
    fn it_is_written_and_read_back_as_toml_and_json() {
        let mut seen = Seen::default();
        seen.open(2, Place::Message(5));
        seen.open(4, Place::Latest("position"));
        seen.open(6, Place::Latest("thought"));
        #[derive(Serialize, Deserialize)]
        struct File {
            seen: Seen,
        }
        let text = toml::to_string(&File { seen: seen.clone() }).unwrap();
        assert_eq!(toml::from_str::<File>(&text).unwrap().seen, seen, "{text}");
        let json = serde_json::to_string(&seen).unwrap();
        assert_eq!(
            json,
            r#"{"messages":[[2,5]],"latest":{"position":[4],"thought":[6]}}"#
        );
        assert_eq!(serde_json::from_str::<Seen>(&json).unwrap(), seen);
        assert_eq!(serde_json::from_str::<Seen>("{}").unwrap(), Seen::default());
    }
}
