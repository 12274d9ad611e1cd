//! Operator commands that read or change the store without running the daemon: `explain`,
//! `campaigns`, `dnc`. Each prints for a person and ends with one clear sentence on error.

use chrono::{DateTime, TimeZone, Utc};

use crate::app;
use crate::campaign::plan::local;
use crate::campaign::{dnc, phone};
use crate::config::Config;
use crate::dialer::ActiveCampaign;
use crate::store::{Candidate, Gate, Store};

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn find_campaign(config: &Config, id: &str, now: DateTime<Utc>) -> anyhow::Result<ActiveCampaign> {
    let (loaded, errors) = app::load_campaigns(config, now);
    if let Some(c) = loaded.into_iter().find(|c| c.id == id) {
        return Ok(c);
    }
    if let Some(e) = errors.iter().find(|e| {
        e.contains(&format!("{id}/campaign.toml")) || e.contains(&format!("{id}\\campaign.toml"))
    }) {
        anyhow::bail!("{e}");
    }
    anyhow::bail!(
        "no campaign folder named \"{id}\" in {}",
        config.campaigns.dir.display()
    )
}

/// `pregonero explain CAMPAIGN PHONE`: the contact's state, its attempts, and why it is or is not
/// being called, and until when.
pub async fn explain(
    config: &Config,
    campaign: &str,
    raw_phone: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let region = phone::region(&config.calling.default_region);
    let number = phone::normalize(raw_phone, region).map_err(|e| anyhow::anyhow!("{e}"))?;
    let active = find_campaign(config, campaign, now)?;
    let store = Store::connect(&config.database.url).await?;
    let result = explain_with(&store, &active, &number, now).await;
    store.close().await;
    result
}

async fn explain_with(
    store: &Store,
    c: &ActiveCampaign,
    number: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let Some(contact) = store.contact(&c.id, number).await? else {
        anyhow::bail!(
            "{number} is not a contact of campaign {} (check the CSV and its .rejected.csv)",
            c.id
        );
    };
    let tz = c.plan.tz;
    let mut out = format!(
        "{}{} — campaign {} ({}): {}\n",
        contact.phone,
        if contact.name.is_empty() {
            String::new()
        } else {
            format!(" ({})", contact.name)
        },
        c.id,
        c.kind.as_str(),
        contact.state
    );
    out.push_str(&format!(
        "  attempts: {} of {}\n",
        contact.attempts, c.max_attempts
    ));
    for a in store.attempts_of(contact.contact_id).await? {
        out.push_str(&format!(
            "    #{} {} {}{}{}{}\n",
            a.number,
            local(at(a.created_at), tz),
            a.result.as_deref().unwrap_or(match a.status.as_str() {
                "not_placed" => "not placed",
                "launching" => "launch result unknown",
                _ => "in progress",
            }),
            a.outcome
                .as_deref()
                .map(|o| format!(" → {o}"))
                .unwrap_or_default(),
            a.dtmf
                .as_deref()
                .map(|d| format!(", keys {d}"))
                .unwrap_or_default(),
            a.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default(),
        ));
    }
    let paused = store
        .campaigns()
        .await?
        .into_iter()
        .find(|r| r.id == c.id)
        .filter(|r| r.paused);
    let why = match contact.state.as_str() {
        "in_progress" => "a call is in progress now".to_string(),
        "pending" | "scheduled" => {
            if let Some(p) = paused {
                format!(
                    "the campaign is paused ({})",
                    p.paused_reason.as_deref().unwrap_or("by an operator")
                )
            } else {
                let dnc = store
                    .dnc_list()
                    .await?
                    .into_iter()
                    .find(|d| d.phone == contact.phone);
                let now_ms = now.timestamp_millis();
                let candidate = Candidate {
                    contact_id: contact.contact_id,
                    phone: contact.phone.clone(),
                    timezone: contact.timezone.clone(),
                    appointment_at: contact.appointment_at,
                    dnc,
                    vars: String::new(),
                };
                let later = contact.next_at > now_ms;
                let due = if contact.attempts > 0 {
                    "retry due"
                } else {
                    "due"
                };
                match c.plan.gate(&candidate, now_ms) {
                    Gate::Launch if later => format!("{due} {}", local(at(contact.next_at), tz)),
                    Gate::Launch => {
                        "due now: it will be called as soon as a line is free".to_string()
                    }
                    Gate::Defer { note, .. } => note,
                    Gate::Close { note, state } => format!("{note} (it will end {state})"),
                }
            }
        }
        "unreachable" => "attempts spent without an answer".to_string(),
        "invalid_number" => "the provider says the number does not exist (twice)".to_string(),
        "failed" => "the provider refused the call for good".to_string(),
        _ => contact
            .note
            .clone()
            .unwrap_or_else(|| "finished".to_string()),
    };
    out.push_str(&format!("  why: {why}\n"));
    if let (Some(note), true) = (
        &contact.note,
        matches!(contact.state.as_str(), "blocked" | "expired"),
    ) {
        if !why.contains(note.as_str()) {
            out.push_str(&format!("  note: {note}\n"));
        }
    }
    Ok(out)
}

