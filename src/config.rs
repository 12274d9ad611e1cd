//! Daemon configuration: one TOML file, `PREGONERO_<SECTION>_<KEY>` environment overrides, and a
//! default for every key so that `pregonero run` works with no file at all.
//!
//! Secrets (provider token, webhook secret, dashboard password) are `SecretString`s: their
//! `Debug` output is redacted and nothing in this crate formats them into a log line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Errors that make the configuration unusable; each names the file or variable at fault. The
/// sentence for people is [`ConfigError::msg`], from the catalogue; `Display` is it in English
/// (logs).
#[derive(Debug)]
pub enum ConfigError {
    Read {
        path: PathBuf,
        // Not named `source`: the message says it already, and `{:#}` would say it twice.
        reason: std::io::Error,
    },
    Invalid {
        path: String,
        message: String,
    },
    /// A rule of the configuration broken (`x must be between …`).
    Rule(crate::i18n::Msg),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::i18n::Lang::En.render(&self.msg()))
    }
}

impl std::error::Error for ConfigError {}

/// A broken rule: the catalogue's sentence `key` about config key `name`.
fn rule(key: &str, name: &str) -> ConfigError {
    ConfigError::Rule(crate::i18n::Msg::new(key).arg("key", name))
}

impl ConfigError {
    /// The sentence for people, in their language (the `error:` line).
    pub fn msg(&self) -> crate::i18n::Msg {
        use crate::i18n::Msg;
        match self {
            ConfigError::Read { path, reason } if reason.kind() == std::io::ErrorKind::NotFound => {
                Msg::new("error.config_missing").arg("file", path.display())
            }
            ConfigError::Read { path, reason } => Msg::new("error.config_unreadable")
                .arg("file", path.display())
                .arg("error", reason),
            ConfigError::Invalid { path, message } => {
                // One line, and `line N: …` said the reader's way.
                let message = message
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(", ");
                let message = message.as_str();
                let line = crate::i18n::toml_line(message);
                match line {
                    Some((n, rest)) => Msg::new("error.config_invalid_line")
                        .arg("file", path)
                        .arg("line", n)
                        .arg("error", rest),
                    None => Msg::new("error.config_invalid")
                        .arg("file", path)
                        .arg("error", message),
                }
            }
            ConfigError::Rule(rule) => rule.clone(),
        }
    }
}

impl From<ConfigError> for crate::i18n::UserError {
    fn from(e: ConfigError) -> Self {
        crate::i18n::UserError::new(e.msg())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub database: DatabaseConfig,
    pub campaigns: CampaignsConfig,
    pub provider: ProviderConfig,
    pub server: ServerConfig,
    pub limits: LimitsConfig,
    pub calling: CallingConfig,
    pub simulator: SimulatorSettings,
    pub notify: NotifyConfig,
    pub ui: UiConfig,
    pub events: EventsConfig,
    pub inbound: InboundConfig,
    pub voice: VoiceConfig,
}

/// Speech to text (`[[capture]]` steps of the campaigns).
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct VoiceConfig {
    /// A file holding the customer's Google key, sent in each `google_voice2text` command.
    pub google_key_file: Option<PathBuf>,
}

/// What people read (`[ui]`): reports, dashboard.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// `es` (the default) or `en`: labels, headings, dates and numbers for people. States and
    /// JSON keys keep their identifiers in every language.
    pub language: crate::i18n::Lang,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://FILE` or `postgres://user:pass@host/db`.
    pub url: String,
}

impl DatabaseConfig {
    /// The URL with its password (if any) replaced by `***`: what logs and `Debug` show.
    pub fn redacted_url(&self) -> String {
        redact_url_password(&self.url)
    }
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.redacted_url())
            .finish()
    }
}

/// `scheme://user:secret@host…` → `scheme://user:***@host…`; a URL without a password (or
/// that does not parse) is shown without its user-info part only when it has one.
fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split_once(':').map_or(user_info, |(u, _)| u);
            let shown = if user_info.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{scheme}://{shown}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://pregonero.db".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CampaignsConfig {
    pub dir: PathBuf,
    /// A dropped file is imported once its size and modification time have not changed for this
    /// long (so a file still being copied or saved is never read half-written).
    pub settle_ms: u64,
    /// Seconds between full rescans of the folder (file events also trigger one).
    pub rescan_seconds: f64,
}

impl Default for CampaignsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("campaigns"),
            settle_ms: 2000,
            rescan_seconds: 5.0,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// The built-in API Voice simulator, started in-process on a loopback port.
    Simulator,
    /// netelip's API Voice: places real calls.
    Apivoice,
}

