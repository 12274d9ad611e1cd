//! The call engine: one task per accepted launch, driving the dialer's control URL (§2) and
//! queueing the call's report line (§3).

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use std::sync::Arc;

use super::{post_form, real_duration, CallScript, Key, LaunchRecord, Said, SimHandle};

const MAX_EXCHANGES: usize = 50;
const SPEAK_CHARS_PER_SEC: f64 = 14.0;
const PLAY_SECS: f64 = 5.0;
const KEY_AFTER_SECS: f64 = 1.0;
const TRANSFER_TALK_SECS: f64 = 30.0;
const TRANSFER_PICKUP_SECS: f64 = 5.0;
const KNOWN_COMMANDS: &str = "speak speak_getdtmf play play_getdtmf dial queue ivr voicemail \
    record google_voice2text callerid send_dtmf busy congestion hangup";
/// Fields of every control request (§2), in the order they are sent.
pub(super) const CONTROL_FIELDS: &str = "ID api src dst startcall userdata userfield command \
    options status statuscode description dtmf statuscall durationcall durationcallanswered";

fn madrid(t: DateTime<Utc>, fmt: &str) -> String {
    t.with_timezone(&chrono_tz::Europe::Madrid)
        .format(fmt)
        .to_string()
}

fn secs(s: f64) -> String {
    format!("{}", s.round().max(0.0) as u64)
}

/// A command replied by the dialer.
struct Command {
    command: String,
    options: String,
    userfield: String,
}

/// Parses a reply; `Err((command, options))` (echoed as far as readable) when it is not valid
/// JSON with a known command.
fn parse_command(body: &str) -> Result<Command, (String, String)> {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return Err(Default::default());
    };
    let text = |k: &str| match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(n @ Value::Number(_)) => n.to_string(),
        _ => String::new(),
    };
    let (command, options) = (text("command"), text("options"));
    if !KNOWN_COMMANDS
        .split_whitespace()
        .any(|c| c == command.trim())
    {
        return Err((command, options));
    }
    Ok(Command {
        command: command.trim().to_string(),
        options,
        userfield: text("userfield"),
    })
}

/// What executing one command did: simulated time, result fields, whether the call ends.
struct Step {
    secs: f64,
    description: String,
    dtmf: String,
    ends: bool,
    /// The command failed (`statuscode` 400).
    failed: bool,
    /// A transfer an agent took: the part of `secs` the agent talks (the rest is the pick-up).
    agent_talk: Option<f64>,
}

fn step(secs: f64, description: &str, dtmf: &str, ends: bool) -> Step {
    let (description, dtmf) = (description.to_string(), dtmf.to_string());
    Step {
        secs,
        description,
        dtmf,
        ends,
        failed: false,
        agent_talk: None,
    }
}

/// A transfer's leg to an agent, for the call report: who, how it went, and when it started
/// and ended (simulated seconds from the launch).
pub(super) struct Leg {
    dst: String,
    status: &'static str,
    billed: f64,
    start: f64,
}

/// The destination of a transfer's leg as the report writes it: an extension as dialled, an
/// outside number in national digits; a queue's agent is an extension of the PBX.
fn leg_dst(cmd: &Command) -> String {
    match cmd.command.as_str() {
        "dial" => {
            let number = cmd.options.split(',').nth(1).unwrap_or("").trim();
            number
                .strip_prefix("0034")
                .or_else(|| number.strip_prefix("00"))
                .unwrap_or(number)
                .to_string()
        }
        _ => QUEUE_AGENT.to_string(),
    }
}

/// The extension that answers for a queue in the simulated PBX.
const QUEUE_AGENT: &str = "2001";

/// `google_voice2text` (`key;language;silence_seconds;beep`): the callee speaks, then is
/// silent for `silence_seconds`; the transcript (or nothing) comes back in `description`.
fn listen(cmd: &Command, said: Option<&Said>) -> Step {
    let silence = cmd
        .options
        .split(';')
        .nth(2)
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(2.0);
    match said {
        Some(Said::Text(t)) => step(silence + 3.0, t, "", false),
        Some(Said::Fail) => Step {
            failed: true,
            ..step(silence + 3.0, "", "", false)
        },
        Some(Said::Nothing) | None => step(silence + 3.0, "", "", false),
    }
}

