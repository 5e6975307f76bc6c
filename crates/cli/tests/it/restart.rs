//! End to end across a crash: the server is killed with SIGKILL and started again on
//! the same data directory and address.

use std::time::Duration;

use haurach_proto::BondView;

use crate::support::{Cli, Server, message_lines};

const WAIT: Duration = Duration::from_secs(20);

/// Spike and Amethyst 5 km apart in the story profile: everything up to the glimpse
/// passes.
fn five_km_apart(cli: &Cli) {
    cli.ok_as("spike", &["move", "23.1330", "53.7200"]);
    cli.ok_as("amethyst", &["move", "23.1330", "53.7688"]);
}

#[test]
fn messages_sent_to_an_offline_partner_survive_a_killed_server_once_and_in_order() {
    let mut server = Server::start();
    let data_owner = server.keep_data();
    let cli = Cli::new(&server);
    cli.bonded_pair("story");
    five_km_apart(&cli);

    // Amethyst is offline: she has never linked. Spike sends seven messages.
    let mut sent = Vec::new();
    for word in ["one", "two", "three", "four", "five"] {
        cli.ok_as("spike", &["say", word]);
        sent.push(format!("spike: {word}"));
    }
    cli.ok_as("spike", &["feel", "joy"]);
    sent.push("spike feels joy".into());
    cli.ok_as("spike", &["alarm", "come", "quickly"]);
    sent.push("ALARM from spike: come quickly (acknowledge it: haurach ack 7)".into());

    server.kill();
    let server = Server::start_on(&server.data, &server.addr);

    let (ok, lines, stderr) = cli
        .spawn(&["--as", "amethyst", "watch", "--count", "7", "--for", "20"])
        .finish();
    assert!(ok, "{stderr}");
    let expected: Vec<String> = sent
        .iter()
        .enumerate()
        .map(|(idx, text)| format!("#{} {text}", idx + 1))
        .collect();
    assert_eq!(message_lines(&lines), expected);
    // Exactly once: the next watch has nothing left to replay.
    let (_, lines, _) = cli
        .spawn(&["--as", "amethyst", "watch", "--for", "1"])
        .finish();
    assert!(message_lines(&lines).is_empty(), "{lines:#?}");

    // The bond, the last positions and the raised alarm are still there.
    let view: BondView =
        serde_json::from_str(&cli.ok_as("amethyst", &["where", "--json"])).unwrap();
    assert_eq!(view.partner, "spike");
    assert_eq!(view.last_seq, 7);
    assert_eq!(view.pull.unwrap().distance_m, 5_000.0);
    assert_eq!(view.alarms.len(), 1);
    let out = cli.ok_as("amethyst", &["where"]);
    assert!(out.starts_with("spike is west, 5.0 km away"), "{out}");
    assert!(out.contains("✓ glimpse   open"), "{out}");
    drop(server);
    drop(data_owner);
}

#[test]
fn watch_reconnects_by_itself_when_the_server_comes_back() {
    let mut server = Server::start();
    let data_owner = server.keep_data();
    let cli = Cli::new(&server);
    cli.bonded_pair("story");
    five_km_apart(&cli);

    let mut watch = cli.spawn(&["--as", "amethyst", "watch", "--count", "2", "--for", "60"]);
    watch.expect("linked as amethyst", WAIT);
    cli.ok_as("spike", &["say", "before the storm"]);
    watch.expect("spike: before the storm", WAIT);

    server.kill();
    let _server = Server::start_on(&server.data, &server.addr);
    cli.ok_as("spike", &["say", "after the storm"]);

    let (ok, lines, stderr) = watch.finish();
    assert!(ok, "{stderr}");
    assert_eq!(
        message_lines(&lines),
        ["#1 spike: before the storm", "#2 spike: after the storm"]
    );
    assert!(stderr.contains("reconnecting in"), "{stderr}");
    assert!(stderr.contains("?after=1"), "{stderr}");
    drop(data_owner);
}
