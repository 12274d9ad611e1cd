//! The agent desk: pregonero as the dispatcher of its transfers. Agents and teams live in the
//! database (`pregonero agent …`); a campaign whose transfer target is `desk:TEAM` hands each
//! callee to the ready agent of that team idle longest (`routing`), whose desk page (`web`)
//! shows the contact the moment the transfer command leaves, then takes a disposition.

pub mod bus;
pub mod callbacks;
pub mod cli;
pub mod hub;
pub mod pacing;
pub mod password;
pub mod routing;
/// A campaign's `[desk]` settings live with the campaign's other settings.
pub use crate::campaign::desk as settings;
pub mod sim;
pub mod web;

/// `1h 02m`, `3m 05s`, `42s`.
pub fn duration(secs: i64) -> String {
    let secs = secs.max(0);
    if secs >= 3600 {
        format!("{}h {:02}m", secs / 3600, secs % 3600 / 60)
    } else if secs >= 60 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// The agents for the operators' dashboard: name, team, extension, state, reason, seconds in
/// the state.
pub async fn agents_json(
    store: &crate::store::Store,
    now: i64,
) -> Result<serde_json::Value, crate::store::StoreError> {
    let agents: Vec<serde_json::Value> = store
        .agents()
        .await?
        .into_iter()
        .map(|a| {
            serde_json::json!({
                "name": a.name, "team": a.team, "extension": a.extension, "state": a.state,
                "reason": a.reason, "seconds_in_state": (now - a.state_since).max(0) / 1000,
                "call": a.attempt_id,
            })
        })
        .collect();
    Ok(serde_json::json!({ "agents": agents }))
}
