//! Persistence: one interface ([`Backend`]), two implementations (SQLite, PostgreSQL), chosen
//! once from the database URL. Backend differences live only in this folder.
//!
//! Guarantees every caller relies on:
//! - an attempt row exists (status `launching`) before the provider is asked to dial it;
//! - claiming due contacts is atomic: no contact is claimed by two loops at once;
//! - closing an attempt is idempotent: a second description of the same call (control request
//!   and report line) never counts it twice;
//! - contact state transitions happen in the same transaction as the attempt change behind them.

mod postgres;
mod sqlite;
mod sqlite_direct;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::schedule::{AttemptResult, NextState, RetryPolicy};

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
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRow {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub paused: bool,
    /// Why it is paused when the daemon paused it (e.g. the provider's 402).
    pub paused_reason: Option<String>,
}

/// What is recorded about an imported file.
#[derive(Debug, Clone)]
pub struct FileImport {
    pub file_name: String,
    pub hash: String,
    pub rows_read: u64,
    pub rejected: u64,
    pub duplicates: u64,
    /// An upper bound of the rows to come (the file's line count), known before the first
    /// batch: a big first import of a campaign may take the bulk path (see `begin_import`).
    pub expected_rows: u64,
}

/// A file as recorded at import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub file_name: String,
    pub rows_read: i64,
    pub imported: i64,
    pub rejected: i64,
    pub duplicates: i64,
}

/// The result of importing a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportResult {
    /// The same content was imported before: nothing was inserted.
    pub already_imported: bool,
    pub inserted: u64,
    /// Contacts already in the campaign (merged, first one wins).
    pub existing: u64,
}

/// A contact to insert.
pub use crate::campaign::csv::NewContact;

/// A contact as the store writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactRecord {
    /// E.164.
    pub phone: String,
    pub name: String,
    /// The CSV columns as a JSON object.
    pub vars: String,
    pub timezone: Option<String>,
    /// The appointment (reminders), ms.
    pub appointment_at: Option<i64>,
}

impl From<&NewContact> for ContactRecord {
    fn from(c: &NewContact) -> Self {
        ContactRecord {
            phone: c.phone.clone(),
            name: c.name.clone(),
            vars: c.vars_json.clone(),
            timezone: c.timezone.clone(),
            appointment_at: None,
        }
    }
}

/// Rows per multi-row INSERT.
pub(crate) const INSERT_CHUNK: usize = 500;

/// A contact claimed for a launch, with its freshly written attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub attempt_id: i64,
    pub contact_id: i64,
    pub campaign_id: String,
    /// 1-based attempt number of this contact.
    pub number: i64,
    pub phone: String,
}

/// A do-not-call entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DncEntry {
    /// E.164.
    pub phone: String,
    /// Blocked until this local date (`YYYY-MM-DD`, inclusive); `None` with no `hours`: for good.
    pub until_date: Option<String>,
    /// Blocked only during these weekly hours (`mon-fri 09:00-14:00`, several joined by `;`).
    pub hours: Option<String>,
    /// Where it came from: `cli`, `blacklist.csv`, `opt-out`…
    pub source: String,
}

/// A due contact offered to the dialer's gate inside the claim transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub contact_id: i64,
    pub phone: String,
    pub timezone: Option<String>,
    pub appointment_at: Option<i64>,
    /// The contact's CSV columns as stored (JSON object), where its region is read from.
    pub vars: String,
    pub dnc: Option<DncEntry>,
}

/// The gate's verdict on a due contact.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// Launch now.
    Launch,
    /// Not now: due again at this instant (ms), with the reason for `explain`.
    Defer { until: i64, note: String },
    /// Never: the contact ends in this state (`blocked`, `expired`), with the reason.
    Close { state: String, note: String },
}

