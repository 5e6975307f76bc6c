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

/// Whether `taskset` can pin processes here (two cores or more).
pub fn can_pin() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
        && Command::new("taskset")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
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
    Ok(Server { addr, child })
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
    Ok(Server { addr, child })
}

impl Server {
    /// The process to measure: the shell `exec`s, so the child's pid is the server's.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// What one column of the table runs against: one server, or two Haurach nodes.
pub struct Deployment {
    /// The server processes measured (one, or two nodes).
    pub nodes: Vec<Server>,
}

impl Deployment {
    /// One server.
    pub fn one(server: Server) -> Deployment {
        Deployment {
            nodes: vec![server],
        }
    }

    /// Where each member of a pair connects: the first node, and the last.
    pub fn addrs(&self) -> [SocketAddr; 2] {
        [self.nodes[0].addr, self.nodes[self.nodes.len() - 1].addr]
    }

    /// CPU seconds of every node together.
    pub fn cpu_seconds(&self) -> f64 {
        self.nodes.iter().map(|n| cpu_seconds(n.pid())).sum()
    }

    /// Resident memory of every node together, bytes.
    pub fn rss_bytes(&self) -> u64 {
        self.nodes.iter().map(|n| rss_bytes(n.pid())).sum()
    }
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
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    (ticks(11) + ticks(12)) / 100.0
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
