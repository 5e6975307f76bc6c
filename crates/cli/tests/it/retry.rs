//! A message whose answer is lost on the way back is sent again with the same id, and
//! stored once.

use haurach_proto::BondView;

use crate::support::{Cli, LosingProxy, Server};

#[test]
fn a_lost_answer_is_retried_with_the_same_id_and_stored_once() {
    let server = Server::start();
    let cli = Cli::new(&server);
    cli.bonded_pair("open");

    // Amethyst's session is for the server's URL; the proxy is another URL, so her
    // session is copied over to a home that knows the server by the proxy's URL.
    let proxy = LosingProxy::start(&server.addr);
    let text = std::fs::read_to_string(cli.home.path().join("sessions.toml")).unwrap();
    let through = Cli {
        server: proxy.url.clone(),
        home: tempfile::TempDir::new().unwrap(),
    };
    std::fs::write(
        through.home.path().join("sessions.toml"),
        text.replace(&server.url, &proxy.url),
    )
    .unwrap();

    let out = through.run(&["--as", "amethyst", "say", "are you there?"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("sending again"),
        "the first answer was lost: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("#1 "), "{stdout}");
    assert!(stdout.trim().ends_with("you: are you there?"), "{stdout}");

    let view: BondView = serde_json::from_str(&cli.ok_as("spike", &["where", "--json"])).unwrap();
    assert_eq!(view.last_seq, 1, "stored once");
}
