//! Campaign folders: `campaigns/<id>/campaign.toml` plus the CSV contact lists beside it.
//!
//! Loading a campaign validates every key up front, so a typo is reported when the folder is
//! read (with the file and the key), never discovered in the middle of a call.

pub mod capture;
pub mod consent;
pub mod csv;
pub mod dates;
pub mod desk;
pub mod dnc;
pub mod import;
pub mod phone;
pub mod plan;
pub mod settings;

// The retry delays are read from campaign.toml here but belong to the retry plan below us.
pub use crate::schedule::RetryDelays;
pub use settings::{
    AnnouncementSettings, FlowSettings, PromotionSettings, ReminderSettings, SalesSettings,
    SurveyQuestion, SurveySettings, TransferTarget,
};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::i18n::Msg;
use crate::schedule::ContactState;

/// A campaign folder that could not be loaded; the message names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not TOML, or a key is unknown or of the wrong type: the TOML parser's own
    /// words (English), with the line when it gives one.
    #[error("{path}: {}", syntax_en(*.line, .message))]
    Syntax {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// A rule of the file is broken: the sentence from the catalogue (`Display` in English, for
    /// logs).
    #[error("{path}: {}", crate::i18n::Lang::En.render(.rule))]
    Invalid {
        path: PathBuf,
        rule: crate::i18n::Msg,
    },
}

fn syntax_en(line: Option<usize>, message: &str) -> String {
    match line {
        Some(l) => format!("line {l}: {message}"),
        None => message.to_string(),
    }
}

impl CampaignError {
    /// The sentence for people, in their language (`check`, `campaigns`, the `error:` line).
    pub fn msg(&self) -> crate::i18n::Msg {
        use crate::i18n::Msg;
        match self {
            CampaignError::Read { path, source } => Msg::read_error(path, source),
            CampaignError::Syntax {
                path,
                line: Some(n),
                message,
            } => Msg::new("error.campaign_invalid_line")
                .arg("file", path.display())
                .arg("line", n)
                .arg("error", message),
            CampaignError::Syntax {
                path,
                line: None,
                message,
            } => Msg::new("error.campaign_invalid")
                .arg("file", path.display())
                .arg("error", message),
            CampaignError::Invalid { path, rule } => Msg::new("error.campaign_invalid")
                .arg("file", path.display())
                .msg("error", rule.clone()),
        }
    }
}

impl From<CampaignError> for crate::i18n::UserError {
    fn from(e: CampaignError) -> Self {
        crate::i18n::UserError::new(e.msg())
    }
}

/// The five campaign kinds of the product contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Reminder,
    Announcement,
    Promotion,
    Survey,
    Sales,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        [
            Kind::Reminder,
            Kind::Announcement,
            Kind::Promotion,
            Kind::Survey,
            Kind::Sales,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Reminder => "reminder",
            Kind::Announcement => "announcement",
            Kind::Promotion => "promotion",
            Kind::Survey => "survey",
            Kind::Sales => "sales",
        }
    }

    /// The kind-specific outcomes, in the order reports list them.
    pub fn outcomes(self) -> &'static [ContactState] {
        use ContactState::*;
        match self {
            Kind::Reminder => &[Confirmed, Cancelled, Transferred, NoResponse],
            Kind::Announcement => &[Delivered, NoResponse],
            Kind::Promotion => &[Transferred, Interested, OptedOut, NotInterested],
            Kind::Survey => &[Completed, Partial],
            Kind::Sales => &[Connected, Abandoned],
        }
    }

    /// The state of a call that was answered but reached no outcome of its flow (the callee hung
    /// up before the first key, or before the first control request arrived): always one of
    /// the kind's own outcomes, so every contact stays inside its kind's closed list.
    pub fn answered_without_outcome(self) -> ContactState {
        match self {
            Kind::Reminder | Kind::Announcement => ContactState::NoResponse,
            Kind::Promotion => ContactState::NotInterested,
            Kind::Survey => ContactState::Partial,
            Kind::Sales => ContactState::Abandoned,
        }
    }

    /// Every contact state that applies to this kind: waiting states, the kind's outcomes and
    /// the outcomes common to every kind. This is the closed list of product.md.
    pub fn states(self) -> Vec<ContactState> {
        use ContactState::*;
        let mut v = vec![Pending, Scheduled, InProgress];
        v.extend_from_slice(self.outcomes());
        for common in COMMON_OUTCOMES {
            if !v.contains(common) {
                v.push(*common);
            }
        }
        v
    }
}