/// A contact as `explain` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactDetail {
    pub contact_id: i64,
    pub campaign_id: String,
    pub phone: String,
    pub name: String,
    pub state: String,
    pub attempts: i64,
    pub next_at: i64,
    pub last_result: Option<String>,
    pub timezone: Option<String>,
    pub appointment_at: Option<i64>,
    /// The contact's CSV columns as stored (JSON object).
    pub vars: String,
    /// Why the scheduler last deferred or closed it.
    pub note: Option<String>,
}

/// One attempt as `explain` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRow {
    pub attempt_id: i64,
    pub number: i64,
    pub status: String,
    pub result: Option<String>,
    pub outcome: Option<String>,
    pub dtmf: Option<String>,
    pub provider_call_id: Option<String>,
    pub created_at: i64,
    pub ended_at: Option<i64>,
    pub talk_seconds: Option<i64>,
    pub cost: Option<f64>,
    pub error: Option<String>,
}

/// What the call flow needs to know about an attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptInfo {
    pub attempt_id: i64,
    pub campaign_id: String,
    pub contact_id: i64,
    pub status: String,
    pub phone: String,
    pub name: String,
    pub vars: BTreeMap<String, String>,
    pub outcome: Option<String>,
    pub answered: bool,
    /// The provider's call id, once the launch reply (or a request) told it.
    pub provider_call_id: Option<String>,
}

/// A control request as received, for the `call_events` table.
#[derive(Debug, Clone)]
pub struct CallEvent {
    pub attempt_id: Option<i64>,
    pub provider_call_id: Option<String>,
    /// `start`, `result`, `error`, `end` or `other`.
    pub kind: String,
    pub command: Option<String>,
    pub dtmf: Option<String>,
    pub statuscall: Option<String>,
    /// Every field of the request, as JSON.
    pub fields: String,
    pub received_at: i64,
}

/// What a control request taught about its attempt, written with the event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    pub answered: bool,
    /// The flow outcome reached so far (e.g. `delivered`).
    pub outcome: Option<String>,
    /// Keys pressed, appended to the attempt's digits.
    pub dtmf: Option<String>,
    /// Survey answers given with this request: (question id, key).
    pub answers: Vec<(String, String)>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptClose {
    pub result: AttemptResult,
    pub duration_seconds: Option<i64>,
    pub talk_seconds: Option<i64>,
    pub ended_at: i64,
}

/// Why a launch did not place a call.
#[derive(Debug, Clone, PartialEq)]
pub enum NotPlaced {
    /// Try the contact again at this time (ms); the attempt does not count.
    RetryAt(i64),
    /// The provider refused this contact for good.
    Failed,
}

/// One element of a call-report batch.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportLine {
    pub provider_call_id: String,
    pub startdate: String,
    pub dst: String,
    pub status: String,
    pub duration_seconds: i64,
    pub cost: f64,
    pub raw: String,
}

/// The store's view of a report line after it was upserted.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportLineApplied {
    /// False when the same line (same ID, start, destination) was stored before.
    pub new: bool,
    /// The attempt the line belongs to, and whether that attempt is still open.
    pub attempt: Option<(i64, String, bool)>,
    /// Whether that attempt was answered (a start request came).
    pub answered: bool,
}

/// One attempt to close, for [`Backend::close_attempts`].
#[derive(Debug, Clone)]
pub struct CloseJob {
    pub attempt_id: i64,
    pub close: AttemptClose,
    pub policy: RetryPolicy,
}

/// An attempt that has not ended yet.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAttempt {
    pub attempt_id: i64,
    pub campaign_id: String,
    pub status: String,
    pub created_at: i64,
}

/// Counts behind `pregonero report`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignStats {
    pub contacts: i64,
    pub states: BTreeMap<String, i64>,
    /// Placed attempts by result (`open` for those not ended yet).
    pub attempts: BTreeMap<String, i64>,
    pub talk_seconds: i64,
    pub cost: f64,
}

