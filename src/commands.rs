//! Operator commands that read or change the store without running the daemon: `explain`,
//! `campaigns`, `dnc`, `holidays`. Each prints for a person in `[ui] language`, from the
//! catalogue, and ends with one clear sentence on error.

use chrono::{DateTime, Datelike, TimeZone, Utc};

use crate::app;
use crate::calls::ActiveCampaign;
use crate::campaign::{dnc, phone};
use crate::config::Config;
use crate::i18n::{Lang, Msg, UserError};
use crate::store::{Candidate, Gate, Store};

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn find_campaign(config: &Config, id: &str, now: DateTime<Utc>) -> anyhow::Result<ActiveCampaign> {
    let (loaded, errors) = app::load_campaigns(config, now);
    if let Some(c) = loaded.into_iter().find(|c| c.id == id) {
        return Ok(c);
    }
    if let Some(e) = errors.into_iter().find(|e| {
        let text = Lang::En.render(e);
        text.contains(&format!("{id}/campaign.toml"))
            || text.contains(&format!("{id}\\campaign.toml"))
    }) {
        return Err(UserError::new(e).into());
    }
    Err(UserError::new(
        Msg::new("error.no_campaign_folder")
            .arg("id", id)
            .arg("dir", config.campaigns.dir.display()),
    )
    .into())
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
    let number = phone::normalize(raw_phone, region).map_err(|e| UserError::new(e.msg()))?;
    let active = find_campaign(config, campaign, now)?;
    let store = app::open_store(config).await?;
    let result = explain_with(&store, &active, &number, now, config.ui.language).await;
    store.close().await;
    result
}

