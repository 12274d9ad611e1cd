//! API Voice simulator: the provider side of netelip's API Voice (spec `apivoice.md`, §1–3, §5)
//! over real HTTP, so that the dialer's real provider client and webhook server can be tested.
//!
//! Guarantees:
//! - `POST /v1/voice` (and `POST /`) accept urlencoded or multipart launches (query fields too,
//!   body wins) and answer like the provider: `{"response":"200","ID":"<epoch>.<seq>"}` or an
//!   error code (`406` missing field, `401` bad token/api, `103` bad parameter, fault codes);
//! - every accepted launch becomes exactly one simulated call; a launch that got no reply
//!   (`hang` fault) or an error code never places a call;
//! - an answered call drives the control URL as §2 says: start request, one result request per
//!   executed command, `401`/`Command not found` on a bad reply, then a final `CANCEL` request;
//!   a not-answered call sends one end-of-call request (`BUSY`, `NOANSWER`, …) with no start;
//! - every finished call yields one report line, plus one per transfer (the agent's leg, before
//!   the callee's), posted in `calls=<JSON array>` batches and kept until a POST succeeds (plus
//!   deliberate duplicates / reordering when configured);
//! - outcomes are deterministic for a given seed and per-destination launch order;
//! - every wait is simulated time divided by `speed`; durations sent are simulated seconds;
//! - network input never panics the simulator, secrets are never logged, and everything stops
//!   when the cancellation token fires.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

mod call;
mod inbound;
mod script;
#[cfg(test)]
mod tests;

use crate::provider::read_form;
use call::Call;
pub use inbound::{describe_exchanges, Exchange, InboundCall};
use script::dst_key;
pub use script::{parse_keys, random_outcome, Agents, CallScript, Key, Said, Script};

const MAX_SENT_KEPT: usize = 1000;

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Listen address; `127.0.0.1:0` picks an ephemeral port.
    pub listen: SocketAddr,
    /// Expected launch token; `None` accepts any non-empty token.
    pub token: Option<String>,
    /// Expected `api` field (the API instance name).
    pub api: String,
    /// The dialer's control URL (as pasted in netelip's panel).
    pub control_url: String,
    /// The dialer's report URL; `None` disables reports.
    pub report_url: Option<String>,
    /// Time compression: 1.0 is real time, 50.0 runs 50x faster. Reported durations are simulated.
    pub speed: f64,
    /// Real time between report batches (already scaled by the caller).
    pub report_interval: Duration,
    /// `false`: multipart/form-data bodies (the provider's default); `true`: urlencoded.
    pub urlencoded: bool,
    /// Resend one random already-delivered line with each later batch.
    pub duplicate_reports: bool,
    /// Shuffle the lines inside each batch.
    pub reorder_reports: bool,
    /// Share of calls (0 to 1) that get no end-of-call request: neither after the dialer's
    /// `hangup` nor when nobody answers (an alternative the real service may play, see
    /// [`crate::provider`], "Assumptions").
    pub drop_end_requests: f64,
    /// Share of calls (0 to 1) that never get a report line.
    pub drop_reports: f64,
    /// Before carrying out a `dial` or `queue`, send a bare control request (no `api`, no
    /// command context), as one integration saw while a `dial` rang; a `hangup` reply to it
    /// cuts the call.
    pub bare_requests: bool,
    /// Answer `queue` with a bare `status=OK`: no `ANSWER`, no failure word (an alternative
    /// the real service may play, see [`crate::provider`], "Assumptions").
    pub bare_queue_results: bool,
    /// Answer `speak` and `speak_getdtmf` without `status` and `statuscode`.
    pub bare_speak_results: bool,
    /// The only `queue` options form understood; another gets `Command not found`. `None`:
    /// any form.
    pub queue_options: Option<crate::config::QueueOptions>,
    /// Seed for the random outcomes of unscripted destinations and report shuffling.
    pub seed: u64,
    /// Scripted outcomes per destination.
    pub script: Script,
    /// Launch-endpoint faults.
    pub faults: Faults,
    /// Log every accepted launch at `info` (destination masked); set by [`run_standalone`].
    pub log_launches: bool,
    /// Append every accepted launch and every acknowledged key press to this file, one JSON
    /// object per line (`{"launch":…}` / `{"dtmf":…}`), so that a test outliving the dialer
    /// (the kill soak) knows what the provider did.
    pub journal: Option<std::path::PathBuf>,
    /// How the desk's extensions answer a `dial extension` (`crate::desk::sim`).
    pub desk: Option<crate::desk::sim::SimDeskSettings>,
    /// The dialer's inbound URL (`/apivoice/inbound/…`, `apivoice.md` 2b): where callers
    /// calling back are put through.
    pub inbound_url: Option<String>,
    /// Share of the numbers rung (0 to 1) that call the caller id back afterwards (needs
    /// `inbound_url`); the same calls each run for a seed.
    pub callback_rate: f64,
    /// Simulated seconds from the end of a call to its callback.
    pub callback_after_secs: f64,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: None,
            api: "API sim".into(),
            control_url: "http://127.0.0.1:8080/control".into(),
            report_url: None,
            speed: 1.0,
            report_interval: Self::report_interval_for(1.0),
            urlencoded: false,
            duplicate_reports: false,
            reorder_reports: false,
            drop_end_requests: 0.0,
            drop_reports: 0.0,
            bare_requests: false,
            bare_queue_results: false,
            bare_speak_results: false,
            queue_options: None,
            seed: 0,
            script: Script::default(),
            faults: Faults::default(),
            log_launches: false,
            journal: None,
            desk: None,
            inbound_url: None,
            callback_rate: 0.0,
            callback_after_secs: 120.0,
        }
    }
}

