//! `haurach`: the server and a command-line client in one binary.
//!
//! `main` only parses arguments and dispatches; each command lives in its own module.

// Doc comments in this crate are `--help` text read in a terminal, where a URL is
// written bare; rustdoc's link syntax would show up there as angle brackets.
#![allow(rustdoc::bare_urls)]

/// `println!` for the program's output: when stdout is closed early (`haurach where |
/// head -1`), the program ends quietly instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::print_line(format_args!($($arg)*))
    };
}

/// mimalloc rather than glibc's malloc: the live links allocate a little for every frame,
/// and at 19,800 links it cut the server's CPU by a tenth (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod admin;
mod backup;
mod chart;
mod client;
mod gpx;
mod replay;
mod scenario;
mod serve;
mod track;
mod walk;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

/// Haurach: a self-hosted, real-time link for two people who want to find each other.
///
/// Run a server with `haurach serve`, then use the client commands against it:
///
///   haurach register amethyst           # asks for a password, then logs you in
///   haurach invite                      # prints a code for your partner
///   haurach --as spike accept K7QF-3MZP # your partner (registered as spike)
///   haurach where                       # "spike is east-north-east, 17 km away; ..."
///   haurach letter send twilight "A box for you" --parcel box.png
///   haurach bench --compare mosquitto   # how fast this machine serves the link
///
/// The first account of a new server is the tower's (its admin); after that newcomers
/// apply at the gate and the tower answers (haurach gate queue), unless the server runs
/// with --gate open or --gate invite.
#[derive(Debug, Parser)]
#[command(name = "haurach", version, about, long_about, verbatim_doc_comment)]
struct Cli {
    /// The server the client commands talk to.
    #[arg(long, global = true, env = "HAURACH_SERVER", default_value = client::DEFAULT_SERVER)]
    server: String,

    /// Act as this logged-in citizen (default: whoever logged in last).
    #[arg(long = "as", global = true, env = "HAURACH_AS", value_name = "NAME")]
    as_name: Option<String>,

    /// Where the client keeps its sessions (default: ~/.config/haurach).
    #[arg(long, global = true, env = "HAURACH_HOME", value_name = "DIR")]
    home: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (SQLite under ./haurach-data, on 127.0.0.1:7420, unless told otherwise).
    Serve(serve::ServeArgs),
    /// Make a tower (admin) account in a server's data directory
    ///
    /// The first account of a new city is the tower's already; this makes another (or
    /// one for a city whose first account went to someone else). The password comes as
    /// for register.
    ///
    /// Examples:
    ///   haurach admin celestia --data /var/lib/haurach
    ///   HAURACH_PASSWORD=... haurach admin luna
    #[command(verbatim_doc_comment)]
    Admin(admin::AdminArgs),
    /// Copy a SQLite city consistently while its server serves it
    ///
    /// The database (SQLite's VACUUM INTO), the message journal, pictures, journals'
    /// photos and parcels. Restore by starting a server on the copy. A city on PostgreSQL
    /// is backed up with pg_dump.
    ///
    /// Examples:
    ///   haurach backup /var/backups/haurach/2026-12-05 --data /var/lib/haurach
    ///   haurach backup ./copy --config /etc/haurach/haurach.toml
    #[command(verbatim_doc_comment)]
    Backup(backup::BackupArgs),
    /// Measure the live workload (optionally side by side with Mosquitto); see docs/benchmarks.md.
    Bench(haurach_bench::BenchArgs),
    #[command(flatten)]
    Client(client::ClientCommand),
}

/// rustls's cryptography for this process: ring, which async-nats and the push sender
/// already build on. The CLI's HTTPS client (reqwest) takes it from here.
pub fn install_crypto() {
    // An error only says one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[tokio::main]
async fn main() -> ExitCode {
    install_crypto();
    let matches = command().get_matches();
    // `replay` starts its own server unless `--server` is typed: a HAURACH_SERVER in the
    // environment should not make it register scenario accounts on a real server.
    let server_flag = matches.value_source("server") == Some(ValueSource::CommandLine);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let res = match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Bench(args) => haurach_bench::run(args).await,
        Command::Admin(args) => admin::run(args).await,
        Command::Backup(args) => backup::run(args).await,
        Command::Client(command) => {
            match client::Context::new(cli.server, server_flag, cli.as_name, cli.home) {
                Ok(ctx) => command.run(ctx).await,
                Err(e) => Err(e),
            }
        }
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("haurach: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The cause chain on one line ("cannot read x.toml: not found"), each cause said once:
/// an error whose text already ends with its cause's (thiserror's `{0}` beside
/// `#[from]`) does not repeat it.
fn one_line(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.ends_with(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// The command line. The client's flags (`--server`, `--as`, `--home`) are global, so
/// they may follow any client command; `serve` has them hidden instead, so its `--help`
/// shows the server's settings only (clap copies a global flag into every subcommand
/// that does not define one of the same id already).
fn command() -> clap::Command {
    Cli::command().mut_subcommand("serve", |serve| {
        [("server", "server"), ("as_name", "as"), ("home", "home")]
            .into_iter()
            .fold(serve, |serve, (id, long)| {
                serve.arg(clap::Arg::new(id).long(long).num_args(1).hide(true))
            })
    })
}

/// Writes one line on stdout (see [`outln!`]).
pub(crate) fn print_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n"))
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}
