//! Writes the man page and the shell completions of `pregonero` from its clap definition:
//! `cargo run --example gen_man [DIR]` (default `target/assets`), before `cargo deb`.
//!
//! An example rather than a build script, so that ordinary builds neither run nor compile it.
//! The CLI is `src/main.rs` itself, included as a module, so the pages cannot drift from it.

#[allow(dead_code, unused_imports)]
#[path = "../src/main.rs"]
mod cli;

use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::Shell;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/assets"));
    std::fs::create_dir_all(&dir)?;
    let cmd = cli::Cli::command();
    // pregonero.1, and one page per subcommand (pregonero-run.1, pregonero-doctor.1…).
    clap_mangen::generate_to(cmd.clone(), &dir)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd.clone(), "pregonero", &dir)?;
    }
    println!("wrote {}", dir.display());
    Ok(())
}
