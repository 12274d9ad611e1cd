//! The store's domain operations, written once for both backends. Each body runs against the
//! backend's own pool (see `with_reader!` / `with_writer!`), so its SQL is one text with `$N`
//! placeholders and its rows are mapped once. What the dialect or the locking makes different
//! is an arm per backend that calls into `sqlite.rs` / `postgres.rs`, or SQL read from their
//! `dialect` module.

use sqlx::{Connection as _, Row};

use super::sqlite::{GroupOp, GroupOut};
use super::sqlite_direct as direct;
use super::*;

/// A file of at least this many lines, imported into a campaign with no contacts yet (and as
/// big as half the table), takes the bulk path: on SQLite the phone index is dropped for the
/// import and rebuilt at the end, several times cheaper than a million random-order inserts
/// into it; on PostgreSQL the rows are staged with `COPY`, then written in one statement with
/// the secondary indexes and foreign keys of `contacts` dropped and rebuilt. Either rebuild
/// covers every campaign's contacts, hence the size of the table in the condition.
pub(super) const BULK_MIN_ROWS: u64 = 50_000;

/// Concurrency caps a claim checks against every daemon's calls in progress
/// ([`Store::claim_due_capped`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimCaps {
    /// `[limits] max_concurrent_calls`, for the account.
    pub calls: u32,
    /// The campaign's own `max_concurrent_calls`, if set.
    pub campaign_calls: Option<u32>,
}

/// A contact as the dialer's gate sees it, with its do-not-call entry (`LEFT JOIN do_not_call
/// d`), as read by the claim (`dialect::CLAIM_CANDIDATES`) and `Store::gate_candidate`.
#[derive(sqlx::FromRow)]
pub(super) struct CandidateRow {
    id: i64,
    phone: String,
    timezone: Option<String>,
    appointment_at: Option<i64>,
    vars: String,
    dnc_phone: Option<String>,
    until_date: Option<String>,
    hours: Option<String>,
    source: Option<String>,
}

impl From<CandidateRow> for Candidate {
    fn from(r: CandidateRow) -> Candidate {
        Candidate {
            contact_id: r.id,
            phone: r.phone,
            timezone: r.timezone,
            appointment_at: r.appointment_at,
            vars: r.vars,
            dnc: r.dnc_phone.map(|phone| DncEntry {
                phone,
                until_date: r.until_date,
                hours: r.hours,
                source: r.source.unwrap_or_default(),
            }),
        }
    }
}