/// A notification waiting in the outbox (`[reminder].notify_url`), with the contact it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The outbox row id; also the idempotency key the receiver sees.
    pub id: i64,
    pub campaign_id: String,
    pub url: String,
    /// The final state reached (the outcome).
    pub state: String,
    /// When the state was reached, ms.
    pub created_at: i64,
    /// Deliveries tried so far.
    pub tries: i64,
    pub phone: String,
    pub name: String,
    pub vars: BTreeMap<String, String>,
    pub attempts: i64,
    pub dtmf: Option<String>,
    pub last_result: Option<String>,
    pub last_call_at: Option<i64>,
}

/// An outbox row as stored (tests, audits).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub contact_id: i64,
    pub state: String,
    pub tries: i64,
    pub next_try_at: i64,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    pub gave_up_at: Option<i64>,
}

/// The interface both backends implement.
#[allow(async_fn_in_trait)]
pub trait Backend {
    async fn migrate(&self) -> Result<()>;
    async fn ping(&self) -> Result<()>;
    /// Inserts or updates a campaign definition; its paused flag is kept.
    async fn upsert_campaign(
        &self,
        id: &str,
        kind: &str,
        title: &str,
        source: &str,
        now: i64,
    ) -> Result<()>;
    async fn campaigns(&self) -> Result<Vec<CampaignRow>>;
    /// Returns false when no such campaign exists. `reason` says who paused it and why.
    async fn set_paused(
        &self,
        id: &str,
        paused: bool,
        reason: Option<&str>,
        now: i64,
    ) -> Result<bool>;
    /// Pauses every campaign (the provider's 402: no balance), with the reason.
    async fn pause_all(&self, reason: &str, now: i64) -> Result<()>;
    /// Records a file about to be imported and returns its id; `None` when this content was
    /// imported into the campaign before. An import cut short (crash) returns its id again, to
    /// be resumed: contact inserts are idempotent. Until `finish_import` or `abort_import`,
    /// the import holds the import lease (SQLite: one importer at a time; PostgreSQL: one per
    /// campaign, an advisory lock; across processes, others wait here). A big first import of
    /// a campaign takes the bulk path: on SQLite the phone index is dropped and rebuilt at the
    /// end (migration 0005); on PostgreSQL the rows are staged with `COPY` and written in one
    /// transaction at `finish_import`, so that stopping leaves the contacts unchanged.
    async fn begin_import(
        &self,
        campaign: &str,
        file: &FileImport,
        now: i64,
    ) -> Result<Option<i64>>;
    /// Inserts a batch of contacts in one transaction; numbers already in the campaign are
    /// skipped (first one wins). Returns how many were inserted (on PostgreSQL's bulk path:
    /// staged, to be written by `finish_import`).
    async fn insert_contacts(
        &self,
        campaign: &str,
        file_id: i64,
        contacts: &[ContactRecord],
        now: i64,
    ) -> Result<u64>;
    /// Marks an import complete with its final counts and ends the lease. `file.duplicates`
    /// counts the rows offered but not inserted; the stored record is returned (its
    /// `imported` covers every run of a resumed file).
    async fn finish_import(&self, file_id: i64, file: &FileImport) -> Result<FileRecord>;
    /// An import stopped by an error: releases what `begin_import` took (the file stays
    /// incomplete, to be resumed).
    async fn abort_import(&self, file_id: i64) -> Result<()>;
    /// Atomically claims up to `limit` due contacts of a campaign and writes their attempts.
    /// Each due contact first goes through `gate` (calling window, do-not-call, deadlines) inside
    /// the same transaction: deferred contacts get their new due time, closed ones their final
    /// state, and only the others are claimed.
    async fn claim_due(
        &self,
        campaign: &str,
        now: i64,
        limit: u32,
        gate: &(dyn Fn(&Candidate) -> Gate + Sync),
    ) -> Result<Vec<Claim>>;
    /// The provider accepted the launch and returned its call id.
    async fn mark_launched(&self, attempt_id: i64, call_id: &str, now: i64) -> Result<()>;
    /// The provider did not place the call. Only an attempt still `launching` is changed.
    async fn mark_not_placed(
        &self,
        attempt_id: i64,
        error: &str,
        next: &NotPlaced,
        now: i64,
    ) -> Result<()>;
    async fn attempt_info(&self, attempt_id: i64) -> Result<Option<AttemptInfo>>;
    async fn attempt_by_call_id(&self, call_id: &str) -> Result<Option<i64>>;
    /// Stores a control request and what it taught about its attempt, in one transaction.
    async fn record_event(&self, event: &CallEvent, progress: Option<&Progress>) -> Result<()>;
    /// Closes an open attempt and moves its contact on. Returns `None` when the attempt was
    /// already closed (or does not exist): the second description of a call changes nothing.
    async fn close_attempt(
        &self,
        attempt_id: i64,
        close: &AttemptClose,
        policy: &RetryPolicy,
    ) -> Result<Option<NextState>>;
    /// Stores a raw report batch before it is parsed; returns its id.
    async fn store_report_batch(&self, body: &str, now: i64) -> Result<i64>;
    async fn finish_report_batch(
        &self,
        batch_id: i64,
        lines: i64,
        error: Option<&str>,
    ) -> Result<()>;
    /// Idempotent upsert keyed by (ID, startdate, dst); duration and cost go to the attempt.
    async fn apply_report_line(
        &self,
        batch_id: i64,
        line: &ReportLine,
        now: i64,
    ) -> Result<ReportLineApplied> {
        let mut v = self
            .apply_report_lines(batch_id, std::slice::from_ref(line), now)
            .await?;
        v.pop()
            .ok_or_else(|| StoreError::Corrupt("a report line was not applied".into()))
    }
    /// [`Backend::apply_report_line`] for many lines in one transaction; one result per line,
    /// in order.
    async fn apply_report_lines(
        &self,
        batch_id: i64,
        lines: &[ReportLine],
        now: i64,
    ) -> Result<Vec<ReportLineApplied>>;
    /// [`Backend::close_attempt`] for many attempts in one transaction; one result per job.
    async fn close_attempts(&self, jobs: &[CloseJob]) -> Result<Vec<Option<NextState>>>;
    async fn open_attempts(&self) -> Result<Vec<OpenAttempt>>;
    /// Contacts not in a final state in campaigns that are not paused.
    async fn unfinished_contacts(&self) -> Result<i64>;
    /// The earliest due time (ms) of the campaign's waiting contacts, if any wait.
    async fn next_due(&self, campaign: &str) -> Result<Option<i64>>;
    async fn stats(&self, campaign: &str) -> Result<CampaignStats>;
    /// Adds or replaces do-not-call entries; returns how many were written.
    async fn dnc_upsert(&self, entries: &[DncEntry], now: i64) -> Result<u64>;
    async fn dnc_remove(&self, phone: &str) -> Result<bool>;
    async fn dnc_list(&self) -> Result<Vec<DncEntry>>;
    async fn contact(&self, campaign: &str, phone: &str) -> Result<Option<ContactDetail>>;
    async fn attempts_of(&self, contact_id: i64) -> Result<Vec<AttemptRow>>;
    /// The files imported into a campaign, oldest first.
    async fn imported_files(&self, campaign: &str) -> Result<Vec<FileRecord>>;
    /// Survey answers of a campaign: (question, key, how many contacts gave it), ordered.
    async fn survey_answers(&self, campaign: &str) -> Result<Vec<(String, String, i64)>>;
    /// Every stored key press: (provider call id, digits), for audits.
    async fn dtmf_events(&self) -> Result<Vec<(Option<String>, String)>>;
    /// Sets (or, with `None`, removes) the URL the campaign's final outcomes are POSTed to.
    /// From then on, every contact of the campaign that reaches a final state gets an outbox
    /// row in the same transaction (a trigger of migration 0006).
    async fn set_notify_target(&self, campaign: &str, url: Option<&str>, now: i64) -> Result<()>;
    /// Undelivered outbox rows due at `now` (not given up), oldest first.
    async fn due_notifications(&self, now: i64, limit: u32) -> Result<Vec<Notification>>;
    /// The receiver accepted the notification.
    async fn notification_delivered(&self, id: i64, now: i64) -> Result<()>;
    /// A delivery failed: one more try is counted and the error kept; it is tried again at
    /// `retry_at`, or given up with `None`.
    async fn notification_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<()>;
    /// The earliest `next_try_at` of the rows still to deliver.
    async fn next_notification_at(&self) -> Result<Option<i64>>;
    /// The outbox rows of a campaign, oldest first.
    async fn outbox(&self, campaign: &str) -> Result<Vec<OutboxRow>>;
    /// Sales: of the campaign's ended calls answered at or after `since`, how many there were
    /// and how many were abandoned (no agent took them): `(answered, abandoned)`.
    async fn abandon_counts(&self, campaign: &str, since: i64) -> Result<(i64, i64)>;
    /// The answer time and outcome of the campaign's ended calls answered at or after `since`
    /// (per-day abandon rates), oldest first.
    async fn answered_calls(
        &self,
        campaign: &str,
        since: i64,
    ) -> Result<Vec<(i64, Option<String>)>>;
    /// One row per contact of a campaign for `report --contacts`, ordered by id.
    async fn contact_report(&self, campaign: &str) -> Result<Vec<ContactReportRow>>;
    /// Every placed attempt of a campaign (not `not_placed`) with its contact's number, zone and
    /// appointment, oldest first: charts and the compliance report.
    async fn attempt_facts(&self, campaign: &str) -> Result<Vec<AttemptFact>>;
    /// The control requests stored for a contact's attempts, in order received.
    async fn events_of(&self, contact_id: i64) -> Result<Vec<EventRow>>;
    /// The call-report lines matched to a contact's attempts, in order received.
    async fn report_lines_of(&self, contact_id: i64) -> Result<Vec<ReportLineRow>>;
    /// Attempts of a campaign that ended in an opt-out, with the time of their last key press
    /// and the do-not-call entry of the number (if any).
    async fn opt_outs(&self, campaign: &str) -> Result<Vec<OptOutRow>>;
}

