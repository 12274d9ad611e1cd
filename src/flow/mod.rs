//! The call flow: a control request plus the state in `userfield` gives the next command.
//!
//! Every kind runs on one engine (`script`): a few named steps — menus that collect one key,
//! messages, transfers — that `kinds` builds from the campaign's settings and the contact's
//! columns. `speech` writes dates and times as they are said.
//!
//! Guarantees: every reply is exactly one valid command (on any doubt, `hangup`); spoken text
//! never contains `;`, the field separator of `options`, and `dial` fields never contain `,`;
//! the state needed to continue a call travels in `userfield` (`<attempt>|<step>|<n>`, well
//! under 100 characters), so a restarted daemon picks up live calls.

mod capture;
mod inbound;
mod kinds;
mod script;
mod speech;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_capture;
pub mod transfer;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::campaign::{Campaign, TransferTarget, Voice};
use crate::config::{QueueOptions, SpeakResults};
pub use crate::schedule::Outcome;

pub use capture::{Captured, GOOGLE_VOICE2TEXT, MAX_TRANSCRIPT_BYTES, READBACK_CHARS};
pub use inbound::{agent_target, inbound_step, inbound_step_adapted, Caller};
pub use kinds::{appointment_from_vars, APPOINTMENT_AT, MAX_REPLAYS};
pub use speech::{speak_datetime, speak_time, spoken};

/// The field of a result request that carries a `google_voice2text` transcript.
pub const TRANSCRIPT_FIELD: &str = "description";

/// How long `*_getdtmf` waits for a key, milliseconds.
const DTMF_WAIT_MS: u32 = 5000;

/// The longest duration a provider field is taken to hold: a week. A larger number (say
/// `1e30`, or `inf`) is a garbled field: read as unknown, never saturated to `i64::MAX`, whose
/// sums in the store would overflow.
pub const MAX_CALL_SECONDS: i64 = 7 * 24 * 3600;

/// A control request, every field as received (query string and body merged, body wins).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ControlRequest {
    pub fields: BTreeMap<String, String>,
}

/// What a control request is (apivoice.md section 2, "How to read a request").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// The callee answered: reply with the first command.
    Start,
    /// The result of the previous command: reply with the next one.
    Result,
    /// The previous reply was refused (`Command not found`, status ≥ 400): hang up.
    Error,
    /// The call is over: reply `{}` and close the attempt.
    End,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Start => "start",
            RequestKind::Result => "result",
            RequestKind::Error => "error",
            RequestKind::End => "end",
        }
    }
}

impl ControlRequest {
    pub fn get(&self, key: &str) -> &str {
        self.fields.get(key).map(|s| s.trim()).unwrap_or("")
    }

