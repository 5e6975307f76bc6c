//! `haurach bench`: the live workload (pairs of partners sending positions, each update
//! forwarded to the partner) against a Haurach server this command starts, and with
//! `--compare mosquitto` the same workload against Mosquitto, the broker a person would
//! use with the OwnTracks app instead. Every phase starts a fresh server process pinned to
//! core 0; the load generator runs pinned to core 1. See docs/benchmarks.md.
#![deny(missing_docs)]

mod curve;
mod load;
mod push;
mod seed;
mod target;
mod wire;

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use load::{Load, Proto, Step};
use target::{Deployment, cpu_seconds};

/// A phase of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Phase {
    /// P pairs at 1 Hz: delivered updates/s, latency, server CPU and memory.
    Steady,
    /// 100 pairs, the rate stepped up until p99 passes 50 ms or updates are lost.
    Saturation,
    /// Voice messages acknowledged only after commit: messages/s and ack latency.
    Voice,
    /// Memory per connected, idle client.
    Idle,
    /// Web Push: from an event (a letter) to its push request at a local push service,
    /// and the server's CPU per push. Not run unless named.
    Push,
}

/// What to compare with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Compare {
    /// Debian's mosquitto, persistence off, OwnTracks topics.
    Mosquitto,
    /// The cost of several nodes: one node on SQLite, one node on PostgreSQL, and two
    /// and four nodes on PostgreSQL + NATS with each pair's members on different nodes (a
    /// throwaway PostgreSQL cluster and NATS server are started, pinned beside the nodes).
    Nodes,
}

/// One column of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    /// One Haurach node on SQLite.
    Haurach,
    /// Mosquitto.
    Mosquitto,
    /// One Haurach node on PostgreSQL.
    Postgres,
    /// Two Haurach nodes on PostgreSQL and NATS.
    TwoNodes,
    /// Four Haurach nodes on PostgreSQL and NATS.
    FourNodes,
}

impl Setup {
    fn name(self) -> &'static str {
        match self {
            Setup::Haurach => "haurach",
            Setup::Mosquitto => "mosquitto",
            Setup::Postgres => "postgres",
            Setup::TwoNodes => "2 nodes+nats",
            Setup::FourNodes => "4 nodes+nats",
        }
    }

    fn proto(self) -> Proto {
        if self == Setup::Mosquitto {
            Proto::Mqtt
        } else {
            Proto::Haurach
        }
    }
}

/// `haurach bench`.
#[derive(Debug, Args)]
#[command(after_long_help = "Examples:\n  \
    haurach bench                                  # all phases, Haurach only\n  \
    haurach bench --compare mosquitto              # side by side, ends with the ratio line\n  \
    haurach bench --compare nodes --phases steady,voice  # SQLite, PostgreSQL, 2 and 4 nodes + NATS\n  \
    haurach bench --pairs 9900 --phases steady     # the 10k-pairs run this machine allows\n  \
    haurach bench --curve --svg curve.svg          # steady at 100 to 9,900 pairs, beside Mosquitto\n\n\
    The open-file limit is raised to its hard limit; where that is 20,000 (as here) a \
    server holding two sockets per pair tops out just under 10,000 pairs: the bench says \
    so and uses what fits.")]
