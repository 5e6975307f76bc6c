//! The context of every client command: the server, who is acting (`--as`), and where
//! sessions are kept.

use std::path::PathBuf;

use haurach_proto::Session;

use super::api::Api;
use super::sessions::{self, Saved, Sessions};

/// The server the client talks to when none is given.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7420";

/// What every client command needs: the server, who is acting, where sessions are kept.
pub struct Context {
    pub(crate) server: String,
    pub(crate) server_flag: bool,
    pub(crate) as_name: Option<String>,
    pub(crate) home: PathBuf,
}

impl Context {
    /// A context from the global flags; `server_flag` says whether `--server` was typed
    /// (rather than taken from the environment or the default).
    pub fn new(
        server: String,
        server_flag: bool,
        as_name: Option<String>,
        home: Option<PathBuf>,
    ) -> anyhow::Result<Context> {
        let server = sessions::server_key(&server);
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            anyhow::bail!("--server must be an http:// or https:// URL, not {server:?}");
        }
        let home = match home {
            Some(home) => home,
            None => sessions::default_home()?,
        };
        Ok(Context {
            server,
            server_flag,
            as_name,
            home,
        })
    }

    pub(crate) fn anonymous(&self) -> anyhow::Result<Api> {
        Api::new(&self.server, None)
    }

    /// The session of `--as NAME` (or `fallback`), else of whoever logged in last.
    pub(crate) fn session(&self, fallback: Option<&str>) -> anyhow::Result<(Saved, Api)> {
        let sessions = Sessions::load(&self.home)?;
        let name = self.as_name.as_deref().or(fallback);
        let saved = sessions
            .pick(&self.server, name)
            .cloned()
            .ok_or_else(|| match name {
                Some(name) => anyhow::anyhow!(
                    "{name} is not logged in on {}: haurach --as {name} login {name}",
                    self.server
                ),
                None => anyhow::anyhow!(
                    "nobody is logged in on {}: haurach login NAME (or haurach register NAME)",
                    self.server
                ),
            })?;
        let api = Api::new(&self.server, Some(saved.token.clone()))?;
        Ok((saved, api))
    }

    pub(crate) fn remember(&self, session: &Session) -> anyhow::Result<()> {
        let mut sessions = Sessions::load(&self.home)?;
        sessions.insert(&self.server, &session.account.name, &session.token);
        sessions.save(&self.home)
    }

    /// `haurach` as the partner should type it against this server.
    pub(crate) fn command_prefix(&self) -> String {
        if self.server == DEFAULT_SERVER {
            "haurach".to_owned()
        } else {
            format!("haurach --server {}", self.server)
        }
    }
}
