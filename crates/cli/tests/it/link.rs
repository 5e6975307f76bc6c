//! `watch` and `think` over the live link, driven by the real CLI on both sides.

use std::io::Write as _;
use std::process::Stdio;
use std::time::Duration;

use crate::support::{Cli, Server, message_lines};

const WAIT: Duration = Duration::from_secs(20);

/// Spike and Amethyst 12 km apart: feelings, voice, thoughts and images pass.
fn twelve_km_apart(cli: &Cli) {
    cli.ok_as("spike", &["move", "23.12036", "53.66059"]);
    cli.ok_as("amethyst", &["move", "23.12036", "53.77781"]);
}

#[test]
fn watch_sees_the_partner_speak_and_think() {
    let server = Server::start();
    let cli = Cli::new(&server);
    cli.bonded_pair("story");
    twelve_km_apart(&cli);

    let mut watch = cli.spawn(&["--as", "amethyst", "watch", "--count", "2", "--for", "30"]);
    let hello = watch.expect("linked as amethyst", WAIT);
    assert!(hello.contains("spike is west, 12 km away"), "{hello}");

    // Thoughts are not stored: they pass only while the watcher is linked.
    let mut think = cli
        .cmd(&["--as", "spike", "think"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = think.stdin.take().unwrap();
    writeln!(stdin, "I wonder").unwrap();
    writeln!(stdin, "I wonder if she's attractive...").unwrap();
    drop(stdin);
    assert!(think.wait().unwrap().success());
    watch.expect("spike is thinking: I wonder if she's attractive...", WAIT);

    let out = cli.ok_as("spike", &["say", "You miss someone as well, don't you?"]);
    assert!(out.starts_with("#1 "), "{out}");
    cli.ok_as("spike", &["feel", "longing"]);

    let (ok, lines, stderr) = watch.finish();
    assert!(ok, "watch failed: {stderr}");
    assert!(
        lines.contains(&"spike is thinking: I wonder".to_owned()),
        "{lines:#?}"
    );
    assert_eq!(
        message_lines(&lines),
        [
            "#1 spike: You miss someone as well, don't you?",
            "#2 spike feels longing"
        ]
    );

    // Each message was acknowledged once printed: the next watch starts after them.
    let (ok, lines, _) = cli
        .spawn(&["--as", "amethyst", "watch", "--for", "1"])
        .finish();
    assert!(ok);
    assert!(message_lines(&lines).is_empty(), "{lines:#?}");
    // --json prints the raw frames; --after replays from a point.
    let out = cli.ok_as(
        "amethyst",
        &[
            "watch", "--json", "--after", "1", "--count", "1", "--for", "20",
        ],
    );
    let frames: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(frames[0]["type"], "hello");
    assert_eq!(frames[0]["resume_after"], 1);
    assert_eq!(frames[1]["type"], "message");
    assert_eq!(frames[1]["message"]["feeling"], "longing");
}

#[test]
fn watch_shows_tiers_open_as_the_partner_comes_closer() {
    let server = Server::start();
    let cli = Cli::new(&server);
    cli.bonded_pair("city");
    cli.ok_as("spike", &["move", "23.1330", "53.7700"]);
    cli.ok_as("amethyst", &["move", "23.1330", "53.7900"]);
    let mut watch = cli.spawn(&["--as", "spike", "watch", "--for", "30"]);
    watch.expect("linked as spike", WAIT);
    // 2 km to 600 m in the city profile: feelings (1 km), voice, thoughts, images open.
    cli.ok_as("amethyst", &["move", "23.1330", "53.7759"]);
    watch.expect("feelings opened (within 1.0 km)", WAIT);
    watch.expect("voice opened (within 850 m)", WAIT);
    watch.expect("thoughts opened (within 800 m)", WAIT);
    watch.expect("images opened (within 750 m)", WAIT);
    watch.expect("amethyst is east, 600 m away", WAIT);
    cli.ok_as("amethyst", &["alarm"]);
    watch.expect("ALARM from amethyst (acknowledge it: haurach ack 1)", WAIT);
    cli.ok_as("spike", &["ack", "1"]);
    watch.expect("you acknowledged alarm #1", WAIT);
}