pub struct BenchArgs {
    /// Pairs in the steady phase (each pair is two connections).
    #[arg(long, default_value_t = 1000)]
    pub pairs: usize,
    /// Seconds each measured window lasts (each saturation step lasts half of it).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Phases to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Phase::Steady, Phase::Saturation, Phase::Voice, Phase::Idle])]
    pub phases: Vec<Phase>,
    /// Run the steady, saturation and idle phases against this too, in the same run.
    #[arg(long, value_enum)]
    pub compare: Option<Compare>,
    /// Pairs in the saturation phase.
    #[arg(long, default_value_t = 100)]
    pub saturation_pairs: usize,
    /// Pairs in the voice phase.
    #[arg(long, default_value_t = 100)]
    pub voice_pairs: usize,
    /// Idle connections in the idle phase.
    #[arg(long, default_value_t = 19_800)]
    pub idle_connections: usize,
    /// Events (letters, each pushed to one device) in the push phase.
    #[arg(long, default_value_t = 1000)]
    pub push_events: usize,
    /// Before each phase, wait at most this many seconds for the machine to be quiet
    /// (under 8 % busy over a second); 0 starts at once.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub quiet_wait: f64,
    /// Instead of the phases: the steady phase at each of `--curve-pairs`, against Haurach
    /// and Mosquitto, printed as a table and drawn (latency and CPU per update against
    /// connections) into `--svg`.
    #[arg(long)]
    pub curve: bool,
    /// The numbers of pairs the curve is measured at.
    #[arg(long, value_delimiter = ',', default_values_t = [100, 300, 1_000, 3_000, 9_900])]
    pub curve_pairs: Vec<usize>,
    /// Where `--curve` writes its SVG.
    #[arg(long, default_value = "bench-curve.svg", value_name = "FILE")]
    pub svg: std::path::PathBuf,
    /// Write the steady phase's updates slower than 4 ms into this directory, one CSV
    /// per server (`stalls-NAME.csv`: when each arrived, in milliseconds from the
    /// window's start, and its latency in milliseconds), to read stalls against the
    /// server's timers.
    #[arg(long, value_name = "DIR")]
    pub stalls: Option<std::path::PathBuf>,
}

/// Per-client rates the saturation phase steps through, Hz.
/// Steps of 50 Hz from 100 on (10,000 updates/s at 100 pairs): a coarser step near the
/// top left both servers at the same figure with nothing to tell them apart.
const SATURATION_HZ: [f64; 15] = [
    25.0, 50.0, 100.0, 150.0, 200.0, 250.0, 300.0, 350.0, 400.0, 450.0, 500.0, 550.0, 600.0, 700.0,
    800.0,
];

/// One server's results.
#[derive(Debug, Default, Clone)]
struct Results {
    steady: Option<SteadyResult>,
    sustainable: Option<(f64, f64, usize)>,
    /// The first saturation step that failed, if one did.
    failed: Option<Failed>,
    voice: Option<(f64, f64, u64)>,
    /// CPU milliseconds of every process serving the city per acknowledged message.
    voice_cpu_ms: Option<f64>,
    idle_bytes_per_conn: Option<(f64, usize)>,
    push: Option<push::PushResult>,
}

/// The saturation step that did not hold, and who was busy in it: if the load
/// generator's core was full and the server's was not, the generator was the limit and
/// the step says nothing of the server.
#[derive(Debug, Clone, Copy)]
struct Failed {
    offered: f64,
    p99: f64,
    /// The servers' CPU (every node, or the one process) in percent of one core.
    server_cpu: f64,
    generator_cpu: f64,
}

impl Failed {
    /// The generator, with its core near full, could not send or read faster.
    fn generator_bound(&self) -> bool {
        self.generator_cpu >= 90.0 && self.server_cpu < 90.0
    }
}

#[derive(Debug, Clone)]
struct SteadyResult {
    pairs: usize,
    rate: f64,
    lost: u64,
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
    server_cpu: f64,
    /// The servers' own CPU microseconds per delivered update: (in user space, in the
    /// kernel). The kernel's share is mostly the sockets, which cost any server the same;
    /// the user share is the server's own work.
    server_us_per_update: (f64, f64),
    /// CPU microseconds of every process serving the city (nodes, PostgreSQL, NATS) per
    /// delivered update.
    cpu_us_per_update: f64,
    /// Messages NATS sent each node per delivered update, when there is NATS.
    nats_per_node_per_update: Option<f64>,
    server_rss: u64,
    generator_cpu: f64,
    /// The updates slower than 4 ms: when each arrived (ms from the window's start) and
    /// its latency (µs).
    slow: Vec<(f64, u64)>,
    /// When the window started (`Step::started`).
    started: String,
}

