//! The call flow: a control request plus the state in `userfield` gives the next command.
//!
//! Guarantees: every reply is exactly one valid command (on any doubt, `hangup`); spoken text
//! never contains `;`, the field separator of `options`; the state needed to continue a call
//! travels in `userfield` (`<attempt>|<step>|<n>`), so a restarted daemon picks up live calls.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::campaign::{render_template, AnnouncementSettings, Campaign, FlowSettings, Voice};

/// How long `*_getdtmf` waits for a key, milliseconds.
const DTMF_WAIT_MS: u32 = 5000;
/// How many times an announcement may be replayed on request.
const MAX_REPLAYS: u32 = 2;

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

    pub fn seconds(&self, key: &str) -> Option<i64> {
        self.get(key)
            .parse::<f64>()
            .ok()
            .filter(|s| *s >= 0.0)
            .map(|s| s.round() as i64)
    }

    pub fn kind(&self) -> RequestKind {
        let statuscall = self.get("statuscall");
        if !statuscall.is_empty() && !statuscall.eq_ignore_ascii_case("ANSWER") {
            return RequestKind::End;
        }
        let code: u32 = self.get("statuscode").parse().unwrap_or(0);
        if code >= 400
            || self
                .get("description")
                .eq_ignore_ascii_case("Command not found")
        {
            return RequestKind::Error;
        }
        if self.get("command").is_empty() && self.get("userfield").is_empty() {
            return RequestKind::Start;
        }
        RequestKind::Result
    }

    /// Whether the previous command completed (`status` OK / `statuscode` 200).
    fn command_ok(&self) -> bool {
        self.get("status").eq_ignore_ascii_case("OK") || self.get("statuscode") == "200"
    }
}

/// One command, the whole body of a control reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// Text as it may travel inside `options`: no `;` (there is no escaping), no line breaks.
pub fn spoken(text: &str) -> String {
    let t: String = text
        .chars()
        .map(|c| match c {
            ';' => ',',
            '\r' | '\n' | '\t' => ' ',
            c => c,
        })
        .collect();
    t.split_whitespace().collect::<Vec<_>>().join(" ")
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

/// The reply to a control request and what it taught about the call.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub command: Command,
    /// The outcome reached with this request, if any (e.g. `delivered`).
    pub outcome: Option<String>,
}

/// The next command of a call. `vars` are the contact's CSV columns.
pub fn next_step(
    campaign: &Campaign,
    attempt_id: i64,
    vars: &BTreeMap<String, String>,
    req: &ControlRequest,
) -> Step {
    let hang = |uf: &str| Step {
        command: Command::hangup(uf),
        outcome: None,
    };
    match req.kind() {
        RequestKind::End => hang("end"),
        RequestKind::Error => hang("error"),
        RequestKind::Start | RequestKind::Result => match &campaign.flow {
            FlowSettings::Announcement(a) => {
                announcement(a, &campaign.voice, attempt_id, vars, req)
            }
            FlowSettings::Other(_) => hang("unsupported"),
        },
    }
}

