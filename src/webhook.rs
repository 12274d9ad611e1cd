//! The daemon's HTTP side: API Voice's control URL and call-report URL, plus `/healthz`.
//!
//! Guarantees: a wrong secret gets 404 and changes nothing; a malformed body gets 400 and changes
//! nothing; every control request is stored before it is answered (so a key press that got a
//! 200 is in the database); every control reply is one valid command (`hangup` on any internal
//! error, never an empty body); a report batch is stored raw before it is parsed.

pub mod inbound;

use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::calls::{ActiveCampaign, Campaigns, InFlight};
use crate::clock::SharedClock;
use crate::flow::{self, Command, ControlRequest, RequestKind};
use crate::guard::{Guard, OnTimeout, SourcePolicy};
use crate::metrics::Metrics;
use crate::schedule::AttemptResult;
use crate::store::{
    AttemptClose, AttemptInfo, CallEvent, CloseJob, DncEntry, Progress, ReportLine, Store,
};

const CONTROL_BODY_LIMIT: usize = 64 * 1024;
const REPORT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct WebhookState {
    pub store: Store,
    pub campaigns: Campaigns,
    pub in_flight: Arc<InFlight>,
    pub clock: SharedClock,
    pub secret: SecretString,
    /// The simulator's speed (retry delays are divided by it); 1 for real calls.
    pub time_scale: f64,
    pub metrics: Arc<Metrics>,
    /// Our API Voice instance: a control request naming another one is refused.
    pub api: String,
    /// Who may call the provider routes, and how long a request may take.
    pub policy: SourcePolicy,
    pub control_timeout: Duration,
    pub report_timeout: Duration,
    /// This daemon's name and the once-only duties it holds (several daemons, one database).
    pub duties: Arc<crate::cluster::Duties>,
    /// The agent desk: routes `desk:TEAM` transfers (`crate::desk::routing`).
    pub desk: Arc<crate::desk::hub::Desk>,
    /// The callback flow's settings (`[inbound]`) and the region of numbers written without
    /// `+CC` (`[calling] default_region`), for inbound calls ([`inbound`]).
    pub inbound: crate::config::InboundConfig,
    pub default_region: Option<phonenumber::country::Id>,
    /// The key `google_voice2text` commands carry (`[voice] google_key_file`).
    pub google_key: Option<SecretString>,
    /// The provider's unknowns as configured (`[provider]`; `crate::provider`, "Assumptions").
    pub adapter: flow::Adapter,
}

/// The router with every route of the daemon.
pub fn router(state: WebhookState) -> Router {
    let guard = |timeout, on_timeout| {
        axum::middleware::from_fn_with_state(
            Arc::new(Guard {
                policy: state.policy.clone(),
                timeout,
                on_timeout,
            }),
            crate::guard::guard,
        )
    };
    Router::new()
        .route(
            "/apivoice/control/{secret}",
            post(control)
                .get(validate)
                .layer(DefaultBodyLimit::max(CONTROL_BODY_LIMIT))
                .layer(guard(
                    state.control_timeout,
                    OnTimeout::Reply(hangup_on_timeout),
                )),
        )
        .route(
            "/apivoice/inbound/{secret}",
            post(inbound::inbound)
                .get(validate)
                .layer(DefaultBodyLimit::max(CONTROL_BODY_LIMIT))
                .layer(guard(
                    state.control_timeout,
                    OnTimeout::Reply(hangup_on_timeout),
                )),
        )
        .route(
            "/apivoice/report/{secret}",
            post(report)
                .get(validate)
                .layer(DefaultBodyLimit::max(REPORT_BODY_LIMIT))
                .layer(guard(state.report_timeout, OnTimeout::Unavailable)),
        )
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        // Shared, not cloned per request (the state holds strings and vectors).
        .with_state(Arc::new(state))
}

/// What a control request cut by its timeout gets: a valid command, never an empty body.
fn hangup_on_timeout() -> Response {
    Json(Command::hangup("timeout")).into_response()
}

/// Whether the path segment is the webhook secret (constant time, [`crate::guard::same_secret`]).
pub(crate) fn secret_matches(given: &str, expected: &SecretString) -> bool {
    crate::guard::same_secret(given.as_bytes(), expected.expose_secret().as_bytes())
}

/// A control request that is not ours to answer: 403 with a valid command (`hangup`), so the
/// provider never plays a `Command not found`, and nothing stored.
pub(crate) fn refused(why: &str) -> Response {
    (StatusCode::FORBIDDEN, Json(Command::hangup(why))).into_response()
}

