//! The desk's HTTP side on the daemon's listener: `GET /desk` (the agents' page, plain HTML and
//! JavaScript) and its JSON API, which other tools may use too:
//!
//! - `POST /desk/api/login {"name","password"}` → `{"agent","csrf","state"}` and the session
//!   cookie (`HttpOnly`, `SameSite=Strict`, `Secure` under TLS); a second login of the same
//!   agent ends the first session; failed logins from one address wait 1, 2, 4… s (429);
//! - `POST /desk/api/state {"state": "ready"|"paused"|"logged_out", "reason"}`;
//! - `GET /desk/api/events`: Server-Sent Events (`state`, `pop`, and `resync` when updates may
//!   have been missed), while open it is the page's heartbeat;
//! - `POST /desk/api/disposition {"call", "disposition", "note", "callback_at"}`;
//! - `GET /desk/api/callbacks`, `POST /desk/api/callbacks/done {"id"}`: the calls to return
//!   (`super::callbacks`);
//! - `GET /desk/api/me` (with the screen pop of the agent's current call), `POST
//!   /desk/api/logout`.
//!
//! Guarantees: without a session every API route answers 401; every POST but the login needs
//! the session's `X-CSRF-Token` header (403 without it) and a JSON body; a disposition for a
//! call that is not the agent's gets 403 and changes nothing. Sessions are read from the
//! database on every request, so with several daemons behind a load balancer any one answers.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::calls::{Campaigns, Registry as _};
use crate::guard::PeerAddr;

use super::hub::{Desk, Session};

const COOKIE: &str = "pregonero_desk";
const PAGE: &str = include_str!("page.html");
const BODY_LIMIT: usize = 16 * 1024;

#[derive(Clone)]
pub struct DeskState {
    pub desk: Arc<Desk>,
    pub campaigns: Campaigns,
}

pub fn router(state: DeskState) -> Router {
    Router::new()
        .route("/desk", get(page))
        .route("/desk/api/login", post(login))
        .route("/desk/api/logout", post(logout))
        .route("/desk/api/me", get(me))
        .route("/desk/api/state", post(set_state))
        .route("/desk/api/events", get(events))
        .route("/desk/api/disposition", post(disposition))
        .route("/desk/api/callbacks", get(super::callbacks::list))
        .route("/desk/api/callbacks/done", post(super::callbacks::done))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(Arc::new(state))
}

pub(super) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// A refused request: its status and the one sentence saying why.
pub(super) struct Refusal(StatusCode, String);

impl Refusal {
    fn new(status: StatusCode, message: &str) -> Refusal {
        Refusal(status, message.to_string())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.0, &self.1)
    }
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
            ),
        ],
        Html(PAGE),
    )
        .into_response()
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> Refusal {
    tracing::error!("desk {what}: {e}");
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the database is not available",
    )
}

/// The request's session (kept in the database: any daemon finds it), or the 401 to answer.
pub(super) async fn session(
    st: &DeskState,
    headers: &HeaderMap,
) -> Result<(String, Session), Refusal> {
    let not_in = || Refusal::new(StatusCode::UNAUTHORIZED, "not logged in to the desk");
    let token = cookie_token(headers).ok_or_else(not_in)?;
    match st.desk.session(&token).await {
        Ok(Some(s)) => Ok((token, s)),
        Ok(None) => Err(not_in()),
        Err(e) => Err(unavailable("session", e)),
    }
}

/// A POST's session: logged in, with the session's CSRF token, and a JSON body.
pub(super) async fn post_session(
    st: &DeskState,
    headers: &HeaderMap,
) -> Result<(String, Session), Refusal> {
    let (token, s) = session(st, headers).await?;
    let csrf = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !crate::guard::same_secret(csrf.as_bytes(), s.csrf.as_bytes()) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "the X-CSRF-Token header is missing or wrong",
        ));
    }
    json_body(headers)?;
    Ok((token, s))
}