impl SteadyResult {
    /// Writes the slow updates into `dir` as `stalls-NAME.csv`, when `dir` is given.
    fn written(self, dir: Option<&std::path::Path>, name: &str) -> anyhow::Result<SteadyResult> {
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir)?;
            let mut csv = format!(
                "# window started {}\nreceived_ms,latency_ms\n",
                self.started
            );
            for (at, micros) in &self.slow {
                csv.push_str(&format!("{at:.1},{:.3}\n", *micros as f64 / 1e3));
            }
            std::fs::write(dir.join(format!("stalls-{name}.csv")), csv)?;
        }
        Ok(self)
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>28} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_owned());
    pb
}

fn spinner(what: String) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_message(what);
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Runs the benchmark and prints the table (and, with `--compare`, the ratio line).
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.seconds > 0.0 && args.seconds <= 600.0,
        "--seconds must be in (0, 600]"
    );
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    // Each connection costs the generator one descriptor; keep a margin for the rest.
    let max_conns = limit.saturating_sub(200) as usize;
    let mut pairs = args.pairs;
    if pairs * 2 > max_conns {
        pairs = max_conns / 2;
        eprintln!(
            "note: the open-file limit is {limit}, so the steady phase runs {pairs} pairs instead of {}",
            args.pairs
        );
    }
    let idle = args.idle_connections.min(max_conns) & !1;
    if idle < args.idle_connections {
        eprintln!(
            "note: the open-file limit is {limit}, so the idle phase holds {idle} connections"
        );
    }
    let pinned = target::can_pin();
    if pinned {
        let me = std::process::id().to_string();
        let _ = std::process::Command::new("taskset")
            .args(["-a", "-cp", "1", &me])
            .stdout(std::process::Stdio::null())
            .status();
    } else {
        eprintln!("note: one core or no taskset: server and load generator share the CPU");
    }

    let curve_pairs: Vec<usize> = {
        let mut at: Vec<usize> = args
            .curve_pairs
            .iter()
            .map(|p| (*p).clamp(1, max_conns / 2))
            .collect();
        at.sort_unstable();
        at.dedup();
        at
    };
    let need = [
        if args.curve {
            curve_pairs.last().copied().unwrap_or(0)
        } else {
            0
        },
        if args.phases.contains(&Phase::Steady) && !args.curve {
            pairs
        } else {
            0
        },
        if args.phases.contains(&Phase::Saturation) && !args.curve {
            args.saturation_pairs
        } else {
            0
        },
        if args.phases.contains(&Phase::Voice) && !args.curve {
            args.voice_pairs
        } else {
            0
        },
        if args.phases.contains(&Phase::Idle) && !args.curve {
            idle / 2
        } else {
            0
        },
        usize::from(args.phases.contains(&Phase::Push) && !args.curve),
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let dir = tempfile::tempdir()?;
    let seeding = bar(need as u64, "bonding pairs");
    let tokens: Vec<[String; 2]> = seed::pairs(dir.path(), need, &seeding)
        .await?
        .into_iter()
        .map(|p| p.tokens)
        .collect();
    seeding.finish_and_clear();
    if args.curve {
        return run_curve(&args, dir.path(), &tokens, &curve_pairs).await;
    }

    let setups: &[Setup] = match args.compare {
        None => &[Setup::Haurach],
        Some(Compare::Mosquitto) => &[Setup::Haurach, Setup::Mosquitto],
        Some(Compare::Nodes) => &[
            Setup::Haurach,
            Setup::Postgres,
            Setup::TwoNodes,
            Setup::FourNodes,
        ],
    };
    // The multi-node comparison needs a PostgreSQL cluster (seeded like the SQLite
    // directory, with the same accounts) and a NATS server.
    let (pg, nats, pg_tokens) = if args.compare == Some(Compare::Nodes) {
        let pg = haurach_testkit::PgCluster::start().map_err(anyhow::Error::msg)?;
        let nats = haurach_testkit::NatsServer::start().map_err(anyhow::Error::msg)?;
        if let Some(pid) = pg.pid() {
            target::pin_to_server_core(pid);
        }
        target::pin_to_server_core(nats.pid());
        let seeding = bar(need as u64, "bonding pairs in PostgreSQL");
        let tokens: Vec<[String; 2]> = seed::pairs_in_postgres(&pg.url(), need, &seeding)
            .await?
            .into_iter()
            .map(|p| p.tokens)
            .collect();
        seeding.finish_and_clear();
        (Some(pg), Some(nats), tokens)
    } else {
        (None, None, Vec::new())
    };

    let mut results: Vec<Results> = setups.iter().map(|_| Results::default()).collect();
    for phase in &args.phases {
        for (setup, results) in setups.iter().zip(results.iter_mut()) {
            // Mosquitto stores nothing; idle memory of several nodes says nothing new.
            let skip = match phase {
                Phase::Voice | Phase::Push => *setup == Setup::Mosquitto,
                Phase::Idle => {
                    matches!(setup, Setup::Postgres | Setup::TwoNodes | Setup::FourNodes)
                }
                _ => false,
            };
            if skip {
                continue;
            }
            target::wait_quiet(Duration::from_secs_f64(args.quiet_wait.clamp(0.0, 600.0)));
            let phase_env: &[(&str, String)] = if *phase == Phase::Push {
                &push::server_env()
            } else {
                &[]
            };
            let with = |env: &[(&'static str, String)]| -> Vec<(&str, String)> {
                env.iter().chain(phase_env).cloned().collect()
            };
            let (deployment, tokens) = match setup {
                Setup::Haurach => (
                    Deployment::one(target::start_haurach(dir.path(), phase_env)?),
                    &tokens,
                ),
                Setup::Mosquitto => (
                    Deployment::one(target::start_mosquitto(dir.path())?),
                    &tokens,
                ),
                Setup::Postgres => {
                    let pg = pg.as_ref().expect("started");
                    let env = with(&[("HAURACH_DATABASE_URL", pg.url())]);
                    let mut deployment = Deployment::one(target::start_haurach(dir.path(), &env)?);
                    deployment.beside.extend(pg.pid());
                    (deployment, &pg_tokens)
                }
                Setup::TwoNodes | Setup::FourNodes => {
                    let (pg, nats) = (
                        pg.as_ref().expect("started"),
                        nats.as_ref().expect("started"),
                    );
                    let env = with(&[
                        ("HAURACH_DATABASE_URL", pg.url()),
                        ("HAURACH_NATS_URL", nats.url()),
                    ]);
                    let n = if *setup == Setup::TwoNodes { 2 } else { 4 };
                    let nodes = (0..n)
                        .map(|_| target::start_haurach(dir.path(), &env))
                        .collect::<anyhow::Result<_>>()?;
                    let monitor = nats.monitor_url();
                    let deployment = Deployment {
                        nodes,
                        beside: pg.pid().into_iter().chain([nats.pid()]).collect(),
                        nats_monitor: monitor.trim_start_matches("http://").parse().ok(),
                    };
                    (deployment, &pg_tokens)
                }
            };
            let (proto, name) = (setup.proto(), setup.name());
            match phase {
                Phase::Steady => {
                    results.steady = Some(
                        steady(&deployment, proto, &tokens[..pairs], args.seconds, name)
                            .await?
                            .written(args.stalls.as_deref(), name)?,
                    )
                }
                Phase::Saturation => {
                    let (held, failed) = saturation(
                        &deployment,
                        proto,
                        &tokens[..args.saturation_pairs],
                        args.seconds / 2.0,
                        name,
                    )
                    .await?;
                    results.sustainable = Some(held);
                    results.failed = failed;
                }
                Phase::Voice => {
                    let (result, cpu_ms) =
                        voice(&deployment, &tokens[..args.voice_pairs], args.seconds, name).await?;
                    results.voice = Some(result);
                    results.voice_cpu_ms = Some(cpu_ms);
                }
                Phase::Idle => {
                    results.idle_bytes_per_conn =
                        Some(idle_memory(&deployment, proto, &tokens[..idle / 2], name).await?)
                }
                Phase::Push => {
                    let pb = spinner(format!("{name}: {} letters, each pushed", args.push_events));
                    // The seeded pair 0 is a0 and b0 (seed.rs).
                    let [a0, b0] = &tokens[0];
                    results.push =
                        Some(push::run(&deployment, a0, (b0, "b0"), args.push_events).await?);
                    pb.finish_and_clear();
                }
            }
        }
    }
    let columns: Vec<(&str, &Results)> = setups
        .iter()
        .map(|s| s.name())
        .zip(results.iter())
        .collect();
    print!("{}", table(&columns, pinned));
    let mosquitto = args.compare == Some(Compare::Mosquitto);
    let (haurach, other) = (&results[0], results.get(1).cloned().unwrap_or_default());
    for (name, r) in &columns {
        if let Some(f) = r.failed.filter(Failed::generator_bound) {
            eprintln!(
                "note: at {name}'s first failing step ({:.0} offered/s) the load generator's \
                 core was full ({:.0} %) and the server's was not ({:.0} %): the generator, \
                 not the server, set its throughput figure",
                f.offered, f.generator_cpu, f.server_cpu
            );
        }
    }
    if mosquitto {
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
            _ => "n/a".to_owned(),
        };
        println!(
            "ratio throughput={} p99={} bytes_per_conn={}",
            ratio(
                haurach.sustainable.map(|s| s.0),
                other.sustainable.map(|s| s.0)
            ),
            ratio(
                haurach.steady.as_ref().map(|s| s.p99),
                other.steady.as_ref().map(|s| s.p99)
            ),
            ratio(
                haurach.idle_bytes_per_conn.map(|s| s.0),
                other.idle_bytes_per_conn.map(|s| s.0)
            ),
        );
    }
    Ok(())
}

