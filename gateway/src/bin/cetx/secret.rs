//! Where `cetx order` finds the broker's secret, so that it need not be on
//! the command line (where `ps` and shell history show it): a file
//! (`--secret-file`), the environment (`CETX_SECRET`), or a prompt on the
//! terminal that does not echo. `--secret` still works, with a warning.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::terminal;

/// The environment variable `cetx order` reads the secret from.
pub const SECRET_ENV: &str = "CETX_SECRET";

/// How the secret was given on the command line.
#[derive(Debug, Default)]
pub struct SecretArgs {
    /// `--secret`: visible to every local user; kept for scripts.
    pub inline: Option<String>,
    /// `--secret-file`: the secret is the file's first line.
    pub file: Option<PathBuf>,
}

/// The broker's secret: from `--secret-file`, else `--secret` (with a
/// warning), else `CETX_SECRET`, else asked for on the terminal.
///
/// # Errors
/// A file that cannot be read or is empty, or no source at all when
/// standard input is not a terminal.
pub fn resolve(args: SecretArgs, broker: u32) -> Result<String> {
    if let Some(path) = &args.file {
        return from_file(path);
    }
    if let Some(secret) = args.inline {
        tracing::warn!(
            "--secret shows the secret to every local user (ps, shell history); use --secret-file, {SECRET_ENV} or the prompt"
        );
        return Ok(secret);
    }
    if let Ok(secret) = std::env::var(SECRET_ENV) {
        if !secret.is_empty() {
            return Ok(secret);
        }
    }
    if !std::io::stdin().is_terminal() {
        bail!("no secret for broker {broker}: pass --secret-file FILE or set {SECRET_ENV} (there is no terminal to ask on)");
    }
    prompt(broker)
}

/// The first line of `path`, without its line ending; warns when the file
/// is open to its group or other users.
///
/// # Errors
/// The file cannot be read, or its first line is empty.
pub fn from_file(path: &Path) -> Result<String> {
    if let Ok(Some(mode)) = cetx_gateway::config::open_to_others(path) {
        tracing::warn!(
            "the secret file {} is open to its group or other users (mode {mode:o}); chmod 600 it",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the secret file {}", path.display()))?;
    let secret = text.lines().next().unwrap_or_default();
    if secret.is_empty() {
        bail!("the secret file {} is empty", path.display());
    }
    Ok(secret.to_owned())
}

/// Asks on the terminal, without echo.
fn prompt(broker: u32) -> Result<String> {
    eprint!("secret of broker {broker}: ");
    std::io::stderr().flush().ok();
    terminal::enable_raw_mode().context("turning off the terminal's echo")?;
    let typed = read_line();
    terminal::disable_raw_mode().ok();
    eprintln!();
    let secret = typed?;
    if secret.is_empty() {
        bail!("no secret given");
    }
    Ok(secret)
}

/// Keys up to Enter, in raw mode; Ctrl-C or Esc give up.
fn read_line() -> Result<String> {
    let mut secret = String::new();
    loop {
        let Event::Key(key) = event::read().context("reading the terminal")? else {
            continue;
        };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        match key.code {
            KeyCode::Enter => return Ok(secret),
            KeyCode::Esc => bail!("cancelled"),
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                bail!("cancelled")
            }
            KeyCode::Backspace => {
                secret.pop();
            }
            KeyCode::Char(c) => secret.push(c),
            _ => {}
        }
    }
}