/// How an answered callee behaves (the options of [`CallScript::Answer`]).
#[derive(Clone, Copy)]
struct Answered<'a> {
    keys: &'a [Key],
    said: &'a [Said],
    hangup_during: Option<usize>,
    refuse: Option<usize>,
    transfer_ok: bool,
    bridge_secs: Option<f64>,
    bridged_secs: Option<f64>,
}

pub(super) struct Call {
    pub(super) sim: SimHandle,
    pub(super) launch: LaunchRecord,
    /// An inbound call (a caller calling the dialer's number), not a launch (`super::inbound`).
    pub(super) inbound: Option<super::inbound::Leg>,
    /// The transfers' legs, reported with the call's own line.
    pub(super) legs: std::sync::Mutex<Vec<Leg>>,
}

/// Whether this call is among the `share` (0 to 1) that a switch hits: a pure function of the
/// seed, the switch and the call id, so a run can be repeated.
/// The share of inbound calls whose DID leg comes in the call report without its `ID`.
pub(super) const DID_LEG_WITHOUT_ID: f64 = 0.25;

pub(super) fn hit(seed: u64, switch: u8, id: &str, share: f64) -> bool {
    if share <= 0.0 {
        return false;
    }
    let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ seed ^ (u64::from(switch) << 56);
    for b in id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    // FNV leaves the high bits poorly mixed for ids that differ in their last digits: a
    // splitmix64 finish spreads them.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    // The top 53 bits as a fraction in [0, 1).
    ((h >> 11) as f64 / (1u64 << 53) as f64) < share
}

impl Call {
    pub(super) async fn run(self) {
        if let Some((status, total, answered)) = self.drive().await {
            let cfg = &self.sim.inner.cfg;
            if !hit(cfg.seed, 2, &self.launch.id, cfg.drop_reports) {
                match self.inbound {
                    None => self.report(status, total, answered),
                    Some(_) => self.report_inbound(status, total, answered),
                }
            }
            // `callback_rate`: a share of the numbers rung call the caller id back.
            if self.inbound.is_none() && hit(cfg.seed, 3, &self.launch.id, cfg.callback_rate) {
                super::inbound::call_back_later(&self.sim, &self.launch);
            }
        }
        self.sim.inner.in_progress.fetch_sub(1, Ordering::SeqCst);
    }

    /// Plays the call; `None` if cancelled (no report line), else (status, total, answered secs).
    async fn drive(&self) -> Option<(&'static str, f64, f64)> {
        let (status, ring) = match &self.launch.outcome {
            CallScript::Answer {
                ring_secs,
                keys,
                said,
                hangup_during,
                refuse,
                transfer_ok,
                bridge_secs,
                bridged_secs,
            } => {
                let how = Answered {
                    keys,
                    said,
                    hangup_during: *hangup_during,
                    refuse: *refuse,
                    transfer_ok: *transfer_ok,
                    bridge_secs: *bridge_secs,
                    bridged_secs: *bridged_secs,
                };
                return self.answered(*ring_secs, &how).await;
            }
            CallScript::Busy => ("BUSY", 3.0),
            CallScript::NoAnswer => ("NOANSWER", f64::from(self.launch.duration)),
            CallScript::Unreachable => ("CHANUNAVAIL", 1.0),
            CallScript::Congestion => ("CONGESTION", 1.0),
        };
        self.sleep(ring).await?;
        // Not answered: a lone end-of-call request, no start before it (§2).
        let end = [
            ("statuscall", status.into()),
            ("durationcall", secs(ring)),
            ("durationcallanswered", "0".into()),
        ];
        if !self.silent_end() {
            self.post(&end).await;
        }
        (!self.sim.inner.cancel.is_cancelled()).then_some((status, ring, 0.0))
    }

