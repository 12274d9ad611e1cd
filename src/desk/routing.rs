//! Routing a transfer to a desk agent, from the webhook's control requests.
//!
//! A campaign's transfer to `desk:TEAM` leaves the call flow as `dial extension,desk,<ring>`;
//! `after_step` gives it to the ready agent of the team idle longest (`Store::assign_agent`,
//! atomic) and puts their extension in its place, and the agent's page gets the screen pop.
//! The first agent rings for half the wait; an agent who does not pick up is paused ("no
//! answer") and the next ready agent is rung for what is left of the wait (`agent_ring_seconds` for sales, `ring_seconds` otherwise); with
//! none, the transfer ends as failed — the abandon path of a transfer nobody took.

use std::collections::BTreeMap;
use std::sync::Arc;
use tracing::Instrument;

use serde_json::json;

use crate::calls::ActiveCampaign;
use crate::campaign::{Campaign, FlowSettings, TransferTarget};
use crate::flow::{self, ControlRequest, Step};
use crate::store::{AttemptInfo, StoreError};

use super::hub::Desk;

/// The campaign's desk team and its wait for an agent, seconds, when it transfers to a desk.
pub fn desk_target(c: &Campaign) -> Option<(&str, u32)> {
    let (target, window) = match &c.flow {
        FlowSettings::Sales(s) => (Some(&s.target), s.agent_ring_seconds),
        FlowSettings::Promotion(p) => (Some(&p.agent), c.ring_seconds),
        FlowSettings::Reminder(r) => (r.agent.as_ref(), c.ring_seconds),
        _ => (None, 0),
    };
    match target {
        Some(TransferTarget::Desk(team)) => Some((team.as_str(), window)),
        _ => None,
    }
}

/// Routes the step's desk transfer, or reacts to a desk transfer's result (see the module).
pub async fn after_step(
    desk: &Arc<Desk>,
    c: &Arc<ActiveCampaign>,
    info: &AttemptInfo,
    req: &ControlRequest,
    step: &mut Step,
    now: i64,
) -> Result<(), StoreError> {
    let Some((team, window)) = desk_target(c) else {
        return Ok(());
    };
    if let Some(connected) = step.transfer_result {
        if connected {
            if let Some(agent) = desk.store.agent_answered(info.attempt_id, now).await? {
                desk.state_changed(&agent).await;
            }
            return Ok(());
        }
        let Some(missed) = desk.store.agent_no_answer(info.attempt_id, now).await? else {
            return Ok(());
        };
        tracing::info!(attempt = info.attempt_id, agent = %missed, "the agent did not pick up: paused (no answer)");
        desk.state_changed(&missed).await;
        let first = desk
            .store
            .first_offer(info.attempt_id)
            .await?
            .unwrap_or(now);
        let left_ms = desk.scaled_ms(window as f64) - (now - first);
        if left_ms < desk.scaled_ms(1.0) {
            return Ok(());
        }
        let ring = ((left_ms as f64 * desk.time_scale / 1000.0).floor() as u32).max(1);
        if let Some(agent) = desk
            .store
            .assign_agent(team, info.attempt_id, &c.id, None, now)
            .await?
        {
            // The same transfer step again, to the next agent.
            *step = Step {
                command: flow::Command {
                    command: "dial".into(),
                    options: format!("extension,{},{ring}", agent.extension),
                    userfield: req.get("userfield").to_string(),
                },
                ..Step::default()
            };
            offered(desk, c, info, &agent.name).await;
        }
        return Ok(());
    }
    if !matches!(step.transfer, Some(TransferTarget::Desk(_))) {
        return Ok(());
    }
    // The first agent rings for half the wait, so that another one can still be rung in time.
    let ring = step
        .command
        .options
        .rsplit(',')
        .next()
        .and_then(|r| r.parse::<u32>().ok())
        .unwrap_or(window)
        .min(window.div_ceil(2))
        .max(1);
    let preferred = desk.store.callback_agent(info.attempt_id).await?;
    match desk
        .store
        .assign_agent(team, info.attempt_id, &c.id, preferred.as_deref(), now)
        .await?
    {
        Some(agent) => {
            step.command.options = format!("extension,{},{ring}", agent.extension);
            offered(desk, c, info, &agent.name).await;
        }
        None => {
            tracing::info!(
                attempt = info.attempt_id,
                team,
                "no ready agent of the desk team: the transfer fails"
            );
            // The flow's own answer to a transfer nobody took (sales: `abandoned`).
            let mut fields = BTreeMap::new();
            fields.insert("command".to_string(), "dial".to_string());
            fields.insert("description".to_string(), "NOANSWER".to_string());
            fields.insert("userfield".to_string(), step.command.userfield.clone());
            let failed =
                flow::next_step(c, info.attempt_id, &info.vars, &ControlRequest { fields });
            step.command = failed.command;
            step.outcome = failed.outcome.or(step.outcome.take());
            step.transfer = None;
            step.transfer_result = Some(false);
        }
    }
    Ok(())
}