impl SimulatorConfig {
    /// The provider's report period (about 10 simulated minutes) in real time at `speed`.
    pub fn report_interval_for(speed: f64) -> Duration {
        real_duration(600.0, speed)
    }
}

/// Fault switches of the launch endpoint, applied in this order: latency, hang, HTTP status,
/// then (after request validation) response code, lost reply and calls-per-second cap. `rate`
/// is the share of launches they hit (1: every launch); the cap applies to every launch.
#[derive(Debug, Clone)]
pub struct Faults {
    /// Real delay added before the launch reply (a slow provider).
    pub latency: Duration,
    /// Answer the launch with this `response` code (HTTP 200), e.g. `"402"`, `"503"`.
    pub response_code: Option<String>,
    /// Answer the launch with this bare HTTP status, e.g. 500.
    pub http_status: Option<u16>,
    /// Never reply (until cancelled); no call is placed.
    pub hang: bool,
    /// Place the call, then never reply (until cancelled): the dialer cannot know it rings.
    pub lost_reply: bool,
    /// Share of launches the switches above hit, 0 to 1.
    pub rate: f64,
    /// Accepted launches above this real-time rate (token bucket) get `{"response":"503"}`.
    pub max_cps: Option<f64>,
}

impl Faults {
    /// From `[simulator.faults]`.
    pub fn from_settings(s: &crate::config::FaultSettings) -> Faults {
        Faults {
            latency: Duration::from_millis(s.latency_ms),
            response_code: s.response_code.clone(),
            http_status: s.http_status,
            hang: s.hang,
            lost_reply: s.lost_reply,
            rate: s.rate,
            max_cps: s.max_cps,
        }
    }
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency: Duration::ZERO,
            response_code: None,
            http_status: None,
            hang: false,
            lost_reply: false,
            rate: 1.0,
            max_cps: None,
        }
    }
}

/// One accepted launch.
#[derive(Debug, Clone)]
pub struct LaunchRecord {
    /// Call id returned to the dialer.
    pub id: String,
    /// `dst` as received.
    pub dst: String,
    /// `src` as received.
    pub src: String,
    /// `userdata` as received (empty if absent).
    pub userdata: String,
    /// Maximum ringing time, seconds (30 when absent).
    pub duration: u32,
    /// `typedst` as received.
    pub typedst: String,
    /// Wall-clock time of the launch.
    pub at: DateTime<Utc>,
    /// The outcome chosen for this call.
    pub outcome: CallScript,
}

/// Entry point of the simulator.
pub struct Simulator;

