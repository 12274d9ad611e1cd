//! `pregonero test-call PHONE`: one real call to the operator's own phone, to meet the provider
//! before the first campaign does.
//!
//! The protocol was put together from public material (`docs/apivoice.md`); this command is where
//! its inferred points meet the real service. It serves the control and report URLs itself (the
//! daemon must not be running on the same address), places one call with a three-step flow (say
//! a sentence and take one key, say the key back, hang up), prints every raw request and reply,
//! and ends with a verdict on each assumption it could observe. With `provider.kind =
//! "simulator"` the built-in simulator answers the call and presses a key, over real HTTP.
//!
//! Nothing is stored: the database is not opened.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::campaign::{phone, Voice};
use crate::config::{Config, ProviderKind};
use crate::flow::{spoken, ControlRequest, RequestKind};
use crate::i18n::{Lang, Msg, UserError};
use crate::provider::{ApiVoiceClient, LaunchOutcome, LaunchRequest};
use crate::simulator::{Script, Simulator, SimulatorConfig};

/// `statuscall` values the protocol description names.
const KNOWN_STATUSCALL: &[&str] = &[
    "ANSWER",
    "BUSY",
    "NOANSWER",
    "CHANUNAVAIL",
    "CANCEL",
    "CONGESTION",
    "UNKNOW",
];

/// Fields every control request is expected to carry (`docs/apivoice.md` section 2).
const CONTROL_FIELDS: &[&str] = &[
    "ID",
    "api",
    "src",
    "dst",
    "startcall",
    "userdata",
    "userfield",
    "command",
    "options",
    "status",
    "statuscode",
    "description",
    "dtmf",
    "statuscall",
    "durationcall",
    "durationcallanswered",
];

/// Keys of a report line (`docs/apivoice.md` section 3).
const REPORT_KEYS: &[&str] = &[
    "ID",
    "startdate",
    "stopdate",
    "src",
    "dst",
    "dstname",
    "duration",
    "cost",
    "status",
];

/// What to do.
#[derive(Debug, Clone)]
pub struct TestCallOptions {
    /// The number to call, in any form `check` accepts.
    pub phone: String,
    /// Take the caller id and voice from this campaign.
    pub campaign: Option<String>,
    /// How long to wait for the call to end.
    pub call_timeout: Duration,
    /// How long to wait for the call report after the call (netelip sends one about every ten
    /// minutes; the simulator is flushed at once).
    pub report_wait: Duration,
}

/// One protocol assumption and what the call showed about it, in the configured language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub assumption: String,
    pub result: Seen,
    pub detail: String,
}

/// What the call showed about an assumption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// As `docs/apivoice.md` says.
    Holds,
    /// Not as it says: the detail says what came instead.
    Differs,
    /// The call did not show it.
    NotSeen,
}

impl Seen {
    fn label(self, lang: Lang) -> &'static str {
        lang.text(match self {
            Seen::Holds => "testcall.seen.holds",
            Seen::Differs => "testcall.seen.differs",
            Seen::NotSeen => "testcall.seen.not_seen",
        })
    }
}

/// One request the provider made, with the reply it got.
#[derive(Debug, Clone)]
struct Exchange {
    route: &'static str,
    fields: BTreeMap<String, String>,
    reply: Value,
}

struct Shared {
    voice: Voice,
    log: Mutex<Vec<Exchange>>,
    changed: tokio::sync::Notify,
}

