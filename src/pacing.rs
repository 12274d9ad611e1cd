//! How many agents a sales campaign has free, estimated from the calls the daemon bridged.
//!
//! The `agents` setting is the team's size, not how many are at their desks: some are on a
//! break, some take inbound calls the daemon never sees. So the daemon watches its own
//! transfers:
//!
//! - a call in the transfer step holds an agent (or waits for one) until the transfer's result
//!   or the end of the call;
//! - a transfer that no agent took (the `dial` rang out, the `queue` gave up) proves that no
//!   agent was free beyond the other transfers in progress: the estimate drops to that number
//!   (at least 1) at once;
//! - it climbs back one agent per recovery period without such a failure, up to `agents`;
//! - bridged durations (transfer to its end) and lead times (launch to transfer) are kept, so
//!   that predictive pacing can count the agents about to be free.
//!
//! Everything here is pure bookkeeping with the time passed in; the dialer and the webhook share
//! one book through [`crate::calls::InFlight`].

use std::collections::{HashMap, VecDeque};

/// Bridged durations and lead times kept per campaign.
const SAMPLES: usize = 64;

/// A transfer in progress: since when, and how long the agent may take to pick up.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Transfer {
    campaign_idx: usize,
    since_ms: i64,
    pickup_limit_ms: i64,
}

#[derive(Debug, Default)]
struct CampaignBook {
    id: String,
    /// Agents known to be present at most, after a transfer nobody took; `None`: no evidence.
    estimate: Option<usize>,
    changed_ms: i64,
    bridged_ms: VecDeque<i64>,
    lead_ms: VecDeque<i64>,
    bridged_total: u64,
    unanswered_total: u64,
}

fn push(q: &mut VecDeque<i64>, v: i64) {
    if q.len() == SAMPLES {
        q.pop_front();
    }
    q.push_back(v.max(0));
}

fn mean(q: &VecDeque<i64>) -> Option<i64> {
    (!q.is_empty()).then(|| q.iter().sum::<i64>() / q.len() as i64)
}

/// What the dialer needs to pace one sales campaign now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AgentView {
    /// Agents believed present: `agents`, or fewer after transfers that no agent took.
    pub agents: usize,
    /// Calls of the campaign in the transfer step (with an agent or waiting for one).
    pub in_transfer: usize,
    /// Of those, the ones whose bridge has lasted long enough that, on the campaign's averages,
    /// the agent will be free by the time a call launched now reaches the transfer.
    pub freeing_soon: usize,
    /// Average bridged duration and average launch-to-transfer time, once known.
    pub mean_bridged_ms: Option<i64>,
    pub mean_lead_ms: Option<i64>,
}

impl AgentView {
    /// Agents free now (never negative).
    pub fn free(&self) -> usize {
        self.agents.saturating_sub(self.in_transfer)
    }
}

/// The shared book of transfers and agent estimates.
#[derive(Debug, Default)]
pub struct AgentBook {
    campaigns: Vec<CampaignBook>,
    by_id: HashMap<String, usize>,
    transfers: HashMap<i64, Transfer>,
}

impl AgentBook {
    fn idx(&mut self, campaign: &str) -> usize {
        if let Some(i) = self.by_id.get(campaign) {
            return *i;
        }
        self.campaigns.push(CampaignBook {
            id: campaign.to_string(),
            ..CampaignBook::default()
        });
        let i = self.campaigns.len() - 1;
        self.by_id.insert(campaign.to_string(), i);
        i
    }

    fn in_transfer(&self, idx: usize, except: Option<i64>) -> usize {
        self.transfers
            .iter()
            .filter(|(a, t)| t.campaign_idx == idx && Some(**a) != except)
            .count()
    }

