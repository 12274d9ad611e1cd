//! The operator dashboard: `GET /` (live campaign progress), its JSON under `/api/`, and the
//! HTML reports under `/reports/{campaign}.html`. Read-only: nothing here changes the store.
//!
//! Guarantees: every route is behind HTTP Basic (`operator` + `[server].dashboard_password`),
//! compared in constant time over SHA-256 digests (neither content nor length leaks through
//! timing); without a password configured the dashboard does not exist (404, like any unknown
//! route); the password never reaches a log or a response.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::clock::SharedClock;
use crate::dialer::Campaigns;
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
}

/// The dashboard's routes.
pub fn router(state: DashboardState) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/campaigns", get(api_campaigns))
        .route("/api/campaigns/{id}", get(api_campaign))
        .route("/reports/{file}", get(html_report))
        .with_state(state)
}

fn digest(s: &[u8]) -> [u8; 32] {
    Sha256::digest(s).into()
}

/// Whether the request carries `operator` and the password. Constant time: both sides are
/// hashed first, so the comparison always covers 32 bytes.
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
    let (a, b) = (digest(&given), digest(&expected));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The response to send instead of the page, if any: 404 when the dashboard is off, 401 when
/// the credentials are missing or wrong.
fn denied(st: &DashboardState, headers: &HeaderMap) -> Option<Response> {
    let Some(password) = &st.password else {
        return Some(StatusCode::NOT_FOUND.into_response());
    };
    if credentials_match(headers, password) {
        return None;
    }
    Some(
        (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Basic realm=\"pregonero\", charset=\"UTF-8\"",
            )],
            "authentication required\n",
        )
            .into_response(),
    )
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
    let r = report::build(&st.store, Some(&row.id)).await?.remove(0);
    let waiting: i64 = r
        .states
        .0
        .iter()
        .filter(|(k, _)| crate::store::WAITING_STATES.contains(&k.as_str()))
        .map(|(_, v)| *v)
        .sum();
    let done = r.contacts - waiting;
    let mut v = serde_json::to_value(&r).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut v {
        m.insert("title".into(), json!(row.title));
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

async fn api_campaigns(State(st): State<DashboardState>, headers: HeaderMap) -> Response {
    if let Some(r) = denied(&st, &headers) {
        return r;
    }
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

async fn api_campaign(
    State(st): State<DashboardState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = denied(&st, &headers) {
        return r;
    }
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
    let (plan, tz) = plan_of(&st, &id);
    match report::compliance_report(&st.store, &id, plan.as_ref(), tz).await {
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

/// The campaign's schedule and zone as the daemon runs it.
fn plan_of(
    st: &DashboardState,
    id: &str,
) -> (Option<crate::campaign::plan::CampaignPlan>, chrono_tz::Tz) {
    let c = st
        .campaigns
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(id)
        .cloned();
    match c {
        Some(c) => (Some(c.plan.clone()), c.plan.tz),
        None => (None, st.default_tz),
    }
}

async fn html_report(
    State(st): State<DashboardState>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Response {
    if let Some(r) = denied(&st, &headers) {
        return r;
    }
    let Some(id) = file.strip_suffix(".html") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (plan, tz) = plan_of(&st, id);
    match report::html_report(&st.store, id, plan.as_ref(), tz, false, st.clock.now()).await {
        Ok(page) => Html(page).into_response(),
        Err(report::ReportError::UnknownCampaign(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => internal(e),
    }
}

async fn page(State(st): State<DashboardState>, headers: HeaderMap) -> Response {
    if let Some(r) = denied(&st, &headers) {
        return r;
    }
    ([(header::CACHE_CONTROL, "no-store")], Html(PAGE)).into_response()
}

/// The dashboard page. Data comes from `/api/campaigns` (every 5 s); the script builds the rows
/// with `textContent` only, so nothing from the data is ever parsed as markup.
const PAGE: &str = r##"<!DOCTYPE html>
<html lang="es"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>pregonero — campaigns</title>
<style>
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4em .6em;text-align:left}
th{background:#f3f3f3}td.n{text-align:right}.muted{color:#666}.paused{color:#c05621;font-weight:bold}
</style></head><body>
<h1>Campaigns</h1>
<p class="muted">Live progress, refreshed every 5 seconds. <span id="updated"></span></p>
<table><thead><tr><th>campaign</th><th>kind</th><th>state</th><th>progress</th><th class="n">contacts</th>
<th class="n">attempts</th><th class="n">answered</th><th class="n">talk (s)</th><th class="n">cost (€)</th><th>report</th></tr></thead>
<tbody id="rows"><tr><td colspan="10" class="muted">loading…</td></tr></tbody></table>
<noscript><p>This page needs JavaScript to refresh; the JSON is at <a href="/api/campaigns">/api/campaigns</a>.</p></noscript>
<script>
"use strict";
const SVG = "http://www.w3.org/2000/svg";
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
    cell(tr, "no campaigns yet", "muted").colSpan = 10;
    body.appendChild(tr);
  }
  for (const c of data.campaigns) {
    const tr = document.createElement("tr");
    tr.dataset.campaign = c.campaign;
    cell(tr, c.campaign + (c.title ? " — " + c.title : ""));
    cell(tr, c.kind);
    const state = c.paused ? "paused" + (c.paused_reason ? " (" + c.paused_reason + ")" : "")
      : (c.waiting > 0 ? "active" : "finished");
    cell(tr, state, c.paused ? "paused" : "");
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
    a.textContent = "HTML report";
    cell(tr, "").appendChild(a);
    body.appendChild(tr);
  }
  document.getElementById("updated").textContent = "Updated " + new Date(data.generated_at).toLocaleString();
}
async function refresh() {
  try {
    // location.origin: a page opened as http://user:pass@host/ must not fetch with credentials
    // in the URL; the browser reuses the Basic credentials it already holds.
    const r = await fetch(location.origin + "/api/campaigns", { credentials: "same-origin", cache: "no-store" });
    if (r.ok) render(await r.json());
    else document.getElementById("updated").textContent = "refresh failed: HTTP " + r.status;
  } catch (e) {
    document.getElementById("updated").textContent = "refresh failed: " + e.message;
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
}
