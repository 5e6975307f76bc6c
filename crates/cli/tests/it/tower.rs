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

    // Logged in on a second device too, he lost the first: the tower ends that one only.
    let tablet = Cli::new(server);
    tablet.ok(&["login", "spike", "--password", "a-new-password"]);
    let sessions = cli.ok_as("celestia", &["gate", "sessions", "spike"]);
    let ids: Vec<&str> = sessions
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(ids.len(), 2, "{sessions}");
    let out = cli.ok_as("celestia", &["gate", "sessions", "spike", "--end", ids[0]]);
    assert!(
        out.contains(&format!("spike's session {} ended", ids[0])),
        "{out}"
    );
    let err = cli.fails(&["--as", "spike", "where"]);
    assert!(err.contains("log in again"), "{err}");
    tablet.ok_as("spike", &["gate", "status"]);
    let err = cli.fails(&[
        "--as", "celestia", "gate", "sessions", "spike", "--end", ids[0],
    ]);
    assert!(
        err.contains("no live session of theirs has that id"),
        "{err}"
    );
    let err = cli.fails(&[
        "--as", "celestia", "gate", "sessions", "spike", "--end", "nonsense",
    ]);
    assert!(err.contains("16 hexadecimal digits"), "{err}");
    cli.ok(&["login", "spike", "--password", "a-new-password"]);

    // The tower ends them all.
    let out = cli.ok_as("celestia", &["gate", "sessions", "spike", "--end"]);
    assert!(out.contains("2 of spike's sessions ended"), "{out}");
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
    let server = Server::start_postgres(&pg);
    the_tower_runs_the_city(&server);
}

/// Regression: `haurach admin` on a PostgreSQL city said it made the tower while writing
/// a stray SQLite database in the working directory.
#[test]
fn haurach_admin_makes_a_tower_in_a_postgres_city_and_no_stray_database() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let server = Server::start_postgres(&pg);
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

/// The real photo with GPS in its EXIF (see `crates/picture/tests/picture.rs`).
const GPS_PHOTO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../picture/tests/gps-photo.jpg"
);

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// The tower removes Amethyst with everything she owns: her live link closes, Spike's
/// link hears the bond ended, her pictures' and journal photos' files are gone from the
/// data directory, and Spike keeps his own places and can bond again.
fn the_tower_removes_a_person(server: &Server, kept_on_disk: bool) {
    let cli = Cli::new(server);
    cli.register("celestia", "purple-dragon");
    cli.bonded_pair("city");
    cli.ok_as("spike", &["move", "0", "0"]);
    cli.ok_as("amethyst", &["move", "0", "0.0001"]);
    cli.ok_as("amethyst", &["send-image", GPS_PHOTO]);
    cli.ok_as(
        "amethyst",
        &["remember", "--photo", GPS_PHOTO, "from the bridge"],
    );
    cli.ok_as("amethyst", &["place", "add", "home", "0", "0.001"]);
    cli.ok_as("spike", &["place", "add", "pond", "0", "0.002"]);
    cli.ok_as(
        "amethyst",
        &[
            "letter",
            "send",
            "spike",
            "Come to the Needle",
            "--parcel",
            GPS_PHOTO,
        ],
    );
    cli.ok_as("amethyst", &["say", "see you at the Needle"]);
    cli.ok_as("spike", &["say", "words of spike's own"]);
    cli.ok_as(
        "spike",
        &[
            "letter",
            "send",
            "amethyst",
            "Sealed for now",
            "--parcel",
            GPS_PHOTO,
        ],
    );
    cli.ok_as("amethyst", &["letter", "inbox"]);
    its_export_is_hers_alone(&cli);
    let on_disk = |dir: &str| files_under(&server.data.join(dir)).len();
    if kept_on_disk {
        assert!(on_disk("images") > 0 && on_disk("memories") > 0);
    }

    let mut hers = cli.spawn(&["--as", "amethyst", "watch", "--for", "60"]);
    hers.expect("linked as amethyst", WAIT);
    let mut his = cli.spawn(&["--as", "spike", "watch", "--for", "60"]);
    his.expect("linked as spike", WAIT);

    // Without --yes it asks; with stdin closed nothing is typed, and nothing happens.
    let err = cli.fails(&["--as", "celestia", "gate", "remove", "amethyst"]);
    assert!(err.contains("amethyst is not removed"), "{err}");
    cli.ok_as("amethyst", &["where"]);
    // Only the tower; and not the last tower.
    let err = cli.fails(&["--as", "spike", "gate", "remove", "amethyst", "--yes"]);
    assert!(err.contains("only the tower"), "{err}");
    let err = cli.fails(&["--as", "celestia", "gate", "remove", "celestia", "--yes"]);
    assert!(err.contains("last tower"), "{err}");

    let asked = Instant::now();
    let out = cli.ok_as("celestia", &["gate", "remove", "amethyst", "--yes"]);
    assert!(
        out.contains("amethyst is removed, with everything they owned"),
        "{out}"
    );
    his.expect("the bond with amethyst was ended", WAIT);
    let (ok, _, stderr) = hers.finish();
    assert!(!ok && stderr.contains("log in again"), "{stderr}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "the links heard at once"
    );
    if kept_on_disk {
        assert_eq!(on_disk("images"), 0, "her pictures' files are gone");
        assert_eq!(on_disk("memories"), 0, "her journal photo's file is gone");
    }

    let err = cli.fails(&["--as", "celestia", "gate", "sessions", "amethyst"]);
    assert!(err.contains("no citizen by that name"), "{err}");
    let err = cli.fails(&["login", "amethyst", "--password", "reaching-west-too"]);
    assert!(!err.is_empty());
    let register = cli.ok_as("celestia", &["gate", "register"]);
    assert!(!register.contains("amethyst"), "{register}");
    let letters = cli.ok_as("spike", &["letter", "inbox"]);
    assert!(!letters.contains("Needle"), "{letters}");
    let places = cli.ok_as("spike", &["place", "list"]);
    assert!(places.contains("pond"), "{places}");
    let err = cli.fails(&["--as", "celestia", "gate", "remove", "amethyst", "--yes"]);
    assert!(err.contains("no citizen by that name"), "{err}");
    // The name is free again, and Spike can bond again.
    cli.register("amethyst", "a-fresh-start-1");
    let code = crate::support::invite_code(&cli.ok_as("spike", &["invite"]));
    cli.ok_as("amethyst", &["accept", &code]);
}

