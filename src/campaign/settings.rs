//! The kind-specific section of `campaign.toml` (`[reminder]`, `[announcement]`, `[promotion]`,
//! `[survey]`, `[sales]`), read into one typed struct per kind.
//!
//! Guarantees: every key is checked when the campaign loads, and a mistake is reported as one
//! sentence naming the key (`reminder.confirm_key must be …`); keys of one menu are distinct;
//! transfer targets are valid and can never put a `,` inside a `dial` field; no spoken text is
//! empty. Defaults are in Spanish, the language of the callees.

use serde::Deserialize;

use crate::i18n::Msg;

/// Default number of times a prompt plays before the flow gives up.
pub const DEFAULT_MAX_PROMPTS: u32 = 3;
const MAX_MAX_PROMPTS: u32 = 10;

/// Where a call is handed over to a person: `queue:NAME`, `extension:NUM` or `pstn:+34…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    /// A call queue of the virtual PBX.
    Queue(String),
    /// An extension of the virtual PBX (digits).
    Extension(String),
    /// An outside number, E.164 (`+34…`).
    Pstn(String),
    /// A ready agent of this desk team, chosen by pregonero (`crate::desk`), rung on their
    /// extension.
    Desk(String),
}

impl TransferTarget {
    /// Parses `queue:NAME`, `extension:NUM` or `pstn:+CC…`; the error says what was expected
    /// (after the key, which the caller puts in front: [`Msg`] `rule.key_then`).
    pub fn parse(text: &str) -> Result<TransferTarget, Msg> {
        let t = text.trim();
        let expected = || Msg::new("rule.target").arg("value", t);
        let (kind, value) = t.split_once(':').ok_or_else(expected)?;
        let value = value.trim();
        match kind.trim().to_ascii_lowercase().as_str() {
            "queue" => {
                let ok = !value.is_empty()
                    && value.len() <= 64
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
                if !ok {
                    return Err(Msg::new("rule.target_queue").arg("value", t));
                }
                Ok(TransferTarget::Queue(value.to_string()))
            }
            "extension" | "ext" => {
                let ok =
                    (1..=10).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit());
                if !ok {
                    return Err(Msg::new("rule.target_extension").arg("value", t));
                }
                Ok(TransferTarget::Extension(value.to_string()))
            }
            "desk" => {
                super::desk::check_name("rule.target_desk", value)?;
                Ok(TransferTarget::Desk(value.to_string()))
            }
            "pstn" => {
                let compact: String = value
                    .chars()
                    .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
                    .collect();
                let digits = compact.strip_prefix('+').unwrap_or("");
                let ok = (6..=15).contains(&digits.len())
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && !digits.starts_with('0');
                if !ok {
                    return Err(Msg::new("rule.target_pstn").arg("value", t));
                }
                Ok(TransferTarget::Pstn(format!("+{digits}")))
            }
            _ => Err(expected()),
        }
    }

    /// The API Voice command that transfers the call: `queue` with `NAME,1` (priority 1,
    /// the highest), or `dial` with `extension,NUM,RING` / `pstn,00CC…,RING`.
    pub fn command(&self, ring_seconds: u32) -> (&'static str, String) {
        match self {
            TransferTarget::Queue(name) => ("queue", format!("{name},1")),
            TransferTarget::Extension(num) => ("dial", format!("extension,{num},{ring_seconds}")),
            // API Voice dials outside numbers in the international `00` form.
            TransferTarget::Pstn(e164) => (
                "dial",
                format!("pstn,00{},{ring_seconds}", e164.trim_start_matches('+')),
            ),
            // The webhook puts the chosen agent's extension in its place (`desk::routing`).
            TransferTarget::Desk(_) => ("dial", format!("extension,desk,{ring_seconds}")),
        }
    }
}

impl std::fmt::Display for TransferTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransferTarget::Queue(n) => write!(f, "queue:{n}"),
            TransferTarget::Extension(n) => write!(f, "extension:{n}"),
            TransferTarget::Desk(t) => write!(f, "desk:{t}"),
            TransferTarget::Pstn(n) => write!(f, "pstn:{n}"),
        }
    }
}

