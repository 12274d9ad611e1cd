//! Persistence: one [`Store`] on SQLite (the embedded default) or PostgreSQL, chosen once from
//! the database URL. Backend differences live only in this folder.
//!
//! Shape:
//! - `records.rs`: what callers pass in and get back;
//! - `queries.rs`: the domain operations, written once. Most of their SQL is the same text on
//!   both backends (`$1` placeholders, `RETURNING`, `ON CONFLICT`, `CAST`), kept in `sql.rs`
//!   when a second path (the SQLite writer thread) runs it too;
//! - `sqlite.rs`, `sqlite_direct.rs`, `postgres.rs`: only what the dialect or the locking makes
//!   different: connecting and migrating, the import lock and the bulk import path (an index
//!   rebuild on SQLite, `COPY` on PostgreSQL), the claim's locking (SQLite's write lock,
//!   PostgreSQL's `SKIP LOCKED`), and the busy writes (SQLite: group commit on a writer
//!   thread of its own; PostgreSQL: sets of rows through `UNNEST`);
//! - `migrations/{sqlite,postgres}`: one folder per backend, with equal version numbers.
//!
//! Guarantees every caller relies on:
//! - an attempt row exists (status `launching`) before the provider is asked to dial it;
//! - claiming due contacts is atomic: no contact is claimed by two loops at once;
//! - closing an attempt is idempotent: a second description of the same call (control request
//!   and report line) never counts it twice;
//! - contact state transitions happen in the same transaction as the attempt change behind them.

mod callbacks;
mod capture;
mod cluster;
mod consent;
mod desk;
mod events;
mod exclusion;
mod file_lock;
mod inbound;
mod live;
mod postgres;
mod queries;
mod records;
mod report_reads;
mod sql;
mod sqlite;
mod sqlite_direct;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_callbacks;
#[cfg(test)]
mod tests_capture;
#[cfg(test)]
mod tests_desk;
#[cfg(test)]
mod tests_events;
#[cfg(test)]
mod tests_exclusion;
#[cfg(test)]
mod tests_live;
#[cfg(test)]
mod tests_reports;
#[cfg(test)]
mod tests_transfer;
mod transfer;

use std::collections::{BTreeMap, HashMap};

pub use callbacks::{CallbackTask, Finished, InboundEnd, NewCallback, REARMABLE, TAKEN};
pub use capture::{CaptureRow, CaptureWrite};
pub use desk::{Agent, AgentStats, DispositionResult, DispositionRow, AGENT_STATES};

pub use events::{Delivery, EventOutboxRow, EventTarget, EVENT_TYPES};
pub use inbound::{InboundCall, InboundMatch, NewInbound};
pub use live::{DeskSession, LiveListener, LiveReceived};
pub use postgres::PgStore;
pub use queries::ClaimCaps;
pub use records::*;
pub use report_reads::{ContactRows, InboundCounts};
pub use sqlite::SqliteStore;
pub use transfer::TransferFacts;

use crate::schedule::{AttemptResult, ContactState, NextState, RetryPolicy};