/// Handle on a running simulator (cheap to clone).
#[derive(Clone)]
pub struct SimHandle {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: SimulatorConfig,
    addr: SocketAddr,
    http: reqwest::Client,
    cancel: CancellationToken,
    state: Mutex<SimState>,
    in_progress: AtomicUsize,
    /// The fault switches now (start from `cfg.faults`; [`SimHandle::set_faults`] changes them).
    faults: Mutex<Faults>,
    /// Launch requests received, answered or not.
    requests: AtomicUsize,
    journal: Option<Mutex<std::fs::File>>,
    report_lock: tokio::sync::Mutex<()>,
    /// Free agents of the script's pool, if it has one.
    agents: Option<Arc<tokio::sync::Semaphore>>,
}

struct SimState {
    seq: u64,
    attempts: HashMap<String, usize>,
    launches: Vec<LaunchRecord>,
    acked_dtmf: Vec<(String, String, String)>,
    pending: Vec<Value>,
    sent: Vec<Value>,
    rng: StdRng,
    bucket: Option<(f64, Instant)>,
}

impl Simulator {
    /// Binds `cfg.listen` and starts the launch endpoint, the call engine and the report engine.
    pub async fn start(
        cfg: SimulatorConfig,
        cancel: CancellationToken,
    ) -> std::io::Result<SimHandle> {
        let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
        let addr = listener.local_addr()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?;
        let rng = StdRng::seed_from_u64(cfg.seed);
        let initial_faults = cfg.faults.clone();
        let journal = match &cfg.journal {
            Some(path) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            )),
            None => None,
        };
        let agents = cfg
            .script
            .agents
            .as_ref()
            .map(|a| Arc::new(tokio::sync::Semaphore::new(a.count)));
        let sim = SimHandle {
            inner: Arc::new(Inner {
                cfg,
                addr,
                http,
                cancel: cancel.clone(),
                state: Mutex::new(SimState {
                    // A random start keeps call ids unique across simulator restarts within one second.
                    seq: rand::random::<u32>() as u64 % 1_000_000_000,
                    attempts: HashMap::new(),
                    launches: Vec::new(),
                    acked_dtmf: Vec::new(),
                    pending: Vec::new(),
                    sent: Vec::new(),
                    rng,
                    bucket: None,
                }),
                in_progress: AtomicUsize::new(0),
                faults: Mutex::new(initial_faults),
                requests: AtomicUsize::new(0),
                journal,
                report_lock: tokio::sync::Mutex::new(()),
                agents,
            }),
        };
        let app = Router::new()
            .route("/", post(launch))
            .route("/v1/voice", post(launch))
            .with_state(sim.clone());
        let shutdown = cancel.clone();
        tokio::spawn(async move {
            let server =
                axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned());
            if let Err(e) = server.await {
                tracing::warn!(error = %e, "simulator launch endpoint stopped");
            }
        });
        if sim.inner.cfg.report_url.is_some() {
            let reporter = sim.clone();
            let every = sim.inner.cfg.report_interval.max(Duration::from_millis(1));
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(every) => reporter.flush_reports().await,
                    }
                }
            });
        }
        Ok(sim)
    }
}

/// Runs the simulator until `cancel` fires (the `pregonero simulate` command), logging each
/// launch with the destination masked. The token is never logged.
pub async fn run_standalone(
    mut cfg: SimulatorConfig,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    cfg.log_launches = true;
    let sim = Simulator::start(cfg, cancel.clone()).await?;
    tracing::info!(
        launch_url = %sim.launch_url(),
        speed = sim.inner.cfg.speed,
        reports = sim.inner.cfg.report_url.is_some(),
        "API Voice simulator listening"
    );
    cancel.cancelled().await;
    Ok(())
}

