//! The operator dashboard: `GET /` (live campaign progress), its JSON under `/api/`, and the
//! HTML reports under `/reports/{campaign}.html`. Read-only: nothing here changes the store.
//!
//! Guarantees: every route is behind HTTP Basic (`operator` + `[server].dashboard_password`),
//! compared in constant time over SHA-256 digests (neither content nor length leaks through
//! timing); without a password configured the dashboard does not exist (404, like any unknown
//! route); the password never reaches a log or a response.
//!
//! Failed logins are slowed per source address (the client behind a trusted proxy): five are
//! free, then each further failure locks that source out for twice as long as the last (1 s,
//! 2 s, 4 s… up to 15 min), during which it gets 429 with `Retry-After` whatever it sends; a
//! success clears the count. A failure is logged with the source and the count, never what
//! was typed. A request without credentials (a browser's first) is not a failure.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use crate::calls::{Campaigns, Registry as _};
use crate::clock::SharedClock;
use crate::report;
use crate::store::Store;

/// The only user name.
pub const USER: &str = "operator";

/// What the dashboard handlers share.
#[derive(Clone)]
pub struct DashboardState {
    pub store: Store,
    pub campaigns: Campaigns,
    pub clock: SharedClock,
    /// `None`: the dashboard is off.
    pub password: Option<SecretString>,
    /// `[calling].timezone`, for campaigns whose folder is no longer loaded.
    pub default_tz: chrono_tz::Tz,
    /// `[ui] language`.
    pub lang: crate::i18n::Lang,
    /// Which proxies' `X-Forwarded-For` names the client (`server.trusted_proxies`).
    pub sources: crate::guard::SourcePolicy,
    /// Failed logins per source.
    pub throttle: Arc<LoginThrottle>,
    /// A tick for every change of the desk agents' states, on any daemon (`desk::bus`).
    pub agent_changes: tokio::sync::broadcast::Sender<()>,
}

/// Failures free of any delay, per source.
const FREE_FAILURES: u32 = 5;
/// The longest lockout.
const MAX_LOCKOUT_MS: i64 = 15 * 60 * 1000;
/// A source quiet for this long starts again from zero.
const FORGET_MS: i64 = 60 * 60 * 1000;

#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    last_ms: i64,
    locked_until_ms: i64,
}

/// Failed Basic-auth attempts per source address, with the lockout they earn.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    sources: Mutex<HashMap<IpAddr, Failures>>,
}

impl LoginThrottle {
    /// Milliseconds `ip` must still wait, if it is locked out at `now_ms`.
    pub fn wait_ms(&self, ip: IpAddr, now_ms: i64) -> Option<i64> {
        let m = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&ip)
            .map(|f| f.locked_until_ms - now_ms)
            .filter(|w| *w > 0)
    }

    /// Records a failure of `ip`; returns its failures in a row and the lockout it earned (ms).
    pub fn failed(&self, ip: IpAddr, now_ms: i64) -> (u32, i64) {
        let mut m = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() > 10_000 {
            m.retain(|_, f| now_ms - f.last_ms < FORGET_MS);
        }
        let f = m.entry(ip).or_default();
        if now_ms - f.last_ms >= FORGET_MS {
            *f = Failures::default();
        }
        f.count += 1;
        f.last_ms = now_ms;
        let lockout = match f.count.checked_sub(FREE_FAILURES + 1) {
            None => 0,
            Some(doublings) => 1000i64
                .checked_shl(doublings.min(20))
                .unwrap_or(MAX_LOCKOUT_MS)
                .min(MAX_LOCKOUT_MS),
        };
        f.locked_until_ms = now_ms + lockout;
        (f.count, lockout)
    }

    /// A success: `ip` starts again from zero.
    pub fn succeeded(&self, ip: IpAddr) {
        self.sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ip);
    }
}

/// The dashboard's routes, every one behind [`auth`].
pub fn router(state: DashboardState) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/campaigns", get(api_campaigns))
        .route("/api/campaigns/{id}", get(api_campaign))
        .route("/api/agents", get(api_agents))
        .route("/api/agents/events", get(agents_events))
        .route("/reports/{file}", get(html_report))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state)
}

