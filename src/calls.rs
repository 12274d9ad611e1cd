//! The facts of calls in flight, shared by the dialer (which launches), the webhook (which
//! answers the control URL and closes attempts), the desk and the reports: the campaigns the
//! daemon knows ([`Campaigns`]) and the attempts launched and not yet ended ([`InFlight`]).
//! Nothing here launches, answers or stores; it is the state those parts agree on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::campaign::plan::CampaignPlan;
use crate::campaign::Campaign;
use crate::config::Config;
use crate::pacing::{AgentBook, AgentView};

/// After a transfer that no agent took, the estimate of agents present climbs back by one per
/// this much time without another (divided by the simulator's speed).
pub const AGENT_RECOVERY_MS: i64 = 10 * 60_000;
/// The rolling window of the abandon rate that gates predictive dialing: 30 days.
pub const ABANDON_WINDOW_MS: i64 = 30 * 86_400_000;

/// A loaded campaign with its schedule made concrete.
#[derive(Debug)]
pub struct ActiveCampaign {
    pub def: Campaign,
    pub plan: CampaignPlan,
}

impl std::ops::Deref for ActiveCampaign {
    type Target = Campaign;
    fn deref(&self) -> &Campaign {
        &self.def
    }
}

impl ActiveCampaign {
    /// The retry policy, waits divided by `time_scale`, bounded by the campaign's end.
    pub fn policy(&self, time_scale: f64) -> crate::schedule::RetryPolicy {
        let mut p = self.def.retry_policy(time_scale);
        p.end_at = self.plan.end.map(|e| e.timestamp_millis());
        p
    }
}

/// A claim under way (see [`InFlight::claiming`]).
pub struct ClaimUnderWay<'a>(&'a InFlight);

