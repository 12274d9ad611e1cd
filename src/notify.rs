//! The outbox's delivery task: reminder outcome notifications (`[reminder].notify_url`) and the
//! events of a campaign's `[events] url` (`crate::events`), one mechanism for both.
//!
//! The outbox rows are written by the store in the same transaction that records each fact
//! (migrations 0006 and 0009), so nothing is lost and the control reply never waits for the
//! customer's server. This task POSTs each row (the notification's JSON, or the event's signed
//! body), marks it delivered on a 2xx reply, and otherwise retries with exponential backoff
//! (doubling from `notify.backoff_seconds`, capped at `notify.backoff_max_seconds`, with jitter)
//! until `notify.max_tries`, when it gives up and logs it. A receiver answering 410 Gone gets
//! nothing more from that campaign (logged) until its URL changes. Rows still undelivered at
//! shutdown are retried by the next run.
//!
//! Guarantees: delivery at least once (a receiver may see a row twice, e.g. when its reply is
//! lost), in order per contact and receiver (a row waiting for its retry holds back the later
//! rows of its contact; other contacts go on, several at a time); every POST carries the row's
//! `Idempotency-Key`; a URL is never logged whole (scheme and host only: it may carry
//! credentials).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

use chrono::{TimeZone, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::config::NotifyConfig;
use crate::store::{Delivery, Store, StoreError};

/// Rows read per pass.
const BATCH: u32 = 512;
/// Contacts delivered to at the same time (each on its own connection).
const PARALLEL: usize = 32;
/// Longest pause between two looks at the outbox (divided by the simulator's speed).
const POLL: Duration = Duration::from_secs(1);
const MIN_POLL: Duration = Duration::from_millis(100);

/// Errors building the delivery client.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("cannot build the HTTP client for notifications: {0}")]
    Client(#[from] reqwest::Error),
}

/// The delivery settings in force, waits already divided by the time scale.
#[derive(Debug, Clone)]
struct Settings {
    max_tries: u32,
    backoff: Duration,
    backoff_max: Duration,
    poll: Duration,
}

/// The outbox's delivery task.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    clock: SharedClock,
    http: reqwest::Client,
    settings: Settings,
    /// The events signing key (`[events] secret_file`).
    secret: Option<SecretString>,
    /// Several daemons, one database: deliver only while holding the `outbox` duty.
    duties: Option<std::sync::Arc<crate::cluster::Duties>>,
}

/// The wait before the next try after `tries` failed ones (1 = the first failure): `base`
/// doubled each time, at most `cap`, then scaled by `jitter` in [0.5, 1] so that many rows
/// failing together do not retry together.
pub fn retry_delay(tries: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let growth = 2f64.powi(tries.saturating_sub(1).min(30) as i32);
    let d = (base.as_secs_f64() * growth).min(cap.as_secs_f64());
    Duration::from_secs_f64(d * jitter.clamp(0.5, 1.0))
}

/// `scheme://host[:port]` of a URL, the only part of it that may be logged.
pub fn url_for_logs(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
            (Some(h), None) => format!("{}://{h}", u.scheme()),
            _ => format!("{}://", u.scheme()),
        },
        Err(_) => "(invalid URL)".into(),
    }
}

/// The idempotency key of an outbox row, as sent.
pub fn idempotency_key(id: i64) -> String {
    format!("pregonero-notify-{id}")
}

