//! The outbound call's control requests: which attempt a request is about (or why it is not
//! ours), what the end request closes, and the flow's next step, with what must be stored
//! before the reply leaves.

use std::sync::Arc;

use secrecy::ExposeSecret;
use serde_json::json;
use tracing::Instrument;

use super::{CallService, Reply};
use crate::calls::{ActiveCampaign, Registry as _};
use crate::flow::{self, Command, ControlRequest, RequestKind};
use crate::schedule::AttemptResult;
use crate::store::{AttemptClose, AttemptInfo, CallEvent, DncEntry, Progress, StoreError};

pub(crate) async fn answer(st: &CallService, req: &ControlRequest) -> Result<Reply, StoreError> {
    // No `api` and no command context: answered `{}` (a `hangup` could cut a transfer while it
    // rings), nothing stored.
    if req.is_bare() {
        tracing::info!(call = %req.get("ID"), "control request without api or command: answered {{}}, nothing changed");
        return Ok(Reply::Nothing);
    }
    let now = st.clock.now_ms();
    let (info, event) = match identify(st, req, now).await? {
        Ok(found) => found,
        Err(reply) => return Ok(reply),
    };
    let campaign = st.campaigns.campaign(&info.campaign_id);
    let about = About {
        req,
        info: &info,
        event: &event,
        campaign: campaign.as_ref(),
        now,
    };
    if req.kind() == RequestKind::End {
        return call_ended(st, about).await;
    }
    next_step(st, about).await
}

/// The attempt a control request is about, and the event that records it; or the reply to a
/// request that is not ours (another API instance, another call's id, a call we did not
/// launch: that one's event is stored).
async fn identify(
    st: &CallService,
    req: &ControlRequest,
    now: i64,
) -> Result<Result<(Arc<AttemptInfo>, CallEvent), Reply>, StoreError> {
    let kind = req.kind();
    // The attempt comes from `userdata`; fall back to the call id for requests that lost it.
    let attempt_id = match req.attempt_id() {
        Some(id) => Some(id),
        None => match req.call_id() {
            Some(cid) => st.store.attempt_by_call_id(&cid).await?,
            None => None,
        },
    };
    // Our instance only: a request naming another one (or none) was not meant for us.
    let api = req.get("api").trim();
    if !api.eq_ignore_ascii_case(st.api.trim()) {
        tracing::warn!(call = %req.get("ID"), "control request for another API instance refused");
        return Ok(Err(Reply::Refused("foreign-api")));
    }
    // A call in flight is answered from the facts kept in memory (see `InFlight::facts`):
    // this process wrote every change to them, and a close drops them before it is written.
    let info = match attempt_id {
        Some(id) => match st.in_flight.facts(id) {
            Some(facts) => Some(facts),
            None => {
                let read = st.store.attempt_info(id).await?;
                if let Some(i) = &read {
                    st.in_flight.keep_facts(i);
                }
                read.map(Arc::new)
            }
        },
        None => None,
    };
    // `userdata` names an attempt; the call id must be that attempt's, once we know it.
    if let (Some(i), Some(cid)) = (&info, req.call_id()) {
        if i.provider_call_id
            .as_deref()
            .is_some_and(|known| known != cid)
        {
            tracing::warn!(attempt = i.attempt_id, call = %cid, "control request whose call id is not its attempt's refused");
            return Ok(Err(Reply::Refused("foreign-call")));
        }
    }
    let event = CallEvent {
        attempt_id: info.as_ref().map(|i| i.attempt_id),
        provider_call_id: req.call_id(),
        kind: kind.as_str().to_string(),
        command: req.command(),
        dtmf: req.dtmf(),
        statuscall: req.statuscall(),
        fields: crate::capture::event_fields(req),
        received_at: now,
    };
    let Some(info) = info else {
        tracing::warn!(call = %req.get("ID"), "control request for a call we did not launch");
        st.store.record_event(&event, None).await?;
        return Ok(Err(match kind {
            RequestKind::End => Reply::Nothing,
            _ => Reply::Command(Command::hangup("unknown")),
        }));
    };
    Ok(Ok((info, event)))
}

/// A control request about a call we launched, with what identifying it found: the attempt's
/// facts, the event that records the request, the campaign (if still loaded), the time.
#[derive(Clone, Copy)]
struct About<'a> {
    req: &'a ControlRequest,
    info: &'a AttemptInfo,
    event: &'a CallEvent,
    campaign: Option<&'a Arc<ActiveCampaign>>,
    now: i64,
}

