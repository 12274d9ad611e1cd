//! `pregonero doctor`: what can be checked on this machine before the first real campaign.
//!
//! Each check prints one line, `ok`, `warn` or `FAIL`, with what to do about it: the
//! configuration, the database and its migrations, the permissions of secret files, the TLS
//! certificate's expiry, the webhook URLs (reached on `public_url` from this machine, as netelip's
//! panel checks them, with a plain `GET`), the provider's launch URL, and finally what to paste in
//! netelip's panel. API Voice has no request that checks a token without placing a call
//! (`docs/apivoice.md`): `pregonero test-call` is that check.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use secrecy::ExposeSecret;

use crate::config::{Config, ProviderKind};
use crate::store::Store;

/// How one check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// The result of every check: how many warnings and failures.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub warnings: usize,
    pub failures: usize,
}

struct Out<'a> {
    w: &'a mut (dyn Write + Send),
    summary: Summary,
}

impl Out<'_> {
    fn line(&mut self, level: Level, what: &str, detail: impl AsRef<str>) -> std::io::Result<()> {
        let tag = match level {
            Level::Ok => "ok  ",
            Level::Warn => {
                self.summary.warnings += 1;
                "warn"
            }
            Level::Fail => {
                self.summary.failures += 1;
                "FAIL"
            }
        };
        writeln!(self.w, "[{tag}] {what}: {}", detail.as_ref())
    }
}

/// Runs every check and prints them to `w`. `config_path` is the file the config came from.
pub async fn run(
    config: &Config,
    config_path: Option<&Path>,
    w: &mut (dyn Write + Send),
) -> anyhow::Result<Summary> {
    let mut out = Out {
        w,
        summary: Summary::default(),
    };
    match config_path {
        Some(p) => out.line(Level::Ok, "configuration", format!("{} read", p.display()))?,
        None => out.line(
            Level::Warn,
            "configuration",
            "no file (--config or PREGONERO_CONFIG): every key has its default",
        )?,
    }
    let real = config.provider.kind == ProviderKind::Apivoice;
    out.line(
        Level::Ok,
        "provider",
        if real {
            format!("apivoice, instance \"{}\"", config.provider.api)
        } else {
            "the built-in simulator: no call leaves this machine".into()
        },
    )?;

    // The database: connecting applies pending migrations, as `run` does at start.
    match tokio::time::timeout(
        Duration::from_secs(20),
        Store::connect(&config.database.url),
    )
    .await
    {
        Ok(Ok(store)) => {
            let ping = store.ping().await;
            match ping {
                Ok(()) => out.line(
                    Level::Ok,
                    "database",
                    format!("{} reachable, migrations applied", store.backend_name()),
                )?,
                Err(e) => out.line(Level::Fail, "database", e.to_string())?,
            }
        }
        Ok(Err(e)) => out.line(Level::Fail, "database", e.to_string())?,
        Err(_) => out.line(Level::Fail, "database", "no answer within 20 s")?,
    }

    // Secrets in files: readable by others is a warning.
    for (key, path) in [
        ("provider.token_file", config.provider.token_file.as_deref()),
        (
            "server.dashboard_password_file",
            config.server.dashboard_password_file.as_deref(),
        ),
        ("server.tls_key", config.server.tls_key.as_deref()),
    ] {
        if let Some(path) = path {
            let (level, detail) = file_permissions(path);
            out.line(level, key, detail)?;
        }
    }
    if real {
        match config.provider_token() {
            Ok(Some(_)) => out.line(Level::Ok, "provider token", "set")?,
            Ok(None) => out.line(
                Level::Fail,
                "provider token",
                "set provider.token_file (or provider.token)",
            )?,
            Err(e) => out.line(Level::Fail, "provider token", e.to_string())?,
        }
        if config.provider.token.is_some() {
            out.line(
                Level::Warn,
                "provider.token",
                "the token is in the configuration file; provider.token_file (mode 0600) keeps it out of it",
            )?;
        }
    }

    // TLS: the files load and the certificate is not about to expire.
    if let (Some(cert), Some(key)) = (&config.server.tls_cert, &config.server.tls_key) {
        match crate::tls::load(cert, key) {
            Err(e) => out.line(Level::Fail, "server.tls_cert", e.to_string())?,
            Ok(_) => {
                let (level, detail) = certificate_expiry(cert, Utc::now());
                out.line(level, "server.tls_cert", detail)?;
            }
        }
    }

    // The webhook URLs, reached from this machine on the public address.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    match &config.server.secret {
        None => out.line(
            if real { Level::Fail } else { Level::Warn },
            "server.secret",
            "not set: the webhook URLs are not fixed (a random one per run with the simulator)",
        )?,
        Some(secret) => {
            if config.server.public_url.is_none() {
                out.line(
                    if real { Level::Fail } else { Level::Warn },
                    "server.public_url",
                    "not set: netelip cannot reach a loopback address",
                )?;
            }
            let (control, report) = config.webhook_urls(&config.server.listen, secret);
            for (name, url) in [("control URL", &control), ("report URL", &report)] {
                let shown = url.replace(secret.expose_secret(), "<server.secret>");
                let answer = http.get(url).send().await;
                match answer {
                    Ok(r) if r.status().is_success() => {
                        out.line(Level::Ok, name, format!("GET {shown} answers {}", r.status()))?
                    }
                    Ok(r) => out.line(
                        Level::Fail,
                        name,
                        format!("GET {shown} answers {} (is this pregonero, with this secret?)", r.status()),
                    )?,
                    Err(e) => out.line(
                        Level::Fail,
                        name,
                        format!(
                            "GET {shown} failed: {} (is `pregonero run` up, and the address public?)",
                            reqwest_reason(e)
                        ),
                    )?,
                }
            }
        }
    }

    // The provider: only whether its launch URL answers; no request checks the token.
    if real {
        match http.get(&config.provider.url).send().await {
            Ok(r) => out.line(
                Level::Ok,
                "provider.url",
                format!(
                    "{} answers (HTTP {}); API Voice has no request that checks the token without placing a call: run `pregonero test-call YOUR_PHONE --campaign ID`",
                    config.provider.url,
                    r.status().as_u16()
                ),
            )?,
            Err(e) => out.line(
                Level::Fail,
                "provider.url",
                format!("{}: {}", config.provider.url, reqwest_reason(e)),
            )?,
        }
    }

    // What to paste in netelip's panel.
    if let Some(secret) = &config.server.secret {
        let (control, report) = config.webhook_urls(&config.server.listen, secret);
        writeln!(
            out.w,
            "\nIn netelip's panel, API Voice instance \"{}\":",
            config.provider.api
        )?;
        writeln!(out.w, "  URL de control:            {control}")?;
        writeln!(out.w, "  URL de informe de llamadas: {report}")?;
    }
    writeln!(
        out.w,
        "\n{} warning(s), {} failure(s)",
        out.summary.warnings, out.summary.failures
    )?;
    Ok(out.summary)
}