/// Middleware: 404 when the dashboard is off, 429 while the source is locked out, 401 without
/// the right credentials, else the route.
async fn auth(State(st): State<DashboardState>, req: Request, next: Next) -> Response {
    let Some(password) = &st.password else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let peer = req
        .extensions()
        .get::<ConnectInfo<crate::guard::PeerAddr>>()
        .map(|c| c.0 .0.ip());
    let xff = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let ip = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| {
        st.sources.client_ip(p, xff)
    });
    let now = st.clock.now_ms();
    if let Some(wait) = st.throttle.wait_ms(ip, now) {
        let seconds = (wait + 999) / 1000;
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, seconds.to_string())],
            "too many failed logins from this address: try again later\n",
        )
            .into_response();
    }
    if credentials_match(req.headers(), password) {
        st.throttle.succeeded(ip);
        return next.run(req).await;
    }
    if req.headers().contains_key(header::AUTHORIZATION) {
        let (count, lockout) = st.throttle.failed(ip, now);
        tracing::warn!(
            source = %ip,
            failures = count,
            locked_out_seconds = lockout as f64 / 1000.0,
            "dashboard login failed (wrong user or password)"
        );
    }
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"pregonero\", charset=\"UTF-8\"",
        )],
        "authentication required\n",
    )
        .into_response()
}

/// Whether the request carries `operator` and the password, compared in constant time
/// ([`crate::guard::same_secret`]).
fn credentials_match(headers: &HeaderMap, password: &SecretString) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let mut expected = format!("{USER}:").into_bytes();
    expected.extend_from_slice(password.expose_secret().as_bytes());
    crate::guard::same_secret(&given, &expected)
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!("dashboard: {e}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "error": "the database could not be read; see the daemon's log" })),
    )
        .into_response()
}

/// One campaign as the dashboard shows it: the report JSON plus pause state and progress.
async fn campaign_json(
    st: &DashboardState,
    row: &crate::store::CampaignRow,
) -> Result<Value, report::ReportError> {
    let r = report::build(&st.store, Some(&row.id), st.clock.now_ms())
        .await?
        .remove(0);
    let waiting: i64 = r
        .states
        .0
        .iter()
        .filter(|(k, _)| crate::store::WAITING_STATES.contains(&k.as_str()))
        .map(|(_, v)| *v)
        .sum();
    let done = r.contacts - waiting;
    let loaded = st.campaigns.campaign(&row.id);
    let state = report::campaign_state(row, waiting, loaded.as_deref(), st.clock.now(), st.lang);
    let mut v = serde_json::to_value(&r).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut v {
        m.insert("title".into(), json!(row.title));
        // The same state and words as `pregonero campaigns`.
        m.insert("state".into(), json!(state.state));
        m.insert("state_text".into(), json!(state.text));
        m.insert("paused".into(), json!(row.paused));
        m.insert("paused_reason".into(), json!(row.paused_reason));
        m.insert("done".into(), json!(done));
        m.insert("waiting".into(), json!(waiting));
        let progress = if r.contacts > 0 {
            done as f64 / r.contacts as f64
        } else {
            0.0
        };
        m.insert(
            "progress".into(),
            json!((progress * 1000.0).round() / 1000.0),
        );
        m.insert(
            "report_url".into(),
            json!(format!("/reports/{}.html", row.id)),
        );
    }
    Ok(v)
}

async fn api_campaigns(State(st): State<DashboardState>) -> Response {
    let rows = match st.store.campaigns().await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let mut out = Vec::new();
    for row in &rows {
        match campaign_json(&st, row).await {
            Ok(v) => out.push(v),
            Err(e) => return internal(e),
        }
    }
    Json(json!({ "generated_at": st.clock.now().to_rfc3339(), "campaigns": out })).into_response()
}

