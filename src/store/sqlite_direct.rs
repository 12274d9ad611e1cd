//! The SQLite writer's busy paths, run on the writer connection's own handle.
//!
//! sqlx runs each SQLite connection on a worker thread of its own, and every statement (and
//! every row a statement returns) is a hand-off to that thread and back: two thread switches.
//! perf on the daemon under load showed those switches as most of its CPU, with the SQL itself
//! a few per cent. The writes that come by the thousand (control events, launch results, call
//! ends, report lines) therefore borrow the writer's handle once per transaction
//! (`SqliteConnection::lock_handle`: sqlx's worker makes no call on it meanwhile) and step
//! their statements here, on the calling thread, through rusqlite. One hand-off per group of
//! writes instead of two or three per write. The SQL, the transaction boundaries and the
//! results are the same as through sqlx; only the thread that runs them changes.
//!
//! Everything here is synchronous and short (a group of control writes, or a chunk of report
//! lines); nothing awaits while the handle is borrowed.

use std::collections::{HashMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sqlx::SqlitePool;

use super::{
    next_state_for, report_results, AttemptClose, CallEvent, CloseJob, NextState, Progress,
    ReportAttempts, ReportLine, ReportLineApplied, Result, StoreError,
};

/// Runs `f` on the writer connection's SQLite handle, on this thread.
pub(super) async fn on_writer<T>(
    writer: &SqlitePool,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    let mut conn = writer.acquire().await?;
    let mut locked = conn.lock_handle().await?;
    let raw = locked.as_raw_handle();
    // SAFETY: while `locked` lives, sqlx's worker thread makes no call on this handle or its
    // statements, and `locked` outlives `db` (dropped first, below). `from_handle` does not
    // take ownership: dropping `db` finalizes only the statements it prepared and leaves the
    // connection open for sqlx. rusqlite and sqlx link the same libsqlite3-sys (one `links`).
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
    let tx = rusqlite::Transaction::new_unchecked(db, TransactionBehavior::Immediate)?;
    let out = f(&tx)?;
    tx.commit()?;
    Ok(out)
}

/// Runs `f` under a savepoint: on an error its writes are undone and the transaction goes on,
/// so one bad write in a group fails only its own caller.
pub(super) fn savepoint<T>(db: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    db.execute_batch("SAVEPOINT one_write")?;
    match f(db) {
        Ok(v) => {
            db.execute_batch("RELEASE one_write")?;
            Ok(v)
        }
        Err(e) => {
            db.execute_batch("ROLLBACK TO one_write; RELEASE one_write")?;
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
    db.prepare_cached(
        "INSERT INTO call_events (attempt_id, provider_call_id, kind, command, dtmf, statuscall, fields, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
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
    db.prepare_cached(
        "UPDATE attempts SET
             provider_call_id = COALESCE(provider_call_id, ?2),
             answered_at = CASE WHEN ?3 THEN COALESCE(answered_at, ?4) ELSE answered_at END,
             outcome = COALESCE(?5, outcome),
             dtmf = CASE WHEN ?6 IS NULL THEN dtmf ELSE COALESCE(dtmf, '') || ?6 END
         WHERE id = ?1",
    )?
    .execute(params![
        attempt_id,
        e.provider_call_id,
        p.answered,
        e.received_at,
        p.outcome,
        p.dtmf
    ])?;
    // Survey answers per question, the last answer of a question winning.
    for (question, answer) in &p.answers {
        db.prepare_cached(
            "INSERT INTO survey_answers (attempt_id, campaign_id, question, answer, answered_at)
             SELECT id, campaign_id, ?2, ?3, ?4 FROM attempts WHERE id = ?1
             ON CONFLICT (attempt_id, question) DO UPDATE SET answer = excluded.answer, answered_at = excluded.answered_at",
        )?
        .execute(params![attempt_id, question, answer, e.received_at])?;
    }
    Ok(())
}

/// The provider accepted a launch: its call id, and the attempt rings.
pub(super) fn mark_launched(db: &Connection, attempt_id: i64, call_id: &str, now: i64) -> Result<()> {
    db.prepare_cached(
        "UPDATE attempts SET provider_call_id = COALESCE(provider_call_id, ?2),
             launched_at = COALESCE(launched_at, ?3),
             status = CASE WHEN status = 'launching' THEN 'ringing' ELSE status END
         WHERE id = ?1",
    )?
    .execute(params![attempt_id, call_id, now])?;
    Ok(())
}

/// Closes an attempt still open and moves its contact to the state the retry policy gives;
/// `None` when the attempt was closed already (by the other of its end request and report
/// line, or the reaper). The outbox triggers fire on the contact's update, in this transaction.
pub(super) fn close_attempt(db: &Connection, job: &CloseJob) -> Result<Option<NextState>> {
    let close: &AttemptClose = &job.close;
    let closed: Option<(i64, Option<String>, Option<String>)> = db
        .prepare_cached(
            "UPDATE attempts SET status = 'closed', result = ?2, ended_at = ?3,
                 duration_seconds = COALESCE(duration_seconds, ?4), talk_seconds = COALESCE(talk_seconds, ?5)
             WHERE id = ?1 AND status IN ('launching', 'ringing')
             RETURNING contact_id, outcome, dtmf",
        )?
        .query_row(
            params![
                job.attempt_id,
                close.result.as_str(),
                close.ended_at,
                close.duration_seconds,
                close.talk_seconds
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((contact_id, outcome, dtmf)) = closed else {
        return Ok(None);
    };
    let contact: Option<(i64, Option<String>, i64, Option<i64>)> = db
        .prepare_cached(
            "SELECT attempts, last_result, result_streak, appointment_at FROM contacts WHERE id = ?1",
        )?
        .query_row([contact_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some(c) = contact else {
        return Err(StoreError::Corrupt(format!(
            "attempt {} has no contact {contact_id}",
            job.attempt_id
        )));
    };
    let (next, streak) = next_state_for(
        &job.policy,
        (c.0, c.1.as_deref(), c.2, c.3),
        close,
        outcome.as_deref(),
    );
    db.prepare_cached(
        "UPDATE contacts SET state = ?2, next_at = COALESCE(?3, next_at), last_result = ?4,
             last_call_at = ?5, dtmf = COALESCE(?6, dtmf), result_streak = ?7, note = NULL,
             updated_at = ?5
         WHERE id = ?1",
    )?
    .execute(params![
        contact_id,
        next.state,
        next.next_at,
        close.result.as_str(),
        close.ended_at,
        dtmf,
        streak
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
        let found: Option<(i64, String, String, bool)> = db
            .prepare_cached(
                "SELECT id, campaign_id, status, answered_at IS NOT NULL FROM attempts WHERE provider_call_id = ?1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
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
                attempts.get(&line.provider_call_id).map(|a| a.0),
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
    // The report is the source of truth for billed seconds and cost; a call can have several
    // legs (the answered leg and a transfer leg).
    for (id, call) in touched {
        db.prepare_cached(
            "UPDATE attempts SET
                 cost = (SELECT SUM(cost) FROM report_lines WHERE provider_call_id = ?2),
                 talk_seconds = (SELECT MAX(duration_seconds) FROM report_lines WHERE provider_call_id = ?2)
             WHERE id = ?1",
        )?
        .execute(params![id, call])?;
    }
    Ok(out)
}
