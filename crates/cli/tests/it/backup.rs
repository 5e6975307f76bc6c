//! `haurach backup DIR` while the server serves (issue 19, item 3): the copy, served,
//! holds every message, letter, parcel and picture acknowledged before the backup.

use std::os::unix::fs::PermissionsExt as _;

use crate::support::{Cli, Server, haurach, message_lines};

#[test]
fn a_backup_taken_while_the_server_serves_restores_everything_acknowledged() {
    let mut server = Server::start();
    let _data = server.keep_data();
    let cli = Cli::new(&server);
    cli.bonded_pair("story");
    cli.ok_as("spike", &["move", "23.12036", "53.66059"]);
    cli.ok_as("amethyst", &["move", "23.12036", "53.77781"]);
    for i in 0..5 {
        cli.ok_as("spike", &["say", &format!("message {i}")]);
    }
    let dir = tempfile::tempdir().unwrap();
    let parcel = dir.path().join("box.bin");
    std::fs::write(&parcel, b"a box of sand").unwrap();
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
    let photo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../picture/tests/gps-photo.jpg"
    );
    cli.ok_as("amethyst", &["send-image", photo]);

    let copy = dir.path().join("copy");
    let out = haurach()
        .arg("backup")
        .arg(&copy)
        .arg("--data")
        .arg(&server.data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("to restore, haurach serve --data"),
        "{out:?}"
    );
    // The server went on serving; what it took after the copy is not in it.
    cli.ok_as("spike", &["say", "after the backup"]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&copy), 0o700);
    assert_eq!(mode(&copy.join("haurach.db")), 0o600);

    // Restored where the city was (the sessions file knows its address).
    server.kill();
    let _restored = Server::start_on(&copy, &server.addr);
    let watched = cli.ok_as("amethyst", &["watch", "--after", "0", "--for", "3"]);
    let lines: Vec<String> = watched.lines().map(str::to_owned).collect();
    let messages = message_lines(&lines);
    assert_eq!(
        messages.len(),
        6,
        "five messages and the picture: {watched}"
    );
    for i in 0..5 {
        assert!(
            messages
                .iter()
                .any(|m| m.ends_with(&format!("spike: message {i}"))),
            "{watched}"
        );
    }
    assert!(!watched.contains("after the backup"), "{watched}");
    let inbox = cli.ok_as("amethyst", &["letter", "inbox"]);
    assert!(inbox.contains("box.bin (13 bytes)"), "{inbox}");
    let pictures = cli.ok_as("spike", &["picture"]);
    assert_eq!(pictures.lines().count(), 1, "{pictures}");
    let id = pictures.split_whitespace().next().unwrap();
    let saved = dir.path().join("seen.jpg");
    cli.ok_as("spike", &["picture", id, "--out", saved.to_str().unwrap()]);
    assert!(std::fs::metadata(&saved).unwrap().len() > 1000);
}

#[test]
fn a_postgres_city_is_pointed_to_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let out = haurach()
        .arg("backup")
        .arg(dir.path().join("copy"))
        .env(
            "HAURACH_DATABASE_URL",
            "postgres://haurach@127.0.0.1:1/haurach",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(!dir.path().join("copy").exists());
}
