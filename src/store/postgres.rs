//! PostgreSQL backend. Claims use `FOR UPDATE SKIP LOCKED`, so several dialer loops (or
//! daemons) sharing one database never claim the same contact.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};

use super::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl Backend for PgStore {
    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn upsert_campaign(
        &self,
        id: &str,
        kind: &str,
        title: &str,
        source: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO campaigns (id, kind, title, source, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, title = excluded.title,
                 source = excluded.source, updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(kind)
        .bind(title)
        .bind(source)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn campaigns(&self) -> Result<Vec<CampaignRow>> {
        let rows = sqlx::query("SELECT id, kind, title, paused FROM campaigns ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| CampaignRow {
                id: r.get("id"),
                kind: r.get("kind"),
                title: r.get("title"),
                paused: r.get::<bool, _>("paused"),
            })
            .collect())
    }

    async fn set_paused(&self, id: &str, paused: bool, now: i64) -> Result<bool> {
        let r = sqlx::query("UPDATE campaigns SET paused = $1, updated_at = $2 WHERE id = $3")
            .bind(paused)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn import_contacts(
        &self,
        campaign: &str,
        file: &FileImport,
        contacts: &[NewContact],
        now: i64,
    ) -> Result<ImportResult> {
        let mut tx = self.pool.begin().await?;
        let file_id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO imported_files (campaign_id, file_name, content_hash, rows_read, imported, rejected, duplicates, imported_at)
             VALUES ($1, $2, $3, $4, 0, $5, $6, $7) ON CONFLICT (campaign_id, content_hash) DO NOTHING RETURNING id",
        )
        .bind(campaign)
        .bind(&file.file_name)
        .bind(&file.hash)
        .bind(file.rows_read as i64)
        .bind(file.rejected as i64)
        .bind(file.duplicates as i64)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(file_id) = file_id else {
            return Ok(ImportResult {
                already_imported: true,
                inserted: 0,
                existing: 0,
            });
        };
        let mut inserted = 0u64;
        for c in contacts {
            let r = sqlx::query(
                "INSERT INTO contacts (campaign_id, file_id, phone, name, vars, timezone, state, next_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8) ON CONFLICT (campaign_id, phone) DO NOTHING",
            )
            .bind(campaign)
            .bind(file_id)
            .bind(&c.phone)
            .bind(&c.name)
            .bind(vars_to_json(&c.vars))
            .bind(&c.timezone)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            inserted += r.rows_affected();
        }
        sqlx::query("UPDATE imported_files SET imported = $1 WHERE id = $2")
            .bind(inserted as i64)
            .bind(file_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ImportResult {
            already_imported: false,
            inserted,
            existing: contacts.len() as u64 - inserted,
        })
    }

    async fn claim_due(&self, campaign: &str, now: i64, limit: u32) -> Result<Vec<Claim>> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "UPDATE contacts SET state = 'in_progress', attempts = attempts + 1, updated_at = $1
             WHERE id IN (SELECT id FROM contacts WHERE campaign_id = $2 AND state IN ('pending', 'scheduled')
                          AND next_at <= $3 ORDER BY next_at, id LIMIT $4
                          FOR UPDATE SKIP LOCKED)
             RETURNING id, phone",
        )
        .bind(now)
        .bind(campaign)
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        let mut claims = Vec::with_capacity(rows.len());
        for r in rows {
            let contact_id: i64 = r.get("id");
            let phone: String = r.get("phone");
            let row = sqlx::query(
                "INSERT INTO attempts (contact_id, campaign_id, number, status, created_at)
                 VALUES ($1, $2, (SELECT COALESCE(MAX(number), 0) + 1 FROM attempts WHERE contact_id = $3), 'launching', $4)
                 RETURNING id, number",
            )
            .bind(contact_id)
            .bind(campaign)
            .bind(contact_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            claims.push(Claim {
                attempt_id: row.get("id"),
                contact_id,
                campaign_id: campaign.to_string(),
                number: row.get("number"),
                phone,
            });
        }
        tx.commit().await?;
        claims.sort_by_key(|c| c.attempt_id);
        Ok(claims)
    }

    async fn mark_launched(&self, attempt_id: i64, call_id: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE attempts SET provider_call_id = COALESCE(provider_call_id, $1), launched_at = COALESCE(launched_at, $2),
                 status = CASE WHEN status = 'launching' THEN 'ringing' ELSE status END
             WHERE id = $3",
        )
        .bind(call_id)
        .bind(now)
        .bind(attempt_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark_not_placed(
        &self,
        attempt_id: i64,
        error: &str,
        next: &NotPlaced,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let (status, result) = match next {
            NotPlaced::RetryAt(_) => ("not_placed", None),
            NotPlaced::Failed => ("closed", Some("failed")),
        };
        let contact: Option<i64> = sqlx::query_scalar(
            "UPDATE attempts SET status = $1, result = $2, error = $3, ended_at = $4
             WHERE id = $5 AND status = 'launching' RETURNING contact_id",
        )
        .bind(status)
        .bind(result)
        .bind(error)
        .bind(now)
        .bind(attempt_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(contact_id) = contact {
            match next {
                NotPlaced::RetryAt(at) => {
                    sqlx::query(
                        "UPDATE contacts SET state = 'scheduled', next_at = $1, attempts = GREATEST(attempts - 1, 0), updated_at = $2
                         WHERE id = $3 AND state = 'in_progress'",
                    )
                    .bind(at)
                    .bind(now)
                    .bind(contact_id)
                    .execute(&mut *tx)
                    .await?;
                }
                NotPlaced::Failed => {
                    sqlx::query(
                        "UPDATE contacts SET state = 'failed', last_result = 'failed', updated_at = $1
                         WHERE id = $2 AND state = 'in_progress'",
                    )
                    .bind(now)
                    .bind(contact_id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn attempt_info(&self, attempt_id: i64) -> Result<Option<AttemptInfo>> {
        let row = sqlx::query(
            "SELECT a.id, a.campaign_id, a.contact_id, a.status, a.outcome, a.answered_at, c.phone, c.name, c.vars
             FROM attempts a JOIN contacts c ON c.id = a.contact_id WHERE a.id = $1",
        )
        .bind(attempt_id)
        .fetch_optional(&self.pool)
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
        }))
    }

    async fn attempt_by_call_id(&self, call_id: &str) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT id FROM attempts WHERE provider_call_id = $1")
                .bind(call_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn record_event(&self, event: &CallEvent, progress: Option<&Progress>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO call_events (attempt_id, provider_call_id, kind, command, dtmf, statuscall, fields, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(event.attempt_id)
        .bind(&event.provider_call_id)
        .bind(&event.kind)
        .bind(&event.command)
        .bind(&event.dtmf)
        .bind(&event.statuscall)
        .bind(&event.fields)
        .bind(event.received_at)
        .execute(&mut *tx)
        .await?;
        if let Some(attempt_id) = event.attempt_id {
            let p = progress.cloned().unwrap_or_default();
            sqlx::query(
                "UPDATE attempts SET
                     provider_call_id = COALESCE(provider_call_id, $1),
                     answered_at = CASE WHEN $2 THEN COALESCE(answered_at, $3) ELSE answered_at END,
                     outcome = COALESCE($4, outcome),
                     dtmf = CASE WHEN $5 IS NULL THEN dtmf ELSE COALESCE(dtmf, '') || $6 END
                 WHERE id = $7",
            )
            .bind(&event.provider_call_id)
            .bind(p.answered)
            .bind(event.received_at)
            .bind(&p.outcome)
            .bind(&p.dtmf)
            .bind(&p.dtmf)
            .bind(attempt_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn close_attempt(
        &self,
        attempt_id: i64,
        close: &AttemptClose,
        policy: &RetryPolicy,
    ) -> Result<Option<NextState>> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE attempts SET status = 'closed', result = $1, ended_at = $2,
                 duration_seconds = COALESCE(duration_seconds, $3), talk_seconds = COALESCE(talk_seconds, $4)
             WHERE id = $5 AND status IN ('launching', 'ringing')
             RETURNING contact_id, outcome, dtmf",
        )
        .bind(close.result.as_str())
        .bind(close.ended_at)
        .bind(close.duration_seconds)
        .bind(close.talk_seconds)
        .bind(attempt_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let contact_id: i64 = row.get("contact_id");
        let outcome: Option<String> = row.get("outcome");
        let dtmf: Option<String> = row.get("dtmf");
        let c = sqlx::query("SELECT attempts, last_result FROM contacts WHERE id = $1")
            .bind(contact_id)
            .fetch_one(&mut *tx)
            .await?;
        let next = next_state_for(
            policy,
            c.get("attempts"),
            close,
            c.get::<Option<&str>, _>("last_result"),
            outcome.as_deref(),
        );
        sqlx::query(
            "UPDATE contacts SET state = $1, next_at = COALESCE($2, next_at), last_result = $3, last_call_at = $4,
                 dtmf = COALESCE($5, dtmf), updated_at = $6
             WHERE id = $7",
        )
        .bind(&next.state)
        .bind(next.next_at)
        .bind(close.result.as_str())
        .bind(close.ended_at)
        .bind(dtmf)
        .bind(close.ended_at)
        .bind(contact_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(next))
    }

    async fn store_report_batch(&self, body: &str, now: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO report_batches (body, received_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(body)
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn finish_report_batch(
        &self,
        batch_id: i64,
        lines: i64,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query("UPDATE report_batches SET lines = $1, error = $2 WHERE id = $3")
            .bind(lines)
            .bind(error)
            .bind(batch_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn apply_report_line(
        &self,
        batch_id: i64,
        line: &ReportLine,
        now: i64,
    ) -> Result<ReportLineApplied> {
        let mut tx = self.pool.begin().await?;
        let attempt =
            sqlx::query("SELECT id, campaign_id, status FROM attempts WHERE provider_call_id = $1")
                .bind(&line.provider_call_id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| {
                    (
                        r.get::<i64, _>("id"),
                        r.get::<String, _>("campaign_id"),
                        r.get::<String, _>("status"),
                    )
                });
        let inserted = sqlx::query(
            "INSERT INTO report_lines (batch_id, provider_call_id, startdate, dst, attempt_id, status, duration_seconds, cost, raw, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (provider_call_id, startdate, dst) DO NOTHING",
        )
        .bind(batch_id)
        .bind(&line.provider_call_id)
        .bind(&line.startdate)
        .bind(&line.dst)
        .bind(attempt.as_ref().map(|a| a.0))
        .bind(&line.status)
        .bind(line.duration_seconds)
        .bind(line.cost)
        .bind(&line.raw)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if let (true, Some((id, _, _))) = (inserted, &attempt) {
            // The report is the source of truth for billed seconds and cost; a call can have
            // several legs (the answered leg and a transfer leg).
            sqlx::query(
                "UPDATE attempts SET
                     cost = (SELECT SUM(cost) FROM report_lines WHERE provider_call_id = $1),
                     talk_seconds = (SELECT MAX(duration_seconds) FROM report_lines WHERE provider_call_id = $2)
                 WHERE id = $3",
            )
            .bind(&line.provider_call_id)
            .bind(&line.provider_call_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(ReportLineApplied {
            new: inserted,
            attempt: attempt.map(|(id, c, s)| (id, c, s == "launching" || s == "ringing")),
        })
    }

    async fn open_attempts(&self) -> Result<Vec<OpenAttempt>> {
        let rows = sqlx::query(
            "SELECT id, campaign_id, status, created_at FROM attempts WHERE status IN ('launching', 'ringing') ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| OpenAttempt {
                attempt_id: r.get("id"),
                campaign_id: r.get("campaign_id"),
                status: r.get("status"),
                created_at: r.get("created_at"),
            })
            .collect())
    }

    async fn unfinished_contacts(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM contacts c JOIN campaigns k ON k.id = c.campaign_id
             WHERE NOT k.paused AND c.state IN ('pending', 'scheduled', 'in_progress')",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    async fn stats(&self, campaign: &str) -> Result<CampaignStats> {
        let mut stats = CampaignStats::default();
        for r in sqlx::query(
            "SELECT state, COUNT(*) AS n FROM contacts WHERE campaign_id = $1 GROUP BY state",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await?
        {
            let n: i64 = r.get("n");
            stats.contacts += n;
            stats.states.insert(r.get("state"), n);
        }
        for r in sqlx::query(
            "SELECT COALESCE(result, 'open') AS result, COUNT(*) AS n, COALESCE(SUM(talk_seconds), 0)::BIGINT AS talk,
                    COALESCE(SUM(cost), 0.0) AS cost
             FROM attempts WHERE campaign_id = $1 AND status <> 'not_placed' GROUP BY COALESCE(result, 'open')",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await?
        {
            stats.attempts.insert(r.get("result"), r.get("n"));
            stats.talk_seconds += r.get::<i64, _>("talk");
            stats.cost += r.get::<f64, _>("cost");
        }
        Ok(stats)
    }
}