/// `pregonero campaigns`: one line per campaign.
pub async fn campaigns(config: &Config, now: DateTime<Utc>) -> anyhow::Result<String> {
    let (loaded, errors) = app::load_campaigns(config, now);
    let store = Store::connect(&config.database.url).await?;
    let rows = store.campaigns().await?;
    let mut out = String::new();
    for row in &rows {
        let stats = store.stats(&row.id).await?;
        let waiting: i64 = crate::store::WAITING_STATES
            .iter()
            .map(|w| stats.states.get(*w).copied().unwrap_or(0))
            .sum();
        let active = loaded.iter().find(|c| c.id == row.id);
        let state = if row.paused {
            format!(
                "paused ({})",
                row.paused_reason.as_deref().unwrap_or("by an operator")
            )
        } else if waiting == 0 {
            "finished".to_string()
        } else {
            match active {
                None => "folder missing or invalid".to_string(),
                Some(c) => c
                    .plan
                    .campaign_status(now)
                    .unwrap_or_else(|| "active".to_string()),
            }
        };
        out.push_str(&format!(
            "{:<24} {:<13} {}/{} done  {}\n",
            row.id,
            row.kind,
            stats.contacts - waiting,
            stats.contacts,
            state
        ));
    }
    store.close().await;
    for e in errors {
        out.push_str(&format!("error: {e}\n"));
    }
    Ok(out)
}

/// `pregonero dnc add`.
pub async fn dnc_add(
    config: &Config,
    raw: &str,
    until: Option<&str>,
    hours: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let region = phone::region(&config.calling.default_region);
    let entry = dnc::entry(raw, until, hours, "cli", region).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = Store::connect(&config.database.url).await?;
    store
        .dnc_upsert(std::slice::from_ref(&entry), now.timestamp_millis())
        .await?;
    store.close().await;
    Ok(format!(
        "{} is on the do-not-call list{}\n",
        entry.phone,
        describe(&entry)
    ))
}

fn describe(e: &crate::store::DncEntry) -> String {
    match (&e.until_date, &e.hours) {
        (None, None) => String::new(),
        (Some(u), None) => format!(" until {u}"),
        (None, Some(h)) => format!(" during {h}"),
        (Some(u), Some(h)) => format!(" until {u}, during {h}"),
    }
}

/// `pregonero dnc remove`.
pub async fn dnc_remove(config: &Config, raw: &str) -> anyhow::Result<String> {
    let region = phone::region(&config.calling.default_region);
    let number = phone::normalize(raw, region).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = Store::connect(&config.database.url).await?;
    let removed = store.dnc_remove(&number).await?;
    store.close().await;
    if !removed {
        anyhow::bail!("{number} is not on the do-not-call list");
    }
    Ok(format!("{number} removed from the do-not-call list\n"))
}