    async fn answered(&self, ring: f64, how: &Answered<'_>) -> Option<(&'static str, f64, f64)> {
        let Answered {
            keys,
            said,
            hangup_during,
            refuse,
            transfer_ok,
            bridge_secs,
            bridged_secs,
        } = *how;
        self.sleep(ring).await?;
        let (mut talk, mut commands, mut getdtmfs, mut listens) = (0.0, 0, 0, 0);
        let mut userfield = String::new();
        let mut next = vec![("statuscall", "ANSWER".to_string())];
        let mut key_pressed: Option<String> = None;
        let mut send_end = true;
        for _ in 0..MAX_EXCHANGES {
            let Some(body) = self.post(&next).await else {
                send_end = false;
                break;
            };
            if let Some(dtmf) = key_pressed.take() {
                let l = &self.launch;
                self.sim.journal(&serde_json::json!({"dtmf": {"id": l.id, "userdata": l.userdata, "dtmf": dtmf}}));
                self.sim
                    .state()
                    .acked_dtmf
                    .push((l.id.clone(), l.userdata.clone(), dtmf));
            }
            // `refuse=N`: the Nth command is refused as if it were not valid.
            let parsed = match parse_command(&body) {
                Ok(cmd) if refuse == Some(commands + 1) || !self.understood(&cmd) => {
                    Err((cmd.command, cmd.options))
                }
                other => other,
            };
            let cmd = match parsed {
                Ok(cmd) => cmd,
                Err((command, options)) => {
                    let error = [
                        ("userfield", userfield.clone()),
                        ("command", command),
                        ("options", options),
                        ("statuscode", "401".into()),
                        ("description", "Command not found".into()),
                        ("statuscall", "ANSWER".into()),
                    ];
                    send_end = self.post(&error).await.is_some();
                    break;
                }
            };
            userfield = cmd.userfield.clone();
            commands += 1;
            if self.sim.inner.cfg.bare_requests && matches!(cmd.command.as_str(), "dial" | "queue")
            {
                let bare = [("api", String::new()), ("statuscall", "ANSWER".into())];
                // Like any control request: a refusal (non-2xx) or a `hangup` reply ends the
                // call before the transfer.
                match self.post(&bare).await {
                    Some(reply) if parse_command(&reply).is_err() => {}
                    _ => break,
                }
            }
            // With an agent pool, a transfer waits for an agent, who stays busy until it ends.
            let pool = self
                .sim
                .inner
                .agents
                .clone()
                .zip(self.sim.inner.cfg.script.agents.as_ref());
            let (step, _agent) = match pool {
                // A callee who hangs up during the transfer leaves before any agent comes.
                Some((free, agents))
                    if transfer_ok
                        && hangup_during != Some(commands)
                        && matches!(cmd.command.as_str(), "dial" | "queue") =>
                {
                    let (step, waited, agent) =
                        self.agent_transfer(&cmd, free, agents, bridge_secs).await?;
                    talk += waited;
                    (step, agent)
                }
                _ if cmd.command == crate::flow::GOOGLE_VOICE2TEXT => {
                    (listen(&cmd, said.get(listens)), None)
                }
                _ => (self.execute(&cmd, keys.get(getdtmfs), transfer_ok), None),
            };
            if cmd.command == crate::flow::GOOGLE_VOICE2TEXT {
                listens += 1;
            }
            if cmd.command.ends_with("_getdtmf") {
                getdtmfs += 1;
            }
            let transfer = matches!(cmd.command.as_str(), "dial" | "queue");
            if hangup_during == Some(commands) {
                // During a transfer the callee leaves while it rings, before any agent.
                let stay = if transfer { 1.0 } else { step.secs / 2.0 };
                if transfer {
                    self.leg(&cmd, "cancel", 0.0, ring + talk);
                }
                self.sleep(stay).await?;
                talk += stay;
                break;
            }
            if let (true, Some(agent_talk)) = (transfer, step.agent_talk) {
                let pickup = (step.secs - agent_talk).max(0.0);
                if let Some(bridged) = bridged_secs {
                    // The callee hangs up first: no transfer result, only the end request.
                    self.leg(&cmd, "answer", bridged, ring + talk + pickup);
                    self.sleep(pickup + bridged).await?;
                    talk += pickup + bridged;
                    break;
                }
                self.leg(&cmd, "answer", agent_talk, ring + talk + pickup);
            } else if transfer {
                self.leg(&cmd, "noanswer", 0.0, ring + talk);
            }
            self.sleep(step.secs).await?;
            talk += step.secs;
            if step.ends {
                break;
            }
            if !step.dtmf.is_empty() && step.dtmf != "timeout" {
                key_pressed = Some(step.dtmf.clone());
            }
            let failed = step.failed;
            let cfg = &self.sim.inner.cfg;
            // The switches that play the provider's alternatives: a `queue` answered with a
            // bare `OK`, a `speak` answered without its status.
            let description = match cmd.command.as_str() {
                "queue" if cfg.bare_queue_results => String::new(),
                _ => step.description,
            };
            let (status, statuscode) = match (failed, cmd.command.as_str()) {
                (false, "speak" | "speak_getdtmf") if cfg.bare_speak_results => ("", ""),
                (true, _) => ("ERROR", "400"),
                (false, _) => ("OK", "200"),
            };
            next = vec![
                ("userfield", userfield.clone()),
                ("command", cmd.command),
                ("options", cmd.options),
                ("status", status.into()),
                ("statuscode", statuscode.into()),
                (crate::flow::TRANSCRIPT_FIELD, description),
                ("dtmf", step.dtmf),
                ("statuscall", "ANSWER".into()),
            ];
        }
        if self.sim.inner.cancel.is_cancelled() {
            return None;
        }
        if send_end && !self.silent_end() {
            let end = [
                ("userfield", userfield),
                ("statuscall", "CANCEL".into()),
                ("durationcall", secs(ring + talk)),
                ("durationcallanswered", secs(talk)),
            ];
            self.post(&end).await;
        }
        Some(("ANSWER", ring + talk, talk))
    }

