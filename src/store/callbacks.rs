//! Callback tasks, written once for both backends: an inbound call of a known contact that
//! nobody took becomes a task to call them back (migration 0014).
//!
//! Guarantees: the end of an inbound call, its task, the task's `callback.created` event and,
//! with `[inbound] call_back`, the contact re-armed for its next calling window are one
//! transaction; a repeated end request changes nothing; a contact has at most one open task (a
//! later call nobody takes counts on it, with no second event); a contact in a final state
//! other than "not reached" (confirmed, cancelled, opted out, blocked…) is never re-armed. A
//! task pregonero calls back itself is done once one of the contact's calls is answered after
//! it (a trigger on `attempts`, migration 0014).

use sqlx::Row;

use super::*;

/// Outcomes of an inbound call that mean the caller was served: no task.
pub const TAKEN: &[&str] = &["to_agent", "confirmed", "cancelled", "opted_out"];

/// States a contact is re-armed from: not reached yet, or its calls ended without reaching
/// anyone who answered the question. Every other state stays as it is.
pub const REARMABLE: &[&str] = &[
    "pending",
    "scheduled",
    "no_response",
    "unreachable",
    "abandoned",
    "partial",
];

/// A callback task, with its contact's number and name.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CallbackTask {
    pub id: i64,
    pub inbound_id: i64,
    pub campaign_id: String,
    pub contact_id: i64,
    pub phone: String,
    pub name: String,
    /// The responsible agent, if known.
    pub agent: Option<String>,
    /// The campaign's desk team, if it has one.
    pub team: Option<String>,
    /// Inbound calls nobody took while the task was open.
    pub calls: i64,
    /// When the first of them came in, ms.
    pub called_at: i64,
    pub last_call_at: i64,
    pub created_at: i64,
    /// When pregonero calls the contact back itself (`[inbound] call_back`), ms.
    pub call_back_at: Option<i64>,
    pub done_at: Option<i64>,
    pub done_by: Option<String>,
}

/// The task an inbound call nobody took makes, as decided from its campaign.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewCallback {
    pub agent: Option<String>,
    pub team: Option<String>,
    /// Re-arm the contact as due then (`[inbound] call_back`); `None`: agents call back.
    pub call_back_at: Option<i64>,
}

/// The end of an inbound call, as [`Store::finish_inbound`] records it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InboundEnd {
    pub id: i64,
    pub duration_seconds: Option<i64>,
    pub talk_seconds: Option<i64>,
    /// The task to make if nobody took the call (ignored for a call that was taken).
    pub task: Option<NewCallback>,
}

/// What [`Store::finish_inbound`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Finished {
    /// The call was open and is ended now (false: a repeated end request).
    pub ended: bool,
    /// The open task of the contact, if the call made or counted on one.
    pub task: Option<i64>,
    /// The task is new (its `callback.created` event was queued).
    pub created: bool,
    /// The contact was re-armed for `call_back_at`.
    pub rearmed: bool,
}

const TASK_COLUMNS: &str =
    "k.id, k.inbound_id, k.campaign_id, k.contact_id, c.phone, c.name, k.agent, k.team, k.calls,
     k.called_at, k.last_call_at, k.created_at, k.call_back_at, k.done_at, k.done_by";

fn sql_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("({})", quoted.join(", "))
}