/// How the caller ID goes out to the provider (`provider.caller_id_format`; the assumption is
/// described in `crate::provider`, "Assumptions").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum CallerIdFormat {
    /// `0034910000000`, as every known working integration sends it.
    #[default]
    #[serde(rename = "00")]
    Zeros,
    /// `34910000000`.
    #[serde(rename = "digits")]
    Digits,
    /// `+34910000000`, E.164 as written.
    #[serde(rename = "plus")]
    Plus,
}

/// How the `queue` command's options are written (`provider.queue_options`; see
/// `crate::provider`, "Assumptions").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum QueueOptions {
    /// `ventas,1`: the name and the priority, separated like `dial`'s fields.
    #[default]
    #[serde(rename = "comma")]
    Comma,
    /// `ventas;1`: separated like every other command's fields.
    #[serde(rename = "semicolon")]
    Semicolon,
    /// `ventas`: the name alone.
    #[serde(rename = "name")]
    Name,
}

/// When the result of a `speak` proves the message played to its end
/// (`provider.speak_results`; see `crate::provider`, "Assumptions").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum SpeakResults {
    /// `status=OK` or `statuscode=200`; a result carrying neither counts when the call was
    /// still up (`statuscall` empty or `ANSWER`).
    #[default]
    #[serde(rename = "status_or_up")]
    StatusOrUp,
    /// Only `status=OK` or `statuscode=200`.
    #[serde(rename = "status")]
    Status,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    pub url: String,
    pub api: String,
    #[serde(skip_serializing)]
    pub token: Option<SecretString>,
    pub token_file: Option<PathBuf>,
    /// Seconds to wait for a launch reply before the launch counts as "unknown".
    pub timeout_seconds: f64,
    /// How long an attempt whose launch reply was lost waits for a control request or report line
    /// before it is released for a retry.
    pub unknown_grace_seconds: u64,
    /// How long a launched call may stay open (no end-of-call request, no report line) before it
    /// is closed as lost.
    pub stale_call_seconds: u64,
    /// How long the end-of-call request may take after our `hangup`, or after `ring_seconds`
    /// for a call that was never answered, before the call is closed from what is known (see
    /// `crate::provider`, "Assumptions").
    pub end_grace_seconds: u64,
    /// How the campaigns' `caller_id` is sent: `"00"` (0034…, the default), `"digits"`
    /// (34…) or `"plus"` (+34…).
    pub caller_id_format: CallerIdFormat,
    /// The account's numbers; `check` warns about a campaign whose `caller_id` is not one of
    /// them (a refused caller ID reaches callees as `anonymous`).
    pub caller_ids: Vec<String>,
    /// How the `queue` command's options are written: `"comma"` (`name,1`, the default),
    /// `"semicolon"` (`name;1`) or `"name"` (the name alone).
    pub queue_options: QueueOptions,
    /// When a `speak` result proves the message was heard: `"status_or_up"` (the default) or
    /// `"status"`.
    pub speak_results: SpeakResults,
    /// First wait after a transient launch failure (doubling, up to 60 times this).
    pub retry_backoff_seconds: f64,
    /// Transient launch failures in a row that open the circuit.
    pub circuit_failures: u32,
    /// How long an open circuit launches nothing (doubling per trip in a row, up to 10 times
    /// this), before one probe launch.
    pub circuit_open_seconds: f64,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            kind: ProviderKind::Simulator,
            url: "https://api.netelip.com/v1/voice".into(),
            api: "API sim".into(),
            token: None,
            token_file: None,
            timeout_seconds: 10.0,
            unknown_grace_seconds: 900,
            stale_call_seconds: 7200,
            end_grace_seconds: 60,
            caller_id_format: CallerIdFormat::Zeros,
            caller_ids: Vec::new(),
            queue_options: QueueOptions::Comma,
            speak_results: SpeakResults::StatusOrUp,
            retry_backoff_seconds: 1.0,
            circuit_failures: 5,
            circuit_open_seconds: 30.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    /// Base URL under which the provider reaches this daemon (printed by `check`).
    pub public_url: Option<String>,
    #[serde(skip_serializing)]
    pub secret: Option<SecretString>,
    #[serde(skip_serializing)]
    pub dashboard_password: Option<SecretString>,
    pub dashboard_password_file: Option<PathBuf>,
    /// On SIGTERM: how long calls already in progress may keep talking to the webhooks.
    pub drain_seconds: u64,
    /// Addresses or CIDR blocks allowed to call the provider routes; empty: any.
    pub allow_from: Vec<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (for `allow_from`).
    pub trusted_proxies: Vec<String>,
    /// A control request (body included) that takes longer is answered `hangup`.
    pub request_timeout_seconds: f64,
    /// A report batch that takes longer gets 503 (the provider sends it again).
    pub report_timeout_seconds: f64,
    /// PEM certificate chain (leaf first): with `tls_key`, the daemon serves HTTPS itself.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert` (PKCS#8, RSA or EC).
    pub tls_key: Option<PathBuf>,
    /// This daemon's name among several sharing one PostgreSQL database (`/healthz`,
    /// `/metrics`, duty leases); the host name when not set.
    pub node_name: Option<String>,
}