async fn explain_with(
    store: &Store,
    c: &ActiveCampaign,
    number: &str,
    now: DateTime<Utc>,
    lang: crate::i18n::Lang,
) -> anyhow::Result<String> {
    let t = |k: &str| lang.text(k).to_string();
    let Some(contact) = store.contact(&c.id, number).await? else {
        return Err(UserError::new(
            Msg::new("error.not_a_contact")
                .arg("phone", number)
                .arg("campaign", &c.id),
        )
        .into());
    };
    let tz = c.plan.tz;
    let mut out = format!(
        "{}{} — {} {} ({}): {}\n",
        contact.phone,
        if contact.name.is_empty() {
            String::new()
        } else {
            format!(" ({})", contact.name)
        },
        t("explain.campaign"),
        c.id,
        lang.label(c.kind.as_str()),
        lang.label(&contact.state)
    );
    out.push_str(&format!(
        "  {}: {}\n",
        t("explain.holidays"),
        lang.render(&c.plan.holidays_msg(&contact.vars, &contact.phone))
    ));
    out.push_str(&format!(
        "  {}: {} {} {}\n",
        t("explain.attempts"),
        contact.attempts,
        t("explain.of"),
        c.max_attempts
    ));
    for a in store.attempts_of(contact.contact_id).await? {
        out.push_str(&format!(
            "    #{} {} {}{}{}{}\n",
            a.number,
            lang.local(at(a.created_at), tz),
            a.result
                .as_deref()
                .map(|r| lang.label(r))
                .unwrap_or(match a.status.as_str() {
                    "not_placed" => lang.text("explain.not_placed"),
                    "launching" => lang.text("explain.launch_unknown"),
                    _ => lang.text("in_progress"),
                }),
            a.outcome
                .as_deref()
                .map(|o| format!(" → {}", lang.label(o)))
                .unwrap_or_default(),
            a.dtmf
                .as_deref()
                .map(|d| format!(", {} {d}", t("explain.keys")))
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
        "in_progress" => t("explain.in_call"),
        "pending" | "scheduled" => {
            if let Some(p) = paused {
                format!(
                    "{} ({})",
                    t("explain.campaign_paused"),
                    p.paused_reason
                        .clone()
                        .unwrap_or_else(|| t("campaign.by_operator"))
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
                    vars: contact.vars.clone(),
                    dnc,
                };
                let later = contact.next_at > now_ms;
                let due = if contact.attempts > 0 {
                    t("explain.retry_due")
                } else {
                    t("explain.due")
                };
                match c.plan.gate(&candidate, now_ms) {
                    Gate::Launch if later => {
                        format!("{due} {}", lang.local(at(contact.next_at), tz))
                    }
                    Gate::Launch => t("explain.due_now"),
                    Gate::Defer { note, .. } => lang.stored(&note),
                    Gate::Close { note, state } => format!(
                        "{} ({} {})",
                        lang.stored(&note),
                        t("explain.will_end"),
                        lang.label(state.as_str())
                    ),
                }
            }
        }
        "unreachable" => t("explain.unreachable"),
        "invalid_number" => t("explain.invalid_number"),
        "failed" => t("explain.failed"),
        _ => contact
            .note
            .as_deref()
            .map(|n| lang.stored(n))
            .unwrap_or_else(|| t("explain.finished")),
    };
    out.push_str(&format!("  {}: {why}\n", t("explain.why")));
    if let (Some(note), true) = (
        &contact.note,
        matches!(contact.state.as_str(), "blocked" | "expired"),
    ) {
        let note = lang.stored(note);
        if !why.contains(note.as_str()) {
            out.push_str(&format!("  {}: {note}\n", t("explain.note")));
        }
    }
    Ok(out)
}

/// `pregonero campaigns`: one line per campaign.
pub async fn campaigns(config: &Config, now: DateTime<Utc>) -> anyhow::Result<String> {
    let (loaded, errors) = app::load_campaigns(config, now);
    let store = app::open_store(config).await?;
    let rows = store.campaigns().await?;
    let lang = config.ui.language;
    let mut out = String::new();
    for row in &rows {
        let stats = store.stats(&row.id).await?;
        let waiting: i64 = crate::store::WAITING_STATES
            .iter()
            .map(|w| stats.states.get(*w).copied().unwrap_or(0))
            .sum();
        let active = loaded.iter().find(|c| c.id == row.id);
        let state = crate::report::campaign_state(row, waiting, active, now, lang).text;
        out.push_str(&format!(
            "{:<24} {:<13} {}/{} {}  {}\n",
            row.id,
            lang.label(&row.kind),
            stats.contacts - waiting,
            stats.contacts,
            lang.text("campaigns.done"),
            state
        ));
    }
    store.close().await;
    for e in errors {
        out.push_str(&format!(
            "{}: {}\n",
            lang.text("campaigns.error"),
            lang.render(&e)
        ));
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
    let entry = dnc::entry(raw, until, hours, "cli", region).map_err(UserError::new)?;
    let store = app::open_store(config).await?;
    store
        .dnc_upsert(std::slice::from_ref(&entry), now.timestamp_millis())
        .await?;
    store.close().await;
    Ok(dnc_added(config.ui.language, &entry))
}

/// What `dnc add` says of the entry it stored.
fn dnc_added(lang: Lang, entry: &crate::store::DncEntry) -> String {
    format!(
        "{}\n",
        lang.fill(
            "dnc.added",
            &[("phone", &entry.phone), ("when", &describe(lang, entry))]
        )
    )
}

/// ` until 2026-12-31, during mon-fri 09:00-14:00`, or nothing for good.
fn describe(lang: Lang, e: &crate::store::DncEntry) -> String {
    let text = match (&e.until_date, &e.hours) {
        (None, None) => return String::new(),
        (Some(u), None) => lang.fill("dnc.until", &[("until", u)]),
        (None, Some(h)) => lang.fill("dnc.during", &[("hours", h)]),
        (Some(u), Some(h)) => lang.fill("dnc.until_during", &[("until", u), ("hours", h)]),
    };
    format!(" {text}")
}

/// `pregonero dnc remove`.
pub async fn dnc_remove(config: &Config, raw: &str) -> anyhow::Result<String> {
    let region = phone::region(&config.calling.default_region);
    let number = phone::normalize(raw, region).map_err(|e| UserError::new(e.msg()))?;
    let store = app::open_store(config).await?;
    let removed = store.dnc_remove(&number).await?;
    store.close().await;
    if !removed {
        return Err(UserError::new(Msg::new("dnc.not_listed").arg("phone", &number)).into());
    }
    Ok(format!(
        "{}\n",
        config
            .ui
            .language
            .fill("dnc.removed", &[("phone", &number)])
    ))
}

/// `pregonero dnc list`.
pub async fn dnc_list(config: &Config) -> anyhow::Result<String> {
    let store = app::open_store(config).await?;
    let list = store.dnc_list().await?;
    store.close().await;
    Ok(dnc_listed(config.ui.language, &list))
}

/// One line per entry (its source as stored), then the count.
fn dnc_listed(lang: Lang, list: &[crate::store::DncEntry]) -> String {
    let mut out = String::new();
    for e in list {
        out.push_str(&format!(
            "{}{}  ({})\n",
            e.phone,
            describe(lang, e),
            e.source
        ));
    }
    out.push_str(&format!(
        "{}\n",
        lang.fill("dnc.count", &[("n", &list.len())])
    ));
    out
}

/// `pregonero dnc import FILE`.
pub async fn dnc_import(
    config: &Config,
    path: &std::path::Path,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let region = phone::region(&config.calling.default_region);
    let store = app::open_store(config).await?;
    let result = dnc::import(&store, path, region, now.timestamp_millis()).await;
    store.close().await;
    let (n, rejects) = result.map_err(UserError::new)?;
    Ok(dnc_imported(config.ui.language, path, n, &rejects))
}

/// The count of a `dnc import`, then each row that could not be read.
fn dnc_imported(lang: Lang, path: &std::path::Path, n: u64, rejects: &[dnc::DncReject]) -> String {
    let mut out = format!(
        "{}\n",
        lang.fill(
            "check.dnc_file",
            &[("file", &path.display()), ("count", &n)]
        )
    );
    for r in rejects {
        out.push_str(&format!(
            "  {}\n",
            lang.fill(
                "check.line",
                &[("line", &r.line), ("error", &lang.render(&r.error))]
            )
        ));
    }
    out
}

/// `dnc import FILE --hashed`: a hashed exclusion list (see [`crate::exclusion`]).
pub async fn dnc_import_hashed(
    config: &Config,
    path: &std::path::Path,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let digests = crate::exclusion::read_hashed(path).map_err(UserError::new)?;
    let store = app::open_store(config).await?;
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
        "{}\n",
        config.ui.language.fill(
            "dnc.hashed",
            &[
                ("file", &path.display()),
                ("read", &digests.len()),
                ("added", &added)
            ]
        )
    ))
}

/// The quality of one CSV file, as `check` reports it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FileQuality {
    pub rows_read: u64,
    pub valid: u64,
    pub rejected: u64,
    /// Reasons with their counts and the first lines that have them (the reason is the full
    /// message when only one row has it), most frequent first.
    pub reasons: Vec<(Msg, u64, Vec<u64>)>,
    pub duplicates: u64,
    pub dnc_hits: u64,
    /// `(country, mobile, landline, other)`.
    pub countries: Vec<(String, u64, u64, u64)>,
    /// Valid contacts with no calling window in the next 7 days (in their own zone).
    pub no_window_7d: u64,
    /// Valid contacts with no region for the holiday calendar (none when it has no regions),
    /// and what they observe instead.
    pub no_region: u64,
    /// Whether they observe every region's holidays (`unknown_region = "any"`) rather than
    /// the national ones only.
    pub no_region_any: bool,
    /// Valid contacts whose possible zones share no window in the next 7 days: called in the
    /// campaign's zone.
    pub in_campaign_zone: u64,
    /// The header cells as written (for the template check).
    pub headers: Vec<String>,
}

