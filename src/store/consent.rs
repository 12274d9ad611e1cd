//! Consent withdrawn by a list sent again without it, written once for both backends.
//!
//! Guarantees: only contacts of that campaign still waiting for a call (`pending`,
//! `scheduled`) change; they become `blocked` with the reason in their note, in one statement
//! per number, so no claim can take them afterwards.

use super::*;

impl Store {
    /// Closes the waiting contacts of `campaign` with these numbers as `blocked`: `file`
    /// withdrew their consent. Returns how many changed.
    pub async fn withdraw_consent(
        &self,
        campaign: &str,
        phones: &[String],
        file: &str,
        now: i64,
    ) -> Result<u64> {
        let note = format!("consent withdrawn by {file}");
        let mut changed = 0;
        for phone in phones {
            changed += execute!(
                self,
                "UPDATE contacts SET state = 'blocked', note = $1, updated_at = $2
                 WHERE campaign_id = $3 AND phone = $4 AND state IN ('pending', 'scheduled')",
                &note,
                now,
                campaign,
                phone
            );
        }
        Ok(changed)
    }
}
