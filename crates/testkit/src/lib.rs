//! Real servers for tests: a throwaway PostgreSQL cluster and a NATS server, each on a free
//! loopback port, each stopped when dropped.
//!
//! Both come from Debian's packages (`postgresql`, `nats-server`), which `scripts/test`
//! installs. A test that needs one calls [`PgCluster::start`] or [`NatsServer::start`] and
//! passes the result to [`or_skip`]: when the programs are missing, the test is skipped
//! with a message saying what to install, unless `HAURACH_REQUIRE_SERVERS` is set (as
//! `scripts/test` sets it), in which case it fails.

use std::fmt;
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server program the tests need is not installed.
#[derive(Debug, Clone)]
pub struct Missing(pub String);

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The server, or `None` (after saying why on stderr) when it is not installed and the run
/// does not require it.
///
/// # Panics
/// When the server is missing and `HAURACH_REQUIRE_SERVERS` is set.
pub fn or_skip<T>(server: Result<T, Missing>) -> Option<T> {
    match server {
        Ok(server) => Some(server),
        Err(Missing(why)) if std::env::var_os("HAURACH_REQUIRE_SERVERS").is_some() => {
            panic!("{why} (HAURACH_REQUIRE_SERVERS is set, so this test cannot be skipped)")
        }
        Err(Missing(why)) => {
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a loopback port")
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening on port {port}: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not listen on port {port} within 30 s");
}

/// Where Debian keeps PostgreSQL's server programs: the newest
/// `/usr/lib/postgresql/N/bin` (they are not on `PATH`).
fn postgres_bin() -> Result<PathBuf, Missing> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        Missing(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl): \
             apt-get install postgresql, or run scripts/test, which does"
                .into(),
        )
    })
}

fn is_root() -> bool {
    // initdb refuses to run as root; then the cluster runs as the `postgres` user.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL program, as `postgres` when we are root.
fn pg_command(bin: &Path, program: &str, as_postgres: bool) -> Command {
    if as_postgres {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(bin.join(program));
        cmd
    } else {
        Command::new(bin.join(program))
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn chown_to_postgres(path: &Path) {
    run(
        {
            let mut c = Command::new("chown");
            c.args(["-R", "postgres:postgres"]).arg(path);
            c
        },
        "chown to postgres",
    );
}

/// A throwaway PostgreSQL cluster in a temporary directory, listening on a free loopback
/// port with trust authentication for the `postgres` user. Stopped (immediately: it is
/// throwaway) and deleted when dropped.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    port: u16,
}

impl PgCluster {
    /// Starts a cluster. The first call on a machine runs `initdb` once into
    /// `target/tmp/pg-template` (under a lock); every cluster starts from a copy of it.
    pub fn start() -> Result<PgCluster, Missing> {
        let bin = postgres_bin()?;
        let as_postgres = is_root();
        let template = template(&bin, as_postgres);
        let dir = tempfile::Builder::new()
            .prefix("haurach-pg-")
            .tempdir()
            .expect("temporary directory");
        let data = dir.path().join("data");
        run(
            {
                let mut c = Command::new("cp");
                c.arg("-a").arg(&template).arg(&data);
                c
            },
            "copy the cluster template",
        );
        if as_postgres {
            chown_to_postgres(dir.path());
        }
        let cluster = PgCluster {
            dir,
            bin,
            as_postgres,
            port: free_port(),
        };
        cluster.resume();
        Ok(cluster)
    }

    /// Stops the server (a fast shutdown: sessions are cut off), keeping its data, to
    /// test what the nodes do while the database is down.
    pub fn pause(&self) {
        run(
            {
                let mut c = pg_command(&self.bin, "pg_ctl", self.as_postgres);
                c.arg("-D")
                    .arg(self.dir.path().join("data"))
                    .args(["-m", "fast", "-w", "stop"]);
                c
            },
            "pg_ctl stop",
        );
    }

    /// Starts the server (again), on the same port and data.
    pub fn resume(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} \
             -c max_connections=200 -c shared_buffers=32MB",
            self.port,
            self.dir.path().display()
        );
        run(
            {
                let mut c = pg_command(&self.bin, "pg_ctl", self.as_postgres);
                c.arg("-D")
                    .arg(self.dir.path().join("data"))
                    .args(["-o", &options, "-l"])
                    .arg(self.dir.path().join("postgres.log"))
                    .args(["-w", "-t", "60", "start"]);
                c
            },
            "pg_ctl start",
        );
    }

    /// The URL of the cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Its data directory (the tables and the WAL), for a test that searches what the
    /// database holds on disk.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The postmaster's process id (sessions are its children), when running.
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.path().join("data/postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = pg_command(&self.bin, "pg_ctl", self.as_postgres)
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The initialised cluster every test copies, made once per machine.
fn template(bin: &Path, as_postgres: bool) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp");
    std::fs::create_dir_all(&root).expect("create target/tmp");
    let template = root.join("pg-template");
    let lock = File::create(root.join("pg-template.lock")).expect("template lock file");
    lock.lock().expect("lock the template");
    if !template.join("PG_VERSION").exists() {
        // initdb runs in a fresh temporary directory the postgres user owns; the result
        // is copied into place.
        let _ = std::fs::remove_dir_all(&template);
        let scratch = tempfile::Builder::new()
            .prefix("haurach-initdb-")
            .tempdir()
            .expect("temporary directory");
        if as_postgres {
            chown_to_postgres(scratch.path());
        }
        let data = scratch.path().join("data");
        run(
            {
                let mut c = pg_command(bin, "initdb", as_postgres);
                c.arg("-D").arg(&data).args([
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]);
                c
            },
            "initdb",
        );
        run(
            {
                let mut c = Command::new("cp");
                c.arg("-a").arg(&data).arg(&template);
                c
            },
            "keep the cluster template",
        );
    }
    template
}

/// Debian's `nats-server` on a free loopback port, killed when dropped.
pub struct NatsServer {
    child: Child,
    program: PathBuf,
    port: u16,
    monitor_port: u16,
}

impl NatsServer {
    /// Starts one.
    pub fn start() -> Result<NatsServer, Missing> {
        let program = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .ok_or_else(|| {
                Missing(
                    "nats-server is not installed: apt-get install nats-server, \
                     or run scripts/test, which does"
                        .into(),
                )
            })?;
        let (port, monitor_port) = (free_port(), free_port());
        let child = spawn_nats(&program, port, monitor_port);
        Ok(NatsServer {
            child,
            program,
            port,
            monitor_port,
        })
    }

    /// Kills the server, to test what the nodes do without it.
    pub fn pause(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port.
    pub fn resume(&mut self) {
        self.child = spawn_nats(&self.program, self.port, self.monitor_port);
    }

    /// Its HTTP monitoring endpoint (`/connz`, `/varz`, `/subsz`), for what each
    /// connection subscribes to and how many messages it was sent.
    pub fn monitor_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.monitor_port)
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn spawn_nats(program: &Path, port: u16, monitor_port: u16) -> Child {
    let mut child = Command::new(program)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .args(["-m", &monitor_port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn nats-server");
    wait_for_port(port, &mut child, "nats-server");
    child
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