fn json_body(headers: &HeaderMap) -> Result<(), Refusal> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    Ok(())
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            &format!("the JSON body is not valid: {e}"),
        )
    })
}

pub(super) async fn body_bytes(req: Request) -> Result<axum::body::Bytes, Refusal> {
    axum::body::to_bytes(req.into_body(), BODY_LIMIT)
        .await
        .map_err(|_| Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large"))
}

fn peer(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<PeerAddr>>()
        .map(|c| c.0 .0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

#[derive(Deserialize)]
struct Login {
    name: String,
    password: String,
}

async fn login(State(st): State<Arc<DeskState>>, req: Request) -> Response {
    let ip = peer(&req);
    let wait = st.desk.login_wait_ms(ip);
    if wait > 0 {
        let secs = (wait + 999) / 1000;
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, secs.to_string())],
            Json(json!({"error": format!("too many failed logins from this address: try again in {secs} s")})),
        )
            .into_response();
    }
    if let Err(r) = json_body(req.headers()) {
        return r.into_response();
    }
    let body = match body_bytes(req).await {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let login: Login = match parse(&body) {
        Ok(l) => l,
        Err(r) => return r.into_response(),
    };
    let stored = match st.desk.store.agent_password_hash(&login.name).await {
        Ok(h) => h.flatten(),
        Err(e) => {
            tracing::error!("desk login: {e}");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is not available",
            );
        }
    };
    let password = login.password;
    let ok = tokio::task::spawn_blocking(move || {
        let hash = stored.as_deref().unwrap_or(super::password::decoy());
        super::password::verify(&password, hash) && stored.is_some()
    })
    .await
    .unwrap_or(false);
    if !ok {
        st.desk.login_failed(ip);
        tracing::warn!(source = %ip, "desk login refused");
        return error(StatusCode::UNAUTHORIZED, "wrong agent name or password");
    }
    st.desk.login_succeeded(ip);
    let (token, session) = match st.desk.open_session(&login.name).await {
        Ok(x) => x,
        Err(e) => return unavailable("login", e).into_response(),
    };
    let now = st.desk.clock.now_ms();
    let _ = st.desk.store.agent_seen(&login.name, now).await;
    let agent = st.desk.store.agent(&login.name).await.ok().flatten();
    tracing::info!(agent = %login.name, "desk login");
    let cookie = format!(
        "{COOKIE}={token}; Path=/desk; HttpOnly; SameSite=Strict{}",
        if st.desk.secure_cookie {
            "; Secure"
        } else {
            ""
        }
    );
    (
        [(header::SET_COOKIE, cookie)],
        Json(json!({"agent": login.name, "csrf": session.csrf, "state": agent})),
    )
        .into_response()
}

