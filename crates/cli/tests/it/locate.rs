//! `haurach locate` against a real server, with the real CLI on both sides: the asked
//! partner's watch hears the ask, their next position is the answer, asking again within
//! the minute is refused, and no answer is said as such.

use std::time::Duration;

use crate::support::{Cli, Server};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn locate_asks_the_partner_and_prints_the_answer() {
    let server = Server::start();
    let cli = Cli::new(&server);
    cli.bonded_pair("story");
    // 12 km apart: feelings are open, so the answer says how fresh it is.
    cli.ok_as("spike", &["move", "23.12036", "53.66059"]);
    cli.ok_as("amethyst", &["move", "23.12036", "53.77781"]);

    let mut watch = cli.spawn(&["--as", "amethyst", "watch", "--for", "30"]);
    watch.expect("linked as amethyst", WAIT);
    let mut locate = cli.spawn(&["--as", "spike", "locate", "--for", "20"]);
    locate.expect("asked amethyst where they are now", WAIT);
    watch.expect("spike asks where you are now", WAIT);
    // Amethyst's answer: a position.
    cli.ok_as("amethyst", &["move", "23.12036", "53.7778"]);
    let (ok, lines, stderr) = locate.finish();
    assert!(ok, "locate failed: {stderr}");
    let answer = lines.last().unwrap();
    assert!(
        answer.starts_with("amethyst answered: east, 12 km away") && answer.contains("last seen"),
        "{lines:#?}"
    );

    // Once a minute.
    let refused = cli.fails(&["--as", "spike", "locate", "--for", "1"]);
    assert!(refused.contains("ask again in"), "{refused}");
    // Nobody answers Amethyst's ask within a second.
    let out = cli.ok_as("amethyst", &["locate", "--for", "1"]);
    assert!(out.contains("no answer from spike yet"), "{out}");
}