    /// The webhook handed `attempt`'s call to the agents at `now_ms`; it was launched at
    /// `launched_ms` and the agent has `pickup_limit_ms` to take it.
    pub fn transfer_started(
        &mut self,
        campaign: &str,
        attempt: i64,
        launched_ms: Option<i64>,
        now_ms: i64,
        pickup_limit_ms: i64,
    ) {
        let idx = self.idx(campaign);
        if let Some(l) = launched_ms {
            push(&mut self.campaigns[idx].lead_ms, now_ms - l);
        }
        self.transfers.insert(
            attempt,
            Transfer {
                campaign_idx: idx,
                since_ms: now_ms,
                pickup_limit_ms,
            },
        );
    }

    /// The transfer's result came back: `connected` when an agent took the call (the result of
    /// a bridged `dial` arrives when the bridge ends).
    pub fn transfer_result(&mut self, attempt: i64, connected: bool, now_ms: i64) {
        let Some(t) = self.transfers.remove(&attempt) else {
            return;
        };
        if connected {
            self.bridged(t, now_ms);
        } else {
            // Nobody took it: at most the agents busy with the other transfers are present.
            let others = self.in_transfer(t.campaign_idx, Some(attempt));
            let c = &mut self.campaigns[t.campaign_idx];
            c.unanswered_total += 1;
            let seen = others.max(1);
            c.estimate = Some(c.estimate.map_or(seen, |e| e.min(seen)));
            c.changed_ms = now_ms;
        }
    }

    /// The call ended (or was released). A call still in the transfer step past the pick-up
    /// limit was with an agent: its bridge counts. One that ended sooner left while waiting,
    /// which says nothing about the agents.
    pub fn call_ended(&mut self, attempt: i64, now_ms: Option<i64>) {
        let Some(t) = self.transfers.remove(&attempt) else {
            return;
        };
        if let Some(now) = now_ms {
            if now - t.since_ms > t.pickup_limit_ms {
                self.bridged(t, now);
            }
        }
    }

    fn bridged(&mut self, t: Transfer, now_ms: i64) {
        let c = &mut self.campaigns[t.campaign_idx];
        c.bridged_total += 1;
        push(&mut c.bridged_ms, now_ms - t.since_ms);
    }

    /// The campaign's agents now, with `configured` from its settings. An estimate below it
    /// climbs back by one per `recover_ms` without a transfer that nobody took.
    pub fn view(
        &mut self,
        campaign: &str,
        configured: usize,
        now_ms: i64,
        recover_ms: i64,
    ) -> AgentView {
        let configured = configured.max(1);
        let idx = self.idx(campaign);
        let in_transfer = self.in_transfer(idx, None);
        let c = &mut self.campaigns[idx];
        if let Some(e) = c.estimate {
            let steps = if recover_ms > 0 {
                (now_ms - c.changed_ms) / recover_ms
            } else {
                i64::MAX
            };
            if steps > 0 {
                let e = e.saturating_add(steps.min(configured as i64) as usize);
                c.changed_ms += steps.saturating_mul(recover_ms.max(0));
                c.estimate = (e < configured).then_some(e);
            }
        }
        let agents = c.estimate.map_or(configured, |e| e.min(configured));
        let mean_bridged_ms = mean(&c.bridged_ms);
        let mean_lead_ms = mean(&c.lead_ms);
        let freeing_soon = match (mean_bridged_ms, mean_lead_ms) {
            (Some(b), Some(l)) => self
                .transfers
                .values()
                .filter(|t| t.campaign_idx == idx && now_ms - t.since_ms + l >= b)
                .count(),
            _ => 0,
        };
        AgentView {
            agents,
            in_transfer,
            freeing_soon,
            mean_bridged_ms,
            mean_lead_ms,
        }
    }

    /// Per campaign: (id, estimate if below the settings, transfers in progress, bridged and
    /// unanswered transfers so far, mean bridged ms), for `/metrics`.
    pub fn snapshot(&self) -> Vec<AgentSnapshot> {
        self.campaigns
            .iter()
            .enumerate()
            .map(|(i, c)| AgentSnapshot {
                campaign: c.id.clone(),
                estimate: c.estimate,
                in_transfer: self.in_transfer(i, None),
                bridged_total: c.bridged_total,
                unanswered_total: c.unanswered_total,
                mean_bridged_ms: mean(&c.bridged_ms),
            })
            .collect()
    }
}