/// Outcomes every kind can end in.
pub const COMMON_OUTCOMES: &[ContactState] = &[
    ContactState::Unreachable,
    ContactState::InvalidNumber,
    ContactState::Blocked,
    ContactState::Expired,
    ContactState::Failed,
];

/// Text-to-speech settings of a campaign (`[voice]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Voice {
    /// `google` or `netelip`.
    pub provider: String,
    /// Language code for google, voice name for netelip.
    pub language: String,
    /// 1–2, google only.
    pub speed: Option<f64>,
}

impl Default for Voice {
    fn default() -> Self {
        Self {
            provider: "google".into(),
            language: "es".into(),
            speed: None,
        }
    }
}

/// A campaign's own `[inbound]`: what it changes of the daemon's callback settings
/// (`crate::callbacks`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundSettings {
    /// pregonero calls back the callers nobody took, in their next calling window.
    pub call_back: Option<bool>,
}

/// A validated campaign definition.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: String,
    pub dir: PathBuf,
    pub kind: Kind,
    pub title: String,
    pub caller_id: String,
    /// Demo campaigns are dialed only by the simulator, never by the real provider.
    pub demo: bool,
    pub schedule: Option<String>,
    pub hours: Option<Vec<String>>,
    pub timezone: Option<String>,
    pub holiday_calendar: Option<String>,
    pub holidays: Option<Vec<String>>,
    /// The region (ISO 3166-2:ES code or name) whose holidays apply to callees with no region
    /// of their own.
    pub holiday_region: Option<String>,
    /// `national` or `any`: the holidays of a callee whose region is unknown.
    pub unknown_region: Option<String>,
    /// First day of dialing (local date in the campaign's zone).
    pub start: Option<chrono::NaiveDate>,
    /// Last day of dialing, inclusive; afterwards waiting contacts end `expired`.
    pub end: Option<chrono::NaiveDate>,
    /// Reminders: how long before the contact's appointment the call is due.
    pub call_before: Option<Duration>,
    pub calls_per_second: Option<f64>,
    pub max_concurrent_calls: Option<u32>,
    pub ring_seconds: u32,
    pub max_attempts: u32,
    pub retry: RetryDelays,
    pub voice: Voice,
    pub flow: FlowSettings,
    /// The desk's keys (`script`, `dispositions`, `wrapup_seconds`): see `crate::desk`.
    pub desk: desk::DeskSettings,
    /// `[events]`: where this campaign's events are POSTed, and which (`crate::events`).
    pub events: Option<crate::events::EventsSettings>,
    /// `[inbound]`: what this campaign changes of the daemon's callback settings.
    pub inbound: InboundSettings,
    /// `[[capture]]` steps: what the callee is asked to say, stored per contact.
    pub captures: Vec<capture::CaptureSettings>,
    /// Rows without a valid consent date are rejected (default for promotion and sales).
    pub require_consent: bool,
    /// How long consent lasts from the date it was given.
    pub consent_valid_for: Option<consent::ValidFor>,
    /// The file as read, stored with the campaign for reference.
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignFile {
    kind: Kind,
    #[serde(default)]
    title: String,
    caller_id: String,
    #[serde(default)]
    demo: bool,
    schedule: Option<String>,
    hours: Option<Vec<String>>,
    timezone: Option<String>,
    holiday_calendar: Option<String>,
    holidays: Option<Vec<String>>,
    holiday_region: Option<String>,
    unknown_region: Option<String>,
    start: Option<String>,
    end: Option<String>,
    calls_per_second: Option<f64>,
    max_concurrent_calls: Option<u32>,
    #[serde(default = "default_ring")]
    ring_seconds: u32,
    #[serde(default = "default_max_attempts")]
    max_attempts: u32,
    #[serde(default)]
    retry: BTreeMap<String, String>,
    #[serde(default)]
    voice: Voice,
    reminder: Option<settings::ReminderFile>,
    announcement: Option<settings::AnnouncementFile>,
    promotion: Option<settings::PromotionFile>,
    survey: Option<settings::SurveyFile>,
    sales: Option<settings::SalesFile>,
    script: Option<String>,
    dispositions: Option<Vec<desk::DispositionFile>>,
    wrapup_seconds: Option<u32>,
    events: Option<crate::events::EventsFile>,
    #[serde(default)]
    inbound: InboundSettings,
    #[serde(default)]
    capture: Vec<capture::CaptureFile>,
    require_consent: Option<bool>,
    consent_valid_for: Option<String>,
}