pub(crate) fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

pub(crate) fn bad_request(msg: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": msg }))).into_response()
}

/// A plain GET: the panel validating the URL.
async fn validate(State(st): State<Arc<WebhookState>>, Path(secret): Path<String>) -> Response {
    if !secret_matches(&secret, &st.secret) {
        return not_found();
    }
    (StatusCode::OK, Json(json!({ "response": "200" }))).into_response()
}

async fn healthz(State(st): State<Arc<WebhookState>>) -> Response {
    match st.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "database": st.store.backend_name(),
                "node": st.duties.node(),
                "duties": st.duties.held(),
            })),
        )
            .into_response(),
        Err(e) => {
            tracing::error!("health check: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "error", "database": "unreachable" })),
            )
                .into_response()
        }
    }
}

async fn metrics(State(st): State<Arc<WebhookState>>) -> Response {
    let ids: Vec<String> = st
        .campaigns
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .keys()
        .cloned()
        .collect();
    let sales: Vec<(String, usize)> = st
        .campaigns
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .filter_map(|c| match &c.flow {
            crate::campaign::FlowSettings::Sales(s) => Some((c.id.clone(), s.agents as usize)),
            _ => None,
        })
        .collect();
    let now = st.clock.now_ms();
    let recover_ms = (crate::calls::AGENT_RECOVERY_MS as f64 / st.time_scale.max(1e-9)) as i64;
    let totals = st.in_flight.agents_snapshot();
    let mut agents: Vec<crate::metrics::AgentLine> = sales
        .iter()
        .map(|(id, configured)| {
            let t = totals.iter().find(|t| &t.campaign == id);
            crate::metrics::AgentLine {
                campaign: id.clone(),
                view: st.in_flight.agents(id, *configured, now, recover_ms),
                bridged_total: t.map_or(0, |t| t.bridged_total),
                unanswered_total: t.map_or(0, |t| t.unanswered_total),
            }
        })
        .collect();
    agents.sort_by(|a, b| a.campaign.cmp(&b.campaign));
    let since = now - crate::calls::ABANDON_WINDOW_MS;
    let mut rates = Vec::new();
    for (id, _) in sales {
        if let Ok((answered, abandoned)) = st.store.abandon_counts(&id, since).await {
            let rate = if answered > 0 {
                abandoned as f64 / answered as f64
            } else {
                0.0
            };
            rates.push((id, rate));
        }
    }
    rates.sort_by(|a, b| a.0.cmp(&b.0));
    let mut due = Vec::new();
    for id in ids {
        if let Ok(s) = st.store.stats(&id).await {
            due.push((
                id,
                crate::store::WAITING_STATES
                    .iter()
                    .map(|w| s.states.get(*w).copied().unwrap_or(0))
                    .sum(),
            ));
        }
    }
    due.sort();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        st.metrics.render(&due, st.in_flight.len())
            + &crate::metrics::render_abandon_rates(&rates)
            + &crate::metrics::render_agents(&agents)
            + &st.duties.metrics_text(),
    )
        .into_response()
}

async fn control(
    State(st): State<Arc<WebhookState>>,
    Path(secret): Path<String>,
    req: Request,
) -> Response {
    if !secret_matches(&secret, &st.secret) {
        return not_found();
    }
    let Ok(req) = control_request(req).await else {
        return bad_request("the body is not a readable form");
    };
    crate::telemetry::record_call(req.get("ID"));
    let started = std::time::Instant::now();
    let reply = handle_control(&st, &req).await;
    st.metrics.control_latency(started.elapsed());
    match reply {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(call = %req.get("ID"), "control request failed: {e}");
            if req.kind() == RequestKind::End {
                (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({}))).into_response()
            } else {
                Json(Command::hangup("error")).into_response()
            }
        }
    }
}

/// Decodes a control-URL request: its form fields from the query string and an urlencoded or
/// multipart body (body wins). The call flow then reads it (`flow::next_step`).
pub async fn control_request(req: Request) -> Result<ControlRequest, String> {
    let fields = crate::provider::read_form(req).await?;
    Ok(ControlRequest { fields })
}

