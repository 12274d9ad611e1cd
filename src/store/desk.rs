//! The agent desk's operations (migration 0011), written once for both backends: agents and
//! their live state, the routing of a call to the ready agent idle longest, wrap-up, and
//! dispositions.
//!
//! Guarantees: an agent is given at most one call at a time (`assign_agent` changes a `ready`
//! row to `on_call` in one conditional update, retried when another daemon took the row
//! first); a disposition is stored only by the agent who took that call; every state change
//! of an agent happens in the transaction that records the call behind it.

use std::collections::BTreeMap;

use sqlx::Row;

use super::*;

/// The states an agent can be in.
pub const AGENT_STATES: [&str; 5] = ["logged_out", "ready", "paused", "on_call", "wrapup"];

/// An agent as stored (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Agent {
    pub name: String,
    pub extension: String,
    pub team: String,
    pub state: String,
    pub reason: Option<String>,
    /// Milliseconds since the epoch of the last state change.
    pub state_since: i64,
    /// The call (attempt) the agent is on or wrapping up.
    pub attempt_id: Option<i64>,
    pub wrapup_until: Option<i64>,
    pub last_seen: Option<i64>,
}

/// What a disposition request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispositionResult {
    Stored,
    /// The call was not routed to this agent, or the agent never took it: nothing changed.
    NotYours,
}

/// A disposition as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct DispositionRow {
    pub attempt_id: i64,
    pub agent: String,
    pub contact_id: i64,
    pub disposition: String,
    pub note: String,
    pub callback_at: Option<i64>,
    pub created_at: i64,
}

/// One agent's work over a period, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct AgentStats {
    pub agent: String,
    /// Calls the agent took.
    pub calls: i64,
    /// Calls offered that the agent did not take.
    pub missed: i64,
    pub talk_seconds: i64,
    pub wrapup_seconds: i64,
    /// Time ready, waiting for a call, while the campaign had calls at the desk
    /// ([`Store::agent_idle_seconds`]).
    pub idle_seconds: i64,
    pub dispositions: BTreeMap<String, i64>,
}

/// Wrap-ups past their end become ready (idle since the wrap-up ended), inside the
/// transaction `$tx`: the agents' names.
macro_rules! end_wrapups {
    ($tx:expr, $now:expr) => {{
        let names: Vec<String> = sqlx::query_scalar(
            "UPDATE agents SET state = 'ready', state_since = wrapup_until, attempt_id = NULL,
                 wrapup_until = NULL
             WHERE state = 'wrapup' AND wrapup_until <= $1 RETURNING name",
        )
        .bind($now)
        .fetch_all(&mut *$tx)
        .await?;
        for n in &names {
            bind!(
                sqlx::query(
                    "UPDATE agent_calls SET wrapup_ended_at = $1
                 WHERE agent = $2 AND ended_at IS NOT NULL AND wrapup_ended_at IS NULL",
                ),
                $now,
                n
            )
            .execute(&mut *$tx)
            .await?;
        }
        names
    }};
}

const AGENT_COLUMNS: &str =
    "name, extension, team, state, reason, state_since, attempt_id, wrapup_until, last_seen";

impl Store {
    /// Adds an agent; false when the name or the extension is taken.
    pub async fn agent_add(
        &self,
        name: &str,
        extension: &str,
        team: &str,
        now: i64,
    ) -> Result<bool> {
        let n = execute!(
            self,
            "INSERT INTO agents (name, extension, team, state, state_since, created_at)
             VALUES ($1, $2, $3, 'logged_out', $4, $4) ON CONFLICT DO NOTHING",
            name,
            extension,
            team,
            now
        );
        Ok(n == 1)
    }

    /// Every agent, by team and name.
    pub async fn agents(&self) -> Result<Vec<Agent>> {
        fetch_all!(
            self,
            Agent,
            &format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY team, name")
        )
    }

    pub async fn agent(&self, name: &str) -> Result<Option<Agent>> {
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents WHERE name = $1");
        let rows: Result<Vec<Agent>> = fetch_all!(self, Agent, &sql, name);
        Ok(rows?.into_iter().next())
    }

    /// Removes an agent; false when there is none of that name. Their past calls and
    /// dispositions stay in the reports.
    pub async fn agent_remove(&self, name: &str) -> Result<bool> {
        // Their desk session ends too (an agent added again under the name logs in afresh).
        execute!(self, "DELETE FROM desk_sessions WHERE agent = $1", name);
        Ok(execute!(self, "DELETE FROM agents WHERE name = $1", name) == 1)
    }