/// The end request: the attempt closes with the provider's status and durations (a bridge the
/// callee ended may be proven by how long it lasted), and the call's slot is freed.
async fn call_ended(st: &CallService, about: About<'_>) -> Result<Reply, StoreError> {
    let About {
        req,
        info,
        event,
        campaign,
        now,
    } = about;
    let answered = info.answered || req.seconds("durationcallanswered").unwrap_or(0) > 0;
    // A callee who hangs up during a bridge ends the call without a transfer result: how
    // long the transfer lasted may prove it.
    if answered && transfer_lasted(st, info.attempt_id, req, now).await? {
        st.store
            .transfer_bridged(info.attempt_id, "duration", now)
            .await?;
        st.in_flight.transfer_result(info.attempt_id, true, now);
    }
    st.in_flight.settling(info.attempt_id);
    let result = AttemptResult::from_provider(req.get("statuscall"), answered)
        .unwrap_or(AttemptResult::Congestion);
    st.store
        .record_event(
            event,
            Some(&Progress {
                answered,
                ..Default::default()
            }),
        )
        .await?;
    if let Some(c) = campaign {
        let close = AttemptClose {
            result,
            duration_seconds: req.seconds("durationcall"),
            talk_seconds: req.seconds("durationcallanswered"),
            ended_at: now,
        };
        if let Some(next) = st
            .store
            .close_attempt(info.attempt_id, &close, &c.policy(st.time_scale))
            .await?
        {
            tracing::info!(attempt = info.attempt_id, campaign = %c.id, result = result.as_str(), "call ended, contact {}", next.state);
            st.metrics.outcome(&c.id, next.state.as_str());
        }
        crate::desk::routing::call_ended(&st.desk, c, info.attempt_id, now).await;
    }
    st.in_flight.release_at(info.attempt_id, Some(now));
    Ok(Reply::Nothing)
}

/// Any other request: the flow's next command, with what the request taught stored (keys,
/// outcome, captures, the transfer's facts, an opt-out) before the reply leaves.
async fn next_step(st: &CallService, about: About<'_>) -> Result<Reply, StoreError> {
    let About {
        req,
        info,
        event,
        campaign,
        now,
    } = about;
    let kind = req.kind();
    // A call already settled (closed by its report, or given up as lost) has no flow left:
    // a late or replayed request changes nothing.
    if !matches!(info.status.as_str(), "launching" | "ringing") {
        tracing::warn!(attempt = info.attempt_id, status = %info.status, "control request for a settled attempt: hanging up, nothing changed");
        return Ok(Reply::Command(Command::hangup("settled")));
    }
    let mut step = match campaign {
        Some(c) => flow::next_step_adapted(
            c,
            info.attempt_id,
            &info.vars,
            req,
            st.google_key.as_ref().map(|k| k.expose_secret()),
            st.adapter,
        ),
        None => flow::Step::hangup("unknown-campaign"),
    };
    // A transfer's result that proves nothing (a queue's bare `OK`): how long the transfer
    // lasted may prove the bridge.
    let mut proven_by = step.transfer_result.is_some_and(|c| c).then_some("result");
    if step.transfer_result.is_none()
        && matches!(req.get("command"), "dial" | "queue")
        && transfer_lasted(st, info.attempt_id, req, now).await?
    {
        if let Some(facts) = st.store.transfer_facts(info.attempt_id).await? {
            step.outcome = facts
                .outcome
                .as_deref()
                .and_then(flow::Outcome::parse)
                .or(step.outcome.take());
        }
        step.transfer_result = Some(true);
        proven_by = Some("duration");
    }
    // Stored before a desk transfer's screen pop is built: the agent sees what was just said.
    crate::capture::store_captures(&st.store, info.attempt_id, &step.captures, now).await?;
    if let Some(c) = campaign {
        crate::desk::routing::after_step(&st.desk, c, info, req, &mut step, now).await?;
    }
    if kind == RequestKind::Start {
        st.metrics.answered(&info.campaign_id);
    }
    note_transfer(st, info, campaign, &step, now).await?;
    if kind == RequestKind::Error {
        tracing::warn!(attempt = info.attempt_id, description = %req.get("description"), "the provider refused our last command");
    }
    stop_or_announce(st, info, campaign, &step, now).await?;
    let progress = Progress {
        answered: true,
        outcome: step.outcome.map(|o| o.as_str().to_string()),
        dtmf: req.dtmf(),
        // Survey answers per question, in the same transaction as the event.
        answers: step.answers,
    };
    // Stored before the reply leaves: a key press that got a 200 is never lost.
    st.store.record_event(event, Some(&progress)).await?;
    if let Some(signal) = proven_by {
        st.store
            .transfer_bridged(info.attempt_id, signal, now)
            .await?;
    }
    st.in_flight.heard_from(info.attempt_id, |f| {
        f.answered = true;
        if progress.outcome.is_some() {
            f.outcome.clone_from(&progress.outcome);
        }
        if f.provider_call_id.is_none() {
            f.provider_call_id.clone_from(&event.provider_call_id);
        }
    });
    // The call is over for us: its slot is free now, whether or not an end request follows.
    if step.command.command == "hangup" {
        st.in_flight.hung_up(info.attempt_id, now);
        // Daemons sharing the database count each other's calls there: say it is over.
        if st.store.is_shared() {
            let store = st.store.clone();
            let attempt = info.attempt_id;
            tokio::spawn(
                async move {
                    if let Err(e) = store.mark_hung_up(attempt, now).await {
                        tracing::warn!(attempt, "cannot record the hang-up: {e}");
                    }
                }
                .in_current_span(),
            );
        }
    }
    Ok(Reply::Command(step.command))
}