async fn handle_control(
    st: &WebhookState,
    req: &ControlRequest,
) -> Result<Response, crate::store::StoreError> {
    // No `api` and no command context: answered `{}` (a `hangup` could cut a transfer while it
    // rings), nothing stored.
    if req.is_bare() {
        tracing::info!(call = %req.get("ID"), "control request without api or command: answered {{}}, nothing changed");
        return Ok(Json(json!({})).into_response());
    }
    let now = st.clock.now_ms();
    let (info, event) = match identify(st, req, now).await? {
        Ok(found) => found,
        Err(reply) => return Ok(reply),
    };
    let campaign = st
        .campaigns
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&info.campaign_id)
        .cloned();
    if req.kind() == RequestKind::End {
        return call_ended(st, req, &info, &event, campaign.as_ref(), now).await;
    }
    next_step(st, req, &info, &event, campaign.as_ref(), now).await
}

/// The attempt a control request is about, and the event that records it; or the reply to a
/// request that is not ours (another API instance, another call's id, a call we did not
/// launch: that one's event is stored).
async fn identify(
    st: &WebhookState,
    req: &ControlRequest,
    now: i64,
) -> Result<Result<(Arc<AttemptInfo>, CallEvent), Response>, crate::store::StoreError> {
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
        return Ok(Err(refused("foreign-api")));
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
            return Ok(Err(refused("foreign-call")));
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
            RequestKind::End => Json(json!({})).into_response(),
            _ => Json(Command::hangup("unknown")).into_response(),
        }));
    };
    Ok(Ok((info, event)))
}

/// The end request: the attempt closes with the provider's status and durations (a bridge the
/// callee ended may be proven by how long it lasted), and the call's slot is freed.
async fn call_ended(
    st: &WebhookState,
    req: &ControlRequest,
    info: &AttemptInfo,
    event: &CallEvent,
    campaign: Option<&Arc<ActiveCampaign>>,
    now: i64,
) -> Result<Response, crate::store::StoreError> {
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
    Ok(Json(json!({})).into_response())
}