fn reqwest_reason(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer within 10 s".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        // The URL may carry the secret: say what failed, not where.
        e.without_url().to_string()
    }
}

/// Whether a secret file can be read by other users.
fn file_permissions(path: &Path) -> (Level, String) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return (Level::Fail, format!("{}: {e}", path.display())),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o004 != 0 {
            return (
                Level::Warn,
                format!(
                    "{} is readable by every user (mode {mode:o}): chmod 600 or 640",
                    path.display()
                ),
            );
        }
        (Level::Ok, format!("{} mode {mode:o}", path.display()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (Level::Ok, format!("{} exists", path.display()))
    }
}

/// The first certificate's end of validity: a failure when past, a warning within 14 days.
fn certificate_expiry(path: &Path, now: DateTime<Utc>) -> (Level, String) {
    use rustls::pki_types::pem::PemObject;
    let first = std::fs::read(path).ok().and_then(|pem| {
        rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
            .next()
            .and_then(Result::ok)
    });
    let Some(not_after) = first.as_deref().and_then(not_after) else {
        return (
            Level::Warn,
            format!("{}: cannot read the certificate's expiry", path.display()),
        );
    };
    let days = (not_after - now).num_days();
    let when = not_after.format("%Y-%m-%d %H:%M UTC");
    if not_after <= now {
        (Level::Fail, format!("{} expired on {when}", path.display()))
    } else if days < 14 {
        (
            Level::Warn,
            format!("{} expires on {when}, in {days} day(s)", path.display()),
        )
    } else {
        (
            Level::Ok,
            format!("{} valid until {when} ({days} days)", path.display()),
        )
    }
}

/// One DER element: (tag, content, rest).
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// `notAfter` of an X.509 certificate (DER): Certificate → TBSCertificate → validity.
fn not_after(cert: &[u8]) -> Option<DateTime<Utc>> {
    let (_, certificate, _) = der(cert)?;
    let (_, tbs, _) = der(certificate)?;
    // An optional [0] version, then serial, signature algorithm, issuer, validity.
    let mut rest = tbs;
    let (tag, _, after) = der(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    let (_, _, rest) = der(rest)?; // serial
    let (_, _, rest) = der(rest)?; // signature algorithm
    let (_, _, rest) = der(rest)?; // issuer
    let (_, validity, _) = der(rest)?;
    let (_, _, rest) = der(validity)?; // notBefore
    let (tag, time, _) = der(rest)?;
    let text = std::str::from_utf8(time).ok()?;
    let text = text.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i32 = text.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        0x18 => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| -> Option<u32> { rest.get(r)?.parse().ok() };
    let date = NaiveDate::from_ymd_opt(year, num(0..2)?, num(2..4)?)?;
    let time = date.and_hms_opt(num(4..6)?, num(6..8)?, num(8..10).unwrap_or(0))?;
    Some(Utc.from_utc_datetime(&time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_expiry_of_the_test_certificate() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/cert.pem");
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap();
        let (level, detail) = certificate_expiry(&path, now);
        assert!(
            detail.contains("valid until") || detail.contains("expire"),
            "{detail}"
        );
        assert_ne!(level, Level::Warn, "{detail}");
        let far = Utc.with_ymd_and_hms(2200, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(certificate_expiry(&path, far).0, Level::Fail);
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_readable_by_others_is_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(file_permissions(&path).0, Level::Warn);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(file_permissions(&path).0, Level::Ok);
    }
}