impl Drop for ClaimUnderWay<'_> {
    fn drop(&mut self) {
        self.0
            .claiming
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The campaigns the daemon knows, by id.
pub type Campaigns = Arc<std::sync::RwLock<HashMap<String, Arc<ActiveCampaign>>>>;

/// Reading the registry of loaded campaigns.
pub trait Registry {
    /// The loaded campaign of this id, if any.
    fn campaign(&self, id: &str) -> Option<Arc<ActiveCampaign>>;
}

impl Registry for Campaigns {
    fn campaign(&self, id: &str) -> Option<Arc<ActiveCampaign>> {
        self.read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }
}

/// Attempts launched and not yet ended, by attempt id → campaign id. Shared with the webhook,
/// which releases an attempt when its call ends.
#[derive(Debug, Default)]
pub struct InFlight {
    attempts: Mutex<HashMap<i64, Slot>>,
    /// Several daemons share the database: another daemon may write what this one would
    /// remember of a call, so no facts are kept and every control request reads the store.
    shared: std::sync::atomic::AtomicBool,
    /// Claims under way: their contacts have left the due list but are not in flight yet.
    claiming: std::sync::atomic::AtomicUsize,
    /// Sales transfers and the agents estimated from them (see [`crate::pacing`]).
    agents: Mutex<AgentBook>,
    changed: Notify,
}

#[derive(Debug)]
struct Slot {
    campaign: String,
    /// When the launch was claimed, if this process claimed it.
    launched_ms: Option<i64>,
    /// What the store says of the attempt, kept while the call is open so that a control
    /// request needs no read (see [`InFlight::facts`]).
    facts: Option<Arc<crate::store::AttemptInfo>>,
    /// A close of the attempt has begun: its facts are no longer kept.
    settling: bool,
    /// A control request came for this call: it was answered.
    heard: bool,
    /// When we replied `hangup`: the call is over for us and its slot free, though the
    /// attempt stays open for the provider's end request or report line (see
    /// [`crate::provider`], "Assumptions").
    hung_up_ms: Option<i64>,
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Slot>> {
        self.attempts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn book(&self) -> std::sync::MutexGuard<'_, AgentBook> {
        self.agents.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for this attempt, claimed at `launched_ms` (`None` for calls left open by an
    /// earlier run).
    pub fn add(&self, attempt_id: i64, campaign: &str, launched_ms: Option<i64>) {
        self.lock().insert(
            attempt_id,
            Slot {
                campaign: campaign.to_string(),
                launched_ms,
                facts: None,
                settling: false,
                heard: false,
                hung_up_ms: None,
            },
        );
    }

    /// The stored facts of an open attempt in flight, as last read or written by this process.
    /// `None` when not kept (not in flight, never read, or being closed): read the store.
    pub fn facts(&self, attempt_id: i64) -> Option<Arc<crate::store::AttemptInfo>> {
        self.lock().get(&attempt_id).and_then(|s| s.facts.clone())
    }

    /// Whether nothing is in flight and no claim is under way. Read after the store said that
    /// nothing is due: a claim that took contacts before that read is counted here, either as
    /// under way or in flight (see [`InFlight::claiming`]).
    pub fn is_idle(&self) -> bool {
        self.claiming.load(std::sync::atomic::Ordering::SeqCst) == 0 && self.all_closed()
    }

    /// Marks a claim under way until the guard is dropped (after its claims are added).
    pub fn claiming(&self) -> ClaimUnderWay<'_> {
        self.claiming
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        ClaimUnderWay(self)
    }

    /// The daemons sharing the database answer each other's calls: keep no facts.
    pub fn set_shared(&self, shared: bool) {
        self.shared
            .store(shared, std::sync::atomic::Ordering::Relaxed);
    }

    /// Keeps the facts just read of an open attempt in flight (not once a close has begun).
    pub fn keep_facts(&self, info: &crate::store::AttemptInfo) {
        if !matches!(info.status.as_str(), "launching" | "ringing")
            || self.shared.load(std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        if let Some(slot) = self.lock().get_mut(&info.attempt_id) {
            if !slot.settling {
                slot.facts = Some(Arc::new(info.clone()));
            }
        }
    }

    /// Applies a write this process made to the kept facts, if any are kept.
    pub fn update_facts(
        &self,
        attempt_id: i64,
        change: impl FnOnce(&mut crate::store::AttemptInfo),
    ) {
        if let Some(slot) = self.lock().get_mut(&attempt_id) {
            if let Some(facts) = slot.facts.as_mut() {
                change(Arc::make_mut(facts));
            }
        }
    }

    /// A control request came for this call (it was answered); `change` applies what this
    /// process wrote of it to the kept facts, if any are kept.
    pub fn heard_from(&self, attempt_id: i64, change: impl FnOnce(&mut crate::store::AttemptInfo)) {
        if let Some(slot) = self.lock().get_mut(&attempt_id) {
            slot.heard = true;
            if let Some(facts) = slot.facts.as_mut() {
                change(Arc::make_mut(facts));
            }
        }
    }

    /// We replied `hangup` to this call at `now_ms`: the call is over for us, so its slot no
    /// longer counts against the limits, whether or not the provider ever sends its end.
    pub fn hung_up(&self, attempt_id: i64, now_ms: i64) {
        let freed = match self.lock().get_mut(&attempt_id) {
            Some(slot) if slot.hung_up_ms.is_none() => {
                slot.hung_up_ms = Some(now_ms);
                true
            }
            _ => false,
        };
        if freed {
            self.changed.notify_waiters();
        }
    }

    /// When we replied `hangup` to this call, if we did and it is not closed yet.
    pub fn hung_up_at(&self, attempt_id: i64) -> Option<i64> {
        self.lock().get(&attempt_id).and_then(|s| s.hung_up_ms)
    }

    /// Whether this process launched the call and no control request came for it yet.
    pub fn unheard(&self, attempt_id: i64) -> bool {
        self.lock()
            .get(&attempt_id)
            .is_some_and(|s| s.launched_ms.is_some() && !s.heard && s.hung_up_ms.is_none())
    }

    /// A close of this attempt is about to be written: its facts are dropped first and not kept
    /// again, so no request answered from memory can find it open once it is closed.
    pub fn settling(&self, attempt_id: i64) {
        if let Some(slot) = self.lock().get_mut(&attempt_id) {
            slot.settling = true;
            slot.facts = None;
        }
    }

    /// The call of this attempt is over: its slot is free again. With `now_ms`, a transfer
    /// still in progress is judged by how long it lasted (see [`AgentBook::call_ended`]).
    pub fn release_at(&self, attempt_id: i64, now_ms: Option<i64>) {
        self.book().call_ended(attempt_id, now_ms);
        if self.lock().remove(&attempt_id).is_some() {
            self.changed.notify_waiters();
        }
    }

    /// The call of this attempt is over (or never started): its slot is free again.
    pub fn release(&self, attempt_id: i64) {
        self.release_at(attempt_id, None);
    }

    /// Frees the slots of attempts the store no longer has open (`open`, read from `read_at`):
    /// closed by another daemon sharing the database (whose webhook got the call's end), or by
    /// this one meanwhile. A slot claimed at or after `read_at` may be newer than the read and
    /// is kept. Returns how many were freed.
    pub fn keep_only(&self, open: &std::collections::HashSet<i64>, read_at: i64) -> usize {
        let gone: Vec<i64> = self
            .lock()
            .iter()
            .filter(|(id, slot)| {
                !open.contains(id) && slot.launched_ms.is_none_or(|at| at < read_at)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in &gone {
            self.release(*id);
        }
        gone.len()
    }

    /// The call was handed to the agents at `now_ms`; an agent has `pickup_limit_ms` to take it.
    pub fn transfer_started(&self, attempt_id: i64, now_ms: i64, pickup_limit_ms: i64) {
        let slot = self
            .lock()
            .get(&attempt_id)
            .map(|s| (s.campaign.clone(), s.launched_ms));
        if let Some((campaign, launched)) = slot {
            self.book()
                .transfer_started(&campaign, attempt_id, launched, now_ms, pickup_limit_ms);
        }
    }

    /// The transfer's result: `connected` when an agent took the call.
    pub fn transfer_result(&self, attempt_id: i64, connected: bool, now_ms: i64) {
        self.book().transfer_result(attempt_id, connected, now_ms);
        // A lower estimate or a free agent: the dialer may re-plan.
        self.changed.notify_waiters();
    }

    /// A sales campaign's agents now (see [`AgentBook::view`]).
    pub fn agents(
        &self,
        campaign: &str,
        configured: usize,
        now_ms: i64,
        recover_ms: i64,
    ) -> AgentView {
        self.book().view(campaign, configured, now_ms, recover_ms)
    }

    /// Every sales campaign's transfers and estimate, for `/metrics`.
    pub fn agents_snapshot(&self) -> Vec<crate::pacing::AgentSnapshot> {
        self.book().snapshot()
    }

    /// Calls holding a slot: launched, not ended, not hung up by us.
    pub fn len(&self) -> usize {
        self.lock()
            .values()
            .filter(|s| s.hung_up_ms.is_none())
            .count()
    }

    /// No call holds a slot.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// No call of this process is open: none holds a slot, and none we hung up on waits for
    /// its close.
    pub fn all_closed(&self) -> bool {
        self.lock().is_empty()
    }

    pub fn count(&self, campaign: &str) -> usize {
        self.lock()
            .values()
            .filter(|s| s.campaign == campaign && s.hung_up_ms.is_none())
            .count()
    }

    /// Waits until the set changes (or the timeout passes).
    pub async fn changed(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.changed.notified()).await;
    }
}

/// Loads every campaign folder and builds its schedule; broken ones come back as error messages
/// that name the file.
pub fn load_campaigns(
    config: &Config,
    now: DateTime<Utc>,
) -> (Vec<ActiveCampaign>, Vec<crate::i18n::Msg>) {
    use crate::i18n::Msg;
    let dir = &config.campaigns.dir;
    if !dir.exists() {
        return (
            Vec::new(),
            vec![Msg::new("error.no_campaigns_dir").arg("dir", dir.display())],
        );
    }
    match crate::campaign::load_all(dir) {
        Ok(list) => {
            let mut good = Vec::new();
            let mut bad = Vec::new();
            for c in list {
                match c {
                    Ok(def) => match CampaignPlan::build(&def, &config.calling, now) {
                        Ok(plan) => good.push(ActiveCampaign { def, plan }),
                        Err(e) => bad.push(
                            Msg::new("error.campaign_invalid")
                                .arg("file", def.dir.join("campaign.toml").display())
                                .msg("error", e),
                        ),
                    },
                    Err(e) => bad.push(e.msg()),
                }
            }
            (good, bad)
        }
        Err(e) => (Vec::new(), vec![e.msg()]),
    }
}
