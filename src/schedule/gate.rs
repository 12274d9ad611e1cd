//! What the dialer's gate sees of a due contact and what it decides, inside the claim
//! transaction (`Store::claim_due`): the contract between the scheduling rules (`plan`) and the
//! store, kept here so that the rules depend on nothing above them.

use super::ContactState;

/// A do-not-call entry.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
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
    pub dnc: Option<DncEntry>,
    /// The contact's CSV columns as stored (JSON object): where its region is read from, and
    /// its consent date.
    pub vars: String,
}

/// The gate's verdict on a due contact.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// Launch now.
    Launch,
    /// Not now: due again at this instant (ms), with the reason for `explain`.
    Defer { until: i64, note: String },
    /// Never: the contact ends in this state (`blocked`, `expired`), with the reason.
    Close { state: ContactState, note: String },
}