/// A campaign's name: letters and digits of any script ("campaña-otoño"), '-' and '_', so that
/// it is safe in a path, a URL segment and a metric label once escaped.
fn check_id(id: &str) -> Result<(), Msg> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Msg::new("rule.campaign_id").arg("id", id));
    }
    Ok(())
}

/// A campaign's dates, checked.
struct Dates {
    start: Option<chrono::NaiveDate>,
    end: Option<chrono::NaiveDate>,
    call_before: Option<Duration>,
}

impl CampaignFile {
    /// Attempts, ring time, pace, time zone and voice provider within their bounds.
    fn check_limits(&self) -> Result<(), Msg> {
        if self.max_attempts == 0 {
            return Err(Msg::new("config.at_least_1").arg("key", "max_attempts"));
        }
        settings::between("ring_seconds", self.ring_seconds, 5, 120)?;
        if let Some(cps) = self.calls_per_second {
            if cps.is_nan() || cps <= 0.0 {
                return Err(Msg::new("config.greater_than_0").arg("key", "calls_per_second"));
            }
        }
        if self.max_concurrent_calls == Some(0) {
            return Err(Msg::new("config.at_least_1").arg("key", "max_concurrent_calls"));
        }
        if let Some(tz) = &self.timezone {
            if tz.parse::<chrono_tz::Tz>().is_err() {
                return Err(Msg::new("config.bad_timezone")
                    .arg("key", "timezone")
                    .arg("value", tz));
            }
        }
        if !matches!(self.voice.provider.as_str(), "google" | "netelip") {
            return Err(Msg::new("rule.voice_provider").arg("value", &self.voice.provider));
        }
        Ok(())
    }

    /// `[retry]`: a delay per result, the defaults for those not given.
    fn retry_delays(&self) -> Result<RetryDelays, Msg> {
        let mut retry = RetryDelays::default();
        for (key, value) in &self.retry {
            let d = parse_duration(value).ok_or_else(|| {
                Msg::new("rule.retry_duration")
                    .arg("key", format!("retry.{key}"))
                    .arg("value", value)
            })?;
            match key.as_str() {
                "busy" => retry.busy = d,
                "no_answer" => retry.no_answer = d,
                "failed" => retry.failed = d,
                "unreachable" => retry.unreachable = d,
                other => {
                    return Err(Msg::new("rule.retry_unknown").arg("key", format!("retry.{other}")))
                }
            }
        }
        Ok(retry)
    }