/// `--curve`: the steady phase at each number of pairs, Haurach then Mosquitto.
async fn run_curve(
    args: &BenchArgs,
    dir: &std::path::Path,
    tokens: &[[String; 2]],
    at: &[usize],
) -> anyhow::Result<()> {
    let setups = [Setup::Haurach, Setup::Mosquitto];
    let mut curves: [Vec<curve::Point>; 2] = [Vec::new(), Vec::new()];
    for &pairs in at {
        for (setup, points) in setups.iter().zip(curves.iter_mut()) {
            target::wait_quiet(Duration::from_secs_f64(args.quiet_wait.clamp(0.0, 600.0)));
            let deployment = Deployment::one(match setup {
                Setup::Mosquitto => target::start_mosquitto(dir)?,
                _ => target::start_haurach(dir, &[])?,
            });
            let s = steady(
                &deployment,
                setup.proto(),
                &tokens[..pairs],
                args.seconds,
                setup.name(),
            )
            .await?
            .written(args.stalls.as_deref(), &format!("{}-{pairs}", setup.name()))?;
            points.push(curve::Point {
                connections: pairs * 2,
                p50_ms: s.p50,
                p99_ms: s.p99,
                cpu_us: s.cpu_us_per_update,
                lost: s.lost,
            });
        }
    }
    let names = [setups[0].name(), setups[1].name()];
    print!("{}", curve::table(names, [&curves[0], &curves[1]]));
    let title = format!(
        "steady phase, 1 Hz per client, {} s per point: latency and CPU against connections",
        args.seconds
    );
    std::fs::write(
        &args.svg,
        curve::svg(&title, names, [&curves[0], &curves[1]]),
    )
    .with_context(|| format!("cannot write {}", args.svg.display()))?;
    println!("drawn into {}", args.svg.display());
    Ok(())
}