impl Store {
    /// Whether several daemons may share this database (PostgreSQL): what each daemon keeps in
    /// memory about calls is then only a cache of what the database says.
    pub fn is_shared(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    pub async fn ping(&self) -> Result<()> {
        with_reader!(self, |db| {
            sqlx::query("SELECT 1").execute(db).await?;
        });
        Ok(())
    }

    /// Inserts or updates a campaign definition; its paused flag is kept.
    pub async fn upsert_campaign(
        &self,
        id: &str,
        kind: &str,
        title: &str,
        source: &str,
        now: i64,
    ) -> Result<()> {
        execute!(self,
            "INSERT INTO campaigns (id, kind, title, source, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, title = excluded.title,
                 source = excluded.source, updated_at = excluded.updated_at",
            id, kind, title, source, now);
        Ok(())
    }

    pub async fn campaigns(&self) -> Result<Vec<CampaignRow>> {
        fetch_all!(
            self,
            CampaignRow,
            "SELECT id, kind, title, paused, paused_reason FROM campaigns ORDER BY id"
        )
    }

    /// Returns false when no such campaign exists. `reason` says who paused it and why.
    pub async fn set_paused(
        &self,
        id: &str,
        paused: bool,
        reason: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let reason = if paused { reason } else { None };
        let changed =
            execute!(self,
            "UPDATE campaigns SET paused = $1, paused_reason = $2, updated_at = $3 WHERE id = $4",
            paused, reason, now, id);
        Ok(changed == 1)
    }

    /// Pauses every campaign (the provider's 402: no balance), with the reason.
    pub async fn pause_all(&self, reason: &str, now: i64) -> Result<()> {
        execute!(self,
            "UPDATE campaigns SET paused = TRUE, paused_reason = $1, updated_at = $2 WHERE NOT paused",
            reason, now);
        Ok(())
    }

    /// Records a file about to be imported and returns its id; `None` when this content was
    /// imported into the campaign before. An import cut short (crash) returns its id again, to
    /// be resumed: contact inserts are idempotent. Until `finish_import` or `abort_import`,
    /// the import holds the import lock (SQLite: one import at a time, a lock file beside the
    /// database; PostgreSQL: one per campaign, an advisory lock; across processes, others wait
    /// here). A big first import of a campaign takes the bulk path (see [`BULK_MIN_ROWS`]): on
    /// SQLite the phone index is dropped and rebuilt at the end (migration 0005); on PostgreSQL
    /// the rows are staged with `COPY` and written in one transaction at `finish_import`, so
    /// that stopping leaves the contacts unchanged.
    pub async fn begin_import(
        &self,
        campaign: &str,
        file: &FileImport,
        now: i64,
    ) -> Result<Option<i64>> {
        let (id, session) = match self {
            // The lock is kept by file in this process, so the file is recorded first.
            Store::Sqlite(s) => {
                let Some(id) = self.file_record(campaign, file, now).await? else {
                    return Ok(None);
                };
                s.take_import_lock(id).await?;
                (id, None)
            }
            // The lease is the campaign's: taken first, so two importers never record the same
            // file at once. On an error the session is dropped, which frees the lease.
            Store::Postgres(s) => {
                let session = s.open_import(campaign, &file.hash).await?;
                let Some(id) = self.file_record(campaign, file, now).await? else {
                    postgres::PgStore::release(session).await;
                    return Ok(None);
                };
                (id, Some(session))
            }
        };
        match self.start_import(campaign, file, id, session).await {
            Ok(()) => Ok(Some(id)),
            Err(e) => {
                // What was taken goes back: SQLite's import lock (PostgreSQL's session was
                // dropped with the error, and its lease with it).
                if let Err(release) = self.abort_import(id).await {
                    tracing::warn!("{}: cannot release the import: {release}", file.file_name);
                }
                Err(e)
            }
        }
    }

    /// `begin_import` under the import lock: the bulk decision and what it prepares.
    async fn start_import(
        &self,
        campaign: &str,
        file: &FileImport,
        id: i64,
        session: Option<postgres::ImportSession>,
    ) -> Result<()> {
        let bulk = file.expected_rows >= BULK_MIN_ROWS
            && with_reader!(self, |db| {
                let (has_contacts, all): (bool, i64) = sqlx::query_as(
                    "SELECT EXISTS (SELECT 1 FROM contacts WHERE campaign_id = $1),
                            (SELECT COALESCE(MAX(id), 0) FROM contacts)",
                )
                .bind(campaign)
                .fetch_one(db)
                .await?;
                // The rebuild covers every campaign's contacts: worth it only for an empty
                // campaign and a file as big as half the table.
                !has_contacts && file.expected_rows.saturating_mul(2) >= all.max(0) as u64
            });
        if bulk {
            tracing::info!(
                "{}: bulk import into an empty campaign (about {} rows)",
                file.file_name,
                file.expected_rows
            );
        }
        match (self, session) {
            (Store::Sqlite(s), _) if bulk => s.drop_phone_index().await?,
            (Store::Postgres(s), Some(session)) => s.keep_session(id, session, bulk).await?,
            _ => {}
        }
        Ok(())
    }

    /// The record of a file about to be imported: its id (written now if the content is new);
    /// `None` when this content was imported completely before. One statement, so two
    /// processes beginning the same file at once find one record.
    async fn file_record(
        &self,
        campaign: &str,
        file: &FileImport,
        now: i64,
    ) -> Result<Option<i64>> {
        let (id, complete): (i64, bool) = with_writer!(self, |db| {
            bind!(sqlx::query_as(
                "INSERT INTO imported_files (campaign_id, file_name, content_hash, rows_read, imported, rejected, duplicates, imported_at, complete)
                 VALUES ($1, $2, $3, 0, 0, 0, 0, $4, FALSE)
                 ON CONFLICT (campaign_id, content_hash) DO UPDATE SET complete = imported_files.complete
                 RETURNING id, complete",
            ), campaign, &file.file_name, &file.hash, now)
            .fetch_one(db)
            .await?
        });
        Ok((!complete).then_some(id))
    }

    /// Inserts a batch of contacts in one transaction; numbers already in the campaign are
    /// skipped (first one wins). Returns how many were inserted (on PostgreSQL's bulk path:
    /// staged, to be written by `finish_import`).
    pub async fn insert_contacts(
        &self,
        campaign: &str,
        file_id: i64,
        contacts: &[ContactRecord],
        now: i64,
    ) -> Result<u64> {
        match self {
            Store::Sqlite(s) if !s.imports(file_id) => Err(StoreError::NoImport(file_id)),
            Store::Sqlite(s) => {
                let writer = s.writer().await;
                let mark = |_| "?".to_string();
                let chunk = INSERT_CHUNK;
                Ok(insert_batch!(
                    &*writer, mark, chunk, campaign, file_id, contacts, now
                ))
            }
            // On error the session is dropped: its connection closes, which rolls back what it
            // staged and frees the lease.
            Store::Postgres(s) => {
                let mut session = s.take_import(file_id)?;
                session.now = now;
                let n = match session.staged {
                    Some(staged) => {
                        let n = PgStore::stage(&mut session.conn, staged, contacts).await?;
                        session.staged = Some(staged + n);
                        u64::try_from(n).unwrap_or(0)
                    }
                    None => {
                        let mark = |i| format!("${i}");
                        let (conn, chunk) = (&mut session.conn, INSERT_CHUNK * 4);
                        insert_batch!(conn, mark, chunk, campaign, file_id, contacts, now)
                    }
                };
                s.put_import(file_id, session);
                Ok(n)
            }
        }
    }

    /// Marks an import complete with its final counts and ends the import lock. `file.duplicates`
    /// counts the rows offered but not inserted; the stored record is returned (its
    /// `imported` covers every run of a resumed file).
    pub async fn finish_import(&self, file_id: i64, file: &FileImport) -> Result<FileRecord> {
        match self {
            Store::Sqlite(s) => s.finish_import(file_id, file).await,
            Store::Postgres(s) => s.finish_import(file_id, file).await,
        }
    }

    /// An import stopped by an error: releases what `begin_import` took (the file stays
    /// incomplete, to be resumed).
    pub async fn abort_import(&self, file_id: i64) -> Result<()> {
        match self {
            Store::Sqlite(s) => s.abort_import(file_id).await,
            Store::Postgres(s) => s.abort_import(file_id).await,
        }
    }

    /// Atomically claims up to `limit` due contacts of a campaign and writes their attempts.
    /// Each due contact first goes through `gate` (calling window, do-not-call, deadlines) inside
    /// the same transaction: deferred contacts get their new due time, closed ones their final
    /// state, and only the others are claimed. The backends differ in how the rows are kept
    /// from other claimers (`dialect::CLAIM_LOCK`, `dialect::CLAIM_CANDIDATES`).
    pub async fn claim_due(
        &self,
        campaign: &str,
        now: i64,
        limit: u32,
        gate: &(dyn Fn(&Candidate) -> Gate + Sync),
    ) -> Result<Vec<Claim>> {
        self.claim_due_capped(campaign, now, limit, None, gate)
            .await
    }

    /// [`Store::claim_due`] within concurrency caps counted in the database, for daemons that
    /// share it: the calls in progress of every daemon (attempts `launching` or `ringing`) are
    /// counted under the account's pacing row lock, so two daemons claiming at once never pass
    /// a cap together.
    pub async fn claim_due_capped(
        &self,
        campaign: &str,
        now: i64,
        limit: u32,
        caps: Option<&ClaimCaps>,
        gate: &(dyn Fn(&Candidate) -> Gate + Sync),
    ) -> Result<Vec<Claim>> {
        with_writer!(self, |db, dialect| {
            let mut tx = db.begin().await?;
            if let Some(lock) = dialect::CLAIM_LOCK {
                sqlx::query(lock).bind(campaign).execute(&mut *tx).await?;
            }
            let mut limit = limit;
            if let Some(caps) = caps {
                sqlx::query(
                    "INSERT INTO launch_slots (scope, next_at) VALUES ('account', 0)
                     ON CONFLICT (scope) DO UPDATE SET next_at = launch_slots.next_at",
                )
                .execute(&mut *tx)
                .await?;
                let row = sqlx::query(
                    "SELECT COUNT(*) AS open, CAST(COALESCE(SUM(CASE WHEN campaign_id = $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS mine
                     FROM attempts WHERE status IN ('launching', 'ringing') AND hung_up_at IS NULL",
                )
                .bind(campaign)
                .fetch_one(&mut *tx)
                .await?;
                let free = |cap: u32, open: i64| {
                    u32::try_from((i64::from(cap) - open).max(0)).unwrap_or(0)
                };
                limit = limit.min(free(caps.calls, row.get("open")));
                if let Some(cap) = caps.campaign_calls {
                    limit = limit.min(free(cap, row.get("mine")));
                }
                if limit == 0 {
                    tx.commit().await?;
                    return Ok(Vec::new());
                }
            }
            let rows: Vec<CandidateRow> = bind!(
                sqlx::query_as(dialect::CLAIM_CANDIDATES),
                campaign,
                now,
                candidate_window(limit)
            )
            .fetch_all(&mut *tx)
            .await?;
            let mut claims = Vec::new();
            for r in rows {
                if claims.len() as u32 >= limit {
                    break;
                }
                let candidate = Candidate::from(r);
                let (state, next_at, note) = match gate(&candidate) {
                    Gate::Launch => (ContactState::InProgress, None, None),
                    Gate::Defer { until, note } => (
                        ContactState::Scheduled,
                        Some(until.max(now + 1)),
                        Some(note),
                    ),
                    Gate::Close { state, note } => (state, None, Some(note)),
                };
                let launch = note.is_none();
                bind!(sqlx::query(
                    "UPDATE contacts SET state = $1, next_at = COALESCE($2, next_at), note = $3,
                         attempts = attempts + $4, updated_at = $5
                     WHERE id = $6",
                ), state.as_str(), next_at, note, i64::from(launch), now, candidate.contact_id)
                .execute(&mut *tx)
                .await?;
                if !launch {
                    continue;
                }
                let row = bind!(sqlx::query(
                    "INSERT INTO attempts (contact_id, campaign_id, number, status, created_at)
                     VALUES ($1, $2, (SELECT COALESCE(MAX(number), 0) + 1 FROM attempts WHERE contact_id = $1), 'launching', $3)
                     RETURNING id, number",
                ), candidate.contact_id, campaign, now)
                .fetch_one(&mut *tx)
                .await?;
                claims.push(Claim {
                    attempt_id: row.get("id"),
                    contact_id: candidate.contact_id,
                    campaign_id: campaign.to_string(),
                    number: row.get("number"),
                    phone: candidate.phone,
                });
            }
            tx.commit().await?;
            Ok(claims)
        })
    }

    /// The provider accepted the launch and returned its call id. SQLite: in the writer
    /// thread's next group transaction (as every busy write); PostgreSQL: one statement.
    pub async fn mark_launched(&self, attempt_id: i64, call_id: &str, now: i64) -> Result<()> {
        match self {
            Store::Sqlite(s) => {
                let call_id = call_id.to_string();
                s.grouped(GroupOp::Launched {
                    attempt_id,
                    call_id,
                    now,
                })
                .await?;
            }
            Store::Postgres(s) => {
                bind!(sqlx::query(sql::MARK_LAUNCHED), call_id, now, attempt_id)
                    .execute(&s.pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// The provider did not place the call. Only an attempt still `launching` is changed.
    pub async fn mark_not_placed(
        &self,
        attempt_id: i64,
        error: &str,
        next: &NotPlaced,
        now: i64,
    ) -> Result<()> {
        let (status, result, state, next_at, uncount) = match next {
            NotPlaced::RetryAt(at) => ("not_placed", None, "scheduled", Some(*at), 1),
            NotPlaced::Failed => ("closed", Some("failed"), "failed", None, 0),
        };
        with_writer!(self, |db| {
            let mut tx = db.begin().await?;
            let contact: Option<i64> = bind!(
                sqlx::query_scalar(
                    "UPDATE attempts SET status = $1, result = $2, error = $3, ended_at = $4
                 WHERE id = $5 AND status = 'launching' RETURNING contact_id",
                ),
                status,
                result,
                error,
                now,
                attempt_id
            )
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(contact_id) = contact {
                // A retry does not count the attempt; a refusal is the contact's last result.
                bind!(
                    sqlx::query(
                        "UPDATE contacts SET state = $1, next_at = COALESCE($2, next_at),
                         attempts = CASE WHEN attempts >= $3 THEN attempts - $3 ELSE 0 END,
                         last_result = COALESCE($4, last_result), updated_at = $5
                     WHERE id = $6 AND state = 'in_progress'",
                    ),
                    state,
                    next_at,
                    uncount,
                    result,
                    now,
                    contact_id
                )
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn attempt_info(&self, attempt_id: i64) -> Result<Option<AttemptInfo>> {
        with_reader!(self, |db| {
            let row = sqlx::query(
                "SELECT a.id, a.campaign_id, a.contact_id, a.status, a.outcome, a.answered_at, a.provider_call_id, c.phone, c.name, c.vars
                 FROM attempts a JOIN contacts c ON c.id = a.contact_id WHERE a.id = $1",
            )
            .bind(attempt_id)
            .fetch_optional(db)
            .await?;
            Ok(row.map(|r| AttemptInfo {
                attempt_id: r.get("id"),
                campaign_id: r.get("campaign_id"),
                contact_id: r.get("contact_id"),
                status: r.get("status"),
                phone: r.get("phone"),
                name: r.get("name"),
                vars: vars_from_json(r.get::<&str, _>("vars")),
                outcome: r.get("outcome"),
                answered: r.get::<Option<i64>, _>("answered_at").is_some(),
                provider_call_id: r.get("provider_call_id"),
            }))
        })
    }

    pub async fn attempt_by_call_id(&self, call_id: &str) -> Result<Option<i64>> {
        Ok(with_reader!(self, |db| sqlx::query_scalar(
            "SELECT id FROM attempts WHERE provider_call_id = $1"
        )
        .bind(call_id)
        .fetch_optional(db)
        .await?))
    }

    /// Stores a control request and what it taught about its attempt, in one transaction.
    pub async fn record_event(&self, event: &CallEvent, progress: Option<&Progress>) -> Result<()> {
        match self {
            Store::Sqlite(s) => {
                let op = GroupOp::Event(event.clone(), progress.cloned());
                s.grouped(op).await.map(drop)
            }
            Store::Postgres(s) => s.record_event(event, progress).await,
        }
    }

    /// Closes an open attempt and moves its contact on. Returns `None` when the attempt was
    /// already closed (or does not exist): the second description of a call changes nothing.
    pub async fn close_attempt(
        &self,
        attempt_id: i64,
        close: &AttemptClose,
        policy: &RetryPolicy,
    ) -> Result<Option<NextState>> {
        let (close, policy) = (close.clone(), policy.clone());
        let job = CloseJob {
            attempt_id,
            close,
            policy,
        };
        match self {
            Store::Sqlite(s) => match s.grouped(GroupOp::Close(job)).await? {
                GroupOut::Closed(next) => Ok(next),
                GroupOut::Done => Ok(None),
            },
            Store::Postgres(_) => Ok(self.close_attempts(&[job]).await?.pop().flatten()),
        }
    }

    /// [`Store::close_attempt`] for many attempts in one transaction; one result per job.
    pub async fn close_attempts(&self, jobs: &[CloseJob]) -> Result<Vec<Option<NextState>>> {
        match self {
            Store::Sqlite(s) => {
                let close = |tx: &_| jobs.iter().map(|j| direct::close_attempt(tx, j)).collect();
                s.in_direct_transaction(close).await
            }
            Store::Postgres(s) => {
                let mut tx = s.pool.begin().await?;
                let mut out = Vec::with_capacity(jobs.len());
                for job in jobs {
                    out.push(postgres::close_attempt(&mut tx, job).await?);
                }
                tx.commit().await?;
                Ok(out)
            }
        }
    }

    /// Stores a raw report batch before it is parsed; returns its id.
    pub async fn store_report_batch(&self, body: &str, now: i64) -> Result<i64> {
        Ok(with_writer!(self, |db| bind!(
            sqlx::query_scalar(
                "INSERT INTO report_batches (body, received_at) VALUES ($1, $2) RETURNING id",
            ),
            body,
            now
        )
        .fetch_one(db)
        .await?))
    }

    pub async fn finish_report_batch(
        &self,
        batch_id: i64,
        lines: i64,
        error: Option<&str>,
    ) -> Result<()> {
        execute!(
            self,
            "UPDATE report_batches SET lines = $1, error = $2 WHERE id = $3",
            lines,
            error,
            batch_id
        );
        Ok(())
    }

    /// Stores report lines in one transaction, each idempotently (keyed by ID, startdate, dst);
    /// billed seconds and cost go to the attempts. One result per line, in order.
    pub async fn apply_report_lines(
        &self,
        batch_id: i64,
        lines: &[ReportLine],
        now: i64,
    ) -> Result<Vec<ReportLineApplied>> {
        match self {
            Store::Sqlite(s) => {
                let apply = |tx: &_| direct::apply_report_lines(tx, batch_id, lines, now);
                s.in_direct_transaction(apply).await
            }
            Store::Postgres(s) => {
                let mut tx = s.pool.begin().await?;
                let out = postgres::apply_report_lines(&mut tx, batch_id, lines, now).await?;
                tx.commit().await?;
                Ok(out)
            }
        }
    }

    pub async fn open_attempts(&self) -> Result<Vec<OpenAttempt>> {
        fetch_all!(
            self,
            OpenAttempt,
            "SELECT id AS attempt_id, campaign_id, status, created_at FROM attempts
             WHERE status IN ('launching', 'ringing') ORDER BY id"
        )
    }

    /// Contacts not in a final state in campaigns that are not paused.
    pub async fn unfinished_contacts(&self) -> Result<i64> {
        Ok(with_reader!(self, |db| sqlx::query_scalar(
            "SELECT COUNT(*) FROM contacts c JOIN campaigns k ON k.id = c.campaign_id
             WHERE NOT k.paused AND c.state IN ('pending', 'scheduled', 'in_progress')",
        )
        .fetch_one(db)
        .await?))
    }

    /// The earliest due time (ms) of the campaign's waiting contacts, if any wait.
    pub async fn next_due(&self, campaign: &str) -> Result<Option<i64>> {
        Ok(with_reader!(self, |db| {
            sqlx::query_scalar(
            // Two index edge look-ups (see claim_due), not a range scan of the campaign.
            "SELECT MIN(m) FROM (SELECT MIN(next_at) AS m FROM contacts WHERE campaign_id = $1 AND state = 'pending'
                                 UNION ALL
                                 SELECT MIN(next_at) FROM contacts WHERE campaign_id = $1 AND state = 'scheduled') q",
        )
        .bind(campaign)
        .fetch_one(db)
        .await?
        }))
    }

    pub async fn stats(&self, campaign: &str) -> Result<CampaignStats> {
        let mut stats = CampaignStats::default();
        let states: Result<Vec<(String, i64)>> = fetch_all!(
            self,
            (String, i64),
            "SELECT state, COUNT(*) FROM contacts WHERE campaign_id = $1 GROUP BY state",
            campaign
        );
        for (state, n) in states? {
            stats.contacts += n;
            stats.states.insert(state, n);
        }
        let results: Result<Vec<(String, i64, i64, f64)>> = fetch_all!(self, (String, i64, i64, f64),
            "SELECT COALESCE(result, 'open'), COUNT(*), CAST(COALESCE(SUM(talk_seconds), 0) AS BIGINT),
                    CAST(COALESCE(SUM(cost), 0.0) AS DOUBLE PRECISION)
             FROM attempts WHERE campaign_id = $1 AND status <> 'not_placed' GROUP BY COALESCE(result, 'open')",
            campaign);
        for (result, n, talk, cost) in results? {
            stats.attempts.insert(result, n);
            stats.talk_seconds += talk;
            stats.cost += cost;
        }
        Ok(stats)
    }

    /// Adds or replaces do-not-call entries; returns how many were written.
    pub async fn dnc_upsert(&self, entries: &[DncEntry], now: i64) -> Result<u64> {
        with_writer!(self, |db| {
            let mut tx = db.begin().await?;
            let mut n = 0;
            for e in entries {
                n += bind!(sqlx::query(
                    "INSERT INTO do_not_call (phone, until_date, hours, source, created_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (phone) DO UPDATE SET until_date = excluded.until_date, hours = excluded.hours,
                         source = excluded.source, created_at = excluded.created_at",
                ), &e.phone, &e.until_date, &e.hours, &e.source, now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            Ok(n)
        })
    }

    pub async fn dnc_remove(&self, phone: &str) -> Result<bool> {
        Ok(execute!(self, "DELETE FROM do_not_call WHERE phone = $1", phone) > 0)
    }

    pub async fn dnc_list(&self) -> Result<Vec<DncEntry>> {
        fetch_all!(
            self,
            DncEntry,
            "SELECT phone, until_date, hours, source FROM do_not_call ORDER BY phone"
        )
    }

    pub async fn contact(&self, campaign: &str, phone: &str) -> Result<Option<ContactDetail>> {
        Ok(with_reader!(self, |db| {
            bind!(sqlx::query_as(
            "SELECT id AS contact_id, campaign_id, phone, name, state, attempts, next_at, last_result, timezone, appointment_at, note, vars
             FROM contacts WHERE campaign_id = $1 AND phone = $2",
        ), campaign, phone)
        .fetch_optional(db)
        .await?
        }))
    }

    pub async fn attempts_of(&self, contact_id: i64) -> Result<Vec<AttemptRow>> {
        fetch_all!(self, AttemptRow,
            "SELECT id AS attempt_id, number, status, result, outcome, dtmf, provider_call_id, created_at, ended_at, talk_seconds, cost, error
             FROM attempts WHERE contact_id = $1 ORDER BY number",
            contact_id)
    }

    /// The files imported into a campaign, oldest first.
    pub async fn imported_files(&self, campaign: &str) -> Result<Vec<FileRecord>> {
        fetch_all!(self, FileRecord,
            "SELECT file_name, rows_read, imported, rejected, duplicates FROM imported_files WHERE campaign_id = $1 ORDER BY id",
            campaign)
    }

    /// Survey answers of a campaign: (question, key, how many contacts gave it), ordered.
    pub async fn survey_answers(&self, campaign: &str) -> Result<Vec<(String, String, i64)>> {
        fetch_all!(
            self,
            (String, String, i64),
            "SELECT question, answer, COUNT(*) FROM survey_answers WHERE campaign_id = $1
             GROUP BY question, answer ORDER BY question, answer",
            campaign
        )
    }

    /// Every survey answer of a campaign as (contact id, question, key), oldest first (a later
    /// answer to the same question supersedes an earlier one).
    pub async fn contact_answers(&self, campaign: &str) -> Result<Vec<(i64, String, String)>> {
        fetch_all!(
            self,
            (i64, String, String),
            "SELECT a.contact_id, s.question, s.answer FROM survey_answers s
             JOIN attempts a ON a.id = s.attempt_id
             WHERE s.campaign_id = $1 ORDER BY s.answered_at, s.id",
            campaign
        )
    }

    /// Every stored key press: (provider call id, digits), for audits.
    pub async fn dtmf_events(&self) -> Result<Vec<(Option<String>, String)>> {
        fetch_all!(
            self,
            (Option<String>, String),
            "SELECT provider_call_id, dtmf FROM call_events WHERE dtmf IS NOT NULL ORDER BY id"
        )
    }

    /// Sets (or, with `None`, removes) the URL the campaign's final outcomes are POSTed to.
    /// From then on, every contact of the campaign that reaches a final state gets an outbox
    /// row in the same transaction (a trigger of migration 0006).
    pub async fn set_notify_target(
        &self,
        campaign: &str,
        url: Option<&str>,
        now: i64,
    ) -> Result<()> {
        match url {
            Some(url) => execute!(self,
                "INSERT INTO notify_targets (campaign_id, url, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (campaign_id) DO UPDATE SET url = excluded.url, updated_at = excluded.updated_at,
                     stopped_at = CASE WHEN notify_targets.url = excluded.url THEN notify_targets.stopped_at ELSE NULL END",
                campaign, url, now),
            None => execute!(self, "DELETE FROM notify_targets WHERE campaign_id = $1", campaign),
        };
        Ok(())
    }

    /// A delivery failed: one more try is counted and the error kept; it is tried again at
    /// `retry_at`, or given up with `None`.
    pub async fn notification_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<()> {
        execute!(
            self,
            "UPDATE notify_outbox SET tries = tries + 1, last_error = $1,
                 next_try_at = COALESCE($2, next_try_at),
                 gave_up_at = CASE WHEN CAST($2 AS BIGINT) IS NULL THEN $3 ELSE NULL END
             WHERE id = $4 AND delivered_at IS NULL",
            error,
            retry_at,
            now,
            id
        );
        Ok(())
    }

    /// Sales: of the campaign's ended calls answered at or after `since`, how many there were
    /// and how many were abandoned (no agent took them): `(answered, abandoned)`.
    pub async fn abandon_counts(&self, campaign: &str, since: i64) -> Result<(i64, i64)> {
        Ok(with_reader!(self, |db| {
            bind!(sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN outcome = 'abandoned' THEN 1 ELSE 0 END), 0) AS BIGINT)
             FROM attempts WHERE campaign_id = $1 AND status = 'closed' AND answered_at >= $2",
        ), campaign, since)
        .fetch_one(db)
        .await?
        }))
    }

    /// The answer time and outcome of the campaign's ended calls answered at or after `since`
    /// (per-day abandon rates), oldest first.
    pub async fn answered_calls(
        &self,
        campaign: &str,
        since: i64,
    ) -> Result<Vec<(i64, Option<String>)>> {
        fetch_all!(self, (i64, Option<String>),
            "SELECT answered_at, outcome FROM attempts
             WHERE campaign_id = $1 AND status = 'closed' AND answered_at >= $2 ORDER BY answered_at, id",
            campaign, since)
    }

    /// One row per contact of a campaign for `report --contacts`, ordered by id, handed to
    /// `each` as the database returns it, so memory stays flat whatever the campaign's size. An error of `each` stops
    /// the stream.
    pub async fn contact_report_each<E: From<StoreError>>(
        &self,
        campaign: &str,
        mut each: impl FnMut(ContactReportRow) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        use futures_util::TryStreamExt;
        let whole_table = self.reads_whole_table(campaign).await?;
        let mut rows = self.contact_report_stream(campaign, whole_table);
        while let Some(r) = rows.try_next().await? {
            each(r)?;
        }
        Ok(())
    }

    /// The CSV columns of a campaign's contacts (`vars` keys), in the order of the files that
    /// brought them: every row of a file has the same columns, so each file's first contact
    /// names them, without reading every contact before a report streams them.
    /// `whole_table`: as [`Store::reads_whole_table`] says.
    pub async fn contact_columns(&self, campaign: &str, whole_table: bool) -> Result<Vec<String>> {
        // A campaign holding most of the table is read through the table in id order on
        // SQLite (`+`: not through the campaign index, row by row: 0.3 s against 2.8 s for a
        // million contacts; see `contacts_mostly_of`).
        let sql = match self {
            Store::Sqlite(_) if whole_table => {
                "SELECT vars FROM contacts WHERE id IN
                     (SELECT MIN(id) FROM contacts WHERE +campaign_id = $1 GROUP BY file_id) ORDER BY id"
            }
            _ => {
                "SELECT vars FROM contacts WHERE id IN
                     (SELECT MIN(id) FROM contacts WHERE campaign_id = $1 GROUP BY file_id) ORDER BY id"
            }
        };
        let firsts: Vec<String> = with_reader!(self, |db| {
            sqlx::query_scalar(sql).bind(campaign).fetch_all(db).await?
        });
        let mut columns: Vec<String> = Vec::new();
        for vars in firsts {
            for k in vars_from_json(&vars).into_keys() {
                if !columns.contains(&k) {
                    columns.push(k);
                }
            }
        }
        Ok(columns)
    }

    /// Every placed attempt of a campaign (not `not_placed`) with its contact's number, zone and
    /// appointment, oldest first: charts and the compliance report.
    pub async fn attempt_facts(&self, campaign: &str) -> Result<Vec<AttemptFact>> {
        fetch_all!(self, AttemptFact,
            "SELECT a.id AS attempt_id, a.contact_id, c.phone, c.timezone, c.appointment_at, c.vars, a.created_at, a.launched_at,
                    a.answered_at, a.ended_at, a.result, a.outcome
             FROM attempts a JOIN contacts c ON c.id = a.contact_id
             WHERE a.campaign_id = $1 AND a.status <> 'not_placed' ORDER BY a.created_at, a.id",
            campaign)
    }

    /// The control requests stored for a contact's attempts, in order received.
    pub async fn events_of(&self, contact_id: i64) -> Result<Vec<EventRow>> {
        fetch_all!(
            self,
            EventRow,
            "SELECT e.attempt_id, e.kind, e.command, e.dtmf, e.statuscall, e.received_at
             FROM call_events e JOIN attempts a ON a.id = e.attempt_id
             WHERE a.contact_id = $1 ORDER BY e.received_at, e.id",
            contact_id
        )
    }

    /// The call-report lines matched to a contact's attempts, in order received.
    pub async fn report_lines_of(&self, contact_id: i64) -> Result<Vec<ReportLineRow>> {
        fetch_all!(
            self,
            ReportLineRow,
            "SELECT l.attempt_id, l.status, l.startdate, l.duration_seconds, l.cost, l.received_at
             FROM report_lines l JOIN attempts a ON a.id = l.attempt_id
             WHERE a.contact_id = $1 ORDER BY l.received_at, l.id",
            contact_id
        )
    }

    /// Attempts of a campaign that ended in an opt-out, with the time of their last key press
    /// and the do-not-call entry of the number (if any).
    pub async fn opt_outs(&self, campaign: &str) -> Result<Vec<OptOutRow>> {
        fetch_all!(self, OptOutRow,
            "SELECT a.id AS attempt_id, c.phone, d.created_at AS dnc_at, d.source AS dnc_source,
                    (SELECT MAX(e.received_at) FROM call_events e WHERE e.attempt_id = a.id AND e.dtmf IS NOT NULL) AS keys_at
             FROM attempts a JOIN contacts c ON c.id = a.contact_id
             LEFT JOIN do_not_call d ON d.phone = c.phone
             WHERE a.campaign_id = $1 AND a.outcome = 'opted_out' ORDER BY a.id",
            campaign)
    }
}
