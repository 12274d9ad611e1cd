//! `pregonero check`: the config, every campaign folder and CSV, validated without dialing, and
//! the webhook URLs to paste in netelip's panel. Every line comes from the catalogue, in the
//! `[ui] language`; the exit status (non-zero on any error) is what scripts read.

use std::collections::HashSet;
use std::io::Write;

use chrono::{DateTime, Utc};

use crate::calls::ActiveCampaign;
use crate::campaign::{self, phone};
use crate::config::{CallerIdFormat, Config, ProviderKind};
use crate::i18n::Lang;
use crate::{app, commands};

/// Runs the check and prints it to `w`; `Ok(false)` when it found an error or a row that will
/// not be imported.
pub fn run(config: &Config, now: DateTime<Utc>, w: &mut dyn Write) -> anyhow::Result<bool> {
    let lang = config.ui.language;
    let mut out = Out {
        w,
        lang,
        errors: 0,
        rejected_rows: 0,
    };
    let region = phone::region(&config.calling.default_region);
    if region.is_none() {
        out.error(&lang.fill(
            "check.bad_region",
            &[("region", &config.calling.default_region)],
        ))?;
    }
    let (loaded, bad) = app::load_campaigns(config, now);
    let dnc = blacklist(&mut out, config, region)?;
    for e in &bad {
        out.error(&lang.render(e))?;
    }
    for c in &loaded {
        campaign(&mut out, config, c, now)?;
        csv_files(&mut out, c, region, &dnc, now)?;
    }
    secrets(&mut out, config)?;
    panel_urls(&mut out, config)?;
    let Out {
        w,
        errors,
        rejected_rows,
        ..
    } = out;
    if errors > 0 || rejected_rows > 0 {
        writeln!(
            w,
            "\n{}",
            lang.fill(
                "check.summary",
                &[("errors", &errors), ("rows", &rejected_rows)]
            )
        )?;
        return Ok(false);
    }
    writeln!(w, "\n{}", lang.text("check.ok"))?;
    Ok(true)
}

/// Where the check is written, in which language, and what it found.
struct Out<'a> {
    w: &'a mut dyn Write,
    lang: Lang,
    errors: usize,
    rejected_rows: u64,
}

impl Out<'_> {
    /// An error line (`error: …`), indented by `indent` spaces, counted.
    fn error_at(&mut self, indent: usize, text: &str) -> std::io::Result<()> {
        self.errors += 1;
        let err = self.lang.text("check.error");
        writeln!(self.w, "{:indent$}{err}: {text}", "")
    }

    fn error(&mut self, text: &str) -> std::io::Result<()> {
        self.error_at(0, text)
    }
}

/// The do-not-call file of the campaigns folder (`blacklist.csv`), if any: its numbers, its
/// count and each line it cannot read.
fn blacklist(
    out: &mut Out,
    config: &Config,
    region: Option<phonenumber::country::Id>,
) -> std::io::Result<HashSet<String>> {
    let lang = out.lang;
    let file = config.campaigns.dir.join("blacklist.csv");
    if !file.is_file() {
        return Ok(HashSet::new());
    }
    match campaign::dnc::read(&file, region) {
        Ok((entries, rejects)) => {
            writeln!(
                out.w,
                "{}",
                lang.fill(
                    "check.dnc_file",
                    &[("file", &file.display()), ("count", &entries.len())]
                )
            )?;
            for r in &rejects {
                out.error_at(
                    2,
                    &lang.fill(
                        "check.line",
                        &[("line", &r.line), ("error", &lang.render(&r.error))],
                    ),
                )?;
            }
            Ok(entries.into_iter().map(|e| e.phone).collect())
        }
        Err(e) => {
            out.error(&lang.render(&e))?;
            Ok(HashSet::new())
        }
    }
}