/// Places the call, prints what happens to `out`, and returns the verdicts (also printed).
pub async fn run(
    config: &Config,
    opts: &TestCallOptions,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<Vec<Verdict>> {
    let region = phone::region(&config.calling.default_region);
    let e164 = phone::normalize(&opts.phone, region).map_err(|e| {
        UserError::new(
            Msg::new("testcall.bad_phone")
                .arg("phone", &opts.phone)
                .msg("error", e.msg()),
        )
    })?;
    let (caller_id, voice, ring) = match &opts.campaign {
        Some(id) => {
            let (loaded, _) = crate::app::load_campaigns(config, chrono::Utc::now());
            let Some(c) = loaded.iter().find(|c| &c.id == id) else {
                return Err(UserError::new(
                    Msg::new("testcall.no_campaign")
                        .arg("id", id)
                        .arg("dir", config.campaigns.dir.display()),
                )
                .into());
            };
            (c.caller_id.clone(), c.voice.clone(), c.ring_seconds)
        }
        None => ("+34910000000".to_string(), Voice::default(), 30),
    };
    let simulated = config.provider.kind == ProviderKind::Simulator;
    if !simulated && opts.campaign.is_none() {
        return Err(UserError::new(Msg::new("testcall.needs_campaign")).into());
    }
    if !simulated && config.tls_enabled() {
        return Err(UserError::new(Msg::new("testcall.tls")).into());
    }
    let secret = match (&config.server.secret, simulated) {
        (Some(s), _) => s.clone(),
        (None, true) => SecretString::from(format!("{:032x}", rand::random::<u128>())),
        (None, false) => return Err(UserError::new(Msg::new("testcall.no_secret")).into()),
    };
    let listen = if simulated {
        "127.0.0.1:0".to_string()
    } else {
        config.server.listen.clone()
    };
    let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| {
        UserError::new(
            Msg::new("testcall.cannot_listen")
                .arg("address", &listen)
                .arg("error", e),
        )
    })?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        voice,
        log: Mutex::new(Vec::new()),
        changed: tokio::sync::Notify::new(),
    });
    let app = Router::new()
        .route("/apivoice/control/{secret}", post(control).get(validate))
        .route("/apivoice/report/{secret}", post(report).get(validate))
        .with_state((shared.clone(), Arc::new(secret.clone())));
    let stop = CancellationToken::new();
    let server = {
        let stop = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        })
    };
    let (control_url, report_url) = if simulated {
        let base = format!("http://{addr}");
        let s = secret.expose_secret();
        (
            format!("{base}/apivoice/control/{s}"),
            format!("{base}/apivoice/report/{s}"),
        )
    } else {
        config.webhook_urls(&config.server.listen, &secret)
    };
    let sim = if simulated {
        let mut script = Script::default();
        script.insert(
            &e164,
            vec!["answer keys=7"
                .parse()
                .map_err(|e: Msg| UserError::new(e))?],
        );
        let speed = config.simulator.speed.max(1.0);
        let cfg = SimulatorConfig {
            api: config.provider.api.clone(),
            control_url: control_url.clone(),
            report_url: Some(report_url.clone()),
            speed,
            report_interval: SimulatorConfig::report_interval_for(speed),
            urlencoded: config.simulator.urlencoded,
            script,
            ..SimulatorConfig::default()
        };
        Some(Simulator::start(cfg, stop.clone()).await?)
    } else {
        None
    };
    let (url, token) = match &sim {
        Some(s) => (s.launch_url(), SecretString::from("test-call")),
        None => (
            config.provider.url.clone(),
            config
                .provider_token()?
                .ok_or_else(|| UserError::new(Msg::new("testcall.no_token")))?,
        ),
    };
    let lang = config.ui.language;
    writeln!(
        out,
        "{}",
        lang.fill(
            "testcall.header",
            &[
                ("phone", &phone::mask(&e164)),
                ("caller_id", &caller_id),
                ("url", &url)
            ]
        )
    )?;
    writeln!(
        out,
        "{}",
        lang.fill(
            "testcall.control_url",
            &[("url", &redact(&control_url, &secret))]
        )
    )?;
    writeln!(
        out,
        "{}",
        lang.fill(
            "testcall.report_url",
            &[("url", &redact(&report_url, &secret))]
        )
    )?;
    let client = ApiVoiceClient::new(&url, &config.provider.api, token, config.provider_timeout())?;
    let userdata = format!("{}", chrono::Utc::now().timestamp_millis());
    let req = LaunchRequest {
        src: caller_id.clone(),
        dst: e164.clone(),
        ring_seconds: ring,
        userdata: userdata.clone(),
    };
    let fields = format!(
        "token={} api={} src={} dst={} duration={ring} typedst=pstn userdata={userdata}",
        lang.text("testcall.redacted"),
        config.provider.api,
        caller_id,
        phone::mask(&crate::provider::to_provider(&e164)),
    );
    writeln!(
        out,
        "{}",
        lang.fill("testcall.launch", &[("fields", &fields)])
    )?;
    let outcome = client.launch(&req).await;
    writeln!(
        out,
        "{}",
        lang.fill(
            "testcall.launch_reply",
            &[("reply", &format!("{outcome:?}"))]
        )
    )?;
    let judge = Judge { lang };
    let mut verdicts = Vec::new();
    let call_id = match &outcome {
        LaunchOutcome::Ringing(id) => {
            verdicts.push(judge.verdict(
                "testcall.a.launch_reply",
                Seen::Holds,
                format!("ID {id}"),
            ));
            Some(id.clone())
        }
        other => {
            verdicts.push(judge.verdict(
                "testcall.a.launch_reply",
                Seen::Differs,
                format!("{other:?}"),
            ));
            None
        }
    };

    // Follow the call until its end request, printing each exchange as it comes.
    let mut printed = 0;
    let ended = call_id.is_some()
        && wait_for(&shared, lang, opts.call_timeout, &mut printed, out, |log| {
            log.iter().any(|x| {
                x.route == "control"
                    && ControlRequest {
                        fields: x.fields.clone(),
                    }
                    .kind()
                        == RequestKind::End
            })
        })
        .await?;
    if let Some(sim) = &sim {
        sim.flush_reports().await;
    }
    let reported = call_id.is_some()
        && wait_for(&shared, lang, opts.report_wait, &mut printed, out, |log| {
            log.iter().any(|x| x.route == "report")
        })
        .await?;
    stop.cancel();
    let _ = server.await;

    let log = shared.log.lock().map(|l| l.clone()).unwrap_or_default();
    verdicts.extend(judge.all(
        &log,
        call_id.as_deref(),
        &userdata,
        &config.provider.api,
        ended,
        reported,
    ));
    writeln!(out, "\n{}", lang.text("testcall.verdicts"))?;
    for v in &verdicts {
        if v.detail.is_empty() {
            writeln!(out, "  [{}] {}", v.result.label(lang), v.assumption)?;
        } else {
            writeln!(
                out,
                "  [{}] {}: {}",
                v.result.label(lang),
                v.assumption,
                v.detail
            )?;
        }
    }
    Ok(verdicts)
}

