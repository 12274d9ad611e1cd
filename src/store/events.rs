//! Events to the customer's systems: the receivers of each campaign and the outbox's delivery
//! rows, written once for both backends.
//!
//! The outbox is `notify_outbox` (migration 0006), generalised by migration 0009: each row is
//! one event for one receiver. The facts' own transactions write the rows (triggers on
//! `attempts` and `contacts`), so this file only keeps the receivers in step with the campaign
//! files, hands out the rows due, and records how their deliveries went.

use std::collections::BTreeMap;

use super::*;

/// Outbox rows marked delivered per write (see [`Store::deliveries_done`]).
const MARK_CHUNK: usize = 64;
/// Contacts whose transcripts one query reads (bound parameters stay well under SQLite's
/// limit).
const TRANSCRIPTS_CHUNK: usize = 512;

/// The event types a campaign's `[events] url` can receive, in the contract's order.
pub const EVENT_TYPES: &[&str] = &[
    "call.launched",
    "call.answered",
    "call.ended",
    "contact.final",
    "transfer.started",
    "agent.disposition",
    "inbound.received",
    "callback.created",
    "optout",
];

/// A row of the outbox due for delivery, with the contact it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The outbox row id: the event id and the idempotency key the receiver sees.
    pub id: i64,
    pub campaign_id: String,
    pub contact_id: i64,
    pub url: String,
    /// The event type (`call.ended`…).
    pub event: String,
    /// `notify` (the reminder's `notify_url` payload) or `event` (the signed contract body).
    pub format: String,
    /// The contact's state the event names (final states; empty for call events).
    pub state: String,
    /// The event's own facts as recorded (JSON object), if any.
    pub data: Option<String>,
    /// When the fact was recorded, ms.
    pub created_at: i64,
    /// Deliveries tried so far.
    pub tries: i64,
    pub phone: String,
    pub name: String,
    pub vars: BTreeMap<String, String>,
    pub attempts: i64,
    pub dtmf: Option<String>,
    pub last_result: Option<String>,
    pub last_call_at: Option<i64>,
    /// What the callee said (`[[capture]]` steps), by field: usable transcripts only, read
    /// when the row is delivered, for `call.ended` and `contact.final`.
    pub transcripts: BTreeMap<String, String>,
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    campaign_id: String,
    contact_id: i64,
    url: String,
    event: String,
    format: String,
    state: String,
    data: Option<String>,
    created_at: i64,
    tries: i64,
    phone: String,
    name: String,
    vars: String,
    attempts: i64,
    dtmf: Option<String>,
    last_result: Option<String>,
    last_call_at: Option<i64>,
}

/// An outbox row with its event (tests, audits).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EventOutboxRow {
    pub id: i64,
    pub contact_id: i64,
    pub event: String,
    /// The contact's state the event names (final states; empty for call events).
    pub state: String,
    pub format: String,
    pub url: String,
    pub data: Option<String>,
    pub tries: i64,
    pub delivered_at: Option<i64>,
    pub gave_up_at: Option<i64>,
    pub last_error: Option<String>,
}

/// A campaign's events receiver as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EventTarget {
    pub url: String,
    /// Comma-wrapped: `,call.launched,call.ended,`.
    pub types: String,
    /// When a 410 Gone stopped deliveries to it.
    pub stopped_at: Option<i64>,
}

/// `types` as stored: comma-wrapped, so that a type matches as `%,type,%`.
pub fn stored_types(types: &[String]) -> String {
    let mut out = String::from(",");
    for t in types {
        out.push_str(t);
        out.push(',');
    }
    out
}

impl Store {
    /// Sets (or, with `None`, removes) the campaign's events receiver and the types it takes.
    /// A receiver stopped by a 410 stays stopped while its URL is the same.
    pub async fn set_event_target(
        &self,
        campaign: &str,
        target: Option<(&str, &[String])>,
        now: i64,
    ) -> Result<()> {
        match target {
            Some((url, types)) => execute!(self,
                "INSERT INTO event_targets (campaign_id, url, types, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (campaign_id) DO UPDATE SET url = excluded.url, types = excluded.types,
                     updated_at = excluded.updated_at,
                     stopped_at = CASE WHEN event_targets.url = excluded.url THEN event_targets.stopped_at ELSE NULL END",
                campaign, url, stored_types(types), now),
            None => execute!(self, "DELETE FROM event_targets WHERE campaign_id = $1", campaign),
        };
        Ok(())
    }