async fn logout(State(st): State<Arc<DeskState>>, headers: HeaderMap) -> Response {
    let (token, s) = match post_session(&st, &headers).await {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let now = st.desk.clock.now_ms();
    let _ = st
        .desk
        .store
        .agent_set_state(&s.agent, "logged_out", None, now)
        .await;
    st.desk.state_changed(&s.agent).await;
    if let Err(e) = st.desk.close_session(&token).await {
        return unavailable("logout", e).into_response();
    }
    let cookie = format!("{COOKIE}=; Path=/desk; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Json(json!({"ok": true}))).into_response()
}

async fn me(State(st): State<Arc<DeskState>>, headers: HeaderMap) -> Response {
    let (_, s) = match session(&st, &headers).await {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let _ = st
        .desk
        .store
        .agent_seen(&s.agent, st.desk.clock.now_ms())
        .await;
    let agent = st.desk.store.agent(&s.agent).await.ok().flatten();
    let pop = match agent.as_ref().and_then(|a| a.attempt_id) {
        Some(call) => current_pop(&st, call).await,
        None => None,
    };
    Json(json!({"agent": s.agent, "csrf": s.csrf, "state": agent, "pop": pop})).into_response()
}

/// The screen pop of the call the agent is on or wrapping up, built again from the database
/// (a reloaded page, or one told to `resync`, gets it back from any daemon).
async fn current_pop(st: &DeskState, call: i64) -> Option<serde_json::Value> {
    let info = st.desk.store.attempt_info(call).await.ok().flatten()?;
    let campaign = st.campaigns.campaign(&info.campaign_id)?;
    Some(super::routing::screen_pop(&st.desk, &campaign, &info).await)
}

#[derive(Deserialize)]
struct SetState {
    state: String,
    #[serde(default)]
    reason: Option<String>,
}

async fn set_state(State(st): State<Arc<DeskState>>, req: Request) -> Response {
    let (_, s) = match post_session(&st, req.headers()).await {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let body = match body_bytes(req).await {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let want: SetState = match parse(&body) {
        Ok(w) => w,
        Err(r) => return r.into_response(),
    };
    if !matches!(want.state.as_str(), "ready" | "paused" | "logged_out") {
        return error(
            StatusCode::BAD_REQUEST,
            "state must be \"ready\", \"paused\" or \"logged_out\"",
        );
    }
    let reason: Option<String> = want
        .reason
        .map(|r| r.chars().take(64).collect::<String>())
        .filter(|r| !r.trim().is_empty());
    let now = st.desk.clock.now_ms();
    match st
        .desk
        .store
        .agent_set_state(&s.agent, &want.state, reason.as_deref(), now)
        .await
    {
        Ok(Some(agent)) => {
            st.desk.state_changed(&s.agent).await;
            Json(json!({"state": agent})).into_response()
        }
        Ok(None) => error(
            StatusCode::CONFLICT,
            "the agent is on a call: the state changes when the call ends",
        ),
        Err(e) => {
            tracing::error!("desk state: {e}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is not available",
            )
        }
    }
}

#[derive(Deserialize)]
struct Disposition {
    call: i64,
    disposition: String,
    #[serde(default)]
    note: String,
    /// RFC 3339, or `YYYY-MM-DDTHH:MM` in the campaign's time zone.
    #[serde(default)]
    callback_at: Option<String>,
}

async fn disposition(State(st): State<Arc<DeskState>>, req: Request) -> Response {
    let (_, s) = match post_session(&st, req.headers()).await {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let body = match body_bytes(req).await {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let d: Disposition = match parse(&body) {
        Ok(d) => d,
        Err(r) => return r.into_response(),
    };
    let info = match st.desk.store.attempt_info(d.call).await {
        Ok(Some(i)) => i,
        Ok(None) => return error(StatusCode::FORBIDDEN, "this call is not yours"),
        Err(e) => {
            tracing::error!("desk disposition: {e}");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is not available",
            );
        }
    };
    let campaign = st.campaigns.campaign(&info.campaign_id);
    let Some(campaign) = campaign else {
        return error(
            StatusCode::CONFLICT,
            "the call's campaign is no longer loaded",
        );
    };
    let Some(found) = campaign.desk.find(&d.disposition) else {
        let names: Vec<&str> = campaign
            .desk
            .dispositions
            .iter()
            .map(|x| x.name.as_str())
            .collect();
        return error(
            StatusCode::BAD_REQUEST,
            &format!("disposition must be one of: {}", names.join(", ")),
        );
    };
    let now = st.desk.clock.now_ms();
    let callback_at = match (found.callback, d.callback_at.as_deref()) {
        (true, Some(text)) => match parse_when(text, campaign.plan.tz) {
            Some(t) if t > now => Some(t),
            Some(_) => return error(StatusCode::BAD_REQUEST, "callback_at is in the past"),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "callback_at must be a date and time such as 2026-05-04T17:30",
                )
            }
        },
        (true, None) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "\"{}\" needs callback_at, the date and time to call back",
                    found.name
                ),
            )
        }
        (false, _) => None,
    };
    let note: String = d.note.chars().take(2000).collect();
    match st
        .desk
        .store
        .record_disposition(&s.agent, d.call, &found.name, &note, callback_at, now)
        .await
    {
        Ok(crate::store::DispositionResult::Stored) => {
            st.desk.state_changed(&s.agent).await;
            Json(json!({"ok": true, "disposition": found.name, "callback_at": callback_at}))
                .into_response()
        }
        Ok(crate::store::DispositionResult::NotYours) => {
            error(StatusCode::FORBIDDEN, "this call is not yours")
        }
        Err(e) => {
            tracing::error!("desk disposition: {e}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is not available",
            )
        }
    }
}

/// RFC 3339, or a local `YYYY-MM-DDTHH:MM` in `tz`: milliseconds since the epoch.
fn parse_when(text: &str, tz: chrono_tz::Tz) -> Option<i64> {
    use chrono::TimeZone;
    let t = text.trim();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_millis());
    }
    for f in ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(t, f) {
            return tz
                .from_local_datetime(&naive)
                .earliest()
                .map(|d| d.timestamp_millis());
        }
    }
    None
}

