//! Secrets stay out of logs and out of other users' reach: no session token in any line
//! the server logs or the CLI prints over a whole session, and the data directory only
//! its owner may read (issue 19, item 4).

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::header;

use crate::support::{Cli, Server};

const WAIT: Duration = Duration::from_secs(20);

/// Every session token saved in the CLI's home.
fn tokens(cli: &Cli) -> Vec<String> {
    let saved = std::fs::read_to_string(cli.home.path().join("sessions.toml")).unwrap();
    let saved: toml::Value = toml::from_str(&saved).unwrap();
    let mut found = Vec::new();
    fn walk(v: &toml::Value, found: &mut Vec<String>) {
        match v {
            toml::Value::String(s) if s.starts_with("hau_") => found.push(s.clone()),
            toml::Value::Table(t) => t.values().for_each(|v| walk(v, found)),
            toml::Value::Array(a) => a.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    walk(&saved, &mut found);
    found
}

/// Opens the link as a browser does (the token as a subprotocol) and as an old client
/// did (`?token=`); the first must hear `haurach` back. Both are closed at once.
fn link_as_browser_and_old_client(server: &Server, token: &str) {
    let url = format!("ws://{}/api/v1/link", server.addr);
    let mut request = url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        format!("haurach, bearer.{token}").parse().unwrap(),
    );
    let (mut socket, res) = tokio_tungstenite::tungstenite::connect(request).unwrap();
    assert_eq!(
        res.headers().get(header::SEC_WEBSOCKET_PROTOCOL).unwrap(),
        "haurach",
        "the server answers with the link's protocol, never the token"
    );
    let hello = socket.read().unwrap();
    assert!(hello.to_string().contains("\"hello\""), "{hello}");
    let _ = socket.close(None);

    let old = format!("{url}?token={token}&after=0");
    let (mut socket, _) = tokio_tungstenite::tungstenite::connect(old).unwrap();
    let hello = socket.read().unwrap();
    assert!(hello.to_string().contains("\"hello\""), "{hello}");
    let _ = socket.close(None);
}

#[test]
fn no_token_appears_in_any_log_line_of_a_whole_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        "127.0.0.1:0",
        &[("HAURACH_LOG", "debug")],
    );
    let cli = Cli::new(&server);
    let mut printed = String::new();
    cli.bonded_pair("story");
    cli.ok_as("spike", &["move", "23.12036", "53.66059"]);
    cli.ok_as("amethyst", &["move", "23.12036", "53.77781"]);
    cli.ok_as("spike", &["logout"]);
    let mut login = cli
        .cmd(&["login", "spike"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        writeln!(login.stdin.take().unwrap(), "east-about-20-km").unwrap();
    }
    let out = login.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");

    let mut watch = cli.spawn(&["--as", "amethyst", "watch", "--count", "1", "--for", "30"]);
    watch.expect("linked as amethyst", WAIT);
    printed += &cli.ok_as("spike", &["say", "Are you there?"]);
    let (ok, lines, stderr) = watch.finish();
    assert!(ok, "watch failed: {stderr}");
    printed += &lines.join("\n");
    printed += &stderr;

    printed += &cli.ok_as("spike", &["letter", "send", "amethyst", "A letter"]);
    printed += &cli.ok_as("amethyst", &["letter", "inbox"]);
    // What the server refuses is logged too.
    printed += &cli.fails(&["--as", "spike", "letter", "read", "00000000"]);

    let tokens = tokens(&cli);
    assert_eq!(tokens.len(), 2, "spike's and amethyst's sessions");
    link_as_browser_and_old_client(&server, &tokens[0]);

    // The server logged every request, the old client's among them, its token redacted.
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("/api/v1/link?token=REDACTED&after=0"),
        "the access log shows the old client's request:\n{log}"
    );
    for token in &tokens {
        assert!(
            !log.contains(token.as_str()),
            "a token in the server's log:\n{log}"
        );
        assert!(
            !printed.contains(token.as_str()),
            "a token printed:\n{printed}"
        );
    }
}

/// Every directory in `dir` and `dir` itself are 0700, every file 0600.
fn assert_private(dir: &Path) {
    let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{} is {mode:o}", dir.display());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            assert_private(&path);
        } else {
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is {mode:o}", path.display());
        }
    }
}

#[test]
fn the_data_directory_and_its_files_are_only_their_owners() {
    let server = Server::start();
    let cli = Cli::new(&server);
    cli.bonded_pair("story");
    cli.ok_as("spike", &["move", "23.12036", "53.66059"]);
    cli.ok_as("amethyst", &["move", "23.12036", "53.77781"]);
    cli.ok_as("spike", &["say", "Are you there?"]);
    // A picture (its original and a rendition), a parcel, a journal's entry.
    let photo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../picture/tests/gps-photo.jpg"
    );
    cli.ok_as("amethyst", &["send-image", photo]);
    let picture = cli.ok_as("spike", &["picture"]);
    let id = picture.split_whitespace().next().unwrap();
    let saved = tempfile::tempdir().unwrap();
    let out = saved.path().join("p.jpg");
    cli.ok_as("spike", &["picture", id, "--out", out.to_str().unwrap()]);
    let parcel = saved.path().join("box.bin");
    std::fs::write(&parcel, b"a box").unwrap();
    cli.ok_as(
        "spike",
        &[
            "letter",
            "send",
            "amethyst",
            "A box",
            "--parcel",
            parcel.to_str().unwrap(),
        ],
    );
    cli.ok_as(
        "spike",
        &["remember", "--photo", photo, "The desert at dawn"],
    );

    for sub in ["haurach.db", "journal", "images", "parcels"] {
        assert!(
            server.data.join(sub).exists(),
            "no {sub} in the data directory"
        );
    }
    assert_private(&server.data);
}