/// A campaign's heading and settings: kind and title, calling hours and whether they are open
/// now, a caller id the account does not list, rounds, events and callbacks.
fn campaign(
    out: &mut Out,
    config: &Config,
    c: &ActiveCampaign,
    now: DateTime<Utc>,
) -> std::io::Result<()> {
    let (lang, w) = (out.lang, &mut *out.w);
    let dialed = if c.demo && config.provider.kind == ProviderKind::Apivoice {
        format!(" ({})", lang.text("check.demo"))
    } else {
        String::new()
    };
    let title = if c.title.is_empty() {
        String::new()
    } else {
        format!(": {}", c.title)
    };
    writeln!(
        w,
        "{} {} — {}{title}{dialed}",
        lang.text("check.campaign"),
        c.id,
        lang.label(c.kind.as_str()),
    )?;
    let hours = c.hours.as_ref().unwrap_or(&config.calling.hours).join(", ");
    let status = c
        .plan
        .campaign_status_msg(now)
        .unwrap_or_else(|| c.plan.window.closed_msg(now, c.plan.tz));
    writeln!(
        w,
        "  {}",
        lang.fill(
            "check.hours",
            &[("hours", &hours), ("status", &lang.render(&status))]
        )
    )?;
    // Compared as digits, however each side is written.
    let digits = |n: &str| crate::provider::caller_id(n, CallerIdFormat::Digits);
    let caller_ids = &config.provider.caller_ids;
    if !caller_ids.is_empty() && !caller_ids.iter().any(|n| digits(n) == digits(&c.caller_id)) {
        writeln!(
            w,
            "  {}: {}",
            lang.text("check.warning"),
            lang.fill("check.caller_id", &[("caller_id", &c.caller_id)])
        )?;
    }
    if let Some(r) = &c.plan.rounds {
        writeln!(w, "  {}: \"{}\"", lang.text("check.rounds"), r.line())?;
    }
    if let Some(e) = &c.events {
        let types = if e.types.len() == crate::store::EVENT_TYPES.len() {
            lang.text("check.every_event").to_string()
        } else {
            e.types.join(", ")
        };
        let signed = if config.events.secret_file.is_some() {
            lang.text("check.signed")
        } else {
            lang.text("check.unsigned")
        };
        writeln!(
            w,
            "  {}",
            lang.fill(
                "check.events",
                &[
                    ("types", &types),
                    ("url", &crate::notify::url_for_logs(&e.url)),
                    ("signed", &signed)
                ]
            )
        )?;
    }
    if c.inbound.call_back.unwrap_or(config.inbound.call_back) {
        writeln!(w, "  {}", lang.text("check.callbacks"))?;
    }
    Ok(())
}

/// Each CSV of a campaign, read as the import would: its quality, the rows it would reject,
/// and the message templates' columns it lacks.
fn csv_files(
    out: &mut Out,
    c: &ActiveCampaign,
    region: Option<phonenumber::country::Id>,
    dnc: &HashSet<String>,
    now: DateTime<Utc>,
) -> std::io::Result<()> {
    let lang = out.lang;
    let files = c.csv_files().unwrap_or_default();
    if files.is_empty() {
        writeln!(
            out.w,
            "  {}",
            lang.fill("check.no_csv", &[("dir", &c.dir.display())])
        )?;
    }
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        writeln!(out.w, "  {name}:")?;
        match commands::file_quality(&f, c, region, dnc, now) {
            Ok(q) => {
                write!(out.w, "{}", q.render(lang))?;
                if q.rejected > 0 {
                    writeln!(
                        out.w,
                        "    {}",
                        lang.fill("check.fix_rows", &[("file", &name)])
                    )?;
                    out.rejected_rows += q.rejected;
                }
                if let Err(e) = c.check_templates(&q.headers) {
                    out.error_at(4, &lang.render(&e))?;
                }
            }
            Err(e) => out.error_at(4, &lang.error_line(&e))?,
        }
    }
    Ok(())
}

/// The TLS files and the events secret, read as the daemon would.
fn secrets(out: &mut Out, config: &Config) -> std::io::Result<()> {
    let lang = out.lang;
    match crate::tls::server_config(
        config.server.tls_cert.as_deref(),
        config.server.tls_key.as_deref(),
    ) {
        Ok(Some(_)) => {
            if let Some(cert) = &config.server.tls_cert {
                writeln!(
                    out.w,
                    "{}",
                    lang.fill("check.tls", &[("file", &cert.display())])
                )?;
            }
        }
        Ok(None) => {}
        Err(e) => out.error(&lang.render(&e.msg()))?,
    }
    if let Err(e) = config.events_secret() {
        out.error(&lang.render(&e.msg()))?;
    }
    Ok(())
}

/// The URLs to paste in netelip's panel (they carry the secret), or why there are none.
fn panel_urls(out: &mut Out, config: &Config) -> std::io::Result<()> {
    let (lang, w) = (out.lang, &mut *out.w);
    let Some(secret) = &config.server.secret else {
        return writeln!(w, "\n{}", lang.text("check.no_secret"));
    };
    let listen = config.server.listen.clone();
    let (control, report) = config.webhook_urls(&listen, secret);
    writeln!(
        w,
        "\n{}",
        lang.fill("check.paste", &[("api", &config.provider.api)])
    )?;
    writeln!(w, "  {} {control}", lang.text("check.control_url"))?;
    writeln!(w, "  {} {report}", lang.text("check.report_url"))?;
    writeln!(
        w,
        "  {} {} ({})",
        lang.text("check.inbound_url"),
        config.inbound_url(&listen, secret),
        lang.text("check.inbound_url_note")
    )?;
    if config.server.public_url.is_none() {
        writeln!(w, "  ({})", lang.text("check.no_public_url"))?;
    }
    Ok(())
}

