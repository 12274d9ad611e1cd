//! The dialer: claims due contacts, paces launches and keeps concurrency under the limits.
//!
//! Guarantees:
//! - the attempt row is durable before the launch request leaves (the store's claim writes it);
//! - launches never exceed the global `calls_per_second` (governor) nor `max_concurrent_calls`,
//!   and each campaign stays inside its own limits; campaigns take turns, so a large one does
//!   not starve a small one;
//! - a launch whose reply was lost is never relaunched blindly: it stays open until a control
//!   request or report line settles it, or the grace period releases it;
//! - a 401 stops all launching, a 402 pauses it, and both say so loudly;
//! - a sales campaign never has more calls in progress than agents present (progressive pacing;
//!   fewer than `agents` after transfers nobody took, see [`crate::pacing`]), and goes beyond
//!   only by `predictive_ratio` while its 30-day abandon rate is under the maximum.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::Instrument;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::breaker::{Breaker, BreakerSettings, Circuit, Permit, Verdict};
use crate::calls::{
    ActiveCampaign, Campaigns, InFlight, Registry as _, ABANDON_WINDOW_MS, AGENT_RECOVERY_MS,
};
use crate::campaign::phone::mask;
use crate::campaign::Campaign;
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::pacing::sales_cap;
use crate::provider::{ApiVoiceClient, LaunchOutcome, LaunchRequest};
use crate::schedule::{AttemptResult, ContactState};
use crate::store::{AttemptClose, Candidate, Claim, ClaimCaps, Gate, NotPlaced, Store};

/// How often a sales campaign's pacing re-reads its abandon rate.
const SALES_RATE_REFRESH: Duration = Duration::from_secs(2);
/// Why launching stopped for every campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// 401: the token or instance is wrong. Needs a configuration fix and a restart.
    Unauthorized,
    /// HTTP 404: the launch URL is wrong. Needs a configuration fix and a restart.
    WrongUrl,
    /// 402: no balance. Needs a top-up and a restart.
    NoBalance,
}

impl Halt {
    /// What an operator reads when the daemon exits for it.
    pub fn msg(&self) -> crate::i18n::Msg {
        crate::i18n::Msg::new(match self {
            Halt::Unauthorized => "halt.unauthorized",
            Halt::WrongUrl => "halt.wrong_url",
            Halt::NoBalance => "halt.no_balance",
        })
    }
}

/// In logs (English).
impl std::fmt::Display for Halt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Halt::Unauthorized => write!(
                f,
                "the provider rejected the token or the API instance (401): launching stopped for every campaign; fix provider.token / provider.api and restart"
            ),
            Halt::WrongUrl => write!(
                f,
                "the provider's launch URL answered 404 (not found): launching stopped for every campaign; fix provider.url and restart"
            ),
            Halt::NoBalance => write!(
                f,
                "the provider account has no balance (402): launching paused for every campaign; top up and restart"
            ),
        }
    }
}

/// The dialer loop's own state: the pace limiters, the paused flags and when they were read,
/// the reaper's last run, whose turn it is, and the sales campaigns' abandon rates.
struct Pace {
    /// The simulator's speed (at least a tiny positive number); 1 for real calls.
    scale: f64,
    global: DefaultDirectRateLimiter,
    per_campaign: HashMap<String, DefaultDirectRateLimiter>,
    paused: HashMap<String, bool>,
    paused_read: tokio::time::Instant,
    reaped: tokio::time::Instant,
    turn: usize,
    /// Sales campaigns: the rolling abandon rate, re-read from the store now and then.
    sales_rates: HashMap<String, (tokio::time::Instant, Option<f64>)>,
}

impl Pace {
    fn new(calls_per_second: f64, time_scale: f64) -> Pace {
        let scale = time_scale.max(1e-9);
        let now = tokio::time::Instant::now();
        Pace {
            scale,
            global: RateLimiter::direct(quota(calls_per_second * scale)),
            per_campaign: HashMap::new(),
            paused: HashMap::new(),
            paused_read: now - Duration::from_secs(60),
            reaped: now,
            turn: 0,
            sales_rates: HashMap::new(),
        }
    }
}

/// Dialer settings derived from the configuration.
#[derive(Debug, Clone)]
pub struct DialerSettings {
    pub calls_per_second: f64,
    pub max_concurrent_calls: u32,
    /// The simulator's speed (waits are divided by it); 1 for real calls.
    pub time_scale: f64,
    pub unknown_grace: Duration,
    pub stale_call: Duration,
    /// How long the provider's end request may take after our `hangup`, or after the ring
    /// time for a call nobody answered, before the call is closed from what is known.
    pub end_grace: Duration,
    /// Demo campaigns are refused by the real provider.
    pub real_provider: bool,
    /// Backoff and circuit breaker timings (already scaled).
    pub breaker: BreakerSettings,
}

