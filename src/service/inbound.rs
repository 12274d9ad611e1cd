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
use crate::calls::ActiveCampaign;
use crate::campaign::{phone, Campaign, TransferTarget};
use crate::flow::{self, Caller, Command, ControlRequest, FlowState, RequestKind};
use crate::store::{CallEvent, DncEntry, NewInbound, StoreError};

/// The contact an inbound caller was matched to: its campaign, name, columns and id.
type Matched = (Arc<ActiveCampaign>, String, BTreeMap<String, String>, i64);

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
    let (id, number, matched): (i64, Option<String>, Option<Matched>) = if kind
        == RequestKind::Start
    {
        let number = caller_number(req.get("src"), st);
        let did = phone::normalize(req.get("dst"), st.default_region).unwrap_or_default();
        let campaigns = campaigns_of(&did, st);
        let mut matched = None;
        if let Some(n) = &number {
            let ids: Vec<String> = campaigns.iter().map(|c| c.id.clone()).collect();
            if let Some(m) = st.store.inbound_matches(n, &ids).await?.into_iter().next() {
                if let Some(c) = campaigns.iter().find(|c| c.id == m.campaign_id) {
                    let vars = crate::store::vars_from_json(&m.vars);
                    matched = Some((c.clone(), m.name, vars, m.contact_id));
                }
            }
        }
        let route = match &matched {
            Some((c, ..)) if flow::agent_target(c).is_some() => "agent",
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
                        .map(|(c, _, _, contact)| (c.id.as_str(), *contact)),
                    route,
                    hold_until: now + (HOLD_MS as f64 / st.time_scale.max(1e-9)) as i64,
                },
                now,
            )
            .await?;
        tracing::info!(inbound = id, from = %phone::mask(&caller), known = matched.is_some(), "inbound call");
        (id, number, matched)
    } else {
        let Some(state) = FlowState::parse(req.get("userfield")) else {
            st.store.record_event(&event, None).await?;
            return Ok(match kind {
                RequestKind::End => Reply::Nothing,
                _ => Reply::Command(Command::hangup("unknown")),
            });
        };
        let Some(call) = st.store.inbound_call(state.attempt_id).await? else {
            st.store.record_event(&event, None).await?;
            return Ok(Reply::Command(Command::hangup("unknown")));
        };
        if let (Some(known), Some(cid)) = (&call.provider_call_id, req.call_id()) {
            if *known != cid {
                tracing::warn!(
                    inbound = call.id,
                    "inbound request whose call id is not the call's refused"
                );
                return Ok(Reply::Refused("foreign-call"));
            }
        }
        let number = (call.caller != "anonymous").then(|| call.caller.clone());
        let mut matched = None;
        if let (Some(campaign), Some(n)) = (&call.campaign_id, &number) {
            let c = st
                .campaigns
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(campaign)
                .cloned();
            if let Some(c) = c {
                let found = st
                    .store
                    .inbound_matches(n, std::slice::from_ref(campaign))
                    .await?;
                if let Some(m) = found
                    .into_iter()
                    .find(|m| Some(m.contact_id) == call.contact_id)
                {
                    matched = Some((
                        c,
                        m.name,
                        crate::store::vars_from_json(&m.vars),
                        m.contact_id,
                    ));
                }
            }
        }
        (call.id, number, matched)
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
            id,
            req.seconds("durationcall"),
            req.seconds("durationcallanswered"),
            now,
        )
        .await?;
        return Ok(Reply::Nothing);
    }
    let agent = match &matched {
        Some((campaign, _, _, contact)) => put_through_to(st, campaign, *contact).await?,
        None => None,
    };
    let caller = match (&matched, &number) {
        (Some((campaign, name, vars, _)), _) => Caller::Known {
            campaign,
            name,
            vars,
            agent,
        },
        (None, Some(_)) => Caller::Unknown,
        (None, None) => Caller::Anonymous,
    };
    let step = flow::inbound_step_adapted(&st.inbound, &caller, id, req, st.adapter);
    // An opt-out is on the do-not-call list before the reply leaves.
    if let (true, Some(n)) = (step.optout, &number) {
        let source = match &matched {
            Some((c, ..)) => format!("opt-out (inbound call, {})", c.id),
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
        if let Some((c, _, _, contact)) = &matched {
            let data = json!({"call_id": req.call_id(), "inbound": true});
            st.store
                .add_event(&c.id, *contact, None, "optout", &data, now)
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
    let settle = match step.outcome.as_deref() {
        Some(o @ ("confirmed" | "cancelled" | "opted_out")) if matched.is_some() => Some(o),
        _ => None,
    };
    if route.is_some() || step.outcome.is_some() {
        st.store
            .inbound_progress(id, route, step.outcome.as_deref(), settle, now)
            .await?;
    }
    // Stored before the reply leaves, like every control request.
    st.store.record_event(&event, None).await?;
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
