//! A small round-robin HTTP proxy, to try several daemons on one machine (`pregonero proxy`,
//! `scripts/cluster`, the cluster test and benchmark): what nginx or a cloud load balancer does
//! in front of two VMs (`docs/deploy.md`), reduced to what the provider's requests and the desk
//! need.
//!
//! Guarantees: each request goes to the next backend in turn; a backend that refuses the
//! connection (a daemon that died) is skipped and the request goes to the next one, so a dead
//! daemon costs no request that had not reached it; a request that reached a backend is never
//! sent twice (the provider's requests are not idempotent); responses stream through (the desk's
//! Server-Sent Events); `X-Forwarded-For` carries the client's address (set
//! `[server] trusted_proxies = ["127.0.0.1"]` on the daemons behind it).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};

/// The largest request body passed on (the daemon's own limits are lower).
const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// Headers of one hop, never passed on (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

struct Proxy {
    backends: Vec<SocketAddr>,
    next: AtomicUsize,
    client: reqwest::Client,
}

/// Serves on `listener` until `stop` resolves, passing requests to `backends` in turn.
pub async fn serve(
    listener: tokio::net::TcpListener,
    backends: Vec<SocketAddr>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if backends.is_empty() {
        return Err(crate::i18n::UserError::new(crate::i18n::Msg::new("proxy.no_backend")).into());
    }
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let state = Arc::new(Proxy {
        backends,
        next: AtomicUsize::new(0),
        client,
    });
    let app = axum::Router::new().fallback(forward).with_state(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop)
    .await?;
    Ok(())
}

fn passed_on(name: &HeaderName) -> bool {
    !HOP_BY_HOP.contains(&name.as_str()) && name != "host" && name != "content-length"
}

async fn forward(
    State(proxy): State<Arc<Proxy>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut headers = HeaderMap::new();
    for (name, value) in parts.headers.iter().filter(|(n, _)| passed_on(n)) {
        headers.append(name, value.clone());
    }
    let forwarded = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(before) => format!("{before}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    if let Ok(v) = forwarded.parse() {
        headers.insert("x-forwarded-for", v);
    }
    let n = proxy.backends.len();
    let first = proxy.next.fetch_add(1, Ordering::Relaxed);
    for i in 0..n {
        let backend = proxy.backends[(first + i) % n];
        let sent = proxy
            .client
            .request(parts.method.clone(), format!("http://{backend}{path}"))
            .headers(headers.clone())
            .body(Bytes::clone(&body))
            .send()
            .await;
        match sent {
            Ok(reply) => return relay(reply),
            // Refused before anything was sent: the next backend gets the request.
            Err(e) if e.is_connect() => continue,
            // The URL holds the webhook secret (the path's last segment): never logged.
            Err(e) => {
                tracing::warn!(%backend, "backend failed: {}", e.without_url());
                return (StatusCode::BAD_GATEWAY, "backend failed").into_response();
            }
        }
    }
    (StatusCode::BAD_GATEWAY, "no backend is up").into_response()
}

fn relay(reply: reqwest::Response) -> Response {
    let mut out = Response::builder().status(reply.status());
    if let Some(h) = out.headers_mut() {
        for (name, value) in reply.headers().iter().filter(|(n, _)| passed_on(n)) {
            h.append(name, value.clone());
        }
    }
    let chunks = futures_util::stream::unfold(Some(reply), |reply| async move {
        let mut reply = reply?;
        match reply.chunk().await {
            Ok(Some(chunk)) => Some((Ok::<_, reqwest::Error>(chunk), Some(reply))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    });
    out.body(Body::from_stream(chunks))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;

    async fn backend(name: &'static str) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route(
            "/echo",
            post(move |headers: HeaderMap, body: String| async move {
                let from = headers
                    .get("x-forwarded-for")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                format!("{name}:{from}:{body}")
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    /// Requests alternate between the backends; a dead backend is skipped; the body and the
    /// client's address get through.
    #[tokio::test]
    async fn round_robin_skips_a_dead_backend() {
        let a = backend("a").await;
        let b = backend("b").await;
        // A port nothing listens on: bound, then let go.
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let front = listener.local_addr().unwrap();
        tokio::spawn(serve(
            listener,
            vec![a, dead, b],
            std::future::pending::<()>(),
        ));
        let client = reqwest::Client::new();
        let mut seen = Vec::new();
        for i in 0..6 {
            let text = client
                .post(format!("http://{front}/echo"))
                .body(format!("n{i}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(text.ends_with(&format!(":127.0.0.1:n{i}")), "{text}");
            seen.push(text.split(':').next().unwrap_or_default().to_string());
        }
        assert!(seen.iter().filter(|s| *s == "a").count() >= 2, "{seen:?}");
        assert!(seen.iter().filter(|s| *s == "b").count() >= 2, "{seen:?}");
        assert_eq!(seen.len(), 6);
    }
}
