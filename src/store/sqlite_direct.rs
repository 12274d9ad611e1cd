//! The SQLite writer's busy paths, on a connection of their own stepped on the calling thread.
//!
//! sqlx runs each SQLite connection on a worker thread of its own, and every statement (and
//! every row a statement returns) is a hand-off to that thread and back: two thread switches.
//! perf on the daemon under load showed those switches as most of its CPU, with the SQL itself
//! a few per cent. The writes that come by the thousand (control events, launch results, call
//! ends, report lines) therefore go through [`Direct`]: a rusqlite connection to the same file,
//! used only under this process's write lock, which every sqlx write takes too, so the two
//! never write at once and writers still queue in one line. Its
//! statements stay prepared for the life of the store; a schema change (an import dropping and
//! rebuilding an index) makes SQLite prepare them again by itself. The SQL, the transaction
//! boundaries and the results are the same as through sqlx; no thread switch is left.
//!
//! An in-memory database (no file a second connection could open) borrows the sqlx writer's
//! own handle instead (`lock_handle`), one hand-off per transaction.
//!
//! Everything here is synchronous and short (a group of control writes, or a chunk of report
//! lines); nothing awaits while a connection is in use.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use sqlx::SqlitePool;

use super::sql;
use super::{
    next_state_for, report_results, AttemptClose, CallEvent, CloseJob, ContactToMove, NextState,
    Progress, ReportAttempt, ReportAttempts, ReportLine, ReportLineApplied, Result, StoreError,
};

/// The direct writer connection (see the module's documentation).
#[derive(Debug)]
pub(super) struct Direct {
    /// `None` for an in-memory database: the sqlx writer's handle is borrowed instead.
    own: Option<Mutex<Connection>>,
    /// This process's write lock: held by every write, direct or through sqlx, so they run
    /// one at a time and in the order they asked (tokio's mutex is fair). The sqlx writer pool
    /// has one connection too, but giving it back pings it (a hand-off to its thread), which
    /// the direct path, taking only this lock, never pays.
    lock: tokio::sync::Mutex<()>,
    /// The database file; `None` in memory.
    pub(super) path: Option<std::path::PathBuf>,
}

/// The sqlx writer pool with this process's write lock held (see [`Direct::hold`]).
pub(super) struct WriterGuard<'a> {
    pool: &'a SqlitePool,
    _lock: tokio::sync::MutexGuard<'a, ()>,
}

impl std::ops::Deref for WriterGuard<'_> {
    type Target = SqlitePool;
    fn deref(&self) -> &SqlitePool {
        self.pool
    }
}

impl Direct {
    /// Opens the direct connection to the file the sqlx writer has open, with the writer's
    /// settings: `synchronous = NORMAL`, foreign keys on, the same busy timeout, and no
    /// checkpoint inside a commit (the store's checkpoint task does it beside the writer).
    pub(super) async fn open(writer: &SqlitePool, busy: Duration) -> Result<Direct> {
        let path = borrowed(writer, |db| {
            Ok(db.path().filter(|p| !p.is_empty()).map(str::to_string))
        })
        .await?;
        let Some(path) = path else {
            return Ok(Direct {
                own: None,
                lock: tokio::sync::Mutex::new(()),
                path: None,
            });
        };
        let db = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        db.busy_timeout(busy)?;
        db.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;",
        )?;
        db.set_prepared_statement_cache_capacity(32);
        Ok(Direct {
            own: Some(Mutex::new(db)),
            lock: tokio::sync::Mutex::new(()),
            path: Some(path.into()),
        })
    }

    /// Whether this store borrows the sqlx writer's handle (an in-memory database).
    #[cfg(test)]
    pub(super) fn borrows(&self) -> bool {
        self.own.is_none()
    }

    /// The sqlx writer pool, for a write through sqlx, with the write lock held.
    pub(super) async fn hold<'a>(&'a self, writer: &'a SqlitePool) -> WriterGuard<'a> {
        WriterGuard {
            pool: writer,
            _lock: self.lock.lock().await,
        }
    }

    /// Runs `f` on the direct connection with this process's write lock held.
    pub(super) async fn run<T>(
        &self,
        writer: &SqlitePool,
        f: impl FnOnce(&Connection) -> Result<T>,
    ) -> Result<T> {
        let _lock = self.lock.lock().await;
        let Some(own) = &self.own else {
            return borrowed(writer, f).await;
        };
        // A panic inside `f` rolled its transaction back while unwinding (rusqlite's
        // `Transaction` drop), so a poisoned lock guards a connection in a clean state.
        let db = own.lock().unwrap_or_else(|e| e.into_inner());
        f(&db)
    }
}