async fn steady(
    server: &Deployment,
    proto: Proto,
    tokens: &[[String; 2]],
    seconds: f64,
    name: &str,
) -> anyhow::Result<SteadyResult> {
    let connecting = bar(tokens.len() as u64 * 2, &format!("{name}: connecting"));
    let mut load = Load::connect(proto, &server.addrs(), tokens, &connecting)
        .await
        .context("connecting")?;
    connecting.finish_and_clear();
    load.warm_up().await?;
    let pb = spinner(format!(
        "{name}: steady, {} pairs at 1 Hz for {seconds} s",
        tokens.len()
    ));
    let window = CpuWindow::start(server);
    let (all0, nats0) = (server.all_cpu_seconds(), server.nats_sent_to_nodes());
    let kernel0 = server.kernel_seconds();
    let step = load.step(1.0, seconds, Duration::from_secs(3)).await?;
    let used = window.end(server);
    let kernel = server.kernel_seconds() - kernel0;
    let (all1, nats1) = (server.all_cpu_seconds(), server.nats_sent_to_nodes());
    let delivered = step.received.max(1) as f64;
    let rss = server.rss_bytes();
    pb.finish_and_clear();
    load.close().await;
    Ok(SteadyResult {
        slow: step.slow.clone(),
        started: step.started.clone(),
        pairs: tokens.len(),
        rate: step.rate(),
        lost: step.lost(),
        p50: step.ms(0.5),
        p99: step.ms(0.99),
        p999: step.ms(0.999),
        max: step.latency.max() as f64 / 1000.0,
        server_cpu: used.server_percent(),
        server_us_per_update: (
            (used.server - kernel) / delivered * 1e6,
            kernel / delivered * 1e6,
        ),
        cpu_us_per_update: (all1 - all0) / delivered * 1e6,
        nats_per_node_per_update: nats0
            .zip(nats1)
            .map(|(a, b)| (b - a) as f64 / server.nodes.len() as f64 / delivered),
        server_rss: rss,
        generator_cpu: used.generator_percent(),
    })
}

