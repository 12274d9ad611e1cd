//! Callees calling back the number that called them (`apivoice.md` 2b; the daemon's
//! `/apivoice/inbound/…` route).
//!
//! The caller (`src`: national digits, `34…`, `0034…` or `anonymous`) is normalised and
//! matched to the contacts of the campaigns whose `caller_id` is the number called (`dst`);
//! the call then runs the callback flow (`flow::inbound_step`). Every request is stored before
//! it is answered; an opt-out is on the do-not-call list before the reply leaves; a reminder
//! confirmed or cancelled by callback settles the contact (and its `contact.final` event) in
//! the same transaction as the inbound call's outcome; a call nobody took ends with its
//! callback task (`crate::callbacks`).
//!
//! Bad input: a DID that is no campaign's gets the default greeting, never an error; another
//! `api` or a call id that is not the inbound call's is refused and changes nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use super::{CallService, Reply};
use crate::callbacks::HOLD_MS;
use crate::calls::{ActiveCampaign, Registry as _};
use crate::campaign::{phone, Campaign, TransferTarget};
use crate::flow::{self, Caller, Command, ControlRequest, FlowState, RequestKind};
use crate::schedule::{ContactState, Outcome};
use crate::store::{CallEvent, DncEntry, NewInbound, StoreError};

/// The caller's number in E.164, or `None` for `anonymous` and anything that is no number.
fn caller_number(src: &str, st: &CallService) -> Option<String> {
    let src = src.trim();
    if src.is_empty() || src.eq_ignore_ascii_case("anonymous") {
        return None;
    }
    phone::normalize(src, st.default_region).ok()
}

/// The campaigns that call from this DID.
fn campaigns_of(did: &str, st: &CallService) -> Vec<Arc<ActiveCampaign>> {
    st.campaigns
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .filter(|c| {
            phone::normalize(&c.caller_id, st.default_region)
                .ok()
                .as_deref()
                == Some(did)
        })
        .cloned()
        .collect()
}

/// The contact an inbound caller was matched to.
struct Matched {
    campaign: Arc<ActiveCampaign>,
    name: String,
    /// The contact's columns.
    vars: BTreeMap<String, String>,
    contact_id: i64,
}

/// The inbound call a request is about: its row, the caller's number (`None` when
/// anonymous) and the contact they were matched to.
struct InboundCall {
    id: i64,
    number: Option<String>,
    matched: Option<Matched>,
}

pub(crate) async fn answer(st: &CallService, req: &ControlRequest) -> Result<Reply, StoreError> {
    let api = req.get("api").trim();
    if !api.eq_ignore_ascii_case(st.api.trim()) {
        tracing::warn!(call = %req.get("ID"), "inbound request for another API instance refused");
        return Ok(Reply::Refused("foreign-api"));
    }
    let kind = req.kind();
    let now = st.clock.now_ms();
    let event = CallEvent {
        attempt_id: None,
        provider_call_id: req.call_id(),
        kind: kind.as_str().to_string(),
        command: req.command(),
        dtmf: req.dtmf(),
        statuscall: req.statuscall(),
        fields: serde_json::to_string(&req.fields).unwrap_or_else(|_| "{}".into()),
        received_at: now,
    };
    // The inbound call: recorded at its start, named by `userfield` afterwards.
    let call = if kind == RequestKind::Start {
        start(st, req, now).await?
    } else {
        match known(st, req, &event).await? {
            Ok(call) => call,
            Err(reply) => return Ok(reply),
        }
    };
    if kind == RequestKind::End {
        st.store.record_event(&event, None).await?;
        // Ended with its callback task when nobody took it (`crate::callbacks`).
        let ctx = crate::callbacks::Ctx {
            store: st.store.clone(),
            campaigns: st.campaigns.clone(),
            call_back: st.inbound.call_back,
            time_scale: st.time_scale,
        };
        ctx.end_inbound(
            call.id,
            req.seconds("durationcall"),
            req.seconds("durationcallanswered"),
            now,
        )
        .await?;
        return Ok(Reply::Nothing);
    }
    next_step(st, req, &event, call, now).await
}

