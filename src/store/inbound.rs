//! Inbound calls (callees calling back), written once for both backends: matching a caller to
//! the contacts of the campaigns that called from the number dialled, and recording each
//! inbound call with what it did.

use super::*;

/// A contact an inbound caller was matched to.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InboundMatch {
    pub contact_id: i64,
    pub campaign_id: String,
    pub name: String,
    pub vars: String,
    pub state: String,
}

/// An inbound call as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InboundCall {
    pub id: i64,
    pub provider_call_id: Option<String>,
    pub caller: String,
    pub did: String,
    pub campaign_id: Option<String>,
    pub contact_id: Option<i64>,
    pub route: String,
    pub outcome: Option<String>,
    pub received_at: i64,
    pub ended_at: Option<i64>,
    pub duration_seconds: Option<i64>,
    /// The talk time: billed seconds from the call report, else the end request's.
    pub talk_seconds: Option<i64>,
}

/// The start of an inbound call, as [`Store::start_inbound`] records it.
#[derive(Debug, Clone, Copy)]
pub struct NewInbound<'a> {
    /// The provider's call id of the inbound leg (empty ones are `None`).
    pub call_id: Option<&'a str>,
    /// E.164, or `anonymous`.
    pub caller: &'a str,
    /// The number called, E.164.
    pub did: &'a str,
    /// The contact matched: (campaign, contact id).
    pub matched: Option<(&'a str, i64)>,
    pub route: &'a str,
    /// A waiting matched contact is not dialled before this time, ms.
    pub hold_until: i64,
}

/// States an inbound call may settle (a reminder confirmed or cancelled by callback): the
/// contact is waiting, or its calls ended without an answer to the question.
const SETTLEABLE: &str = "('pending', 'scheduled', 'no_response')";

impl Store {
    /// The contacts with this E.164 number in these campaigns, the most recently touched first.
    pub async fn inbound_matches(
        &self,
        phone: &str,
        campaigns: &[String],
    ) -> Result<Vec<InboundMatch>> {
        if campaigns.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (0..campaigns.len())
            .map(|i| format!("${}", i + 2))
            .collect();
        let sql = format!(
            "SELECT id AS contact_id, campaign_id, name, vars, state FROM contacts
             WHERE phone = $1 AND campaign_id IN ({}) ORDER BY updated_at DESC, id DESC",
            list.join(", ")
        );
        Ok(with_reader!(self, |db| {
            let mut q = sqlx::query_as::<_, InboundMatch>(&sql).bind(phone);
            for c in campaigns {
                q = q.bind(c);
            }
            q.fetch_all(db).await?
        }))
    }

    /// Records the start of an inbound call (once per provider call id: a repeated start
    /// returns the same row) and, for a matched contact, queues `inbound.received` and keeps a
    /// waiting contact from being dialled before `hold_until`, in the same transaction.
    /// Returns the inbound call's id.
    pub async fn start_inbound(&self, call: &NewInbound<'_>, now: i64) -> Result<i64> {
        let NewInbound {
            call_id,
            caller,
            did,
            matched,
            route,
            hold_until,
        } = *call;
        let (campaign, contact) = match matched {
            Some((c, id)) => (Some(c), Some(id)),
            None => (None, None),
        };
        with_writer!(self, |db| {
            let mut tx = db.begin().await?;
            let inserted: Option<i64> = bind!(sqlx::query_scalar(
                "INSERT INTO inbound_calls (provider_call_id, caller, did, campaign_id, contact_id, route, received_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (provider_call_id) WHERE provider_call_id IS NOT NULL DO NOTHING
                 RETURNING id",
            ), call_id, caller, did, campaign, contact, route, now)
            .fetch_optional(&mut *tx)
            .await?;
            let id = match inserted {
                Some(id) => {
                    if let (Some(campaign), Some(contact)) = (campaign, contact) {
                        // Not dialled while they are on the line with us.
                        bind!(sqlx::query(
                            "UPDATE contacts SET next_at = CASE WHEN next_at < $1 THEN $1 ELSE next_at END
                             WHERE id = $2 AND state IN ('pending', 'scheduled')",
                        ), hold_until, contact)
                        .execute(&mut *tx)
                        .await?;
                        let data = serde_json::json!({
                            "call_id": call_id, "caller": caller, "did": did, "route": route,
                        });
                        bind!(sqlx::query(
                            "INSERT INTO notify_outbox (campaign_id, contact_id, state, url, created_at, next_try_at, event, format, data)
                             SELECT $1, $2, '', t.url, $3, $3, 'inbound.received', 'event', $4 FROM event_targets t
                             WHERE t.campaign_id = $1 AND t.stopped_at IS NULL AND t.types LIKE '%,inbound.received,%'",
                        ), campaign, contact, now, data.to_string())
                        .execute(&mut *tx)
                        .await?;
                    }
                    id
                }
                None => {
                    sqlx::query_scalar("SELECT id FROM inbound_calls WHERE provider_call_id = $1")
                        .bind(call_id)
                        .fetch_one(&mut *tx)
                        .await?
                }
            };
            tx.commit().await?;
            Ok(id)
        })
    }