/// The store in use, SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Store::Sqlite($s) => $call.await,
            Store::Postgres($s) => $call.await,
        }
    };
}

impl Store {
    /// Connects to the database named by the URL and applies the migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        let store = if url.starts_with("sqlite:") {
            Store::Sqlite(SqliteStore::connect(url).await?)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Store::Postgres(PgStore::connect(url).await?)
        } else {
            return Err(StoreError::UnknownScheme);
        };
        store.migrate().await?;
        Ok(store)
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
        contacts: &[NewContact],
        now: i64,
    ) -> Result<ImportResult> {
        let Some(file_id) = self.begin_import(campaign, file, now).await? else {
            return Ok(ImportResult {
                already_imported: true,
                inserted: 0,
                existing: 0,
            });
        };
        let records: Vec<ContactRecord> = contacts.iter().map(ContactRecord::from).collect();
        let inserted = match self.insert_contacts(campaign, file_id, &records, now).await {
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

    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Postgres(s) => s.pool().close().await,
        }
    }
}

impl Backend for Store {
    async fn migrate(&self) -> Result<()> {
        dispatch!(self, s => s.migrate())
    }
    async fn ping(&self) -> Result<()> {
        dispatch!(self, s => s.ping())
    }
    async fn upsert_campaign(
        &self,
        id: &str,
        kind: &str,
        title: &str,
        source: &str,
        now: i64,
    ) -> Result<()> {
        dispatch!(self, s => s.upsert_campaign(id, kind, title, source, now))
    }
    async fn campaigns(&self) -> Result<Vec<CampaignRow>> {
        dispatch!(self, s => s.campaigns())
    }
    async fn set_paused(
        &self,
        id: &str,
        paused: bool,
        reason: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        dispatch!(self, s => s.set_paused(id, paused, reason, now))
    }
    async fn pause_all(&self, reason: &str, now: i64) -> Result<()> {
        dispatch!(self, s => s.pause_all(reason, now))
    }
    async fn begin_import(
        &self,
        campaign: &str,
        file: &FileImport,
        now: i64,
    ) -> Result<Option<i64>> {
        dispatch!(self, s => s.begin_import(campaign, file, now))
    }
    async fn insert_contacts(
        &self,
        campaign: &str,
        file_id: i64,
        contacts: &[ContactRecord],
        now: i64,
    ) -> Result<u64> {
        dispatch!(self, s => s.insert_contacts(campaign, file_id, contacts, now))
    }
    async fn finish_import(&self, file_id: i64, file: &FileImport) -> Result<FileRecord> {
        dispatch!(self, s => s.finish_import(file_id, file))
    }
    async fn abort_import(&self, file_id: i64) -> Result<()> {
        dispatch!(self, s => s.abort_import(file_id))
    }
    async fn claim_due(
        &self,
        campaign: &str,
        now: i64,
        limit: u32,
        gate: &(dyn Fn(&Candidate) -> Gate + Sync),
    ) -> Result<Vec<Claim>> {
        dispatch!(self, s => s.claim_due(campaign, now, limit, gate))
    }
    async fn mark_launched(&self, attempt_id: i64, call_id: &str, now: i64) -> Result<()> {
        dispatch!(self, s => s.mark_launched(attempt_id, call_id, now))
    }
    async fn mark_not_placed(
        &self,
        attempt_id: i64,
        error: &str,
        next: &NotPlaced,
        now: i64,
    ) -> Result<()> {
        dispatch!(self, s => s.mark_not_placed(attempt_id, error, next, now))
    }
    async fn attempt_info(&self, attempt_id: i64) -> Result<Option<AttemptInfo>> {
        dispatch!(self, s => s.attempt_info(attempt_id))
    }
    async fn attempt_by_call_id(&self, call_id: &str) -> Result<Option<i64>> {
        dispatch!(self, s => s.attempt_by_call_id(call_id))
    }
    async fn record_event(&self, event: &CallEvent, progress: Option<&Progress>) -> Result<()> {
        dispatch!(self, s => s.record_event(event, progress))
    }
    async fn close_attempt(
        &self,
        attempt_id: i64,
        close: &AttemptClose,
        policy: &RetryPolicy,
    ) -> Result<Option<NextState>> {
        dispatch!(self, s => s.close_attempt(attempt_id, close, policy))
    }
    async fn store_report_batch(&self, body: &str, now: i64) -> Result<i64> {
        dispatch!(self, s => s.store_report_batch(body, now))
    }
    async fn finish_report_batch(
        &self,
        batch_id: i64,
        lines: i64,
        error: Option<&str>,
    ) -> Result<()> {
        dispatch!(self, s => s.finish_report_batch(batch_id, lines, error))
    }
    async fn apply_report_line(
        &self,
        batch_id: i64,
        line: &ReportLine,
        now: i64,
    ) -> Result<ReportLineApplied> {
        dispatch!(self, s => s.apply_report_line(batch_id, line, now))
    }
    async fn apply_report_lines(
        &self,
        batch_id: i64,
        lines: &[ReportLine],
        now: i64,
    ) -> Result<Vec<ReportLineApplied>> {
        dispatch!(self, s => s.apply_report_lines(batch_id, lines, now))
    }
    async fn close_attempts(&self, jobs: &[CloseJob]) -> Result<Vec<Option<NextState>>> {
        dispatch!(self, s => s.close_attempts(jobs))
    }
    async fn open_attempts(&self) -> Result<Vec<OpenAttempt>> {
        dispatch!(self, s => s.open_attempts())
    }
    async fn unfinished_contacts(&self) -> Result<i64> {
        dispatch!(self, s => s.unfinished_contacts())
    }
    async fn next_due(&self, campaign: &str) -> Result<Option<i64>> {
        dispatch!(self, s => s.next_due(campaign))
    }
    async fn stats(&self, campaign: &str) -> Result<CampaignStats> {
        dispatch!(self, s => s.stats(campaign))
    }
    async fn dnc_upsert(&self, entries: &[DncEntry], now: i64) -> Result<u64> {
        dispatch!(self, s => s.dnc_upsert(entries, now))
    }
    async fn dnc_remove(&self, phone: &str) -> Result<bool> {
        dispatch!(self, s => s.dnc_remove(phone))
    }
    async fn dnc_list(&self) -> Result<Vec<DncEntry>> {
        dispatch!(self, s => s.dnc_list())
    }
    async fn contact(&self, campaign: &str, phone: &str) -> Result<Option<ContactDetail>> {
        dispatch!(self, s => s.contact(campaign, phone))
    }
    async fn attempts_of(&self, contact_id: i64) -> Result<Vec<AttemptRow>> {
        dispatch!(self, s => s.attempts_of(contact_id))
    }
    async fn dtmf_events(&self) -> Result<Vec<(Option<String>, String)>> {
        dispatch!(self, s => s.dtmf_events())
    }
    async fn survey_answers(&self, campaign: &str) -> Result<Vec<(String, String, i64)>> {
        dispatch!(self, s => s.survey_answers(campaign))
    }
    async fn imported_files(&self, campaign: &str) -> Result<Vec<FileRecord>> {
        dispatch!(self, s => s.imported_files(campaign))
    }
    async fn set_notify_target(&self, campaign: &str, url: Option<&str>, now: i64) -> Result<()> {
        dispatch!(self, s => s.set_notify_target(campaign, url, now))
    }
    async fn due_notifications(&self, now: i64, limit: u32) -> Result<Vec<Notification>> {
        dispatch!(self, s => s.due_notifications(now, limit))
    }
    async fn notification_delivered(&self, id: i64, now: i64) -> Result<()> {
        dispatch!(self, s => s.notification_delivered(id, now))
    }
    async fn notification_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<()> {
        dispatch!(self, s => s.notification_failed(id, error, retry_at, now))
    }
    async fn next_notification_at(&self) -> Result<Option<i64>> {
        dispatch!(self, s => s.next_notification_at())
    }
    async fn outbox(&self, campaign: &str) -> Result<Vec<OutboxRow>> {
        dispatch!(self, s => s.outbox(campaign))
    }
    async fn abandon_counts(&self, campaign: &str, since: i64) -> Result<(i64, i64)> {
        dispatch!(self, s => s.abandon_counts(campaign, since))
    }
    async fn answered_calls(
        &self,
        campaign: &str,
        since: i64,
    ) -> Result<Vec<(i64, Option<String>)>> {
        dispatch!(self, s => s.answered_calls(campaign, since))
    }
    async fn contact_report(&self, campaign: &str) -> Result<Vec<ContactReportRow>> {
        dispatch!(self, s => s.contact_report(campaign))
    }
    async fn attempt_facts(&self, campaign: &str) -> Result<Vec<AttemptFact>> {
        dispatch!(self, s => s.attempt_facts(campaign))
    }
    async fn events_of(&self, contact_id: i64) -> Result<Vec<EventRow>> {
        dispatch!(self, s => s.events_of(contact_id))
    }
    async fn report_lines_of(&self, contact_id: i64) -> Result<Vec<ReportLineRow>> {
        dispatch!(self, s => s.report_lines_of(contact_id))
    }
    async fn opt_outs(&self, campaign: &str) -> Result<Vec<OptOutRow>> {
        dispatch!(self, s => s.opt_outs(campaign))
    }
}