/// `[reminder]`: appointment reminders.
#[derive(Debug, Clone, PartialEq)]
pub struct ReminderSettings {
    /// The prompt, e.g. "… su cita del {cita}. Pulse 1 para confirmar o 2 para cancelar."
    pub message: String,
    pub confirm_key: String,
    pub cancel_key: String,
    /// Key that hands the call to `agent`; both or neither are set.
    pub agent_key: Option<String>,
    pub agent: Option<TransferTarget>,
    pub confirmed_message: String,
    pub cancelled_message: String,
    /// Spoken before the prompt after a key that means nothing.
    pub invalid_message: String,
    /// Spoken just before the transfer to `agent`.
    pub transfer_message: String,
    /// How many times the prompt plays before the outcome is `no_response`.
    pub max_prompts: u32,
    /// Where each final outcome is POSTed as JSON, through the outbox (`crate::notify`).
    pub notify_url: Option<String>,
}

/// `[announcement]`: a message, optionally replayed on a key.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnouncementSettings {
    pub message: String,
    pub repeat_key: Option<String>,
}

/// `[promotion]`: an offer with a transfer for the interested and an opt-out key.
#[derive(Debug, Clone, PartialEq)]
pub struct PromotionSettings {
    pub message: String,
    pub interest_key: String,
    pub agent: TransferTarget,
    pub optout_key: String,
    pub optout_message: String,
    pub invalid_message: String,
    pub transfer_message: String,
    pub max_prompts: u32,
    /// Said instead of the interest key (matched without case or accents).
    pub interest_words: Vec<String>,
    /// Said instead of the opt-out key; checked before `interest_words`.
    pub optout_words: Vec<String>,
}

/// One question of a survey.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyQuestion {
    /// Short id the answers are reported under (`q1`, `q2`… by default).
    pub id: String,
    pub text: String,
    /// The keys that answer it, in order (from `"1-5"`, `"0-9"` or `"1,2,3"`).
    pub keys: Vec<String>,
    /// How many times the question plays before the survey stops.
    pub max_prompts: u32,
}

/// `[survey]`: questions answered with keys.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveySettings {
    pub intro: Option<String>,
    pub questions: Vec<SurveyQuestion>,
    pub outro: String,
    pub invalid_message: String,
}

/// `[sales]`: the callee is put through to an agent queue.
#[derive(Debug, Clone, PartialEq)]
pub struct SalesSettings {
    /// Spoken before the transfer, if any.
    pub message: Option<String>,
    /// `queue = "NAME"` or `agent = "…"`, as one target.
    pub target: TransferTarget,
    /// Agents taking these calls (pacing).
    pub agents: u32,
    /// Highest share of answered calls left without an agent (pacing).
    pub max_abandon_rate: f64,
    /// The legal abandon threshold: seconds from the callee's answer within which an agent
    /// must be on the line (`abandon_after_seconds` in the file; `bridge_threshold_seconds`
    /// is accepted too). It is not how long an agent's phone rings (`agent_ring_seconds`).
    pub bridge_threshold_seconds: u32,
    /// How long the agent's phone rings for a `dial` transfer (and the desk's wait for an
    /// agent): `agent_ring_seconds`, 20 by default.
    pub agent_ring_seconds: u32,
    /// Calls in progress per agent while the rolling 30-day abandon rate stays under
    /// `max_abandon_rate` (predictive); 1 is progressive dialing, the default.
    pub predictive_ratio: f64,
}

/// The kind-specific part of a campaign: one variant per kind.
#[derive(Debug, Clone, PartialEq)]
pub enum FlowSettings {
    Reminder(ReminderSettings),
    Announcement(AnnouncementSettings),
    Promotion(PromotionSettings),
    Survey(SurveySettings),
    Sales(SalesSettings),
}

