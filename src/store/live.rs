//! What reaches every daemon of several on one database at once (migration 0017): the desk's
//! sessions, and the live messages (desk events, dashboard changes) that each daemon passes to
//! the pages connected to it. Written once for both backends where the SQL is the same.
//!
//! Live messages: on PostgreSQL a message is a notification on one channel (`pg_notify`) that
//! every daemon's [`LiveListener`] receives, the sender's included. A notification's payload
//! must stay under 8000 bytes: a larger message is stored in `live_messages` and the
//! notification carries `@<id>`, read back by the listener (rows are pruned after a few
//! minutes). On SQLite one daemon holds the file: there is no listener and nothing is sent,
//! the caller delivers in process ([`Store::live_publish`] says so).
//!
//! Guarantees: a session is found only by its token's SHA-256, never the token; an agent has at
//! most one session row (a login replaces it in one statement).

use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::Row;

use super::*;

/// The PostgreSQL channel of live messages (per database).
const CHANNEL: &str = "pregonero_live";
/// The largest payload sent as is; PostgreSQL refuses 8000 bytes and more.
pub const NOTIFY_LIMIT: usize = 7900;
/// Stored oversize messages older than this are pruned.
const KEEP_MS: i64 = 5 * 60 * 1000;

/// A desk session as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeskSession {
    pub agent: String,
    /// Sent back in the `X-CSRF-Token` header of every POST.
    pub csrf: String,
    /// Names the session in live messages (random).
    #[sqlx(rename = "session_id")]
    pub id: String,
}

/// What [`LiveListener::recv`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveReceived {
    /// One message, whole.
    Message(String),
    /// The connection was lost and is back: messages sent meanwhile are gone.
    Reconnected,
}

/// One daemon's subscription to the live messages of every daemon (PostgreSQL).
pub struct LiveListener {
    listener: PgListener,
    store: Store,
}

impl LiveListener {
    /// The next message, whole (a stored one read back); `Err` when the connection is down
    /// and could not be made again (call again later).
    pub async fn recv(&mut self) -> Result<LiveReceived> {
        let Some(n) = self.listener.try_recv().await? else {
            return Ok(LiveReceived::Reconnected);
        };
        let payload = n.payload();
        let Some(id) = payload.strip_prefix('@') else {
            return Ok(LiveReceived::Message(payload.to_string()));
        };
        let id: i64 = id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("live notification {payload:?}")))?;
        let stored: Option<String> = with_reader!(&self.store, |db| sqlx::query_scalar(
            "SELECT payload FROM live_messages WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(db)
        .await?);
        stored
            .map(LiveReceived::Message)
            .ok_or_else(|| StoreError::Corrupt(format!("live message {id} is gone")))
    }
}

impl Store {
    /// Starts listening to every daemon's live messages: `None` on SQLite (one daemon, nothing
    /// to listen to). The listener has a connection of its own, outside the store's pool.
    pub async fn live_listen(&self) -> Result<Option<LiveListener>> {
        let Store::Postgres(s) = self else {
            return Ok(None);
        };
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(s.pool.connect_options().as_ref().clone());
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(LiveListener {
            listener,
            store: self.clone(),
        }))
    }

    /// Sends a live message to every daemon's listener: false on SQLite, where nothing is sent
    /// and the caller delivers it in process.
    pub async fn live_publish(&self, payload: &str, now: i64) -> Result<bool> {
        let Store::Postgres(s) = self else {
            return Ok(false);
        };
        let note = if payload.len() > NOTIFY_LIMIT {
            let id: i64 =
                bind!(sqlx::query_scalar(
                "INSERT INTO live_messages (payload, created_at) VALUES ($1, $2) RETURNING id",
            ), payload, now)
                .fetch_one(&s.pool)
                .await?;
            format!("@{id}")
        } else {
            payload.to_string()
        };
        bind!(sqlx::query("SELECT pg_notify($1, $2)"), CHANNEL, note)
            .execute(&s.pool)
            .await?;
        Ok(true)
    }

    /// Deletes the stored live messages older than a few minutes (they hold screen pops:
    /// customers' data); every daemon calls it now and then.
    pub async fn live_prune(&self, now: i64) -> Result<u64> {
        Ok(execute!(
            self,
            "DELETE FROM live_messages WHERE created_at < $1",
            now - KEEP_MS
        ))
    }

    /// Opens `agent`'s session, replacing any other one of theirs everywhere.
    pub async fn desk_session_open(
        &self,
        agent: &str,
        token_hash: &str,
        csrf: &str,
        session_id: &str,
        now: i64,
    ) -> Result<()> {
        execute!(
            self,
            "INSERT INTO desk_sessions (agent, token_hash, csrf, session_id, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (agent) DO UPDATE SET token_hash = excluded.token_hash,
                 csrf = excluded.csrf, session_id = excluded.session_id,
                 created_at = excluded.created_at",
            agent,
            token_hash,
            csrf,
            session_id,
            now
        );
        Ok(())
    }

    /// The session of the token whose SHA-256 is `token_hash`, unless its agent is gone or
    /// their page was last heard from before `seen_since` (and the login too).
    pub async fn desk_session(
        &self,
        token_hash: &str,
        seen_since: i64,
    ) -> Result<Option<DeskSession>> {
        Ok(with_reader!(self, |db| bind!(
            sqlx::query_as::<_, DeskSession>(
                "SELECT s.agent, s.csrf, s.session_id FROM desk_sessions s
             JOIN agents a ON a.name = s.agent
             WHERE s.token_hash = $1
               AND (s.created_at >= $2 OR COALESCE(a.last_seen, 0) >= $2)"
            ),
            token_hash,
            seen_since
        )
        .fetch_optional(db)
        .await?))
    }

    /// Ends the session of that token hash (logout): its agent and session id, if it existed.
    pub async fn desk_session_close(&self, token_hash: &str) -> Result<Option<(String, String)>> {
        with_writer!(self, |db| {
            let row = sqlx::query(
                "DELETE FROM desk_sessions WHERE token_hash = $1 RETURNING agent, session_id",
            )
            .bind(token_hash)
            .fetch_optional(db)
            .await?;
            Ok(row.map(|r| (r.get("agent"), r.get("session_id"))))
        })
    }
}