    /// `start`, `end` (not before `start`) and a reminder's `call_before`.
    fn dates(&self) -> Result<Dates, Msg> {
        let date = |key: &str, v: &Option<String>| -> Result<Option<chrono::NaiveDate>, Msg> {
            v.as_deref()
                .map(|t| {
                    chrono::NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
                        .map_err(|_| Msg::new("rule.date").arg("key", key).arg("value", t))
                })
                .transpose()
        };
        let start = date("start", &self.start)?;
        let end = date("end", &self.end)?;
        if let (Some(s), Some(e)) = (start, end) {
            if e < s {
                return Err(Msg::new("rule.end_before_start")
                    .arg("end", e)
                    .arg("start", s));
            }
        }
        let call_before = match self
            .reminder
            .as_ref()
            .and_then(|r| r.call_before.as_deref())
        {
            Some(v) => Some(
                parse_duration(v).ok_or_else(|| Msg::new("rule.call_before").arg("value", v))?,
            ),
            None => None,
        };
        Ok(Dates {
            start,
            end,
            call_before,
        })
    }

    /// The flow of the campaign's kind, from its section (the only kind section present).
    fn flow(&self) -> Result<FlowSettings, Msg> {
        let present = |k: Kind| match k {
            Kind::Reminder => self.reminder.is_some(),
            Kind::Announcement => self.announcement.is_some(),
            Kind::Promotion => self.promotion.is_some(),
            Kind::Survey => self.survey.is_some(),
            Kind::Sales => self.sales.is_some(),
        };
        for other in [
            Kind::Reminder,
            Kind::Announcement,
            Kind::Promotion,
            Kind::Survey,
            Kind::Sales,
        ] {
            if other != self.kind && present(other) {
                return Err(Msg::new("rule.other_section")
                    .arg("section", other.as_str())
                    .arg("kind", self.kind.as_str()));
            }
        }
        let missing = || Msg::new("rule.missing_section").arg("kind", self.kind.as_str());
        match self.kind {
            Kind::Reminder => self
                .reminder
                .clone()
                .ok_or_else(missing)?
                .settings()
                .map(FlowSettings::Reminder),
            Kind::Announcement => self
                .announcement
                .clone()
                .ok_or_else(missing)?
                .settings()
                .map(FlowSettings::Announcement),
            Kind::Promotion => self
                .promotion
                .clone()
                .ok_or_else(missing)?
                .settings()
                .map(FlowSettings::Promotion),
            Kind::Survey => self
                .survey
                .clone()
                .ok_or_else(missing)?
                .settings()
                .map(FlowSettings::Survey),
            Kind::Sales => self
                .sales
                .clone()
                .ok_or_else(missing)?
                .settings()
                .map(FlowSettings::Sales),
        }
    }

    /// Whether a contact needs a consent basis (promotions and sales by default), and for how
    /// long a consent holds.
    fn consent(&self) -> Result<(bool, Option<consent::ValidFor>), Msg> {
        let require = self
            .require_consent
            .unwrap_or(matches!(self.kind, Kind::Promotion | Kind::Sales));
        let valid_for = match &self.consent_valid_for {
            Some(v) => Some(
                consent::ValidFor::parse(v)
                    .ok_or_else(|| Msg::new("rule.consent_valid_for").arg("value", v))?,
            ),
            None => None,
        };
        Ok((require, valid_for))
    }
}

fn default_ring() -> u32 {
    30
}
fn default_max_attempts() -> u32 {
    3
}

impl Campaign {
    /// What an import checks of each row's consent on `today` (the campaign's local date);
    /// `None` when the campaign does not require consent.
    pub fn consent_policy(&self, today: chrono::NaiveDate) -> Option<consent::ConsentPolicy> {
        self.require_consent.then_some(consent::ConsentPolicy {
            valid_for: self.consent_valid_for,
            today,
        })
    }

    /// Loads and validates `<dir>/campaign.toml`; the folder name is the campaign id.
    pub fn load(dir: &Path) -> Result<Campaign, CampaignError> {
        let path = dir.join("campaign.toml");
        let text = std::fs::read_to_string(&path).map_err(|source| CampaignError::Read {
            path: path.clone(),
            source,
        })?;
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::parse(&id, dir, &path, &text)
    }