    /// Whether this call's end-of-call request is dropped (`drop_end_requests`).
    fn silent_end(&self) -> bool {
        let cfg = &self.sim.inner.cfg;
        self.inbound.is_none() && hit(cfg.seed, 1, &self.launch.id, cfg.drop_end_requests)
    }

    /// A transfer to the agent pool: waits for a free agent within the window (the `dial` ring
    /// time, or the pool's `wait` for a `queue`), then the agent's pick-up delay. Returns the
    /// step (talk time still to play), the simulated seconds already waited, and the agent,
    /// busy while the caller keeps it; `None` if cancelled.
    async fn agent_transfer(
        &self,
        cmd: &Command,
        free: Arc<tokio::sync::Semaphore>,
        agents: &super::Agents,
        bridge_secs: Option<f64>,
    ) -> Option<(Step, f64, Option<tokio::sync::OwnedSemaphorePermit>)> {
        let window = match cmd.command.as_str() {
            "dial" => cmd
                .options
                .split(',')
                .nth(2)
                .and_then(|r| r.trim().parse::<f64>().ok())
                .filter(|r| r.is_finite() && *r >= 0.0)
                .unwrap_or(30.0),
            _ => agents.wait_secs,
        };
        let bridge = bridge_secs.unwrap_or(agents.bridge_secs);
        let speed = self.sim.inner.cfg.speed;
        let started = std::time::Instant::now();
        let acquired = tokio::select! {
            _ = self.sim.inner.cancel.cancelled() => return None,
            r = tokio::time::timeout(real_duration(window, speed), free.acquire_owned()) => r,
        };
        let waited = (started.elapsed().as_secs_f64() * speed).min(window);
        let no_agent = step(0.0, "NOANSWER", "", false);
        match acquired {
            Ok(Ok(agent)) if waited + bridge <= window => {
                self.sleep(bridge).await?;
                let talk = Step {
                    agent_talk: Some(agents.talk_secs),
                    ..step(agents.talk_secs, "ANSWER", "", false)
                };
                Some((talk, waited + bridge, Some(agent)))
            }
            Ok(Ok(agent)) => {
                // Nobody picks up in time: the agent is free again at once.
                drop(agent);
                self.sleep(window - waited).await?;
                Some((no_agent, window, None))
            }
            _ => Some((no_agent, window, None)),
        }
    }