impl Store {
    /// The desk agent who last talked to the contact (the latest agent who took one of its
    /// calls), else the agent of a callback an agent scheduled for it.
    pub async fn responsible_agent(&self, contact_id: i64) -> Result<Option<String>> {
        with_reader!(self, |db| {
            Ok(sqlx::query_scalar::<_, Option<String>>(
                "SELECT COALESCE(
                     (SELECT a.agent FROM agent_calls a JOIN attempts t ON t.id = a.attempt_id
                      WHERE t.contact_id = $1 AND a.answered_at IS NOT NULL
                      ORDER BY a.answered_at DESC, a.id DESC LIMIT 1),
                     c.callback_agent)
                 FROM contacts c WHERE c.id = $1",
            )
            .bind(contact_id)
            .fetch_optional(db)
            .await?
            .flatten())
        })
    }

    /// The contact as the dialer's gate sees it (its do-not-call entry included) and its state.
    pub async fn gate_candidate(&self, contact_id: i64) -> Result<Option<(Candidate, String)>> {
        with_reader!(self, |db| {
            #[derive(sqlx::FromRow)]
            struct Contact {
                #[sqlx(flatten)]
                candidate: super::queries::CandidateRow,
                state: String,
            }
            let row: Option<Contact> = sqlx::query_as(
                "SELECT c.id, c.phone, c.timezone, c.appointment_at, c.vars, c.state,
                     d.phone AS dnc_phone, d.until_date, d.hours, d.source
                 FROM contacts c LEFT JOIN do_not_call d ON d.phone = c.phone WHERE c.id = $1",
            )
            .bind(contact_id)
            .fetch_optional(db)
            .await?;
            Ok(row.map(|r| (Candidate::from(r.candidate), r.state)))
        })
    }

    /// Whether any of these digests (lowercase hex) is on a hashed exclusion list.
    pub async fn dnc_hashed_any(&self, digests: &[String]) -> Result<bool> {
        let mut found = false;
        for d in digests {
            let n: i64 = with_reader!(self, |db| sqlx::query_scalar(
                "SELECT COUNT(*) FROM dnc_hashed WHERE digest = $1"
            )
            .bind(d)
            .fetch_one(db)
            .await?);
            found |= n > 0;
        }
        Ok(found)
    }

    /// Ends an inbound call (its end request, or the callbacks duty for a call whose end never
    /// came) and, in the same transaction: for a matched call nobody took, the contact's task
    /// (made, or counted on when one is open) with its `callback.created` event, and with a
    /// `call_back_at` the contact re-armed as due then, from a re-armable state only; for a
    /// call that was taken, the contact's open task is done (`inbound`).
    pub async fn finish_inbound(&self, end: &InboundEnd, now: i64) -> Result<Finished> {
        let rearm_sql = format!(
            "UPDATE contacts SET state = 'scheduled', next_at = $1,
                 callback_agent = COALESCE($2, callback_agent), note = $3, updated_at = $4
             WHERE id = $5 AND state IN {}",
            sql_list(REARMABLE)
        );
        with_writer!(self, |db| {
            let mut tx = db.begin().await?;
            let row = bind!(
                sqlx::query(
                    "UPDATE inbound_calls SET ended_at = $1,
                     duration_seconds = COALESCE(duration_seconds, $2),
                     talk_seconds = COALESCE(talk_seconds, $3)
                 WHERE id = $4 AND ended_at IS NULL
                 RETURNING campaign_id, contact_id, outcome, received_at, provider_call_id",
                ),
                now,
                end.duration_seconds,
                end.talk_seconds,
                end.id
            )
            .fetch_optional(&mut *tx)
            .await?;
            let mut out = Finished::default();
            let Some(row) = row else {
                tx.commit().await?;
                return Ok(out);
            };
            out.ended = true;
            let campaign: Option<String> = row.get("campaign_id");
            let contact: Option<i64> = row.get("contact_id");
            let outcome: Option<String> = row.get("outcome");
            let received_at: i64 = row.get("received_at");
            let call_id: Option<String> = row.get("provider_call_id");
            let (Some(campaign), Some(contact)) = (campaign, contact) else {
                tx.commit().await?;
                return Ok(out);
            };
            if outcome.as_deref().is_some_and(|o| TAKEN.contains(&o)) {
                bind!(
                    sqlx::query(
                        "UPDATE callbacks SET done_at = $1, done_by = 'inbound'
                     WHERE contact_id = $2 AND done_at IS NULL",
                    ),
                    now,
                    contact
                )
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(out);
            }
            let Some(task) = &end.task else {
                tx.commit().await?;
                return Ok(out);
            };
            if let Some(at) = task.call_back_at {
                out.rearmed = bind!(
                    sqlx::query(&rearm_sql),
                    at,
                    task.agent.as_deref(),
                    "callback: called us and nobody took the call",
                    now,
                    contact
                )
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0;
            }
            let call_back_at = task.call_back_at.filter(|_| out.rearmed);
            let made = bind!(sqlx::query(
                "INSERT INTO callbacks (inbound_id, campaign_id, contact_id, agent, team, calls,
                     called_at, last_call_at, created_at, call_back_at)
                 VALUES ($1, $2, $3, $4, $5, 1, $6, $6, $7, $8)
                 ON CONFLICT (contact_id) WHERE done_at IS NULL DO UPDATE SET
                     calls = callbacks.calls + 1, last_call_at = excluded.last_call_at,
                     call_back_at = COALESCE(excluded.call_back_at, callbacks.call_back_at)
                 RETURNING id, calls",
            ),
                end.id, &campaign, contact, task.agent.as_deref(), task.team.as_deref(),
                received_at, now, call_back_at
            )
            .fetch_one(&mut *tx)
            .await?;
            let id: i64 = made.get(0);
            let calls: i64 = made.get(1);
            out.task = Some(id);
            out.created = calls == 1;
            if out.created {
                let data = serde_json::json!({
                    "callback": id, "call_id": call_id, "agent": task.agent, "team": task.team,
                    "called_at": received_at, "call_back_at": call_back_at,
                });
                bind!(sqlx::query(
                    "INSERT INTO notify_outbox (campaign_id, contact_id, state, url, created_at, next_try_at, event, format, data)
                     SELECT $1, $2, '', t.url, $3, $3, 'callback.created', 'event', $4 FROM event_targets t
                     WHERE t.campaign_id = $1 AND t.stopped_at IS NULL AND t.types LIKE '%,callback.created,%'",
                ), &campaign, contact, now, data.to_string())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(out)
        })
    }

    /// Inbound calls begun before `before` that never ended (their end request was lost).
    pub async fn unended_inbound(&self, before: i64, limit: i64) -> Result<Vec<i64>> {
        with_reader!(self, |db| Ok(bind!(
            sqlx::query_scalar(
                "SELECT id FROM inbound_calls WHERE ended_at IS NULL AND received_at < $1
             ORDER BY received_at, id LIMIT $2",
            ),
            before,
            limit
        )
        .fetch_all(db)
        .await?))
    }

    /// Callback tasks, oldest first: of one campaign or all, open ones only or all.
    pub async fn callbacks(
        &self,
        campaign: Option<&str>,
        open_only: bool,
    ) -> Result<Vec<CallbackTask>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM callbacks k JOIN contacts c ON c.id = k.contact_id
             WHERE ($1 = '' OR k.campaign_id = $1) AND ($2 = 0 OR k.done_at IS NULL)
             ORDER BY k.id"
        );
        fetch_all!(
            self,
            CallbackTask,
            &sql,
            campaign.unwrap_or(""),
            i64::from(open_only)
        )
    }

    /// The open tasks an agent sees on the desk: theirs first, then their team's.
    pub async fn agent_callbacks(&self, agent: &str, team: &str) -> Result<Vec<CallbackTask>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM callbacks k JOIN contacts c ON c.id = k.contact_id
             WHERE k.done_at IS NULL AND (k.agent = $1 OR ($2 <> '' AND k.team = $2))
             ORDER BY CASE WHEN k.agent = $1 THEN 0 ELSE 1 END, k.id"
        );
        fetch_all!(self, CallbackTask, &sql, agent, team)
    }

    /// Marks an open task done by this agent, if it is theirs or their team's. Returns whether
    /// it was.
    pub async fn callback_done(&self, id: i64, agent: &str, team: &str, now: i64) -> Result<bool> {
        let n = execute!(
            self,
            "UPDATE callbacks SET done_at = $1, done_by = $2
             WHERE id = $3 AND done_at IS NULL AND (agent = $2 OR ($4 <> '' AND team = $4))",
            now,
            agent,
            id,
            team
        );
        Ok(n > 0)
    }
}