/// Any other request: the flow's next command, with what the request taught stored (keys,
/// outcome, captures, the transfer's facts, an opt-out) before the reply leaves.
async fn next_step(
    st: &WebhookState,
    req: &ControlRequest,
    info: &AttemptInfo,
    event: &CallEvent,
    campaign: Option<&Arc<ActiveCampaign>>,
    now: i64,
) -> Result<Response, crate::store::StoreError> {
    let kind = req.kind();
    // A call already settled (closed by its report, or given up as lost) has no flow left:
    // a late or replayed request changes nothing.
    if !matches!(info.status.as_str(), "launching" | "ringing") {
        tracing::warn!(attempt = info.attempt_id, status = %info.status, "control request for a settled attempt: hanging up, nothing changed");
        return Ok(Json(Command::hangup("settled")).into_response());
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
            step.outcome = facts.outcome.or(step.outcome.take());
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
        outcome: step.outcome.clone(),
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
    Ok(Json(step.command).into_response())
}

/// A transfer the step starts: its facts stored for the signals that may prove it later (see
/// `flow::transfer`), and sales pacing told (it learns the agents from its own transfers, see
/// `crate::pacing`).
async fn note_transfer(
    st: &WebhookState,
    info: &AttemptInfo,
    campaign: Option<&Arc<ActiveCampaign>>,
    step: &flow::Step,
    now: i64,
) -> Result<(), crate::store::StoreError> {
    let window_ms = transfer_window_ms(&step.command, st.time_scale);
    if step.transfer.is_some() {
        st.store
            .transfer_started(
                info.attempt_id,
                now,
                step.transfer_outcome.as_deref(),
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
    st: &WebhookState,
    info: &AttemptInfo,
    campaign: Option<&Arc<ActiveCampaign>>,
    step: &flow::Step,
    now: i64,
) -> Result<(), crate::store::StoreError> {
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
    st: &WebhookState,
    attempt_id: i64,
    req: &ControlRequest,
    now: i64,
) -> Result<bool, crate::store::StoreError> {
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

/// One element of a report batch; tolerant of missing keys, extra keys and loose types.
#[derive(Debug, Deserialize)]
struct RawLine {
    #[serde(rename = "ID", default)]
    id: serde_json::Value,
    #[serde(default)]
    startdate: serde_json::Value,
    #[serde(default)]
    dst: serde_json::Value,
    #[serde(default)]
    duration: serde_json::Value,
    #[serde(default)]
    cost: serde_json::Value,
    #[serde(default)]
    status: serde_json::Value,
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.trim().to_string(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The highest cost, euros, a report line is taken to hold; above it the field is garbled.
const MAX_LINE_COST: f64 = 1e6;

/// A number field of a report line, `0` when it is missing, unreadable or outside `0..=max`
/// (`"1e400"` is `inf` as an `f64`: never a cost, nor `i64::MAX` seconds).
fn number(v: &serde_json::Value, max: f64) -> f64 {
    let n = match v {
        serde_json::Value::Number(n) => n.as_f64().unwrap_or(0.0),
        serde_json::Value::String(s) => s.trim().replace(',', ".").parse().unwrap_or(0.0),
        _ => 0.0,
    };
    if (0.0..=max).contains(&n) {
        n
    } else {
        0.0
    }
}

/// Parses the `calls` field into report lines. A leg without an ID (an inbound call's DID leg,
/// or another leg API Voice did not create) is kept with an empty call id: stored, and matched
/// to no attempt. Each element is kept as it came (`raw`) and read once more for the six
/// fields used; the rest of it is skipped without being built.
pub fn parse_report(calls: &str) -> Result<Vec<ReportLine>, String> {
    let items: Vec<&serde_json::value::RawValue> =
        serde_json::from_str(calls).map_err(|e| format!("`calls` is not a JSON array: {e}"))?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Ok(l) = serde_json::from_str::<RawLine>(item.get()) else {
            continue;
        };
        let id = text(&l.id);
        out.push(ReportLine {
            provider_call_id: id,
            startdate: text(&l.startdate),
            dst: text(&l.dst),
            status: text(&l.status).to_ascii_lowercase(),
            duration_seconds: number(&l.duration, flow::MAX_CALL_SECONDS as f64).round() as i64,
            cost: number(&l.cost, MAX_LINE_COST),
            raw: item.get().to_string(),
        });
    }
    Ok(out)
}

/// Decodes a report batch: the form's `calls` field (urlencoded or multipart, up to the route's
/// 16 MiB) into report lines, or the one-sentence reason it cannot be read.
pub async fn report_lines(req: Request) -> Result<Vec<ReportLine>, String> {
    match crate::provider::read_form_limited(req, REPORT_BODY_LIMIT).await {
        Ok(form) => match form.get("calls") {
            Some(calls) => parse_report(calls),
            None => Err("the form has no `calls` field".to_string()),
        },
        Err(_) => Err("the body is not a readable form".to_string()),
    }
}

async fn report(
    State(st): State<Arc<WebhookState>>,
    Path(secret): Path<String>,
    req: Request,
) -> Response {
    if !secret_matches(&secret, &st.secret) {
        return not_found();
    }
    // The parts (headers, and the route's body limit in the extensions) serve again to parse
    // the body once it is stored.
    let (parts, body) = req.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, REPORT_BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                Json(json!({ "error": "the report batch is larger than 16 MiB or was cut" })),
            )
                .into_response()
        }
    };
    let now = st.clock.now_ms();
    // Stored raw first: if parsing fails (or the daemon dies), the batch is not lost.
    let batch_id = match st
        .store
        .store_report_batch(&String::from_utf8_lossy(&body), now)
        .await
    {
        Ok(id) => id,
        Err(e) => {
            tracing::error!("cannot store a report batch: {e}");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let rebuilt = Request::from_parts(parts, Body::from(body));
    let parsed = report_lines(rebuilt).await;
    let lines = match parsed {
        Ok(l) => l,
        Err(msg) => {
            let _ = st.store.finish_report_batch(batch_id, 0, Some(&msg)).await;
            tracing::warn!(batch = batch_id, "report batch rejected: {msg}");
            return bad_request(&msg);
        }
    };
    let mut closed = 0;
    for chunk in lines.chunks(REPORT_CHUNK) {
        match apply_lines(&st, batch_id, chunk, now).await {
            Ok(n) => closed += n,
            Err(e) => {
                tracing::error!(batch = batch_id, "cannot apply the report lines: {e}");
                let _ = st
                    .store
                    .finish_report_batch(batch_id, lines.len() as i64, Some("store error"))
                    .await;
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
    }
    let _ = st
        .store
        .finish_report_batch(batch_id, lines.len() as i64, None)
        .await;
    tracing::info!(
        batch = batch_id,
        lines = lines.len(),
        closed,
        "call report ingested"
    );
    Json(json!({ "response": "200" })).into_response()
}

/// Report lines applied (and attempts closed) per transaction: a batch of 10,000 lines is 10
/// transactions of each kind instead of 20,000, and no transaction holds the writer for long.
const REPORT_CHUNK: usize = 1000;

/// Upserts the lines; closes the attempts no control request closed. Returns how many closed.
/// Both steps are idempotent, so a batch cut by a crash is applied whole when it comes again.
async fn apply_lines(
    st: &WebhookState,
    batch_id: i64,
    lines: &[ReportLine],
    now: i64,
) -> Result<usize, crate::store::StoreError> {
    let applied = st.store.apply_report_lines(batch_id, lines, now).await?;
    let ingested = applied.iter().filter(|a| a.new).count() as u64;
    // A transfer's leg to an agent, answered and billed, proves the bridge, before or after
    // the attempt closed; it never closes the attempt (its status is the agent's).
    for (line, a) in lines.iter().zip(&applied) {
        if let (true, Some((attempt_id, ..))) = (a.new, &a.attempt) {
            if flow::transfer::leg_verdict(a.callee_leg, &line.status, line.duration_seconds)
                && st
                    .store
                    .transfer_bridged(*attempt_id, "report", now)
                    .await?
                    .is_some()
            {
                tracing::info!(
                    attempt = attempt_id,
                    "the call report shows an agent took the transfer"
                );
            }
        }
    }
    let mut jobs = Vec::new();
    let mut job_campaigns = Vec::new();
    {
        let campaigns = st.campaigns.read().unwrap_or_else(|e| e.into_inner());
        for (line, a) in lines.iter().zip(applied) {
            let Some((attempt_id, campaign_id, true)) = a.attempt else {
                continue;
            };
            if !a.callee_leg {
                continue;
            }
            let Some(campaign) = campaigns.get(&campaign_id) else {
                continue;
            };
            let answered = line.status == "answer" || a.answered;
            let Some(result) = AttemptResult::from_provider(&line.status, answered) else {
                continue;
            };
            job_campaigns.push(campaign_id.clone());
            jobs.push(CloseJob {
                attempt_id,
                close: AttemptClose {
                    result,
                    duration_seconds: Some(line.duration_seconds),
                    talk_seconds: Some(if answered { line.duration_seconds } else { 0 }),
                    ended_at: now,
                },
                policy: campaign.policy(st.time_scale),
            });
        }
    }
    if jobs.is_empty() {
        st.metrics.report_lines(ingested, 0);
        return Ok(0);
    }
    for job in &jobs {
        st.in_flight.settling(job.attempt_id);
    }
    let results = st.store.close_attempts(&jobs).await?;
    for job in &jobs {
        st.in_flight.release(job.attempt_id);
    }
    let mut closed = 0;
    for (next, campaign) in results.iter().zip(&job_campaigns) {
        if let Some(next) = next {
            closed += 1;
            st.metrics.outcome(campaign, next.state.as_str());
        }
    }
    st.metrics.report_lines(ingested, closed as u64);
    Ok(closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_parse_loosely() {
        let calls = r#"[{"ID":"1.2","startdate":"2020-04-21 00:00:10.340704","dst":"647509795","duration":"30","cost":0.0123,"status":"answer","extra":1},
                        {"ID":"","status":"answer"},{"ID":3.4,"duration":7,"cost":"0,5","status":"BUSY"}]"#;
        let l = parse_report(calls).unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].duration_seconds, 30);
        // A leg without an ID is kept, with no call id to match an attempt by.
        assert_eq!(l[1].provider_call_id, "");
        assert_eq!(l[1].status, "answer");
        assert_eq!(l[2].provider_call_id, "3.4");
        assert_eq!(l[2].status, "busy");
        assert!((l[2].cost - 0.5).abs() < 1e-9);
        assert!(parse_report("{").is_err());
    }

    /// Found by fuzzing's first finding on control requests, which the report had too: a
    /// `"1e400"` duration was `i64::MAX` seconds and an `"inf"` cost was stored as infinity.
    #[test]
    fn report_numbers_that_are_not_a_call_read_as_zero() {
        let calls = r#"[{"ID":"1","duration":"1e400","cost":"inf"},
                        {"ID":"2","duration":"733333333333333333333333333","cost":"1e300"},
                        {"ID":"3","duration":"-5","cost":-0.5},
                        {"ID":"4","duration":"NaN","cost":"NaN"},
                        {"ID":"5","duration":"604800","cost":"1000000"}]"#;
        let l = parse_report(calls).unwrap();
        let numbers: Vec<(i64, f64)> = l.iter().map(|l| (l.duration_seconds, l.cost)).collect();
        assert_eq!(
            numbers,
            [(0, 0.0), (0, 0.0), (0, 0.0), (0, 0.0), (604_800, 1e6)]
        );
    }

    #[test]
    fn secret_comparison() {
        let s = SecretString::from("abc123");
        assert!(secret_matches("abc123", &s));
        assert!(!secret_matches("abc124", &s));
        assert!(!secret_matches("abc12", &s));
    }
}