fn announcement(
    settings: &AnnouncementSettings,
    voice: &Voice,
    attempt_id: i64,
    vars: &BTreeMap<String, String>,
    req: &ControlRequest,
) -> Step {
    let text = render_template(&settings.message, vars);
    let collect = settings.repeat_key.as_ref().map(|_| (DTMF_WAIT_MS, 1));
    let play = |n: u32| {
        Command::speak(
            voice,
            &text,
            collect,
            FlowState::encode(attempt_id, "msg", n),
        )
    };
    if req.kind() == RequestKind::Start {
        return Step {
            command: play(0),
            outcome: None,
        };
    }
    let state = FlowState::parse(req.get("userfield"));
    match state {
        Some(s) if s.step == "msg" => {
            // The result request of `speak` arrives only once the message has played to its
            // end: that, and nothing earlier, makes it delivered.
            let outcome = req.command_ok().then(|| "delivered".to_string());
            let wants_repeat = settings.repeat_key.is_some() && req.dtmf() == settings.repeat_key;
            if wants_repeat && s.n < MAX_REPLAYS {
                Step {
                    command: play(s.n + 1),
                    outcome,
                }
            } else {
                Step {
                    command: Command::hangup(FlowState::encode(attempt_id, "bye", 0)),
                    outcome,
                }
            }
        }
        _ => Step {
            command: Command::hangup(FlowState::encode(attempt_id, "bye", 0)),
            outcome: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn campaign(extra: &str) -> Campaign {
        let text = format!(
            "kind = \"announcement\"\ncaller_id = \"+34910000000\"\n[announcement]\nmessage = \"Hola {{nombre}}; asamblea el lunes\"\n{extra}"
        );
        Campaign::parse("a", Path::new("a"), Path::new("a/campaign.toml"), &text).unwrap()
    }

    fn req(pairs: &[(&str, &str)]) -> ControlRequest {
        ControlRequest {
            fields: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn vars() -> BTreeMap<String, String> {
        [("nombre".to_string(), "Ana".to_string())]
            .into_iter()
            .collect()
    }

    #[test]
    fn requests_are_classified_as_the_spec_says() {
        assert_eq!(req(&[("statuscall", "ANSWER")]).kind(), RequestKind::Start);
        assert_eq!(req(&[]).kind(), RequestKind::Start);
        assert_eq!(
            req(&[("command", "speak"), ("userfield", "1|msg|0")]).kind(),
            RequestKind::Result
        );
        assert_eq!(
            req(&[("statuscode", "401"), ("description", "Command not found")]).kind(),
            RequestKind::Error
        );
        assert_eq!(
            req(&[("statuscall", "CANCEL"), ("command", "speak")]).kind(),
            RequestKind::End
        );
        assert_eq!(req(&[("statuscall", "BUSY")]).kind(), RequestKind::End);
    }

    #[test]
    fn announcement_speaks_then_hangs_up_and_is_delivered_only_after_the_message() {
        let c = campaign("");
        let s = next_step(&c, 42, &vars(), &req(&[("statuscall", "ANSWER")]));
        assert_eq!(s.command.command, "speak");
        assert_eq!(s.command.options, "google;es;Hola Ana, asamblea el lunes");
        assert_eq!(s.command.userfield, "42|msg|0");
        assert_eq!(s.outcome, None);
        let r = req(&[
            ("command", "speak"),
            ("userfield", "42|msg|0"),
            ("status", "OK"),
            ("statuscode", "200"),
        ]);
        let s = next_step(&c, 42, &vars(), &r);
        assert_eq!(s.command.command, "hangup");
        assert_eq!(s.outcome.as_deref(), Some("delivered"));
    }

    #[test]
    fn repeat_key_replays_a_bounded_number_of_times() {
        let c = campaign("repeat_key = \"1\"\n");
        let s = next_step(&c, 7, &vars(), &req(&[]));
        assert_eq!(s.command.command, "speak_getdtmf");
        assert!(
            s.command.options.ends_with(";5000;1"),
            "{}",
            s.command.options
        );
        let mut uf = s.command.userfield;
        for _ in 0..MAX_REPLAYS {
            let s = next_step(
                &c,
                7,
                &vars(),
                &req(&[
                    ("command", "speak_getdtmf"),
                    ("userfield", &uf),
                    ("status", "OK"),
                    ("dtmf", "1"),
                ]),
            );
            assert_eq!(s.command.command, "speak_getdtmf");
            uf = s.command.userfield;
        }
        let s = next_step(
            &c,
            7,
            &vars(),
            &req(&[
                ("command", "speak_getdtmf"),
                ("userfield", &uf),
                ("status", "OK"),
                ("dtmf", "1"),
            ]),
        );
        assert_eq!(s.command.command, "hangup");
        assert_eq!(s.outcome.as_deref(), Some("delivered"));
    }

    #[test]
    fn errors_and_garbage_get_hangup() {
        let c = campaign("");
        let s = next_step(
            &c,
            1,
            &vars(),
            &req(&[
                ("statuscode", "401"),
                ("description", "Command not found"),
                ("command", "x"),
            ]),
        );
        assert_eq!(s.command, Command::hangup("error"));
        let s = next_step(
            &c,
            1,
            &vars(),
            &req(&[("command", "speak"), ("userfield", "garbage")]),
        );
        assert_eq!(s.command.command, "hangup");
    }

    #[test]
    fn spoken_text_has_no_separators() {
        assert_eq!(spoken("a;b\nc  d"), "a,b c d");
    }
}
