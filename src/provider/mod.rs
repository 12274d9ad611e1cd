//! The telephony provider: netelip's API Voice client, and the simulator that speaks the same
//! protocol (apivoice.md sections 1–5) for demos and tests.
//!
//! Every point the spec marks as inferred (reply codes, the reaction to each) is decided in
//! [`LaunchOutcome::from_reply`], the one place to correct once netelip's manual is at hand.
//!
//! # Assumptions about the real service
//!
//! The protocol was reconstructed from public traffic. Where pregonero depends on behaviour
//! nobody has seen from netelip, the assumption is listed here with the key that changes it
//! and the simulator switch that plays the alternative:
//!
//! - **End of call.** The only end-of-call request ever logged followed a hang-up by netelip.
//!   So the call is over for us when we reply `hangup`: its concurrency slot is free at once
//!   (`calls::InFlight::hung_up`), and the attempt waits `provider.end_grace_seconds` (60) for
//!   the end request or a report line before it is closed from what is stored (answered, and
//!   the outcome the flow reached). A call that no control request ever reached is bounded by
//!   the campaign's `ring_seconds` plus the same grace, then closed from its report line, or
//!   as lost. Simulator: `simulator.drop_end_requests` and `simulator.drop_reports` (shares of
//!   calls, 0 to 1). Calls left open by an earlier run still wait `stale_call_seconds`.
//! - **Caller ID.** Every known working integration sends the caller ID as digits
//!   (`0034…`), and one log shows a caller ID the provider refused reaching callees as
//!   `anonymous`. So `caller_id` (written `+34…` in campaign.toml) goes out as `0034…`
//!   ([`caller_id`]); `provider.caller_id_format = "digits"` sends `34…`, `"plus"` sends it
//!   as written. `pregonero check` warns about a `caller_id` that is not among
//!   `provider.caller_ids` (the account's numbers). Simulator: the launch records the `src` it
//!   received (`LaunchRecord::src`).
//! - **Bare requests.** A control request with no `api` field and no command it answers (no
//!   `command`, no `userfield`) was seen while a `dial` rang. It gets an empty `200 {}` that
//!   changes nothing, and a log line (`flow::ControlRequest::is_bare`); answering `hangup` could
//!   cut the transfer. A request naming another `api` instance is still refused (403, `hangup`).
//!   Simulator: `simulator.bare_requests` sends one before each `dial` or `queue`.
//! - **Transfer outcome.** A `dial` result with `ANSWER` was seen only when the agent's side
//!   ended the bridge; when the callee hangs up first no result comes, and a `queue` may
//!   answer a bare `OK`. So a transfer counts as taken on any of three proofs
//!   (`flow::transfer`): the result's `ANSWER`; an end request after the call stayed in its
//!   transfer longer than the agent's phone rings (`agent_ring_seconds` for sales, the
//!   campaign's `ring_seconds` otherwise), which a `dial` cannot do unless bridged; a report
//!   leg to the agent, answered and billed, even after the attempt closed (the contact's state
//!   follows). Simulator: the script option `bridged=SECS` makes the callee hang up that long
//!   after the agent picked up, `simulator.bare_queue_results` answers `queue` with a bare
//!   `OK`, and every transfer adds the agent's leg to the report.
//! - **Report legs.** A batch mixes the legs of one call under one `ID`: the callee's and a
//!   transfer's to the agent. Only the callee's leg (its `dst` is the contact's number,
//!   [`is_callee_leg`]) closes the attempt with its status, so a busy agent leg never
//!   re-queues a contact who answered. No key: the rule holds for every known `dst` form.
//! - **`queue` options.** Seen as `name,1` in working code; netelip's other commands separate
//!   fields with `;`, and a queue may take its name alone. `provider.queue_options` (`comma`,
//!   `semicolon`, `name`; [`queue_options`]). Simulator: `simulator.queue_options` refuses any
//!   other form with `Command not found`.
//! - **A message heard.** The result of a `speak` arrives when the message has played; an
//!   announcement counts `delivered` when it says `status=OK` or `statuscode=200`, or, with
//!   `provider.speak_results = "status_or_up"` (the default), when it carries neither and the
//!   call was still up (`statuscall` empty or `ANSWER`) (`flow::ControlRequest::heard`).
//!   `"status"` asks for the status. Simulator: `simulator.bare_speak_results` sends results
//!   without them.

pub mod form;

pub use form::{read_form, read_form_limited, FormError};

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::{CallerIdFormat, QueueOptions};

/// The caller ID in the form `format` says the provider wants (see "Assumptions" above). A
/// number written `+<cc>…` or `00<cc>…` is international and is rewritten; any other text
/// (a national number, an extension) goes out as written.
pub fn caller_id(written: &str, format: CallerIdFormat) -> String {
    let compact: String = written
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.' | '(' | ')'))
        .collect();
    let digits = match compact
        .strip_prefix('+')
        .or_else(|| compact.strip_prefix("00"))
    {
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => d,
        _ => return compact,
    };
    match format {
        CallerIdFormat::Zeros => format!("00{digits}"),
        CallerIdFormat::Digits => digits.to_string(),
        CallerIdFormat::Plus => format!("+{digits}"),
    }
}

