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
    let log = log_once_it_holds(&server, "/api/v1/link?token=REDACTED&after=0");
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

/// Every password a story below types.
const PASSWORDS: [&str; 6] = [
    "purple-dragon",
    "night-dragon",
    "east-about-20-km",
    "twilight-reads-1",
    "a-new-password",
    "wrong-guess",
];

/// Logs in `name` with `password` over plain HTTP; the status.
fn login_status(addr: &str, name: &str, password: &str) -> u16 {
    use std::io::{Read as _, Write as _};
    let body = format!(r#"{{"name":"{name}","password":"{password}"}}"#);
    let mut socket = std::net::TcpStream::connect(addr).unwrap();
    write!(
        socket,
        "POST /api/v1/sessions HTTP/1.1\r\nhost: haurach\r\nconnection: close\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    answer.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Runs `haurach ARGS` with the password in `HAURACH_PASSWORD`, which must succeed.
fn ok_with_password(cli: &Cli, args: &[&str], password: &str) -> String {
    let out = cli
        .cmd(args)
        .env("HAURACH_PASSWORD", password)
        .output()
        .unwrap();
    assert!(out.status.success(), "haurach {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The server's log once it holds `needle` (its lines are read on a thread of their own,
/// a moment after the server writes them).
fn log_once_it_holds(server: &Server, needle: &str) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let log = server.log.lock().unwrap().clone();
        if log.contains(needle) || std::time::Instant::now() > deadline {
            return log;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `name`'s session token saved in the CLI's home.
fn token_of(cli: &Cli, name: &str) -> String {
    let saved = std::fs::read_to_string(cli.home.path().join("sessions.toml")).unwrap();
    let saved: toml::Value = toml::from_str(&saved).unwrap();
    saved["servers"][&cli.server]["tokens"][name]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The server's audit lines (`haurach::audit`) that contain every one of `words`.
fn audited<'a>(log: &'a str, words: &[&str]) -> Vec<&'a str> {
    log.lines()
        .filter(|l| l.contains("haurach::audit") && words.iter().all(|w| l.contains(w)))
        .collect()
}

/// A whole session with every log line the server can write (`debug` everywhere, `trace`
/// for Haurach's own): the audit lines say who logged in, who failed to, what was refused
/// with 429 and what the tower did, and no line holds a token, a password or a password
/// hash, nor a colour code (stderr is not a terminal).
#[test]
fn audit_lines_say_who_did_what_and_no_line_holds_a_token_or_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        "127.0.0.1:0",
        &[
            ("HAURACH_GATE", "application"),
            (
                "HAURACH_LOG",
                "debug,haurach=trace,haurach_server=trace,haurach_store=trace",
            ),
        ],
    );
    let cli = Cli::new(&server);
    let mut tokens = Vec::new();
    cli.register("celestia", "purple-dragon");
    tokens.extend(self::tokens(&cli));
    // Two applications: one approved, one declined.
    for (name, password) in [
        ("spike", "east-about-20-km"),
        ("twilight", "twilight-reads-1"),
    ] {
        let out = cli.ok(&["register", name, "--password", password, "--called", name]);
        assert!(out.contains("your application is with the tower"), "{out}");
        tokens.extend(self::tokens(&cli));
    }
    cli.ok_as(
        "celestia",
        &["gate", "approve", "spike", "--answer", "Welcome."],
    );
    cli.ok_as(
        "celestia",
        &["gate", "decline", "twilight", "--answer", "Not this year."],
    );
    ok_with_password(
        &cli,
        &["--as", "celestia", "gate", "tower", "luna"],
        "night-dragon",
    );
    cli.ok(&["login", "luna", "--password", "night-dragon"]);
    tokens.extend(self::tokens(&cli));

    // Spike's live link, as the CLI opens it (a header), as a browser does (a
    // subprotocol) and as an old client did (`?token=`).
    let mut watch = cli.spawn(&["--as", "spike", "watch", "--for", "30"]);
    watch.expect("linked as spike", WAIT);
    link_as_browser_and_old_client(&server, &token_of(&cli, "spike"));

    // A failed login, then guesses until the server holds the guesser off with 429.
    let err = cli.fails(&["login", "spike", "--password", "wrong-guess"]);
    assert!(!err.contains("wrong-guess"), "{err}");
    let held = (0..12).any(|_| login_status(&server.addr, "spike", "wrong-guess") == 429);
    assert!(held, "the guesses were never refused with 429");

    // The tower's tools: a password set (Spike's link closes), sessions ended, a removal.
    ok_with_password(
        &cli,
        &["--as", "celestia", "gate", "password", "spike"],
        "a-new-password",
    );
    let _ = watch.finish();
    cli.ok_as("celestia", &["gate", "sessions", "luna", "--end"]);
    cli.ok_as("celestia", &["gate", "remove", "twilight", "--yes"]);
    cli.ok_as("celestia", &["logout"]);

    let log = log_once_it_holds(&server, "haurach::audit: logout");
    for (what, words) in [
        (
            "the tower's registration",
            &["registered", "name=celestia", "standing=tower"][..],
        ),
        (
            "an application",
            &["registered", "name=spike", "standing=applicant"],
        ),
        ("a login", &["login", "name=luna", "from=127.0.0.1"]),
        (
            "a failed login",
            &["login failed", "name=spike", "from=127.0.0.1"],
        ),
        (
            "a 429",
            &[
                "rate limited",
                "route=\"/api/v1/sessions\"",
                "from=127.0.0.1",
            ],
        ),
        (
            "an approval",
            &["answered an application", "name=spike", "decision=approved"],
        ),
        (
            "a decline",
            &[
                "answered an application",
                "name=twilight",
                "decision=declined",
            ],
        ),
        ("another tower", &["made another tower", "name=luna"]),
        (
            "a password set",
            &["set a password", "name=spike", "sessions_ended="],
        ),
        (
            "sessions ended",
            &["ended a person's sessions", "name=luna", "sessions_ended=1"],
        ),
        ("a removal", &["removed a person", "name=twilight"]),
        ("a logout", &["logout", "account="]),
    ] {
        assert!(
            !audited(&log, words).is_empty(),
            "no audit line for {what} ({words:?}):\n{log}"
        );
    }
    assert!(
        log.contains("/api/v1/link?token=REDACTED"),
        "the old client's link is in the access log:\n{log}"
    );
    assert!(!log.contains('\x1b'), "a colour code in a log file:\n{log}");
    tokens.sort();
    tokens.dedup();
    assert!(tokens.len() >= 4, "{tokens:?}");
    for line in log.lines() {
        for token in &tokens {
            assert!(!line.contains(token.as_str()), "a token in the log: {line}");
        }
        for password in PASSWORDS {
            assert!(!line.contains(password), "a password in the log: {line}");
        }
        assert!(
            !line.contains("$argon2"),
            "a password hash in the log: {line}"
        );
    }
}

/// `HAURACH_LOG_FORMAT=json` (`log_format = "json"`, `--log-format json`): every line is
/// one JSON object with the level, the target and the fields, for a log collector; the
/// audit lines among them.
#[test]
fn json_logs_are_one_object_a_line_with_level_target_and_fields() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        "127.0.0.1:0",
        &[("HAURACH_LOG_FORMAT", "json"), ("HAURACH_LOG", "debug")],
    );
    let cli = Cli::new(&server);
    cli.register("spike", "east-about-20-km");
    cli.fails(&["login", "spike", "--password", "wrong-guess"]);
    let log = log_once_it_holds(&server, r#""status":401"#);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    for line in &lines {
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&line["level"].as_str().unwrap()),
            "{line}"
        );
        assert!(line["target"].is_string(), "{line}");
        assert!(line["fields"].is_object(), "{line}");
        assert!(line["timestamp"].is_string(), "{line}");
    }
    let failed = lines
        .iter()
        .find(|l| l["target"] == "haurach::audit" && l["fields"]["message"] == "login failed")
        .unwrap_or_else(|| panic!("no audit line of the failed login:\n{log}"));
    assert_eq!(failed["level"], "INFO");
    assert_eq!(failed["fields"]["name"], "spike");
    assert_eq!(failed["fields"]["from"], "127.0.0.1");
    assert!(
        lines
            .iter()
            .any(|l| l["target"] == "haurach_server::http::access"
                && l["fields"]["route"] == "/api/v1/sessions"
                && l["fields"]["status"] == 401),
        "no access line of the failed login:\n{log}"
    );
}