    /// An inbound call by id.
    pub async fn inbound_call(&self, id: i64) -> Result<Option<InboundCall>> {
        let rows: Result<Vec<InboundCall>> = fetch_all!(
            self,
            InboundCall,
            "SELECT id, provider_call_id, caller, did, campaign_id, contact_id, route, outcome, received_at, ended_at, duration_seconds, talk_seconds
             FROM inbound_calls WHERE id = $1",
            id
        );
        Ok(rows?.into_iter().next())
    }

    /// The inbound calls matched to a campaign's contacts, oldest first.
    pub async fn inbound_calls(&self, campaign: &str) -> Result<Vec<InboundCall>> {
        fetch_all!(
            self,
            InboundCall,
            "SELECT id, provider_call_id, caller, did, campaign_id, contact_id, route, outcome, received_at, ended_at, duration_seconds, talk_seconds
             FROM inbound_calls WHERE campaign_id = $1 ORDER BY id",
            campaign
        )
    }

    /// What an inbound call did with this request: the route it took and the outcome reached
    /// (the latest one counts), and, with `settle`, the matched contact's new final state
    /// (`confirmed`, `cancelled`, `opted_out`) in the same transaction, when the contact is
    /// still waiting or ended without an answer. Returns whether the contact was settled.
    pub async fn inbound_progress(
        &self,
        id: i64,
        route: Option<&str>,
        outcome: Option<&str>,
        settle: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        with_writer!(self, |db| {
            let mut tx = db.begin().await?;
            let contact: Option<Option<i64>> = bind!(sqlx::query_scalar(
                "UPDATE inbound_calls SET route = COALESCE($1, route), outcome = COALESCE($2, outcome)
                 WHERE id = $3 RETURNING contact_id",
            ), route, outcome, id)
            .fetch_optional(&mut *tx)
            .await?;
            let mut settled = false;
            if let (Some(state), Some(Some(contact))) = (settle, contact) {
                settled = bind!(
                    sqlx::query(&format!(
                        "UPDATE contacts SET state = $1, updated_at = $2
                     WHERE id = $3 AND state IN {SETTLEABLE}"
                    )),
                    state,
                    now,
                    contact
                )
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0;
            }
            tx.commit().await?;
            Ok(settled)
        })
    }

    /// The call report's lines of inbound calls, as (provider call id, billed seconds): the
    /// billed time is the call's talk time, and its duration until the end request says more.
    /// Lines of no inbound call change nothing. Returns how many calls they named.
    pub async fn inbound_billed(&self, lines: &[(&str, i64)]) -> Result<u64> {
        if lines.is_empty() {
            return Ok(0);
        }
        with_writer!(self, |db| {
            let mut tx = db.begin().await?;
            let mut n = 0;
            for (call_id, seconds) in lines {
                n += bind!(
                    sqlx::query(
                        "UPDATE inbound_calls SET talk_seconds = $1,
                         duration_seconds = COALESCE(duration_seconds, $1)
                     WHERE provider_call_id = $2",
                    ),
                    *seconds,
                    *call_id
                )
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            Ok(n)
        })
    }

    /// The inbound call ended (its end-of-call request): durations kept from the first end,
    /// the talk time from the call report when it came first.
    pub async fn end_inbound(
        &self,
        id: i64,
        duration_seconds: Option<i64>,
        talk_seconds: Option<i64>,
        now: i64,
    ) -> Result<()> {
        execute!(
            self,
            "UPDATE inbound_calls SET ended_at = COALESCE(ended_at, $1),
                 duration_seconds = COALESCE(duration_seconds, $2), talk_seconds = COALESCE(talk_seconds, $3)
             WHERE id = $4",
            now,
            duration_seconds,
            talk_seconds,
            id
        );
        Ok(())
    }
}
