//! A transfer's facts on its attempt, and the outcome once a signal proves that an agent took
//! the call (`crate::flow::transfer`), written once for both backends.
//!
//! Guarantees: the proof is written once (the first signal wins, later ones change nothing);
//! it may come after the attempt closed (a report leg), and then the contact's state follows
//! when this attempt is the contact's last and the state is still the outcome the attempt had
//! (a later disposition or call is never overwritten); the attempt change and the contact's
//! are one transaction.

use super::*;
use sqlx::Row;

/// What the store knows about an attempt's transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferFacts {
    /// When the transfer command left, ms.
    pub at: i64,
    /// How long the agent's phone rings, real ms; `None` for a queue.
    pub window_ms: Option<i64>,
    /// When the callee answered, ms.
    pub answered_at: Option<i64>,
    /// The outcome once an agent is known to have taken the call.
    pub outcome: Option<String>,
    /// What proved the bridge (`result`, `end`, `report`), if anything did.
    pub signal: Option<String>,
}

impl Store {
    /// The transfer command of `attempt_id` left at `at`; `outcome` is what the call becomes
    /// once an agent is known to have taken it.
    pub async fn transfer_started(
        &self,
        attempt_id: i64,
        at: i64,
        outcome: Option<&str>,
        window_ms: Option<i64>,
    ) -> Result<()> {
        execute!(
            self,
            "UPDATE attempts SET transfer_at = $1, transfer_outcome = $2, transfer_window_ms = $3
             WHERE id = $4",
            at,
            outcome,
            window_ms,
            attempt_id
        );
        Ok(())
    }

    /// The attempt's transfer, if it had one.
    pub async fn transfer_facts(&self, attempt_id: i64) -> Result<Option<TransferFacts>> {
        with_reader!(self, |db| {
            let row = sqlx::query(
                "SELECT transfer_at, transfer_window_ms, answered_at, transfer_outcome, transfer_signal
                 FROM attempts WHERE id = $1 AND transfer_at IS NOT NULL",
            )
            .bind(attempt_id)
            .fetch_optional(db)
            .await?;
            Ok(row.map(|r| TransferFacts {
                at: r.get("transfer_at"),
                window_ms: r.get("transfer_window_ms"),
                answered_at: r.get("answered_at"),
                outcome: r.get("transfer_outcome"),
                signal: r.get("transfer_signal"),
            }))
        })
    }

    /// `signal` proved that an agent took the call of `attempt_id`: the attempt's outcome
    /// becomes its transfer's (and its contact's state, see the module). Returns the new
    /// outcome, or `None` when there was no transfer or an earlier signal proved it already.
    pub async fn transfer_bridged(
        &self,
        attempt_id: i64,
        signal: &str,
        now: i64,
    ) -> Result<Option<String>> {
        with_writer!(self, |db| {
            let mut tx = db.begin().await?;
            let row = sqlx::query(
                "SELECT a.status, a.outcome, a.transfer_outcome, a.contact_id, c.state,
                        (SELECT MAX(b.id) FROM attempts b WHERE b.contact_id = a.contact_id) AS last_id
                 FROM attempts a JOIN contacts c ON c.id = a.contact_id
                 WHERE a.id = $1 AND a.transfer_outcome IS NOT NULL AND a.transfer_signal IS NULL",
            )
            .bind(attempt_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(r) = row else {
                return Ok(None);
            };
            let status: String = r.get("status");
            let before: Option<String> = r.get("outcome");
            let outcome: String = r.get("transfer_outcome");
            let contact_id: i64 = r.get("contact_id");
            let state: String = r.get("state");
            let last_id: Option<i64> = r.get("last_id");
            bind!(
                sqlx::query("UPDATE attempts SET outcome = $1, transfer_signal = $2 WHERE id = $3"),
                &outcome,
                signal,
                attempt_id
            )
            .execute(&mut *tx)
            .await?;
            if status == "closed"
                && last_id == Some(attempt_id)
                && before.as_deref() == Some(state.as_str())
                && state != outcome
            {
                bind!(sqlx::query(
                    "UPDATE contacts SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4",
                ), &outcome, now, contact_id, &state)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(Some(outcome))
        })
    }
}
