//! The references for the control-URL benchmark (`scripts/bench`), on the same runtime settings
//! as the daemon:
//!
//! - `bare_axum ADDR`: a bare axum handler that reads the request body and answers one fixed
//!   command; no I/O at all (issue 7's reference).
//! - `bare_axum ADDR FILE.db`: the same handler, storing each request before it answers, the
//!   straightforward way: one `INSERT` through an sqlx SQLite pool (WAL, `synchronous =
//!   NORMAL`, one writer connection), committed on its own. What "stored before the reply"
//!   costs without group commit.
//!
//! `cargo run --release --example bare_axum -- 127.0.0.1:9999 [/tmp/ref.db]`

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

type Reply = ([(&'static str, &'static str); 1], &'static str);

const COMMAND: &str = r#"{"command":"hangup","options":"","userfield":"bare"}"#;

async fn handler(body: Bytes) -> Reply {
    let _ = body.len();
    ([("content-type", "application/json")], COMMAND)
}

async fn storing(State(pool): State<SqlitePool>, body: Bytes) -> Result<Reply, &'static str> {
    sqlx::query("INSERT INTO requests (body) VALUES (?)")
        .bind(String::from_utf8_lossy(&body).into_owned())
        .execute(&pool)
        .await
        .map_err(|_| "not stored")?;
    Ok(([("content-type", "application/json")], COMMAND))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9999".to_string());
    let app = match args.next() {
        None => Router::new().route("/{*path}", post(handler)),
        Some(file) => {
            let options = SqliteConnectOptions::from_str(&format!("sqlite://{file}"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS requests (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
            )
            .execute(&pool)
            .await?;
            Router::new()
                .route("/{*path}", post(storing))
                .with_state(pool)
        }
    };
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
