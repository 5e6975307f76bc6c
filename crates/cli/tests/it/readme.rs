//! The README's commands, run as written, top to bottom, against a real server (issue 19,
//! item 1): a newcomer who types them gets what the README says.
//!
//! Every ```` ```sh ```` block of README.md is run in order, each command through `bash`
//! in one working directory, with `haurach` (this build) first on `PATH`. What the
//! README shows a command printing is checked: a comment's text in double quotes, right
//! after `# `, `: ` or `; `, must be a line of what it printed (stdout or stderr), `...`
//! standing for anything. The README's example values (an invite code, a letter's and a
//! summons' ids, a picture's id) are taken from what the server printed where the README
//! shows them first, and put in the commands after, as a person would copy them.
//!
//! What is not as a newcomer has it, and why:
//! - The two set-up commands are not run here: `scripts/test` is what runs this test, and
//!   `cargo run --release -p haurach-cli -- serve` would make a release build; the test
//!   runs the same `haurach serve`, with no configuration and its default gate (the
//!   tower first, applicants approved), from this build, in an empty directory.
//! - The server listens on a free port, not 7420 (tests run side by side), so the
//!   commands get `HAURACH_SERVER`, and `http://127.0.0.1:7420` in a command becomes the
//!   server's address.
//! - Passwords come from `HAURACH_PASSWORD` (the README says a command asks, or takes
//!   it), and `PASSWORD` in a command is that password.
//! - The files the README sends (`box.png`, `sunset.jpg`) are a real photo.
//! - `haurach watch` runs until Ctrl-C: it is started, the next command waits for its
//!   first line (the link is up, as a person would see before going on), and what the
//!   README shows it printing is awaited at the end of its block, then it is stopped.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::Server;

/// The README, from this crate's directory.
const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");

/// The photo sent as `box.png` and `sunset.jpg`.
const PHOTO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../picture/tests/gps-photo.jpg"
);

/// The password every person of the walkthrough uses.
const PASSWORD: &str = "purple-dragon-7";

/// The blocks not run, and why (the module's doc says more).
const NOT_RUN: &[&str] = &[
    "cargo run --release -p haurach-cli -- serve",
    "scripts/test",
];

/// The README's example values that stand for what the server makes.
const EXAMPLES: &[&str] = &[
    "HP1-MFRG-GZDF-MZTW-Q2LK-NNWG-23TP-OBYX-E43U",
    "K7QF-3MZP",
    "3f9a01c2",
    "5d2e7b10",
    "77c1d2e0",
    "0193c2a4-5e1f-7b2a-9c3d-4e5f60718293",
];

/// How long a command may take, and a long-running one to print what it should.
const WAIT: Duration = Duration::from_secs(30);

#[test]
fn the_readme_works_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    for name in ["box.png", "sunset.jpg"] {
        std::fs::copy(PHOTO, work.join(name)).unwrap();
    }
    let server = Server::start_with(
        &work.join("haurach-data"),
        "127.0.0.1:0",
        &[("HAURACH_GATE", "application")],
    );
    let url = format!("http://{}", server.addr);
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    values.insert("PASSWORD".into(), PASSWORD.into());
    values.insert("http://127.0.0.1:7420".into(), url.clone());
    let shell = Shell {
        work: work.clone(),
        home: dir.path().join("home"),
        server: url,
    };

    let readme = std::fs::read_to_string(README).unwrap();
    let blocks = sh_blocks(&readme);
    assert!(blocks.len() >= 7, "the README's blocks: {blocks:?}");
    let mut ran = 0;
    for block in blocks {
        if NOT_RUN.contains(&block.join("\n").as_str()) {
            continue;
        }
        let mut running: Vec<(String, Running)> = Vec::new();
        for line in block {
            let (command, comment) = split_comment(&line);
            if command.is_empty() {
                continue;
            }
            let command = substitute(command, &values);
            let expected = comment.and_then(expected_output);
            if command.split_whitespace().nth(3) == Some("watch") {
                let watch = shell.spawn(&command);
                watch.wait_for_first_line(&command);
                running.push((expected.unwrap_or_default(), watch));
                continue;
            }
            let printed = shell.run(&command);
            ran += 1;
            if let Some(expected) = expected {
                let found = find(&expected, &printed, &values).unwrap_or_else(|| {
                    panic!("`{command}` printed no line like \"{expected}\":\n{printed}")
                });
                values.extend(found);
            }
        }
        for (expected, watch) in running {
            if !expected.is_empty() {
                watch.wait_for(&expected, &values);
            }
            watch.stop();
        }
    }
    assert!(ran >= 30, "only {ran} commands ran");
}

/// Where and as whom the README's commands run.
struct Shell {
    work: std::path::PathBuf,
    home: std::path::PathBuf,
    server: String,
}