    /// The campaign's events receiver, if it has one.
    pub async fn event_target(&self, campaign: &str) -> Result<Option<EventTarget>> {
        let rows: Result<Vec<EventTarget>> = fetch_all!(
            self,
            EventTarget,
            "SELECT url, types, stopped_at FROM event_targets WHERE campaign_id = $1",
            campaign
        );
        Ok(rows?.into_iter().next())
    }

    /// Queues an event the database does not see happen (e.g. `transfer.started`, when the
    /// transfer command leaves) for the campaign's receiver, if it takes that type. Returns
    /// whether a row was queued.
    pub async fn add_event(
        &self,
        campaign: &str,
        contact_id: i64,
        attempt_id: Option<i64>,
        event: &str,
        data: &serde_json::Value,
        at: i64,
    ) -> Result<bool> {
        let pattern = format!("%,{event},%");
        let n = execute!(self,
            "INSERT INTO notify_outbox (campaign_id, contact_id, state, url, created_at, next_try_at, event, format, attempt_id, data)
             SELECT $1, $2, '', t.url, $3, $3, $4, 'event', $5, $6 FROM event_targets t
             WHERE t.campaign_id = $1 AND t.stopped_at IS NULL AND t.types LIKE $7",
            campaign, contact_id, at, event, attempt_id, data.to_string(), pattern);
        Ok(n > 0)
    }

    /// Outbox rows due at `now`, oldest first, of both formats. A row waiting for its retry
    /// holds back the later rows of its contact to the same receiver, so that a receiver sees
    /// each contact's events in order; the rows returned for a contact are in order too.
    pub async fn due_deliveries(&self, now: i64, limit: u32) -> Result<Vec<Delivery>> {
        let rows: Result<Vec<DeliveryRow>> = fetch_all!(
            self,
            DeliveryRow,
            "SELECT o.id, o.campaign_id, o.contact_id, o.url, o.event, o.format, o.state, o.data, o.created_at, o.tries,
                    c.phone, c.name, c.vars, c.attempts, c.dtmf, c.last_result, c.last_call_at
             FROM notify_outbox o JOIN contacts c ON c.id = o.contact_id
             WHERE o.delivered_at IS NULL AND o.gave_up_at IS NULL AND o.next_try_at <= $1
               AND NOT EXISTS (SELECT 1 FROM notify_outbox p
                   WHERE p.contact_id = o.contact_id AND p.id < o.id AND p.url = o.url
                     AND p.delivered_at IS NULL AND p.gave_up_at IS NULL AND p.next_try_at > $1)
             ORDER BY o.id LIMIT $2",
            now,
            i64::from(limit)
        );
        let mut out: Vec<Delivery> = rows?
            .into_iter()
            .map(|r| Delivery {
                id: r.id,
                campaign_id: r.campaign_id,
                contact_id: r.contact_id,
                url: r.url,
                event: r.event,
                format: r.format,
                state: r.state,
                data: r.data,
                created_at: r.created_at,
                tries: r.tries,
                phone: r.phone,
                name: r.name,
                vars: vars_from_json(&r.vars),
                attempts: r.attempts,
                dtmf: r.dtmf,
                last_result: r.last_result,
                last_call_at: r.last_call_at,
                transcripts: BTreeMap::new(),
            })
            .collect();
        // The transcripts of the contacts whose call or final state is told, read for all of
        // them at once (one query per pass, not one per contact).
        let told: Vec<i64> = {
            let mut ids: Vec<i64> = out
                .iter()
                .filter(|d| matches!(d.event.as_str(), "call.ended" | "contact.final"))
                .map(|d| d.contact_id)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let said = self.transcripts_of(&told).await?;
        for d in &mut out {
            if matches!(d.event.as_str(), "call.ended" | "contact.final") {
                if let Some(t) = said.get(&d.contact_id) {
                    d.transcripts = t.clone();
                }
            }
        }
        Ok(out)
    }

    /// The transcripts heard (`ok` captures) of these contacts, by contact then field.
    async fn transcripts_of(
        &self,
        contacts: &[i64],
    ) -> Result<BTreeMap<i64, BTreeMap<String, String>>> {
        let mut out: BTreeMap<i64, BTreeMap<String, String>> = BTreeMap::new();
        for chunk in contacts.chunks(TRANSCRIPTS_CHUNK) {
            let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT contact_id, field, text FROM contact_captures
                 WHERE status = 'ok' AND contact_id IN ({})",
                list.join(", ")
            );
            let rows: Vec<(i64, String, String)> = with_reader!(self, |db| {
                let mut q = sqlx::query_as(&sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(db).await?
            });
            for (contact, field, text) in rows {
                out.entry(contact).or_default().insert(field, text);
            }
        }
        Ok(out)
    }

    /// When the next row can go: the earliest `next_try_at` of the rows no earlier row of
    /// their contact holds back (a held-back row goes right after the row before it).
    pub async fn next_delivery_at(&self) -> Result<Option<i64>> {
        Ok(with_reader!(self, |db| {
            sqlx::query_scalar(
                "SELECT MIN(o.next_try_at) FROM notify_outbox o
                 WHERE o.delivered_at IS NULL AND o.gave_up_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM notify_outbox p
                       WHERE p.contact_id = o.contact_id AND p.id < o.id AND p.url = o.url
                         AND p.delivered_at IS NULL AND p.gave_up_at IS NULL)",
            )
            .fetch_one(db)
            .await?
        }))
    }