impl SimHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The launch URL, `http://ADDR/v1/voice`.
    pub fn launch_url(&self) -> String {
        format!("http://{}/v1/voice", self.inner.addr)
    }

    /// Switches the launch endpoint's faults from now on (a provider that breaks or recovers).
    pub fn set_faults(&self, faults: Faults) {
        *self.inner.faults.lock().unwrap_or_else(|e| e.into_inner()) = faults;
    }

    /// Appends one line to the journal, if there is one.
    pub(crate) fn journal(&self, line: &Value) {
        if let Some(file) = &self.inner.journal {
            use std::io::Write;
            let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = writeln!(f, "{line}") {
                tracing::warn!(error = %e, "cannot write the simulator journal");
            }
        }
    }

    /// Launch requests received so far, whatever their reply.
    pub fn launch_requests(&self) -> usize {
        self.inner.requests.load(Ordering::SeqCst)
    }

    /// Every accepted launch, in order.
    pub fn launches(&self) -> Vec<LaunchRecord> {
        self.state().launches.clone()
    }

    /// `(call id, userdata, dtmf)` of every key press whose result request got an HTTP 2xx.
    pub fn acked_dtmf(&self) -> Vec<(String, String, String)> {
        self.state().acked_dtmf.clone()
    }

    /// Calls launched and not finished yet.
    pub fn calls_in_progress(&self) -> usize {
        self.inner.in_progress.load(Ordering::SeqCst)
    }

    /// Report lines not delivered yet.
    pub fn pending_reports(&self) -> usize {
        self.state().pending.len()
    }

    /// Posts the pending report lines now (no-op without lines or report URL). Lines stay
    /// pending if the POST fails.
    pub async fn flush_reports(&self) {
        let Some(url) = self.inner.cfg.report_url.as_deref() else {
            return;
        };
        let _one_at_a_time = self.inner.report_lock.lock().await;
        let (lines, batch) = {
            let mut guard = self.state();
            let st = &mut *guard;
            if st.pending.is_empty() {
                return;
            }
            let lines = std::mem::take(&mut st.pending);
            let mut batch = lines.clone();
            if self.inner.cfg.duplicate_reports && !st.sent.is_empty() {
                let i = st.rng.random_range(0..st.sent.len());
                batch.push(st.sent[i].clone());
            }
            if self.inner.cfg.reorder_reports {
                batch.shuffle(&mut st.rng);
            }
            (lines, batch)
        };
        let fields = [("calls", Value::Array(batch).to_string())];
        let result = tokio::select! {
            _ = self.inner.cancel.cancelled() => Err("cancelled".to_string()),
            r = post_form(&self.inner.http, url, &fields, self.inner.cfg.urlencoded) => r,
        };
        let mut st = self.state();
        match result {
            Ok(_) => {
                st.sent.extend(lines);
                let excess = st.sent.len().saturating_sub(MAX_SENT_KEPT);
                st.sent.drain(..excess);
            }
            Err(error) => {
                tracing::warn!(%error, lines = lines.len(), "report batch not delivered; will retry");
                st.pending.splice(0..0, lines);
            }
        }
    }

    /// Sends every pending report line, sending again a batch the daemon did not take (a 503
    /// while its store was busy) until `timeout` passes; `false` if lines are left. A daemon
    /// stopping calls this once its calls are over: the last lines have no later round.
    pub async fn flush_reports_within(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            self.flush_reports().await;
            if self.pending_reports() == 0 {
                return true;
            }
            if Instant::now() >= deadline || self.inner.cancel.is_cancelled() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until no call is in progress and no report line is pending; `false` on timeout.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.calls_in_progress() == 0 && self.pending_reports() == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn state(&self) -> MutexGuard<'_, SimState> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Validates a launch and, if accepted, records it and returns the call to place.
    fn admit(
        &self,
        form: &BTreeMap<String, String>,
        faults: &Faults,
        hit: bool,
    ) -> Result<Call, String> {
        let cfg = &self.inner.cfg;
        let get = |k: &str| form.get(k).map(|v| v.trim()).unwrap_or("");
        if ["token", "api", "src", "dst"]
            .iter()
            .any(|k| get(k).is_empty())
        {
            return Err("406".into());
        }
        if cfg.token.as_deref().is_some_and(|t| t != get("token")) || get("api") != cfg.api.trim() {
            return Err("401".into());
        }
        let (dst, typedst) = (get("dst"), get("typedst"));
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let valid_dst = match typedst {
            "" | "pstn" => dst
                .strip_prefix("00")
                .is_some_and(|r| (6..=15).contains(&r.len()) && all_digits(r)),
            "extension" => all_digits(dst) && dst.len() <= 12,
            _ => false,
        };
        let duration = match get("duration") {
            "" => Some(30),
            d => d.parse::<u32>().ok().filter(|d| (1..=600).contains(d)),
        };
        let (true, Some(duration)) = (valid_dst, duration) else {
            return Err("103".into());
        };
        if let Some(code) = faults.response_code.as_ref().filter(|_| hit) {
            return Err(code.clone());
        }
        let mut st = self.state();
        if let Some(cps) = faults.max_cps {
            let (now, burst) = (Instant::now(), cps.max(1.0));
            let (tokens, last) = st.bucket.unwrap_or((burst, now));
            let tokens = (tokens + now.duration_since(last).as_secs_f64() * cps).min(burst);
            let admitted = tokens >= 1.0;
            st.bucket = Some((if admitted { tokens - 1.0 } else { tokens }, now));
            if !admitted {
                return Err("503".into());
            }
        }
        st.seq += 1;
        let at = Utc::now();
        let id = format!("{}.{}", at.timestamp(), st.seq);
        let key = dst_key(dst);
        let n = *st
            .attempts
            .entry(key.clone())
            .and_modify(|n| *n += 1)
            .or_insert(0);
        let outcome = cfg
            .script
            .for_attempt(&key, n)
            .cloned()
            .unwrap_or_else(|| random_outcome(cfg.seed, &key, n));
        let record = LaunchRecord {
            id,
            dst: dst.to_string(),
            src: get("src").to_string(),
            userdata: form.get("userdata").cloned().unwrap_or_default(),
            duration,
            typedst: typedst.to_string(),
            at,
            outcome,
        };
        st.launches.push(record.clone());
        drop(st);
        self.journal(&json!({"launch": {"id": record.id, "dst": record.dst, "userdata": record.userdata, "at_ms": record.at.timestamp_millis()}}));
        self.inner.in_progress.fetch_add(1, Ordering::SeqCst);
        Ok(Call {
            sim: self.clone(),
            launch: record,
            inbound: None,
            legs: Default::default(),
        })
    }
}