/// `+34600123456` → `0034600123456`, the form API Voice wants in `dst`.
pub fn to_provider(e164: &str) -> String {
    match e164.strip_prefix('+') {
        Some(rest) => format!("00{rest}"),
        None => e164.to_string(),
    }
}

/// Whether a call-report line is the callee's leg of the call rather than a transfer's leg to
/// an agent: its `dst` (national digits, `0034…`, `34…`) is the contact's E.164 number. A line
/// without a `dst` is the call's own.
pub fn is_callee_leg(line_dst: &str, callee: &str) -> bool {
    let dst: String = line_dst.chars().filter(char::is_ascii_digit).collect();
    let callee: String = callee.chars().filter(char::is_ascii_digit).collect();
    if dst.is_empty() || callee.is_empty() {
        return true;
    }
    let dst = dst.strip_prefix("00").unwrap_or(&dst);
    // National digits are the end of the international number; an extension is too short to
    // be taken for one.
    dst == callee || (dst.len() >= 6 && callee.ends_with(dst))
}

/// The options of a `queue` command for the queue `name`, in the configured form.
pub fn queue_options(name: &str, form: QueueOptions) -> String {
    match form {
        QueueOptions::Comma => format!("{name},1"),
        QueueOptions::Semicolon => format!("{name};1"),
        QueueOptions::Name => name.to_string(),
    }
}

/// A call to place.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    /// Caller id shown to the callee (a number of the account).
    pub src: String,
    /// E.164 destination; sent as `00<cc><number>`.
    pub dst: String,
    /// Maximum ringing time, seconds.
    pub ring_seconds: u32,
    /// Echoed back in every control request: the attempt id.
    pub userdata: String,
}

/// What the dialer must do after a launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchOutcome {
    /// The call is ringing; the provider's call id.
    Ringing(String),
    /// 401: bad token or instance. Stop launching for every campaign.
    Unauthorized,
    /// HTTP 404: nothing answers at the launch URL (`provider.url`). Stop launching for every
    /// campaign.
    WrongUrl,
    /// 402: no balance. Pause launching until an operator resumes.
    NoBalance,
    /// 103, 406: this request is bad; fail the attempt, do not retry it as is.
    Rejected(String),
    /// 412, 500, 503, HTTP 5xx, connection errors: not placed, retry later with backoff.
    RetryLater(String),
    /// No reply in time: the call may be ringing. Never relaunch at once.
    Unknown(String),
}

impl LaunchOutcome {
    /// Maps an HTTP status and body to the reaction of apivoice.md section 1.
    pub fn from_reply(http_status: u16, body: &str) -> LaunchOutcome {
        if http_status >= 500 {
            return LaunchOutcome::RetryLater(format!("HTTP {http_status}"));
        }
        if http_status != 200 {
            // Anything else from the HTTP layer is a configuration problem: a 404 a wrong
            // launch URL, a 401 or 403 a bad token.
            return if http_status == 404 {
                LaunchOutcome::WrongUrl
            } else if http_status == 401 || http_status == 403 {
                LaunchOutcome::Unauthorized
            } else {
                LaunchOutcome::RetryLater(format!("HTTP {http_status}"))
            };
        }
        #[derive(Deserialize)]
        struct Reply {
            response: serde_json::Value,
            #[serde(rename = "ID", default)]
            id: Option<serde_json::Value>,
        }
        let reply: Reply = match serde_json::from_str(body) {
            Ok(r) => r,
            Err(_) => return LaunchOutcome::RetryLater("unreadable launch reply".into()),
        };
        // The code is a string in practice; accept a number too.
        let code = match &reply.response {
            serde_json::Value::String(s) => s.trim().to_string(),
            other => other.to_string(),
        };
        let id = match reply.id {
            Some(serde_json::Value::String(s)) => s,
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        match code.as_str() {
            "200" if !id.trim().is_empty() => LaunchOutcome::Ringing(id.trim().to_string()),
            "200" => LaunchOutcome::RetryLater("launch accepted without a call ID".into()),
            "401" => LaunchOutcome::Unauthorized,
            "402" => LaunchOutcome::NoBalance,
            "103" | "406" => {
                LaunchOutcome::Rejected(format!("provider refused the request ({code})"))
            }
            _ => LaunchOutcome::RetryLater(format!("provider answered {code}")),
        }
    }
}

/// The API Voice client: one base URL, one token, timeouts.
#[derive(Clone)]
pub struct ApiVoiceClient {
    http: reqwest::Client,
    url: String,
    api: String,
    token: SecretString,
    caller_id_format: CallerIdFormat,
}

impl std::fmt::Debug for ApiVoiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiVoiceClient")
            .field("url", &self.url)
            .field("api", &self.api)
            .field("token", &"[redacted]")
            .finish()
    }
}

impl ApiVoiceClient {
    pub fn new(
        url: &str,
        api: &str,
        token: SecretString,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(Self {
            http,
            url: url.to_string(),
            api: api.to_string(),
            token,
            caller_id_format: CallerIdFormat::default(),
        })
    }

