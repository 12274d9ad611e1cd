//! Agents' passwords: argon2id hashes in the PHC string form; the clear text is read from
//! standard input (never the command line) and never logged.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Shortest password accepted.
pub const MIN_LEN: usize = 8;

/// The argon2id hash (default parameters: 19 MiB, 2 passes) of `password`, with a random salt.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| anyhow::anyhow!("cannot make a salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// Whether `password` matches the stored hash (false for an unreadable hash).
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the agent does not exist, so that an unknown name takes as
/// long to refuse as a wrong password.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("pregonero-decoy-password").unwrap_or_default())
}

/// Checks a new password; the error is one sentence for the user.
pub fn check_new(password: &str) -> Result<(), crate::i18n::Msg> {
    if password.chars().count() < MIN_LEN {
        return Err(crate::i18n::Msg::new("agents.password_short").arg("min", MIN_LEN));
    }
    Ok(())
}

/// Reads the password from standard input: on a terminal after a prompt, without echo; else
/// the first line.
pub fn read_from_stdin(prompt: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    if tty {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        set_echo(false);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if tty {
        set_echo(true);
        eprintln!();
    }
    read.map_err(|e| {
        crate::i18n::UserError::new(
            crate::i18n::Msg::new("agents.cannot_read_password").arg("error", e),
        )
    })?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Turns the terminal's echo off or on (`stty`, on the terminal of standard input).
fn set_echo(on: bool) {
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_salted_and_verifies_only_its_password() {
        let a = hash("correcto-1").unwrap();
        let b = hash("correcto-1").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(!a.contains("correcto"));
        assert!(verify("correcto-1", &a));
        assert!(!verify("correcto-2", &a));
        assert!(!verify("correcto-1", "not a hash"));
        assert!(!verify("x", decoy()));
        assert!(check_new("corta").is_err());
        assert!(check_new("bastante larga").is_ok());
    }
}
