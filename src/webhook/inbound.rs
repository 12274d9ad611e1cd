//! `POST /apivoice/inbound/{secret}`: callees calling back the number that called them
//! (`apivoice.md` 2b), answered by the call service (`crate::service`), with the control URL's
//! defences (secret, `api`, source allowlist, body limit, timeout: the route shares the control
//! URL's layers). A forged request (wrong secret: 404; another `api` or a call id that is not
//! the inbound call's: 403) changes nothing.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::Response;

use crate::webhook::{
    bad_request, control_request, not_found, respond, secret_matches, WebhookState,
};

pub(crate) async fn inbound(
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
    let reply = st.service.inbound(&req).await;
    respond(reply, &req, "inbound request failed")
}
