//! What every test needs: the real server binary on a port-0 listener (killed when
//! dropped), and the real CLI run as a subprocess with its own sessions home.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use haurach_testkit::PgCluster;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_haurach");

/// A command of the binary with none of the caller's `HAURACH_*` variables, so the
/// environment a test runs in cannot change what it tests.
pub fn haurach() -> Command {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("HAURACH_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// A running `haurach serve`, killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The data directory.
    pub data: PathBuf,
    /// Everything the server has logged (stderr) so far.
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// A server on a fresh data directory and a free port.
    pub fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut server = Server::start_on(&dir.path().join("data"), "127.0.0.1:0");
        server._dir = Some(dir);
        server
    }

    /// A server on a fresh data directory whose gate is in `gate` mode.
    pub fn start_gate(gate: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut server = Server::start_with(&data, "127.0.0.1:0", &[("HAURACH_GATE", gate)]);
        server._dir = Some(dir);
        server
    }

    /// A server whose city is in `pg`'s database, on a fresh data directory and a free
    /// port.
    pub fn start_postgres(pg: &PgCluster) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut server =
            Server::start_with(&data, "127.0.0.1:0", &[("HAURACH_DATABASE_URL", &pg.url())]);
        server._dir = Some(dir);
        server
    }

    /// A server on `data`, listening on `listen`. Returns once it has said where it
    /// listens: it is bound by then, so no test sleeps waiting for it. The gate is open:
    /// these tests register citizens freely.
    pub fn start_on(data: &Path, listen: &str) -> Server {
        Server::start_with(data, listen, &[])
    }

    /// [`Server::start_on`] with more `HAURACH_*` settings in the environment.
    pub fn start_with(data: &Path, listen: &str, env: &[(&str, &str)]) -> Server {
        let data_arg = data.to_string_lossy();
        Server::start_serving(
            &["serve", "--listen", listen, "--data", &data_arg],
            data,
            env,
        )
    }

    /// `haurach ARGS` (`serve` and its flags), its data directory `data`, with more
    /// `HAURACH_*` settings in the environment.
    pub fn start_serving(args: &[&str], data: &Path, env: &[(&str, &str)]) -> Server {
        let mut child = haurach()
            .args(args)
            .env("HAURACH_LOG", "warn")
            // The gate is open unless `env` says otherwise: tests register freely.
            .env("HAURACH_GATE", "open")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the haurach binary starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("listening on ") {
                        break url.trim().to_owned();
                    }
                }
                _ => {
                    let _ = child.kill();
                    let out = child.wait_with_output().unwrap();
                    panic!(
                        "the server did not start: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        };
        // Keep draining what the server prints, so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = kept.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = url.trim_start_matches("http://").to_owned();
        Server {
            child,
            url,
            addr,
            data: data.to_owned(),
            log,
            _dir: None,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL, as a crash would, and waits until it is gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Takes the data directory's owner away from this guard, so it outlives it.
    pub fn keep_data(&mut self) -> Option<tempfile::TempDir> {
        self._dir.take()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The CLI as people use it against one server: one sessions home, `--as NAME` to pick
/// who acts.
pub struct Cli {
    /// The sessions home.
    pub home: tempfile::TempDir,
    /// The server's URL.
    pub server: String,
}

impl Cli {
    /// A CLI with an empty home, talking to `server`.
    pub fn new(server: &Server) -> Cli {
        Cli {
            home: tempfile::tempdir().unwrap(),
            server: server.url.clone(),
        }
    }

    /// `haurach ARGS` against the server, with stdin closed.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = haurach();
        cmd.args(args)
            .env("HAURACH_HOME", self.home.path())
            .env("HAURACH_SERVER", &self.server)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `haurach ARGS` to the end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("the haurach binary runs")
    }

    /// Runs `haurach ARGS`, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "haurach {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `haurach ARGS`, which must fail; its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "haurach {args:?} should have failed:\nstdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(!stderr.contains("panicked"), "a panic: {stderr}");
        stderr
    }

    /// `haurach --as NAME ARGS`, which must succeed.
    pub fn ok_as(&self, name: &str, args: &[&str]) -> String {
        let mut all = vec!["--as", name];
        all.extend_from_slice(args);
        self.ok(&all)
    }

    /// Registers `name` (and logs in as them), the password piped on stdin.
    pub fn register(&self, name: &str, password: &str) -> String {
        let mut child = self
            .cmd(&["register", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "register {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Registers spike and amethyst and bonds them with `profile`; amethyst acts by
    /// default afterwards (she logged in last).
    pub fn bonded_pair(&self, profile: &str) {
        self.register("spike", "east-about-20-km");
        self.register("amethyst", "reaching-west-too");
        let code = invite_code(&self.ok_as("spike", &["invite"]));
        let out = self.ok_as("amethyst", &["accept", &code, "--profile", profile]);
        assert!(
            out.contains(&format!("bonded with spike ({profile} profile)")),
            "{out}"
        );
    }

    /// Starts `haurach ARGS` in the background, its stdout read line by line.
    pub fn spawn(&self, args: &[&str]) -> Running {
        Cli::spawn_command(self.cmd(args))
    }

    /// [`Cli::spawn`] of a command made with [`Cli::cmd`] and changed (more settings).
    pub fn spawn_command(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = child.stderr.take().unwrap();
        let err = std::thread::spawn(move || {
            BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
                .join("\n")
        });
        Running {
            child,
            lines: rx,
            seen: Vec::new(),
            stderr: Some(err),
        }
    }
}

/// The code in `haurach invite`'s output.
pub fn invite_code(out: &str) -> String {
    out.split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("no code in {out:?}"))
        .to_owned()
}

/// A CLI process running in the background (killed when dropped).
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every line read so far.
    pub seen: Vec<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Running {
    /// Reads lines until one contains `needle` (panics after `within`).
    pub fn expect(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?} in {within:?}; saw {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// Waits for the process to end; whether it succeeded, every stdout line, and its
    /// stderr.
    pub fn finish(mut self) -> (bool, Vec<String>, String) {
        let status = self.child.wait().unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        let stderr = self.stderr.take().unwrap().join().unwrap();
        (status.success(), std::mem::take(&mut self.seen), stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines of `watch` output that are messages ("#3 14:20 ..."), without the clock.
pub fn message_lines(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let seq = parts.next().unwrap();
            let _clock = parts.next();
            format!("{seq} {}", parts.next().unwrap_or(""))
        })
        .collect()
}

/// A TCP proxy in front of a server that loses the answer to the first request: it
/// passes the request on, waits until the server has answered (so the request has been
/// handled), then cuts the client off without relaying the answer. Later connections
/// pass through untouched. The client sees a network error for a request that was
/// stored: the case a retry with the same id exists for.
pub struct LosingProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl LosingProxy {
    /// A proxy in front of `addr` (`127.0.0.1:PORT`). Its threads end with the test
    /// process; each copies until either side closes.
    pub fn start(addr: &str) -> LosingProxy {
        use std::net::{Shutdown, TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let addr = addr.to_owned();
        std::thread::spawn(move || {
            for (idx, client) in listener.incoming().enumerate() {
                let Ok(mut client) = client else { return };
                let Ok(mut upstream) = TcpStream::connect(&addr) else {
                    return;
                };
                let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut u2);
                    let _ = u2.shutdown(Shutdown::Write);
                });
                if idx == 0 {
                    // Wait for the first byte of the answer, then hang up on the client.
                    let mut byte = [0u8; 1];
                    let _ = std::io::Read::read(&mut upstream, &mut byte);
                    let _ = client.shutdown(Shutdown::Both);
                    let _ = upstream.shutdown(Shutdown::Both);
                } else {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut upstream, &mut client);
                        let _ = client.shutdown(Shutdown::Write);
                    });
                }
            }
        });
        LosingProxy { url }
    }
}

/// A load balancer in front of several servers, as a deployment has: each connection goes
/// to the first server that takes it, so when one dies, clients reconnecting through the
/// balancer reach the next. Its threads end with the test process.
pub struct Balancer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Balancer {
    /// A balancer over `addrs` (`127.0.0.1:PORT` each), in order of preference.
    pub fn start(addrs: &[&str]) -> Balancer {
        use std::net::{Shutdown, TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let addrs: Vec<String> = addrs.iter().map(|a| (*a).to_owned()).collect();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Some(upstream) = addrs.iter().find_map(|a| TcpStream::connect(a).ok()) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = upstream.set_nodelay(true);
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                    (upstream, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Write);
                        let _ = from.shutdown(Shutdown::Read);
                    });
                }
            }
        });
        Balancer { url }
    }
}
