//! What several daemons on one database share (migration 0012): leases of the duties one
//! daemon at a time performs, and the account's launch pacing. Written once for both backends;
//! on SQLite a single daemon holds the file, so these only ever see that one.

use sqlx::Row;

use super::*;

/// The latest of two times; SQLite and PostgreSQL spell `MAX`/`GREATEST` differently.
const LATER: &str = "CASE WHEN launch_slots.next_at > $2 THEN launch_slots.next_at ELSE $2 END";

impl Store {
    /// Takes or renews the lease of `duty` for `holder` until `now + ttl_ms` (wall-clock ms).
    /// True when `holder` holds it now: it was free, expired, or already this holder's.
    pub async fn hold_duty(&self, duty: &str, holder: &str, now: i64, ttl_ms: i64) -> Result<bool> {
        let held = with_writer!(self, |db| {
            bind!(sqlx::query(
            "INSERT INTO duty_leases (duty, holder, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (duty) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
             WHERE duty_leases.holder = excluded.holder OR duty_leases.expires_at < $4
             RETURNING holder",
        ), duty, holder, now.saturating_add(ttl_ms), now)
        .fetch_optional(db)
        .await?
        .is_some()
        });
        Ok(held)
    }

    /// We replied `hangup` to this attempt's call: it no longer counts against the caps of
    /// [`Store::claim_due_capped`], though it stays open until its end or report arrives.
    pub async fn mark_hung_up(&self, attempt_id: i64, now: i64) -> Result<()> {
        execute!(
            self,
            "UPDATE attempts SET hung_up_at = COALESCE(hung_up_at, $1) WHERE id = $2",
            now,
            attempt_id
        );
        Ok(())
    }

    /// Gives a duty up (a daemon stopping): another daemon takes it at once.
    pub async fn release_duty(&self, duty: &str, holder: &str) -> Result<()> {
        execute!(
            self,
            "DELETE FROM duty_leases WHERE duty = $1 AND holder = $2",
            duty,
            holder
        );
        Ok(())
    }

    /// Every duty lease: (duty, holder, expires_at), by duty.
    pub async fn duty_leases(&self) -> Result<Vec<(String, String, i64)>> {
        with_reader!(self, |db| {
            let rows =
                sqlx::query("SELECT duty, holder, expires_at FROM duty_leases ORDER BY duty")
                    .fetch_all(db)
                    .await?;
            Ok(rows
                .iter()
                .map(|r| (r.get("duty"), r.get("holder"), r.get("expires_at")))
                .collect())
        })
    }

    /// The time (wall-clock µs) at which one more launch may leave, shared by every daemon:
    /// the latest of `now_us` and each scope's next free time; each scope's next free time
    /// then moves to that launch time plus its interval (µs). Scopes are locked in the order
    /// given (always the account first), in one transaction, so two daemons never take the
    /// same time and no scope ever launches closer than its interval.
    pub async fn take_launch_slot(&self, scopes: &[(&str, i64)], now_us: i64) -> Result<i64> {
        with_writer!(self, |db| {
            let mut tx = db.begin().await?;
            let mut at = now_us;
            for (scope, _) in scopes {
                // Creates the scope's row, or locks it (PostgreSQL) by touching it.
                let next: i64 = bind!(
                    sqlx::query_scalar(&format!(
                        "INSERT INTO launch_slots (scope, next_at) VALUES ($1, $2)
                     ON CONFLICT (scope) DO UPDATE SET next_at = {LATER}
                     RETURNING next_at"
                    )),
                    scope,
                    now_us
                )
                .fetch_one(&mut *tx)
                .await?;
                at = at.max(next);
            }
            for (scope, interval) in scopes {
                bind!(
                    sqlx::query("UPDATE launch_slots SET next_at = $2 WHERE scope = $1"),
                    scope,
                    at.saturating_add(*interval)
                )
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(at)
        })
    }
}