async fn events(State(st): State<Arc<DeskState>>, headers: HeaderMap) -> Response {
    let (token, s) = match session(&st, &headers).await {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let rx = match st.desk.subscribe(&token, &s).await {
        Ok(Some(rx)) => rx,
        Ok(None) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "this session was replaced by a newer login",
            )
        }
        Err(e) => return unavailable("events", e).into_response(),
    };
    let first = st.desk.store.agent(&s.agent).await.ok().flatten();
    let first = json!({"type": "state", "state": first.as_ref().map(|a| a.state.clone()),
        "reason": first.as_ref().and_then(|a| a.reason.clone()),
        "since": first.as_ref().map(|a| a.state_since),
        "call": first.as_ref().and_then(|a| a.attempt_id)});
    let desk = st.desk.clone();
    let heartbeat = tokio::time::interval(Duration::from_millis(
        (desk.heartbeat_timeout_ms / 3).max(1000) as u64,
    ));
    let held = Arc::new((token, s));
    let stream = futures_util::stream::unfold(
        (Some(first), rx, heartbeat, desk, held),
        |(first, mut rx, mut beat, desk, held)| async move {
            if let Some(f) = first {
                let ev = Event::default().data(f.to_string());
                return Some((Ok::<_, Infallible>(ev), (None, rx, beat, desk, held)));
            }
            loop {
                tokio::select! {
                    got = rx.recv() => match got {
                        Ok(v) => {
                            let ev = Event::default().data(v.to_string());
                            return Some((Ok(ev), (None, rx, beat, desk, held)));
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        // A newer login or a logout ended this session: the stream ends.
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = beat.tick() => {
                        let (token, s) = &*held;
                        // A session ended while this daemon heard nothing (the live updates'
                        // connection down) ends its stream at the next beat.
                        if let Ok(now) = desk.session(token).await {
                            if now.is_none_or(|n| n.id != s.id) {
                                desk.bus.unsubscribe(&s.agent, &s.id);
                                return None;
                            }
                        }
                        // The open stream is the page's heartbeat.
                        let _ = desk.store.agent_seen(&s.agent, desk.clock.now_ms()).await;
                    }
                }
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// Keeps agents' states true (`Store::settle_agents`) every few seconds until `stop`.
pub async fn settle_loop(desk: Arc<Desk>, stop: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = desk.clock.now_ms();
        match desk
            .store
            .settle_agents(now, now - desk.heartbeat_timeout_ms)
            .await
        {
            Ok(changed) => {
                for a in changed {
                    desk.state_changed(&a).await;
                }
            }
            Err(e) => tracing::warn!("cannot settle the desk agents' states: {e}"),
        }
    }
}