impl Shell {
    /// `command` through bash, as a person's terminal would run it.
    fn command(&self, command: &str) -> Command {
        let bin = Path::new(env!("CARGO_BIN_EXE_haurach")).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut bash = Command::new("bash");
        // Nothing of the test's own environment decides anything: only what is set here.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("HAURACH_") {
                bash.env_remove(name);
            }
        }
        bash.args(["-c", command])
            .current_dir(&self.work)
            .env("PATH", path)
            .env("HAURACH_HOME", &self.home)
            .env("HAURACH_SERVER", &self.server)
            .env("HAURACH_PASSWORD", PASSWORD)
            .stdin(Stdio::null());
        bash
    }

    /// Runs `command` to its end; what it printed, stdout then stderr. It must succeed.
    fn run(&self, command: &str) -> String {
        let started = Instant::now();
        let out = self.command(command).output().unwrap();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "`{command}` failed ({}):\n{printed}",
            out.status
        );
        assert!(
            started.elapsed() < WAIT,
            "`{command}` took {:?}",
            started.elapsed()
        );
        printed
    }

    /// Starts `command`, which runs until stopped.
    fn spawn(&self, command: &str) -> Running {
        let mut child = self
            .command(&format!("exec {command}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Running { child, lines }
    }
}

/// A command that runs until stopped (`haurach watch`), and what it printed so far.
struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn wait_for_first_line(&self, command: &str) {
        let until = Instant::now() + WAIT;
        while self.lines.lock().unwrap().is_empty() {
            assert!(Instant::now() < until, "`{command}` printed nothing");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_for(&self, expected: &str, values: &BTreeMap<String, String>) {
        let until = Instant::now() + WAIT;
        loop {
            let printed = self.lines.lock().unwrap().join("\n");
            if find(expected, &printed, values).is_some() {
                return;
            }
            assert!(
                Instant::now() < until,
                "watch printed no line like \"{expected}\":\n{printed}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ctrl-C, as a person ends it.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let until = Instant::now() + WAIT;
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > until {
                let _ = self.child.kill();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The lines of each ```` ```sh ```` block, a line continued with `\` joined to the next.
fn sh_blocks(markdown: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut block: Option<Vec<String>> = None;
    let mut pending = String::new();
    for line in markdown.lines() {
        match &mut block {
            None if line.trim_end() == "```sh" => block = Some(Vec::new()),
            None => {}
            Some(lines) if line.trim_end() == "```" => {
                blocks.push(std::mem::take(lines));
                block = None;
            }
            Some(lines) => {
                if let Some(start) = line.strip_suffix('\\') {
                    pending.push_str(start);
                } else {
                    pending.push_str(line);
                    lines.push(std::mem::take(&mut pending).trim().to_owned());
                }
            }
        }
    }
    blocks
}

/// A line's command and its comment (`#` outside quotes, after a space or at the start).
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => {
                return (line[..i].trim(), Some(&line[i + 1..]));
            }
            _ => {}
        }
        prev = c;
    }
    (line.trim(), None)
}

/// What a comment shows the command printing: quoted text right after the comment's
/// start, `: ` or `; `.
fn expected_output(comment: &str) -> Option<String> {
    let comment = comment.trim_start();
    let start = if comment.starts_with('"') {
        0
    } else {
        [": \"", "; \""]
            .iter()
            .filter_map(|p| comment.find(p).map(|i| i + 2))
            .min()?
    };
    let rest = &comment[start + 1..];
    let end = rest.find('"')?;
    Some(rest[..end].to_owned())
}

/// `text` with every known example value replaced by what the server made.
fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
    values
        .iter()
        .fold(text.to_owned(), |text, (example, value)| {
            text.replace(example, value)
        })
}

/// A line of `printed` like `expected` (`...`: anything; a known value: itself; an
/// example not yet known: a word, taken); the example values it took.
fn find(
    expected: &str,
    printed: &str,
    values: &BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    let expected = substitute(expected, values);
    let mut pattern = String::from("^.*?");
    let mut taken = Vec::new();
    let mut rest = expected.as_str();
    'outer: while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("...") {
            pattern.push_str(".*?");
            rest = after;
            continue;
        }
        for example in EXAMPLES {
            if let Some(after) = rest.strip_prefix(example) {
                pattern.push_str(r"(\S+?)");
                taken.push(example.to_string());
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap();
        pattern.push_str(&regex::escape(&c.to_string()));
        rest = &rest[c.len_utf8()..];
    }
    let re = regex::Regex::new(&pattern).unwrap();
    printed.lines().find_map(|line| {
        let caps = re.captures(line)?;
        Some(
            taken
                .iter()
                .enumerate()
                .map(|(i, example)| (example.clone(), caps[i + 1].to_owned()))
                .collect(),
        )
    })
}

#[test]
fn a_comment_shows_output_only_in_quotes_after_its_start_or_a_colon() {
    assert_eq!(
        expected_output(r#" "invite code: K7QF-3MZP (works until ...""#).as_deref(),
        Some("invite code: K7QF-3MZP (works until ...")
    );
    assert_eq!(
        expected_output(r#" read receipt; "parcel saved: ./box (1).png ...""#).as_deref(),
        Some("parcel saved: ./box (1).png ...")
    );
    assert_eq!(
        expected_output(r#" or: haurach meet --at 30.0,31.07 --name "the Needle""#),
        None
    );
    assert_eq!(
        split_comment(r#"haurach say "no # here" # "said""#),
        (r#"haurach say "no # here""#, Some(r#" "said""#))
    );
    let values = BTreeMap::new();
    let found = find(
        "sent 3f9a01c2 to spike: ...",
        "x\nsent 0a9bbd57 to spike: it is",
        &values,
    );
    assert_eq!(found.unwrap()["3f9a01c2"], "0a9bbd57");
    assert!(
        find(
            "sent 3f9a01c2 to spike",
            "sent 0a9bbd57 to twilight",
            &values
        )
        .is_none()
    );
}