/// Runs `f` on the sqlx writer connection's own SQLite handle, on this thread.
async fn borrowed<T>(writer: &SqlitePool, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    let mut conn = writer.acquire().await?;
    let mut locked = conn.lock_handle().await?;
    let raw = locked.as_raw_handle();
    // SAFETY: while `locked` lives, sqlx's worker thread makes no call on this handle or its
    // statements, and `locked` outlives `db` (dropped first, below). `from_handle` does not
    // take ownership: dropping `db` finalizes only the statements it prepared (sqlx's close
    // would fail on any left) and leaves the connection open for sqlx. rusqlite and sqlx link
    // the same libsqlite3-sys (one `links = "sqlite3"` in the build).
    let db = unsafe { Connection::from_handle(raw.as_ptr()) }?;
    let out = f(&db);
    drop(db);
    drop(locked);
    out
}

/// Runs `f` in one transaction: committed when it returns `Ok`, rolled back otherwise.
pub(super) fn in_transaction<T>(
    db: &Connection,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    // Immediate: the write lock is taken at once (another process, `pregonero import`, may hold
    // it; the busy timeout waits for it), never half-way through.
    let tx = rusqlite::Transaction::new_unchecked(db, TransactionBehavior::Immediate)?;
    let out = f(&tx)?;
    tx.commit()?;
    Ok(out)
}

/// Runs `f` under a savepoint: on an error its writes are undone and the transaction goes on,
/// so one bad write in a group fails only its own caller.
pub(super) fn savepoint<T>(db: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    db.prepare_cached("SAVEPOINT one_write")?.execute([])?;
    match f(db) {
        Ok(v) => {
            db.prepare_cached("RELEASE one_write")?.execute([])?;
            Ok(v)
        }
        Err(e) => {
            db.prepare_cached("ROLLBACK TO one_write")?.execute([])?;
            db.prepare_cached("RELEASE one_write")?.execute([])?;
            Err(e)
        }
    }
}

/// A control request's event, and what it taught about its attempt (answer, outcome, keys,
/// survey answers).
pub(super) fn record_event(
    db: &Connection,
    e: &CallEvent,
    progress: Option<&Progress>,
) -> Result<()> {
    db.prepare_cached(sql::INSERT_EVENT)?.execute(params![
        e.attempt_id,
        e.provider_call_id,
        e.kind,
        e.command,
        e.dtmf,
        e.statuscall,
        e.fields,
        e.received_at
    ])?;
    let Some(attempt_id) = e.attempt_id else {
        return Ok(());
    };
    let default = Progress::default();
    let p = progress.unwrap_or(&default);
    db.prepare_cached(sql::PROVE_LAUNCHED)?
        .execute(params![e.received_at, attempt_id])?;
    db.prepare_cached(sql::EVENT_PROGRESS)?.execute(params![
        e.provider_call_id,
        p.answered,
        e.received_at,
        p.outcome,
        p.dtmf,
        attempt_id
    ])?;
    // Survey answers per question, the last answer of a question winning.
    for (question, answer) in &p.answers {
        db.prepare_cached(sql::SURVEY_ANSWER)?.execute(params![
            question,
            answer,
            e.received_at,
            attempt_id
        ])?;
    }
    Ok(())
}

/// Outbox rows the receivers accepted (see `Store::deliveries_done`).
pub(super) fn mark_delivered(db: &Connection, ids: &[i64], now: i64) -> Result<()> {
    let mut mark = db.prepare_cached(
        "UPDATE notify_outbox SET delivered_at = ?1, last_error = NULL
         WHERE id = ?2 AND delivered_at IS NULL",
    )?;
    for id in ids {
        mark.execute(params![now, id])?;
    }
    Ok(())
}

