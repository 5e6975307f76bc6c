//! The servers under test, each a separate process pinned to core 0 (when the machine has
//! two or more cores and `taskset` exists), measured the same way from `/proc`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// A server process the benchmark started; killed when dropped.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `taskset` can pin processes here (two cores or more). Decided once, at the
/// first call: the benchmark then pins itself to core 1, after which the cores it may
/// use (what `available_parallelism` counts) are one, and every later answer would be
/// "no" (every server ran unpinned beside the load generator until 2026-12-06).
pub fn can_pin() -> bool {
    static CAN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CAN.get_or_init(|| {
        std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
            && Command::new("taskset")
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    })
}

/// A shell command line that raises the open-file limit to the hard limit and runs
/// `program` on core 0 when pinning is possible.
fn pinned(program: &str, args: &[String]) -> Command {
    let quoted: Vec<String> = std::iter::once(program.to_owned())
        .chain(args.iter().cloned())
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let pin = if can_pin() { "taskset -c 0 " } else { "" };
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!(
        "ulimit -n $(ulimit -Hn); exec {pin}{}",
        quoted.join(" ")
    ));
    cmd
}

/// Starts `haurach serve` (this very binary) on `data`, on a free loopback port, with
/// more `HAURACH_*` settings in `env`.
pub fn start_haurach(data: &Path, env: &[(&str, String)]) -> anyhow::Result<Server> {
    let exe = std::env::current_exe().context("cannot find the haurach binary")?;
    let args = vec![
        "serve".to_owned(),
        "--listen".to_owned(),
        "127.0.0.1:0".to_owned(),
        "--data".to_owned(),
        data.display().to_string(),
    ];
    let mut child = pinned(&exe.display().to_string(), &args)
        .env("HAURACH_LOG", "warn")
        // The bench holds every link of a phase open at once.
        .env("HAURACH_MAX_LINKS", "40000")
        // Idle links in the memory phase send nothing for a while.
        .env("HAURACH_CONTACT_TIMEOUT_S", "3600")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start haurach serve")?;
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .with_context(|| format!("haurach serve said {line:?}"))?
        .parse()?;
    let server = Server { addr, child };
    server.check_pinned()?;
    Ok(server)
}

/// Starts Mosquitto with persistence off on a free loopback port.
pub fn start_mosquitto(dir: &Path) -> anyhow::Result<Server> {
    let binary = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(binary) = binary else {
        bail!(
            "mosquitto is not installed: install it with `apt-get install mosquitto` \
             (scripts/test does) and run again"
        );
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
             max_connections -1\nmax_queued_messages 1000\nlog_dest none\n"
        ),
    )?;
    let child = pinned(binary, &["-c".to_owned(), conf.display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start mosquitto")?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            bail!("mosquitto did not start listening on {addr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let server = Server { addr, child };
    server.check_pinned()?;
    Ok(server)
}

impl Server {
    /// When pinning is possible, that the server really runs on core 0 alone: a server
    /// left beside the load generator measures their contention, not the server.
    fn check_pinned(&self) -> anyhow::Result<()> {
        if !can_pin() {
            return Ok(());
        }
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let allowed = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .map(str::trim)
            .unwrap_or_default();
        if allowed != "0" {
            bail!(
                "the server (pid {}) may run on cores {allowed:?}, not core 0 alone",
                self.pid()
            );
        }
        Ok(())
    }

    /// The process to measure: the shell `exec`s, so the child's pid is the server's.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// What one column of the table runs against: one server, or several Haurach nodes with
/// what they need beside them.
pub struct Deployment {
    /// The server processes measured (one, or several nodes).
    pub nodes: Vec<Server>,
    /// The processes the nodes need (PostgreSQL's postmaster, NATS): their CPU, and their
    /// children's, counts with the nodes' in [`Deployment::all_cpu_seconds`].
    pub beside: Vec<u32>,
    /// NATS's monitoring address, when the nodes talk over NATS.
    pub nats_monitor: Option<SocketAddr>,
}

impl Deployment {
    /// One server.
    pub fn one(server: Server) -> Deployment {
        Deployment {
            nodes: vec![server],
            beside: Vec::new(),
            nats_monitor: None,
        }
    }

    /// Where the clients connect, in turn (see [`crate::load::Load::connect`]).
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.addr).collect()
    }

    /// CPU seconds of every node together.
    pub fn cpu_seconds(&self) -> f64 {
        self.nodes.iter().map(|n| cpu_seconds(n.pid())).sum()
    }

    /// Of [`Deployment::cpu_seconds`], the seconds spent in the kernel (system calls, and
    /// on loopback the delivery of what a node sends into the receiver's socket).
    pub fn kernel_seconds(&self) -> f64 {
        self.nodes
            .iter()
            .map(|n| stat_fields(n.pid()).map_or(0.0, |f| field_seconds(&f, 12)))
            .sum()
    }

    /// CPU seconds of every process serving the city: the nodes, and PostgreSQL (every
    /// session process) and NATS beside them. The figure that does not depend on how many
    /// cores the machine has.
    pub fn all_cpu_seconds(&self) -> f64 {
        self.cpu_seconds()
            + self
                .beside
                .iter()
                .map(|p| tree_cpu_seconds(*p))
                .sum::<f64>()
    }

    /// Resident memory of every node together, bytes.
    pub fn rss_bytes(&self) -> u64 {
        self.nodes.iter().map(|n| rss_bytes(n.pid())).sum()
    }

    /// Messages the NATS server has sent to the nodes' connections so far (what the nodes
    /// received), from its monitoring endpoint; `None` without NATS.
    pub fn nats_sent_to_nodes(&self) -> Option<u64> {
        let connz = http_get_json(self.nats_monitor?, "/connz?limit=1024").ok()?;
        Some(
            connz["connections"]
                .as_array()?
                .iter()
                .filter(|c| c["name"] == "haurach")
                .filter_map(|c| c["out_msgs"].as_u64())
                .sum(),
        )
    }
}

/// A GET over plain HTTP/1.0, the body read as JSON (for NATS's monitoring endpoint).
fn http_get_json(addr: SocketAddr, path: &str) -> anyhow::Result<serde_json::Value> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .context("no HTTP body")?;
    Ok(serde_json::from_str(body)?)
}

