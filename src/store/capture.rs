//! What callees said (`[[capture]]` steps of the call flow): one transcript per contact and
//! field, written once for both backends.
//!
//! Guarantees: the text is stored as given (bound, never spliced into SQL); a usable
//! transcript is never replaced by a later empty or failed one; a later usable one replaces
//! it (the callee corrected themselves or was called again).

use super::*;

/// A transcript (or its absence) as a capture step produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureWrite {
    pub attempt_id: i64,
    pub field: String,
    /// `None`: nothing understood (empty `description`) or the command failed.
    pub text: Option<String>,
    /// The command failed (`statuscode` ≥ 400) rather than hearing nothing.
    pub failed: bool,
}

impl CaptureWrite {
    fn status(&self) -> &'static str {
        match (&self.text, self.failed) {
            (Some(_), _) => "ok",
            (None, true) => "failed",
            (None, false) => "empty",
        }
    }
}

/// A stored transcript.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CaptureRow {
    pub contact_id: i64,
    pub attempt_id: i64,
    pub field: String,
    /// `ok`, `empty` or `failed`.
    pub status: String,
    pub text: String,
    pub captured_at: i64,
}

const UPSERT: &str = "INSERT INTO contact_captures (contact_id, campaign_id, attempt_id, field, status, text, captured_at)
     SELECT contact_id, campaign_id, id, $2, $3, $4, $5 FROM attempts WHERE id = $1
     ON CONFLICT (contact_id, field) DO UPDATE SET attempt_id = excluded.attempt_id,
         status = excluded.status, text = excluded.text, captured_at = excluded.captured_at
     WHERE excluded.status = 'ok' OR contact_captures.status <> 'ok'";

impl Store {
    /// Stores what a capture step heard for the contact of `c.attempt_id`. Returns false when
    /// no such attempt exists or a usable transcript was kept instead.
    pub async fn record_capture(&self, c: &CaptureWrite, now: i64) -> Result<bool> {
        let n = execute!(
            self,
            UPSERT,
            c.attempt_id,
            &c.field,
            c.status(),
            c.text.as_deref().unwrap_or(""),
            now
        );
        Ok(n > 0)
    }

    /// The transcripts of one contact, by field.
    pub async fn captures_of_contact(&self, contact_id: i64) -> Result<Vec<CaptureRow>> {
        fetch_all!(
            self,
            CaptureRow,
            "SELECT contact_id, attempt_id, field, status, text, captured_at
             FROM contact_captures WHERE contact_id = $1 ORDER BY field",
            contact_id
        )
    }

    /// The transcripts of a campaign, by contact then field (reports).
    pub async fn captures_of_campaign(&self, campaign: &str) -> Result<Vec<CaptureRow>> {
        fetch_all!(
            self,
            CaptureRow,
            "SELECT contact_id, attempt_id, field, status, text, captured_at
             FROM contact_captures WHERE campaign_id = $1 ORDER BY contact_id, field",
            campaign
        )
    }

    /// The capture fields of a campaign, sorted: one report column each.
    pub async fn capture_fields(&self, campaign: &str) -> Result<Vec<String>> {
        Ok(with_reader!(self, |db| sqlx::query_scalar::<_, String>(
            "SELECT DISTINCT field FROM contact_captures WHERE campaign_id = $1 ORDER BY field"
        )
        .bind(campaign)
        .fetch_all(db)
        .await?))
    }
}