impl FlowSettings {
    /// Every spoken text, with the key it came from (`survey.questions[2].text`), for checks.
    pub fn templates(&self) -> Vec<(String, &str)> {
        let mut v: Vec<(String, &str)> = Vec::new();
        match self {
            FlowSettings::Reminder(r) => {
                v.push(("reminder.message".into(), &r.message));
                v.push(("reminder.confirmed_message".into(), &r.confirmed_message));
                v.push(("reminder.cancelled_message".into(), &r.cancelled_message));
                v.push(("reminder.invalid_message".into(), &r.invalid_message));
                v.push(("reminder.transfer_message".into(), &r.transfer_message));
            }
            FlowSettings::Announcement(a) => v.push(("announcement.message".into(), &a.message)),
            FlowSettings::Promotion(p) => {
                v.push(("promotion.message".into(), &p.message));
                v.push(("promotion.optout_message".into(), &p.optout_message));
                v.push(("promotion.invalid_message".into(), &p.invalid_message));
                v.push(("promotion.transfer_message".into(), &p.transfer_message));
            }
            FlowSettings::Survey(s) => {
                if let Some(i) = &s.intro {
                    v.push(("survey.intro".into(), i));
                }
                for (n, q) in s.questions.iter().enumerate() {
                    v.push((format!("survey.questions[{}].text", n + 1), &q.text));
                }
                v.push(("survey.outro".into(), &s.outro));
                v.push(("survey.invalid_message".into(), &s.invalid_message));
            }
            FlowSettings::Sales(s) => {
                if let Some(m) = &s.message {
                    v.push(("sales.message".into(), m));
                }
            }
        }
        v
    }
}