/// A gate that launches every due contact (tests, tools).
pub fn launch_all(_: &Candidate) -> Gate {
    Gate::Launch
}

/// Decides the contact's next state inside `close_attempt`, the same way on both backends.
/// `contact` is what the store read: (attempts, last_result, result_streak, appointment_at).
pub(crate) fn next_state_for(
    policy: &RetryPolicy,
    contact: (i64, Option<&str>, i64, Option<i64>),
    close: &AttemptClose,
    outcome: Option<&str>,
) -> (NextState, i64) {
    let (attempts, last_result, streak, appointment) = contact;
    let previous = last_result.and_then(AttemptResult::parse);
    let streak = if previous == Some(close.result) {
        streak.max(0) + 1
    } else {
        1
    };
    let facts = crate::schedule::AttemptFacts {
        attempts: attempts.max(0) as u32,
        result: close.result,
        previous,
        streak: streak as u32,
        outcome,
        deadline: appointment,
    };
    (
        crate::schedule::after_attempt(policy, &facts, close.ended_at),
        streak,
    )
}

/// What a report chunk's lines found, per backend query: the attempts they name, by call id
/// (id, campaign, status, answered).
pub(crate) type ReportAttempts = HashMap<String, (i64, String, String, bool)>;

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
            let call = (a.0, line.provider_call_id.as_str());
            if !touched.contains(&call) {
                touched.push(call);
            }
        }
        out.push(ReportLineApplied {
            new,
            attempt: attempt
                .map(|(id, c, s, _)| (*id, c.clone(), s == "launching" || s == "ringing")),
            answered: attempt.is_some_and(|a| a.3),
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

/// States that end a contact's life in a campaign.
pub const WAITING_STATES: &[&str] = &["pending", "scheduled", "in_progress"];

/// One contact as `report --contacts` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactReportRow {
    pub contact_id: i64,
    pub phone: String,
    pub name: String,
    pub state: String,
    pub attempts: i64,
    pub last_result: Option<String>,
    pub dtmf: Option<String>,
    /// ms.
    pub last_call_at: Option<i64>,
    /// Summed over the contact's attempts.
    pub talk_seconds: i64,
    pub cost: f64,
    /// The original CSV columns.
    pub vars: BTreeMap<String, String>,
}

/// A placed attempt with what the charts and the compliance report need.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptFact {
    pub attempt_id: i64,
    pub contact_id: i64,
    pub phone: String,
    pub timezone: Option<String>,
    pub appointment_at: Option<i64>,
    /// The contact's CSV columns as stored (JSON object), where its region is read from.
    pub vars: String,
    /// When the attempt was claimed (the gate's decision), ms.
    pub created_at: i64,
    /// When the provider accepted the launch, ms.
    pub launched_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub result: Option<String>,
    pub outcome: Option<String>,
}

/// A stored control request, for a contact's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub attempt_id: i64,
    pub kind: String,
    pub command: Option<String>,
    pub dtmf: Option<String>,
    pub statuscall: Option<String>,
    pub received_at: i64,
}

/// A call-report line matched to an attempt, for a contact's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportLineRow {
    pub attempt_id: i64,
    pub status: String,
    pub startdate: String,
    pub duration_seconds: i64,
    pub cost: f64,
    pub received_at: i64,
}

/// An attempt that ended in an opt-out and what became of the number.
#[derive(Debug, Clone, PartialEq)]
pub struct OptOutRow {
    pub attempt_id: i64,
    pub phone: String,
    /// The last key press of the attempt (the opt-out key), ms.
    pub keys_at: Option<i64>,
    /// When the number's do-not-call entry was written, ms; `None`: not on the list.
    pub dnc_at: Option<i64>,
    pub dnc_source: Option<String>,
}