fn rfc3339(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The JSON body POSTed for a row.
pub fn payload(n: &Delivery) -> serde_json::Value {
    json!({
        "idempotency_key": idempotency_key(n.id),
        "campaign": n.campaign_id,
        "phone": n.phone,
        "name": n.name,
        "state": n.state,
        "outcome": n.state,
        "dtmf": n.dtmf,
        "attempts": n.attempts,
        "last_result": n.last_result,
        "time": rfc3339(n.created_at),
        "last_call_at": n.last_call_at.map(rfc3339),
        "vars": n.vars,
    })
}

impl Outbox {
    /// `time_scale` divides the waits (the simulator's speed; 1 with the real provider).
    pub fn new(
        store: Store,
        clock: SharedClock,
        config: &NotifyConfig,
        time_scale: f64,
    ) -> Result<Outbox, NotifyError> {
        let scale = |secs: f64| Duration::from_secs_f64(secs / time_scale.max(1e-9));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs_f64(config.timeout_seconds))
            .user_agent(concat!("pregonero/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Outbox {
            store,
            clock,
            http,
            settings: Settings {
                max_tries: config.max_tries,
                backoff: scale(config.backoff_seconds),
                backoff_max: scale(config.backoff_max_seconds),
                poll: scale(POLL.as_secs_f64()).clamp(MIN_POLL, POLL),
            },
            secret: None,
            duties: None,
        })
    }

    /// With several daemons on one database, only the holder of the `outbox` duty delivers
    /// (one sender keeps each contact's events in order).
    pub fn with_duties(mut self, duties: std::sync::Arc<crate::cluster::Duties>) -> Outbox {
        self.duties = Some(duties);
        self
    }

    /// Signs the events (`Pregonero-Signature`) with this key.
    pub fn with_secret(mut self, secret: Option<SecretString>) -> Outbox {
        self.secret = secret;
        self
    }

    /// Delivers until `stop` fires; a delivery under way when it fires is finished (within
    /// `notify.timeout_seconds`), no new one starts.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            if stop.is_cancelled() {
                return;
            }
            let holds = match &self.duties {
                Some(d) => d.holds(crate::cluster::OUTBOX).await,
                None => true,
            };
            if !holds {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(crate::cluster::RENEW) => continue,
                }
            }
            let wait = match self.deliver_due(&stop).await {
                Ok(n) if n as u32 >= BATCH => Duration::ZERO,
                Ok(_) => self.until_next().await,
                Err(e) => {
                    tracing::error!("notification outbox: {e}");
                    self.settings.poll
                }
            };
            if wait.is_zero() {
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// How long to wait before the next pass: until the next row is due, at most one poll.
    async fn until_next(&self) -> Duration {
        match self.store.next_delivery_at().await {
            Ok(Some(at)) => {
                let ms = (at - self.clock.now_ms()).max(0) as u64;
                Duration::from_millis(ms).clamp(MIN_POLL, self.settings.poll)
            }
            _ => self.settings.poll,
        }
    }

    /// One pass over the rows due now; returns how many were read. The rows of one contact
    /// for one receiver go one after the other, in order, and stop at the first that fails
    /// (the rest wait behind its retry); different contacts go at the same time.
    pub async fn deliver_due(&self, stop: &CancellationToken) -> Result<usize, StoreError> {
        let due = self
            .store
            .due_deliveries(self.clock.now_ms(), BATCH)
            .await?;
        let read = due.len();
        let mut groups: Vec<Vec<Delivery>> = Vec::new();
        let mut index: HashMap<(i64, String), usize> = HashMap::new();
        for d in due {
            let key = (d.contact_id, d.url.clone());
            match index.get(&key) {
                Some(&i) => groups[i].push(d),
                None => {
                    index.insert(key, groups.len());
                    groups.push(vec![d]);
                }
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        let slots = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
        for group in groups {
            let this = self.clone();
            let stop = stop.clone();
            let slots = slots.clone();
            tasks.spawn(
                async move {
                    // Closed never: the semaphore lives as long as this pass.
                    let _slot = slots.acquire_owned().await.ok();
                    this.deliver_in_order(group, &stop).await
                }
                .in_current_span(),
            );
        }
        let mut delivered = Vec::with_capacity(read);
        let mut failure = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(ids)) => delivered.extend(ids),
                Ok(Err(e)) => failure = Some(e),
                Err(e) => tracing::error!("notification outbox: a delivery task failed: {e}"),
            }
        }
        if !delivered.is_empty() {
            self.store
                .deliveries_done(&delivered, self.clock.now_ms())
                .await?;
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(read),
        }
    }

    /// Delivers one contact's rows for one receiver in order; returns the ids delivered.
    async fn deliver_in_order(
        &self,
        rows: Vec<Delivery>,
        stop: &CancellationToken,
    ) -> Result<Vec<i64>, StoreError> {
        let mut delivered = Vec::with_capacity(rows.len());
        for d in &rows {
            if stop.is_cancelled() {
                break;
            }
            let result = self.post(d).await;
            let now = self.clock.now_ms();
            let host = url_for_logs(&d.url);
            match result {
                Ok(()) => {
                    delivered.push(d.id);
                    if d.format == "notify" {
                        tracing::info!(campaign = %d.campaign_id, id = d.id, to = %host, state = %d.state, "outcome notification delivered");
                    } else {
                        tracing::debug!(campaign = %d.campaign_id, id = d.id, to = %host, event = %d.event, "event delivered");
                    }
                }
                Err(Failure::Gone) => {
                    let n = self
                        .store
                        .stop_receiver(
                            &d.campaign_id,
                            &d.url,
                            "HTTP 410 Gone: deliveries stopped",
                            now,
                        )
                        .await?;
                    tracing::warn!(campaign = %d.campaign_id, to = %host, "the events receiver answered 410 Gone: deliveries to it stop for this campaign ({n} waiting event(s) dropped) until its URL changes");
                    break;
                }
                Err(Failure::Other(error)) => {
                    let tries = u32::try_from(d.tries.max(0))
                        .unwrap_or(u32::MAX)
                        .saturating_add(1);
                    if tries >= self.settings.max_tries {
                        self.store
                            .notification_failed(d.id, &error, None, now)
                            .await?;
                        tracing::warn!(campaign = %d.campaign_id, id = d.id, to = %host, event = %d.event, tries, "event given up after {tries} tries: {error}");
                        // Given up, it holds nothing back: the next row may go.
                        continue;
                    }
                    let delay = retry_delay(
                        tries,
                        self.settings.backoff,
                        self.settings.backoff_max,
                        0.5 + rand::random::<f64>() / 2.0,
                    );
                    let at = now + delay.as_millis() as i64;
                    self.store
                        .notification_failed(d.id, &error, Some(at), now)
                        .await?;
                    tracing::info!(campaign = %d.campaign_id, id = d.id, to = %host, event = %d.event, tries, "event delivery failed ({error}); retry in {:.1}s", delay.as_secs_f64());
                    // The contact's later rows wait behind this one.
                    break;
                }
            }
        }
        Ok(delivered)
    }

    /// POSTs one row; `Err` says why it did not count as delivered (never the URL).
    async fn post(&self, d: &Delivery) -> Result<(), Failure> {
        let request = if d.format == "notify" {
            self.http
                .post(&d.url)
                .header("Idempotency-Key", idempotency_key(d.id))
                .json(&payload(d))
        } else {
            let body = crate::events::body(d);
            let mut r = self
                .http
                .post(&d.url)
                .header("Idempotency-Key", crate::events::event_id(d.id))
                .header("Content-Type", "application/json");
            if let Some(secret) = &self.secret {
                let unix = Utc::now().timestamp();
                r = r.header(
                    "Pregonero-Signature",
                    crate::events::signature(secret.expose_secret().as_bytes(), unix, &body),
                );
            }
            r.body(body)
        };
        match request.send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) if r.status() == reqwest::StatusCode::GONE => Err(Failure::Gone),
            Ok(r) => Err(Failure::Other(format!("HTTP {}", r.status().as_u16()))),
            Err(e) if e.is_timeout() => Err(Failure::Other("no reply (timeout)".into())),
            Err(e) if e.is_connect() => Err(Failure::Other("cannot connect".into())),
            // reqwest's messages may quote the URL: keep only the kind of failure.
            Err(e) if e.is_request() => Err(Failure::Other("request failed".into())),
            Err(_) => Err(Failure::Other("HTTP error".into())),
        }
    }
}

