//! What PostgreSQL does its own way (the operations themselves are in `queries.rs`): claims
//! lock their rows with `FOR UPDATE SKIP LOCKED`, so several dialer loops (or daemons) sharing
//! one database never claim the same contact; imports hold an advisory lock per campaign on a
//! connection of their own, and a big first file is staged with `COPY`; the busy writes go as
//! sets of rows (`UNNEST`) or one statement each.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};

use super::sql;
use super::*;

/// A control request and what it taught about its attempt, in one statement: one round trip,
/// atomic without a transaction. The event row; the launch that any request about a call
/// proves (see `sql::PROVE_LAUNCHED`); the call id, answer, outcome and keys (as
/// `sql::EVENT_PROGRESS`). The `attempts_events` trigger sees the launch and the answer in one
/// update and writes `call.launched` before `call.answered`. Without an attempt, only the event.
const EVENT_WITH_PROGRESS: &str = "WITH event AS (
         INSERT INTO call_events (attempt_id, provider_call_id, kind, command, dtmf, statuscall, fields, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8))
     UPDATE attempts SET
         launched_at = COALESCE(launched_at, $8),
         provider_call_id = COALESCE(provider_call_id, $2),
         answered_at = CASE WHEN $9 THEN COALESCE(answered_at, $8) ELSE answered_at END,
         outcome = COALESCE($10, outcome),
         dtmf = CASE WHEN $11::text IS NULL THEN dtmf ELSE COALESCE(dtmf, '') || $11 END
     WHERE id = $1";

/// How long a pooled connection may have been idle and still be taken without a test.
const IDLE_BEFORE_TEST: Duration = Duration::from_secs(1);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone)]
pub struct PgStore {
    pub(super) pool: PgPool,
    /// The imports in progress in this process, by file id (see [`ImportSession`]).
    imports: Arc<Mutex<HashMap<i64, ImportSession>>>,
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            // sqlx tests every connection it takes from the pool with a round trip of its own,
            // which a control request would pay twice. A connection released (and tested on
            // release) less than a second ago is alive; one idle longer is tested, so a server
            // that restarted (longer than a second) or a link cut while idle fails no request.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_BEFORE_TEST {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            imports: Arc::default(),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The SQL of the domain operations (`queries.rs`) that differs on PostgreSQL.
pub(super) mod dialect {
    /// Row locks do it (below): no lock for the whole claim.
    pub const CLAIM_LOCK: Option<&str> = None;

    /// Due contacts of campaign `$1` at `$2`, at most `$3`, locked for this claim and skipping
    /// the rows another claimer (loop or daemon) holds: one ordered index range per state
    /// (`contacts_due` is (campaign, state, next_at, id), migration 0007). The outer conditions
    /// are checked again on the locked row version, so a contact another claimer took
    /// meanwhile is not returned.
    pub const CLAIM_CANDIDATES: &str = "SELECT c.id, c.phone, c.timezone, c.appointment_at, c.vars, d.phone AS dnc_phone, d.until_date, d.hours, d.source
         FROM ((SELECT id, next_at FROM contacts
                WHERE campaign_id = $1 AND state = 'pending' AND next_at <= $2
                ORDER BY next_at, id LIMIT $3)
               UNION ALL
               (SELECT id, next_at FROM contacts
                WHERE campaign_id = $1 AND state = 'scheduled' AND next_at <= $2
                ORDER BY next_at, id LIMIT $3)) q
         JOIN contacts c ON c.id = q.id
         LEFT JOIN do_not_call d ON d.phone = c.phone
         WHERE c.state IN ('pending', 'scheduled') AND c.next_at <= $2
         ORDER BY q.next_at, q.id LIMIT $3
         FOR UPDATE OF c SKIP LOCKED";
}

/// First key of the import lease's advisory lock (`"preg"`); the second is the campaign id's
/// `hashtext`. Two campaigns whose ids hash alike merely import one after the other.
const IMPORT_LOCK_CLASS: i32 = 0x7072_6567;

/// An import in progress: a connection of its own, taken out of the pool, that holds the
/// campaign's import lease (a session advisory lock) from `begin_import` to `finish_import` or
/// `abort_import`. A second importer of the campaign, in this process or another, waits for
/// it. If the process dies, the server ends the session: the lease is freed and, on the bulk
/// path, the open transaction with everything staged is rolled back.
#[derive(Debug)]
pub(super) struct ImportSession {
    campaign: String,
    hash: String,
    pub(super) conn: sqlx::PgConnection,
    /// Rows staged so far on the bulk path (inside the open transaction); `None` on the
    /// ordinary path, where each batch commits on its own.
    pub(super) staged: Option<i64>,
    /// The batches' `now`: the written contacts' due and update time.
    pub(super) now: i64,
}

impl PgStore {
    pub(super) fn put_import(&self, file_id: i64, session: ImportSession) {
        if let Ok(mut m) = self.imports.lock() {
            m.insert(file_id, session);
        }
    }

