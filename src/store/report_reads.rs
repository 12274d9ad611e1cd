//! The reads behind `report --contacts`, shaped so a report of any size runs in bounded
//! memory: the contacts come as a stream in id order, and what hangs off them (survey answers,
//! transcripts, dispositions) is read for one range of contact ids at a time, through the
//! `attempts (contact_id, …)` and `contact_captures (contact_id, field)` indexes.

use std::pin::Pin;

use futures_util::{Stream, StreamExt};
use sqlx::Row;

use super::*;

/// The contacts of a campaign, one [`ContactReportRow`] at a time (see
/// [`Store::contact_report_stream`]).
pub type ContactRows<'a> = Pin<Box<dyn Stream<Item = Result<ContactReportRow>> + Send + 'a>>;

/// The contact report's query, filtered on `$filter = $1` (the campaign).
macro_rules! contact_report {
    ($filter:literal) => {
        concat!(
            "SELECT c.id, c.phone, c.name, c.state, c.attempts, c.last_result, c.dtmf, c.last_call_at, c.vars,
        CAST(COALESCE(a.talk, 0) AS BIGINT) AS talk, CAST(COALESCE(a.cost, 0.0) AS DOUBLE PRECISION) AS cost
 FROM contacts c LEFT JOIN (
     SELECT contact_id, SUM(talk_seconds) AS talk, SUM(cost) AS cost FROM attempts
     WHERE campaign_id = $1 AND status <> 'not_placed' GROUP BY contact_id
 ) a ON a.contact_id = c.id
 WHERE ",
            $filter,
            " = $1 ORDER BY c.id"
        )
    };
}

/// A [`ContactReportRow`] from a row of the report's query, read by position with `$get`
/// (sqlx's `try_get`, rusqlite's `get`); `vars` is column 8, read by the caller.
macro_rules! contact_report_row {
    ($r:ident . $get:ident, $vars:expr) => {
        ContactReportRow {
            contact_id: $r.$get(0)?,
            phone: $r.$get(1)?,
            name: $r.$get(2)?,
            state: $r.$get(3)?,
            attempts: $r.$get(4)?,
            last_result: $r.$get(5)?,
            dtmf: $r.$get(6)?,
            last_call_at: $r.$get(7)?,
            vars: $vars,
            talk_seconds: $r.$get(9)?,
            cost: $r.$get(10)?,
        }
    };
}

const CONTACT_REPORT: &str = contact_report!("c.campaign_id");

/// SQLite, for a campaign that holds most of the table: `+` keeps the planner off the campaign
/// index, so the table is read in id order instead of looked up row by row and sorted (1.5 s
/// against 6 s for a million contacts). SQLite keeps no statistics to see this itself.
const CONTACT_REPORT_WHOLE_TABLE: &str = contact_report!("+c.campaign_id");