/// Reads a file the way an import would (streaming) and measures it, without storing anything.
pub fn file_quality(
    path: &std::path::Path,
    c: &ActiveCampaign,
    region: Option<phonenumber::country::Id>,
    dnc: &std::collections::HashSet<String>,
    now: DateTime<Utc>,
) -> anyhow::Result<FileQuality> {
    use std::collections::BTreeMap;
    let mut q = FileQuality::default();
    let mut reasons = crate::campaign::csv::RejectTally::default();
    let mut countries: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let horizon = now + chrono::Duration::days(7);
    let summary = crate::campaign::csv::stream_file_checking(
        path,
        region,
        c.consent_policy(now.with_timezone(&c.plan.tz).date_naive()),
        5_000,
        |_, batch| -> Result<(), String> {
            for r in &batch.rejected {
                reasons.add(r);
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
                let place = c.plan.place(&contact.vars_json, &contact.phone);
                if place.is_none() && !c.plan.regional.is_empty() {
                    q.no_region += 1;
                }
                let window = c.plan.window_for(place.as_ref());
                let (zones, fallback) = c.plan.call_zones(window, zones, now);
                if fallback {
                    q.in_campaign_zone += 1;
                }
                match window.next_open_all(now, &zones) {
                    Some(t) if t <= horizon => {}
                    _ => q.no_window_7d += 1,
                }
            }
            Ok(())
        },
    )
    .map_err(|e| match e {
        crate::campaign::csv::StreamError::Csv(e) => anyhow::Error::new(UserError::from(e)),
        crate::campaign::csv::StreamError::Sink(e) => anyhow::anyhow!("{e}"),
    })?;
    q.no_region_any = c.plan.unknown_any;
    q.headers = summary.layout.headers.clone();
    q.rows_read = summary.rows_read;
    q.valid = summary.contacts;
    q.rejected = summary.rejected;
    q.duplicates = summary.duplicates;
    q.reasons = reasons.reasons();
    q.countries = countries
        .into_iter()
        .map(|(k, (m, l, o))| (k, m, l, o))
        .collect();
    Ok(q)
}

