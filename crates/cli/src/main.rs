//! `haurach`: the server and a command-line client in one binary.
//!
//! `main` only parses arguments and dispatches; each command lives in its own module.

mod client;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Haurach: a self-hosted, real-time link for two people who want to find each other.
///
/// Run a server with `haurach serve`, then use the client commands against it:
///
///   haurach register amethyst && haurach login amethyst
///   haurach invite                      # prints a code for your partner
///   haurach --as spike accept K7QF-3MZP # your partner, in another terminal
///   haurach where                       # "east-north-east, 17 km; voice opens in 0.3 km"
#[derive(Debug, Parser)]
#[command(name = "haurach", version, about, long_about, verbatim_doc_comment)]
struct Cli {
    /// The server the client commands talk to.
    #[arg(long, global = true, env = "HAURACH_SERVER", default_value = "http://127.0.0.1:7420")]
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
    #[command(flatten)]
    Client(client::ClientCommand),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Client(command) => {
            let ctx = client::Context::new(cli.server, cli.as_name, cli.home)?;
            command.run(ctx).await
        }
    }
}