    pub(super) fn take_import(&self, file_id: i64) -> Result<ImportSession> {
        self.imports
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&file_id))
            .ok_or(StoreError::NoImport(file_id))
    }

    fn take_import_of(&self, campaign: &str, hash: &str) -> Option<ImportSession> {
        let mut m = self.imports.lock().ok()?;
        let id = m
            .iter()
            .find(|(_, s)| s.campaign == campaign && s.hash == hash)
            .map(|(id, _)| *id)?;
        m.remove(&id)
    }

    /// A connection of its own holding the campaign's import lease; waits while another
    /// importer holds it.
    pub(super) async fn open_import(&self, campaign: &str, hash: &str) -> Result<ImportSession> {
        // A file this process left half-done (its import died without an abort) gives back
        // its lease first, so that resuming it does not wait for itself.
        if let Some(old) = self.take_import_of(campaign, hash) {
            Self::release(old).await;
        }
        let mut conn = self.pool.acquire().await?.detach();
        let try_lock = "SELECT pg_try_advisory_lock($1, hashtext($2))";
        let free: bool = bind!(sqlx::query_scalar(try_lock), IMPORT_LOCK_CLASS, campaign)
            .fetch_one(&mut conn)
            .await?;
        if !free {
            tracing::info!(
                "another import into campaign {campaign} is running; waiting for it to finish"
            );
            let wait = "SELECT pg_advisory_lock($1, hashtext($2))";
            bind!(sqlx::query(wait), IMPORT_LOCK_CLASS, campaign)
                .execute(&mut conn)
                .await?;
        }
        Ok(ImportSession {
            campaign: campaign.to_string(),
            hash: hash.to_string(),
            conn,
            staged: None,
            now: 0,
        })
    }

    /// Ends an import's session: rolls back what it left open, frees the lease, closes the
    /// connection. Failures only mean the server ends the session itself.
    pub(super) async fn release(mut session: ImportSession) {
        if session.staged.is_some() {
            let _ = sqlx::query("ROLLBACK").execute(&mut session.conn).await;
        }
        let _ = bind!(
            sqlx::query("SELECT pg_advisory_unlock($1, hashtext($2))"),
            IMPORT_LOCK_CLASS,
            &session.campaign
        )
        .execute(&mut session.conn)
        .await;
        if let Err(e) = session.conn.close().await {
            tracing::debug!("closing an import connection: {e}");
        }
    }

    /// The bulk path: appends a batch to the staging table with `COPY … FROM STDIN` (text
    /// format), numbered after the `staged` rows before it. Returns the rows staged.
    pub(super) async fn stage(
        conn: &mut sqlx::PgConnection,
        staged: i64,
        contacts: &[ContactRecord],
    ) -> Result<i64> {
        use std::fmt::Write;
        let mut buf = String::with_capacity(contacts.len() * 192);
        for (seq, c) in (staged + 1..).zip(contacts) {
            let _ = write!(buf, "{seq}");
            for field in [&c.phone, &c.name, &c.vars] {
                buf.push('\t');
                push_copy_text(&mut buf, field);
            }
            buf.push('\t');
            match &c.timezone {
                Some(z) => push_copy_text(&mut buf, z),
                None => buf.push_str("\\N"),
            }
            buf.push('\t');
            match c.appointment_at {
                Some(a) => {
                    let _ = write!(buf, "{a}");
                }
                None => buf.push_str("\\N"),
            }
            buf.push('\n');
        }
        let mut copy = conn
            .copy_in_raw(
                "COPY import_stage (seq, phone, name, vars, timezone, appointment_at) FROM STDIN",
            )
            .await?;
        copy.send(buf.as_bytes()).await?;
        let rows = copy.finish().await?;
        Ok(i64::try_from(rows).unwrap_or(i64::MAX))
    }

    /// The bulk path's end, inside its transaction: writes every staged row into `contacts` in
    /// file order, in one statement, with the table's secondary indexes and foreign keys
    /// dropped first and rebuilt after (each read from the catalog, so they come back exactly
    /// as the migrations made them). Dropping them locks `contacts` until the commit; other
    /// sessions never see the table without them. The campaign was empty and the reader keeps
    /// each number once, so the rows are unique; if some caller staged a number twice, the
    /// unique index refuses it and the rows are written again keeping each number's first row.
    /// Returns the contacts written.
    async fn write_staged(
        conn: &mut sqlx::PgConnection,
        campaign: &str,
        file_id: i64,
        staged: i64,
        now: i64,
    ) -> Result<i64> {
        if staged == 0 {
            return Ok(0);
        }
        let started = std::time::Instant::now();
        sqlx::query("LOCK TABLE contacts IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *conn)
            .await?;
        // The index builds sort in memory with this much (the server's default, 64 MB, sorts
        // a million numbers on disk); a larger setting is kept.
        sqlx::query(
            "SELECT set_config('maintenance_work_mem', '128MB', TRUE)
             WHERE (SELECT setting::bigint FROM pg_settings WHERE name = 'maintenance_work_mem') < 131072",
        )
        .execute(&mut *conn)
        .await?;
        // Ids in file order without sorting the rows: the range is taken from the sequence
        // (no other session can insert contacts meanwhile: the table is locked).
        let first_id: i64 =
            sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('contacts', 'id'))")
                .fetch_one(&mut *conn)
                .await?;
        sqlx::query("SELECT setval(pg_get_serial_sequence('contacts', 'id'), $1)")
            .bind(first_id - 1 + staged)
            .execute(&mut *conn)
            .await?;
        // Indexes that back no constraint (the primary key stays: the ids are new and ascending).
        let indexes: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT c.relname::text, pg_get_indexdef(i.indexrelid), i.indisunique
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid = 'contacts'::regclass
               AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
             ORDER BY i.indisunique DESC, c.relname",
        )
        .fetch_all(&mut *conn)
        .await?;
        let foreign_keys: Vec<(String, String)> = sqlx::query_as(
            "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint
             WHERE conrelid = 'contacts'::regclass AND contype = 'f' ORDER BY conname",
        )
        .fetch_all(&mut *conn)
        .await?;
        for (name, _) in &foreign_keys {
            sqlx::query(&format!(
                "ALTER TABLE contacts DROP CONSTRAINT {}",
                quote_ident(name)
            ))
            .execute(&mut *conn)
            .await?;
        }
        for (name, _, _) in &indexes {
            sqlx::query(&format!("DROP INDEX {}", quote_ident(name)))
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query("SAVEPOINT bulk_rows")
            .execute(&mut *conn)
            .await?;
        let locked = started.elapsed();
        let mut written =
            Self::insert_staged(conn, "import_stage", campaign, file_id, now, first_id).await?;
        let rows_at = started.elapsed();
        let unique: Vec<&String> = indexes.iter().filter(|i| i.2).map(|i| &i.1).collect();
        match Self::create_all(conn, &unique).await {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {
                sqlx::query("ROLLBACK TO SAVEPOINT bulk_rows")
                    .execute(&mut *conn)
                    .await?;
                written = Self::insert_staged(
                    conn,
                    "(SELECT DISTINCT ON (phone) * FROM import_stage ORDER BY phone, seq) s",
                    campaign,
                    file_id,
                    now,
                    first_id,
                )
                .await?;
                Self::create_all(conn, &unique).await?;
            }
            other => other?,
        }
        let others: Vec<&String> = indexes.iter().filter(|i| !i.2).map(|i| &i.1).collect();
        Self::create_all(conn, &others).await?;
        let indexes_at = started.elapsed();
        for (name, def) in &foreign_keys {
            sqlx::query(&format!(
                "ALTER TABLE contacts ADD CONSTRAINT {} {def}",
                quote_ident(name)
            ))
            .execute(&mut *conn)
            .await?;
        }
        // Statistics for the planner now, not when autovacuum gets to it: right after a bulk
        // load it still believes the table is small, and reads the whole campaign through an
        // index and a sort (a contacts report of a million rows: 4.3 s against 2.4 s).
        sqlx::query("ANALYZE contacts").execute(&mut *conn).await?;
        tracing::info!(
            "bulk import: {written} contacts written in {:.1} s (lock {:.1} s, rows {:.1} s, indexes {:.1} s, foreign keys {:.1} s)",
            started.elapsed().as_secs_f64(),
            locked.as_secs_f64(),
            (rows_at - locked).as_secs_f64(),
            (indexes_at - rows_at).as_secs_f64(),
            (started.elapsed() - indexes_at).as_secs_f64()
        );
        Ok(i64::try_from(written).unwrap_or(i64::MAX))
    }

    /// `INSERT … SELECT` of the staged `rows` (a table or subquery), in file order.
    async fn insert_staged(
        conn: &mut sqlx::PgConnection,
        rows: &str,
        campaign: &str,
        file_id: i64,
        now: i64,
        first_id: i64,
    ) -> Result<u64> {
        Ok(bind!(sqlx::query(&format!(
            "INSERT INTO contacts (id, campaign_id, file_id, phone, name, vars, timezone, appointment_at, state, next_at, updated_at)
             SELECT $4 - 1 + seq, $1, $2, phone, name, vars, timezone, appointment_at, 'pending', $3, $3
             FROM {rows}"
        )), campaign, file_id, now, first_id)
        .execute(conn)
        .await?
        .rows_affected())
    }

    async fn create_all(
        conn: &mut sqlx::PgConnection,
        definitions: &[&String],
    ) -> std::result::Result<(), sqlx::Error> {
        for def in definitions {
            sqlx::query(def.as_str()).execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// `value` as a field of `COPY`'s text format (backslash escapes for the characters it gives a
/// meaning to).
fn push_copy_text(out: &mut String, value: &str) {
    if !value.contains(['\\', '\t', '\n', '\r']) {
        out.push_str(value);
        return;
    }
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// A catalog name as an SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl PgStore {
    /// Keeps the import's session (and lease) until `finish_import` or `abort_import`. On the
    /// bulk path one transaction runs from here to `finish_import`: the rows wait in a temporary
    /// table (no WAL, gone with the transaction), so an import that stops leaves nothing.
    pub(super) async fn keep_session(
        &self,
        file_id: i64,
        mut session: ImportSession,
        bulk: bool,
    ) -> Result<()> {
        if bulk {
            for sql in [
                "BEGIN",
                "SET LOCAL synchronous_commit = off",
                "CREATE TEMP TABLE import_stage (
                     seq BIGINT NOT NULL, phone TEXT NOT NULL, name TEXT NOT NULL,
                     vars TEXT NOT NULL, timezone TEXT, appointment_at BIGINT
                 ) ON COMMIT DROP",
            ] {
                sqlx::query(sql).execute(&mut session.conn).await?;
            }
            session.staged = Some(0);
        }
        self.put_import(file_id, session);
        Ok(())
    }

    pub(super) async fn finish_import(
        &self,
        file_id: i64,
        file: &FileImport,
    ) -> Result<FileRecord> {
        let mut session = self.take_import(file_id)?;
        let (inserted, staged) = match session.staged {
            Some(staged) => (
                Self::write_staged(
                    &mut session.conn,
                    &session.campaign,
                    file_id,
                    staged,
                    session.now,
                )
                .await?,
                staged,
            ),
            None => (0, 0),
        };
        // Staged rows that were not written were duplicates too (the batches counted them in).
        let duplicates = file.duplicates as i64 + (staged - inserted);
        let row: FileRecord = bind!(
            sqlx::query_as(sql::FINISH_IMPORT),
            inserted,
            file.rows_read as i64,
            file.rejected as i64,
            duplicates,
            file_id
        )
        .fetch_one(&mut session.conn)
        .await?;
        if session.staged.take().is_some() {
            sqlx::query("COMMIT").execute(&mut session.conn).await?;
        }
        Self::release(session).await;
        Ok(row)
    }

    pub(super) async fn abort_import(&self, file_id: i64) -> Result<()> {
        if let Ok(session) = self.take_import(file_id) {
            Self::release(session).await;
        }
        Ok(())
    }

    pub(super) async fn record_event(
        &self,
        event: &CallEvent,
        progress: Option<&Progress>,
    ) -> Result<()> {
        let p = progress.cloned().unwrap_or_default();
        let record = bind!(
            sqlx::query(EVENT_WITH_PROGRESS),
            event.attempt_id,
            &event.provider_call_id,
            &event.kind,
            &event.command,
            &event.dtmf,
            &event.statuscall,
            &event.fields,
            event.received_at,
            p.answered,
            &p.outcome,
            &p.dtmf
        );
        let Some(attempt_id) = event.attempt_id.filter(|_| !p.answers.is_empty()) else {
            // One statement commits alone: the common request takes one round trip.
            record.execute(&self.pool).await?;
            return Ok(());
        };
        let mut tx = self.pool.begin().await?;
        record.execute(&mut *tx).await?;
        for (question, answer) in &p.answers {
            bind!(
                sqlx::query(sql::SURVEY_ANSWER),
                question,
                answer,
                event.received_at,
                attempt_id
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Closes an attempt still open and moves its contact on (as `sqlite_direct::close_attempt`).
pub(super) async fn close_attempt(
    tx: &mut sqlx::PgConnection,
    job: &CloseJob,
) -> Result<Option<NextState>> {
    let c = &job.close;
    let closed: Option<(i64, Option<String>, Option<String>)> = bind!(
        sqlx::query_as(sql::CLOSE_ATTEMPT),
        c.result.as_str(),
        c.ended_at,
        c.duration_seconds,
        c.talk_seconds,
        job.attempt_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some((contact_id, outcome, dtmf)) = closed else {
        return Ok(None);
    };
    let contact: ContactToMove = sqlx::query_as(sql::CONTACT_TO_MOVE)
        .bind(contact_id)
        .fetch_one(&mut *tx)
        .await?;
    let (next, streak) = next_state_for(&job.policy, &contact, c, outcome.as_deref());
    bind!(
        sqlx::query(sql::MOVE_CONTACT),
        next.state.as_str(),
        next.next_at,
        c.result.as_str(),
        c.ended_at,
        dtmf,
        streak,
        contact_id
    )
    .execute(&mut *tx)
    .await?;
    Ok(Some(next))
}

/// Applies report lines with three statements whatever their number (arrays through
/// `UNNEST`): the attempts they name, the lines (one upsert that returns the rows it inserted),
/// and the cost and billed seconds of each attempt that got a new line. A line repeated within
/// the chunk is new only the first time, as if applied one by one.
pub(super) async fn apply_report_lines(
    tx: &mut sqlx::PgConnection,
    batch_id: i64,
    lines: &[ReportLine],
    now: i64,
) -> Result<Vec<ReportLineApplied>> {
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = {
        let mut seen = std::collections::HashSet::new();
        lines
            .iter()
            .filter(|l| seen.insert(l.provider_call_id.as_str()))
            .map(|l| l.provider_call_id.clone())
            .collect()
    };
    let attempts: ReportAttempts = sqlx::query_as::<_, ReportAttempt>(
        "SELECT a.provider_call_id AS call_id, a.id AS attempt_id, a.campaign_id, a.status,
                a.answered_at IS NOT NULL AS answered, c.phone
         FROM attempts a JOIN contacts c ON c.id = a.contact_id WHERE a.provider_call_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|a| (a.call_id.clone(), a))
    .collect();
    let col = |f: fn(&ReportLine) -> String| lines.iter().map(f).collect::<Vec<String>>();
    let attempt_ids: Vec<Option<i64>> = lines
        .iter()
        .map(|l| attempts.get(&l.provider_call_id).map(|a| a.attempt_id))
        .collect();
    let durations: Vec<i64> = lines.iter().map(|l| l.duration_seconds).collect();
    let costs: Vec<f64> = lines.iter().map(|l| l.cost).collect();
    let mut inserted: std::collections::HashSet<(String, String, String)> = bind!(sqlx::query_as(
        "INSERT INTO report_lines (batch_id, provider_call_id, startdate, dst, attempt_id, status, duration_seconds, cost, raw, received_at)
         SELECT $1, u.cid, u.sd, u.dst, u.aid, u.st, u.dur, u.cost, u.raw, $2
         FROM UNNEST($3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::bigint[], $9::float8[], $10::text[])
              AS u(cid, sd, dst, aid, st, dur, cost, raw)
         ON CONFLICT (provider_call_id, startdate, dst) DO NOTHING
         RETURNING provider_call_id, startdate, dst",
    ),
        batch_id, now, col(|l| l.provider_call_id.clone()), col(|l| l.startdate.clone()),
        col(|l| l.dst.clone()), &attempt_ids, col(|l| l.status.clone()), &durations, &costs,
        col(|l| l.raw.clone())
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let (out, touched) = report_results(lines, &attempts, |key| inserted.remove(&key));
    for (id, call) in touched {
        bind!(sqlx::query(sql::RECOUNT_FROM_REPORT), call, id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(out)
}