/// A new inbound call: the caller matched to a contact of a campaign calling from the number
/// called, and the call recorded with the route it takes (an agent, the menu, the greeting).
async fn start(
    st: &CallService,
    req: &ControlRequest,
    now: i64,
) -> Result<InboundCall, StoreError> {
    let number = caller_number(req.get("src"), st);
    let did = phone::normalize(req.get("dst"), st.default_region).unwrap_or_default();
    let campaigns = campaigns_of(&did, st);
    let mut matched = None;
    if let Some(n) = &number {
        let ids: Vec<String> = campaigns.iter().map(|c| c.id.clone()).collect();
        if let Some(m) = st.store.inbound_matches(n, &ids).await?.into_iter().next() {
            if let Some(c) = campaigns.iter().find(|c| c.id == m.campaign_id) {
                matched = Some(Matched {
                    campaign: c.clone(),
                    name: m.name,
                    vars: crate::store::vars_from_json(&m.vars),
                    contact_id: m.contact_id,
                });
            }
        }
    }
    let route = match &matched {
        Some(m) if flow::agent_target(&m.campaign).is_some() => "agent",
        Some(_) => "menu",
        None => "greeting",
    };
    let caller = number.clone().unwrap_or_else(|| "anonymous".into());
    let id = st
        .store
        .start_inbound(
            &NewInbound {
                call_id: req.call_id().as_deref(),
                caller: &caller,
                did: &did,
                matched: matched
                    .as_ref()
                    .map(|m| (m.campaign.id.as_str(), m.contact_id)),
                route,
                hold_until: now + (HOLD_MS as f64 / st.time_scale.max(1e-9)) as i64,
            },
            now,
        )
        .await?;
    tracing::info!(inbound = id, from = %phone::mask(&caller), known = matched.is_some(), "inbound call");
    Ok(InboundCall {
        id,
        number,
        matched,
    })
}

/// The inbound call a later request names in its `userfield`, or the reply to a request that
/// names none we know, or comes with another call's id (its event stored, nothing changed).
async fn known(
    st: &CallService,
    req: &ControlRequest,
    event: &CallEvent,
) -> Result<Result<InboundCall, Reply>, StoreError> {
    let Some(state) = FlowState::parse(req.get("userfield")) else {
        st.store.record_event(event, None).await?;
        return Ok(Err(match req.kind() {
            RequestKind::End => Reply::Nothing,
            _ => Reply::Command(Command::hangup("unknown")),
        }));
    };
    let Some(call) = st.store.inbound_call(state.attempt_id).await? else {
        st.store.record_event(event, None).await?;
        return Ok(Err(Reply::Command(Command::hangup("unknown"))));
    };
    if let (Some(known), Some(cid)) = (&call.provider_call_id, req.call_id()) {
        if *known != cid {
            tracing::warn!(
                inbound = call.id,
                "inbound request whose call id is not the call's refused"
            );
            return Ok(Err(Reply::Refused("foreign-call")));
        }
    }
    let number = (call.caller != "anonymous").then(|| call.caller.clone());
    let mut matched = None;
    if let (Some(campaign), Some(n)) = (&call.campaign_id, &number) {
        let c = st.campaigns.campaign(campaign);
        if let Some(c) = c {
            let found = st
                .store
                .inbound_matches(n, std::slice::from_ref(campaign))
                .await?;
            if let Some(m) = found
                .into_iter()
                .find(|m| Some(m.contact_id) == call.contact_id)
            {
                matched = Some(Matched {
                    campaign: c,
                    name: m.name,
                    vars: crate::store::vars_from_json(&m.vars),
                    contact_id: m.contact_id,
                });
            }
        }
    }
    Ok(Ok(InboundCall {
        id: call.id,
        number,
        matched,
    }))
}

