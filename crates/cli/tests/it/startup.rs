//! Starting the server and what goes wrong, as an operator meets it (issue 19, item 5):
//! storage opens before the port is bound, each failure is said once with what to do,
//! `serve --help` shows the server's settings only, and client errors name commands.

use std::io::Write as _;
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Cli, Server, haurach};

/// A loopback port nothing listens on (as far as anyone can know).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_second_server_on_the_same_data_says_which_holds_it_once_and_never_listens() {
    let first = Server::start();
    let port = free_port();
    let second = haurach()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(&first.data)
        .env("HAURACH_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // While it waits for the lock, its port takes nobody in: nothing hangs.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the port was bound before the storage opened"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = second.wait_with_output().unwrap();
    assert!(!out.status.success());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!stdout.contains("listening"), "{stdout}");
    assert!(!stderr.contains("listening"), "{stderr}");
    let said = format!(
        "another haurach server holds {} (pid {})",
        first.data.display(),
        first.pid()
    );
    // At once, that it waits; then, once, that it gives up.
    assert!(
        stderr.contains(&format!("{said}: waiting up to 10 s for it to stop")),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches(&format!("{said}: stop it first")).count(),
        1,
        "said once: {stderr}"
    );
    assert!(stderr.contains("--data"), "what to do: {stderr}");
    assert!(!stderr.contains("corrupt"), "{stderr}");
}

#[test]
fn a_data_directory_the_server_may_not_write_is_said_plainly_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cmd;
    // Root writes anywhere: run the binary as nobody, who may not enter the temporary
    // directory (0700, root's). Anyone else gets a directory they may not write.
    let root =
        std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    if root {
        cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(crate::support::BIN);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("HAURACH_") {
                cmd.env_remove(name);
            }
        }
    } else {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o500)).unwrap();
        cmd = haurach();
    }
    let out = cmd
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("HAURACH_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    let said = format!("cannot write {}: permission denied", data.display());
    assert_eq!(stderr.matches(&said).count(), 1, "said once: {stderr}");
    assert!(!stderr.contains("corrupt"), "{stderr}");
}

#[test]
fn a_postgres_that_cannot_be_reached_is_said_plainly_once() {
    let port = free_port();
    let out = haurach()
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url"])
        .arg(format!(
            "postgres://haurach:secret@127.0.0.1:{port}/haurach"
        ))
        .env("HAURACH_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    let said = format!("cannot use PostgreSQL at 127.0.0.1:{port}");
    assert_eq!(stderr.matches(&said).count(), 1, "said once: {stderr}");
    assert!(stderr.contains("--database-url"), "what to do: {stderr}");
    assert!(
        !stderr.contains("secret"),
        "the password stays out: {stderr}"
    );
}

#[test]
fn serve_help_shows_only_the_servers_settings() {
    let out = haurach().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--data"), "{help}");
    assert!(help.contains("--database-url"), "{help}");
    for client_flag in ["--server", "--as", "--home"] {
        assert!(!help.contains(client_flag), "{client_flag} in:\n{help}");
    }
    // The client's commands still take them.
    let out = haurach().args(["where", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--server") && help.contains("--as"), "{help}");
}

#[test]
fn registering_without_a_book_at_an_application_gate_names_the_flag() {
    let server = Server::start_gate("application");
    let cli = Cli::new(&server);
    cli.register("celestia", "the-tower-first");
    let mut child = cli
        .cmd(&["register", "spike"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "east-about-20-km").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("haurach register NAME --called"),
        "says what to type: {stderr}"
    );
    assert!(
        !stderr.contains("book.name"),
        "names no API field: {stderr}"
    );
}