    /// Parses the text of a `campaign.toml`; `path` is only used in error messages.
    pub fn parse(id: &str, dir: &Path, path: &Path, text: &str) -> Result<Campaign, CampaignError> {
        let invalid = |rule: crate::i18n::Msg| CampaignError::Invalid {
            path: path.to_path_buf(),
            rule,
        };
        let file: CampaignFile = toml::from_str(text).map_err(|e| CampaignError::Syntax {
            path: path.to_path_buf(),
            line: e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
            message: e.message().to_string(),
        })?;
        check_id(id).map_err(invalid)?;
        file.check_limits().map_err(invalid)?;
        let retry = file.retry_delays().map_err(invalid)?;
        let Dates {
            start,
            end,
            call_before,
        } = file.dates().map_err(invalid)?;
        let flow = file.flow().map_err(invalid)?;
        let (require_consent, consent_valid_for) = file.consent().map_err(invalid)?;
        let desk = desk::DeskSettings::build(
            file.script.clone(),
            file.dispositions.clone(),
            file.wrapup_seconds,
        )
        .map_err(invalid)?;
        let events = match &file.events {
            Some(e) => e.settings().map_err(invalid)?,
            None => None,
        };
        // A netelip voice is a name (`Pedro`), not a language: speech is then Spanish.
        let speech_language = match file.voice.provider.as_str() {
            "google" => file.voice.language.as_str(),
            _ => "es",
        };
        let captures = capture::captures(file.capture, speech_language).map_err(invalid)?;
        Ok(Campaign {
            id: id.to_string(),
            dir: dir.to_path_buf(),
            kind: file.kind,
            title: file.title,
            caller_id: file.caller_id,
            demo: file.demo,
            schedule: file.schedule,
            holiday_calendar: file.holiday_calendar,
            holidays: file.holidays,
            holiday_region: file.holiday_region,
            unknown_region: file.unknown_region,
            start,
            end,
            call_before,
            hours: file.hours,
            timezone: file.timezone,
            calls_per_second: file.calls_per_second,
            max_concurrent_calls: file.max_concurrent_calls,
            ring_seconds: file.ring_seconds,
            max_attempts: file.max_attempts,
            retry,
            voice: file.voice,
            flow,
            desk,
            events,
            inbound: file.inbound,
            captures,
            require_consent,
            consent_valid_for,
            source: text.to_string(),
        })
    }

    /// The retry policy, with delays divided by `time_scale` (the simulator's speed; 1 for real
    /// calls).
    pub fn retry_policy(&self, time_scale: f64) -> crate::schedule::RetryPolicy {
        let scale = |d: Duration| Duration::from_secs_f64(d.as_secs_f64() / time_scale.max(1e-9));
        crate::schedule::RetryPolicy {
            max_attempts: self.max_attempts,
            delays: RetryDelays {
                busy: scale(self.retry.busy),
                no_answer: scale(self.retry.no_answer),
                failed: scale(self.retry.failed),
                unreachable: scale(self.retry.unreachable),
            },
            end_at: None,
            answered_without_outcome: self.kind.answered_without_outcome(),
        }
    }

    /// Where this campaign's final outcomes are POSTed (reminders with `notify_url`).
    pub fn notify_url(&self) -> Option<&str> {
        match &self.flow {
            FlowSettings::Reminder(r) => r.notify_url.as_deref(),
            _ => None,
        }
    }

    /// Checks that every `{column}` of every spoken text exists in a CSV with these headers.
    /// `{cita}` and `{appointment}` are satisfied by an appointment column (`cita`,
    /// `appointment`, or `fecha` + `hora`). The error names the template key and the column.
    pub fn check_templates(&self, headers: &[String]) -> Result<(), crate::i18n::Msg> {
        let headers: Vec<String> = headers.iter().map(|h| csv::normalize_header(h)).collect();
        let has = |h: &str| headers.iter().any(|x| x == h);
        let has_appointment = has("cita") || has("appointment") || (has("fecha") && has("hora"));
        for (key, text) in self.flow.templates() {
            for col in template_columns(text) {
                let builtin = has_appointment && APPOINTMENT_VARS.contains(&col.as_str());
                if !builtin && !has(&col) {
                    return Err(crate::i18n::Msg::new("template.missing_column")
                        .arg("key", key)
                        .arg("column", &col)
                        .arg("columns", headers.join(", ")));
                }
            }
        }
        Ok(())
    }