/// Waits until `done` holds for the log or `timeout` passes, printing new exchanges.
async fn wait_for(
    shared: &Shared,
    lang: Lang,
    timeout: Duration,
    printed: &mut usize,
    out: &mut (dyn Write + Send),
    done: impl Fn(&[Exchange]) -> bool,
) -> anyhow::Result<bool> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let changed = shared.changed.notified();
        let (new, ok) = {
            let log = shared.log.lock().map(|l| l.clone()).unwrap_or_default();
            (log[(*printed).min(log.len())..].to_vec(), done(&log))
        };
        for x in &new {
            let route = lang.text(match x.route {
                "report" => "testcall.route.report",
                _ => "testcall.route.control",
            });
            let fields = masked_json(&x.fields, lang);
            let request = lang.fill(
                "testcall.request",
                &[("route", &route), ("fields", &fields)],
            );
            writeln!(out, "{request}")?;
            let reply = lang.fill("testcall.reply", &[("reply", &x.reply)]);
            writeln!(out, "{reply}")?;
        }
        *printed += new.len();
        if ok {
            return Ok(true);
        }
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            return Ok(false);
        }
    }
}

/// Says the verdicts in the reader's language.
struct Judge {
    lang: Lang,
}

impl Judge {
    /// A verdict on the assumption of catalogue key `key`.
    fn verdict(&self, key: &str, result: Seen, detail: impl Into<String>) -> Verdict {
        Verdict {
            assumption: self.lang.text(key).to_string(),
            result,
            detail: detail.into(),
        }
    }

    /// The text of `key` with its arguments.
    fn say(&self, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
        self.lang.fill(key, args)
    }

