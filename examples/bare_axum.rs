//! The reference for the control-URL benchmark (`scripts/bench`): a bare axum handler that
//! reads the request body and answers one fixed command, on the same runtime settings as the
//! daemon. `cargo run --release --example bare_axum -- 127.0.0.1:9999`

use axum::body::Bytes;
use axum::routing::post;
use axum::Router;

async fn handler(body: Bytes) -> ([(&'static str, &'static str); 1], &'static str) {
    let _ = body.len();
    (
        [("content-type", "application/json")],
        r#"{"command":"hangup","options":"","userfield":"bare"}"#,
    )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9999".to_string());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let app = Router::new().route("/{*path}", post(handler));
    axum::serve(listener, app).await
}