/// The CPU the servers and this load generator use over a window of the run, read from
/// `/proc` at its start and at its end.
struct CpuWindow {
    server: f64,
    generator: f64,
    started: std::time::Instant,
}

/// What a [`CpuWindow`] measured: seconds of CPU and of the wall clock.
struct Used {
    wall: f64,
    server: f64,
    generator: f64,
}

impl CpuWindow {
    fn start(server: &Deployment) -> CpuWindow {
        CpuWindow {
            server: server.cpu_seconds(),
            generator: cpu_seconds(std::process::id()),
            started: std::time::Instant::now(),
        }
    }

    fn end(&self, server: &Deployment) -> Used {
        Used {
            wall: self.started.elapsed().as_secs_f64(),
            server: server.cpu_seconds() - self.server,
            generator: cpu_seconds(std::process::id()) - self.generator,
        }
    }
}

impl Used {
    /// How busy the servers were, per cent of a core.
    fn server_percent(&self) -> f64 {
        self.server / self.wall * 100.0
    }

    /// How busy the load generator was, per cent of a core.
    fn generator_percent(&self) -> f64 {
        self.generator / self.wall * 100.0
    }
}

/// Steps the per-client rate up until p99 passes 50 ms or an update is lost; returns the
/// last rate that held: (delivered updates/s, its p99 ms, steps run), and the step that
/// failed with how busy the server and the load generator were in it.
async fn saturation(
    server: &Deployment,
    proto: Proto,
    tokens: &[[String; 2]],
    seconds: f64,
    name: &str,
) -> anyhow::Result<((f64, f64, usize), Option<Failed>)> {
    let connecting = bar(tokens.len() as u64 * 2, &format!("{name}: connecting"));
    let mut load = Load::connect(proto, &server.addrs(), tokens, &connecting).await?;
    connecting.finish_and_clear();
    load.warm_up().await?;
    let pb = bar(SATURATION_HZ.len() as u64, &format!("{name}: saturation"));
    let mut held = (0.0, 0.0, 0);
    let mut failed = None;
    for (i, hz) in SATURATION_HZ.into_iter().enumerate() {
        let window = CpuWindow::start(server);
        let step: Step = load.step(hz, seconds, Duration::from_secs(2)).await?;
        let used = window.end(server);
        let offered = hz * tokens.len() as f64 * 2.0;
        let (server_cpu, generator_cpu) = (used.server_percent(), used.generator_percent());
        pb.inc(1);
        let line = format!(
            "  {name}: {offered:>7.0} offered/s → {:>7.0} delivered/s, p99 {:.1} ms, lost {}; \
             CPU % of a core: server {server_cpu:.0}, load generator {generator_cpu:.0}",
            step.rate(),
            step.ms(0.99),
            step.lost()
        );
        pb.suspend(|| eprintln!("{line}"));
        if step.ms(0.99) > 50.0 || step.lost() > 0 {
            failed = Some(Failed {
                offered,
                p99: step.ms(0.99),
                server_cpu,
                generator_cpu,
            });
            break;
        }
        held = (step.rate(), step.ms(0.99), i + 1);
    }
    pb.finish_and_clear();
    load.close().await;
    Ok((held, failed))
}