impl FileQuality {
    /// What `check` prints under the file's name, in a language.
    pub fn render(&self, lang: Lang) -> String {
        // Singular or plural: the key, or the key with `_n`.
        let n = |count: u64, key: &str| -> String {
            if count == 1 {
                lang.fill(key, &[("n", &count)])
            } else {
                lang.fill(&format!("{key}_n"), &[("n", &count)])
            }
        };
        let mut out = String::new();
        out.push_str(&format!(
            "    {}\n",
            lang.fill(
                "quality.read",
                &[
                    ("rows", &n(self.rows_read, "quality.rows")),
                    ("valid", &n(self.valid, "quality.valid")),
                    ("rejected", &n(self.rejected, "quality.rejected")),
                    ("duplicates", &n(self.duplicates, "quality.duplicates")),
                    ("dnc", &self.dnc_hits),
                ]
            )
        ));
        for line in crate::campaign::csv::reason_lines(lang, &self.reasons) {
            out.push_str(&format!("    {line}\n"));
        }
        for (country, m, l, o) in &self.countries {
            let country = lang.render(&crate::campaign::phone::country_msg(country));
            out.push_str(&format!(
                "    {}\n",
                lang.fill(
                    "quality.numbers_in",
                    &[
                        ("country", &country),
                        ("mobile", m),
                        ("landline", l),
                        ("other", o)
                    ]
                )
            ));
        }
        if self.no_region > 0 {
            let observes = if self.no_region_any {
                "quality.observes_any"
            } else {
                "quality.observes_national"
            };
            out.push_str(&format!(
                "    {}\n",
                lang.fill(
                    "quality.no_region",
                    &[("n", &self.no_region), ("observes", &lang.text(observes))]
                )
            ));
        }
        if self.in_campaign_zone > 0 {
            out.push_str(&format!(
                "    {}\n",
                lang.fill("quality.campaign_zone", &[("n", &self.in_campaign_zone)])
            ));
        }
        if self.no_window_7d > 0 {
            out.push_str(&format!(
                "    {}\n",
                lang.fill("quality.no_window", &[("n", &self.no_window_7d)])
            ));
        }
        out
    }
}

impl std::fmt::Display for FileQuality {
    /// In Spanish, the default language.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(Lang::Es))
    }
}

/// An error and its causes on one line, each cause said once: a cause whose text its parent's
/// message already holds (sqlx wraps the same SQLite message three times) is left out. In
/// Spanish, the default language; [`error_line_in`] for the configured one.
pub fn error_line(e: &anyhow::Error) -> String {
    Lang::Es.error_line(e)
}

/// The `error: …` line of a failed command, in a language.
pub fn error_line_in(e: &anyhow::Error, lang: Lang) -> String {
    format!("{}: {}", lang.text("error"), lang.error_line(e))
}

