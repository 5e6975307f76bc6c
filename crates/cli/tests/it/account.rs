//! Accounts, the bond and messages through the CLI, as a person reads its output.

use haurach_proto::BondView;

use crate::support::{Cli, Server, invite_code};

/// Spike in the west of the desert; Amethyst about 16.3 km east of him, where voice
/// passes (17 km) but thoughts (16 km) do not yet.
const SPIKE: [&str; 2] = ["23.12036", "53.66059"];
const AMETHYST: [&str; 2] = ["23.12036", "53.81982"];

#[test]
fn register_bond_and_talk_as_people_read_it() {
    let server = Server::start();
    let cli = Cli::new(&server);
    let out = cli.register("spike", "east-about-20-km");
    assert_eq!(
        out.trim(),
        format!(
            "registered spike on {}; you are logged in as spike, the tower (the city's first account)",
            server.url
        )
    );
    let out = cli.register("amethyst", "reaching-west-too");
    assert!(
        out.trim().ends_with("you are logged in as amethyst"),
        "{out}"
    );

    // Logging in again works, with the password from the environment.
    let out = cli
        .cmd(&["login", "spike"])
        .env("HAURACH_PASSWORD", "east-about-20-km")
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.trim(), format!("logged in as spike on {}", server.url));

    // The invite says the code, when it expires, and what the partner types.
    let out = cli.ok_as("spike", &["invite"]);
    let code = invite_code(&out);
    assert!(
        out.starts_with(&format!("invite code: {code} (works until ")),
        "{out}"
    );
    assert!(
        out.contains(&format!("  haurach --server {} accept {code}", server.url)),
        "{out}"
    );
    let out = cli.ok_as("amethyst", &["accept", &code.to_lowercase()]);
    assert!(
        out.starts_with("bonded with spike (story profile)"),
        "{out}"
    );
    assert!(out.contains("where you both are is not known yet"), "{out}");

    cli.ok_as("spike", &["move", SPIKE[0], SPIKE[1]]);
    let out = cli.ok_as("amethyst", &["move", AMETHYST[0], AMETHYST[1]]);
    assert!(out.contains("spike is west, 16 km away"), "{out}");

    let out = cli.ok_as("amethyst", &["where"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        "spike is west, 16 km away (strength 0.03), set by hand; thoughts opens in 310 m"
    );
    let tiers: Vec<&str> = lines.by_ref().take(9).map(str::trim).collect();
    assert_eq!(tiers[0], "✓ pull      open    at any range");
    assert_eq!(tiers[3], "✓ voice     open    within 17 km");
    assert_eq!(tiers[4], "· thoughts  closed  within 16 km");
    assert_eq!(tiers[8], "· memories  closed  within 25 m");
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("contact: live; story profile; bonded since ")
    );

    // Messages: what was said, felt, and the alarm with how to acknowledge it.
    let out = cli.ok_as(
        "amethyst",
        &[
            "say", "You", "miss", "someone", "as", "well,", "don't", "you?",
        ],
    );
    assert!(out.starts_with("#1 "), "{out}");
    assert!(
        out.trim()
            .ends_with(" you: You miss someone as well, don't you?"),
        "{out}"
    );
    let out = cli.ok_as("amethyst", &["feel", "calm"]);
    assert!(out.trim().ends_with(" you feel calm"), "{out}");
    let out = cli.ok_as("amethyst", &["alarm", "the", "sand", "is", "moving"]);
    assert!(out.starts_with("alarm #3 raised:"), "{out}");
    assert!(out.contains("haurach ack 3"), "{out}");

    let out = cli.ok_as("spike", &["where"]);
    assert!(out.starts_with("amethyst is east, 16 km away"), "{out}");
    assert!(
        out.contains(
            "raised alarm #3 from amethyst: \"the sand is moving\" (acknowledge it: haurach ack 3)"
        ),
        "{out}"
    );
    let out = cli.ok_as("spike", &["ack", "3"]);
    assert_eq!(out.trim(), "acknowledged alarm #3 from amethyst");

    // --json is the API's BondView.
    let view: BondView = serde_json::from_str(&cli.ok_as("spike", &["where", "--json"])).unwrap();
    assert_eq!(view.partner, "amethyst");
    assert_eq!(view.last_seq, 3);
    assert!(view.alarms.is_empty(), "acknowledged: {:?}", view.alarms);
    assert_eq!(view.pull.unwrap().distance_m, 16_000.0);

    let out = cli.ok_as("spike", &["unbond"]);
    assert_eq!(out.trim(), "the bond with amethyst is ended");
    let err = cli.fails(&["--as", "amethyst", "where"]);
    assert!(err.contains("you have no partner yet"), "{err}");

    let out = cli.ok_as("spike", &["logout"]);
    assert_eq!(out.trim(), format!("logged out spike from {}", server.url));
    let err = cli.fails(&["--as", "spike", "where"]);
    assert!(err.contains("spike is not logged in"), "{err}");
}

