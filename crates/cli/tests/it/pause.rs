//! `haurach pause` and `haurach resume`: the partner's `watch` and `where` see the pause,
//! a position moved meanwhile stays with its sender, and resuming is announced.

use std::time::Duration;

use crate::support::{Cli, Server};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn a_pause_from_the_cli_is_seen_by_the_partner_and_resuming_is_announced() {
    let server = Server::start();
    let cli = Cli::new(&server);
    cli.bonded_pair("story");
    cli.ok_as("spike", &["move", "23.12036", "53.66059"]);
    cli.ok_as("amethyst", &["move", "23.12036", "53.77781"]);
    let mut watch = cli.spawn(&["--as", "spike", "watch"]);
    watch.expect("linked as spike", WAIT);

    let out = cli.ok_as("amethyst", &["pause", "2h"]);
    assert!(out.starts_with("sharing paused until "), "{out}");
    assert!(out.contains("(in 2 h)") || out.contains("(in 1 h"), "{out}");
    watch.expect("amethyst paused sharing until ", WAIT);

    // Where she goes meanwhile is hers.
    let out = cli.ok_as("amethyst", &["move", "24.0", "54.0"]);
    assert!(out.starts_with("sharing is paused"), "{out}");
    let out = cli.ok_as("spike", &["where"]);
    assert!(out.starts_with("amethyst paused sharing until "), "{out}");
    assert!(!out.contains("km away"), "{out}");

    let out = cli.ok_as("amethyst", &["resume"]);
    assert!(out.starts_with("sharing again"), "{out}");
    watch.expect("amethyst is sharing again", WAIT);
    let out = cli.ok_as("amethyst", &["resume"]);
    assert!(out.starts_with("you were not paused"), "{out}");

    // Until resumed, and a duration people would not write.
    let out = cli.ok_as("amethyst", &["pause"]);
    assert!(out.starts_with("sharing paused until you resume"), "{out}");
    watch.expect("amethyst paused sharing until they resume", WAIT);
    let err = cli.fails(&["--as", "amethyst", "pause", "2 hours"]);
    assert!(err.contains("is not a duration"), "{err}");
}