// ---- the sections as written in the file ----

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReminderFile {
    message: Option<String>,
    pub(super) call_before: Option<String>,
    confirm_key: Option<String>,
    cancel_key: Option<String>,
    agent_key: Option<String>,
    agent: Option<String>,
    confirmed_message: Option<String>,
    cancelled_message: Option<String>,
    invalid_message: Option<String>,
    transfer_message: Option<String>,
    max_prompts: Option<u32>,
    notify_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AnnouncementFile {
    message: Option<String>,
    repeat_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PromotionFile {
    message: Option<String>,
    interest_key: Option<String>,
    agent: Option<String>,
    optout_key: Option<String>,
    optout_message: Option<String>,
    invalid_message: Option<String>,
    transfer_message: Option<String>,
    max_prompts: Option<u32>,
    interest_words: Option<Vec<String>>,
    optout_words: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SurveyFile {
    intro: Option<String>,
    #[serde(default)]
    questions: Vec<QuestionFile>,
    outro: Option<String>,
    invalid_message: Option<String>,
    max_prompts: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuestionFile {
    id: Option<String>,
    text: Option<String>,
    keys: Option<String>,
    max_prompts: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SalesFile {
    message: Option<String>,
    queue: Option<String>,
    agent: Option<String>,
    agents: Option<u32>,
    max_abandon_rate: Option<f64>,
    #[serde(alias = "bridge_threshold_seconds")]
    abandon_after_seconds: Option<u32>,
    agent_ring_seconds: Option<u32>,
    predictive_ratio: Option<f64>,
}

/// How long an agent's phone rings by default, seconds: a desk phone needs a few rings.
pub const DEFAULT_AGENT_RING_SECONDS: u32 = 20;

const CONFIRMED: &str = "Gracias, su cita queda confirmada. Hasta pronto.";
const CANCELLED: &str = "De acuerdo, hemos anulado su cita. Gracias por avisarnos.";
const INVALID: &str = "La opción no es válida.";
const TRANSFER: &str = "Le pasamos con una persona. Un momento, por favor.";
const OPTOUT: &str = "Hemos anotado que no desea recibir más llamadas. Disculpe las molestias.";
const OUTRO: &str = "Gracias por responder. Hasta pronto.";

/// A spoken text: given and not blank, or the default.
fn text(key: &str, given: Option<String>, default: Option<&str>) -> Result<String, Msg> {
    match given {
        Some(t) if t.trim().is_empty() => Err(Msg::new("rule.empty").arg("key", key)),
        Some(t) => Ok(t),
        None => default
            .map(str::to_string)
            .ok_or_else(|| Msg::new("rule.required").arg("key", key)),
    }
}

/// One key 0-9, `*` or `#`.
pub fn is_key(k: &str) -> bool {
    k.len() == 1
        && k.chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
}

fn key(name: &str, given: Option<String>, default: &str) -> Result<String, Msg> {
    let k = given.unwrap_or_else(|| default.to_string());
    if is_key(k.trim()) {
        Ok(k.trim().to_string())
    } else {
        Err(Msg::new("rule.one_key").arg("key", name).arg("value", k))
    }
}

/// A number of `key` within `min..=max`.
pub(super) fn between(
    key: &str,
    n: impl Into<f64> + Copy + std::fmt::Display,
    min: u32,
    max: u32,
) -> Result<(), Msg> {
    let v: f64 = n.into();
    if (f64::from(min)..=f64::from(max)).contains(&v) {
        Ok(())
    } else {
        Err(Msg::new("config.between")
            .arg("key", key)
            .arg("min", min)
            .arg("max", max)
            .arg("value", n))
    }
}

fn max_prompts(name: &str, given: Option<u32>, default: u32) -> Result<u32, Msg> {
    let n = given.unwrap_or(default);
    between(name, n, 1, MAX_MAX_PROMPTS)?;
    Ok(n)
}

fn target(name: &str, given: &str) -> Result<TransferTarget, Msg> {
    TransferTarget::parse(given)
        .map_err(|e| Msg::new("rule.key_then").arg("key", name).msg("error", e))
}

/// Keys of one menu must differ, or one of them could never be chosen.
fn distinct(keys: &[(&str, &str)]) -> Result<(), Msg> {
    for (i, (a_name, a)) in keys.iter().enumerate() {
        for (b_name, b) in &keys[i + 1..] {
            if a == b {
                return Err(Msg::new("rule.keys_clash")
                    .arg("a", a_name)
                    .arg("b", b_name)
                    .arg("value", a));
            }
        }
    }
    Ok(())
}

/// Parses the keys that answer a question: `"1-5"`, `"0-9"`, `"1,2,3"`, `"1-3,9"`, `"*"`.
pub fn parse_keys(spec: &str) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for part in spec.split(',').map(str::trim) {
        let mut push = |k: String| {
            if !out.contains(&k) {
                out.push(k);
            }
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (a.trim(), b.trim());
                if !(a.len() == 1 && b.len() == 1) {
                    return None;
                }
                let (a, b) = (a.chars().next()?, b.chars().next()?);
                if !a.is_ascii_digit() || !b.is_ascii_digit() || a > b {
                    return None;
                }
                for c in a..=b {
                    push(c.to_string());
                }
            }
            None if is_key(part) => push(part.to_string()),
            None => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

impl ReminderFile {
    pub(super) fn settings(self) -> Result<ReminderSettings, Msg> {
        let confirm_key = key("reminder.confirm_key", self.confirm_key, "1")?;
        let cancel_key = key("reminder.cancel_key", self.cancel_key, "2")?;
        let (agent_key, agent) = match (self.agent_key, self.agent) {
            (Some(k), Some(a)) => (
                Some(key("reminder.agent_key", Some(k), "")?),
                Some(target("reminder.agent", &a)?),
            ),
            (None, None) => (None, None),
            (Some(_), None) => return Err(Msg::new("rule.agent_key_alone")),
            (None, Some(_)) => return Err(Msg::new("rule.agent_alone")),
        };
        let mut keys = vec![
            ("reminder.confirm_key", confirm_key.as_str()),
            ("reminder.cancel_key", cancel_key.as_str()),
        ];
        if let Some(k) = &agent_key {
            keys.push(("reminder.agent_key", k));
        }
        distinct(&keys)?;
        if let Some(url) = &self.notify_url {
            // The URL may carry credentials: the message names only its scheme.
            let ok = reqwest::Url::parse(url.trim())
                .map(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .unwrap_or(false);
            if !ok {
                return Err(Msg::new("rule.http_url").arg("key", "reminder.notify_url"));
            }
        }
        Ok(ReminderSettings {
            message: text("reminder.message", self.message, None)?,
            confirm_key,
            cancel_key,
            agent_key,
            agent,
            confirmed_message: text(
                "reminder.confirmed_message",
                self.confirmed_message,
                Some(CONFIRMED),
            )?,
            cancelled_message: text(
                "reminder.cancelled_message",
                self.cancelled_message,
                Some(CANCELLED),
            )?,
            invalid_message: text(
                "reminder.invalid_message",
                self.invalid_message,
                Some(INVALID),
            )?,
            transfer_message: text(
                "reminder.transfer_message",
                self.transfer_message,
                Some(TRANSFER),
            )?,
            max_prompts: max_prompts(
                "reminder.max_prompts",
                self.max_prompts,
                DEFAULT_MAX_PROMPTS,
            )?,
            notify_url: self.notify_url.map(|u| u.trim().to_string()),
        })
    }
}

impl AnnouncementFile {
    pub(super) fn settings(self) -> Result<AnnouncementSettings, Msg> {
        let repeat_key = match self.repeat_key {
            Some(k) => Some(key("announcement.repeat_key", Some(k), "")?),
            None => None,
        };
        Ok(AnnouncementSettings {
            message: text("announcement.message", self.message, None)?,
            repeat_key,
        })
    }
}

impl PromotionFile {
    pub(super) fn settings(self) -> Result<PromotionSettings, Msg> {
        let interest_key = key("promotion.interest_key", self.interest_key, "1")?;
        let optout_key = key("promotion.optout_key", self.optout_key, "9")?;
        distinct(&[
            ("promotion.interest_key", &interest_key),
            ("promotion.optout_key", &optout_key),
        ])?;
        let agent = match self.agent {
            Some(a) => target("promotion.agent", &a)?,
            None => return Err(Msg::new("rule.promotion_agent")),
        };
        Ok(PromotionSettings {
            message: text("promotion.message", self.message, None)?,
            interest_key,
            agent,
            optout_key,
            optout_message: text(
                "promotion.optout_message",
                self.optout_message,
                Some(OPTOUT),
            )?,
            invalid_message: text(
                "promotion.invalid_message",
                self.invalid_message,
                Some(INVALID),
            )?,
            transfer_message: text(
                "promotion.transfer_message",
                self.transfer_message,
                Some(TRANSFER),
            )?,
            max_prompts: max_prompts(
                "promotion.max_prompts",
                self.max_prompts,
                DEFAULT_MAX_PROMPTS,
            )?,
            interest_words: super::capture::words("promotion.interest_words", self.interest_words)?,
            optout_words: super::capture::words("promotion.optout_words", self.optout_words)?,
        })
    }
}

impl SurveyFile {
    pub(super) fn settings(self) -> Result<SurveySettings, Msg> {
        let default_prompts =
            max_prompts("survey.max_prompts", self.max_prompts, DEFAULT_MAX_PROMPTS)?;
        if self.questions.is_empty() {
            return Err(Msg::new("rule.survey_questions"));
        }
        let mut questions: Vec<SurveyQuestion> = Vec::new();
        for (i, q) in self.questions.into_iter().enumerate() {
            let at = format!("survey.questions[{}]", i + 1);
            let id = q.id.unwrap_or_else(|| format!("q{}", i + 1));
            // The id travels in `userfield` (`|`-separated, short).
            let id_ok = (1..=16).contains(&id.len())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !id_ok {
                return Err(Msg::new("rule.question_id")
                    .arg("key", format!("{at}.id"))
                    .arg("value", id));
            }
            if let Some(other) = questions.iter().position(|o| o.id == id) {
                return Err(Msg::new("rule.question_id_taken")
                    .arg("key", format!("{at}.id"))
                    .arg("value", id)
                    .arg("other", format!("survey.questions[{}]", other + 1)));
            }
            let spec = q.keys.unwrap_or_else(|| "0-9".into());
            let keys = parse_keys(&spec).ok_or_else(|| {
                Msg::new("rule.question_keys")
                    .arg("key", format!("{at}.keys"))
                    .arg("value", &spec)
            })?;
            questions.push(SurveyQuestion {
                id,
                text: text(&format!("{at}.text"), q.text, None)?,
                keys,
                max_prompts: max_prompts(
                    &format!("{at}.max_prompts"),
                    q.max_prompts,
                    default_prompts,
                )?,
            });
        }
        let intro = match self.intro {
            Some(t) => Some(text("survey.intro", Some(t), None)?),
            None => None,
        };
        Ok(SurveySettings {
            intro,
            questions,
            outro: text("survey.outro", self.outro, Some(OUTRO))?,
            invalid_message: text(
                "survey.invalid_message",
                self.invalid_message,
                Some(INVALID),
            )?,
        })
    }
}

impl SalesFile {
    pub(super) fn settings(self) -> Result<SalesSettings, Msg> {
        let target = match (self.queue, self.agent) {
            (Some(q), None) => {
                // `queue = "ventas"`; `queue:ventas` is accepted too.
                let name = q.trim();
                let name = name.strip_prefix("queue:").unwrap_or(name);
                target("sales.queue", &format!("queue:{name}"))?
            }
            (None, Some(a)) => target("sales.agent", &a)?,
            (Some(_), Some(_)) => return Err(Msg::new("rule.sales_both")),
            (None, None) => return Err(Msg::new("rule.sales_none")),
        };
        let agents = self.agents.unwrap_or(10);
        if agents == 0 {
            return Err(Msg::new("config.at_least_1").arg("key", "sales.agents"));
        }
        let rate = self.max_abandon_rate.unwrap_or(0.03);
        if !(0.0..1.0).contains(&rate) {
            return Err(Msg::new("rule.fraction")
                .arg("key", "sales.max_abandon_rate")
                .arg("value", rate));
        }
        let threshold = self.abandon_after_seconds.unwrap_or(2);
        between("sales.abandon_after_seconds", threshold, 1, 60)?;
        let agent_ring = self
            .agent_ring_seconds
            .unwrap_or(DEFAULT_AGENT_RING_SECONDS);
        between("sales.agent_ring_seconds", agent_ring, 1, 120)?;
        let ratio = self.predictive_ratio.unwrap_or(1.0);
        if !(1.0..=5.0).contains(&ratio) {
            return Err(Msg::new("rule.predictive_ratio")
                .arg("key", "sales.predictive_ratio")
                .arg("value", ratio));
        }
        let message = match self.message {
            Some(t) => Some(text("sales.message", Some(t), None)?),
            None => None,
        };
        Ok(SalesSettings {
            message,
            target,
            agents,
            max_abandon_rate: rate,
            bridge_threshold_seconds: threshold,
            agent_ring_seconds: agent_ring,
            predictive_ratio: ratio,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::{Campaign, FlowSettings};
    use crate::i18n::Lang;
    use std::path::Path;

    fn load_in(lang: Lang, kind: &str, section: &str) -> Result<Campaign, String> {
        let text = format!("kind = \"{kind}\"\ncaller_id = \"+34910000000\"\n[{kind}]\n{section}");
        Campaign::parse(
            "c",
            Path::new("campaigns/c"),
            Path::new("campaigns/c/campaign.toml"),
            &text,
        )
        .map_err(|e| lang.render(&e.msg()))
    }

    fn load(kind: &str, section: &str) -> Result<Campaign, String> {
        load_in(Lang::En, kind, section)
    }

    /// The error as an English reader sees it.
    fn err(kind: &str, section: &str) -> String {
        let e = load(kind, section).unwrap_err();
        assert!(e.starts_with("campaigns/c/campaign.toml is invalid"), "{e}");
        e
    }

    #[test]
    fn rules_are_said_in_spanish_by_default() {
        let es = |kind: &str, section: &str| load_in(Lang::Es, kind, section).unwrap_err();
        assert_eq!(
            es("reminder", "message = \"m\"\nmax_prompts = 0\n"),
            "campaigns/c/campaign.toml no es válido: reminder.max_prompts debe estar entre 1 y 10; es 0"
        );
        assert!(es("reminder", "message = \"m\"\ncancel_key = \"1\"\n").ends_with(
            "reminder.confirm_key y reminder.cancel_key son las dos \"1\": cada tecla de un menú debe ser distinta"
        ));
        assert!(es("survey", "[[survey.questions]]\nkeys = \"1\"\n")
            .ends_with("survey.questions[1].text es obligatorio"));
        assert!(es("promotion", "message = \"m\"\nagent = \"sip:x\"\n").ends_with(
            "promotion.agent debe ser queue:NOMBRE, extension:NÚMERO, pstn:+34… o desk:EQUIPO; es \"sip:x\""
        ));
        assert!(es("sales", "queue = \"a\"\nagent = \"queue:b\"\n")
            .ends_with("ponga solo uno de los dos"));
        let e = es("sales", "agent = \"desk:ventas norte\"\n");
        assert!(e.ends_with("sales.agent debe nombrar un equipo de 1 a 64 letras, dígitos, '.', '_' o '-'; es \"ventas norte\""), "{e}");
        let e = es("reminder", "message = \"m\"\nconfirm = \"1\"\n");
        assert!(
            e.contains("no es válido, línea 5: unknown field `confirm`"),
            "{e}"
        );
    }

    #[test]
    fn reminder_defaults() {
        let c = load("reminder", "message = \"m\"\ncall_before = \"24h\"\n").unwrap();
        let FlowSettings::Reminder(r) = c.flow.clone() else {
            panic!()
        };
        assert_eq!((r.confirm_key.as_str(), r.cancel_key.as_str()), ("1", "2"));
        assert_eq!(r.invalid_message, "La opción no es válida.");
        assert_eq!(r.max_prompts, 3);
        assert_eq!((r.agent_key, r.agent, r.notify_url), (None, None, None));
        assert_eq!(c.call_before, Some(std::time::Duration::from_secs(86400)));
    }

    #[test]
    fn key_mistakes_name_the_key() {
        let e = err("reminder", "message = \"m\"\nconfirm_key = \"x\"\n");
        assert!(
            e.ends_with("reminder.confirm_key must be one key 0-9, * or #, got \"x\""),
            "{e}"
        );
        let e = err("reminder", "message = \"m\"\ncancel_key = \"1\"\n");
        assert!(
            e.contains("reminder.confirm_key and reminder.cancel_key are both \"1\""),
            "{e}"
        );
        let e = err(
            "reminder",
            "message = \"m\"\nagent_key = \"2\"\nagent = \"queue:a\"\n",
        );
        assert!(
            e.contains("reminder.cancel_key and reminder.agent_key"),
            "{e}"
        );
        let e = err("reminder", "message = \"m\"\nagent_key = \"3\"\n");
        assert!(e.contains("reminder.agent_key needs reminder.agent"), "{e}");
        let e = err(
            "promotion",
            "message = \"m\"\nagent = \"queue:a\"\noptout_key = \"1\"\n",
        );
        assert!(
            e.contains("promotion.interest_key and promotion.optout_key"),
            "{e}"
        );
        let e = err("announcement", "message = \"m\"\nrepeat_key = \"12\"\n");
        assert!(e.contains("announcement.repeat_key"), "{e}");
    }

    #[test]
    fn missing_and_malformed_settings_are_named() {
        assert!(err("reminder", "").contains("reminder.message is required"));
        assert!(err("reminder", "message = \" \"\n").contains("reminder.message is empty"));
        assert!(err("reminder", "message = \"m\"\nmax_prompts = 0\n")
            .contains("reminder.max_prompts must be between 1 and 10, got 0"));
        assert!(
            err("reminder", "message = \"m\"\nnotify_url = \"ftp://x\"\n")
                .contains("reminder.notify_url")
        );
        assert!(err("reminder", "message = \"m\"\ncall_before = \"soon\"\n")
            .contains("reminder.call_before"));
        let e = err("reminder", "message = \"m\"\nconfirm = \"1\"\n");
        assert!(
            e.contains("unknown field `confirm`") && e.contains("line 5"),
            "{e}"
        );
        assert!(err("promotion", "message = \"m\"\n").contains("promotion.agent is required"));
        let e = err("promotion", "message = \"m\"\nagent = \"sip:x\"\n");
        assert!(
            e.contains(
                "promotion.agent must be queue:NAME, extension:NUMBER, pstn:+34… or desk:TEAM, got \"sip:x\""
            ),
            "{e}"
        );
        assert!(err("survey", "intro = \"i\"\n").contains("at least one [[survey.questions]]"));
        let e = err(
            "survey",
            "[[survey.questions]]\ntext = \"t\"\nkeys = \"5-1\"\n",
        );
        assert!(e.contains("survey.questions[1].keys"), "{e}");
        let e = err(
            "survey",
            "[[survey.questions]]\ntext = \"t\"\n[[survey.questions]]\nid = \"q1\"\ntext = \"u\"\n",
        );
        assert!(e.contains("survey.questions[2].id \"q1\""), "{e}");
        assert!(err("survey", "[[survey.questions]]\nkeys = \"1\"\n")
            .contains("survey.questions[1].text is required"));
        assert!(err("sales", "agents = 3\n").contains("sales needs queue"));
        assert!(err("sales", "queue = \"a\"\nagent = \"queue:b\"\n").contains("give one"));
        assert!(err("sales", "queue = \"a,b\"\n").contains("sales.queue"));
        assert!(err("sales", "queue = \"a\"\nmax_abandon_rate = 3.0\n")
            .contains("sales.max_abandon_rate"));
        assert!(err("sales", "queue = \"a\"\nagents = 0\n").contains("sales.agents"));
        assert!(err("sales", "queue = \"a\"\npredictive_ratio = 0.5\n")
            .contains("sales.predictive_ratio"));
        assert!(err("sales", "queue = \"a\"\nabandon_after_seconds = 0\n")
            .contains("sales.abandon_after_seconds"));
    }

    #[test]
    fn every_kind_loads_with_its_defaults() {
        let c = load("promotion", "message = \"m\"\nagent = \"extension:100\"\n").unwrap();
        let FlowSettings::Promotion(p) = &c.flow else {
            panic!()
        };
        assert_eq!((p.interest_key.as_str(), p.optout_key.as_str()), ("1", "9"));
        assert_eq!(p.agent, TransferTarget::Extension("100".into()));
        let c = load(
            "survey",
            "[[survey.questions]]\ntext = \"a\"\nkeys = \"1-3,9\"\n[[survey.questions]]\ntext = \"b\"\nmax_prompts = 1\n",
        )
        .unwrap();
        let FlowSettings::Survey(s) = &c.flow else {
            panic!()
        };
        assert_eq!(s.questions[0].id, "q1");
        assert_eq!(s.questions[0].keys, ["1", "2", "3", "9"]);
        assert_eq!(s.questions[1].id, "q2");
        assert_eq!(s.questions[1].keys.len(), 10);
        assert_eq!(
            (s.questions[0].max_prompts, s.questions[1].max_prompts),
            (3, 1)
        );
        let c = load("sales", "queue = \"ventas\"\n").unwrap();
        let FlowSettings::Sales(s) = &c.flow else {
            panic!()
        };
        assert_eq!(s.target, TransferTarget::Queue("ventas".into()));
        assert_eq!(
            (
                s.agents,
                s.max_abandon_rate,
                s.bridge_threshold_seconds,
                s.predictive_ratio
            ),
            (10, 0.03, 2, 1.0)
        );
        let c = load(
            "sales",
            "agent = \"extension:200\"\nagents = 3\nbridge_threshold_seconds = 4\npredictive_ratio = 1.5\n",
        )
        .unwrap();
        let FlowSettings::Sales(s) = &c.flow else {
            panic!()
        };
        assert_eq!(
            (s.agents, s.bridge_threshold_seconds, s.predictive_ratio),
            (3, 4, 1.5)
        );
    }

    #[test]
    fn transfer_targets_parse_and_make_their_command() {
        let t = |s: &str| TransferTarget::parse(s).map(|t| t.command(25));
        assert_eq!(t("queue:ventas"), Ok(("queue", "ventas,1".to_string())));
        assert_eq!(
            t("extension:201"),
            Ok(("dial", "extension,201,25".to_string()))
        );
        assert_eq!(
            t("pstn:+34 600-12-34-56"),
            Ok(("dial", "pstn,0034600123456,25".to_string()))
        );
        for bad in [
            "queue:",
            "queue:a,b",
            "queue:a;b",
            "extension:12a",
            "extension:",
            "pstn:600123456",
            "pstn:+0034600",
            "pstn:+34,600123456",
            "600123456",
            "sip:x",
        ] {
            assert!(TransferTarget::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            TransferTarget::parse("pstn:+34600123456")
                .unwrap()
                .to_string(),
            "pstn:+34600123456"
        );
    }

    #[test]
    fn key_lists() {
        assert_eq!(parse_keys("1-5").unwrap(), ["1", "2", "3", "4", "5"]);
        assert_eq!(parse_keys("1, 2 ,3").unwrap(), ["1", "2", "3"]);
        assert_eq!(parse_keys("*,#,0").unwrap(), ["*", "#", "0"]);
        assert_eq!(parse_keys("1-2,2").unwrap(), ["1", "2"]);
        for bad in ["", "5-1", "1-", "a", "10", "1-10", "1,,2"] {
            assert_eq!(parse_keys(bad), None, "{bad}");
        }
    }
}