/// `pregonero holidays [--year Y] [--region R] [--campaign C]`: the holiday calendar in force,
/// one line per day (date, weekday, name, scope), for a region or province (code or name), or
/// for callees with no region; `[calling]`'s settings, or a campaign's with `--campaign`. In
/// `[ui] language`; the holidays' names are the calendar's own.
pub fn holidays(
    config: &Config,
    year: Option<i32>,
    region: Option<&str>,
    campaign: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    use crate::campaign::plan::CampaignPlan;
    use crate::schedule::regions::{self, Place, PlaceSource, Scope};
    let tz: chrono_tz::Tz = config
        .calling
        .timezone
        .parse()
        .unwrap_or(chrono_tz::Europe::Madrid);
    let lang = config.ui.language;
    let year = year.unwrap_or_else(|| now.with_timezone(&tz).year());
    let mid_year = chrono::NaiveDate::from_ymd_opt(year, 7, 1)
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        .ok_or_else(|| UserError::new(Msg::new("holidays.bad_year").arg("year", year)))?;
    let mut calendar = config.calling.holiday_calendar.clone();
    let (plan, whose) = match campaign {
        Some(id) => {
            let c = find_campaign(config, id, now)?;
            if let Some(own) = &c.holiday_calendar {
                calendar = own.clone();
            }
            let whose = lang.fill("holidays.campaign", &[("id", &id)]);
            let plan = CampaignPlan::build(&c.def, &config.calling, mid_year).map_err(|e| {
                UserError::new(Msg::new("error.in").arg("what", &whose).msg("error", e))
            })?;
            (plan, whose)
        }
        None => {
            let text =
                "kind = \"announcement\"\ncaller_id = \"0\"\n[announcement]\nmessage = \"-\"\n";
            let dir = std::path::Path::new(".");
            let c = crate::campaign::Campaign::parse("calling", dir, dir, text)?;
            let plan = CampaignPlan::build(&c, &config.calling, mid_year).map_err(|e| {
                UserError::new(
                    Msg::new("error.in")
                        .arg("what", "[calling]")
                        .msg("error", e),
                )
            })?;
            (plan, "[calling]".to_string())
        }
    };
    let place = match region {
        None => None,
        Some(r) => {
            let scope = regions::scope_by_name(r)
                .ok_or_else(|| UserError::new(Msg::new("holidays.bad_region").arg("region", r)))?;
            Some(Place {
                region: scope.region().unwrap_or("MD"),
                province: match scope {
                    Scope::Province(p) => Some(p),
                    Scope::Region(_) => None,
                },
                source: PlaceSource::Campaign,
            })
        }
    };
    let window = plan.window_for(place.as_ref());
    let for_whom = match (&place, region) {
        (Some(p), Some(r)) => match p.province.and_then(regions::province_name) {
            Some(name) => lang.fill(
                "holidays.province",
                &[("name", &name), ("region", &p.region)],
            ),
            None => lang.fill(
                "holidays.for_region",
                &[("region", &p.region), ("name", &r)],
            ),
        },
        _ if plan.unknown_any => lang.text("holidays.no_region_any").to_string(),
        _ => lang.text("holidays.no_region_national").to_string(),
    };
    let mut out = format!(
        "{}\n",
        lang.fill(
            "holidays.title",
            &[
                ("year", &year),
                ("calendar", &calendar),
                ("whose", &whose),
                ("for_whom", &for_whom)
            ]
        )
    );
    let mut n = 0;
    for (date, h) in window.holidays.entries().filter(|(d, _)| d.year() == year) {
        out.push_str(&format!(
            "  {date}  {}  {:<55} {}\n",
            lang.weekday(date.weekday()),
            lang.render(&h.name_msg()),
            lang.render(&h.scope_msg())
        ));
        n += 1;
    }
    if n == 0 {
        out.push_str(&format!("  {}\n", lang.text("holidays.none")));
    }
    if !(crate::schedule::holidays::FIRST_YEAR..=crate::schedule::holidays::LAST_YEAR)
        .contains(&year)
        && calendar.trim().eq_ignore_ascii_case("es")
    {
        out.push_str(&format!(
            "  {}\n",
            lang.fill(
                "holidays.coverage",
                &[
                    ("first", &crate::schedule::holidays::FIRST_YEAR),
                    ("last", &crate::schedule::holidays::LAST_YEAR)
                ]
            )
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_counts_mobiles_called_in_the_campaign_zone_and_contacts_with_a_region() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("tarde");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("campaign.toml"), "kind = \"announcement\"\ncaller_id = \"+34910000000\"\nhours = [\"mon-fri 20:00-21:00\"]\n[announcement]\nmessage = \"Hola\"\n").unwrap();
        let csv = dir.join("a.csv");
        std::fs::write(
            &csv,
            "telefono;provincia\n600000001;Sevilla\n600000002;\n910000003;\n",
        )
        .unwrap();
        let mut config = Config::default();
        config.campaigns.dir = root.path().to_path_buf();
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let (loaded, errors) = app::load_campaigns(&config, now);
        assert!(errors.is_empty(), "{errors:?}");
        let q = file_quality(
            &csv,
            &loaded[0],
            phone::region("ES"),
            &Default::default(),
            now,
        )
        .unwrap();
        assert_eq!(
            (q.valid, q.no_region, q.in_campaign_zone, q.no_window_7d),
            (3, 1, 2, 0)
        );
        let text = q.render(Lang::En);
        assert!(
            text.contains("2 contacts may be in several time zones"),
            "{text}"
        );
        assert!(text.contains("1 contacts have no region"), "{text}");
        assert!(text.contains("national holidays only"), "{text}");
    }

    #[test]
    fn the_holidays_command_lists_the_calendar_in_force() {
        let mut config = Config::default();
        config.ui.language = Lang::En;
        config.calling.holidays = vec!["2026-09-24 Barcelona".into(), "2026-06-05".into()];
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let out = holidays(&config, None, Some("barcelona"), None, now).unwrap();
        assert!(
            out.starts_with("Holidays 2026, calendar ES, [calling], province Barcelona (CT):"),
            "{out}"
        );
        for line in [
            "  2026-09-11  Fri  Fiesta Nacional de Cataluña",
            "  2026-09-24  Thu  Local holiday",
            "  2026-06-05  Fri  Local holiday",
            "  2026-04-06  Mon  Lunes de Pascua",
        ] {
            assert!(out.contains(line), "{line}\n{out}");
        }
        assert!(out.contains("local, Barcelona"), "{out}");
        config.ui.language = Lang::Es;
        let es = holidays(&config, None, Some("barcelona"), None, now).unwrap();
        assert!(es.contains("  2026-09-24  jue  Fiesta local"), "{es}");
        config.ui.language = Lang::En;
        assert!(!out.contains("Jueves Santo"), "{out}");
        let md = holidays(&config, Some(2026), Some("MD"), None, now).unwrap();
        assert!(
            md.contains("2026-11-02  Mon  Lunes siguiente a Todos los Santos"),
            "{md}"
        );
        assert!(!md.contains("2026-09-24"), "{md}");
        let national = holidays(&config, Some(2026), None, None, now).unwrap();
        assert_eq!(national.lines().count(), 1 + 10 + 1, "{national}");
        let later = holidays(&config, Some(2031), Some("CT"), None, now).unwrap();
        assert!(later.contains("cover 2024-2030"), "{later}");
        let err = holidays(&config, None, Some("Narnia"), None, now).unwrap_err();
        assert!(
            Lang::En
                .error_line(&err)
                .contains("--region \"Narnia\" is not a Spanish region"),
            "{err}"
        );
    }

    #[test]
    fn the_holidays_command_speaks_spanish_by_default() {
        let mut config = Config::default();
        config.calling.holidays = vec!["2026-09-24 Barcelona".into()];
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let out = holidays(&config, None, Some("barcelona"), None, now).unwrap();
        assert!(
            out.starts_with(
                "Festivos de 2026, calendario ES, [calling], provincia Barcelona (CT):"
            ),
            "{out}"
        );
        assert!(
            out.contains("  2026-09-11  vie  Fiesta Nacional de Cataluña"),
            "{out}"
        );
        let national = holidays(&config, Some(2026), None, None, now).unwrap();
        assert!(
            national.contains("destinatarios sin región (solo días nacionales"),
            "{national}"
        );
        let later = holidays(&config, Some(2031), Some("CT"), None, now).unwrap();
        assert!(later.contains("cubren 2024-2030"), "{later}");
        let err = holidays(&config, None, Some("Narnia"), None, now).unwrap_err();
        assert_eq!(
            Lang::Es.error_line(&err),
            "--region \"Narnia\" no es una comunidad autónoma (p. ej. CT, Cataluña) ni una provincia (p. ej. Barcelona, 08) de España"
        );
    }

    fn entry(until: Option<&str>, hours: Option<&str>) -> crate::store::DncEntry {
        crate::store::DncEntry {
            phone: "+34600000001".into(),
            until_date: until.map(String::from),
            hours: hours.map(String::from),
            source: "cli".into(),
        }
    }

    #[test]
    fn dnc_output_is_spanish_by_default_and_english_with_en() {
        let until = entry(Some("2026-12-31"), None);
        let both = entry(Some("2026-12-31"), Some("mon-fri 09:00-14:00"));
        assert_eq!(
            dnc_added(Lang::Es, &until),
            "+34600000001 está en la lista de no llamar hasta el 2026-12-31\n"
        );
        assert_eq!(
            dnc_added(Lang::En, &until),
            "+34600000001 is on the do-not-call list until 2026-12-31\n"
        );
        assert_eq!(
            dnc_listed(Lang::Es, &[entry(None, None), both.clone()]),
            "+34600000001  (cli)\n+34600000001 hasta el 2026-12-31, en el horario mon-fri 09:00-14:00  (cli)\n2 número(s)\n"
        );
        assert_eq!(
            dnc_listed(Lang::En, std::slice::from_ref(&both)),
            "+34600000001 until 2026-12-31, during mon-fri 09:00-14:00  (cli)\n1 number(s)\n"
        );
        let rejects = [dnc::DncReject {
            line: 3,
            error: phone::PhoneError::Letters("hola".into()).msg(),
        }];
        let file = std::path::Path::new("bajas.csv");
        assert_eq!(
            dnc_imported(Lang::Es, file, 2, &rejects),
            "bajas.csv: 2 número(s) en la lista de no llamar\n  línea 3: \"hola\" no es un número de teléfono: tiene letras\n"
        );
        assert_eq!(
            dnc_imported(Lang::En, file, 2, &rejects),
            "bajas.csv: 2 number(s) on the do-not-call list\n  line 3: \"hola\" is not a phone number: it contains letters\n"
        );
        // A number that cannot be one: the error line in the reader's language.
        let e = anyhow::Error::new(UserError::new(
            dnc::entry("hola", None, None, "cli", phone::region("ES")).unwrap_err(),
        ));
        assert_eq!(
            error_line_in(&e, Lang::Es),
            "error: \"hola\" no es un número de teléfono: tiene letras"
        );
    }

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
        // The mobiles (Spanish and French) have no region; the Canary landline has one.
        assert_eq!(q.no_region, 2);
        assert_eq!(q.in_campaign_zone, 0);
        let text = q.render(Lang::En);
        assert!(text.contains("2 contacts have no region"), "{text}");
        assert!(
            text.contains("rejected 2×") && text.contains("lines 4, 5"),
            "{text}"
        );
        // Counts of one are singular.
        assert!(
            text.starts_with("    6 rows read: 3 valid contacts, 2 rejected, 1 duplicate merged, 1 on the do-not-call list\n"),
            "{text}"
        );
    }

    #[test]
    fn an_error_says_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("error returned from database: (code: 1) table campaigns already exists")]
        struct Inner;
        #[derive(Debug, thiserror::Error)]
        #[error("database migration failed: while executing migrations: {0}")]
        struct Outer(#[source] Inner);
        let e = anyhow::Error::new(Outer(Inner)).context("cannot open the store");
        assert_eq!(
            error_line(&e),
            "cannot open the store: database migration failed: while executing migrations: error returned from database: (code: 1) table campaigns already exists"
        );
    }
}