/// Shared state of the dialer.
pub struct Dialer {
    store: Store,
    provider: ApiVoiceClient,
    campaigns: Campaigns,
    clock: SharedClock,
    settings: DialerSettings,
    in_flight: Arc<InFlight>,
    metrics: Arc<Metrics>,
    /// Attempts whose launch request is on its way now.
    launching: Mutex<std::collections::HashSet<i64>>,
    halt: Mutex<Option<Halt>>,
    /// Backoff and circuit breaker for transient launch failures (see [`crate::breaker`]).
    breaker: Mutex<Breaker>,
    /// Set when the dialer paused campaigns itself, so the loop re-reads the flags at once.
    paused_changed: Mutex<bool>,
    no_balance_logged: std::sync::atomic::AtomicBool,
    /// Which once-only duties (the reaper) this daemon performs; all of them when not set.
    duties: std::sync::OnceLock<Arc<crate::cluster::Duties>>,
    /// Hashed exclusion lists (`dnc import --hashed`), checked at the gate.
    hashed: crate::exclusion::HashedList,
}

/// One launch per `1 / cps`, with room for one more: a loop turn that comes a little late (a
/// claim, a store write) catches up instead of losing its time, so the achieved rate is the
/// configured one (burst 1 measured 1.25 % under it at 50/s); in any one-second window there
/// are at most `cps + 1` launches.
fn quota(cps: f64) -> Quota {
    let period = Duration::from_secs_f64(1.0 / cps.max(1e-6)).max(Duration::from_nanos(1));
    let burst = if cps >= 2.0 {
        NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN)
    } else {
        NonZeroU32::MIN
    };
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

/// How far ahead one claim reaches: the launches the pace allows in this time are claimed
/// together. Short, so that a claimed contact still is inside its calling window when its
/// call leaves, and a campaign's turn stays short for the others.
const BATCH_AHEAD: Duration = Duration::from_millis(50);
/// Most contacts one claim takes.
const BATCH_MAX: usize = 64;

/// Contacts to claim at once at `rate` launches per second with `free` call slots.
/// Wall-clock microseconds: launch slots are shared between processes, so they are real time.
fn wall_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn batch_size(rate: f64, free: usize) -> u32 {
    let ahead = (rate * BATCH_AHEAD.as_secs_f64()).floor();
    let n = if ahead >= 1.0 {
        // Saturating: an unbounded rate claims the most.
        (ahead.min(BATCH_MAX as f64)) as usize
    } else {
        1
    };
    n.min(free).max(1) as u32
}

impl Dialer {
    pub fn new(
        store: Store,
        provider: ApiVoiceClient,
        campaigns: Campaigns,
        clock: SharedClock,
        settings: DialerSettings,
        in_flight: Arc<InFlight>,
        metrics: Arc<Metrics>,
    ) -> Arc<Dialer> {
        let breaker = Mutex::new(Breaker::new(settings.breaker));
        Arc::new(Dialer {
            store,
            provider,
            campaigns,
            clock,
            settings,
            in_flight,
            metrics,
            launching: Mutex::new(Default::default()),
            halt: Mutex::new(None),
            breaker,
            paused_changed: Mutex::new(false),
            no_balance_logged: std::sync::atomic::AtomicBool::new(false),
            duties: std::sync::OnceLock::new(),
            hashed: Default::default(),
        })
    }

    /// The daemon's duty leases: with several daemons on one database, one of them reaps.
    pub fn set_duties(&self, duties: Arc<crate::cluster::Duties>) {
        let _ = self.duties.set(duties);
    }

    pub fn halted(&self) -> Option<Halt> {
        self.halt.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_halt(&self, h: Halt) {
        let mut g = self.halt.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            tracing::error!("{h}");
            *g = Some(h);
        }
    }

