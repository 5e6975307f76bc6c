//! The client commands: they talk to a server over HTTP and the live link.

use std::path::PathBuf;

use clap::Subcommand;

/// Client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create an account on the server.
    Register {
        /// Your name.
        name: String,
    },
}

/// What every client command needs: the server, who is acting, where sessions are kept.
pub struct Context {
    #[allow(dead_code)]
    server: String,
}

impl Context {
    /// A context from the global flags.
    pub fn new(
        server: String,
        _as_name: Option<String>,
        _home: Option<PathBuf>,
    ) -> anyhow::Result<Context> {
        Ok(Context { server })
    }
}

impl ClientCommand {
    /// Runs the command.
    pub async fn run(self, _ctx: Context) -> anyhow::Result<()> {
        anyhow::bail!("client commands are being written")
    }
}