/// Why a delivery did not count.
enum Failure {
    /// 410 Gone: the receiver wants nothing more from this campaign.
    Gone,
    Other(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_the_cap_with_jitter() {
        let s = Duration::from_secs;
        assert_eq!(retry_delay(1, s(30), s(3600), 1.0), s(30));
        assert_eq!(retry_delay(2, s(30), s(3600), 1.0), s(60));
        assert_eq!(retry_delay(4, s(30), s(3600), 1.0), s(240));
        assert_eq!(retry_delay(20, s(30), s(3600), 1.0), s(3600));
        assert_eq!(retry_delay(u32::MAX, s(30), s(3600), 1.0), s(3600));
        assert_eq!(retry_delay(2, s(30), s(3600), 0.5), s(30));
        // Jitter never goes outside [0.5, 1].
        assert_eq!(retry_delay(1, s(30), s(3600), 7.0), s(30));
        assert_eq!(retry_delay(1, s(30), s(3600), 0.0), s(15));
    }

    #[test]
    fn urls_are_logged_without_credentials_path_or_query() {
        assert_eq!(
            url_for_logs("https://user:pw@hooks.example.com/x/y?token=abc"),
            "https://hooks.example.com"
        );
        assert_eq!(
            url_for_logs("http://127.0.0.1:8099/hook"),
            "http://127.0.0.1:8099"
        );
        assert_eq!(url_for_logs("not a url"), "(invalid URL)");
    }

    #[test]
    fn the_payload_names_everything_the_receiver_needs() {
        let mut vars = std::collections::BTreeMap::new();
        vars.insert("cita".to_string(), "2026-12-03 10:30".to_string());
        let n = Delivery {
            id: 7,
            campaign_id: "citas".into(),
            contact_id: 3,
            url: "http://x".into(),
            event: "contact.final".into(),
            format: "notify".into(),
            state: "confirmed".into(),
            data: None,
            created_at: 1_780_000_000_000,
            tries: 0,
            phone: "+34600000001".into(),
            name: "Ana".into(),
            vars,
            attempts: 2,
            dtmf: Some("1".into()),
            last_result: Some("answered".into()),
            last_call_at: Some(1_780_000_000_000),
            transcripts: Default::default(),
        };
        let p = payload(&n);
        assert_eq!(p["idempotency_key"], "pregonero-notify-7");
        assert_eq!(p["state"], "confirmed");
        assert_eq!(p["outcome"], "confirmed");
        assert_eq!(p["dtmf"], "1");
        assert_eq!(p["attempts"], 2);
        assert_eq!(p["time"], "2026-05-28T20:26:40Z");
        assert_eq!(p["vars"]["cita"], "2026-12-03 10:30");
    }
}