impl ServerConfig {
    /// `node_name`, or the host name (or `pregonero` when even that cannot be read).
    pub fn node(&self) -> String {
        self.node_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty())
            })
            .unwrap_or_else(|| "pregonero".into())
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            secret: None,
            dashboard_password: None,
            dashboard_password_file: None,
            drain_seconds: 20,
            allow_from: Vec::new(),
            trusted_proxies: Vec::new(),
            request_timeout_seconds: 5.0,
            report_timeout_seconds: 120.0,
            tls_cert: None,
            tls_key: None,
            node_name: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub calls_per_second: f64,
    pub max_concurrent_calls: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            calls_per_second: 1.0,
            max_concurrent_calls: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallingConfig {
    pub timezone: String,
    pub default_region: String,
    pub hours: Vec<String>,
    pub holiday_calendar: String,
    pub holidays: Vec<String>,
    /// The region (ISO 3166-2:ES code or name) whose holidays apply to callees with no region
    /// of their own; none by default.
    pub holiday_region: Option<String>,
    /// The holidays of a callee whose region is unknown: `national` (the default: national
    /// days only) or `any` (no call on any region's holiday).
    pub unknown_region: String,
}

impl Default for CallingConfig {
    fn default() -> Self {
        Self {
            timezone: "Europe/Madrid".into(),
            default_region: "ES".into(),
            hours: vec!["mon-fri 09:00-21:00".into()],
            holiday_calendar: "ES".into(),
            holidays: Vec::new(),
            holiday_region: None,
            unknown_region: "national".into(),
        }
    }
}

/// Settings of the built-in simulator used when `provider.kind = "simulator"`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulatorSettings {
    /// Time compression: 1 is real time; 60 makes a one-minute call last one second.
    pub speed: f64,
    /// Simulated seconds between call-report batches.
    pub report_interval_seconds: f64,
    pub seed: u64,
    /// Optional TOML file mapping E.164 numbers to scripted outcomes.
    pub script_file: Option<PathBuf>,
    /// Send control requests urlencoded instead of multipart.
    pub urlencoded: bool,
    /// Resend earlier report lines in later batches (as the real service may).
    pub duplicate_reports: bool,
    /// Shuffle the lines of each report batch.
    pub reorder_reports: bool,
    /// Share of calls (0 to 1) that get no end-of-call request, after our `hangup` or when
    /// nobody answers.
    pub drop_end_requests: f64,
    /// Share of calls (0 to 1) that never get a report line.
    pub drop_reports: f64,
    /// Send a bare control request (no `api`, no command context) before each transfer.
    pub bare_requests: bool,
    /// Answer `queue` with a bare `status=OK` (no `ANSWER` or failure word), as a PBX queue
    /// may.
    pub bare_queue_results: bool,
    /// Send `speak` results without `status` and `statuscode`.
    pub bare_speak_results: bool,
    /// The `queue` options form the simulated provider understands (`provider.queue_options`
    /// values); another form gets `Command not found`. Unset: any.
    pub queue_options: Option<QueueOptions>,
    /// Launch-endpoint faults, to see the dialer cope (`[simulator.faults]`).
    pub faults: FaultSettings,
    /// The desk's agents and extensions, played by the simulator (`[simulator.desk]`).
    pub desk: SimDeskSettings,
    /// Share of the numbers rung (0 to 1) that call the campaign's number back afterwards, on
    /// the inbound URL (callbacks in a demo).
    pub callback_rate: f64,
    /// Simulated seconds from the end of a call to its callback.
    pub callback_after_seconds: f64,
}