    /// Whether the simulated provider understands this command's options: a `queue` in
    /// another form than `simulator.queue_options` says is refused.
    fn understood(&self, cmd: &Command) -> bool {
        use crate::config::QueueOptions;
        let o = &cmd.options;
        match (cmd.command.as_str(), self.sim.inner.cfg.queue_options) {
            ("queue", Some(QueueOptions::Comma)) => o.contains(',') && !o.contains(';'),
            ("queue", Some(QueueOptions::Semicolon)) => o.contains(';') && !o.contains(','),
            ("queue", Some(QueueOptions::Name)) => !o.trim().is_empty() && !o.contains([',', ';']),
            _ => true,
        }
    }

    /// Keeps a transfer's leg for the report.
    fn leg(&self, cmd: &Command, status: &'static str, billed: f64, start: f64) {
        let leg = Leg {
            dst: leg_dst(cmd),
            status,
            billed,
            start,
        };
        self.legs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(leg);
    }

    /// Simulates one command (options are positional, `;`-separated, `,` for dial/queue).
    fn execute(&self, cmd: &Command, key: Option<&Key>, transfer_ok: bool) -> Step {
        let sep = if matches!(cmd.command.as_str(), "dial" | "queue") {
            ','
        } else {
            ';'
        };
        let opts: Vec<&str> = cmd.options.split(sep).map(str::trim).collect();
        let opt = |i: usize| opts.get(i).copied().unwrap_or("");
        let num = |i: usize, default: f64| {
            opt(i)
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .unwrap_or(default)
        };
        let speak = |text: &str| (text.chars().count() as f64 / SPEAK_CHARS_PER_SEC).max(1.0);
        let getdtmf = |prompt: f64, wait_ms: f64, max_digits: &str| match key {
            Some(Key::Digits(d)) => {
                let max = max_digits
                    .parse()
                    .ok()
                    .filter(|m| *m > 0)
                    .unwrap_or(d.len());
                let dtmf: String = d.chars().take(max).collect();
                step(
                    prompt + KEY_AFTER_SECS.min(wait_ms / 1000.0),
                    "",
                    &dtmf,
                    false,
                )
            }
            _ => step(prompt + wait_ms / 1000.0, "", "timeout", false),
        };
        let done = |secs: f64| step(secs, "", "", false);
        let transfer = |ring: f64| match transfer_ok {
            true => Step {
                agent_talk: Some(TRANSFER_TALK_SECS),
                ..step(
                    TRANSFER_PICKUP_SECS + TRANSFER_TALK_SECS,
                    "ANSWER",
                    "",
                    false,
                )
            },
            false => step(ring, "NOANSWER", "", false),
        };
        match cmd.command.as_str() {
            "speak" => done(speak(opt(2))),
            "speak_getdtmf" => getdtmf(speak(opt(2)), num(3, 5000.0), opt(4)),
            "play" => done(PLAY_SECS),
            "play_getdtmf" => getdtmf(PLAY_SECS, num(2, 5000.0), opt(3)),
            "dial" => match (&self.sim.inner.cfg.desk, opt(0)) {
                // An extension answers as `[simulator.desk]` says (unless the callee's script
                // makes every transfer fail).
                (Some(desk), "extension") if transfer_ok => {
                    let (secs, description) =
                        crate::desk::sim::extension_answer(desk, opt(1), num(2, 30.0));
                    Step {
                        agent_talk: (description == "ANSWER").then_some(desk.talk_seconds),
                        ..step(secs, description, "", false)
                    }
                }
                _ => transfer(num(2, 30.0)),
            },
            "queue" => transfer(30.0),
            "record" => {
                let path = format!("/var/spool/asterisk/monitor/{}.wav", self.launch.id);
                step(0.0, &path, "", false)
            }
            "google_voice2text" => done(num(2, 2.0) + 3.0),
            "send_dtmf" => done(num(1, 1.0)),
            "ivr" | "voicemail" => done(20.0),
            "busy" | "congestion" => step(num(0, 3.0), "", "", true),
            "hangup" => step(0.0, "", "", true),
            _ => done(0.0), // callerid
        }
    }

