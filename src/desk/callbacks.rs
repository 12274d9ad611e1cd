//! The calls to return on the desk (`crate::callbacks`): an agent sees the open callback tasks
//! that are theirs (they last talked to the contact) and their team's, and marks one done once
//! they have called back.
//!
//! - `GET /desk/api/callbacks` → `{"callbacks": [{"id", "campaign", "title", "phone", "name",
//!   "called_at", "calls", "agent", "team", "mine", "call_back_at"}]}` (times in ms);
//! - `POST /desk/api/callbacks/done {"id"}` → 200; 404 when the task is not open or is neither
//!   the agent's nor their team's (nothing changes).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::web::{body_bytes, error, parse, post_session, session, DeskState};

fn unavailable(e: crate::store::StoreError) -> Response {
    tracing::error!("desk callbacks: {e}");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the database is not available",
    )
}

/// The agent's team ("" when the agent is gone or has none).
async fn team_of(st: &DeskState, agent: &str) -> Result<String, Response> {
    match st.desk.store.agent(agent).await {
        Ok(a) => Ok(a.map(|a| a.team).unwrap_or_default()),
        Err(e) => Err(unavailable(e)),
    }
}

pub(super) async fn list(State(st): State<Arc<DeskState>>, headers: HeaderMap) -> Response {
    let (_, s) = match session(&st, &headers).await {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let team = match team_of(&st, &s.agent).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let tasks = match st.desk.store.agent_callbacks(&s.agent, &team).await {
        Ok(t) => t,
        Err(e) => return unavailable(e),
    };
    let titles = st
        .campaigns
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let rows: Vec<serde_json::Value> = tasks
        .into_iter()
        .map(|t| {
            let title = titles
                .get(&t.campaign_id)
                .map(|c| c.title.clone())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| t.campaign_id.clone());
            json!({
                "id": t.id, "campaign": t.campaign_id, "title": title, "phone": t.phone,
                "name": t.name, "called_at": t.called_at, "calls": t.calls,
                "mine": t.agent.as_deref() == Some(s.agent.as_str()),
                "agent": t.agent, "team": t.team, "call_back_at": t.call_back_at,
            })
        })
        .collect();
    Json(json!({ "callbacks": rows })).into_response()
}

#[derive(Deserialize)]
struct Done {
    id: i64,
}

pub(super) async fn done(State(st): State<Arc<DeskState>>, req: Request) -> Response {
    let (_, s) = match post_session(&st, req.headers()).await {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let body = match body_bytes(req).await {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let d: Done = match parse(&body) {
        Ok(d) => d,
        Err(r) => return r.into_response(),
    };
    let team = match team_of(&st, &s.agent).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let now = st.desk.clock.now_ms();
    match st
        .desk
        .store
        .callback_done(d.id, &s.agent, &team, now)
        .await
    {
        Ok(true) => {
            tracing::info!(agent = %s.agent, callback = d.id, "callback task done");
            Json(json!({"ok": true, "id": d.id})).into_response()
        }
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            "no open callback task with this id for this agent or their team",
        ),
        Err(e) => unavailable(e),
    }
}