async fn api_campaign(State(st): State<DashboardState>, Path(id): Path<String>) -> Response {
    let rows = match st.store.campaigns().await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let Some(row) = rows.iter().find(|r| r.id == id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such campaign" })),
        )
            .into_response();
    };
    let mut v = match campaign_json(&st, row).await {
        Ok(v) => v,
        Err(e) => return internal(e),
    };
    let loaded = loaded(&st, &id);
    let ctx = report::HtmlContext::of(loaded.as_deref(), st.default_tz, st.lang);
    match report::compliance_report(&st.store, &id, &ctx).await {
        Ok(c) => {
            if let Value::Object(m) = &mut v {
                m.insert(
                    "compliance".into(),
                    serde_json::to_value(&c).unwrap_or(Value::Null),
                );
            }
        }
        Err(e) => return internal(e),
    }
    Json(v).into_response()
}

/// The campaign as the daemon runs it, if its folder loads.
fn loaded(st: &DashboardState, id: &str) -> Option<Arc<crate::calls::ActiveCampaign>> {
    st.campaigns.campaign(id)
}

async fn html_report(State(st): State<DashboardState>, Path(file): Path<String>) -> Response {
    let Some(id) = file.strip_suffix(".html") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let loaded = loaded(&st, id);
    let ctx = report::HtmlContext::of(loaded.as_deref(), st.default_tz, st.lang);
    match report::html_report(&st.store, id, &ctx, false, st.clock.now()).await {
        Ok(page) => Html(page).into_response(),
        Err(report::ReportError::UnknownCampaign(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => internal(e),
    }
}

/// The desk's agents: state and seconds in it (`crate::desk`).
async fn api_agents(State(st): State<DashboardState>) -> Response {
    match crate::desk::agents_json(&st.store, st.clock.now_ms()).await {
        Ok(v) => ([(header::CACHE_CONTROL, "no-store")], axum::Json(v)).into_response(),
        Err(e) => internal(e),
    }
}

/// Server-Sent Events: the agents (as `/api/agents`) now and after every change of their
/// states, whichever daemon saw it (for wallboards and tools; the page itself polls every 5 s).
async fn agents_events(State(st): State<DashboardState>) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    let rx = st.agent_changes.subscribe();
    let stream = futures_util::stream::unfold((true, rx, st), |(first, mut rx, st)| async move {
        // Changes missed while busy (lagged): the next snapshot has them.
        if !first && matches!(rx.recv().await, Err(RecvError::Closed)) {
            return None;
        }
        let data = match crate::desk::agents_json(&st.store, st.clock.now_ms()).await {
            Ok(v) => v.to_string(),
            Err(e) => {
                tracing::warn!("dashboard agents: {e}");
                json!({"error": "the database is not available"}).to_string()
            }
        };
        let event = Event::default().data(data);
        Some((Ok::<_, std::convert::Infallible>(event), (false, rx, st)))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response()
}

async fn page(State(st): State<DashboardState>) -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Html(page_in(st.lang)),
    )
        .into_response()
}

/// The page in `lang`: each `@@key@@` of [`PAGE`] becomes the catalogue's text (escaped), and
/// `@@labels@@` the labels the script shows for kinds and agent states.
fn page_in(lang: crate::i18n::Lang) -> String {
    let mut labels = serde_json::Map::new();
    for id in ["reminder", "announcement", "promotion", "survey", "sales"] {
        labels.insert(id.into(), json!(lang.label(id)));
    }
    for state in crate::store::AGENT_STATES {
        labels.insert(
            (*state).to_string(),
            json!(lang.text(&format!("agent_state.{state}"))),
        );
    }
    let mut out = String::with_capacity(PAGE.len() + 1024);
    let mut rest = PAGE;
    while let Some(i) = rest.find("@@") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("@@") else {
            out.push_str(&rest[i..]);
            rest = "";
            break;
        };
        match &after[..j] {
            "labels" => out.push_str(&Value::Object(labels.clone()).to_string()),
            "lang" => out.push_str(match lang {
                crate::i18n::Lang::Es => "es",
                crate::i18n::Lang::En => "en",
            }),
            key => out.push_str(&report::svg::escape(lang.text(key))),
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    out
}

/// The dashboard page. Data comes from `/api/campaigns` (every 5 s); the script builds the rows
/// with `textContent` only, so nothing from the data is ever parsed as markup. `@@key@@` marks
/// a text of the catalogue ([`page_in`]).
const PAGE: &str = r##"<!DOCTYPE html>
<html lang="@@lang@@"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>pregonero — @@dash.campaigns@@</title>
<style>
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4em .6em;text-align:left}
th{background:#f3f3f3}td.n{text-align:right}.muted{color:#666}.paused{color:#c05621;font-weight:bold}
</style></head><body>
<h1>@@dash.Campaigns@@</h1>
<p class="muted">@@dash.live@@ <span id="updated"></span></p>
<table><thead><tr><th>@@dash.campaign@@</th><th>@@dash.kind@@</th><th>@@dash.state@@</th><th>@@dash.progress@@</th><th class="n">@@contacts@@</th>
<th class="n">@@html.attempts@@</th><th class="n">@@answered@@</th><th class="n">@@dash.talk@@</th><th class="n">@@dash.cost@@</th><th>@@dash.report@@</th></tr></thead>
<tbody id="rows"><tr><td colspan="10" class="muted">@@dash.loading@@</td></tr></tbody></table>
<h2>@@html.agents@@</h2>
<table><thead><tr><th>@@agent.agent@@</th><th>@@dash.team@@</th><th>@@dash.extension@@</th><th>@@dash.state@@</th><th class="n">@@dash.time_in_state@@</th></tr></thead>
<tbody id="agents"><tr><td colspan="5" class="muted">@@dash.no_agents@@</td></tr></tbody></table>
<noscript><p>@@dash.noscript@@ <a href="/api/campaigns">/api/campaigns</a>.</p></noscript>
<script>
"use strict";
const SVG = "http://www.w3.org/2000/svg";
const LABELS = @@labels@@;
function label(id) { return Object.prototype.hasOwnProperty.call(LABELS, id) ? LABELS[id] : id; }
function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}
function bar(progress) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "progress");
  svg.setAttribute("width", "160");
  svg.setAttribute("height", "14");
  const bg = document.createElementNS(SVG, "rect");
  bg.setAttribute("width", "160"); bg.setAttribute("height", "14"); bg.setAttribute("fill", "#e2e8f0");
  const fg = document.createElementNS(SVG, "rect");
  fg.setAttribute("width", String(Math.round(160 * Math.max(0, Math.min(1, progress)))));
  fg.setAttribute("height", "14"); fg.setAttribute("fill", "#38a169");
  const title = document.createElementNS(SVG, "title");
  title.textContent = (progress * 100).toFixed(1) + " %";
  svg.appendChild(bg); svg.appendChild(fg); svg.appendChild(title);
  return svg;
}
function count(obj, key) { return obj && typeof obj[key] === "number" ? obj[key] : 0; }
function render(data) {
  const body = document.getElementById("rows");
  body.replaceChildren();
  if (!data.campaigns.length) {
    const tr = document.createElement("tr");
    cell(tr, "@@dash.no_campaigns@@", "muted").colSpan = 10;
    body.appendChild(tr);
  }
  for (const c of data.campaigns) {
    const tr = document.createElement("tr");
    tr.dataset.campaign = c.campaign;
    cell(tr, c.campaign + (c.title ? " — " + c.title : ""));
    cell(tr, label(c.kind));
    cell(tr, c.state_text, c.paused ? "paused" : "");
    const p = cell(tr, "");
    p.appendChild(bar(c.progress));
    p.appendChild(document.createTextNode(" " + c.done + "/" + c.contacts));
    cell(tr, String(c.contacts), "n");
    cell(tr, String(count(c.attempts, "total")), "n");
    cell(tr, String(count(c.attempts, "answered")), "n");
    cell(tr, String(c.talk_seconds), "n");
    cell(tr, Number(c.cost).toFixed(4), "n");
    const a = document.createElement("a");
    a.href = c.report_url;
    a.textContent = "@@dash.html_report@@";
    cell(tr, "").appendChild(a);
    body.appendChild(tr);
  }
  document.getElementById("updated").textContent = "@@dash.updated@@ " + new Date(data.generated_at).toLocaleString("@@lang@@");
}
function renderAgents(data) {
  const body = document.getElementById("agents");
  body.replaceChildren();
  for (const a of data.agents) {
    const tr = document.createElement("tr");
    tr.dataset.agent = a.name;
    cell(tr, a.name); cell(tr, a.team); cell(tr, a.extension);
    cell(tr, label(a.state) + (a.reason ? " (" + a.reason + ")" : ""));
    const s = a.seconds_in_state;
    cell(tr, s >= 60 ? Math.floor(s / 60) + " min " + (s % 60) + " s" : s + " s", "n");
    body.appendChild(tr);
  }
}
async function refresh() {
  fetch(location.origin + "/api/agents", { credentials: "same-origin", cache: "no-store" })
    .then(r => r.ok ? r.json() : null).then(d => { if (d) renderAgents(d); }).catch(() => {});
  try {
    // location.origin: a page opened as http://user:pass@host/ must not fetch with credentials
    // in the URL; the browser reuses the Basic credentials it already holds.
    const r = await fetch(location.origin + "/api/campaigns", { credentials: "same-origin", cache: "no-store" });
    if (r.ok) render(await r.json());
    else document.getElementById("updated").textContent = "@@dash.refresh_failed@@: HTTP " + r.status;
  } catch (e) {
    document.getElementById("updated").textContent = "@@dash.refresh_failed@@: " + e.message;
  }
}
refresh();
setInterval(refresh, 5000);
</script>
</body></html>
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_speaks_the_operators_language() {
        for lang in [crate::i18n::Lang::Es, crate::i18n::Lang::En] {
            let page = page_in(lang);
            assert!(!page.contains("@@"), "a key left: {page}");
            assert!(page.contains("const LABELS = {"));
        }
        for (i, part) in PAGE.split("@@").enumerate() {
            if i % 2 == 1 && !matches!(part, "labels" | "lang") {
                assert!(crate::i18n::has(part), "{part} is not in the catalogue");
            }
        }
        for state in crate::store::AGENT_STATES {
            assert!(crate::i18n::has(&format!("agent_state.{state}")), "{state}");
        }
        let es = page_in(crate::i18n::Lang::Es);
        assert!(es.contains("<h1>Campañas</h1>") && es.contains("\"sales\":\"ventas\""));
        assert!(es.contains("<html lang=\"es\">"));
        let en = page_in(crate::i18n::Lang::En);
        assert!(en.contains("<h1>Campaigns</h1>") && en.contains("Updated "));
    }

    fn basic(user_pass: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        );
        h.insert(header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn basic_credentials() {
        let pw = SecretString::from("s3cret:with colon");
        assert!(credentials_match(&basic("operator:s3cret:with colon"), &pw));
        assert!(!credentials_match(&basic("operator:s3cret"), &pw));
        assert!(!credentials_match(&basic("admin:s3cret:with colon"), &pw));
        assert!(!credentials_match(&HeaderMap::new(), &pw));
        let mut garbage = HeaderMap::new();
        garbage.insert(header::AUTHORIZATION, "Basic %%%".parse().unwrap());
        assert!(!credentials_match(&garbage, &pw));
    }

    #[test]
    fn failed_logins_earn_doubling_lockouts_per_source() {
        let t = LoginThrottle::default();
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "203.0.113.8".parse().unwrap();
        let mut now = 1_000_000;
        for n in 1..=FREE_FAILURES {
            assert_eq!(t.failed(a, now), (n, 0), "failure {n} is free");
            assert_eq!(t.wait_ms(a, now), None);
        }
        assert_eq!(t.failed(a, now), (6, 1000));
        assert_eq!(t.wait_ms(a, now), Some(1000));
        assert_eq!(t.wait_ms(b, now), None, "another source is not slowed");
        now += 1000;
        assert_eq!(t.wait_ms(a, now), None, "the lockout ends");
        assert_eq!(t.failed(a, now), (7, 2000));
        assert_eq!(t.failed(a, now), (8, 4000));
        for _ in 0..30 {
            t.failed(a, now);
        }
        assert_eq!(t.wait_ms(a, now), Some(MAX_LOCKOUT_MS), "capped");
        // A success clears the count; an hour of quiet forgets it.
        t.succeeded(a);
        assert_eq!(t.failed(a, now), (1, 0));
        assert_eq!(t.failed(a, now + FORGET_MS), (1, 0));
    }
}