/// `[simulator.faults]`: what the simulated provider does wrong, for a share of launches.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSettings {
    /// Added before the reply (a slow provider), real milliseconds.
    pub latency_ms: u64,
    /// Reply with this bare HTTP status (e.g. 500, 502).
    pub http_status: Option<u16>,
    /// Reply HTTP 200 with this API code (e.g. "503", "401", "402").
    pub response_code: Option<String>,
    /// Never reply, place no call (the dialer's request times out).
    pub hang: bool,
    /// Place the call but never reply (the dialer cannot know it rings).
    pub lost_reply: bool,
    /// Share of launches the switches above hit, 0 to 1.
    pub rate: f64,
    /// Launches above this many per second get `{"response":"503"}`.
    pub max_cps: Option<f64>,
}

impl Default for FaultSettings {
    fn default() -> Self {
        FaultSettings {
            latency_ms: 0,
            http_status: None,
            response_code: None,
            hang: false,
            lost_reply: false,
            rate: 1.0,
            max_cps: None,
        }
    }
}

/// One scripted agent.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SimAgent {
    pub name: String,
    pub extension: String,
    pub team: String,
}

/// `[simulator.desk]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SimDeskSettings {
    /// Added (when missing) and kept ready while the daemon runs, for the teams that a loaded
    /// campaign transfers to.
    pub agents: Vec<SimAgent>,
    /// Simulated seconds before an extension picks up a `dial extension`.
    pub answer_after_seconds: f64,
    /// Simulated seconds the agent talks with the callee.
    pub talk_seconds: f64,
    /// Extensions that never pick up.
    pub no_answer: Vec<String>,
}

impl Default for SimDeskSettings {
    fn default() -> Self {
        SimDeskSettings {
            agents: vec![
                SimAgent {
                    name: "demo-ana".into(),
                    extension: "9201".into(),
                    team: "demo".into(),
                },
                SimAgent {
                    name: "demo-luis".into(),
                    extension: "9202".into(),
                    team: "demo".into(),
                },
            ],
            answer_after_seconds: 3.0,
            talk_seconds: 45.0,
            no_answer: Vec::new(),
        }
    }
}

impl Default for SimulatorSettings {
    fn default() -> Self {
        Self {
            speed: 300.0,
            report_interval_seconds: 120.0,
            seed: 7,
            script_file: None,
            urlencoded: false,
            duplicate_reports: false,
            reorder_reports: false,
            drop_end_requests: 0.0,
            drop_reports: 0.0,
            bare_requests: false,
            bare_queue_results: false,
            bare_speak_results: false,
            queue_options: None,
            faults: FaultSettings::default(),
            desk: SimDeskSettings::default(),
            callback_rate: 0.0,
            callback_after_seconds: 120.0,
        }
    }
}

/// Events to the customer's systems (`crate::events`), daemon-wide; each campaign names its
/// receiver in its own `[events]`. Deliveries follow `[notify]`'s tries and backoff.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// The key of the `Pregonero-Signature` header (the file's text, trimmed). Without it
    /// events are sent unsigned.
    pub secret_file: Option<PathBuf>,
}

/// Inbound calls (callees calling back, `/apivoice/inbound`): the callback flow's settings.
/// `{campaign_title}` and the contact's columns (`{nombre}`…) are filled in the texts.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct InboundConfig {
    /// How long the contact's agent (the campaign's `agent` target) rings first, seconds.
    pub agent_ring_seconds: u32,
    /// Said to a known caller, before the menu.
    pub message: String,
    /// Said to unknown and anonymous callers.
    pub greeting: String,
    /// Puts the caller's number on the do-not-call list.
    pub optout_key: String,
    pub optout_message: String,
    /// Puts a known caller through to the campaign's agent target again.
    pub agent_key: String,
    pub goodbye_message: String,
    /// How many times the menu plays.
    pub max_prompts: u32,
    /// pregonero calls back the callers nobody took, in their next calling window (each
    /// campaign may say otherwise in its own `[inbound]`).
    pub call_back: bool,
}

impl Default for InboundConfig {
    fn default() -> Self {
        Self {
            agent_ring_seconds: 15,
            message: "Hola {nombre}, le devolvemos la llamada de {campaign_title}. Pulse 0 para hablar con una persona o 9 para no recibir más llamadas.".into(),
            greeting: "Gracias por llamar. Pulse 9 si no desea recibir más llamadas nuestras.".into(),
            optout_key: "9".into(),
            optout_message: "Hemos anotado que no desea recibir más llamadas. Adiós.".into(),
            agent_key: "0".into(),
            goodbye_message: "Gracias por su llamada. Adiós.".into(),
            max_prompts: 2,
            call_back: false,
        }
    }
}