    /// The CSV files of the campaign folder, sorted by name (rejects files excluded).
    pub fn csv_files(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().to_lowercase());
                match name {
                    Some(n) => {
                        n.ends_with(".csv")
                            && !n.ends_with(".rejected.csv")
                            && !n.starts_with('.')
                            && !n.starts_with("~$")
                    }
                    None => false,
                }
            })
            .collect();
        files.sort();
        Ok(files)
    }
}

/// Loads every campaign folder under `dir`. Broken folders are returned as errors beside the
/// good ones so that one typo does not stop the other campaigns.
pub fn load_all(dir: &Path) -> Result<Vec<Result<Campaign, CampaignError>>, CampaignError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CampaignError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("campaign.toml").is_file())
        .collect();
    dirs.sort();
    Ok(dirs.iter().map(|d| Campaign::load(d)).collect())
}

/// Parses `30s`, `10m`, `1h`, `2d` (and combinations such as `1h30m`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let mut total = 0u64;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return None,
        };
    }
    if !num.is_empty() {
        return None;
    }
    Some(Duration::from_secs(total))
}

/// Template names that speak the contact's appointment in words (see `crate::flow`).
pub const APPOINTMENT_VARS: &[&str] = &["cita", "appointment"];

/// The columns a template names, normalised like CSV headers, each once, in order.
pub fn template_columns(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        let name = csv::normalize_header(&after[..end]);
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
        rest = &after[end + 1..];
    }
    out
}

