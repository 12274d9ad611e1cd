//! Pacing of a desk campaign from real presence: the agents of its team ready now, plus those
//! whose wrap-up ends within the mean time from launch to the transfer (a call launched now
//! reaches them free). It replaces the estimate of `crate::pacing` (which stays for `queue:`
//! and `extension:` targets, where the PBX chooses); `sales_cap` and the 30-day abandon budget
//! apply unchanged.

use crate::pacing::{sales_cap, AgentView};
use crate::store::Store;

/// Lead time assumed before the campaign has one measured, milliseconds.
pub const DEFAULT_LEAD_MS: i64 = 10_000;

/// The campaign's view with `agents` from the store: the calls already in the transfer step
/// plus the agents ready now or about to be.
pub async fn desk_view(
    store: &Store,
    team: &str,
    book: AgentView,
    now: i64,
    lead_ms: i64,
) -> AgentView {
    let within = book.mean_lead_ms.unwrap_or(lead_ms);
    let (ready, soon) = match store.desk_presence(team, now, within).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(team, "cannot read the desk agents' presence: {e}");
            (0, 0)
        }
    };
    AgentView {
        agents: book.in_transfer + ready as usize + soon as usize,
        ..book
    }
}

/// Calls the desk campaign may have in progress: none while nobody of the team is present
/// and no call is with an agent, else `sales_cap` on the real presence.
pub fn desk_cap(view: &AgentView, ratio: f64, max_rate: f64, rolling: Option<f64>) -> usize {
    if view.agents == 0 {
        return 0;
    }
    sales_cap(view, ratio, max_rate, rolling)
}
