//! Inbound calls: a caller dialling one of the account's numbers, put through to the dialer's
//! inbound URL as netelip does (`apivoice.md` 2b): the section 2 fields with `typesrc=did`,
//! `usersrc` = `src`, `src` the caller in national digits (or `anonymous`), `dst` the number
//! called as `34…` without `00`, `userdata` empty; then the call is driven exactly like an
//! outbound one (one result request per command, `dtmf` from the caller's keys, a final
//! `CANCEL`). Used by `pregonero simulate --inbound-url` (one call, every exchange printed) and
//! by the in-process simulator's `callback_rate` (callees calling back the number that rang).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use chrono::Utc;

use super::call::Call;
use super::{mask, real_duration, CallScript, Key, LaunchRecord, SimHandle};

/// One request of an inbound call and what came back (`Err`: no 2xx reply, with why).
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// The form fields sent, in order.
    pub sent: Vec<(String, String)>,
    pub reply: Result<String, String>,
}

/// Where an inbound leg's requests go, and the exchanges kept when someone asked for them.
pub(super) struct Leg {
    pub(super) url: String,
    pub(super) trace: Option<Arc<Mutex<Vec<Exchange>>>>,
}

/// An inbound call to place.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundCall {
    /// The dialer's inbound URL.
    pub url: String,
    /// The caller, in any form (`+34612345678`, `612345678`, `0034…`) or `anonymous`.
    pub from: String,
    /// The number called (a campaign's `caller_id`), in any form.
    pub to: String,
    /// What the caller does at each successive getdtmf; beyond the list, nothing (timeout).
    pub keys: Vec<Key>,
    /// Whether a transfer (the agent rung) is answered.
    pub transfer_ok: bool,
}

/// The caller as netelip sends it: national digits for a Spanish number, `anonymous` as is.
pub fn caller_field(from: &str) -> String {
    let t = from.trim();
    if t.eq_ignore_ascii_case("anonymous") || t.is_empty() {
        return "anonymous".into();
    }
    let key = super::script::dst_key(t);
    match key.strip_prefix("34") {
        Some(national) if national.len() == 9 => national.to_string(),
        _ if key.len() == 9 => key,
        _ => format!("00{key}"),
    }
}

/// The number called as netelip sends it: `34…`, without `00` or `+`.
pub fn did_field(to: &str) -> String {
    let key = super::script::dst_key(to);
    if key.len() == 9 {
        format!("34{key}")
    } else {
        key
    }
}

impl SimHandle {
    /// Places one inbound call on `call.url` and plays it to its end; returns every request
    /// sent with its reply, in order.
    pub async fn call_in(&self, call: &InboundCall) -> Vec<Exchange> {
        let trace = Arc::new(Mutex::new(Vec::new()));
        self.inbound_call(call, Some(trace.clone())).run().await;
        let out = trace.lock().unwrap_or_else(|e| e.into_inner()).clone();
        out
    }

    fn inbound_call(&self, call: &InboundCall, trace: Option<Arc<Mutex<Vec<Exchange>>>>) -> Call {
        let at = Utc::now();
        let id = {
            let mut st = self.state();
            st.seq += 1;
            format!("{}.{}", at.timestamp(), st.seq)
        };
        let launch = LaunchRecord {
            id,
            dst: did_field(&call.to),
            src: caller_field(&call.from),
            userdata: String::new(),
            duration: 30,
            typedst: "pstn".into(),
            at,
            outcome: CallScript::Answer {
                ring_secs: 0.0,
                keys: call.keys.clone(),
                said: Vec::new(),
                hangup_during: None,
                refuse: None,
                transfer_ok: call.transfer_ok,
                bridge_secs: None,
                bridged_secs: None,
            },
        };
        self.inner.in_progress.fetch_add(1, Ordering::SeqCst);
        Call {
            sim: self.clone(),
            launch,
            inbound: Some(Leg {
                url: call.url.clone(),
                trace,
            }),
            legs: Default::default(),
        }
    }
}

/// The callee of `launch` calls its caller id back after `callback_after_secs` (simulated),
/// pressing no key: counted in progress from now until that call ends.
pub(super) fn call_back_later(sim: &SimHandle, launch: &LaunchRecord) {
    let cfg = &sim.inner.cfg;
    let Some(url) = cfg.inbound_url.clone() else {
        return;
    };
    let call = InboundCall {
        url,
        from: format!("+{}", super::script::dst_key(&launch.dst)),
        to: launch.src.clone(),
        keys: Vec::new(),
        transfer_ok: true,
    };
    let wait = real_duration(cfg.callback_after_secs, cfg.speed);
    let sim = sim.clone();
    sim.inner.in_progress.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        tokio::select! {
            _ = sim.inner.cancel.cancelled() => {}
            _ = tokio::time::sleep(wait) => {
                tracing::info!(from = %mask(&call.from), "simulated callee calling back");
                sim.inbound_call(&call, None).run().await;
            }
        }
        sim.inner.in_progress.fetch_sub(1, Ordering::SeqCst);
    });
}

/// What happened on an inbound call, one line a request (`→`) and one a reply (`←`): the
/// protocol's own fields, as a developer reads a trace.
pub fn describe_exchanges(exchanges: &[Exchange]) -> String {
    let mut out = String::new();
    for x in exchanges {
        let get = |k: &str| {
            x.sent
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let sent = match (get("command"), get("statuscall")) {
            ("", "" | "ANSWER") if get("userfield").is_empty() => format!(
                "start: src={} dst={} typesrc={} ID={}",
                get("src"),
                get("dst"),
                get("typesrc"),
                get("ID")
            ),
            (_, s) if !s.is_empty() && s != "ANSWER" => format!(
                "end: statuscall={s} durationcall={} durationcallanswered={}",
                get("durationcall"),
                get("durationcallanswered")
            ),
            (cmd, _) => {
                let mut line = format!("{cmd}: status={}", get("status"));
                for k in ["dtmf", "description"] {
                    if !get(k).is_empty() {
                        line.push_str(&format!(" {k}={}", get(k)));
                    }
                }
                line
            }
        };
        out.push_str(&format!("→ {sent}\n"));
        match &x.reply {
            Ok(body) => {
                let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
                match (v["command"].as_str(), v["options"].as_str()) {
                    (Some(c), o) => out.push_str(&format!(
                        "← {c} {}  [userfield {}]\n",
                        o.unwrap_or(""),
                        v["userfield"].as_str().unwrap_or("")
                    )),
                    (None, _) => out.push_str(&format!("← {}\n", body.trim())),
                }
            }
            Err(e) => out.push_str(&format!("← refused: {e}\n")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_and_numbers_are_written_as_netelip_writes_them() {
        for from in [
            "+34612345678",
            "0034612345678",
            "34612345678",
            "612 345 678",
        ] {
            assert_eq!(caller_field(from), "612345678", "{from}");
        }
        assert_eq!(caller_field("anonymous"), "anonymous");
        assert_eq!(caller_field("+447700900123"), "00447700900123");
        for to in ["+34910000000", "0034910000000", "910000000", "34910000000"] {
            assert_eq!(did_field(to), "34910000000", "{to}");
        }
    }
}
