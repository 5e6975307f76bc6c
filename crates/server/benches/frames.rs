//! Micro-benchmarks of what the live link does with the frames of every move, besides the
//! bond's rules (those are in `haurach-bond`'s benches): reading a client's `position`
//! frame, directly and the general way serde reads a tagged enum, and writing a `pull`
//! once for the bus.
//!
//! `cargo bench -p haurach-server --bench frames`

use haurach_bond::Tier;
use haurach_proto::api::{NextTier, PullView};
use haurach_proto::{ClientFrame, Mover, ServerFrame};
use haurach_server::bus::Frame;
use haurach_server::http::link::parse_client_frame;

fn main() {
    divan::main();
}

/// A position as the web client sends it, once a second while it moves.
const POSITION: &str = r#"{"type":"position","lat":48.856613,"lon":2.352222,"accuracy_m":8.5,"at":"2026-12-07T08:00:00.250Z","battery":81}"#;

#[divan::bench]
fn position_as_the_link_reads_it() -> ClientFrame {
    parse_client_frame(divan::black_box(POSITION)).expect("a position")
}

#[divan::bench]
fn position_the_general_way() -> ClientFrame {
    serde_json::from_str(divan::black_box(POSITION)).expect("a position")
}

/// A pull as a partner is told of a move within sight.
fn pull() -> ServerFrame {
    ServerFrame::Pull {
        moved: Mover::Partner,
        pull: PullView {
            bearing_deg: 231.40625,
            distance_m: 1234.5678,
            exact: true,
            position: None,
            by_hand: false,
            seen_at: None,
            battery: Some(81),
        },
        strength: 0.73125,
        next_tier: Some(NextTier {
            tier: Tier::Sight,
            opens_in_m: 734.5678,
        }),
    }
}

#[divan::bench]
fn pull_written_for_the_bus(bencher: divan::Bencher) {
    let frame = pull();
    bencher.bench_local(|| Frame::of(divan::black_box(&frame)));
}

#[divan::bench]
fn pull_written_into_an_empty_string(bencher: divan::Bencher) {
    let frame = pull();
    bencher.bench_local(|| -> std::sync::Arc<str> {
        serde_json::to_string(divan::black_box(&frame))
            .expect("a pull")
            .into()
    });
}