/// Store errors. User-facing messages never include the database password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL must start with sqlite:// or postgres://")]
    UnknownScheme,
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// An error of the SQLite writer's direct path (`sqlite_direct`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A group transaction failed as a whole; every write in it shares this message.
    #[error("database error: {0}")]
    Write(String),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("file {0} has no import in progress in this process (begin_import first)")]
    NoImport(i64),
    #[error("another pregonero daemon already runs on the SQLite database {0}: one daemon per SQLite file (several daemons share one PostgreSQL database instead)")]
    DaemonRunning(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Rows per multi-row INSERT.
pub(crate) const INSERT_CHUNK: usize = 500;

/// The store in use, SQLite or PostgreSQL. Callers use its operations (`queries.rs`) and
/// never match on the variant.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Runs `$body` once per backend with `$db` the pool to read from (and `$dialect` the backend's
/// module of SQL that differs, when named). The body is written once and compiled for each.
macro_rules! with_reader {
    ($store:expr, |$db:ident $(, $dialect:ident)?| $body:expr) => {
        match $store {
            Store::Sqlite(s) => {
                $(use crate::store::sqlite::dialect as $dialect;)?
                let $db = &s.pool;
                $body
            }
            Store::Postgres(s) => {
                $(use crate::store::postgres::dialect as $dialect;)?
                let $db = &s.pool;
                $body
            }
        }
    };
}

/// [`with_reader!`] for a write: on SQLite `$db` is the writer connection, held (with this
/// process's write lock) until the body ends; on PostgreSQL the pool.
macro_rules! with_writer {
    ($store:expr, |$db:ident $(, $dialect:ident)?| $body:expr) => {
        match $store {
            Store::Sqlite(s) => {
                $(use crate::store::sqlite::dialect as $dialect;)?
                let writer = s.writer().await;
                let $db = &*writer;
                $body
            }
            Store::Postgres(s) => {
                $(use crate::store::postgres::dialect as $dialect;)?
                let $db = &s.pool;
                $body
            }
        }
    };
}

/// `$query` with `$arg`s bound in order (`sqlx::query(…)` then `.bind(a)`, `.bind(b)`…).
macro_rules! bind {
    ($query:expr $(, $arg:expr)* $(,)?) => {
        $query $(.bind($arg))*
    };
}

/// Every row of `$sql` (with its arguments bound in order) as records of `$ty`.
macro_rules! fetch_all {
    ($store:expr, $ty:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        Ok(with_reader!($store, |db| sqlx::query_as::<_, $ty>($sql)
            $(.bind($arg))*
            .fetch_all(db)
            .await?))
    };
}

/// Runs `$sql` (arguments bound in order) on the writer: the rows it changed.
macro_rules! execute {
    ($store:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        with_writer!($store, |db| sqlx::query($sql)
            $(.bind($arg))*
            .execute(db)
            .await?
            .rows_affected())
    };
}

/// The ordinary import path on `$db` (SQLite's writer, or PostgreSQL's import connection): a
/// batch of contacts in one transaction, in multi-row inserts of `$chunk` rows (well under both
/// engines' bound parameter limits); numbers already in the campaign are skipped
/// (first one wins). Returns how many were inserted. `$mark` writes the `i`th placeholder: `?` on
/// SQLite, whose parser looks a `$N` up among the statement's names (thousands of them made the
/// import twenty times slower), `$N` on PostgreSQL.
macro_rules! insert_batch {
    ($db:expr, $mark:expr, $chunk:expr, $campaign:expr, $file_id:expr, $contacts:expr, $now:expr) => {{
        let mut tx = $db.begin().await?;
        let mut inserted = 0;
        for chunk in $contacts.chunks($chunk) {
            let rows: Vec<String> = (0..chunk.len() * 9)
                .step_by(9)
                .map(|p| {
                    let n: Vec<String> = (p + 1..=p + 9).map($mark).collect();
                    format!("({}, 'pending', {})", n[..7].join(", "), n[7..].join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO contacts (campaign_id, file_id, phone, name, vars, timezone, appointment_at, state, next_at, updated_at)
                 VALUES {} ON CONFLICT DO NOTHING",
                rows.join(", ")
            );
            // Only the full-size statement is worth keeping prepared: the last chunk of each
            // batch has its own length, and a cache of those (a big program each) grew the
            // import's memory by tens of megabytes.
            let mut q = sqlx::query(&sql).persistent(chunk.len() == $chunk);
            for c in chunk {
                q = q.bind($campaign).bind($file_id).bind(&c.phone).bind(&c.name).bind(&c.vars);
                q = q.bind(&c.timezone).bind(c.appointment_at).bind($now).bind($now);
            }
            inserted += q.execute(&mut *tx).await?.rows_affected();
        }
        bind!(sqlx::query(sql::ADD_IMPORTED), inserted as i64, $file_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        inserted
    }};
}
pub(crate) use {bind, execute, fetch_all, insert_batch, with_reader, with_writer};

impl Store {
    /// Connects to the database named by the URL and applies the migrations of the backend's
    /// folder.
    pub async fn connect(url: &str) -> Result<Store> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(SqliteStore::connect(url).await?))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Store::Postgres(PgStore::connect(url).await?))
        } else {
            Err(StoreError::UnknownScheme)
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Imports a whole (small) file: records it, inserts its contacts, marks it complete.
    pub async fn import_contacts(
        &self,
        campaign: &str,
        file: &FileImport,
        contacts: &[ContactRecord],
        now: i64,
    ) -> Result<ImportResult> {
        let Some(file_id) = self.begin_import(campaign, file, now).await? else {
            return Ok(ImportResult {
                already_imported: true,
                inserted: 0,
                existing: 0,
            });
        };
        let inserted = match self.insert_contacts(campaign, file_id, contacts, now).await {
            Ok(n) => n,
            Err(e) => {
                self.abort_import(file_id).await?;
                return Err(e);
            }
        };
        let record = self.finish_import(file_id, file).await?;
        // Rows PostgreSQL's bulk path staged but did not write (a number twice).
        let unwritten = u64::try_from(record.duplicates)
            .unwrap_or(0)
            .saturating_sub(file.duplicates);
        let inserted = inserted.saturating_sub(unwritten);
        Ok(ImportResult {
            already_imported: false,
            inserted,
            existing: contacts.len() as u64 - inserted,
        })
    }

    /// Taken by `pregonero run` before it works: on SQLite, a lock that a second daemon on the
    /// same file cannot take ([`StoreError::DaemonRunning`]); kept for the daemon's life (the
    /// returned guard). PostgreSQL is shared by several daemons: nothing to hold.
    pub fn lock_for_daemon(&self) -> Result<Option<std::fs::File>> {
        match self {
            Store::Sqlite(s) => s.lock_for_daemon(),
            Store::Postgres(_) => Ok(None),
        }
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Postgres(s) => s.pool.close().await,
        }
    }
}

/// A gate that launches every due contact (tests, tools).
pub fn launch_all(_: &Candidate) -> Gate {
    Gate::Launch
}

/// What closing an attempt reads of its contact (`sql::CONTACT_TO_MOVE`).
#[derive(sqlx::FromRow)]
pub(crate) struct ContactToMove {
    pub attempts: i64,
    pub last_result: Option<String>,
    /// How many attempts in a row ended with `last_result`.
    pub result_streak: i64,
    pub appointment_at: Option<i64>,
}

/// Decides the contact's next state inside `close_attempt`, the same way on both backends,
/// and the new result streak.
pub(crate) fn next_state_for(
    policy: &RetryPolicy,
    contact: &ContactToMove,
    close: &AttemptClose,
    outcome: Option<&str>,
) -> (NextState, i64) {
    let previous = contact
        .last_result
        .as_deref()
        .and_then(AttemptResult::parse);
    let streak = match previous == Some(close.result) {
        true => contact.result_streak.max(0) + 1,
        false => 1,
    };
    let facts = crate::schedule::AttemptFacts {
        attempts: contact.attempts.max(0) as u32,
        result: close.result,
        previous,
        streak: streak as u32,
        // An outcome the flow did not write (an older or foreign row) counts as none.
        outcome: outcome.and_then(ContactState::parse),
        deadline: contact.appointment_at,
    };
    (
        crate::schedule::after_attempt(policy, &facts, close.ended_at),
        streak,
    )
}

/// An attempt a report line names, as the backend read it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ReportAttempt {
    /// The provider's call id the line names.
    pub call_id: String,
    pub attempt_id: i64,
    pub campaign_id: String,
    pub status: String,
    /// A start request came.
    pub answered: bool,
    /// The contact's number: a line to another number is a transfer's leg.
    pub phone: String,
}