/// `pregonero dnc list`.
pub async fn dnc_list(config: &Config) -> anyhow::Result<String> {
    let store = Store::connect(&config.database.url).await?;
    let list = store.dnc_list().await?;
    store.close().await;
    let mut out = String::new();
    for e in &list {
        out.push_str(&format!("{}{}  ({})\n", e.phone, describe(e), e.source));
    }
    out.push_str(&format!("{} number(s)\n", list.len()));
    Ok(out)
}

/// `pregonero dnc import FILE`.
pub async fn dnc_import(
    config: &Config,
    path: &std::path::Path,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let region = phone::region(&config.calling.default_region);
    let store = Store::connect(&config.database.url).await?;
    let result = dnc::import(&store, path, region, now.timestamp_millis()).await;
    store.close().await;
    let (n, rejects) = result.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = format!(
        "{}: {n} number(s) on the do-not-call list\n",
        path.display()
    );
    for r in &rejects {
        out.push_str(&format!("  line {}: {}\n", r.line, r.error));
    }
    Ok(out)
}

/// `dnc import FILE --hashed`: a hashed exclusion list (see [`crate::exclusion`]).
pub async fn dnc_import_hashed(
    config: &Config,
    path: &std::path::Path,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let digests = crate::exclusion::read_hashed(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = Store::connect(&config.database.url).await?;
    let source = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let result = store
        .dnc_hashed_import(&digests, &source, now.timestamp_millis())
        .await;
    store.close().await;
    let added = result?;
    Ok(format!(
        "{}: {} digest(s) read, {added} new on the hashed exclusion list\n",
        path.display(),
        digests.len()
    ))
}

/// The quality of one CSV file, as `check` reports it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FileQuality {
    pub rows_read: u64,
    pub valid: u64,
    pub rejected: u64,
    /// Reasons with their counts and the first lines that have them (the reason is the full
    /// message when only one row has it).
    pub reasons: Vec<(String, u64, Vec<u64>)>,
    pub duplicates: u64,
    pub dnc_hits: u64,
    /// `(country, mobile, landline, other)`.
    pub countries: Vec<(String, u64, u64, u64)>,
    /// Valid contacts with no calling window in the next 7 days (in their own zone).
    pub no_window_7d: u64,
    /// The header cells as written (for the template check).
    pub headers: Vec<String>,
}