/// Delivery of outcome notifications (`[reminder].notify_url`) from the outbox.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Deliveries tried before a notification is given up (and the log says so).
    pub max_tries: u32,
    /// Seconds to wait for the receiver's reply; no reply counts as a failed try.
    pub timeout_seconds: f64,
    /// Wait before the first retry; it doubles with each failure, with jitter.
    pub backoff_seconds: f64,
    /// The longest wait between two tries.
    pub backoff_max_seconds: f64,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            max_tries: 10,
            timeout_seconds: 10.0,
            backoff_seconds: 30.0,
            backoff_max_seconds: 3600.0,
        }
    }
}

impl Config {
    /// Loads the file (if any), applies `PREGONERO_*` environment overrides and validates.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_with_env(path, &env)
    }

    /// The language to speak when the configuration could not be loaded: `PREGONERO_UI_LANGUAGE`,
    /// else `[ui] language` if the file is at least readable TOML, else Spanish.
    pub fn language_hint(path: Option<&Path>) -> crate::i18n::Lang {
        let parse = |v: &str| match v.trim().to_ascii_lowercase().as_str() {
            "en" => Some(crate::i18n::Lang::En),
            "es" => Some(crate::i18n::Lang::Es),
            _ => None,
        };
        if let Some(l) = std::env::var("PREGONERO_UI_LANGUAGE")
            .ok()
            .and_then(|v| parse(&v))
        {
            return l;
        }
        path.and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|text| text.parse::<toml::Table>().ok())
            .and_then(|t| t.get("ui")?.get("language")?.as_str().and_then(parse))
            .unwrap_or_default()
    }

    /// As [`Config::load`], with the environment given explicitly (tests).
    pub fn load_with_env(
        path: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let (mut table, origin) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|reason| ConfigError::Read {
                    path: p.to_path_buf(),
                    reason,
                })?;
                let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
                    // One line: the parser's message may span several.
                    let message = e
                        .message()
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .collect::<Vec<_>>()
                        .join(", ");
                    let line = e
                        .span()
                        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
                    ConfigError::Invalid {
                        path: p.display().to_string(),
                        message: match line {
                            Some(l) => format!("line {l}: {message}"),
                            None => message,
                        },
                    }
                })?;
                (table, p.display().to_string())
            }
            None => (toml::Table::new(), "(defaults)".to_string()),
        };
        apply_env(&mut table, env)?;
        let config: Config =
            Config::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Invalid {
                path: origin.clone(),
                message: e.to_string().trim().to_string(),
            })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        use crate::i18n::Msg;
        if self.limits.calls_per_second.is_nan() || self.limits.calls_per_second <= 0.0 {
            return Err(rule("config.greater_than_0", "limits.calls_per_second"));
        }
        if self.limits.max_concurrent_calls == 0 {
            return Err(rule("config.at_least_1", "limits.max_concurrent_calls"));
        }
        if self.simulator.speed.is_nan() || self.simulator.speed <= 0.0 {
            return Err(rule("config.greater_than_0", "simulator.speed"));
        }
        let p = &self.provider;
        for (key, v) in [
            ("provider.retry_backoff_seconds", p.retry_backoff_seconds),
            ("provider.circuit_open_seconds", p.circuit_open_seconds),
            ("provider.timeout_seconds", p.timeout_seconds),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(rule("config.greater_than_0", key));
            }
        }
        if p.circuit_failures == 0 {
            return Err(rule("config.at_least_1", "provider.circuit_failures"));
        }
        let s = &self.simulator;
        for (key, v) in [
            ("simulator.drop_end_requests", s.drop_end_requests),
            ("simulator.drop_reports", s.drop_reports),
            ("simulator.callback_rate", s.callback_rate),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(rule("config.between_0_1", key));
            }
        }
        let f = &self.simulator.faults;
        if !(f.rate.is_finite() && (0.0..=1.0).contains(&f.rate)) {
            return Err(rule("config.between_0_1", "simulator.faults.rate"));
        }
        if f.http_status.is_some_and(|s| !(100..=599).contains(&s)) {
            return Err(rule("config.http_status", "simulator.faults.http_status"));
        }
        if f.max_cps.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
            return Err(rule("config.greater_than_0", "simulator.faults.max_cps"));
        }
        let i = &self.inbound;
        if !(5..=120).contains(&i.agent_ring_seconds) {
            return Err(ConfigError::Rule(
                Msg::new("config.between")
                    .arg("key", "inbound.agent_ring_seconds")
                    .arg("min", 5)
                    .arg("max", 120)
                    .arg("value", i.agent_ring_seconds),
            ));
        }
        for (key, v) in [
            ("inbound.optout_key", &i.optout_key),
            ("inbound.agent_key", &i.agent_key),
        ] {
            if !(v.len() == 1
                && v.bytes()
                    .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#'))
            {
                return Err(ConfigError::Rule(
                    Msg::new("config.one_key").arg("key", key).arg("value", v),
                ));
            }
        }
        if i.optout_key == i.agent_key {
            return Err(ConfigError::Rule(
                Msg::new("config.keys_differ")
                    .arg("a", "inbound.optout_key")
                    .arg("b", "inbound.agent_key"),
            ));
        }
        if i.max_prompts == 0 {
            return Err(rule("config.at_least_1", "inbound.max_prompts"));
        }
        let n = &self.notify;
        if n.max_tries == 0 {
            return Err(rule("config.at_least_1", "notify.max_tries"));
        }
        for (key, v) in [
            ("notify.timeout_seconds", n.timeout_seconds),
            ("notify.backoff_seconds", n.backoff_seconds),
            ("notify.backoff_max_seconds", n.backoff_max_seconds),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(rule("config.greater_than_0", key));
            }
        }
        for (key, v) in [
            (
                "server.request_timeout_seconds",
                self.server.request_timeout_seconds,
            ),
            (
                "server.report_timeout_seconds",
                self.server.report_timeout_seconds,
            ),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(rule("config.greater_than_0", key));
            }
        }
        crate::cidr::parse_list("server.allow_from", &self.server.allow_from)
            .map_err(ConfigError::Rule)?;
        crate::cidr::parse_list("server.trusted_proxies", &self.server.trusted_proxies)
            .map_err(ConfigError::Rule)?;
        if self.calling.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ConfigError::Rule(
                Msg::new("config.bad_timezone")
                    .arg("key", "calling.timezone")
                    .arg("value", &self.calling.timezone),
            ));
        }
        match (&self.server.tls_cert, &self.server.tls_key) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError::Rule(Msg::new("config.tls_pair")))
            }
            _ => {}
        }
        if self.provider.kind == ProviderKind::Apivoice {
            if self.server.secret.is_none() {
                return Err(ConfigError::Rule(Msg::new("config.secret_required")));
            }
            if self.provider.token.is_none() && self.provider.token_file.is_none() {
                return Err(ConfigError::Rule(Msg::new("config.token_required")));
            }
        }
        Ok(())
    }

    /// The provider token, read from `token` or `token_file`.
    pub fn provider_token(&self) -> Result<Option<SecretString>, ConfigError> {
        if let Some(t) = &self.provider.token {
            return Ok(Some(t.clone()));
        }
        match &self.provider.token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|reason| ConfigError::Read {
                    path: path.clone(),
                    reason,
                })?;
                Ok(Some(SecretString::from(text.trim().to_string())))
            }
            None => Ok(None),
        }
    }

    /// The events signing key, read from `events.secret_file`; `None` when unset. An empty
    /// file is an error: it would sign with an empty key.
    pub fn events_secret(&self) -> Result<Option<SecretString>, ConfigError> {
        let Some(path) = &self.events.secret_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|reason| ConfigError::Read {
            path: path.clone(),
            reason,
        })?;
        let key = text.trim();
        if key.is_empty() {
            return Err(ConfigError::Rule(
                crate::i18n::Msg::new("config.empty_file")
                    .arg("key", "events.secret_file")
                    .arg("file", path.display()),
            ));
        }
        Ok(Some(SecretString::from(key.to_string())))
    }

    /// The Google key of `[voice] google_key_file`, if set. One line of printable characters
    /// without `;` (the separator of a command's options); the message never shows it.
    pub fn google_key(&self) -> Result<Option<SecretString>, ConfigError> {
        let Some(path) = &self.voice.google_key_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|reason| ConfigError::Read {
            path: path.clone(),
            reason,
        })?;
        let key = text.trim();
        if key.is_empty()
            || key
                .chars()
                .any(|c| c == ';' || c.is_whitespace() || c.is_control())
        {
            return Err(ConfigError::Rule(
                crate::i18n::Msg::new("config.google_key").arg("file", path.display()),
            ));
        }
        Ok(Some(SecretString::from(key.to_string())))
    }

    /// The dashboard password, read from `dashboard_password` or `dashboard_password_file`;
    /// `None` (or empty): the dashboard is off.
    pub fn dashboard_password(&self) -> Result<Option<SecretString>, ConfigError> {
        let pw = match (
            &self.server.dashboard_password,
            &self.server.dashboard_password_file,
        ) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|reason| ConfigError::Read {
                    path: path.clone(),
                    reason,
                })?;
                Some(SecretString::from(text.trim().to_string()))
            }
            (None, None) => None,
        };
        Ok(pw.filter(|p| !p.expose_secret().is_empty()))
    }

    pub fn provider_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.provider.timeout_seconds.max(0.1))
    }

    /// Whether the daemon serves HTTPS itself (`server.tls_cert` and `tls_key`).
    pub fn tls_enabled(&self) -> bool {
        self.server.tls_cert.is_some() && self.server.tls_key.is_some()
    }

    /// The webhook URL base the provider must call, with the secret as the last segment.
    pub fn webhook_urls(&self, listen: &str, secret: &SecretString) -> (String, String) {
        let scheme = if self.tls_enabled() { "https" } else { "http" };
        let base = self
            .server
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{listen}"));
        let base = base.trim_end_matches('/');
        let s = secret.expose_secret();
        (
            format!("{base}/apivoice/control/{s}"),
            format!("{base}/apivoice/report/{s}"),
        )
    }

    /// The inbound control URL ("URL de control para llamadas entrantes" in netelip's panel).
    pub fn inbound_url(&self, listen: &str, secret: &SecretString) -> String {
        let (control, _) = self.webhook_urls(listen, secret);
        control.replacen("/apivoice/control/", "/apivoice/inbound/", 1)
    }
}