    /// The caller ID's form on the wire (`provider.caller_id_format`).
    pub fn with_caller_id_format(mut self, format: CallerIdFormat) -> Self {
        self.caller_id_format = format;
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Places a call. Never returns an error: every failure is a [`LaunchOutcome`].
    pub async fn launch(&self, req: &LaunchRequest) -> LaunchOutcome {
        let duration = req.ring_seconds.to_string();
        let dst = to_provider(&req.dst);
        let src = caller_id(&req.src, self.caller_id_format);
        let form = [
            ("token", self.token.expose_secret()),
            ("api", self.api.as_str()),
            ("src", src.as_str()),
            ("dst", dst.as_str()),
            ("duration", duration.as_str()),
            ("typedst", "pstn"),
            ("userdata", req.userdata.as_str()),
        ];
        let sent = self.http.post(&self.url).form(&form).send().await;
        let resp = match sent {
            Ok(r) => r,
            // reqwest errors carry the URL but never the form body, so the token stays out.
            Err(e) if e.is_timeout() => {
                return LaunchOutcome::Unknown("no reply before the timeout".into())
            }
            Err(e) if e.is_connect() => {
                return LaunchOutcome::RetryLater("cannot connect to the provider".into())
            }
            Err(_) => {
                return LaunchOutcome::Unknown("the connection broke before the reply".into())
            }
        };
        let status = resp.status().as_u16();
        match resp.text().await {
            Ok(body) => LaunchOutcome::from_reply(status, &body),
            Err(e) if e.is_timeout() => LaunchOutcome::Unknown("reply body timed out".into()),
            Err(_) => LaunchOutcome::Unknown("reply body could not be read".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_codes_map_to_reactions() {
        assert_eq!(
            LaunchOutcome::from_reply(200, r#"{"response":"200","ID":"1587419989.28046"}"#),
            LaunchOutcome::Ringing("1587419989.28046".into())
        );
        assert_eq!(
            LaunchOutcome::from_reply(200, r#"{"response":"401"}"#),
            LaunchOutcome::Unauthorized
        );
        assert_eq!(
            LaunchOutcome::from_reply(200, r#"{"response":402}"#),
            LaunchOutcome::NoBalance
        );
        assert_eq!(LaunchOutcome::from_reply(404, ""), LaunchOutcome::WrongUrl);
        assert_eq!(
            LaunchOutcome::from_reply(403, ""),
            LaunchOutcome::Unauthorized
        );
        assert!(matches!(
            LaunchOutcome::from_reply(200, r#"{"response":"103"}"#),
            LaunchOutcome::Rejected(_)
        ));
        assert!(matches!(
            LaunchOutcome::from_reply(200, r#"{"response":"406"}"#),
            LaunchOutcome::Rejected(_)
        ));
        for code in ["412", "500", "503"] {
            let body = format!(r#"{{"response":"{code}"}}"#);
            assert!(
                matches!(
                    LaunchOutcome::from_reply(200, &body),
                    LaunchOutcome::RetryLater(_)
                ),
                "{code}"
            );
        }
        assert!(matches!(
            LaunchOutcome::from_reply(502, ""),
            LaunchOutcome::RetryLater(_)
        ));
        assert!(matches!(
            LaunchOutcome::from_reply(200, "<html>"),
            LaunchOutcome::RetryLater(_)
        ));
        assert!(matches!(
            LaunchOutcome::from_reply(200, r#"{"response":"200","ID":""}"#),
            LaunchOutcome::RetryLater(_)
        ));
    }

    #[test]
    fn a_report_leg_is_the_callees_when_its_dst_is_the_contacts_number() {
        for dst in ["612345678", "0034612345678", "34612345678", ""] {
            assert!(is_callee_leg(dst, "+34612345678"), "{dst}");
        }
        // The agent's extension, another number, a number that only shares its end.
        for dst in ["201", "0034910000000", "910000000", "45678"] {
            assert!(!is_callee_leg(dst, "+34612345678"), "{dst}");
        }
        assert!(is_callee_leg("00447700900123", "+447700900123"));
        assert_eq!(to_provider("+34600123456"), "0034600123456");
    }

    #[test]
    fn queue_options_take_the_configured_form() {
        assert_eq!(queue_options("ventas", QueueOptions::Comma), "ventas,1");
        assert_eq!(queue_options("ventas", QueueOptions::Semicolon), "ventas;1");
        assert_eq!(queue_options("ventas", QueueOptions::Name), "ventas");
    }

    #[test]
    fn the_caller_id_goes_out_in_the_configured_form() {
        use crate::config::CallerIdFormat::{Digits, Plus, Zeros};
        for written in ["+34910000000", "0034910000000", "+34 910 00 00 00"] {
            assert_eq!(caller_id(written, Zeros), "0034910000000", "{written}");
            assert_eq!(caller_id(written, Digits), "34910000000", "{written}");
            assert_eq!(caller_id(written, Plus), "+34910000000", "{written}");
        }
        // Not recognisably international: as written.
        assert_eq!(caller_id("910000000", Zeros), "910000000");
        assert_eq!(caller_id("+34abc", Zeros), "+34abc");
    }
}