/// Fills `{column}` placeholders from the contact's variables; unknown names are left as is.
pub fn render_template(template: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match vars.get(&csv::normalize_header(name)) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Campaign, CampaignError> {
        Campaign::parse(
            "c1",
            Path::new("campaigns/c1"),
            Path::new("campaigns/c1/campaign.toml"),
            text,
        )
    }

    #[test]
    fn announcement_loads_with_defaults() {
        let c = parse(
            "kind = \"announcement\"\ncaller_id = \"+34910000000\"\nretry = { busy = \"5m\" }\n[announcement]\nmessage = \"Hola {nombre}\"\n",
        )
        .unwrap();
        assert_eq!(c.kind, Kind::Announcement);
        assert_eq!(c.max_attempts, 3);
        assert_eq!(c.retry.busy, Duration::from_secs(300));
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let e = parse("kind = \"announcement\"\ncaller_id = \"1\"\nring_secs = 3\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("campaign.toml") && e.contains("ring_secs") && e.contains("line 3"),
            "{e}"
        );
        let e = parse("kind = \"announcement\"\ncaller_id = \"1\"\nretry = { busy = \"soon\" }\n[announcement]\nmessage=\"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("retry.busy") && e.contains("soon"), "{e}");
        let e = parse("kind = \"robocall\"\ncaller_id = \"1\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("robocall"), "{e}");
    }

    #[test]
    fn campaign_rules_are_said_in_the_reader_s_language() {
        use crate::i18n::Lang;
        let bad = |extra: &str| {
            parse(&format!(
                "kind = \"announcement\"\ncaller_id = \"1\"\n{extra}\n[announcement]\nmessage = \"x\"\n"
            ))
            .unwrap_err()
            .msg()
        };
        let e = bad("ring_seconds = 3");
        assert_eq!(
            Lang::Es.render(&e),
            "campaigns/c1/campaign.toml no es válido: ring_seconds debe estar entre 5 y 120; es 3"
        );
        assert_eq!(
            Lang::En.render(&e),
            "campaigns/c1/campaign.toml is invalid: ring_seconds must be between 5 and 120, got 3"
        );
        let e = bad("retry = { busy = \"soon\" }");
        assert!(
            Lang::Es.render(&e).ends_with(
                "retry.busy: se esperaba una duración como 30s, 10m, 1h o 2d; es \"soon\""
            ),
            "{}",
            Lang::Es.render(&e)
        );
        let e = bad("start = \"2026-05-02\"\nend = \"2026-05-01\"");
        assert!(Lang::Es
            .render(&e)
            .ends_with("end 2026-05-01 es anterior a start 2026-05-02"));
        let e = bad("[promotion]\nmessage = \"y\"");
        assert!(
            Lang::Es
                .render(&e)
                .ends_with("tiene una sección [promotion] pero kind = \"announcement\""),
            "{}",
            Lang::Es.render(&e)
        );
        let e = bad("voice = { provider = \"polly\" }");
        assert!(Lang::Es.render(&e).contains("voice.provider debe ser"));
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172800)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("x"), None);
    }

    #[test]
    fn templates_fill_columns() {
        let mut v = BTreeMap::new();
        v.insert("nombre".to_string(), "Ana".to_string());
        assert_eq!(render_template("Hola {Nombre}, {x}", &v), "Hola Ana, {x}");
    }

    #[test]
    fn template_columns_are_listed_once_and_normalised() {
        assert_eq!(
            template_columns("Hola {Nombre}, {cita} {nombre} {Código Postal} {} {x"),
            vec!["nombre", "cita", "codigo_postal"]
        );
    }

    #[test]
    fn templates_must_name_csv_columns() {
        let c = parse(
            "kind = \"reminder\"\ncaller_id = \"1\"\n[reminder]\nmessage = \"Hola {nombre}, su cita del {cita}\"\nconfirmed_message = \"Le esperamos en {centro}\"\n",
        )
        .unwrap();
        let h = |cols: &[&str]| cols.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        assert_eq!(
            c.check_templates(&h(&["Teléfono", "Nombre", "Cita", "Centro"])),
            Ok(())
        );
        // `{cita}` is also the spoken form of fecha + hora.
        assert_eq!(
            c.check_templates(&h(&["telefono", "nombre", "fecha", "hora", "centro"])),
            Ok(())
        );
        let e = c
            .check_templates(&h(&["telefono", "nombre", "cita"]))
            .map_err(|m| crate::i18n::Lang::En.render(&m))
            .unwrap_err();
        assert_eq!(
            e,
            "reminder.confirmed_message uses {centro}, which is not a column of the CSV (columns: telefono, nombre, cita)"
        );
        let e = c
            .check_templates(&h(&["telefono", "nombre", "centro"]))
            .map_err(|m| crate::i18n::Lang::En.render(&m))
            .unwrap_err();
        assert!(e.starts_with("reminder.message uses {cita}"), "{e}");
    }

    #[test]
    fn state_list_is_closed_and_complete() {
        let s = Kind::Announcement.states();
        assert_eq!(
            s,
            vec![
                "pending",
                "scheduled",
                "in_progress",
                "delivered",
                "no_response",
                "unreachable",
                "invalid_number",
                "blocked",
                "expired",
                "failed"
            ]
        );
    }

    #[test]
    fn folder_names_may_be_unicode_letters() {
        let text = "kind = \"announcement\"\ncaller_id = \"1\"\n[announcement]\nmessage = \"x\"\n";
        let named = |id: &str| {
            Campaign::parse(
                id,
                Path::new(id),
                &Path::new(id).join("campaign.toml"),
                text,
            )
            .map(|c| c.id)
            .map_err(|e| e.to_string())
        };
        assert_eq!(named("campaña-otoño").unwrap(), "campaña-otoño");
        assert_eq!(named("Ñandú_2026").unwrap(), "Ñandú_2026");
        for bad in ["campaña otoño", "a/b", "a.b", ""] {
            let e = named(bad).unwrap_err();
            assert!(e.contains("may only hold letters"), "{bad}: {e}");
        }
    }
}