    fn opt(&self, key: &str) -> Option<String> {
        Some(self.get(key))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    pub fn call_id(&self) -> Option<String> {
        self.opt("ID")
    }

    /// A request with neither our `api` field nor a command it answers (`command`,
    /// `userfield`): such requests were seen while a `dial` rang, and are not part of any
    /// exchange (see [`crate::provider`], "Assumptions").
    pub fn is_bare(&self) -> bool {
        self.get("api").is_empty()
            && self.get("command").is_empty()
            && self.get("userfield").is_empty()
    }

    /// The attempt id we sent as `userdata`, if it is one.
    pub fn attempt_id(&self) -> Option<i64> {
        let u = self.get("userdata");
        if u.is_empty() || u.len() > 18 || !u.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        u.parse().ok()
    }

    pub fn command(&self) -> Option<String> {
        self.opt("command")
    }

    /// Digits captured by a `*_getdtmf`, or `None` for none / `timeout`.
    pub fn dtmf(&self) -> Option<String> {
        self.opt("dtmf")
            .filter(|d| !d.eq_ignore_ascii_case("timeout"))
    }

    pub fn statuscall(&self) -> Option<String> {
        self.opt("statuscall")
    }

    /// A duration field, in whole seconds; `None` when it is empty, not a number, negative or
    /// longer than [`MAX_CALL_SECONDS`] (a garbled field, not a call).
    pub fn seconds(&self, key: &str) -> Option<i64> {
        self.get(key)
            .parse::<f64>()
            .ok()
            .filter(|s| (0.0..=MAX_CALL_SECONDS as f64).contains(s))
            .map(|s| s.round() as i64)
    }

    pub fn kind(&self) -> RequestKind {
        let statuscall = self.get("statuscall");
        if !statuscall.is_empty() && !statuscall.eq_ignore_ascii_case("ANSWER") {
            return RequestKind::End;
        }
        let not_found = self
            .get("description")
            .eq_ignore_ascii_case("Command not found");
        // A speech-to-text that understood nothing answers ≥ 400: a result, not a refusal.
        let heard_nothing = self.get("command") == capture::GOOGLE_VOICE2TEXT && !not_found;
        if (self.statuscode() >= 400 && !heard_nothing) || not_found {
            return RequestKind::Error;
        }
        if self.get("command").is_empty() && self.get("userfield").is_empty() {
            return RequestKind::Start;
        }
        RequestKind::Result
    }

    /// `statuscode` as a number; 0 when absent or garbled.
    pub fn statuscode(&self) -> u32 {
        self.get("statuscode").parse().unwrap_or(0)
    }

    /// The transcript of a `google_voice2text` (apivoice.md 2c: the result's `description`).
    pub fn transcript(&self) -> &str {
        self.get(TRANSCRIPT_FIELD)
    }

    /// Whether the previous command completed (`status` OK / `statuscode` 200).
    fn command_ok(&self) -> bool {
        self.get("status").eq_ignore_ascii_case("OK") || self.get("statuscode") == "200"
    }

    /// Whether this result proves that the message of a `speak` (or a menu's prompt) played
    /// to its end (see [`crate::provider`], "Assumptions", and `provider.speak_results`):
    /// `status=OK` / `statuscode=200`, or, under `status_or_up`, neither field while the call
    /// is still up.
    pub fn heard(&self, rule: SpeakResults) -> bool {
        if self.command_ok() {
            return true;
        }
        let bare = self.get("status").is_empty() && self.get("statuscode").is_empty();
        let statuscall = self.get("statuscall");
        let up = statuscall.is_empty() || statuscall.eq_ignore_ascii_case("ANSWER");
        rule == SpeakResults::StatusOrUp && bare && up
    }
}

/// The provider's unknowns the flow depends on, as configured (`[provider]`; see
/// [`crate::provider`], "Assumptions").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Adapter {
    pub speak_results: SpeakResults,
    pub queue_options: QueueOptions,
}

impl Adapter {
    pub fn from_config(p: &crate::config::ProviderConfig) -> Adapter {
        Adapter {
            speak_results: p.speak_results,
            queue_options: p.queue_options,
        }
    }
}

/// One command, the whole body of a control reply.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Command {
    pub command: String,
    pub options: String,
    pub userfield: String,
}

impl Command {
    pub fn hangup(userfield: impl Into<String>) -> Command {
        Command {
            command: "hangup".into(),
            options: String::new(),
            userfield: userfield.into(),
        }
    }

    /// `speak` / `speak_getdtmf` with the campaign's voice settings.
    fn speak(voice: &Voice, text: &str, collect: Option<(u32, u32)>, userfield: String) -> Command {
        let mut opts = vec![voice.provider.clone(), voice.language.clone(), spoken(text)];
        let command = match collect {
            Some((wait_ms, digits)) => {
                opts.push(wait_ms.to_string());
                opts.push(digits.to_string());
                "speak_getdtmf"
            }
            None => "speak",
        };
        if let (Some(speed), "google") = (voice.speed, voice.provider.as_str()) {
            opts.push(format!("{speed}"));
        }
        Command {
            command: command.into(),
            options: opts.join(";"),
            userfield,
        }
    }
}