/// A transfer the step starts: its facts stored for the signals that may prove it later (see
/// `flow::transfer`), and sales pacing told (it learns the agents from its own transfers, see
/// `crate::pacing`).
async fn note_transfer(
    st: &CallService,
    info: &AttemptInfo,
    campaign: Option<&Arc<ActiveCampaign>>,
    step: &flow::Step,
    now: i64,
) -> Result<(), StoreError> {
    let window_ms = transfer_window_ms(&step.command, st.time_scale);
    if step.transfer.is_some() {
        st.store
            .transfer_started(
                info.attempt_id,
                now,
                step.transfer_outcome.map(flow::Outcome::as_str),
                window_ms,
            )
            .await?;
    }
    if let Some(crate::campaign::FlowSettings::Sales(s)) = campaign.map(|c| &c.flow) {
        if step.transfer.is_some() {
            // A call still in the transfer past its agent's ring time was with an agent.
            let limit_ms = window_ms
                .unwrap_or((s.agent_ring_seconds as f64 * 1000.0 / st.time_scale.max(1e-9)) as i64);
            st.in_flight
                .transfer_started(info.attempt_id, now, limit_ms);
        }
        if let Some(connected) = step.transfer_result {
            st.in_flight
                .transfer_result(info.attempt_id, connected, now);
        }
    }
    Ok(())
}

/// What must be stored before the reply leaves: an opt-out on the do-not-call list (no later
/// launch, of any campaign, can reach this number again) and a `transfer.started` event queued
/// with the transfer command.
async fn stop_or_announce(
    st: &CallService,
    info: &AttemptInfo,
    campaign: Option<&Arc<ActiveCampaign>>,
    step: &flow::Step,
    now: i64,
) -> Result<(), StoreError> {
    if step.optout {
        let entry = DncEntry {
            phone: info.phone.clone(),
            until_date: None,
            hours: None,
            source: format!("opt-out ({})", info.campaign_id),
        };
        st.store
            .dnc_upsert(std::slice::from_ref(&entry), now)
            .await?;
        tracing::info!(attempt = info.attempt_id, to = %crate::campaign::phone::mask(&info.phone), "opted out: on the do-not-call list");
    }
    if let (Some(target), Some(events)) = (&step.transfer, campaign.and_then(|c| c.events.as_ref()))
    {
        if events.types.iter().any(|t| t == "transfer.started") {
            let data = json!({"call_id": info.provider_call_id, "target": target.to_string()});
            st.store
                .add_event(
                    &info.campaign_id,
                    info.contact_id,
                    Some(info.attempt_id),
                    "transfer.started",
                    &data,
                    now,
                )
                .await?;
        }
    }
    Ok(())
}

/// How long the agent's phone rings for this transfer command, real ms: a `dial`'s ring
/// time (`type,number,ring_seconds`); `None` for a `queue` (its wait is the PBX's) or any
/// other command.
fn transfer_window_ms(command: &Command, time_scale: f64) -> Option<i64> {
    if command.command != "dial" {
        return None;
    }
    let ring: u32 = command.options.split(',').nth(2)?.trim().parse().ok()?;
    Some((f64::from(ring) * 1000.0 / time_scale.max(1e-9)) as i64)
}

/// Whether the call of `attempt_id`, leaving its transfer step with `req` at `now`, stayed in
/// it longer than its agent's phone rings: proof that an agent took it (`flow::transfer`). The
/// time in the transfer is the provider's (`durationcallanswered` less the time from the
/// answer to the transfer) when the request carries it, else this side's clock.
async fn transfer_lasted(
    st: &CallService,
    attempt_id: i64,
    req: &ControlRequest,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(f) = st.store.transfer_facts(attempt_id).await? else {
        return Ok(false);
    };
    if f.signal.is_some() || f.outcome.is_none() {
        return Ok(false);
    }
    let scale = st.time_scale.max(1e-9);
    let in_transfer = match (req.seconds("durationcallanswered"), f.answered_at) {
        (Some(s), Some(answered)) => (s as f64 * 1000.0 / scale) as i64 - (f.at - answered),
        _ => now - f.at,
    };
    let floor = (1000.0 / scale) as i64;
    Ok(flow::transfer::lasted_verdict(
        in_transfer,
        f.window_ms,
        floor,
    ))
}
