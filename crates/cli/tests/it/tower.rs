//! The tower's tools, on SQLite and on PostgreSQL alike (issue 19, item 3): another tower
//! account, a password set for someone who forgot theirs, someone's sessions listed and
//! ended (their live link closing at once), and `haurach admin` finding a PostgreSQL
//! city instead of writing a stray SQLite file.

use std::time::{Duration, Instant};

use haurach_testkit::{PgCluster, or_skip};

use crate::support::{Cli, Server, haurach};

const WAIT: Duration = Duration::from_secs(20);

/// The whole story against one server.
fn the_tower_runs_the_city(server: &Server) {
    let cli = Cli::new(server);
    cli.register("celestia", "purple-dragon");
    cli.register("spike", "east-about-20-km");

    // Another tower, made by the first over the API.
    let out = cli
        .cmd(&["--as", "celestia", "gate", "tower", "luna"])
        .env("HAURACH_PASSWORD", "night-dragon")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("luna is in the tower"),
        "{out:?}"
    );
    cli.ok(&["login", "luna", "--password", "night-dragon"]);
    let register = cli.ok_as("luna", &["gate", "register"]);
    assert!(register.contains("luna: arrived"), "{register}");

    // Spike's sessions, one of them holding a live link.
    let mut watch = cli.spawn(&["--as", "spike", "watch", "--for", "60"]);
    watch.expect("linked as spike", WAIT);
    let sessions = cli.ok_as("celestia", &["gate", "sessions", "spike"]);
    assert_eq!(sessions.lines().count(), 1, "{sessions}");
    assert!(sessions.contains("since"), "{sessions}");
    assert!(!sessions.contains("hau_"), "never a token: {sessions}");

    // He forgot his password: the tower sets one, and every session of his ends, the
    // link at once.
    let asked = Instant::now();
    let out = cli
        .cmd(&["--as", "celestia", "gate", "password", "spike"])
        .env("HAURACH_PASSWORD", "a-new-password")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("spike's password is set; 1 of their sessions ended"),
        "{out:?}"
    );
    let (ok, _, stderr) = watch.finish();
    assert!(!ok && stderr.contains("log in again"), "{stderr}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "the link closed at once"
    );
    let err = cli.fails(&["--as", "spike", "where"]);
    assert!(err.contains("log in again"), "{err}");
    let err = cli.fails(&["login", "spike", "--password", "east-about-20-km"]);
    assert!(!err.is_empty());
    cli.ok(&["login", "spike", "--password", "a-new-password"]);

    // The tower ends them all.
    let out = cli.ok_as("celestia", &["gate", "sessions", "spike", "--end"]);
    assert!(out.contains("1 of spike's sessions ended"), "{out}");
    let err = cli.fails(&["--as", "spike", "where"]);
    assert!(err.contains("log in again"), "{err}");
    let out = cli.ok_as("celestia", &["gate", "sessions", "spike"]);
    assert!(out.contains("spike is logged in nowhere"), "{out}");

    // Only the tower.
    cli.ok(&["login", "spike", "--password", "a-new-password"]);
    let err = cli.fails(&["--as", "spike", "gate", "sessions", "celestia", "--end"]);
    assert!(err.contains("only the tower"), "{err}");
    let err = cli.fails(&["--as", "celestia", "gate", "sessions", "nobody"]);
    assert!(err.contains("no citizen by that name"), "{err}");
}

#[test]
fn the_tower_runs_a_city_on_sqlite() {
    the_tower_runs_the_city(&Server::start());
}

#[test]
fn the_tower_runs_a_city_on_postgres() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        "127.0.0.1:0",
        &[("HAURACH_DATABASE_URL", &pg.url())],
    );
    the_tower_runs_the_city(&server);
}

/// Regression: `haurach admin` on a PostgreSQL city said it made the tower while writing
/// a stray SQLite database in the working directory.
#[test]
fn haurach_admin_makes_a_tower_in_a_postgres_city_and_no_stray_database() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        "127.0.0.1:0",
        &[("HAURACH_DATABASE_URL", &pg.url())],
    );
    let cli = Cli::new(&server);
    cli.register("celestia", "purple-dragon");
    let elsewhere = tempfile::tempdir().unwrap();

    // Without the database's address there is no city here to change: said, and nothing
    // is written.
    let out = haurach()
        .args(["admin", "luna"])
        .current_dir(elsewhere.path())
        .env("HAURACH_PASSWORD", "night-dragon")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("there is no city in haurach-data") && stderr.contains("--database-url"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);

    let out = haurach()
        .args(["admin", "luna", "--database-url", &pg.url()])
        .current_dir(elsewhere.path())
        .env("HAURACH_PASSWORD", "night-dragon")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("luna is in the tower of the city's PostgreSQL database"),
        "{out:?}"
    );
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    cli.ok(&["login", "luna", "--password", "night-dragon"]);
    let register = cli.ok_as("luna", &["gate", "register"]);
    assert!(
        register.contains("luna: arrived") && register.contains("by admin, tower"),
        "{register}"
    );
}