/// Returns (messages/s, ack p99 ms, errors), and the CPU milliseconds of every process
/// serving the city per acknowledged message.
async fn voice(
    server: &Deployment,
    tokens: &[[String; 2]],
    seconds: f64,
    name: &str,
) -> anyhow::Result<((f64, f64, u64), f64)> {
    let connecting = bar(tokens.len() as u64 * 2, &format!("{name}: connecting"));
    let mut load = Load::connect(Proto::Haurach, &server.addrs(), tokens, &connecting).await?;
    connecting.finish_and_clear();
    load.warm_up().await?;
    let pb = spinner(format!(
        "{name}: durable voice, {} clients for {seconds} s",
        tokens.len() * 2
    ));
    let all0 = server.all_cpu_seconds();
    let (n, errors, latency, secs) = load.voice(seconds).await?;
    let all1 = server.all_cpu_seconds();
    pb.finish_and_clear();
    load.close().await;
    Ok((
        (
            n as f64 / secs,
            latency.value_at_quantile(0.99) as f64 / 1000.0,
            errors,
        ),
        (all1 - all0) / n.max(1) as f64 * 1e3,
    ))
}

/// Returns (bytes of server RSS per idle connection, connections).
async fn idle_memory(
    server: &Deployment,
    proto: Proto,
    tokens: &[[String; 2]],
    name: &str,
) -> anyhow::Result<(f64, usize)> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = server.rss_bytes();
    let connecting = bar(tokens.len() as u64 * 2, &format!("{name}: idle clients"));
    let load = Load::connect(proto, &server.addrs(), tokens, &connecting).await?;
    connecting.finish_and_clear();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss_bytes();
    load.close().await;
    let n = tokens.len() * 2;
    Ok((after.saturating_sub(before) as f64 / n as f64, n))
}

/// The width of the table's first column, its rows' labels.
const LABEL: usize = 38;