/// A reason without the value that triggered it, so rows with the same problem group together.
fn reason_key(error: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for ch in error.chars() {
        if ch == '"' {
            if !quoted {
                out.push('…');
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(ch);
        }
    }
    out
}

/// Reads a file the way an import would (streaming) and measures it, without storing anything.
pub fn file_quality(
    path: &std::path::Path,
    c: &ActiveCampaign,
    region: Option<phonenumber::country::Id>,
    dnc: &std::collections::HashSet<String>,
    now: DateTime<Utc>,
) -> Result<FileQuality, String> {
    use std::collections::BTreeMap;
    let mut q = FileQuality::default();
    let mut reasons: BTreeMap<String, (u64, Vec<u64>, String)> = BTreeMap::new();
    let mut countries: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let horizon = now + chrono::Duration::days(7);
    let summary = crate::campaign::csv::stream_file_checking(
        path,
        region,
        c.consent_policy(now.with_timezone(&c.plan.tz).date_naive()),
        5_000,
        |_, batch| -> Result<(), String> {
            for r in &batch.rejected {
                let e = reasons
                    .entry(reason_key(&r.error))
                    .or_insert_with(|| (0, Vec::new(), r.error.clone()));
                e.0 += 1;
                if e.1.len() < 5 {
                    e.1.push(r.line);
                }
            }
            for contact in &batch.contacts {
                if dnc.contains(&contact.phone) {
                    q.dnc_hits += 1;
                }
                let info = phone::classify(&contact.phone);
                let e = countries.entry(info.country).or_default();
                match info.line {
                    phone::LineType::Mobile => e.0 += 1,
                    phone::LineType::Landline => e.1 += 1,
                    phone::LineType::Other => e.2 += 1,
                }
                let zones = crate::schedule::zones::callee_zone(
                    &contact.phone,
                    contact.timezone.as_deref(),
                    c.plan.tz,
                )
                .zones();
                match c.plan.window.next_open_all(now, &zones) {
                    Some(t) if t <= horizon => {}
                    _ => q.no_window_7d += 1,
                }
            }
            Ok(())
        },
    )
    .map_err(|e| e.to_string())?;
    q.headers = summary.layout.headers.clone();
    q.rows_read = summary.rows_read;
    q.valid = summary.contacts;
    q.rejected = summary.rejected;
    q.duplicates = summary.duplicates;
    q.reasons = reasons
        .into_iter()
        .map(|(k, (n, lines, first))| (if n == 1 { first } else { k }, n, lines))
        .collect();
    q.reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
    q.countries = countries
        .into_iter()
        .map(|(k, (m, l, o))| (k, m, l, o))
        .collect();
    Ok(q)
}

impl std::fmt::Display for FileQuality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "    {} rows read: {} valid contacts, {} rejected, {} duplicates merged, {} on the do-not-call list",
            self.rows_read, self.valid, self.rejected, self.duplicates, self.dnc_hits
        )?;
        for (reason, n, lines) in &self.reasons {
            let lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            let more = if *n as usize > lines.len() {
                ", …"
            } else {
                ""
            };
            let word = if lines.len() == 1 { "line" } else { "lines" };
            writeln!(
                f,
                "    rejected {n}×: {reason} ({word} {}{more})",
                lines.join(", ")
            )?;
        }
        for (country, m, l, o) in &self.countries {
            writeln!(
                f,
                "    numbers in {country}: {m} mobile, {l} landline, {o} other"
            )?;
        }
        if self.no_window_7d > 0 {
            writeln!(
                f,
                "    {} contacts have no calling window in the next 7 days",
                self.no_window_7d
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_messy_file_is_measured_row_by_row() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("lista");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("campaign.toml"), "kind = \"announcement\"\ncaller_id = \"+34910000000\"\n[announcement]\nmessage = \"Hola\"\n").unwrap();
        let csv = dir.join("a.csv");
        std::fs::write(&csv, "telefono;nombre\n600000001;A\n600 000 001;A bis\nhola;B\nadios;C\n928123456;D\n+33612345678;E\n").unwrap();
        let mut config = Config::default();
        config.campaigns.dir = root.path().to_path_buf();
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let (loaded, errors) = app::load_campaigns(&config, now);
        assert!(errors.is_empty(), "{errors:?}");
        let dnc: std::collections::HashSet<String> = ["+34600000001".to_string()].into();
        let q = file_quality(&csv, &loaded[0], phone::region("ES"), &dnc, now).unwrap();
        assert_eq!(
            (q.rows_read, q.valid, q.rejected, q.duplicates, q.dnc_hits),
            (6, 3, 2, 1, 1)
        );
        assert_eq!(
            q.reasons.len(),
            1,
            "both garbage rows share one reason: {:?}",
            q.reasons
        );
        assert_eq!((q.reasons[0].1, q.reasons[0].2.clone()), (2, vec![4, 5]));
        assert_eq!(
            q.countries,
            vec![("ES".to_string(), 1, 1, 0), ("FR".to_string(), 1, 0, 0)]
        );
        assert_eq!(q.no_window_7d, 0);
        let text = q.to_string();
        assert!(
            text.contains("rejected 2×") && text.contains("lines 4, 5"),
            "{text}"
        );
    }
}
