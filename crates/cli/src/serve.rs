//! `haurach serve`: load the configuration, open the storage, bind, and run the server
//! until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use haurach_server::Config;
use haurach_server::config::LogFormat;

/// Settings of `haurach serve`. Each overrides the TOML file and `HAURACH_*` variables.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Read settings from this TOML file (see --print-config for every setting).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:7420].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Directory of the SQLite database [default: ./haurach-data].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Seconds of silence after which a partner has lost contact [default: 60].
    #[arg(long, value_name = "SECONDS")]
    contact_timeout: Option<f64>,
    /// PostgreSQL instead of SQLite, for several nodes serving one city
    /// (postgres://user:password@host:port/database; env HAURACH_DATABASE_URL).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// NATS for live events between several nodes (nats://host:4222; env
    /// HAURACH_NATS_URL). Needs --database-url: the nodes share one database.
    #[arg(long, value_name = "URL")]
    nats_url: Option<String>,
    /// How newcomers get in: open (anyone registers), application (they fill the
    /// gatekeeper's book and the tower answers) or invite (only with a code) [default:
    /// application]. The first account on a fresh server is the tower's (an admin).
    #[arg(long, value_name = "MODE", value_parser = ["open", "application", "invite"])]
    gate: Option<String>,
    /// How log lines are written to stderr: text, or json (one object a line, for a log
    /// collector) [default: text]. HAURACH_LOG chooses which lines (default: info).
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"])]
    log_format: Option<String>,
    /// Print the example configuration file, with every default, and exit.
    #[arg(long)]
    print_config: bool,
}

/// Runs the server.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    if args.print_config {
        print!("{}", Config::example());
        return Ok(());
    }
    let mut config = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(data) = args.data {
        config.data = data;
    }
    if let Some(timeout) = args.contact_timeout {
        config.contact_timeout_s = timeout;
    }
    if let Some(url) = args.database_url {
        config.database_url = Some(url);
    }
    if let Some(url) = args.nats_url {
        config.nats_url = Some(url);
    }
    if let Some(gate) = args.gate {
        config.gate = haurach_proto::GateMode::from_key(&gate).context("unknown gate mode")?;
    }
    if let Some(format) = args.log_format {
        config.log_format = LogFormat::from_key(&format).context("unknown log format")?;
    }
    init_logging(config.log_format);
    config.validate()?;
    // Storage first: a data directory another server holds, or that cannot be written,
    // is said before the port is bound, so no connection waits on a server that cannot
    // answer it.
    let listen = config.listen;
    let server = haurach_server::open(config.clone()).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let storage = match &config.database_url {
        // The URL may carry a password: say only which kind of store.
        Some(_) => "data in PostgreSQL".to_owned(),
        None => format!("data in {}", config.data.display()),
    };
    let events = if config.nats_url.is_some() {
        ", live events over NATS"
    } else {
        ""
    };
    tracing::info!("haurach is listening on http://{addr} ({storage}{events})");
    tracing::info!(
        "the gate is {}: {}",
        config.gate.key(),
        match config.gate {
            haurach_proto::GateMode::Open => "anyone who registers is a citizen",
            haurach_proto::GateMode::Application =>
                "newcomers apply and the tower answers (haurach gate queue)",
            haurach_proto::GateMode::Invite => "newcomers need a code (haurach gate invite)",
        }
    );
    // Tests that start the binary read this line to learn the port when given port 0.
    println!("listening on http://{addr}");
    server.serve(listener, shutdown_signal()).await?;
    tracing::info!("haurach stopped");
    Ok(())
}

/// Logs to stderr: stdout carries only the "listening on" line, which programs that
/// start the server read and may then stop reading. `HAURACH_LOG` chooses the lines
/// (tracing's `EnvFilter` syntax; `info` when unset or unreadable). Text is coloured only
/// when stderr is a terminal and `NO_COLOR` is unset, so no escape codes reach a file or
/// the journal.
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("HAURACH_LOG")
        .unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
