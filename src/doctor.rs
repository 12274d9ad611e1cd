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
use crate::i18n::Lang;
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
    let lang = config.ui.language;
    let t = |k: &str| lang.text(k).to_string();
    let mut out = Out {
        w,
        summary: Summary::default(),
    };
    match config_path {
        Some(p) => out.line(
            Level::Ok,
            &t("doctor.configuration"),
            lang.fill("doctor.config_read", &[("file", &p.display())]),
        )?,
        None => out.line(
            Level::Warn,
            &t("doctor.configuration"),
            t("doctor.no_config"),
        )?,
    }
    let real = config.provider.kind == ProviderKind::Apivoice;
    out.line(
        Level::Ok,
        &t("doctor.provider"),
        if real {
            lang.fill("doctor.apivoice", &[("api", &config.provider.api)])
        } else {
            t("doctor.simulator")
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
                    &t("doctor.database"),
                    lang.fill("doctor.database_ok", &[("backend", &store.backend_name())]),
                )?,
                Err(e) => out.line(Level::Fail, &t("doctor.database"), e.to_string())?,
            }
        }
        Ok(Err(e)) => out.line(Level::Fail, &t("doctor.database"), e.to_string())?,
        Err(_) => out.line(
            Level::Fail,
            &t("doctor.database"),
            lang.fill("doctor.no_answer", &[("seconds", &20)]),
        )?,
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
            let (level, detail) = file_permissions(path, lang);
            out.line(level, key, detail)?;
        }
    }
    if real {
        match config.provider_token() {
            Ok(Some(_)) => out.line(Level::Ok, &t("doctor.token"), t("doctor.token_set"))?,
            Ok(None) => out.line(Level::Fail, &t("doctor.token"), t("doctor.token_missing"))?,
            Err(e) => out.line(Level::Fail, &t("doctor.token"), lang.render(&e.msg()))?,
        }
        if config.provider.token.is_some() {
            out.line(Level::Warn, "provider.token", t("doctor.token_in_file"))?;
        }
    }

    // TLS: the files load and the certificate is not about to expire.
    if let (Some(cert), Some(key)) = (&config.server.tls_cert, &config.server.tls_key) {
        match crate::tls::load(cert, key) {
            Err(e) => out.line(Level::Fail, "server.tls_cert", lang.render(&e.msg()))?,
            Ok(_) => {
                let (level, detail) = certificate_expiry(cert, Utc::now(), lang);
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
            t("doctor.no_secret"),
        )?,
        Some(secret) => {
            if config.server.public_url.is_none() {
                out.line(
                    if real { Level::Fail } else { Level::Warn },
                    "server.public_url",
                    t("doctor.no_public_url"),
                )?;
            }
            let (control, report) = config.webhook_urls(&config.server.listen, secret);
            for (name, url) in [
                (t("doctor.control_url"), &control),
                (t("doctor.report_url"), &report),
            ] {
                let shown = url.replace(secret.expose_secret(), "<server.secret>");
                let answer = http.get(url).send().await;
                match answer {
                    Ok(r) if r.status().is_success() => out.line(
                        Level::Ok,
                        &name,
                        lang.fill("doctor.get_ok", &[("url", &shown), ("status", &r.status())]),
                    )?,
                    Ok(r) => out.line(
                        Level::Fail,
                        &name,
                        lang.fill(
                            "doctor.get_refused",
                            &[("url", &shown), ("status", &r.status())],
                        ),
                    )?,
                    Err(e) => out.line(
                        Level::Fail,
                        &name,
                        lang.fill(
                            "doctor.get_failed",
                            &[("url", &shown), ("error", &reqwest_reason(e, lang))],
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
                lang.fill(
                    "doctor.provider_url",
                    &[
                        ("url", &config.provider.url),
                        ("status", &r.status().as_u16()),
                    ],
                ),
            )?,
            Err(e) => out.line(
                Level::Fail,
                "provider.url",
                format!("{}: {}", config.provider.url, reqwest_reason(e, lang)),
            )?,
        }
    }

    // What to paste in netelip's panel.
    if let Some(secret) = &config.server.secret {
        let (control, report) = config.webhook_urls(&config.server.listen, secret);
        writeln!(
            out.w,
            "\n{}",
            lang.fill("doctor.panel", &[("api", &config.provider.api)])
        )?;
        writeln!(
            out.w,
            "{}",
            lang.fill("doctor.panel_control_url", &[("url", &control)])
        )?;
        writeln!(
            out.w,
            "{}",
            lang.fill("doctor.panel_report_url", &[("url", &report)])
        )?;
    }
    writeln!(
        out.w,
        "\n{}",
        lang.fill(
            "doctor.summary",
            &[
                ("warnings", &out.summary.warnings),
                ("failures", &out.summary.failures)
            ]
        )
    )?;
    Ok(out.summary)
}

fn reqwest_reason(e: reqwest::Error, lang: Lang) -> String {
    if e.is_timeout() {
        lang.fill("doctor.no_answer", &[("seconds", &10)])
    } else if e.is_connect() {
        lang.text("doctor.cannot_connect").to_string()
    } else {
        // The URL may carry the secret: say what failed, not where.
        e.without_url().to_string()
    }
}

/// Whether a secret file can be read by other users.
fn file_permissions(path: &Path, lang: Lang) -> (Level, String) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return (
                Level::Fail,
                lang.render(&crate::i18n::Msg::read_error(path, &e)),
            )
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o004 != 0 {
            return (
                Level::Warn,
                lang.fill(
                    "doctor.world_readable",
                    &[("file", &path.display()), ("mode", &format!("{mode:o}"))],
                ),
            );
        }
        (
            Level::Ok,
            lang.fill(
                "doctor.mode",
                &[("file", &path.display()), ("mode", &format!("{mode:o}"))],
            ),
        )
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (
            Level::Ok,
            lang.fill("doctor.exists", &[("file", &path.display())]),
        )
    }
}

/// The first certificate's end of validity: a failure when past, a warning within 14 days.
fn certificate_expiry(path: &Path, now: DateTime<Utc>, lang: Lang) -> (Level, String) {
    use rustls::pki_types::pem::PemObject;
    let first = std::fs::read(path).ok().and_then(|pem| {
        rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
            .next()
            .and_then(Result::ok)
    });
    let Some(not_after) = first.as_deref().and_then(not_after) else {
        return (
            Level::Warn,
            lang.fill("doctor.cert_unreadable", &[("file", &path.display())]),
        );
    };
    let days = (not_after - now).num_days();
    let when = not_after.format("%Y-%m-%d %H:%M UTC");
    let args: [(&str, &dyn std::fmt::Display); 3] =
        [("file", &path.display()), ("when", &when), ("days", &days)];
    if not_after <= now {
        (Level::Fail, lang.fill("doctor.cert_expired", &args))
    } else if days < 14 {
        (Level::Warn, lang.fill("doctor.cert_expires", &args))
    } else {
        (Level::Ok, lang.fill("doctor.cert_valid", &args))
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

    /// `doctor` on a machine with nothing set up: every line from the catalogue, Spanish by
    /// default, English when asked, and no secret in either.
    #[tokio::test]
    async fn doctor_speaks_the_configured_language() {
        let mut config = Config::default();
        config.database.url = "sqlite::memory:".into();
        config.provider.token = Some(secrecy::SecretString::from("tok-very-secret"));
        let mut out = Vec::new();
        let summary = run(&config, None, &mut out).await.unwrap();
        let es = String::from_utf8(out).unwrap();
        assert_eq!(summary.failures, 0, "{es}");
        for line in [
            "[warn] configuración: sin archivo (--config o PREGONERO_CONFIG)",
            "[ok  ] proveedor: el simulador integrado: ninguna llamada sale de esta máquina",
            "[ok  ] base de datos: sqlite accesible, migraciones aplicadas",
            "[warn] server.secret: no está puesto",
            "2 aviso(s), 0 fallo(s)",
        ] {
            assert!(es.contains(line), "{line}\n{es}");
        }
        config.ui.language = Lang::En;
        let mut out = Vec::new();
        run(&config, None, &mut out).await.unwrap();
        let en = String::from_utf8(out).unwrap();
        for line in [
            "[warn] configuration: no file (--config or PREGONERO_CONFIG)",
            "[ok  ] provider: the built-in simulator: no call leaves this machine",
            "[ok  ] database: sqlite reachable, migrations applied",
            "2 warning(s), 0 failure(s)",
        ] {
            assert!(en.contains(line), "{line}\n{en}");
        }
        for text in [&es, &en] {
            assert!(!text.contains("tok-very-secret"), "{text}");
            assert!(!text.contains("doctor."), "a key without its text\n{text}");
        }
    }

    #[test]
    fn reads_the_expiry_of_the_test_certificate() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/cert.pem");
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap();
        let (level, detail) = certificate_expiry(&path, now, Lang::En);
        assert!(
            detail.contains("valid until") || detail.contains("expire"),
            "{detail}"
        );
        assert_ne!(level, Level::Warn, "{detail}");
        let far = Utc.with_ymd_and_hms(2200, 1, 1, 0, 0, 0).unwrap();
        let (level, detail) = certificate_expiry(&path, far, Lang::Es);
        assert_eq!(level, Level::Fail);
        assert!(detail.contains(" caducó el "), "{detail}");
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_readable_by_others_is_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (level, detail) = file_permissions(&path, Lang::Es);
        assert_eq!(level, Level::Warn);
        assert!(
            detail.ends_with("lo puede leer cualquier usuario (modo 644): chmod 600 o 640"),
            "{detail}"
        );
        let (_, detail) = file_permissions(&path, Lang::En);
        assert!(detail.contains("is readable by every user"), "{detail}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(file_permissions(&path, Lang::Es).0, Level::Ok);
    }
}