/// Closes an attempt still open and moves its contact to the state the retry policy gives;
/// `None` when the attempt was closed already (by the other of its end request and report
/// line, or the reaper). The outbox triggers fire on the contact's update, in this transaction.
pub(super) fn close_attempt(db: &Connection, job: &CloseJob) -> Result<Option<NextState>> {
    let close: &AttemptClose = &job.close;
    let closed: Option<(i64, Option<String>, Option<String>)> = db
        .prepare_cached(sql::CLOSE_ATTEMPT)?
        .query_row(
            params![
                close.result.as_str(),
                close.ended_at,
                close.duration_seconds,
                close.talk_seconds,
                job.attempt_id
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((contact_id, outcome, dtmf)) = closed else {
        return Ok(None);
    };
    let contact: Option<ContactToMove> = db
        .prepare_cached(sql::CONTACT_TO_MOVE)?
        .query_row([contact_id], |r| {
            Ok(ContactToMove {
                attempts: r.get(0)?,
                last_result: r.get(1)?,
                result_streak: r.get(2)?,
                appointment_at: r.get(3)?,
            })
        })
        .optional()?;
    let Some(c) = contact else {
        return Err(StoreError::Corrupt(format!(
            "attempt {} has no contact {contact_id}",
            job.attempt_id
        )));
    };
    let (next, streak) = next_state_for(&job.policy, &c, close, outcome.as_deref());
    db.prepare_cached(sql::MOVE_CONTACT)?.execute(params![
        next.state.as_str(),
        next.next_at,
        close.result.as_str(),
        close.ended_at,
        dtmf,
        streak,
        contact_id
    ])?;
    Ok(Some(next))
}

/// Stores a chunk of report lines (a line stored before is left as it was) and recounts the
/// cost and billed seconds of every attempt that got a new line. The results are per line, in
/// order (see [`report_results`]).
pub(super) fn apply_report_lines(
    db: &Connection,
    batch_id: i64,
    lines: &[ReportLine],
    now: i64,
) -> Result<Vec<ReportLineApplied>> {
    let mut attempts: ReportAttempts = HashMap::new();
    let mut looked: HashSet<&str> = HashSet::new();
    for line in lines {
        let id = line.provider_call_id.as_str();
        if !looked.insert(id) {
            continue;
        }
        let found: Option<ReportAttempt> = db
            .prepare_cached(
                "SELECT a.id, a.campaign_id, a.status, a.answered_at IS NOT NULL, c.phone
                 FROM attempts a JOIN contacts c ON c.id = a.contact_id WHERE a.provider_call_id = ?1",
            )?
            .query_row([id], |r| {
                Ok(ReportAttempt {
                    call_id: id.to_string(),
                    attempt_id: r.get(0)?,
                    campaign_id: r.get(1)?,
                    status: r.get(2)?,
                    answered: r.get(3)?,
                    phone: r.get(4)?,
                })
            })
            .optional()?;
        if let Some(a) = found {
            attempts.insert(id.to_string(), a);
        }
    }
    // Inserted now, or stored before (a batch sent again, a leg seen before): the insert says.
    let mut inserted = Vec::with_capacity(lines.len());
    for line in lines {
        let n = db
            .prepare_cached(
                "INSERT INTO report_lines (batch_id, provider_call_id, startdate, dst, attempt_id, status, duration_seconds, cost, raw, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (provider_call_id, startdate, dst) DO NOTHING",
            )?
            .execute(params![
                batch_id,
                line.provider_call_id,
                line.startdate,
                line.dst,
                attempts.get(&line.provider_call_id).map(|a| a.attempt_id),
                line.status,
                line.duration_seconds,
                line.cost,
                line.raw,
                now
            ])?;
        inserted.push(n == 1);
    }
    let mut inserted = inserted.into_iter();
    let (out, touched) = report_results(lines, &attempts, |_| inserted.next().unwrap_or(false));
    for (id, call) in touched {
        db.prepare_cached(sql::RECOUNT_FROM_REPORT)?
            .execute(params![call, id])?;
    }
    Ok(out)
}