/// The call is over: its agent goes to wrap-up for the campaign's `wrapup_seconds`.
pub async fn call_ended(desk: &Arc<Desk>, c: &Campaign, attempt_id: i64, now: i64) {
    if desk_target(c).is_none() {
        return;
    }
    let wrapup = desk.scaled_ms(c.desk.wrapup_seconds as f64);
    match desk.store.agent_call_ended(attempt_id, wrapup, now).await {
        Ok(Some(agent)) => {
            desk.state_changed(&agent).await;
            if wrapup == 0 {
                let _ = desk.store.settle_agents(now, i64::MIN).await;
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!(attempt = attempt_id, "cannot end the agent's call: {e}"),
    }
}

/// The agent was given the call: their state, then the screen pop (built off the reply's path).
async fn offered(desk: &Arc<Desk>, c: &Arc<ActiveCampaign>, info: &AttemptInfo, agent: &str) {
    tracing::info!(attempt = info.attempt_id, agent, to = %crate::campaign::phone::mask(&info.phone), "transfer to the desk agent");
    let desk2 = desk.clone();
    let c = c.clone();
    let info = info.clone();
    let agent = agent.to_string();
    tokio::spawn(
        async move {
            // The pop first: it is what the agent needs before the callee speaks.
            let pop = screen_pop(&desk2, &c, &info).await;
            desk2.send(&agent, pop).await;
            desk2.state_changed(&agent).await;
        }
        .in_current_span(),
    );
}

/// What the agent sees: the contact, every column, earlier calls, survey answers, what the
/// callee said to the capture steps, the script.
pub async fn screen_pop(desk: &Desk, c: &Campaign, info: &AttemptInfo) -> serde_json::Value {
    let attempts = desk
        .store
        .attempts_of(info.contact_id)
        .await
        .unwrap_or_default();
    let earlier: Vec<_> = attempts
        .iter()
        .filter(|a| a.attempt_id != info.attempt_id)
        .map(|a| {
            json!({"number": a.number, "at": a.created_at, "result": a.result,
                "outcome": a.outcome, "talk_seconds": a.talk_seconds})
        })
        .collect();
    let answers: Vec<_> = desk
        .store
        .answers_of_contact(info.contact_id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(q, a)| json!({"question": q, "answer": a}))
        .collect();
    // What the callee said to the capture steps, by field (usable transcripts only).
    let said: BTreeMap<String, String> = desk
        .store
        .captures_of_contact(info.contact_id)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.status == "ok")
        .map(|c| (c.field, c.text))
        .collect();
    json!({
        "type": "pop",
        "call": info.attempt_id,
        "campaign": c.id,
        "title": c.title,
        "contact": {"name": info.name, "phone": info.phone, "vars": info.vars},
        "attempts": earlier,
        "answers": answers,
        "transcripts": said,
        "script": c.desk.render_script(&info.vars, &info.name),
        "dispositions": c.desk.dispositions,
        "wrapup_seconds": c.desk.wrapup_seconds,
    })
}