    /// Items joined by commas, or the word for none.
    fn list<T: std::fmt::Display>(&self, items: &[T]) -> String {
        if items.is_empty() {
            return self.lang.text("testcall.none").to_string();
        }
        items
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The shape of a number as the provider wrote it, without its digits.
    fn number_shape(&self, s: &str) -> String {
        let digits = s.bytes().filter(u8::is_ascii_digit).count();
        if s.starts_with("00") {
            self.say("testcall.shape.00", &[("n", &(digits.saturating_sub(2)))])
        } else if s.starts_with('+') {
            self.say("testcall.shape.plus", &[("n", &digits)])
        } else if digits == 0 {
            format!("\"{s}\"")
        } else if s.starts_with("34") && digits == 11 {
            self.say("testcall.shape.34", &[])
        } else {
            self.say("testcall.shape.digits", &[("n", &digits)])
        }
    }

    /// The verdicts on what the exchanges showed.
    fn all(
        &self,
        log: &[Exchange],
        call_id: Option<&str>,
        userdata: &str,
        api: &str,
        ended: bool,
        reported: bool,
    ) -> Vec<Verdict> {
        let mut v = Vec::new();
        let controls: Vec<&Exchange> = log.iter().filter(|x| x.route == "control").collect();
        if controls.is_empty() {
            v.push(self.verdict(
                "testcall.a.control_called",
                Seen::NotSeen,
                self.say("testcall.d.no_control", &[]),
            ));
            return v;
        }
        v.extend(self.control_verdicts(&controls, call_id, userdata, api));
        v.push(self.verdict(
            "testcall.a.ended",
            if ended { Seen::Holds } else { Seen::NotSeen },
            if ended {
                String::new()
            } else {
                self.say("testcall.d.not_ended", &[])
            },
        ));
        v.extend(self.report_verdicts(log, call_id, reported));
        v
    }

    /// What the control requests showed: fields, `ID`, `userdata`, `api`, `userfield`, number
    /// formats, `statuscall` values and where the key came.
    fn control_verdicts(
        &self,
        controls: &[&Exchange],
        call_id: Option<&str>,
        userdata: &str,
        api: &str,
    ) -> Vec<Verdict> {
        let mut v = Vec::new();
        let missing: Vec<&str> = CONTROL_FIELDS
            .iter()
            .copied()
            .filter(|f| !controls.iter().any(|x| x.fields.contains_key(*f)))
            .collect();
        let extra: Vec<String> = controls
            .iter()
            .flat_map(|x| x.fields.keys())
            .filter(|k| !CONTROL_FIELDS.contains(&k.as_str()))
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        v.push(self.verdict(
            "testcall.a.control_fields",
            if missing.is_empty() {
                Seen::Holds
            } else {
                Seen::Differs
            },
            self.say(
                "testcall.d.control_fields",
                &[
                    ("n", &controls.len()),
                    ("missing", &self.list(&missing)),
                    ("extra", &self.list(&extra)),
                ],
            ),
        ));
        let get = |x: &Exchange, k: &str| x.fields.get(k).map(|s| s.trim().to_string());
        let ids: Vec<String> = controls.iter().filter_map(|x| get(x, "ID")).collect();
        v.push(match call_id {
            Some(id) if !ids.is_empty() && ids.iter().all(|i| i == id) => {
                self.verdict("testcall.a.id", Seen::Holds, id)
            }
            _ => self.verdict(
                "testcall.a.id",
                Seen::Differs,
                self.say(
                    "testcall.d.id",
                    &[
                        ("launch", &format!("{call_id:?}")),
                        ("requests", &self.list(&ids)),
                    ],
                ),
            ),
        });
        let echoed = controls
            .iter()
            .all(|x| get(x, "userdata").as_deref() == Some(userdata));
        v.push(self.verdict(
            "testcall.a.userdata",
            if echoed { Seen::Holds } else { Seen::Differs },
            self.say("testcall.d.userdata", &[("userdata", &userdata)]),
        ));
        let apis: Vec<String> = controls
            .iter()
            .filter_map(|x| get(x, "api"))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        v.push(self.verdict(
            "testcall.a.api",
            if !apis.is_empty() && apis.iter().all(|a| a.eq_ignore_ascii_case(api)) {
                Seen::Holds
            } else {
                Seen::Differs
            },
            self.say(
                "testcall.d.api",
                &[("api", &api), ("got", &self.list(&apis))],
            ),
        ));
        // The userfield of each reply should come back in the next request.
        let mut echo_ok = true;
        let mut echo_seen = false;
        for pair in controls.windows(2) {
            if let Some(uf) = pair[0].reply.get("userfield").and_then(Value::as_str) {
                echo_seen = true;
                echo_ok &= get(pair[1], "userfield").as_deref() == Some(uf);
            }
        }
        v.push(self.verdict(
            "testcall.a.userfield",
            match (echo_seen, echo_ok) {
                (false, _) => Seen::NotSeen,
                (true, true) => Seen::Holds,
                (true, false) => Seen::Differs,
            },
            "",
        ));
        let formats: Vec<String> = controls
            .iter()
            .flat_map(|x| ["src", "dst"].map(|k| (k, get(x, k))))
            .filter_map(|(k, val)| val.map(|s| format!("{k}: {}", self.number_shape(&s))))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        v.push(self.verdict(
            "testcall.a.number_formats",
            Seen::Holds,
            self.list(&formats),
        ));
        let statuses: Vec<String> = controls
            .iter()
            .filter_map(|x| get(x, "statuscall"))
            .filter(|s| !s.is_empty())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let unknown: Vec<&String> = statuses
            .iter()
            .filter(|s| !KNOWN_STATUSCALL.contains(&s.as_str()))
            .collect();
        v.push(self.verdict(
            "testcall.a.statuscall",
            if statuses.is_empty() {
                Seen::NotSeen
            } else if unknown.is_empty() {
                Seen::Holds
            } else {
                Seen::Differs
            },
            self.say("testcall.d.seen", &[("values", &self.list(&statuses))]),
        ));
        // Where did the key come? In `dtmf`, or (if not) in which field a lone digit appeared.
        let after_menu = controls
            .iter()
            .find(|x| get(x, "command").as_deref() == Some("speak_getdtmf"));
        v.push(match after_menu {
            None => self.verdict(
                "testcall.a.dtmf",
                Seen::NotSeen,
                self.say("testcall.d.no_menu_result", &[]),
            ),
            Some(x) => match get(x, "dtmf").filter(|d| !d.is_empty()) {
                Some(d)
                    if d.bytes()
                        .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#') =>
                {
                    self.verdict("testcall.a.dtmf", Seen::Holds, format!("dtmf={d}"))
                }
                Some(d) if d.eq_ignore_ascii_case("timeout") => self.verdict(
                    "testcall.a.dtmf",
                    Seen::NotSeen,
                    self.say("testcall.d.dtmf_timeout", &[]),
                ),
                other => {
                    let elsewhere: Vec<String> = x
                        .fields
                        .iter()
                        .filter(|(k, val)| {
                            k.as_str() != "dtmf"
                                && val.trim().len() == 1
                                && val.trim().bytes().all(|b| b.is_ascii_digit())
                        })
                        .map(|(k, val)| format!("{k}={val}"))
                        .collect();
                    self.verdict(
                        "testcall.a.dtmf",
                        Seen::Differs,
                        self.say(
                            "testcall.d.dtmf_elsewhere",
                            &[
                                ("dtmf", &format!("{other:?}")),
                                ("elsewhere", &self.list(&elsewhere)),
                            ],
                        ),
                    )
                }
            },
        });
        v
    }

    /// What the call report showed: that it came, its `calls` array, the call's line, its keys
    /// and types.
    fn report_verdicts(
        &self,
        log: &[Exchange],
        call_id: Option<&str>,
        reported: bool,
    ) -> Vec<Verdict> {
        let mut v = Vec::new();
        let reports: Vec<&Exchange> = log.iter().filter(|x| x.route == "report").collect();
        if !reported {
            v.push(self.verdict(
                "testcall.a.report_arrives",
                Seen::NotSeen,
                self.say("testcall.d.no_report", &[]),
            ));
            return v;
        }
        let lines: Vec<Value> = reports
            .iter()
            .filter_map(|x| x.fields.get("calls"))
            .filter_map(|c| serde_json::from_str::<Vec<Value>>(c).ok())
            .flatten()
            .collect();
        let ours: Vec<&Value> = lines
            .iter()
            .filter(|l| call_id.is_some() && l.get("ID").and_then(Value::as_str) == call_id)
            .collect();
        v.push(self.verdict(
            "testcall.a.calls_json",
            if lines.is_empty() {
                Seen::Differs
            } else {
                Seen::Holds
            },
            self.say(
                "testcall.d.batches",
                &[("batches", &reports.len()), ("lines", &lines.len())],
            ),
        ));
        let Some(line) = ours.first() else {
            v.push(self.verdict(
                "testcall.a.line_id",
                Seen::Differs,
                self.say("testcall.d.no_line", &[]),
            ));
            return v;
        };
        let missing: Vec<&str> = REPORT_KEYS
            .iter()
            .copied()
            .filter(|k| line.get(*k).is_none())
            .collect();
        v.push(self.verdict(
            "testcall.a.report_keys",
            if missing.is_empty() {
                Seen::Holds
            } else {
                Seen::Differs
            },
            self.say("testcall.d.missing", &[("missing", &self.list(&missing))]),
        ));
        let types_ok = line.get("duration").is_some_and(Value::is_string)
            && line.get("cost").is_some_and(Value::is_number);
        v.push(self.verdict(
            "testcall.a.types",
            if types_ok { Seen::Holds } else { Seen::Differs },
            format!(
                "duration {}, cost {}",
                line.get("duration").cloned().unwrap_or(Value::Null),
                line.get("cost").cloned().unwrap_or(Value::Null)
            ),
        ));
        let status = line.get("status").and_then(Value::as_str).unwrap_or("");
        v.push(self.verdict(
            "testcall.a.status_case",
            if !status.is_empty() && status == status.to_lowercase() {
                Seen::Holds
            } else {
                Seen::Differs
            },
            format!("status \"{status}\""),
        ));
        v
    }
}

/// Fields as JSON with phone numbers masked (last 3 digits kept).
/// The lines of a report's `calls` get the same masking, the rest of each line as it came.
fn masked_json(fields: &BTreeMap<String, String>, lang: Lang) -> String {
    let m: BTreeMap<&str, String> = fields
        .iter()
        .map(|(k, v)| {
            let v = match k.as_str() {
                "src" | "dst" | "usersrc" => phone::mask(v),
                "calls" => match serde_json::from_str::<Vec<Value>>(v) {
                    Ok(mut lines) => {
                        for line in &mut lines {
                            for key in ["src", "dst"] {
                                if let Some(Value::String(s)) = line.get_mut(key) {
                                    *s = mask_digits(s);
                                }
                            }
                        }
                        serde_json::to_string(&lines).unwrap_or_default()
                    }
                    Err(_) => lang.text("testcall.not_json_array").to_string(),
                },
                _ => v.clone(),
            };
            (k.as_str(), v)
        })
        .collect();
    serde_json::to_string(&m).unwrap_or_default()
}

/// Masks every digit but the last three of the first run of digits (`0034910000000 (APIVoice …)`
/// keeps its annotation).
fn mask_digits(s: &str) -> String {
    let run_end = s
        .char_indices()
        .find(|(i, c)| *i > 0 && !c.is_ascii_digit() && *c != '+')
        .map_or(s.len(), |(i, _)| i);
    format!("{}{}", phone::mask(&s[..run_end]), &s[run_end..])
}

fn redact(url: &str, secret: &SecretString) -> String {
    url.replace(secret.expose_secret(), "<server.secret>")
}

type AppState = (Arc<Shared>, Arc<SecretString>);

/// The daemon's own comparison (constant time).
fn secret_ok(given: &str, expected: &SecretString) -> bool {
    crate::webhook::secret_matches(given, expected)
}

async fn validate(State((_, secret)): State<AppState>, Path(given): Path<String>) -> Response {
    if !secret_ok(&given, &secret) {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    Json(json!({ "response": "200" })).into_response()
}

async fn control(
    State((shared, secret)): State<AppState>,
    Path(given): Path<String>,
    req: Request,
) -> Response {
    if !secret_ok(&given, &secret) {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    let fields = match crate::webhook::control_request(req).await {
        Ok(r) => r.fields,
        Err(e) => {
            return (
                axum::http::StatusCode::BAD_REQUEST,
                Json(json!({ "error": e.to_string() })),
            )
                .into_response()
        }
    };
    let reply = next(
        &shared.voice,
        &ControlRequest {
            fields: fields.clone(),
        },
    );
    record(&shared, "control", fields, reply.clone());
    Json(reply).into_response()
}

async fn report(
    State((shared, secret)): State<AppState>,
    Path(given): Path<String>,
    req: Request,
) -> Response {
    if !secret_ok(&given, &secret) {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    let fields = match crate::provider::read_form_limited(req, 16 * 1024 * 1024).await {
        Ok(f) => f,
        Err(e) => {
            return (
                axum::http::StatusCode::BAD_REQUEST,
                Json(json!({ "error": e.to_string() })),
            )
                .into_response()
        }
    };
    let reply = json!({ "response": "200" });
    record(&shared, "report", fields, reply.clone());
    Json(reply).into_response()
}

fn record(shared: &Shared, route: &'static str, fields: BTreeMap<String, String>, reply: Value) {
    if let Ok(mut log) = shared.log.lock() {
        log.push(Exchange {
            route,
            fields,
            reply,
        });
    }
    shared.changed.notify_waiters();
}

/// The test flow: say a sentence and take one key, say the key back, hang up.
fn next(voice: &Voice, req: &ControlRequest) -> Value {
    let speak = |text: &str| format!("{};{};{}", voice.provider, voice.language, spoken(text));
    let cmd = |command: &str, options: String, userfield: &str| json!({ "command": command, "options": options, "userfield": userfield });
    match req.kind() {
        RequestKind::End => json!({}),
        RequestKind::Error => cmd("hangup", String::new(), "test|error"),
        RequestKind::Start => cmd(
            "speak_getdtmf",
            format!(
                "{};8000;1",
                speak("Llamada de prueba de pregonero. Pulse una tecla.")
            ),
            "test|ask",
        ),
        RequestKind::Result => match req.get("userfield") {
            "test|ask" => {
                let text = match req.dtmf() {
                    Some(d) => format!("Ha pulsado la tecla {d}. Gracias."),
                    None => "No se ha recibido ninguna tecla. Gracias.".to_string(),
                };
                cmd("speak", speak(&text), "test|said")
            }
            _ => cmd("hangup", String::new(), "test|done"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_shapes_hide_the_digits() {
        let en = Judge { lang: Lang::En };
        assert_eq!(en.number_shape("0034600123456"), "00 + 11 digits");
        assert_eq!(en.number_shape("34600123456"), "34 + 9 digits");
        assert_eq!(en.number_shape("600123456"), "9 digits");
        assert_eq!(en.number_shape("anonymous"), "\"anonymous\"");
        let es = Judge { lang: Lang::Es };
        assert_eq!(es.number_shape("0034600123456"), "00 + 11 cifras");
        assert_eq!(es.number_shape("+34600123456"), "+ y 11 cifras");
        assert_eq!(
            mask_digits("0034910000000 (APIVoice 1.2)"),
            "**********000 (APIVoice 1.2)"
        );
    }

    #[test]
    fn verdicts_are_said_in_the_configured_language() {
        let es = Judge { lang: Lang::Es }.all(&[], Some("1"), "u", "demo", false, false);
        assert_eq!(es[0].assumption, "el proveedor llama a la URL de control");
        assert!(es[0]
            .detail
            .starts_with("no llegó ninguna petición de control"));
        assert_eq!(Seen::NotSeen.label(Lang::Es), "no visto");
        let en = Judge { lang: Lang::En }.all(&[], Some("1"), "u", "demo", false, false);
        assert_eq!(en[0].assumption, "the provider calls the control URL");
        assert_eq!(Seen::Differs.label(Lang::En), "DIFFERS");
    }

    #[test]
    fn the_flow_asks_says_back_and_hangs_up() {
        let voice = Voice::default();
        let req = |pairs: &[(&str, &str)]| ControlRequest {
            fields: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let start = next(&voice, &req(&[("statuscall", "ANSWER")]));
        assert_eq!(start["command"], "speak_getdtmf");
        let said = next(
            &voice,
            &req(&[
                ("command", "speak_getdtmf"),
                ("userfield", "test|ask"),
                ("dtmf", "7"),
            ]),
        );
        assert_eq!(said["command"], "speak");
        assert!(said["options"].as_str().unwrap_or("").contains("tecla 7"));
        let end = next(
            &voice,
            &req(&[("command", "speak"), ("userfield", "test|said")]),
        );
        assert_eq!(end["command"], "hangup");
        assert_eq!(next(&voice, &req(&[("statuscall", "CANCEL")])), json!({}));
    }
}