    /// Sleeps simulated seconds; `None` if cancelled.
    async fn sleep(&self, sim_secs: f64) -> Option<()> {
        let d = real_duration(sim_secs, self.sim.inner.cfg.speed);
        tokio::select! {
            _ = self.sim.inner.cancel.cancelled() => None,
            _ = tokio::time::sleep(d) => Some(()),
        }
    }

    /// POSTs one control request (all §2 fields, `extra` overriding the empty defaults).
    async fn post(&self, extra: &[(&'static str, String)]) -> Option<String> {
        let l = &self.launch;
        let base = [
            ("ID", l.id.clone()),
            ("api", self.sim.inner.cfg.api.clone()),
            ("src", l.src.clone()),
            ("dst", l.dst.clone()),
            ("startcall", madrid(l.at, "%Y-%m-%d %H:%M:%S")),
            ("userdata", l.userdata.clone()),
        ];
        let mut fields: Vec<(&str, String)> = CONTROL_FIELDS
            .split_whitespace()
            .map(|k| {
                let v = extra.iter().chain(base.iter()).find(|(name, _)| *name == k);
                (k, v.map(|(_, v)| v.clone()).unwrap_or_default())
            })
            .collect();
        let inner = &self.sim.inner;
        let url = match &self.inbound {
            // An inbound leg (`apivoice.md` 2b): who called, on the inbound URL.
            Some(leg) => {
                fields.extend([("typesrc", "did".to_string()), ("usersrc", l.src.clone())]);
                leg.url.as_str()
            }
            None => inner.cfg.control_url.as_str(),
        };
        let result = tokio::select! {
            _ = inner.cancel.cancelled() => return None,
            r = post_form(&inner.http, url, &fields, inner.cfg.urlencoded) => r,
        };
        if let Some(trace) = self.inbound.as_ref().and_then(|leg| leg.trace.as_ref()) {
            trace
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(super::inbound::Exchange {
                    sent: fields
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.clone()))
                        .collect(),
                    reply: result.clone(),
                });
        }
        match result {
            Ok(body) => Some(body),
            Err(error) => {
                tracing::warn!(id = %l.id, %error, "control request failed; ending the simulated call");
                None
            }
        }
    }

