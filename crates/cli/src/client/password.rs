//! Passwords at the command line: `--password` (or `HAURACH_PASSWORD`), else asked on
//! the terminal without echo, else a line of stdin.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::Context as _;
use clap::Args;

/// `--password` (or `HAURACH_PASSWORD`).
#[derive(Debug, Args)]
pub(crate) struct PasswordArg {
    /// The password (prefer HAURACH_PASSWORD or typing it when asked: arguments are
    /// visible to other users of this machine).
    #[arg(long, env = "HAURACH_PASSWORD", hide_env_values = true)]
    pub(crate) password: Option<String>,
}

/// The password: given, else asked on the terminal without echo, else a line of stdin.
pub(crate) fn password_for(
    name: &str,
    given: Option<String>,
    confirm: bool,
) -> anyhow::Result<String> {
    if let Some(password) = given {
        return Ok(password);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            anyhow::bail!(
                "no password given: pass --password, set HAURACH_PASSWORD, or pipe it on stdin"
            );
        }
        return Ok(password);
    }
    let password = prompt_hidden(&format!("password for {name}: "))?;
    if confirm && prompt_hidden("again, to be sure: ")? != password {
        anyhow::bail!("the two passwords differ");
    }
    Ok(password)
}

/// Reads a line from the terminal with echo turned off (by `stty`, so no unsafe code is
/// needed here); echo is turned back on however the read ends.
fn prompt_hidden(prompt: &str) -> anyhow::Result<String> {
    struct Echo(bool);
    impl Drop for Echo {
        fn drop(&mut self) {
            if self.0 {
                let _ = stty("echo");
            }
        }
    }
    let mut stderr = std::io::stderr();
    write!(stderr, "{prompt}")?;
    stderr.flush()?;
    let echo_off = Echo(stty("-echo"));
    if !echo_off.0 {
        eprint!("(your typing will show) ");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    drop(echo_off);
    eprintln!();
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn stty(arg: &str) -> bool {
    std::process::Command::new("stty")
        .arg(arg)
        .stdin(std::process::Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success())
}
