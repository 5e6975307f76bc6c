//! The rule against replays (`haurach_private::seen`) as property tests: whatever order
//! an honest server delivers the partner's messages and latest positions in, resumed and
//! fetched again as often as it likes, nothing is refused; and whatever of them it sends
//! again as new (a message stored again under a new sequence number, an old position
//! sent again), it is refused, however long ago it was opened.

use haurach_private::seen::{LATEST_WINDOW, MESSAGE_WINDOW};
use haurach_private::{Place, Seen, Verdict};
use proptest::prelude::*;

/// The partner's messages as an honest server numbers them: counters rising (with gaps,
/// the positions and thoughts sealed between them), sequence numbers rising (with gaps,
/// this device's own messages between them). Sometimes more than the window holds.
fn honest_messages() -> impl Strategy<Value = Vec<(u64, i64)>> {
    prop_oneof![
        prop::collection::vec((1..5u64, 1..4i64), 1..60),
        prop::collection::vec((1..3u64, 1..3i64), MESSAGE_WINDOW..MESSAGE_WINDOW + 300),
    ]
    .prop_map(|steps| {
        let (mut counter, mut seq) = (0u64, 0i64);
        steps
            .into_iter()
            .map(|(dc, ds)| {
                counter += dc;
                seq += ds;
                (counter, seq)
            })
            .collect()
    })
}

/// Deliveries of `n` messages: each in order once (the live link), with some delivered
/// again anywhere (a resume, the history fetched again), and some fetched first out of
/// order (the history before the live link).
fn deliveries(n: usize) -> impl Strategy<Value = Vec<usize>> {
    (
        prop::collection::vec((0..n, 0..=n), 0..40),
        prop::collection::vec(0..n, 0..10),
    )
        .prop_map(move |(again, early)| {
            let mut order: Vec<usize> = early;
            order.extend(0..n);
            for (idx, at) in again {
                order.insert(at.min(order.len()), idx);
            }
            order
        })
}

fn messages_and_deliveries() -> impl Strategy<Value = (Vec<(u64, i64)>, Vec<usize>)> {
    honest_messages().prop_flat_map(|messages| {
        let n = messages.len();
        (Just(messages), deliveries(n))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn an_honest_server_is_never_refused_and_a_replay_always_is(
        (messages, order) in messages_and_deliveries(),
        replayed in any::<prop::sample::Index>(),
        later in 1..1000i64,
    ) {
        let mut seen = Seen::default();
        for &idx in &order {
            let (counter, seq) = messages[idx];
            let (verdict, _) = seen.open(counter, Place::Message(seq));
            prop_assert!(verdict.shows(), "{idx}: {verdict:?}");
        }
        // Written and read back on the device, it says the same.
        let json = serde_json::to_string(&seen).unwrap();
        prop_assert!(json.len() < 40 * (MESSAGE_WINDOW + LATEST_WINDOW), "{}", json.len());
        let mut seen: Seen = serde_json::from_str(&json).unwrap();
        // Any of them, stored again under a new sequence number: refused, even once it
        // is beyond the window.
        let (counter, _) = messages[replayed.index(messages.len())];
        let newest = messages.last().unwrap().1;
        prop_assert_eq!(seen.open(counter, Place::Message(newest + later)).0, Verdict::Replayed);
        // Every one again where it was: still shown.
        for &(counter, seq) in &messages {
            prop_assert!(seen.check(counter, Place::Message(seq)).shows());
        }
    }

    #[test]
    fn an_older_position_is_never_shown_and_the_newest_always_is(
        steps in prop::collection::vec(1..4u64, 1..200),
        again in prop::collection::vec(any::<prop::sample::Index>(), 1..20),
    ) {
        let mut seen = Seen::default();
        let position = Place::Latest("position");
        let mut counter = 0;
        let mut sent = Vec::new();
        for step in steps {
            counter += step;
            sent.push(counter);
            prop_assert_eq!(seen.open(counter, position).0, Verdict::Fresh);
            // The server keeps the newest for a link opened later.
            prop_assert_eq!(seen.open(counter, position).0, Verdict::Again);
        }
        let newest = *sent.last().unwrap();
        for idx in again {
            let old = sent[idx.index(sent.len())];
            let verdict = seen.open(old, position).0;
            if old == newest {
                prop_assert_eq!(verdict, Verdict::Again);
            } else {
                prop_assert!(!verdict.shows(), "{old}: {verdict:?}");
                let opened_lately = sent.len() - sent.iter().position(|&c| c == old).unwrap() <= LATEST_WINDOW;
                if opened_lately {
                    prop_assert_eq!(verdict, Verdict::Replayed);
                }
            }
        }
    }
}