/// Amethyst exports her data, and the tower exports it for her: the same zip, which
/// another implementation (Python's `zipfile`) opens, holding her account, journey,
/// place, journal photo, words, picture and letter with its parcel, and nothing of
/// Spike's: not his words, and not the letter he sent her that she has not opened.
fn its_export_is_hers_alone(cli: &Cli) {
    let dir = tempfile::tempdir().unwrap();
    let (mine, towers) = (dir.path().join("mine.zip"), dir.path().join("tower.zip"));
    let out = cli.ok_as("amethyst", &["export", "--out", mine.to_str().unwrap()]);
    assert!(out.contains("wrote amethyst's data to"), "{out}");
    let out = cli.ok_as(
        "celestia",
        &[
            "gate",
            "export",
            "amethyst",
            "--out",
            towers.to_str().unwrap(),
        ],
    );
    assert!(out.contains("wrote amethyst's data to"), "{out}");
    let err = cli.fails(&["--as", "spike", "gate", "export", "amethyst"]);
    assert!(err.contains("only the tower"), "{err}");

    let files = unzip(&mine);
    let names: Vec<&String> = files.keys().collect();
    assert_eq!(names, unzip(&towers).keys().collect::<Vec<_>>());
    let file = |prefix: &str| {
        files
            .iter()
            .find(|(name, _)| name.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {names:?}"))
            .1
            .as_str()
    };
    assert!(
        file("account.json").contains("\"name\": \"amethyst\""),
        "{}",
        file("account.json")
    );
    assert!(
        file("journey.gpx").contains("<trkpt lat=\"0\" lon=\"0.0001\""),
        "{}",
        file("journey.gpx")
    );
    assert!(file("places.json").contains("\"home\""));
    assert!(file("journal.json").contains("from the bridge"));
    assert_eq!(file("journal/"), "a photo");
    assert_eq!(file("pictures/"), "the photo");
    let bond = file("bond.json");
    assert!(
        bond.contains("see you at the Needle") && bond.contains("\"partner\": \"spike\""),
        "{bond}"
    );
    assert!(!bond.contains("words of spike's own"), "{bond}");
    let letters = file("letters.json");
    assert!(letters.contains("Come to the Needle"), "{letters}");
    assert!(letters.contains("\"from\": \"spike\""), "{letters}");
    assert!(
        !letters.contains("Sealed for now"),
        "a sealed letter stays sealed: {letters}"
    );
    let parcels: Vec<_> = files
        .iter()
        .filter(|(n, _)| n.starts_with("parcels/"))
        .collect();
    assert_eq!(parcels.len(), 1, "only her own letter's parcel: {names:?}");
    assert_eq!(parcels[0].1, "the photo");
    assert!(parcels[0].0.ends_with("/0-gps-photo.jpg"), "{names:?}");
}

/// The files of the zip at `path`, read by Python's `zipfile` (which also checks each
/// file's CRC): text as it is, a file with the bytes of [`GPS_PHOTO`] as "the photo",
/// another image as "a photo".
fn unzip(path: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    const READ: &str = r#"
import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
photo = open(sys.argv[2], "rb").read()
def show(b):
    if b == photo: return "the photo"
    try: return b.decode("utf-8")
    except UnicodeDecodeError: return "a photo"
print(json.dumps({n: show(z.read(n)) for n in z.namelist()}))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", READ])
        .arg(path)
        .arg(GPS_PHOTO)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_tower_removes_a_person_on_sqlite() {
    the_tower_removes_a_person(&Server::start(), true);
}

#[test]
fn the_tower_removes_a_person_on_postgres() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let server = Server::start_postgres(&pg);
    // Pictures are in the database: the store's conformance story checks they go.
    the_tower_removes_a_person(&server, false);
}
