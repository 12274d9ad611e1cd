//! The records the store reads and writes: what callers pass in and get back, the same on
//! both backends.

use std::collections::BTreeMap;

use crate::schedule::{AttemptResult, RetryPolicy};

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
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
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
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

/// The gate's types live with the scheduling rules that use them (the store only carries them).
pub use crate::schedule::gate::{Candidate, DncEntry, Gate};

/// A contact as `explain` shows it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
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
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
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

/// The attempt a report line belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct LineAttempt {
    pub attempt_id: i64,
    pub campaign_id: String,
    /// Still open (launching or ringing): the line may close it.
    pub open: bool,
}

/// The store's view of a report line after it was upserted.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportLineApplied {
    /// False when the same line (same ID, start, destination) was stored before.
    pub new: bool,
    /// The attempt the line belongs to.
    pub attempt: Option<LineAttempt>,
    /// Whether that attempt was answered (a start request came).
    pub answered: bool,
    /// Whether the line is the callee's leg of the call (its `dst` is the contact's number),
    /// rather than a transfer's leg to an agent (`crate::provider::is_callee_leg`).
    pub callee_leg: bool,
}

/// One attempt to close, for [`super::Store::close_attempts`].
#[derive(Debug, Clone)]
pub struct CloseJob {
    pub attempt_id: i64,
    pub close: AttemptClose,
    pub policy: RetryPolicy,
}

/// An attempt that has not ended yet.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
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
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
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
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EventRow {
    pub attempt_id: i64,
    pub kind: String,
    pub command: Option<String>,
    pub dtmf: Option<String>,
    pub statuscall: Option<String>,
    pub received_at: i64,
}

/// A call-report line matched to an attempt, for a contact's timeline.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ReportLineRow {
    pub attempt_id: i64,
    pub status: String,
    pub startdate: String,
    pub duration_seconds: i64,
    pub cost: f64,
    pub received_at: i64,
}

/// An attempt that ended in an opt-out and what became of the number.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OptOutRow {
    pub attempt_id: i64,
    pub phone: String,
    /// The last key press of the attempt (the opt-out key), ms.
    pub keys_at: Option<i64>,
    /// When the number's do-not-call entry was written, ms; `None`: not on the list.
    pub dnc_at: Option<i64>,
    pub dnc_source: Option<String>,
}