impl Store {
    /// One row per contact of a campaign for `report --contacts`, ordered by id, as the
    /// database returns them: nothing is held but the row being read.
    /// `whole_table`: the campaign holds most contacts ([`Store::contacts_mostly_of`]).
    pub fn contact_report_stream(&self, campaign: &str, whole_table: bool) -> ContactRows<'_> {
        let campaign = campaign.to_string();
        let sql = match self {
            Store::Sqlite(_) if whole_table => CONTACT_REPORT_WHOLE_TABLE,
            _ => CONTACT_REPORT,
        };
        if let Store::Sqlite(s) = self {
            if let Some(path) = s.file() {
                return sqlite_batches(path.to_path_buf(), sql, campaign);
            }
        }
        with_reader!(self, |db| {
            let rows: ContactRows<'_> =
                Box::pin(sqlx::query(sql).bind(campaign).fetch(db).map(|r| {
                    let r = r?;
                    Ok(contact_report_row!(
                        r.try_get,
                        vars_from_json(r.try_get::<&str, _>(8)?)
                    ))
                }));
            rows
        })
    }

    /// Whether a campaign's contacts are read through the whole table in id order rather than
    /// through the campaign index: on SQLite, when the campaign holds most of the table
    /// ([`Store::contacts_mostly_of`]); never on PostgreSQL, whose planner has statistics (no
    /// query is made).
    pub async fn reads_whole_table(&self, campaign: &str) -> Result<bool> {
        match self {
            Store::Sqlite(_) => self.contacts_mostly_of(campaign).await,
            Store::Postgres(_) => Ok(false),
        }
    }

    /// Whether the campaign holds a quarter or more of all contacts (ids are never reused, so
    /// the largest id stands for the table's size without counting it).
    pub async fn contacts_mostly_of(&self, campaign: &str) -> Result<bool> {
        let (n, max): (i64, Option<i64>) = with_reader!(self, |db| {
            sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM contacts WHERE campaign_id = $1), (SELECT MAX(id) FROM contacts)"
        )
        .bind(campaign)
        .fetch_one(db)
        .await?
        });
        Ok(n > 0 && n.saturating_mul(4) >= max.unwrap_or(0))
    }

    /// The survey questions a campaign's contacts answered, first answered first.
    pub async fn survey_questions(&self, campaign: &str) -> Result<Vec<String>> {
        Ok(with_reader!(self, |db| sqlx::query_scalar::<_, String>(
            "SELECT question FROM survey_answers WHERE campaign_id = $1
             GROUP BY question ORDER BY MIN(answered_at), MIN(id)"
        )
        .bind(campaign)
        .fetch_all(db)
        .await?))
    }

    /// Whether any call of the campaign got a disposition.
    pub async fn has_dispositions(&self, campaign: &str) -> Result<bool> {
        let n: i64 = with_reader!(self, |db| {
            sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM dispositions WHERE campaign_id = $1 LIMIT 1) d"
        )
        .bind(campaign)
        .fetch_one(db)
        .await?
        });
        Ok(n > 0)
    }

    /// The survey answers of the campaign's contacts with ids `lo..=hi` as (contact id,
    /// question, key), oldest first.
    pub async fn contact_answers_between(
        &self,
        campaign: &str,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<(i64, String, String)>> {
        with_reader!(self, |db| {
            let rows = bind!(
                sqlx::query(
                    "SELECT a.contact_id, s.question, s.answer FROM attempts a
                 JOIN survey_answers s ON s.attempt_id = a.id
                 WHERE a.contact_id BETWEEN $2 AND $3 AND a.campaign_id = $1
                 ORDER BY s.answered_at, s.id",
                ),
                campaign,
                lo,
                hi
            )
            .fetch_all(db)
            .await?;
            Ok(rows
                .iter()
                .map(|r| (r.get("contact_id"), r.get("question"), r.get("answer")))
                .collect())
        })
    }

    /// The transcripts of the campaign's contacts with ids `lo..=hi`.
    pub async fn captures_between(
        &self,
        campaign: &str,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<CaptureRow>> {
        fetch_all!(
            self,
            CaptureRow,
            "SELECT contact_id, attempt_id, field, status, text, captured_at
             FROM contact_captures WHERE contact_id BETWEEN $2 AND $3 AND campaign_id = $1
             ORDER BY contact_id, field",
            campaign,
            lo,
            hi
        )
    }

    /// The dispositions of the campaign's contacts with ids `lo..=hi`, oldest first.
    pub async fn dispositions_between(
        &self,
        campaign: &str,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<DispositionRow>> {
        fetch_all!(
            self,
            DispositionRow,
            "SELECT d.attempt_id, d.agent, d.contact_id, d.disposition, d.note, d.callback_at, d.created_at
             FROM attempts a JOIN dispositions d ON d.attempt_id = a.id
             WHERE a.contact_id BETWEEN $2 AND $3 AND a.campaign_id = $1
             ORDER BY d.created_at, d.attempt_id",
            campaign,
            lo,
            hi
        )
    }
}

/// The inbound calls of a campaign, as the report counts them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct InboundCounts {
    /// Inbound calls to the campaign: matched to one of its contacts, or from an unknown
    /// caller to a number its matched callers called.
    pub calls: i64,
    /// Matched to one of its contacts.
    pub matched: i64,
    pub to_agent: i64,
    pub opted_out: i64,
    pub confirmed: i64,
    pub cancelled: i64,
    /// Matched calls nobody took that still wait for a call back ([`Store::callbacks_open`]).
    pub callbacks_open: i64,
}

impl Store {
    /// What the campaign's inbound calls did.
    pub async fn inbound_counts(&self, campaign: &str) -> Result<InboundCounts> {
        let mut counts = with_reader!(self, |db| {
            let r = sqlx::query(
                "SELECT COUNT(*) AS calls,
                    CAST(COALESCE(SUM(CASE WHEN contact_id IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS matched,
                    CAST(COALESCE(SUM(CASE WHEN outcome = 'to_agent' THEN 1 ELSE 0 END), 0) AS BIGINT) AS to_agent,
                    CAST(COALESCE(SUM(CASE WHEN outcome = 'opted_out' THEN 1 ELSE 0 END), 0) AS BIGINT) AS opted_out,
                    CAST(COALESCE(SUM(CASE WHEN outcome = 'confirmed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS confirmed,
                    CAST(COALESCE(SUM(CASE WHEN outcome = 'cancelled' THEN 1 ELSE 0 END), 0) AS BIGINT) AS cancelled
                 FROM inbound_calls
                 WHERE campaign_id = $1
                    OR (campaign_id IS NULL
                        AND did IN (SELECT did FROM inbound_calls WHERE campaign_id = $1))",
            )
            .bind(campaign)
            .fetch_one(db)
            .await?;
            InboundCounts {
                calls: r.try_get("calls")?,
                matched: r.try_get("matched")?,
                to_agent: r.try_get("to_agent")?,
                opted_out: r.try_get("opted_out")?,
                confirmed: r.try_get("confirmed")?,
                cancelled: r.try_get("cancelled")?,
                callbacks_open: 0,
            }
        });
        counts.callbacks_open = self.callbacks_open(campaign).await?;
        Ok(counts)
    }

    /// Callbacks still owed to the campaign's callers: its open callback tasks (the ones
    /// `pregonero callbacks --open` lists).
    pub async fn callbacks_open(&self, campaign: &str) -> Result<i64> {
        Ok(with_reader!(self, |db| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM callbacks WHERE campaign_id = $1 AND done_at IS NULL"
        )
        .bind(campaign)
        .fetch_one(db)
        .await?))
    }

    /// The inbound calls matched to a contact, oldest first.
    pub async fn inbound_calls_of(&self, contact_id: i64) -> Result<Vec<InboundCall>> {
        fetch_all!(
            self,
            InboundCall,
            "SELECT id, provider_call_id, caller, did, campaign_id, contact_id, route, outcome, received_at, ended_at, duration_seconds, talk_seconds
             FROM inbound_calls WHERE contact_id = $1 ORDER BY received_at, id",
            contact_id
        )
    }
}

/// Milliseconds spent `ready` inside `from..to`, from an agent's states oldest first as
/// (state, since); the last state lasts until `to`.
pub fn ready_ms(states: &[(String, i64)], from: i64, to: i64) -> i64 {
    let mut total = 0;
    for (i, (state, since)) in states.iter().enumerate() {
        if state != "ready" {
            continue;
        }
        let until = states.get(i + 1).map_or(to, |(_, next)| *next);
        let (a, b) = ((*since).max(from), until.min(to));
        total += (b - a).max(0);
    }
    total
}

impl Store {
    /// Seconds each agent who took or was offered the campaign's calls spent ready (idle,
    /// waiting for a call) between the campaign's first call to the desk and the end of its
    /// last one (`now` while one is still under way).
    pub async fn agent_idle_seconds(
        &self,
        campaign: &str,
        now: i64,
    ) -> Result<BTreeMap<String, i64>> {
        let (window, rows) = with_reader!(self, |db| {
            let window: (Option<i64>, Option<i64>, i64) = sqlx::query_as(
                "SELECT MIN(assigned_at), MAX(COALESCE(wrapup_ended_at, ended_at, assigned_at)),
                        COUNT(*) - COUNT(ended_at)
                 FROM agent_calls WHERE campaign_id = $1",
            )
            .bind(campaign)
            .fetch_one(db)
            .await?;
            let rows: Vec<(String, String, i64)> = sqlx::query_as(
                "SELECT agent, state, since FROM agent_states
                 WHERE agent IN (SELECT DISTINCT agent FROM agent_calls WHERE campaign_id = $1)
                 ORDER BY agent, since, id",
            )
            .bind(campaign)
            .fetch_all(db)
            .await?;
            (window, rows)
        });
        let (Some(from), Some(last)) = (window.0, window.1) else {
            return Ok(BTreeMap::new());
        };
        let to = if window.2 > 0 { now.max(last) } else { last };
        let mut by_agent: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
        for (agent, state, since) in rows {
            by_agent.entry(agent).or_default().push((state, since));
        }
        Ok(by_agent
            .into_iter()
            .map(|(agent, states)| (agent, ready_ms(&states, from, to) / 1000))
            .collect())
    }
}

/// Contacts read in batches per channel message on SQLite.
const SQLITE_BATCH: usize = 1000;

/// SQLite: the report's rows read by a connection of its own on a thread of its own, stepped
/// there and handed over [`SQLITE_BATCH`] at a time (sqlx's SQLite driver hands every row
/// across threads: two thirds of a million-row report's time went to that).
fn sqlite_batches(
    path: std::path::PathBuf,
    sql: &'static str,
    campaign: String,
) -> ContactRows<'static> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<ContactReportRow>>>(2);
    std::thread::spawn(move || {
        let read = || -> Result<()> {
            let db = rusqlite::Connection::open_with_flags(
                &path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            db.busy_timeout(std::time::Duration::from_secs(5))?;
            let mut stmt = db.prepare(sql)?;
            let mut rows = stmt.query([&campaign])?;
            let mut batch = Vec::with_capacity(SQLITE_BATCH);
            while let Some(r) = rows.next()? {
                let vars = match r.get_ref(8)? {
                    rusqlite::types::ValueRef::Text(t) => {
                        vars_from_json(std::str::from_utf8(t).unwrap_or("{}"))
                    }
                    _ => BTreeMap::new(),
                };
                batch.push(contact_report_row!(r.get, vars));
                if batch.len() == SQLITE_BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(SQLITE_BATCH));
                    if tx.blocking_send(Ok(full)).is_err() {
                        // The reader stopped listening (an error downstream, or enough rows).
                        return Ok(());
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.blocking_send(Ok(batch));
            }
            Ok(())
        };
        if let Err(e) = read() {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let batches =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    Box::pin(batches.flat_map(|b| {
        let rows: Vec<Result<ContactReportRow>> = match b {
            Ok(rows) => rows.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
        futures_util::stream::iter(rows)
    }))
}

#[cfg(test)]
mod tests {
    use super::ready_ms;

    #[test]
    fn ready_time_is_clipped_to_the_window() {
        let s = |v: &[(&str, i64)]| -> Vec<(String, i64)> {
            v.iter().map(|(a, b)| (a.to_string(), *b)).collect()
        };
        let states = s(&[
            ("logged_out", 0),
            ("ready", 1_000),
            ("on_call", 5_000),
            ("wrapup", 9_000),
            ("ready", 10_000),
            ("paused", 12_000),
            ("ready", 20_000),
        ]);
        assert_eq!(ready_ms(&states, 0, 30_000), 4_000 + 2_000 + 10_000);
        assert_eq!(ready_ms(&states, 3_000, 11_000), 2_000 + 1_000);
        assert_eq!(ready_ms(&states, 30_000, 40_000), 10_000, "still ready");
        assert_eq!(ready_ms(&[], 0, 10), 0);
    }
}