/// The text of `check` for a folder of campaigns, in a language (tests).
#[cfg(test)]
fn check_text(config: &Config, now: DateTime<Utc>) -> (bool, String) {
    let mut out = Vec::new();
    let ok = run(config, now, &mut out).unwrap();
    (ok, String::from_utf8(out).unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    fn folder() -> (tempfile::TempDir, Config, DateTime<Utc>) {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("aviso");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("campaign.toml"),
            "kind = \"announcement\"\ncaller_id = \"+34910000000\"\nhours = [\"mon-fri 10:00-14:00\"]\n[announcement]\nmessage = \"Hola\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("a.csv"),
            "telefono;nombre\n600000001;Ana\nhola;Berta\n",
        )
        .unwrap();
        let mut config = Config::default();
        config.campaigns.dir = root.path().to_path_buf();
        config.server.secret = Some(secrecy::SecretString::from("check-secret-0123456789"));
        // Tuesday 24 November 2026, 20:00 in Madrid: outside the campaign's hours.
        let now = DateTime::parse_from_rfc3339("2026-11-24T19:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        (root, config, now)
    }

    #[test]
    fn check_speaks_spanish_by_default() {
        let (_root, config, now) = folder();
        let (ok, text) = check_text(&config, now);
        assert!(!ok, "a rejected row fails the check\n{text}");
        for line in [
            "campaña aviso — aviso",
            "  horario de llamada mon-fri 10:00-14:00 en la zona horaria del destinatario; ahora: fuera de horario hasta mié 10:00 (Europe/Madrid)",
            "    2 filas leídas: 1 contacto válido, 1 rechazado, 0 duplicados fusionados, 0 en la lista de no llamar",
            "(línea 3)",
            "corrija estas filas",
            "Pegue estas URL en el panel de netelip",
            "  URL de control:",
            "0 error(es), 1 fila(s) que no se importarán",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
        for english in [
            "campaign aviso",
            "rows read",
            "Paste these",
            "calling hours",
        ] {
            assert!(!text.contains(english), "{english}\n{text}");
        }
        assert!(!text.contains("check."), "a key without its text\n{text}");
    }

    #[test]
    fn check_speaks_english_when_asked() {
        let (_root, mut config, now) = folder();
        config.ui.language = Lang::En;
        let (ok, text) = check_text(&config, now);
        assert!(!ok, "{text}");
        for line in [
            "campaign aviso — announcement",
            "  calling hours mon-fri 10:00-14:00 in the callee's time zone; now: outside calling hours until Wed 10:00 (Europe/Madrid)",
            "    2 rows read: 1 valid contact, 1 rejected, 0 duplicates merged, 0 on the do-not-call list",
            "(line 3)",
            "fix these rows",
            "Paste these in netelip's panel",
            "  control URL:",
            "0 error(s), 1 row(s) that will not be imported",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
    }

    #[test]
    fn file_errors_are_said_in_either_language() {
        let (root, mut config, now) = folder();
        std::fs::write(
            root.path().join("aviso/campaign.toml"),
            "kind = \"announcement\"\ncaller_id = \"+34910000000\"\n[announcement]\nmessage = \"Hola {centro}\"\n",
        )
        .unwrap();
        std::fs::write(root.path().join("blacklist.csv"), "600000009\nhola\n").unwrap();
        config.server.tls_cert = Some(root.path().join("cert.pem"));
        config.server.tls_key = Some(root.path().join("key.pem"));
        let (ok, text) = check_text(&config, now);
        assert!(!ok, "{text}");
        for line in [
            "blacklist.csv: 1 número(s) en la lista de no llamar",
            "  error: línea 2: \"hola\" no es un número de teléfono: tiene letras",
            "usa {centro}, que no es una columna del CSV (columnas: telefono, nombre)",
            "error: no se puede leer server.tls_cert ",
            "rechazadas 1×: \"hola\" no es un número de teléfono: tiene letras (línea 3)",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
        config.ui.language = Lang::En;
        let (_, text) = check_text(&config, now);
        for line in [
            "  error: line 2: \"hola\" is not a phone number: it contains letters",
            "uses {centro}, which is not a column of the CSV (columns: telefono, nombre)",
            "error: cannot read server.tls_cert ",
            "rejected 1×: \"hola\" is not a phone number: it contains letters (line 3)",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
    }

    #[test]
    fn a_clean_folder_is_ok_in_either_language() {
        let (root, mut config, now) = folder();
        std::fs::write(
            root.path().join("aviso/a.csv"),
            "telefono;nombre\n600000001;Ana\n",
        )
        .unwrap();
        let (ok, text) = check_text(&config, now);
        assert!(ok && text.ends_with("\ncorrecto\n"), "{text}");
        config.ui.language = Lang::En;
        let (ok, text) = check_text(&config, now);
        assert!(ok && text.ends_with("\nok\n"), "{text}");
    }
}
