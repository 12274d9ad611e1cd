//! Logs and spans: where a log line comes from.
//!
//! - Every HTTP request runs in a `request` span (`id`, `method`, `route`: the route's pattern,
//!   so a secret path segment never reaches the log); the control and inbound handlers add the
//!   provider's `call` ID to it.
//! - Every background task runs in a `task` span naming it (`dialer`, `notification outbox`,
//!   `folder watcher`, …); a call's launch runs in a `launch` span with the contact's id.
//! - `--log-format json` (or `PREGONERO_LOG_FORMAT=json`) writes one JSON object per line with
//!   the current span and its parents, for journald or a log shipper; `text` (the default) is
//!   for people.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line per event, spans as a prefix; colours on a terminal.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `target`, `span`, `spans`).
    Json,
}

/// Installs the global subscriber on standard error: `RUST_LOG` if set, else `default`.
pub fn init(format: LogFormat, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // A second call (tests) keeps the first subscriber.
    let _ =
        tracing::subscriber::set_global_default(subscriber(format, filter, ansi, std::io::stderr));
}

/// The subscriber [`init`] installs, writing to `writer`.
pub fn subscriber<W>(
    format: LogFormat,
    filter: tracing_subscriber::EnvFilter,
    ansi: bool,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.with_ansi(ansi).finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .finish(),
        ),
    }
}

/// The span of a background task.
pub fn task_span(name: &str) -> tracing::Span {
    tracing::info_span!("task", task = %name)
}

/// Middleware: runs the request in its `request` span.
pub async fn request_span(req: Request, next: Next) -> Response {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("(no route)", |p| p.as_str())
        .to_string();
    let span = tracing::info_span!(
        "request",
        id,
        method = %req.method(),
        route = %route,
        call = tracing::field::Empty,
    );
    next.run(req).instrument(span).await
}

/// Adds the provider's call ID to the current request's span (its first 40 characters: the
/// field comes from the network).
pub fn record_call(call_id: &str) {
    let shown = call_id
        .char_indices()
        .nth(40)
        .map_or(call_id, |(i, _)| &call_id[..i]);
    tracing::Span::current().record("call", shown);
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use axum::routing::post;
    use axum::Router;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Over real HTTP on a one-thread runtime (the subscriber is the thread's): a log line
    /// written while answering names its request span with the route's pattern (never the
    /// secret in the path) and the call ID, and one written by a watched task its task span.
    #[test]
    fn json_lines_carry_the_request_and_task_spans() {
        let out = Captured::default();
        let sink = out.clone();
        let sub = subscriber(
            LogFormat::Json,
            tracing_subscriber::EnvFilter::new("info"),
            false,
            move || sink.clone(),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tracing::subscriber::with_default(sub, || {
            rt.block_on(async {
                let app = Router::new()
                    .route(
                        "/apivoice/control/{secret}",
                        post(|| async {
                            record_call("1764842400.17");
                            tracing::info!("answered");
                            "{}"
                        }),
                    )
                    .layer(axum::middleware::from_fn(request_span));
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                tokio::spawn(async move { axum::serve(listener, app).await });
                let r = reqwest::Client::new()
                    .post(format!("http://{addr}/apivoice/control/s3cr3t-path"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                crate::liveness::Liveness::new()
                    .watch("dialer", async { tracing::info!("tick") })
                    .await;
            })
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("s3cr3t"), "{text}");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let answered = lines
            .iter()
            .find(|l| l["fields"]["message"] == "answered")
            .expect("the handler's line");
        let span = &answered["span"];
        assert_eq!(span["name"], "request", "{answered}");
        assert_eq!(span["route"], "/apivoice/control/{secret}", "{answered}");
        assert_eq!(span["method"], "POST");
        assert_eq!(span["call"], "1764842400.17");
        let tick = lines
            .iter()
            .find(|l| l["fields"]["message"] == "tick")
            .expect("the task's line");
        assert_eq!(tick["span"]["name"], "task", "{tick}");
        assert_eq!(tick["span"]["task"], "dialer", "{tick}");
    }
}