/// CPU seconds of a process and all its descendants, living (read from `/proc`) and
/// ended (its `cutime` and `cstime`).
pub fn tree_cpu_seconds(pid: u32) -> f64 {
    let own = cpu_seconds(pid)
        + stat_fields(pid).map_or(0.0, |f| field_seconds(&f, 13) + field_seconds(&f, 14));
    let children: f64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            stat_fields(*child)
                .is_some_and(|f| f.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid))
        })
        .map(tree_cpu_seconds)
        .sum();
    own + children
}

/// The fields of `/proc/PID/stat` after the command name (which may hold spaces): the
/// state is field 0, the parent 1, utime 11, stime 12, cutime 13, cstime 14.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = stat.rsplit_once(')')?;
    Some(after.split_whitespace().map(str::to_owned).collect())
}

/// A field of [`stat_fields`] counted in clock ticks, in seconds.
fn field_seconds(fields: &[String], i: usize) -> f64 {
    fields
        .get(i)
        .and_then(|f| f.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 100.0
}

/// Pins a running process (all its threads) to core 0, beside the servers, when pinning
/// is possible: for PostgreSQL and NATS, which the multi-node comparison starts.
pub fn pin_to_server_core(pid: u32) {
    if can_pin() {
        let _ = Command::new("taskset")
            .args(["-a", "-cp", "0", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// CPU time (user + system) of a process, seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    stat_fields(pid).map_or(0.0, |f| field_seconds(&f, 11) + field_seconds(&f, 12))
}

/// Resident memory of a process, bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Waits until the machine is quiet (under 8 % busy over a second), at most `max`.
pub fn wait_quiet(max: Duration) {
    let read = || -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        let idle = cpu.get(3)? + cpu.get(4).unwrap_or(&0);
        Some((cpu.iter().sum(), idle))
    };
    let deadline = Instant::now() + max;
    while Instant::now() < deadline {
        let Some((t0, i0)) = read() else { return };
        std::thread::sleep(Duration::from_secs(1));
        let Some((t1, i1)) = read() else { return };
        let busy = 1.0 - (i1 - i0) as f64 / (t1 - t0).max(1) as f64;
        if busy < 0.08 {
            return;
        }
    }
}
