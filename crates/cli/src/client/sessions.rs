//! The sessions file: the bearer tokens of everyone logged in from this machine, by
//! server and name, and who logged in last on each server.
//!
//! It lives at `HOME/sessions.toml` (`--home`, `HAURACH_HOME`, default
//! `~/.config/haurach`) and is written whole, to a temporary file renamed over the old
//! one, with mode 0600: it holds secrets.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// The file's name inside the home directory.
pub const FILE_NAME: &str = "sessions.toml";

/// Every session this machine holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sessions {
    /// By server URL (as [`server_key`] spells it).
    #[serde(default)]
    pub servers: BTreeMap<String, ServerSessions>,
}

/// The sessions held on one server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSessions {
    /// Who logged in last: the one acting when `--as` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    /// The tokens, by name in lowercase (names are case-insensitive on the server).
    #[serde(default)]
    pub tokens: BTreeMap<String, Saved>,
}

/// One saved session.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// The name as the server spells it.
    pub name: String,
    /// The bearer token.
    pub token: String,
}

impl std::fmt::Debug for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saved")
            .field("name", &self.name)
            .field("token", &"<hidden>")
            .finish()
    }
}

/// A server URL as the file keys it: without a trailing slash.
pub fn server_key(server: &str) -> String {
    server.trim_end_matches('/').to_owned()
}

impl Sessions {
    /// Reads the file under `home`; an absent file is no sessions.
    pub fn load(home: &Path) -> anyhow::Result<Sessions> {
        let path = home.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .with_context(|| format!("{} is not a sessions file", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Sessions::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes the file under `home` (creating the directory), readable only by its owner.
    pub fn save(&self, home: &Path) -> anyhow::Result<()> {
        let text = toml::to_string(self).context("cannot encode the sessions")?;
        write_private(home, FILE_NAME, &text)
    }

    /// The session to act as on `server`: `as_name` if given, else whoever logged in last.
    pub fn pick(&self, server: &str, as_name: Option<&str>) -> Option<&Saved> {
        let on = self.servers.get(&server_key(server))?;
        let name = match as_name {
            Some(name) => name.to_lowercase(),
            None => on.last.clone()?.to_lowercase(),
        };
        on.tokens.get(&name)
    }

    /// Remembers a session and makes it the last one on its server.
    pub fn insert(&mut self, server: &str, name: &str, token: &str) {
        let on = self.servers.entry(server_key(server)).or_default();
        on.tokens.insert(
            name.to_lowercase(),
            Saved {
                name: name.to_owned(),
                token: token.to_owned(),
            },
        );
        on.last = Some(name.to_owned());
    }

    /// Forgets a session; if it was the last one, another one on the server (if any)
    /// becomes the default.
    pub fn remove(&mut self, server: &str, name: &str) {
        let key = server_key(server);
        let Some(on) = self.servers.get_mut(&key) else {
            return;
        };
        on.tokens.remove(&name.to_lowercase());
        if on
            .last
            .as_deref()
            .is_some_and(|last| last.eq_ignore_ascii_case(name))
        {
            on.last = on.tokens.values().next().map(|s| s.name.clone());
        }
        if on.tokens.is_empty() {
            self.servers.remove(&key);
        }
    }
}

/// Writes `text` to `HOME/NAME` whole (creating the directory), readable only by its
/// owner: to a temporary file renamed over the old one, so a crash leaves one or the
/// other.
pub fn write_private(home: &Path, name: &str, text: &str) -> anyhow::Result<()> {
    create_private_dir(home)?;
    let mut tmp = tempfile::NamedTempFile::new_in(home)
        .with_context(|| format!("cannot write in {}", home.display()))?;
    // NamedTempFile is created with mode 0600 on Unix already; set it anyway so the
    // guarantee does not rest on a library's default.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    let path = home.join(name);
    tmp.persist(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The default home: `$XDG_CONFIG_HOME/haurach` or `~/.config/haurach`.
pub fn default_home() -> anyhow::Result<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("haurach"));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .context("cannot find your home directory: set HAURACH_HOME or pass --home DIR")?;
    Ok(PathBuf::from(home).join(".config").join("haurach"))
}

/// Makes `dir` (mode 0700 on Unix) if it is not there.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_last_login_unless_told_otherwise() {
        let mut s = Sessions::default();
        s.insert("http://h:1/", "Spike", "t1");
        s.insert("http://h:1", "amethyst", "t2");
        s.insert("http://other", "spike", "t3");
        assert_eq!(s.pick("http://h:1", None).unwrap().token, "t2");
        assert_eq!(s.pick("http://h:1/", Some("SPIKE")).unwrap().token, "t1");
        assert_eq!(s.pick("http://other", None).unwrap().token, "t3");
        assert!(s.pick("http://h:1", Some("nobody")).is_none());
        assert!(s.pick("http://nowhere", None).is_none());

        s.remove("http://h:1", "Amethyst");
        assert_eq!(s.pick("http://h:1", None).unwrap().name, "Spike");
        s.remove("http://h:1", "spike");
        assert!(!s.servers.contains_key("http://h:1"));
    }

    #[test]
    fn the_file_round_trips_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("nested").join("haurach");
        assert_eq!(Sessions::load(&home).unwrap(), Sessions::default());
        let mut s = Sessions::default();
        s.insert("http://127.0.0.1:7420", "spike", "hau_secret");
        s.save(&home).unwrap();
        s.save(&home).unwrap();
        assert_eq!(Sessions::load(&home).unwrap(), s);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(home.join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{s:?}").contains("hau_secret"));
    }
}