fn table(columns: &[(&str, &Results)], pinned: bool) -> String {
    let mut out = String::new();
    let col =
        |r: &Results, f: &dyn Fn(&Results) -> Option<String>| f(r).unwrap_or_else(|| "-".into());
    // A row no column measured (its phase did not run) is left out.
    let mut row = |label: &str, f: &dyn Fn(&Results) -> Option<String>| {
        if columns.iter().all(|(_, r)| f(r).is_none()) {
            return;
        }
        let _ = write!(out, "{label:<LABEL$}");
        for (_, r) in columns {
            let _ = write!(out, " {:>14}", col(r, f));
        }
        out.push('\n');
    };
    row("steady: pairs (connections)", &|r| {
        r.steady
            .as_ref()
            .map(|s| format!("{} ({})", s.pairs, s.pairs * 2))
    });
    row("steady: delivered updates/s", &|r| {
        r.steady.as_ref().map(|s| format!("{:.0}", s.rate))
    });
    row("steady: lost", &|r| {
        r.steady.as_ref().map(|s| s.lost.to_string())
    });
    row("steady: latency p50 ms", &|r| {
        r.steady.as_ref().map(|s| format!("{:.2}", s.p50))
    });
    row("steady: latency p99 ms", &|r| {
        r.steady.as_ref().map(|s| format!("{:.2}", s.p99))
    });
    row("steady: latency p999 ms", &|r| {
        r.steady.as_ref().map(|s| format!("{:.2}", s.p999))
    });
    row("steady: latency max ms", &|r| {
        r.steady.as_ref().map(|s| format!("{:.2}", s.max))
    });
    row("steady: server CPU %", &|r| {
        r.steady.as_ref().map(|s| format!("{:.1}", s.server_cpu))
    });
    row("steady: CPU µs per update, all", &|r| {
        r.steady
            .as_ref()
            .map(|s| format!("{:.1}", s.cpu_us_per_update))
    });
    row("steady: server µs per update, user", &|r| {
        r.steady
            .as_ref()
            .map(|s| format!("{:.1}", s.server_us_per_update.0))
    });
    row("steady: server µs per update, kernel", &|r| {
        r.steady
            .as_ref()
            .map(|s| format!("{:.1}", s.server_us_per_update.1))
    });
    row("steady: NATS msgs per node per update", &|r| {
        r.steady
            .as_ref()
            .and_then(|s| s.nats_per_node_per_update)
            .map(|v| format!("{v:.3}"))
    });
    row("steady: server RSS MiB", &|r| {
        r.steady
            .as_ref()
            .map(|s| format!("{:.1}", s.server_rss as f64 / 1048576.0))
    });
    row("steady: load generator CPU %", &|r| {
        r.steady.as_ref().map(|s| format!("{:.1}", s.generator_cpu))
    });
    row("saturation: sustainable updates/s", &|r| {
        r.sustainable.map(|s| format!("{:.0}", s.0))
    });
    row("saturation: p99 ms at that rate", &|r| {
        r.sustainable.map(|s| format!("{:.2}", s.1))
    });
    row("saturation: next step, offered/s", &|r| {
        r.failed.map(|f| format!("{:.0}", f.offered))
    });
    row("saturation: next step, p99 ms", &|r| {
        r.failed.map(|f| format!("{:.1}", f.p99))
    });
    row("saturation: next step, CPU % server", &|r| {
        r.failed.map(|f| format!("{:.0}", f.server_cpu))
    });
    row("saturation: next step, CPU % generator", &|r| {
        r.failed.map(|f| format!("{:.0}", f.generator_cpu))
    });
    row("voice: acknowledged messages/s", &|r| {
        r.voice.map(|s| format!("{:.0}", s.0))
    });
    row("voice: ack latency p99 ms", &|r| {
        r.voice.map(|s| format!("{:.2}", s.1))
    });
    row("voice: errors", &|r| r.voice.map(|s| s.2.to_string()));
    row("voice: CPU ms per message, all", &|r| {
        r.voice_cpu_ms.map(|v| format!("{v:.3}"))
    });
    row("push: event to push p50 ms", &|r| {
        r.push.map(|p| format!("{:.2}", p.from_request_ms.0))
    });
    row("push: event to push p99 ms", &|r| {
        r.push.map(|p| format!("{:.2}", p.from_request_ms.1))
    });
    row("push: committed to push p50 ms", &|r| {
        r.push.map(|p| format!("{:.2}", p.from_answer_ms.0))
    });
    row("push: committed to push p99 ms", &|r| {
        r.push.map(|p| format!("{:.2}", p.from_answer_ms.1))
    });
    row("push: server CPU µs per push", &|r| {
        r.push.map(|p| format!("{:.0}", p.cpu_us_per_push))
    });
    row("push: events", &|r| r.push.map(|p| p.events.to_string()));
    row("idle: connections", &|r| {
        r.idle_bytes_per_conn.map(|s| s.1.to_string())
    });
    row("idle: server bytes per connection", &|r| {
        r.idle_bytes_per_conn.map(|s| format!("{:.0}", s.0))
    });
    let mut head = format!("{:<LABEL$}", "");
    for (name, _) in columns {
        let _ = write!(head, " {name:>14}");
    }
    let note = if pinned {
        "servers pinned to core 0, load generator to core 1\n"
    } else {
        "server and load generator share the CPU\n"
    };
    format!("{head}\n{out}{note}")
}