    /// Queues the call's report line (§3).
    fn report(&self, status: &str, total: f64, answered: f64) {
        if self.sim.inner.cfg.report_url.is_none() {
            return;
        }
        let l = &self.launch;
        let stop =
            l.at + chrono::TimeDelta::try_milliseconds((total * 1000.0) as i64).unwrap_or_default();
        let (dst, dstname, euro_per_min) = if l.typedst == "extension" {
            (l.dst.as_str(), "Extensión", 0.0)
        } else {
            match l.dst.strip_prefix("0034") {
                Some(n) if n.starts_with(['6', '7']) => (n, "España - móvil", 0.024),
                Some(n) => (n, "España - fijo", 0.012),
                None => (
                    l.dst.strip_prefix("00").unwrap_or(&l.dst),
                    "Internacional",
                    0.10,
                ),
            }
        };
        let src = match l.src.strip_prefix('+') {
            Some(rest) => format!("00{rest}"),
            None if l.src.len() == 9 && l.src.bytes().all(|b| b.is_ascii_digit()) => {
                format!("0034{}", l.src)
            }
            None => l.src.clone(),
        };
        let billable = answered.round().max(0.0);
        let cost = (billable * euro_per_min / 60.0 * 10_000.0).round() / 10_000.0;
        let line = json!({
            "ID": l.id,
            "startdate": madrid(l.at, "%Y-%m-%d %H:%M:%S%.6f"),
            "stopdate": madrid(stop, "%Y-%m-%d %H:%M:%S%.6f"),
            "src": format!("{src} (APIVoice {})", l.id),
            "dst": dst,
            "dstname": dstname,
            "duration": secs(billable),
            "cost": cost,
            "status": status.to_ascii_lowercase(),
            "ip": "",
            "plan": "",
            "useragent": format!("APIVoice;{};{}", l.id, self.sim.inner.cfg.api),
        });
        // A transfer's legs go first: a busy agent leg must never close the callee's call.
        let legs = std::mem::take(&mut *self.legs.lock().unwrap_or_else(|e| e.into_inner()));
        let mut lines: Vec<Value> = legs
            .iter()
            .map(|leg| {
                let at = |s: f64| {
                    l.at + chrono::TimeDelta::try_milliseconds((s * 1000.0) as i64)
                        .unwrap_or_default()
                };
                json!({
                    "ID": l.id,
                    "startdate": madrid(at(leg.start), "%Y-%m-%d %H:%M:%S%.6f"),
                    "stopdate": madrid(at(leg.start + leg.billed), "%Y-%m-%d %H:%M:%S%.6f"),
                    "src": format!("{src} (APIVoice {})", l.id),
                    "dst": leg.dst,
                    "dstname": "Extensión",
                    "duration": secs(leg.billed),
                    "cost": 0.0,
                    "status": leg.status,
                    "ip": "",
                    "plan": "",
                    "useragent": format!("APIVoice;{};{}", l.id, self.sim.inner.cfg.api),
                })
            })
            .collect();
        lines.push(line);
        self.sim.state().pending.extend(lines);
    }

    /// Queues an inbound call's report line (`apivoice.md` 2b): the DID leg, from the caller to
    /// the number called (national digits), free to the account. One leg in four comes without
    /// its `ID`, as observed: the dialer must store it and match it to no outbound attempt.
    fn report_inbound(&self, status: &str, total: f64, answered: f64) {
        if self.sim.inner.cfg.report_url.is_none() {
            return;
        }
        let l = &self.launch;
        let stop =
            l.at + chrono::TimeDelta::try_milliseconds((total * 1000.0) as i64).unwrap_or_default();
        let id = if hit(self.sim.inner.cfg.seed, 4, &l.id, DID_LEG_WITHOUT_ID) {
            ""
        } else {
            l.id.as_str()
        };
        let line = json!({
            "ID": id,
            "startdate": madrid(l.at, "%Y-%m-%d %H:%M:%S%.6f"),
            "stopdate": madrid(stop, "%Y-%m-%d %H:%M:%S%.6f"),
            "src": l.src,
            "dst": l.dst.strip_prefix("34").unwrap_or(&l.dst),
            "dstname": "DID",
            "duration": secs(answered.round().max(0.0)),
            "cost": 0.0,
            "status": status.to_ascii_lowercase(),
            "ip": "",
            "plan": "",
            "useragent": if id.is_empty() { String::new() } else { format!("APIVoice;{id};{}", self.sim.inner.cfg.api) },
        });
        self.sim.state().pending.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::hit;

    #[test]
    fn a_switch_hits_its_share_of_calls_and_the_same_calls_each_run() {
        let ids: Vec<String> = (0..2000).map(|i| format!("1764800000.{i}")).collect();
        let count = |share: f64| ids.iter().filter(|id| hit(7, 1, id, share)).count();
        assert_eq!(count(0.0), 0);
        assert_eq!(count(1.0), 2000);
        let half = count(0.5);
        assert!((850..=1150).contains(&half), "{half}");
        let again = ids.iter().filter(|id| hit(7, 1, id, 0.5)).count();
        assert_eq!(again, half);
        // Another switch hits other calls.
        let both = ids
            .iter()
            .filter(|id| hit(7, 1, id, 0.5) && hit(7, 2, id, 0.5))
            .count();
        assert!((350..=650).contains(&both), "{both}");
    }
}