/// The callback flow's next command, with what the request taught stored before the reply
/// leaves: an opt-out on the do-not-call list, the route and outcome (a reminder confirmed or
/// cancelled settles its contact), the event.
async fn next_step(
    st: &CallService,
    req: &ControlRequest,
    event: &CallEvent,
    call: InboundCall,
    now: i64,
) -> Result<Reply, StoreError> {
    let InboundCall {
        id,
        number,
        matched,
    } = call;
    let agent = match &matched {
        Some(m) => put_through_to(st, &m.campaign, m.contact_id).await?,
        None => None,
    };
    let caller = match (&matched, &number) {
        (Some(m), _) => Caller::Known {
            campaign: &m.campaign,
            name: &m.name,
            vars: &m.vars,
            agent,
        },
        (None, Some(_)) => Caller::Unknown,
        (None, None) => Caller::Anonymous,
    };
    let step = flow::inbound_step_adapted(&st.inbound, &caller, id, req, st.adapter);
    // An opt-out is on the do-not-call list before the reply leaves.
    if let (true, Some(n)) = (step.optout, &number) {
        let source = match &matched {
            Some(m) => format!("opt-out (inbound call, {})", m.campaign.id),
            None => "opt-out (inbound call)".to_string(),
        };
        let entry = DncEntry {
            phone: n.clone(),
            until_date: None,
            hours: None,
            source,
        };
        st.store
            .dnc_upsert(std::slice::from_ref(&entry), now)
            .await?;
        tracing::info!(inbound = id, from = %phone::mask(n), "opted out by callback: on the do-not-call list");
        if let Some(m) = &matched {
            let data = json!({"call_id": req.call_id(), "inbound": true});
            st.store
                .add_event(&m.campaign.id, m.contact_id, None, "optout", &data, now)
                .await?;
        }
    }
    let route = if step.transfer.is_some() {
        Some("agent")
    } else if step.transfer_result == Some(false) {
        Some("menu")
    } else {
        None
    };
    let settle =
        match step.outcome.and_then(Outcome::state) {
            Some(
                s @ (ContactState::Confirmed | ContactState::Cancelled | ContactState::OptedOut),
            ) if matched.is_some() => Some(s.as_str()),
            _ => None,
        };
    if route.is_some() || step.outcome.is_some() {
        st.store
            .inbound_progress(id, route, step.outcome.map(Outcome::as_str), settle, now)
            .await?;
    }
    // Stored before the reply leaves, like every control request.
    st.store.record_event(event, None).await?;
    Ok(Reply::Command(step.command))
}

/// Who a known caller is put through to: the campaign's agent target, or for a `desk:TEAM`
/// target the agent responsible for the contact (the one who last talked to them) when ready,
/// else the ready agent of the team idle longest; `None` when no agent of the team is ready
/// (the caller hears the menu at once). The agent is not reserved: an inbound call is short,
/// and the outbound dialer sees them busy once their phone answers.
async fn put_through_to(
    st: &CallService,
    campaign: &Campaign,
    contact: i64,
) -> Result<Option<TransferTarget>, StoreError> {
    let target = flow::agent_target(campaign);
    let Some(TransferTarget::Desk(team)) = &target else {
        return Ok(target);
    };
    let responsible = st.store.responsible_agent(contact).await?;
    let ready: Vec<_> = st
        .store
        .agents()
        .await?
        .into_iter()
        .filter(|a| a.state == "ready")
        .collect();
    let chosen = ready
        .iter()
        .find(|a| Some(&a.name) == responsible.as_ref())
        .or_else(|| {
            ready
                .iter()
                .filter(|a| &a.team == team)
                .min_by_key(|a| a.state_since)
        });
    Ok(chosen.map(|a| TransferTarget::Extension(a.extension.clone())))
}