/// Applies `PREGONERO_<SECTION>_<KEY>=value` overrides. A value is parsed as a TOML number,
/// boolean or array only where the key's default is of that type, so that a token such as
/// `0123` stays a string.
fn apply_env(table: &mut toml::Table, env: &[(String, String)]) -> Result<(), ConfigError> {
    let defaults = toml::Table::try_from(Config::default()).unwrap_or_default();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("PREGONERO_") else {
            continue;
        };
        if rest == "CONFIG" || rest.starts_with("TEST_") {
            continue;
        }
        let lower = rest.to_ascii_lowercase();
        let Some((section, key)) = defaults
            .keys()
            .filter_map(|s| {
                lower
                    .strip_prefix(s.as_str())
                    .and_then(|k| k.strip_prefix('_'))
                    .map(|k| (s.clone(), k.to_string()))
            })
            .next()
        else {
            return Err(ConfigError::Rule(
                crate::i18n::Msg::new("config.env_section")
                    .arg("name", name)
                    .arg(
                        "sections",
                        defaults.keys().cloned().collect::<Vec<_>>().join(", "),
                    ),
            ));
        };
        let default = defaults
            .get(&section)
            .and_then(|s| s.as_table())
            .and_then(|t| t.get(&key));
        let parsed = match default {
            Some(toml::Value::String(_)) | None => toml::Value::String(value.clone()),
            Some(_) => format!("v = {value}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .ok_or_else(|| {
                    ConfigError::Rule(crate::i18n::Msg::new("config.env_value").arg("name", name))
                })?,
        };
        let entry = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry.as_table_mut() {
            Some(t) => {
                t.insert(key, parsed);
            }
            None => {
                return Err(ConfigError::Rule(
                    crate::i18n::Msg::new("config.not_table").arg("section", &section),
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_database_password() {
        let mut config = Config::default();
        config.database.url =
            "postgres://pregonero:s3cr3t-pw@db.example:5432/pregonero?sslmode=require".into();
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cr3t-pw"), "{shown}");
        assert!(
            shown.contains("postgres://pregonero:***@db.example:5432/pregonero?sslmode=require"),
            "{shown}"
        );
        assert_eq!(
            redact_url_password("postgres://u@h/db"),
            "postgres://u@h/db",
            "no password, nothing to hide"
        );
        assert_eq!(
            redact_url_password("sqlite://pregonero.db"),
            "sqlite://pregonero.db"
        );
        assert_eq!(
            redact_url_password("postgres://u:p@ss@h/db"),
            "postgres://u:***@h/db",
            "an @ inside the password"
        );
    }

    #[test]
    fn no_file_gives_the_documented_defaults() {
        let c = Config::load_with_env(None, &[]).unwrap();
        assert_eq!(c.database.url, "sqlite://pregonero.db");
        assert_eq!(c.campaigns.dir, PathBuf::from("campaigns"));
        assert_eq!(c.provider.kind, ProviderKind::Simulator);
        assert_eq!(c.server.listen, "127.0.0.1:8080");
    }

    #[test]
    fn environment_overrides_keys_with_types_from_the_defaults() {
        let env = vec![
            ("PREGONERO_DATABASE_URL".into(), "postgres://x@h/db".into()),
            ("PREGONERO_PROVIDER_TOKEN".into(), "0123".into()),
            ("PREGONERO_LIMITS_CALLS_PER_SECOND".into(), "5".into()),
            (
                "PREGONERO_SERVER_PUBLIC_URL".into(),
                "https://d.example".into(),
            ),
        ];
        let c = Config::load_with_env(None, &env).unwrap();
        assert_eq!(c.database.url, "postgres://x@h/db");
        assert_eq!(c.provider.token.unwrap().expose_secret(), "0123");
        assert_eq!(c.limits.calls_per_second, 5.0);
        assert_eq!(c.server.public_url.as_deref(), Some("https://d.example"));
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let env = vec![
            ("PREGONERO_PROVIDER_TOKEN".into(), "tok-abcdef".into()),
            ("PREGONERO_SERVER_SECRET".into(), "hush-123".into()),
        ];
        let c = Config::load_with_env(None, &env).unwrap();
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("tok-abcdef") && !dbg.contains("hush-123"),
            "{dbg}"
        );
    }

    #[test]
    fn bad_file_error_names_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(&p, "[limits]\ncalls_per_second = \"fast\"\n").unwrap();
        let e = Config::load_with_env(Some(&p), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("p.toml") && e.contains("calls_per_second"),
            "{e}"
        );
        std::fs::write(&p, "[limtis]\n").unwrap();
        let e = Config::load_with_env(Some(&p), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("limtis"), "{e}");
    }

    #[test]
    fn tls_keys_come_in_pairs_and_switch_the_urls_to_https() {
        let env = vec![("PREGONERO_SERVER_TLS_CERT".into(), "/etc/p/cert.pem".into())];
        let e = Config::load_with_env(None, &env).unwrap_err().to_string();
        assert!(
            e.contains("server.tls_cert") && e.contains("server.tls_key"),
            "{e}"
        );
        let env = vec![
            ("PREGONERO_SERVER_TLS_CERT".into(), "/etc/p/cert.pem".into()),
            ("PREGONERO_SERVER_TLS_KEY".into(), "/etc/p/key.pem".into()),
        ];
        let c = Config::load_with_env(None, &env).unwrap();
        assert_eq!(c.server.tls_key, Some(PathBuf::from("/etc/p/key.pem")));
        let (control, _) = c.webhook_urls("127.0.0.1:8443", &SecretString::from("s"));
        assert_eq!(control, "https://127.0.0.1:8443/apivoice/control/s");
    }

    #[test]
    fn an_unreadable_file_is_one_sentence_even_with_the_error_chain() {
        let e = Config::load_with_env(Some(Path::new("/nonexistent/p.toml")), &[]).unwrap_err();
        let text = format!("{:#}", anyhow::Error::from(e));
        assert_eq!(
            text, "the configuration file /nonexistent/p.toml does not exist",
            "said once, in English in logs"
        );
    }

    #[test]
    fn a_broken_rule_is_said_in_either_language() {
        let env = vec![("PREGONERO_INBOUND_AGENT_RING_SECONDS".into(), "200".into())];
        let e = Config::load_with_env(None, &env).unwrap_err();
        assert_eq!(
            crate::i18n::Lang::Es.render(&e.msg()),
            "inbound.agent_ring_seconds debe estar entre 5 y 120; es 200"
        );
        assert_eq!(
            crate::i18n::Lang::En.render(&e.msg()),
            "inbound.agent_ring_seconds must be between 5 and 120, got 200"
        );
        let env = vec![("PREGONERO_SIMULATOR_DROP_REPORTS".into(), "2".into())];
        let e = Config::load_with_env(None, &env).unwrap_err();
        assert_eq!(
            crate::i18n::Lang::Es.render(&e.msg()),
            "simulator.drop_reports debe estar entre 0 y 1"
        );
        assert_eq!(
            e.to_string(),
            "simulator.drop_reports must be between 0 and 1"
        );
    }

    #[test]
    fn real_provider_needs_a_secret_and_a_token() {
        let env = vec![("PREGONERO_PROVIDER_KIND".into(), "apivoice".into())];
        let e = Config::load_with_env(None, &env).unwrap_err().to_string();
        assert!(e.contains("server.secret"), "{e}");
    }
}