async fn launch(State(sim): State<SimHandle>, req: Request) -> Response {
    let inner = sim.inner.clone();
    inner.requests.fetch_add(1, Ordering::SeqCst);
    let faults = inner
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let hit = faults.rate >= 1.0 || sim.state().rng.random::<f64>() < faults.rate;
    if hit && !faults.latency.is_zero() {
        tokio::select! {
            _ = inner.cancel.cancelled() => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
            _ = tokio::time::sleep(faults.latency) => {}
        }
    }
    if hit && faults.hang {
        inner.cancel.cancelled().await;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if let Some(status) = faults.http_status.filter(|_| hit) {
        return StatusCode::from_u16(status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
    }
    let admitted = match read_form(req).await {
        Ok(form) => sim.admit(&form, &faults, hit),
        Err(_) => Err("406".to_string()),
    };
    match admitted {
        Ok(call) => {
            let l = &call.launch;
            if inner.cfg.log_launches {
                tracing::info!(id = %l.id, dst = %mask(&l.dst), userdata = %l.userdata, outcome = ?l.outcome, "launch accepted");
            }
            let reply = json!({"response": "200", "ID": l.id});
            tokio::spawn(call.run());
            if hit && faults.lost_reply {
                // The call rings; its reply never reaches the dialer.
                inner.cancel.cancelled().await;
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
            Json(reply).into_response()
        }
        Err(code) => {
            if inner.cfg.log_launches {
                tracing::info!(response = %code, "launch refused");
            }
            Json(json!({ "response": code })).into_response()
        }
    }
}

/// POSTs form fields; `Ok(body)` only for an HTTP 2xx reply. Errors never contain the URL.
async fn post_form(
    http: &reqwest::Client,
    url: &str,
    fields: &[(&str, String)],
    urlencoded: bool,
) -> Result<String, String> {
    let request = if urlencoded {
        http.post(url).form(fields)
    } else {
        let form = fields
            .iter()
            .fold(reqwest::multipart::Form::new(), |f, (k, v)| {
                f.text(k.to_string(), v.clone())
            });
        http.post(url).multipart(form)
    };
    let response = request
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("HTTP {status}"))
    }
}

fn mask(number: &str) -> String {
    let n = number.chars().count();
    number
        .chars()
        .enumerate()
        .map(|(i, c)| if i + 3 < n { '*' } else { c })
        .collect()
}

fn real_duration(sim_secs: f64, speed: f64) -> Duration {
    let speed = if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    };
    Duration::try_from_secs_f64(sim_secs.clamp(0.0, 86_400.0) / speed).unwrap_or(Duration::ZERO)
}