/// The state carried in `userfield`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowState {
    pub attempt_id: i64,
    pub step: String,
    pub n: u32,
}

impl FlowState {
    pub fn parse(s: &str) -> Option<FlowState> {
        let mut it = s.split('|');
        let attempt_id = it.next()?.parse().ok()?;
        let step = it.next()?.to_string();
        let n = it.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        Some(FlowState {
            attempt_id,
            step,
            n,
        })
    }

    fn encode(attempt_id: i64, step: &str, n: u32) -> String {
        format!("{attempt_id}|{step}|{n}")
    }
}

/// The reply to a control request and what it taught about the call. Everything but
/// `command` is for the webhook to store before the reply leaves.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Step {
    pub command: Command,
    /// The outcome reached with this request, if any (e.g. `delivered`). A later step may
    /// replace it (survey `partial` → `completed`, promotion `interested` → `transferred`,
    /// sales `abandoned` → `connected`): the latest one counts.
    pub outcome: Option<Outcome>,
    /// Survey answers given with this request, as (question id, key); at most one per step.
    pub answers: Vec<(String, String)>,
    /// The callee asked not to be called again (promotion opt-out key): the number goes on
    /// the do-not-call list before this reply leaves.
    pub optout: bool,
    /// This reply hands the call to this target (`command` is its `dial` or `queue`).
    pub transfer: Option<TransferTarget>,
    /// This request is a transfer's result that proves something: `true` when an agent took
    /// the call, `false` when nobody did (see `transfer`).
    pub transfer_result: Option<bool>,
    /// With `transfer`: the outcome the call gets once an agent is known to have taken it.
    pub transfer_outcome: Option<Outcome>,
    /// What capture steps heard with this request, to store with the contact.
    pub captures: Vec<Captured>,
}

impl Step {
    /// A reply that only hangs up, with this `userfield`.
    pub fn hangup(userfield: impl Into<String>) -> Step {
        Step::reply(Command::hangup(userfield))
    }

    fn reply(command: Command) -> Step {
        Step {
            command,
            ..Step::default()
        }
    }
}

/// The next command of a call. `vars` are the contact's CSV columns (normalised headers); the
/// appointment that `{cita}` speaks comes from them too (`appointment_from_vars`: an
/// `appointment_at` variable in local time, else the CSV's appointment columns).
pub fn next_step(
    campaign: &Campaign,
    attempt_id: i64,
    vars: &BTreeMap<String, String>,
    req: &ControlRequest,
) -> Step {
    next_step_with_key(campaign, attempt_id, vars, req, None)
}

/// [`next_step`] with the key `google_voice2text` sends (`[voice] google_key_file`); without
/// one, capture steps are recorded as failed and skipped.
pub fn next_step_with_key(
    campaign: &Campaign,
    attempt_id: i64,
    vars: &BTreeMap<String, String>,
    req: &ControlRequest,
    google_key: Option<&str>,
) -> Step {
    next_step_adapted(
        campaign,
        attempt_id,
        vars,
        req,
        google_key,
        Adapter::default(),
    )
}

/// [`next_step_with_key`] under the configured provider assumptions (`adapter`).
pub fn next_step_adapted(
    campaign: &Campaign,
    attempt_id: i64,
    vars: &BTreeMap<String, String>,
    req: &ControlRequest,
    google_key: Option<&str>,
    adapter: Adapter,
) -> Step {
    match req.kind() {
        RequestKind::End => Step::hangup("end"),
        RequestKind::Error => Step::hangup("error"),
        RequestKind::Start | RequestKind::Result => {
            let ctx = script::Ctx {
                voice: &campaign.voice,
                attempt_id,
                ring_seconds: campaign.ring_seconds,
                google_key,
                adapter,
            };
            kinds::script(campaign, vars).step(&ctx, req)
        }
    }
}