/// One campaign's line of [`AgentBook::snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSnapshot {
    pub campaign: String,
    pub estimate: Option<usize>,
    pub in_transfer: usize,
    pub bridged_total: u64,
    pub unanswered_total: u64,
    pub mean_bridged_ms: Option<i64>,
}

/// Calls a sales campaign may have in progress (ringing, hearing the message, waiting for an
/// agent or talking to one).
///
/// Progressive (the default, and whenever the rolling abandon rate is unknown or not under
/// `max_rate`): calls not yet with an agent never outnumber the agents free, so the cap is the
/// agents present, `view.agents`. Predictive (`ratio` > 1 and the rate under `max_rate`): the
/// calls in transfer, plus `ratio` × the agents free now or about to be free.
pub fn sales_cap(view: &AgentView, ratio: f64, max_rate: f64, rolling: Option<f64>) -> usize {
    let agents = view.agents.max(1);
    match rolling {
        Some(rate) if ratio > 1.0 && rate < max_rate => {
            let free = view.free() + view.freeing_soon.min(view.in_transfer);
            let predictive = view.in_transfer + (free as f64 * ratio).floor() as usize;
            predictive.max(agents)
        }
        _ => agents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn view(agents: usize, in_transfer: usize, freeing_soon: usize) -> AgentView {
        AgentView {
            agents,
            in_transfer,
            freeing_soon,
            ..AgentView::default()
        }
    }

    #[test]
    fn progressive_unless_the_abandon_rate_allows_more() {
        // Progressive by default: one call per agent present, whatever the rate.
        assert_eq!(sales_cap(&view(3, 0, 0), 1.0, 0.03, None), 3);
        assert_eq!(sales_cap(&view(3, 2, 2), 1.0, 0.03, Some(0.0)), 3);
        // Predictive only with a known rate under the maximum.
        assert_eq!(sales_cap(&view(4, 0, 0), 1.5, 0.03, Some(0.01)), 6);
        assert_eq!(sales_cap(&view(4, 0, 0), 1.5, 0.03, None), 4);
        assert_eq!(sales_cap(&view(4, 0, 0), 1.5, 0.03, Some(0.03)), 4);
        assert_eq!(sales_cap(&view(4, 0, 0), 1.5, 0.03, Some(0.2)), 4);
        // Never fewer than one call per agent, and at least one call.
        assert_eq!(sales_cap(&view(1, 0, 0), 1.2, 0.03, Some(0.0)), 1);
        assert_eq!(sales_cap(&view(0, 0, 0), 1.0, 0.03, None), 1);
    }

    #[test]
    fn predictive_counts_agents_about_to_be_free() {
        // 4 agents, all 4 talking, 2 of them near their average: 4 + 2 × 1.5 = 7.
        assert_eq!(sales_cap(&view(4, 4, 2), 1.5, 0.03, Some(0.01)), 7);
        // Nobody near the end: no room beyond the agents.
        assert_eq!(sales_cap(&view(4, 4, 0), 1.5, 0.03, Some(0.01)), 4);
        // Progressive ignores the ones about to be free.
        assert_eq!(sales_cap(&view(4, 4, 2), 1.0, 0.03, Some(0.01)), 4);
    }

    #[test]
    fn a_transfer_nobody_took_lowers_the_estimate_which_recovers_slowly() {
        let mut b = AgentBook::default();
        let t0 = 1_000_000;
        // Configured 4; two callers with agents, a third transfer rings out.
        for a in 1..=3 {
            b.transfer_started("v", a, Some(t0 - 5_000), t0, 4_000);
        }
        assert_eq!(b.view("v", 4, t0, 10 * MIN).agents, 4);
        assert_eq!(b.view("v", 4, t0, 10 * MIN).in_transfer, 3);
        b.transfer_result(3, false, t0 + 4_000);
        let v = b.view("v", 4, t0 + 4_000, 10 * MIN);
        assert_eq!((v.agents, v.in_transfer, v.free()), (2, 2, 0));
        // A later failure with one other transfer lowers it again; never below one.
        b.transfer_started("v", 4, None, t0 + 5_000, 4_000);
        b.transfer_result(1, true, t0 + 6_000);
        b.transfer_result(2, true, t0 + 6_000);
        b.transfer_result(4, false, t0 + 9_000);
        assert_eq!(b.view("v", 4, t0 + 9_000, 10 * MIN).agents, 1);
        // One agent back per ten quiet minutes, up to the settings.
        assert_eq!(
            b.view("v", 4, t0 + 9_000 + 10 * MIN - 1, 10 * MIN).agents,
            1
        );
        assert_eq!(b.view("v", 4, t0 + 9_000 + 10 * MIN, 10 * MIN).agents, 2);
        assert_eq!(
            b.view("v", 4, t0 + 9_000 + 20 * MIN - 1, 10 * MIN).agents,
            2
        );
        assert_eq!(b.view("v", 4, t0 + 9_000 + 20 * MIN, 10 * MIN).agents, 3);
        assert_eq!(b.view("v", 4, t0 + 9_000 + 90 * MIN, 10 * MIN).agents, 4);
        assert_eq!(b.snapshot()[0].estimate, None);
        // Other campaigns are not affected, and a larger setting is a ceiling only.
        assert_eq!(b.view("w", 3, t0, 10 * MIN).agents, 3);
    }

    #[test]
    fn bridged_durations_tell_which_agents_are_about_to_be_free() {
        let mut b = AgentBook::default();
        let t0 = 0;
        // Two past bridges of 60 s, reached 10 s after launch.
        for a in 1..=2 {
            b.transfer_started("v", a, Some(t0), t0 + 10_000, 4_000);
            b.transfer_result(a, true, t0 + 70_000);
        }
        // Now two bridges in progress: one for 55 s, one for 20 s.
        let now = 200_000;
        b.transfer_started("v", 3, Some(now - 65_000), now - 55_000, 4_000);
        b.transfer_started("v", 4, Some(now - 30_000), now - 20_000, 4_000);
        let v = b.view("v", 2, now, 10 * MIN);
        assert_eq!(v.mean_bridged_ms, Some(60_000));
        assert_eq!(v.mean_lead_ms, Some(10_000));
        // 55 s + 10 s lead ≥ 60 s: that agent will be free when a new call gets through.
        assert_eq!((v.in_transfer, v.freeing_soon, v.free()), (2, 1, 0));
        let snap = &b.snapshot()[0];
        assert_eq!((snap.bridged_total, snap.in_transfer), (2, 2));
    }

    #[test]
    fn a_call_that_ends_in_transfer_counts_as_bridged_only_past_the_pickup_limit() {
        let mut b = AgentBook::default();
        b.transfer_started("v", 1, None, 0, 4_000);
        b.transfer_started("v", 2, None, 0, 4_000);
        // Hung up while waiting: no evidence either way.
        b.call_ended(1, Some(2_000));
        // Hung up 30 s into the transfer: an agent had it.
        b.call_ended(2, Some(30_000));
        let v = b.view("v", 3, 30_000, 10 * MIN);
        assert_eq!(
            (v.agents, v.in_transfer, v.mean_bridged_ms),
            (3, 0, Some(30_000))
        );
        // Released without a time (the dialer's reaper): forgotten.
        b.transfer_started("v", 3, None, 0, 4_000);
        b.call_ended(3, None);
        assert_eq!(b.view("v", 3, 30_000, 10 * MIN).in_transfer, 0);
        assert_eq!(b.snapshot()[0].bridged_total, 1);
    }
}