#[test]
fn bad_input_prints_the_servers_detail_and_fails() {
    let server = Server::start();
    let cli = Cli::new(&server);
    let err = cli.fails(&["where"]);
    assert!(err.contains("nobody is logged in"), "{err}");

    cli.bonded_pair("story");
    let err = cli.fails(&["login", "spike", "--password", "west-about-20-km"]);
    assert_eq!(err.trim(), "haurach: wrong name or password");
    let err = cli.fails(&["move", "91", "53.6"]);
    assert_eq!(
        err.trim(),
        "haurach: lat must be in [-90, 90] and lon in [-180, 180]; got lat 91 lon 53.6"
    );
    // A feeling the API does not know cannot even be put on the wire: the CLI refuses it
    // with the list, like the server would.
    let err = cli.fails(&["feel", "grumpy"]);
    assert!(
        err.contains("no such feeling: choose one of calm, joy, pleasure, victory, love, longing, sadness, fear"),
        "{err}"
    );
    cli.ok_as("spike", &["move", SPIKE[0], SPIKE[1]]);
    cli.ok_as("amethyst", &["move", "23.12036", "53.87"]);
    let err = cli.fails(&["say", "hello"]);
    assert_eq!(
        err.trim(),
        "haurach: voice is closed: it opens within 17 km and you are about 21 km apart"
    );
    let err = cli.fails(&["accept", "ABCD"]);
    assert!(
        err.contains("an invite code is eight letters and digits"),
        "{err}"
    );
    let err = cli.fails(&["ack", "7"]);
    assert!(err.contains("there is no alarm 7 in your bond"), "{err}");
    let err = cli.fails(&["register", "spike", "--password", "whatever-long"]);
    assert!(err.contains("the name \"spike\" is taken"), "{err}");
    let err = cli.fails(&["register", "newcomer", "--password", "short"]);
    assert!(err.contains("a password is 8 to 1,024 characters"), "{err}");

    let nowhere = Cli {
        server: "http://127.0.0.1:9".into(),
        ..Cli::new(&server)
    };
    let err = nowhere.fails(&["login", "spike", "--password", "east-about-20-km"]);
    assert!(
        err.contains("cannot reach the server at http://127.0.0.1:9"),
        "{err}"
    );
}

#[test]
fn sessions_are_private_and_as_picks_who_acts() {
    let server = Server::start();
    let cli = Cli::new(&server);
    cli.bonded_pair("city");
    let path = cli.home.path().join("sessions.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&server.url), "{text}");
    // Amethyst logged in last, so she acts unless told otherwise.
    cli.ok(&["move", "23.1330", "53.7700"]);
    let out = cli.ok(&["where"]);
    assert!(
        out.starts_with("spike: where you both are is not known yet"),
        "{out}"
    );
    let out = cli.ok(&["--as", "SPIKE", "where"]);
    assert!(out.starts_with("amethyst: where"), "{out}");
    assert!(out.contains("city profile"), "{out}");
    // Another server has no sessions.
    let err = cli.fails(&["--server", "http://127.0.0.1:9/", "where"]);
    assert!(
        err.contains("nobody is logged in on http://127.0.0.1:9"),
        "{err}"
    );
}

#[test]
fn every_command_teaches_with_examples() {
    let server = Server::start();
    let cli = Cli::new(&server);
    for command in [
        "register", "login", "logout", "invite", "accept", "unbond", "where", "say", "feel",
        "alarm", "ack", "move", "watch", "think", "walk", "replay",
    ] {
        let out = cli.ok(&[command, "--help"]);
        assert!(
            out.contains("haurach "),
            "{command} --help has no example:\n{out}"
        );
        assert!(
            out.contains("Example"),
            "{command} --help has no example:\n{out}"
        );
    }
}