    /// Stores the (already hashed) password; false when there is no such agent.
    pub async fn agent_set_password(&self, name: &str, hash: &str) -> Result<bool> {
        Ok(execute!(
            self,
            "UPDATE agents SET password_hash = $1 WHERE name = $2",
            hash,
            name
        ) == 1)
    }

    /// The stored hash: `None` for no such agent, `Some(None)` for an agent without a password.
    pub async fn agent_password_hash(&self, name: &str) -> Result<Option<Option<String>>> {
        with_reader!(self, |db| {
            let row = sqlx::query("SELECT password_hash FROM agents WHERE name = $1")
                .bind(name)
                .fetch_optional(db)
                .await?;
            Ok(row.map(|r| r.get::<Option<String>, _>(0)))
        })
    }

    /// The agent sets ready, paused (with a reason) or logged out. An agent on a call stays on
    /// it (their change is refused: `None` is returned, with nothing changed); one in wrap-up
    /// may end it early. `Some(agent)` is the agent after the change.
    pub async fn agent_set_state(
        &self,
        name: &str,
        state: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<Option<Agent>> {
        if !matches!(state, "ready" | "paused" | "logged_out") {
            return Ok(None);
        }
        let reason = if state == "paused" { reason } else { None };
        let changed = with_writer!(self, |db| {
            let mut tx = db.begin().await?;
            let n = bind!(
                sqlx::query(
                    "UPDATE agents SET state = $1, reason = $2,
                     state_since = CASE WHEN state = $1 THEN state_since ELSE $3 END,
                     attempt_id = NULL, wrapup_until = NULL, last_seen = $3
                 WHERE name = $4 AND state <> 'on_call'",
                ),
                state,
                reason,
                now,
                name
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
            // A wrap-up ended early is over now.
            bind!(
                sqlx::query(
                    "UPDATE agent_calls SET wrapup_ended_at = $1
                 WHERE agent = $2 AND ended_at IS NOT NULL AND wrapup_ended_at IS NULL",
                ),
                now,
                name
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            n
        });
        if changed == 0 {
            return Ok(None);
        }
        self.agent(name).await
    }

    /// The desk page is open: the agent is seen now.
    pub async fn agent_seen(&self, name: &str, now: i64) -> Result<()> {
        execute!(
            self,
            "UPDATE agents SET last_seen = $1 WHERE name = $2",
            now,
            name
        );
        Ok(())
    }

    /// Gives the call to a ready agent of `team`: `preferred` when that agent is ready, else
    /// the one idle longest (ready since the earliest time; ties by name), never an agent
    /// already offered this call. The agent is `on_call` with this attempt from now, and the
    /// offer is recorded. `None` when no agent of the team is ready.
    pub async fn assign_agent(
        &self,
        team: &str,
        attempt_id: i64,
        campaign: &str,
        preferred: Option<&str>,
        now: i64,
    ) -> Result<Option<Agent>> {
        // A few rounds: on PostgreSQL another daemon (or task) may take the chosen row between
        // the choice and the update; the update then changes nothing and the next ready agent
        // is tried. On SQLite the writer lock makes the first round final.
        for _ in 0..64 {
            let taken: Option<Agent> =
                with_writer!(self, |db| {
                    let mut tx = db.begin().await?;
                    end_wrapups!(tx, now);
                    let chosen: Option<String> = bind!(
                        sqlx::query_scalar(
                            "SELECT name FROM agents a
                     WHERE team = $1 AND state = 'ready'
                       AND NOT EXISTS (SELECT 1 FROM agent_calls c
                                       WHERE c.attempt_id = $2 AND c.agent = a.name)
                     ORDER BY CASE WHEN name = $3 THEN 0 ELSE 1 END, state_since, name
                     LIMIT 1",
                        ),
                        team,
                        attempt_id,
                        preferred.unwrap_or("")
                    )
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some(chosen) = chosen else {
                        tx.commit().await?;
                        return Ok(None);
                    };
                    let sql = format!(
                        "UPDATE agents SET state = 'on_call', reason = NULL, attempt_id = $1,
                         state_since = $2, wrapup_until = NULL
                     WHERE name = $3 AND state = 'ready'
                     RETURNING {AGENT_COLUMNS}"
                    );
                    let agent: Option<Agent> =
                        bind!(sqlx::query_as(&sql), attempt_id, now, &chosen)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if let Some(a) = &agent {
                        bind!(sqlx::query(
                        "INSERT INTO agent_calls (attempt_id, agent, campaign_id, assigned_at)
                         VALUES ($1, $2, $3, $4)",
                    ), attempt_id, &a.name, campaign, now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    agent
                });
            if taken.is_some() {
                return Ok(taken);
            }
        }
        Ok(None)
    }

    /// When the call was first offered to an agent (the start of its wait for one).
    pub async fn first_offer(&self, attempt_id: i64) -> Result<Option<i64>> {
        with_reader!(self, |db| {
            Ok(sqlx::query_scalar::<_, Option<i64>>(
                "SELECT MIN(assigned_at) FROM agent_calls WHERE attempt_id = $1",
            )
            .bind(attempt_id)
            .fetch_one(db)
            .await?)
        })
    }

    /// The agent offered this call did not take it: paused ("no answer"). Returns their name.
    pub async fn agent_no_answer(&self, attempt_id: i64, now: i64) -> Result<Option<String>> {
        self.end_offer(attempt_id, now, false).await
    }

    /// The agent offered this call took it (talk time counts from now). Returns their name.
    pub async fn agent_answered(&self, attempt_id: i64, now: i64) -> Result<Option<String>> {
        self.end_offer(attempt_id, now, true).await
    }

    async fn end_offer(&self, attempt_id: i64, now: i64, answered: bool) -> Result<Option<String>> {
        with_writer!(self, |db| {
            let mut tx = db.begin().await?;
            let name: Option<String> = if answered {
                bind!(
                    sqlx::query_scalar(
                        "UPDATE agents SET state_since = $1
                     WHERE attempt_id = $2 AND state = 'on_call' RETURNING name",
                    ),
                    now,
                    attempt_id
                )
                .fetch_optional(&mut *tx)
                .await?
            } else {
                bind!(sqlx::query_scalar(
                    "UPDATE agents SET state = 'paused', reason = 'no answer', attempt_id = NULL,
                         state_since = $1
                     WHERE attempt_id = $2 AND state = 'on_call' RETURNING name",
                ), now, attempt_id)
                .fetch_optional(&mut *tx)
                .await?
            };
            if let Some(n) = &name {
                let sql = if answered {
                    "UPDATE agent_calls SET answered_at = $1, result = 'answered'
                     WHERE attempt_id = $2 AND agent = $3 AND answered_at IS NULL AND result IS NULL"
                } else {
                    "UPDATE agent_calls SET ended_at = $1, wrapup_ended_at = $1, result = 'no answer'
                     WHERE attempt_id = $2 AND agent = $3 AND result IS NULL"
                };
                bind!(sqlx::query(sql), now, attempt_id, n)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(name)
        })
    }

    /// The call is over: the agent on it goes to wrap-up for `wrapup_ms` (0: ready at once).
    /// Returns the agent's name. A second end of the same call changes nothing.
    pub async fn agent_call_ended(
        &self,
        attempt_id: i64,
        wrapup_ms: i64,
        now: i64,
    ) -> Result<Option<String>> {
        with_writer!(self, |db| {
            let mut tx = db.begin().await?;
            let name: Option<String> = bind!(
                sqlx::query_scalar(
                    "UPDATE agents SET state = 'wrapup', state_since = $1, wrapup_until = $2
                 WHERE attempt_id = $3 AND state = 'on_call' RETURNING name",
                ),
                now,
                now + wrapup_ms.max(0),
                attempt_id
            )
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(n) = &name {
                bind!(
                    sqlx::query(
                        "UPDATE agent_calls SET ended_at = $1,
                         result = COALESCE(result, 'not answered')
                     WHERE attempt_id = $2 AND agent = $3 AND ended_at IS NULL",
                    ),
                    now,
                    attempt_id,
                    n
                )
                .execute(&mut *tx)
                .await?;
            }
            end_wrapups!(tx, now);
            tx.commit().await?;
            Ok(name)
        })
    }

    /// Keeps agents' states true to the calls and the desk pages: wrap-ups past their end
    /// become ready; an agent "on call" with a call that is settled (ended while the daemon was
    /// down, or given up as lost) goes to wrap-up ending now; a ready or paused agent whose
    /// page has not been seen since `stale_before` is logged out (their calls are untouched).
    /// Returns the agents whose state changed. Run at start and periodically.
    pub async fn settle_agents(&self, now: i64, stale_before: i64) -> Result<Vec<String>> {
        with_writer!(self, |db| {
            let mut tx = db.begin().await?;
            let mut changed: Vec<String> = sqlx::query_scalar(
                "UPDATE agents SET state = 'wrapup', state_since = $1, wrapup_until = $1
                 WHERE state = 'on_call' AND (attempt_id IS NULL OR NOT EXISTS (
                     SELECT 1 FROM attempts t WHERE t.id = agents.attempt_id
                       AND t.status IN ('launching', 'ringing')))
                 RETURNING name",
            )
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE agent_calls SET ended_at = $1, result = COALESCE(result, 'not answered')
                 WHERE ended_at IS NULL AND NOT EXISTS (
                     SELECT 1 FROM attempts t WHERE t.id = agent_calls.attempt_id
                       AND t.status IN ('launching', 'ringing'))",
            )
            .bind(now)
            .execute(&mut *tx)
            .await?;
            changed.extend(end_wrapups!(tx, now));
            let stale: Vec<String> = bind!(sqlx::query_scalar(
                "UPDATE agents SET state = 'logged_out', reason = 'page closed', state_since = $1
                 WHERE state IN ('ready', 'paused') AND COALESCE(last_seen, 0) < $2
                 RETURNING name",
            ), now, stale_before)
            .fetch_all(&mut *tx)
            .await?;
            changed.extend(stale);
            tx.commit().await?;
            changed.sort();
            changed.dedup();
            Ok(changed)
        })
    }

    /// Agents of `team` ready now, and those whose wrap-up ends by `within` (pacing).
    pub async fn desk_presence(&self, team: &str, now: i64, within: i64) -> Result<(u32, u32)> {
        with_reader!(self, |db| {
            let row = bind!(
                sqlx::query(
                    "SELECT
                     COALESCE(SUM(CASE WHEN state = 'ready'
                          OR (state = 'wrapup' AND wrapup_until <= $2) THEN 1 ELSE 0 END), 0),
                     COALESCE(SUM(CASE WHEN state = 'wrapup' AND wrapup_until > $2
                          AND wrapup_until <= $3 THEN 1 ELSE 0 END), 0)
                 FROM agents WHERE team = $1",
                ),
                team,
                now,
                now + within.max(0)
            )
            .fetch_one(db)
            .await?;
            let ready: i64 = row.get(0);
            let soon: i64 = row.get(1);
            Ok((ready.max(0) as u32, soon.max(0) as u32))
        })
    }

    /// Records the agent's disposition of a call they took. A callback (`callback_at`)
    /// schedules the contact again at that time, for this agent first; the agent's wrap-up of
    /// this call ends (ready). A call not routed to this agent, or not taken by them, is
    /// refused with nothing changed.
    pub async fn record_disposition(
        &self,
        agent: &str,
        attempt_id: i64,
        disposition: &str,
        note: &str,
        callback_at: Option<i64>,
        now: i64,
    ) -> Result<DispositionResult> {
        with_writer!(self, |db| {
            let mut tx = db.begin().await?;
            let row = bind!(
                sqlx::query(
                    "SELECT c.campaign_id, t.contact_id FROM agent_calls c
                 JOIN attempts t ON t.id = c.attempt_id
                 WHERE c.attempt_id = $1 AND c.agent = $2 AND c.answered_at IS NOT NULL",
                ),
                attempt_id,
                agent
            )
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Ok(DispositionResult::NotYours);
            };
            let campaign: String = row.get(0);
            let contact: i64 = row.get(1);
            bind!(sqlx::query(
                "INSERT INTO dispositions (attempt_id, agent, campaign_id, contact_id, disposition,
                     note, callback_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (attempt_id, agent) DO UPDATE SET disposition = excluded.disposition,
                     note = excluded.note, callback_at = excluded.callback_at,
                     created_at = excluded.created_at",
            ), attempt_id, agent, &campaign, contact, disposition, note, callback_at, now)
            .execute(&mut *tx)
            .await?;
            if let Some(at) = callback_at {
                // A new attempt at that time; the claim's gate keeps it inside the window.
                bind!(sqlx::query(
                    "UPDATE contacts SET state = 'scheduled', next_at = $1, callback_agent = $2,
                         note = $3, updated_at = $4
                     WHERE id = $5",
                ), at.max(now), agent, format!("callback for {agent}"), now, contact)
                .execute(&mut *tx)
                .await?;
            }
            bind!(
                sqlx::query(
                    "UPDATE agents SET state = 'ready', state_since = $1, attempt_id = NULL,
                     wrapup_until = NULL
                 WHERE name = $2 AND state = 'wrapup' AND attempt_id = $3",
                ),
                now,
                agent,
                attempt_id
            )
            .execute(&mut *tx)
            .await?;
            bind!(
                sqlx::query(
                    "UPDATE agent_calls SET wrapup_ended_at = $1
                 WHERE attempt_id = $2 AND agent = $3 AND ended_at IS NOT NULL
                   AND wrapup_ended_at IS NULL",
                ),
                now,
                attempt_id,
                agent
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(DispositionResult::Stored)
        })
    }

    /// The agent a contact's callback is for, if any.
    pub async fn callback_agent(&self, attempt_id: i64) -> Result<Option<String>> {
        with_reader!(self, |db| {
            Ok(sqlx::query_scalar::<_, Option<String>>(
                "SELECT c.callback_agent FROM attempts t JOIN contacts c ON c.id = t.contact_id
                 WHERE t.id = $1",
            )
            .bind(attempt_id)
            .fetch_optional(db)
            .await?
            .flatten())
        })
    }

    /// A campaign's dispositions, oldest first.
    pub async fn dispositions(&self, campaign: &str) -> Result<Vec<DispositionRow>> {
        fetch_all!(
            self,
            DispositionRow,
            "SELECT attempt_id, agent, contact_id, disposition, note, callback_at, created_at
             FROM dispositions WHERE campaign_id = $1 ORDER BY created_at, attempt_id",
            campaign
        )
    }

    /// How many of each disposition a campaign has.
    pub async fn disposition_counts(&self, campaign: &str) -> Result<BTreeMap<String, i64>> {
        let rows = self.dispositions(campaign).await?;
        let mut out = BTreeMap::new();
        for r in rows {
            *out.entry(r.disposition).or_insert(0) += 1;
        }
        Ok(out)
    }

    /// Per-agent work on a campaign (every campaign when `None`).
    pub async fn agent_stats(&self, campaign: Option<&str>) -> Result<Vec<AgentStats>> {
        with_reader!(self, |db| {
            let calls = sqlx::query(
                "SELECT agent,
                     COALESCE(SUM(CASE WHEN answered_at IS NOT NULL THEN 1 ELSE 0 END), 0),
                     COALESCE(SUM(CASE WHEN answered_at IS NULL AND result IS NOT NULL
                          THEN 1 ELSE 0 END), 0),
                     CAST(COALESCE(SUM(CASE WHEN answered_at IS NOT NULL AND ended_at IS NOT NULL
                          THEN ended_at - answered_at ELSE 0 END), 0) AS BIGINT),
                     CAST(COALESCE(SUM(CASE WHEN answered_at IS NOT NULL
                          AND wrapup_ended_at IS NOT NULL
                          THEN wrapup_ended_at - ended_at ELSE 0 END), 0) AS BIGINT)
                 FROM agent_calls WHERE ($1 = '' OR campaign_id = $1)
                 GROUP BY agent ORDER BY agent",
            )
            .bind(campaign.unwrap_or(""))
            .fetch_all(db)
            .await?;
            let mut out: BTreeMap<String, AgentStats> = BTreeMap::new();
            for r in calls {
                let agent: String = r.get(0);
                out.insert(
                    agent.clone(),
                    AgentStats {
                        agent,
                        calls: r.get(1),
                        missed: r.get(2),
                        talk_seconds: r.get::<i64, _>(3).max(0) / 1000,
                        wrapup_seconds: r.get::<i64, _>(4).max(0) / 1000,
                        idle_seconds: 0,
                        dispositions: BTreeMap::new(),
                    },
                );
            }
            let disp = sqlx::query(
                "SELECT agent, disposition, COUNT(*) FROM dispositions
                 WHERE ($1 = '' OR campaign_id = $1) GROUP BY agent, disposition",
            )
            .bind(campaign.unwrap_or(""))
            .fetch_all(db)
            .await?;
            for r in disp {
                let agent: String = r.get(0);
                let entry = out.entry(agent.clone()).or_insert_with(|| AgentStats {
                    agent,
                    ..AgentStats::default()
                });
                entry.dispositions.insert(r.get(1), r.get(2));
            }
            Ok(out.into_values().collect())
        })
    }

    /// The survey answers a contact gave in any call: (question, key), oldest first.
    pub async fn answers_of_contact(&self, contact_id: i64) -> Result<Vec<(String, String)>> {
        with_reader!(self, |db| {
            let rows = sqlx::query(
                "SELECT s.question, s.answer FROM survey_answers s
                 JOIN attempts t ON t.id = s.attempt_id
                 WHERE t.contact_id = $1 ORDER BY s.answered_at, s.id",
            )
            .bind(contact_id)
            .fetch_all(db)
            .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }
}