    /// The receivers accepted these rows: one write for all of them.
    pub async fn deliveries_done(&self, ids: &[i64], now: i64) -> Result<()> {
        // Short writes: on SQLite the one write lock is the control URL's too (512 rows held it
        // 5 ms, 64 under half a millisecond), and the marks go in the group transactions of the
        // control writes, one chunk at a time.
        if let Store::Sqlite(s) = self {
            for part in ids.chunks(MARK_CHUNK) {
                let ids = part.to_vec();
                s.grouped(super::sqlite::GroupOp::Delivered { ids, now })
                    .await?;
            }
            return Ok(());
        }
        for chunk in ids.chunks(MARK_CHUNK) {
            let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "UPDATE notify_outbox SET delivered_at = $1, last_error = NULL
                 WHERE delivered_at IS NULL AND id IN ({})",
                list.join(", ")
            );
            with_writer!(self, |db| {
                let mut q = sqlx::query(&sql).bind(now);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.execute(db).await?;
            });
        }
        Ok(())
    }

    /// A receiver answered 410 Gone: it gets nothing more from this campaign. Its target is
    /// marked stopped (no new rows) and the campaign's rows still waiting for it are given up
    /// with `reason`. Returns how many rows were given up.
    pub async fn stop_receiver(
        &self,
        campaign: &str,
        url: &str,
        reason: &str,
        now: i64,
    ) -> Result<u64> {
        with_writer!(self, |db| {
            let mut tx = db.begin().await?;
            for table in ["event_targets", "notify_targets"] {
                bind!(sqlx::query(&format!(
                    "UPDATE {table} SET stopped_at = $1 WHERE campaign_id = $2 AND url = $3 AND stopped_at IS NULL"
                )), now, campaign, url)
                .execute(&mut *tx)
                .await?;
            }
            let n = bind!(sqlx::query(
                "UPDATE notify_outbox SET gave_up_at = $1, last_error = $2
                 WHERE campaign_id = $3 AND url = $4 AND delivered_at IS NULL AND gave_up_at IS NULL",
            ), now, reason, campaign, url)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok(n)
        })
    }

    /// The campaign's outbox rows with their events, oldest first.
    pub async fn event_outbox(&self, campaign: &str) -> Result<Vec<EventOutboxRow>> {
        fetch_all!(
            self,
            EventOutboxRow,
            "SELECT id, contact_id, event, state, format, url, data, tries, delivered_at, gave_up_at, last_error
             FROM notify_outbox WHERE campaign_id = $1 ORDER BY id",
            campaign
        )
    }
}
