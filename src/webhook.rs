//! The daemon's HTTP side: API Voice's control URL and call-report URL, plus `/healthz`.
//!
//! Guarantees: a wrong secret gets 404 and changes nothing; a malformed body gets 400 and changes
//! nothing; every control request is stored before it is answered (so a key press that got a
//! 200 is in the database); every control reply is one valid command (`hangup` on any internal
//! error, never an empty body); a report batch is stored raw before it is parsed.

pub mod inbound;

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::flow::{self, Command, ControlRequest, RequestKind};
use crate::guard::{Guard, OnTimeout, SourcePolicy};
use crate::provider::FormError;
use crate::service::{CallService, Reply};
use crate::store::ReportLine;

const CONTROL_BODY_LIMIT: usize = 64 * 1024;
const REPORT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// What the handlers share: the call service that answers, and the HTTP side's own settings.
pub struct WebhookState {
    pub service: CallService,
    pub secret: SecretString,
    /// Who may call the provider routes, and how long a request may take.
    pub policy: SourcePolicy,
    pub control_timeout: Duration,
    pub report_timeout: Duration,
    /// This daemon's name and the once-only duties it holds (several daemons, one database).
    pub duties: Arc<crate::cluster::Duties>,
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
    match st.service.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "database": st.service.store.backend_name(),
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
        .service
        .campaigns
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .keys()
        .cloned()
        .collect();
    let sales: Vec<(String, usize)> = st
        .service
        .campaigns
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .filter_map(|c| match &c.flow {
            crate::campaign::FlowSettings::Sales(s) => Some((c.id.clone(), s.agents as usize)),
            _ => None,
        })
        .collect();
    let now = st.service.clock.now_ms();
    let recover_ms =
        (crate::calls::AGENT_RECOVERY_MS as f64 / st.service.time_scale.max(1e-9)) as i64;
    let totals = st.service.in_flight.agents_snapshot();
    let mut agents: Vec<crate::metrics::AgentLine> = sales
        .iter()
        .map(|(id, configured)| {
            let t = totals.iter().find(|t| &t.campaign == id);
            crate::metrics::AgentLine {
                campaign: id.clone(),
                view: st
                    .service
                    .in_flight
                    .agents(id, *configured, now, recover_ms),
                bridged_total: t.map_or(0, |t| t.bridged_total),
                unanswered_total: t.map_or(0, |t| t.unanswered_total),
            }
        })
        .collect();
    agents.sort_by(|a, b| a.campaign.cmp(&b.campaign));
    let since = now - crate::calls::ABANDON_WINDOW_MS;
    let mut rates = Vec::new();
    for (id, _) in sales {
        if let Ok((answered, abandoned)) = st.service.store.abandon_counts(&id, since).await {
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
        if let Ok(s) = st.service.store.stats(&id).await {
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
        st.service.metrics.render(&due, st.service.in_flight.len())
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
    let reply = st.service.control(&req).await;
    st.service.metrics.control_latency(started.elapsed());
    respond(reply, &req, "control request failed")
}

/// The response to a control (or inbound) request: the service's reply, or on a store error
/// a valid command (`hangup`), `{}` with a 500 for an end request (the provider may retry it).
pub(crate) fn respond(
    reply: Result<Reply, crate::store::StoreError>,
    req: &ControlRequest,
    failed: &str,
) -> Response {
    match reply {
        Ok(Reply::Nothing) => Json(json!({})).into_response(),
        Ok(Reply::Command(command)) => Json(command).into_response(),
        Ok(Reply::Refused(why)) => refused(why),
        Err(e) => {
            tracing::error!(call = %req.get("ID"), "{failed}: {e}");
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
pub async fn control_request(req: Request) -> Result<ControlRequest, FormError> {
    let fields = crate::provider::read_form(req).await?;
    Ok(ControlRequest { fields })
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
pub fn parse_report(calls: &str) -> Result<Vec<ReportLine>, BadReport> {
    let items: Vec<&serde_json::value::RawValue> =
        serde_json::from_str(calls).map_err(BadReport::NotJsonArray)?;
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
pub async fn report_lines(req: Request) -> Result<Vec<ReportLine>, BadReport> {
    match crate::provider::read_form_limited(req, REPORT_BODY_LIMIT).await {
        Ok(form) => match form.get("calls") {
            Some(calls) => parse_report(calls),
            None => Err(BadReport::NoCalls),
        },
        Err(e) => Err(BadReport::NotAForm(e)),
    }
}

/// Why a report batch cannot be read; its words are the 400 reply's `error` and the stored
/// batch's error (the provider's side reads them, in English).
#[derive(Debug, thiserror::Error)]
pub enum BadReport {
    #[error("`calls` is not a JSON array: {0}")]
    NotJsonArray(serde_json::Error),
    #[error("the form has no `calls` field")]
    NoCalls,
    #[error("the body is not a readable form")]
    NotAForm(FormError),
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
    let now = st.service.clock.now_ms();
    // Stored raw first: if parsing fails (or the daemon dies), the batch is not lost.
    let batch_id = match st
        .service
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
        Err(e) => {
            let msg = e.to_string();
            let _ = st
                .service
                .store
                .finish_report_batch(batch_id, 0, Some(&msg))
                .await;
            tracing::warn!(batch = batch_id, "report batch rejected: {msg}");
            return bad_request(&msg);
        }
    };
    let mut closed = 0;
    for chunk in lines.chunks(REPORT_CHUNK) {
        match st.service.report_lines(batch_id, chunk, now).await {
            Ok(n) => closed += n,
            Err(e) => {
                tracing::error!(batch = batch_id, "cannot apply the report lines: {e}");
                let _ = st
                    .service
                    .store
                    .finish_report_batch(batch_id, lines.len() as i64, Some("store error"))
                    .await;
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
    }
    let _ = st
        .service
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