/// What a report chunk's lines found, per backend query: the attempts they name, by call id.
pub(crate) type ReportAttempts = HashMap<String, ReportAttempt>;

/// The (call id, start, destination) key of a report line.
pub(crate) type ReportKey = (String, String, String);

/// The per-line results of a report chunk, in order, and the attempts that got a new line
/// (their cost and billed seconds to recount). `is_new` says whether the line's key was
/// inserted now; it is asked once per line, so a repeat within the chunk can say no.
pub(crate) fn report_results<'a>(
    lines: &'a [ReportLine],
    attempts: &ReportAttempts,
    mut is_new: impl FnMut(ReportKey) -> bool,
) -> (Vec<ReportLineApplied>, Vec<(i64, &'a str)>) {
    let mut out = Vec::with_capacity(lines.len());
    let mut touched: Vec<(i64, &str)> = Vec::new();
    for line in lines {
        let new = is_new((
            line.provider_call_id.clone(),
            line.startdate.clone(),
            line.dst.clone(),
        ));
        let attempt = attempts.get(&line.provider_call_id);
        if let (true, Some(a)) = (new, attempt) {
            let call = (a.attempt_id, line.provider_call_id.as_str());
            if !touched.contains(&call) {
                touched.push(call);
            }
        }
        out.push(ReportLineApplied {
            new,
            attempt: attempt.map(|a| LineAttempt {
                attempt_id: a.attempt_id,
                campaign_id: a.campaign_id.clone(),
                open: a.status == "launching" || a.status == "ringing",
            }),
            answered: attempt.is_some_and(|a| a.answered),
            callee_leg: attempt.is_none_or(|a| crate::provider::is_callee_leg(&line.dst, &a.phone)),
        });
    }
    (out, touched)
}

/// How many due rows a claim reads to find `limit` launchable ones (the gate may defer some).
pub(crate) fn candidate_window(limit: u32) -> i64 {
    (limit as i64).saturating_mul(4).clamp(16, 1000)
}

#[cfg(test)]
pub(crate) fn vars_to_json(vars: &BTreeMap<String, String>) -> String {
    serde_json::to_string(vars).unwrap_or_else(|_| "{}".into())
}

pub(crate) fn vars_from_json(text: &str) -> BTreeMap<String, String> {
    serde_json::from_str(text).unwrap_or_default()
}
