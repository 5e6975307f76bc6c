//! `send-image` and `picture` against the real server binary.

use crate::support::{Cli, Server};

/// The real photo with GPS in its EXIF (see `crates/picture/tests/picture.rs`).
const GPS_PHOTO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../picture/tests/gps-photo.jpg"
);

#[test]
fn a_picture_sent_from_the_command_line_arrives_blurred_and_without_its_position() {
    let server = Server::start();
    let cli = Cli::new(&server);
    cli.bonded_pair("story");
    // About 5 km apart on the equator: images pass, at 512 pixels.
    cli.ok_as("spike", &["move", "0", "0"]);
    cli.ok_as("amethyst", &["move", "0", "0.0449"]);

    let out = cli.ok_as("amethyst", &["send-image", GPS_PHOTO]);
    assert!(out.starts_with("sent: "), "{out}");
    assert!(out.contains("from you, 800 × 600: full size"), "{out}");
    let id = out["sent: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let out = cli.ok_as("spike", &["picture"]);
    assert!(
        out.contains(&format!(
            "{id}  from amethyst, 800 × 600: 512 px of 800 (sharper as you come closer)"
        )),
        "{out}"
    );
    let saved = cli.home.path().join("seen.jpg");
    let out = cli.ok_as("spike", &["picture", &id, "--out", saved.to_str().unwrap()]);
    assert!(out.contains("(512 px on its longest side)"), "{out}");
    let bytes = std::fs::read(&saved).unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8]));
    assert!(
        !bytes.windows(4).any(|w| w == b"Exif"),
        "EXIF reached spike"
    );

    // A file that is no picture: the server's problem, said plainly.
    let notes = cli.home.path().join("notes.txt");
    std::fs::write(&notes, "not a picture").unwrap();
    let err = cli.fails(&["--as", "amethyst", "send-image", notes.to_str().unwrap()]);
    assert!(err.contains("not a JPEG, PNG or WebP"), "{err}");
}

#[test]
fn a_journal_opens_when_together_from_the_command_line() {
    let server = Server::start();
    let cli = Cli::new(&server);
    cli.bonded_pair("city");
    cli.ok_as("spike", &["move", "0", "0"]);
    cli.ok_as("amethyst", &["move", "0", "0.01"]);

    let out = cli.ok_as(
        "amethyst",
        &["remember", "the", "Glass", "Needle", "at", "dusk"],
    );
    assert_eq!(out.trim(), "kept in your journal");
    let out = cli.ok_as(
        "amethyst",
        &["remember", "--photo", GPS_PHOTO, "from the bridge"],
    );
    assert_eq!(out.trim(), "kept in your journal");
    let out = cli.ok_as("spike", &["memories", "--partner"]);
    assert!(
        out.contains("nothing in your partner's journal yet"),
        "{out}"
    );

    // Together: her journal opens to him, and stays open once they part.
    cli.ok_as("amethyst", &["move", "0", "0.0001"]);
    let out = cli.ok_as("spike", &["memories", "--partner"]);
    assert!(out.contains("you are together"), "{out}");
    cli.ok_as("amethyst", &["move", "0", "0.01"]);
    let out = cli.ok_as("spike", &["memories", "--partner"]);
    assert!(out.contains("the Glass Needle at dusk (shared)"), "{out}");
    assert!(out.contains("[photo] from the bridge (shared)"), "{out}");
    let out = cli.ok_as("amethyst", &["memories"]);
    assert!(out.contains("the Glass Needle at dusk (shared)"), "{out}");
}