    /// The campaigns this dialer may launch for, in a stable order.
    fn dialable(&self, paused: &HashMap<String, bool>) -> Vec<Arc<ActiveCampaign>> {
        let map = self.campaigns.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<Arc<ActiveCampaign>> = map
            .values()
            .filter(|c| !(c.demo && self.settings.real_provider))
            .filter(|c| !paused.get(&c.id).copied().unwrap_or(false))
            .cloned()
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Runs until `stop` fires; launch tasks are spawned on `tasks`. Each turn: the paused
    /// flags and the reaper when due, a free slot and the global pace, the circuit's permit,
    /// then the next campaign in turn that has room launches a claimed batch.
    pub async fn run(self: Arc<Self>, stop: CancellationToken, tasks: TaskTracker) {
        let mut pace = Pace::new(self.settings.calls_per_second, self.settings.time_scale);
        self.recover_open_attempts().await;
        loop {
            if stop.is_cancelled() {
                break;
            }
            if self.halted().is_some() {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
            self.refresh(&mut pace).await;
            let global_free =
                (self.settings.max_concurrent_calls as usize).saturating_sub(self.in_flight.len());
            let campaigns = self.dialable(&pace.paused);
            if global_free == 0 || campaigns.is_empty() {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = self.in_flight.changed(Duration::from_millis(500)) => continue,
                }
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = async {
                    if pace.global.check().is_err() {
                        Metrics::inc(&self.metrics.pacing_waits);
                        pace.global.until_ready().await;
                    }
                } => {}
            }
            let permit = self.breaker().permit(tokio::time::Instant::now());
            self.show_circuit();
            let probe = match permit {
                Permit::Go => false,
                Permit::Probe => true,
                Permit::WaitUntil(until) => {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep_until(until) => continue,
                    }
                }
                Permit::WaitForProbe => {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = self.in_flight.changed(Duration::from_millis(250)) => continue,
                    }
                }
            };
            let mut launched = false;
            let n = campaigns.len();
            for i in 0..n {
                let c = &campaigns[(pace.turn + i) % n];
                let Some(claims) = self.claim(c, &mut pace, global_free, probe).await else {
                    continue;
                };
                self.launch_claims(c, claims, probe, &pace, &stop, &tasks)
                    .await;
                pace.turn = (pace.turn + i + 1) % n;
                launched = true;
                break;
            }
            if probe && !launched {
                self.breaker().probe_unused();
            }
            if !launched {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = self.in_flight.changed(Duration::from_millis(250)) => {}
                }
            }
        }
    }

    /// At start: the attempts still open in the store are calls in flight (a restart), and a
    /// demo campaign is said not to be dialled by the real provider.
    async fn recover_open_attempts(&self) {
        // Several daemons on one database: caps and pacing hold for all of them together.
        self.in_flight.set_shared(self.store.is_shared());
        match self.store.open_attempts().await {
            Ok(open) => {
                for a in open {
                    self.in_flight.add(a.attempt_id, &a.campaign_id, None);
                }
            }
            Err(e) => tracing::error!("cannot read open attempts: {e}"),
        }
        let refused: Vec<String> = self
            .campaigns
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|c| c.demo && self.settings.real_provider)
            .map(|c| c.id.clone())
            .collect();
        for id in refused {
            tracing::warn!(campaign = %id, "demo campaign: the real provider does not dial it (only the simulator does)");
        }
    }

    /// The paused flags, re-read every second (at once after a pause or resume), and the
    /// reaper of calls nobody settled, every two seconds.
    async fn refresh(&self, pace: &mut Pace) {
        let forced = std::mem::take(
            &mut *self
                .paused_changed
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        if forced || pace.paused_read.elapsed() >= Duration::from_secs(1) {
            match self.store.campaigns().await {
                Ok(rows) => pace.paused = rows.into_iter().map(|r| (r.id, r.paused)).collect(),
                Err(e) => tracing::error!("cannot read campaigns: {e}"),
            }
            pace.paused_read = tokio::time::Instant::now();
        }
        if pace.reaped.elapsed() >= Duration::from_secs(2) {
            self.reap().await;
            pace.reaped = tokio::time::Instant::now();
        }
    }

    /// How many calls campaign `c` may have in progress now: its own cap, and for a sales
    /// campaign what its agents allow (present on the desk, or estimated from its transfers).
    async fn campaign_limit(&self, c: &ActiveCampaign, pace: &mut Pace) -> usize {
        let limit = c
            .max_concurrent_calls
            .map(|m| m as usize)
            .unwrap_or(usize::MAX);
        let crate::campaign::FlowSettings::Sales(sales) = &c.flow else {
            return limit;
        };
        let scale = pace.scale;
        let fresh = pace
            .sales_rates
            .get(&c.id)
            .filter(|(at, _)| at.elapsed() < SALES_RATE_REFRESH)
            .map(|(_, rate)| *rate);
        let rolling = match fresh {
            Some(rate) => rate,
            None => {
                let rate = self.rolling_abandon_rate(&c.id).await;
                pace.sales_rates
                    .insert(c.id.clone(), (tokio::time::Instant::now(), rate));
                rate
            }
        };
        let view = self.in_flight.agents(
            &c.id,
            sales.agents as usize,
            self.clock.now_ms(),
            (AGENT_RECOVERY_MS as f64 / scale) as i64,
        );
        // A desk campaign counts the agents actually present (`crate::desk`).
        let (view, cap) = match crate::desk::routing::desk_target(c) {
            Some((team, _)) => {
                let lead = (crate::desk::pacing::DEFAULT_LEAD_MS as f64 / scale) as i64;
                let view = crate::desk::pacing::desk_view(
                    &self.store,
                    team,
                    view,
                    self.clock.now_ms(),
                    lead,
                )
                .await;
                let cap = crate::desk::pacing::desk_cap(
                    &view,
                    sales.predictive_ratio,
                    sales.max_abandon_rate,
                    rolling,
                );
                (view, cap)
            }
            None => {
                let cap = sales_cap(
                    &view,
                    sales.predictive_ratio,
                    sales.max_abandon_rate,
                    rolling,
                );
                (view, cap)
            }
        };
        tracing::trace!(campaign = %c.id, cap, agents = view.agents, in_transfer = view.in_transfer, rolling = ?rolling, "sales pacing");
        limit.min(cap)
    }

    /// Claims campaign `c`'s next due contacts, as many as its room and pace allow (one for a
    /// probe), each through the launch gate; counted in flight from the claim on. `None` when
    /// the campaign has no room, no pace left or nothing due.
    async fn claim(
        &self,
        c: &Arc<ActiveCampaign>,
        pace: &mut Pace,
        global_free: usize,
        probe: bool,
    ) -> Option<Vec<Claim>> {
        let limit = self.campaign_limit(c, pace).await;
        let in_flight = self.in_flight.count(&c.id);
        if in_flight >= limit {
            return None;
        }
        let scale = pace.scale;
        if let Some(cps) = c.calls_per_second {
            let lim = pace
                .per_campaign
                .entry(c.id.clone())
                .or_insert_with(|| RateLimiter::direct(quota(cps * scale)));
            if lim.check().is_err() {
                return None;
            }
        }
        // One claim for the next few launches (what the pace allows in BATCH_AHEAD): a claim is
        // a transaction, and one per launch capped the launch rate.
        let rate = c
            .calls_per_second
            .map_or(self.settings.calls_per_second, |r| {
                r.min(self.settings.calls_per_second)
            })
            * scale;
        let batch = if probe {
            1
        } else {
            batch_size(rate, global_free.min(limit - in_flight))
        };
        let now = self.clock.now_ms();
        let hashed = match self.hashed.current(&self.store, now).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(campaign = %c.id, "cannot read the hashed exclusion lists: {e}");
                return None;
            }
        };
        // Consent that lapsed since the import stops the contact before its launch.
        let consent = c.consent_valid_for.filter(|_| c.require_consent).map(|v| {
            let today = chrono::DateTime::from_timestamp_millis(now)
                .unwrap_or_default()
                .with_timezone(&c.plan.tz)
                .date_naive();
            (v, today)
        });
        let gate = |cand: &Candidate| {
            if crate::exclusion::HashedList::blocks(&hashed, &cand.phone) {
                return Gate::Close {
                    state: ContactState::Blocked,
                    note: crate::i18n::Msg::new("why.hashed_list").to_stored(),
                };
            }
            if let Some((valid_for, today)) = consent {
                if let Some(note) = crate::campaign::consent::lapsed(&cand.vars, valid_for, today) {
                    return Gate::Close {
                        state: ContactState::Expired,
                        note: note.to_stored(),
                    };
                }
            }
            c.plan.gate(cand, now)
        };
        let caps = self.store.is_shared().then(|| ClaimCaps {
            calls: self.settings.max_concurrent_calls,
            campaign_calls: c.max_concurrent_calls,
        });
        let under_way = self.in_flight.claiming();
        let claims = match self
            .store
            .claim_due_capped(&c.id, now, batch, caps.as_ref(), &gate)
            .await
        {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(campaign = %c.id, "cannot claim contacts: {e}");
                return None;
            }
        };
        if claims.is_empty() {
            return None;
        }
        // Counted in flight from the claim on: a claim waiting for its pace is a call about to
        // start, for the caps and for `--exit-when-idle`.
        for claim in &claims {
            self.in_flight
                .add(claim.attempt_id, &c.id, Some(self.clock.now_ms()));
        }
        drop(under_way);
        Some(claims)
    }

    /// Launches the claims one by one at the pace: the first has its permits, each further one
    /// waits for its own, and with a shared database each waits for the account's next slot
    /// too. Stopping gives the claims not launched back, not counted as attempts.
    async fn launch_claims(
        self: &Arc<Self>,
        c: &Arc<ActiveCampaign>,
        claims: Vec<Claim>,
        probe: bool,
        pace: &Pace,
        stop: &CancellationToken,
        tasks: &TaskTracker,
    ) {
        let shared = self.store.is_shared();
        let mut claims = claims.into_iter();
        let mut first = true;
        while let Some(claim) = claims.next() {
            if !first || shared {
                let paced = tokio::select! {
                    _ = stop.cancelled() => false,
                    _ = async {
                        if !first {
                            if pace.global.check().is_err() {
                                pace.global.until_ready().await;
                            }
                            if let Some(lim) = pace.per_campaign.get(&c.id) {
                                if lim.check().is_err() {
                                    lim.until_ready().await;
                                }
                            }
                        }
                        if shared {
                            self.shared_slot(c, pace.scale).await;
                        }
                    } => true,
                };
                if !paced {
                    let rest: Vec<_> = std::iter::once(claim).chain(claims.by_ref()).collect();
                    self.give_back(&rest).await;
                    return;
                }
            }
            first = false;
            let me = self.clone();
            let campaign = c.clone();
            if probe {
                tracing::info!(campaign = %c.id, attempt = claim.attempt_id, "circuit half-open: one probe launch");
            }
            let span = tracing::info_span!("launch", campaign = %c.id, attempt = claim.attempt_id);
            tasks.spawn(
                async move {
                    me.launch(&campaign, claim.attempt_id, &claim.phone, probe)
                        .await
                }
                .instrument(span),
            );
        }
    }

    /// Claims the daemon stops before launching: out of flight, and due again at once.
    async fn give_back(&self, claims: &[Claim]) {
        let now = self.clock.now_ms();
        for rest in claims {
            self.in_flight.release(rest.attempt_id);
            if let Err(e) = self
                .store
                .mark_not_placed(
                    rest.attempt_id,
                    "the daemon stopped before launching it",
                    &NotPlaced::RetryAt(now),
                    now,
                )
                .await
            {
                tracing::error!(attempt = rest.attempt_id, "cannot give a claim back: {e}");
            }
        }
    }

    /// Waits for this launch's slot in the pacing every daemon on the database shares (the
    /// account's `calls_per_second`, then the campaign's): see `Store::take_launch_slot`.
    async fn shared_slot(&self, c: &ActiveCampaign, scale: f64) {
        let interval = |cps: f64| {
            let per_second = cps * scale;
            if per_second.is_finite() && per_second > 0.0 {
                (1_000_000.0 / per_second).round() as i64
            } else {
                0
            }
        };
        let campaign_scope = format!("campaign:{}", c.id);
        let mut scopes = vec![("account", interval(self.settings.calls_per_second))];
        if let Some(cps) = c.calls_per_second {
            scopes.push((campaign_scope.as_str(), interval(cps)));
        }
        // A launch sent later than one interval after its slot would crowd the next slot's
        // launch (two in less than an interval, more than the budget in some second): a slot
        // missed that late (a stalled process) is given up and another one taken.
        let tolerance = scopes.iter().map(|(_, i)| *i).filter(|i| *i > 0).min();
        for _ in 0..4 {
            let now_us = wall_us();
            match self.store.take_launch_slot(&scopes, now_us).await {
                Ok(at) => {
                    if at > now_us {
                        Metrics::inc(&self.metrics.pacing_waits);
                        tokio::time::sleep(Duration::from_micros((at - wall_us()).max(0) as u64))
                            .await;
                    }
                    match tolerance {
                        Some(t) if wall_us() - at > t => continue,
                        _ => return,
                    }
                }
                // The claim already counted this launch against the caps; pacing falls back
                // to this daemon's own limiter for it.
                Err(e) => {
                    tracing::error!(campaign = %c.id, "cannot take a shared launch slot: {e}");
                    return;
                }
            }
        }
    }

    /// A sales campaign's abandon rate over the last 30 days; `None` before its first answer.
    async fn rolling_abandon_rate(&self, campaign: &str) -> Option<f64> {
        let since = self.clock.now_ms() - ABANDON_WINDOW_MS;
        match self.store.abandon_counts(campaign, since).await {
            Ok((answered, abandoned)) if answered > 0 => Some(abandoned as f64 / answered as f64),
            Ok(_) => None,
            Err(e) => {
                tracing::error!(campaign = %campaign, "cannot read the abandon rate: {e}");
                None
            }
        }
    }

    async fn launch(&self, campaign: &Campaign, attempt_id: i64, phone: &str, probe: bool) {
        self.launching
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(attempt_id);
        self.launch_once(campaign, attempt_id, phone, probe).await;
        self.launching
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&attempt_id);
    }

    async fn launch_once(&self, campaign: &Campaign, attempt_id: i64, phone: &str, probe: bool) {
        let req = LaunchRequest {
            src: campaign.caller_id.clone(),
            dst: phone.to_string(),
            ring_seconds: campaign.ring_seconds,
            userdata: attempt_id.to_string(),
        };
        let outcome = self.provider.launch(&req).await;
        let now = self.clock.now_ms();
        // The provider answered (placed the call, or judged the request itself): the circuit
        // closes. Transient failures are counted below.
        if !matches!(
            outcome,
            LaunchOutcome::RetryLater(_) | LaunchOutcome::Unknown(_)
        ) && self.breaker().success()
        {
            tracing::warn!(
                "the provider answers launches again: circuit closed, launching resumes"
            );
        }
        self.show_circuit();
        if !matches!(
            outcome,
            LaunchOutcome::Ringing(_) | LaunchOutcome::Unknown(_)
        ) {
            // Not placed: the attempt closes below.
            self.in_flight.settling(attempt_id);
        }
        let result = match &outcome {
            LaunchOutcome::Ringing(id) => {
                self.metrics.launched(&campaign.id);
                tracing::info!(campaign = %campaign.id, attempt = attempt_id, to = %mask(phone), call = %id, "call launched");
                let r = self.store.mark_launched(attempt_id, id, now).await;
                if r.is_ok() {
                    self.in_flight.update_facts(attempt_id, |f| {
                        f.provider_call_id.get_or_insert_with(|| id.clone());
                        if f.status == "launching" {
                            f.status = "ringing".into();
                        }
                    });
                }
                r
            }
            LaunchOutcome::Unauthorized | LaunchOutcome::WrongUrl => {
                let (halt, why) = if outcome == LaunchOutcome::WrongUrl {
                    (
                        Halt::WrongUrl,
                        "launching halted: the launch URL was not found (404)",
                    )
                } else {
                    (Halt::Unauthorized, "launching halted by the provider (401)")
                };
                self.set_halt(halt);
                let r = self
                    .store
                    .mark_not_placed(attempt_id, why, &NotPlaced::RetryAt(now), now)
                    .await;
                self.in_flight.release(attempt_id);
                r
            }
            LaunchOutcome::NoBalance => {
                // Persisted: every campaign stays paused until an operator resumes it.
                let reason = "the provider account has no balance (402): top up, then `pregonero resume CAMPAIGN`";
                if let Err(e) = self.store.pause_all(reason, now).await {
                    tracing::error!("cannot pause the campaigns: {e}");
                    self.set_halt(Halt::NoBalance);
                } else if !self
                    .no_balance_logged
                    .swap(true, std::sync::atomic::Ordering::SeqCst)
                {
                    tracing::error!("{reason}; every campaign is paused");
                }
                *self
                    .paused_changed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = true;
                let r = self
                    .store
                    .mark_not_placed(
                        attempt_id,
                        "no balance (402)",
                        &NotPlaced::RetryAt(now),
                        now,
                    )
                    .await;
                self.in_flight.release(attempt_id);
                r
            }
            LaunchOutcome::Rejected(why) => {
                tracing::warn!(campaign = %campaign.id, attempt = attempt_id, to = %mask(phone), "launch refused for good: {why}");
                let r = self
                    .store
                    .mark_not_placed(attempt_id, why, &NotPlaced::Failed, now)
                    .await;
                self.in_flight.release(attempt_id);
                r
            }
            LaunchOutcome::RetryLater(why) => {
                Metrics::inc(&self.metrics.launch_failures);
                let (wait, next) = self.transient_failure(probe);
                tracing::warn!(campaign = %campaign.id, attempt = attempt_id, "launch not placed ({why}); {next}");
                let at = now + wait.as_millis() as i64;
                let r = self
                    .store
                    .mark_not_placed(attempt_id, why, &NotPlaced::RetryAt(at), now)
                    .await;
                self.in_flight.release(attempt_id);
                r
            }
            LaunchOutcome::Unknown(why) => {
                // The call may be ringing: keep the attempt open and its slot taken until a
                // control request or a report line tells, or the grace period passes. A provider
                // that does not answer is also a reason to slow down.
                Metrics::inc(&self.metrics.launch_failures);
                let (_, next) = self.transient_failure(probe);
                tracing::warn!(campaign = %campaign.id, attempt = attempt_id, "launch result unknown ({why}); waiting for the provider to tell; {next}");
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::error!(attempt = attempt_id, "cannot record the launch result: {e}");
        }
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Copies the circuit's state and trips to `/metrics`.
    fn show_circuit(&self) {
        let (circuit, trips) = {
            let b = self.breaker();
            (b.circuit(), b.trips())
        };
        let code = match circuit {
            Circuit::Closed => 0,
            Circuit::Open => 1,
            Circuit::HalfOpen => 2,
        };
        let m = &self.metrics;
        m.circuit.store(code, std::sync::atomic::Ordering::Relaxed);
        m.circuit_trips
            .store(trips, std::sync::atomic::Ordering::Relaxed);
    }

    /// A transient launch failure: backoff with jitter, or the circuit opens. Returns how long
    /// launching waits and what happens next, for the log.
    fn transient_failure(&self, probe: bool) -> (Duration, String) {
        let jitter = rand::random::<f64>() * 0.5 + 0.75;
        let verdict = self
            .breaker()
            .failure(tokio::time::Instant::now(), probe, jitter);
        self.show_circuit();
        match verdict {
            Verdict::Backoff(wait) => (
                wait,
                format!("launching again in {:.1}s", wait.as_secs_f64()),
            ),
            Verdict::Opened(cool) => {
                tracing::error!(
                    "the provider keeps failing: circuit open, no launch for {:.1}s, then one probe",
                    cool.as_secs_f64()
                );
                (cool, format!("circuit open for {:.1}s", cool.as_secs_f64()))
            }
            Verdict::Ignored => (Duration::ZERO, "the circuit is already open".to_string()),
        }
    }

    /// Releases attempts nobody will ever settle: a launch whose reply was lost past the grace
    /// period, or a call with no end past the stale limit. Their contacts are retried.
    /// How to close an attempt nobody settled in time. A report line stored for it (a crash
    /// can fall between storing a line and closing its attempt), or a stored answer, says what
    /// happened: an answered call is never retried as if it had been lost. Only an attempt
    /// with neither is `lost` (and retried).
    async fn settle_from_what_is_known(&self, attempt_id: i64, now: i64) -> AttemptClose {
        let lost = AttemptClose {
            result: AttemptResult::Lost,
            duration_seconds: None,
            talk_seconds: None,
            ended_at: now,
        };
        let Ok(Some(info)) = self.store.attempt_info(attempt_id).await else {
            return lost;
        };
        let lines: Vec<_> = match self.store.report_lines_of(info.contact_id).await {
            Ok(l) => l
                .into_iter()
                .filter(|l| l.attempt_id == attempt_id)
                .collect(),
            Err(_) => Vec::new(),
        };
        let answered = info.answered || lines.iter().any(|l| l.status == "answer");
        let status = if answered {
            "answer"
        } else {
            lines.first().map(|l| l.status.as_str()).unwrap_or("")
        };
        match AttemptResult::from_provider(status, answered) {
            Some(result) => {
                let secs = lines.iter().map(|l| l.duration_seconds).max();
                AttemptClose {
                    result,
                    duration_seconds: secs,
                    talk_seconds: if answered { secs } else { Some(0) },
                    ended_at: now,
                }
            }
            None => lost,
        }
    }

    async fn reap(&self) {
        let read_at = self.clock.now_ms();
        let Ok(open) = self.store.open_attempts().await else {
            return;
        };
        // What this daemon remembers in flight is a cache of the store: a call ended through
        // another daemon frees its slot here too.
        let open_ids: std::collections::HashSet<i64> = open.iter().map(|a| a.attempt_id).collect();
        let freed = self.in_flight.keep_only(&open_ids, read_at);
        if freed > 0 {
            tracing::debug!("{freed} call(s) ended elsewhere: their slots are free");
        }
        if let Some(duties) = self.duties.get() {
            if !duties.holds(crate::cluster::REAPER).await {
                return;
            }
        }
        let now = self.clock.now_ms();
        let scale = self.settings.time_scale.max(1e-9);
        // Network and database latency are not compressed by the simulator: the scaled limits
        // never go below half a minute (or the configured value, if smaller).
        let limit = |d: Duration, floor: Duration| {
            let scaled = d.as_millis() as f64 / scale;
            scaled.max(d.min(floor).as_millis() as f64) as i64
        };
        let grace = limit(self.settings.unknown_grace, Duration::from_secs(30));
        let stale = limit(self.settings.stale_call, Duration::from_secs(120));
        // Ends the provider may never send (see `crate::provider`, "Assumptions"): after our
        // `hangup`, and for a call nobody answered within its ring time.
        let end_grace = limit(self.settings.end_grace, Duration::from_secs(2));
        for a in open {
            let ring_seconds = self
                .campaigns
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&a.campaign_id)
                .map(|c| c.ring_seconds);
            let (since, limit) = if a.status == "launching" {
                (a.created_at, grace)
            } else if let Some(at) = self.in_flight.hung_up_at(a.attempt_id) {
                (at, end_grace)
            } else if let Some(ring) = ring_seconds.filter(|_| self.in_flight.unheard(a.attempt_id))
            {
                let bound = Duration::from_secs(u64::from(ring)) + self.settings.end_grace;
                (a.created_at, limit(bound, Duration::from_secs(2)))
            } else {
                (a.created_at, stale)
            };
            // A launch request still on its way has a result coming: never reap it.
            if now - since < limit
                || self
                    .launching
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .contains(&a.attempt_id)
            {
                continue;
            }
            let Some(campaign) = self.campaigns.campaign(&a.campaign_id) else {
                continue;
            };
            let close = self.settle_from_what_is_known(a.attempt_id, now).await;
            self.in_flight.settling(a.attempt_id);
            match self
                .store
                .close_attempt(a.attempt_id, &close, &campaign.policy(scale))
                .await
            {
                Ok(Some(next)) if close.result == AttemptResult::Lost => {
                    tracing::warn!(attempt = a.attempt_id, campaign = %a.campaign_id, "no word from the provider about this call: closed as lost, contact {}", next.state);
                }
                Ok(Some(next)) => {
                    tracing::warn!(attempt = a.attempt_id, campaign = %a.campaign_id, result = close.result.as_str(), "call never ended in a control request: closed from what was stored (report line or answer), contact {}", next.state);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(attempt = a.attempt_id, "cannot close a lost attempt: {e}")
                }
            }
            self.in_flight.release(a.attempt_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(attempt_id: i64, status: &str) -> crate::store::AttemptInfo {
        crate::store::AttemptInfo {
            attempt_id,
            campaign_id: "c".into(),
            contact_id: 1,
            status: status.into(),
            phone: "+34600000001".into(),
            name: String::new(),
            vars: Default::default(),
            outcome: None,
            answered: false,
            provider_call_id: None,
        }
    }

    #[test]
    fn facts_are_kept_only_for_open_calls_in_flight_and_dropped_before_a_close() {
        let f = InFlight::default();
        // Not in flight: nothing kept.
        f.keep_facts(&facts(1, "ringing"));
        assert!(f.facts(1).is_none());
        f.add(1, "c", Some(0));
        f.keep_facts(&facts(1, "closed"));
        assert!(f.facts(1).is_none(), "a settled attempt is never kept");
        f.keep_facts(&facts(1, "launching"));
        f.update_facts(1, |i| i.answered = true);
        assert!(f.facts(1).is_some_and(|i| i.answered));
        // Closing: dropped first, and a read made meanwhile is not kept again.
        f.settling(1);
        assert!(f.facts(1).is_none());
        f.keep_facts(&facts(1, "ringing"));
        assert!(f.facts(1).is_none());
        f.release(1);
        assert!(f.is_empty());
    }

    #[test]
    fn a_claim_reaches_50_ms_ahead_within_the_free_slots() {
        // 50 launches a second: 2 per claim; a slow pace claims one at a time.
        assert_eq!(batch_size(50.0, 100), 2);
        assert_eq!(batch_size(1.0, 100), 1);
        assert_eq!(batch_size(0.0, 100), 1);
        assert_eq!(batch_size(f64::NAN, 100), 1);
        assert_eq!(batch_size(f64::INFINITY, 100), BATCH_MAX as u32);
        // Fast: capped, and never more than the free call slots.
        assert_eq!(batch_size(100_000.0, 1_000), BATCH_MAX as u32);
        assert_eq!(batch_size(100_000.0, 3), 3);
        assert_eq!(batch_size(100_000.0, 0), 1);
    }
}
