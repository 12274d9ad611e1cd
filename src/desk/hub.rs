//! The desk's live side: agents' sessions, the events pushed to their pages (Server-Sent
//! Events), and the failed-login brake per source address.
//!
//! Sessions live in the database, so that behind a load balancer any daemon of several on one
//! database answers any request of an agent's page; events go through the live bus (`bus`),
//! so that an event produced on one daemon reaches the page's stream held by another.
//!
//! Guarantees: one session per agent (a second login, on any daemon, ends the first: its
//! cookie stops working everywhere and its event stream closes on whichever daemon holds it);
//! session tokens are random (128 bits) and kept hashed (SHA-256); events are only ever sent
//! to the streams of the agent they concern. A session also ends when its agent's page was not
//! heard from for [`SESSION_IDLE_MS`] (a restart of the daemon no longer ends it). The
//! failed-login brake is kept per daemon: behind a balancer spreading logins over N daemons an
//! address can try up to N times as fast.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use super::bus::{Bus, Live};
use crate::clock::SharedClock;
use crate::store::{Store, StoreError};

/// A session whose page was not heard from (and no login) for this long has ended.
pub const SESSION_IDLE_MS: i64 = 12 * 3600 * 1000;

/// A logged-in agent's session.
pub type Session = crate::store::DeskSession;

#[derive(Default)]
struct Brake {
    failures: u32,
    until_ms: i64,
}

pub struct Desk {
    pub store: Store,
    pub clock: SharedClock,
    /// The simulator's speed (wrap-up and ring windows are divided by it); 1 for real calls.
    pub time_scale: f64,
    /// A page not heard from for this long is taken as closed: its agent is logged out.
    pub heartbeat_timeout_ms: i64,
    /// Cookies get `Secure` (the listener speaks TLS).
    pub secure_cookie: bool,
    /// The pages' streams in this daemon, and the messages of every daemon.
    pub bus: std::sync::Arc<Bus>,
    brakes: Mutex<HashMap<IpAddr, Brake>>,
}

/// The hash a token is kept and looked up by (hex).
fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_token() -> String {
    let bytes: [u8; 16] = rand::random();
    hex(&bytes)
}

impl Desk {
    pub fn new(store: Store, clock: SharedClock, time_scale: f64, secure_cookie: bool) -> Desk {
        Desk {
            bus: std::sync::Arc::new(Bus::new(store.clone(), clock.clone())),
            store,
            clock,
            time_scale: if time_scale > 0.0 { time_scale } else { 1.0 },
            heartbeat_timeout_ms: 45_000,
            secure_cookie,
            brakes: Mutex::default(),
        }
    }

    /// Operators' view (dashboard): every agent state change, from any daemon.
    pub fn changes(&self) -> broadcast::Receiver<()> {
        self.bus.changes.subscribe()
    }

    /// Simulated seconds as real milliseconds.
    pub fn scaled_ms(&self, seconds: f64) -> i64 {
        (seconds * 1000.0 / self.time_scale) as i64
    }

    /// Opens a session for `agent`, ending any other one of theirs: (token, session).
    pub async fn open_session(&self, agent: &str) -> Result<(String, Session), StoreError> {
        let token = random_token();
        let session = Session {
            agent: agent.to_string(),
            csrf: random_token(),
            id: random_token(),
        };
        self.store
            .desk_session_open(
                agent,
                &token_hash(&token),
                &session.csrf,
                &session.id,
                self.clock.now_ms(),
            )
            .await?;
        // The old page's stream ends, wherever it is held.
        self.bus
            .publish(Live::Session {
                agent: agent.to_string(),
                keep: Some(session.id.clone()),
            })
            .await;
        Ok((token, session))
    }

    /// The token's session, if it is still open.
    pub async fn session(&self, token: &str) -> Result<Option<Session>, StoreError> {
        let idle_since = self.clock.now_ms() - SESSION_IDLE_MS;
        self.store
            .desk_session(&token_hash(token), idle_since)
            .await
    }

    /// Ends a session (logout); its stream closes.
    pub async fn close_session(&self, token: &str) -> Result<(), StoreError> {
        if let Some((agent, _)) = self.store.desk_session_close(&token_hash(token)).await? {
            self.bus.publish(Live::Session { agent, keep: None }).await;
        }
        Ok(())
    }

    /// The agent's event stream for this session (of `token`); `None` once another session
    /// replaced it.
    pub async fn subscribe(
        &self,
        token: &str,
        session: &Session,
    ) -> Result<Option<broadcast::Receiver<Value>>, StoreError> {
        let rx = self.bus.subscribe(&session.agent, &session.id);
        // Checked after subscribing: a newer login that committed before this read is seen
        // here, one after it closes the stream through the bus.
        if self
            .session(token)
            .await?
            .is_some_and(|s| s.id == session.id)
        {
            return Ok(Some(rx));
        }
        self.bus.unsubscribe(&session.agent, &session.id);
        Ok(None)
    }

    /// Pushes an event to the agent's page (if one is open, on any daemon).
    pub async fn send(&self, agent: &str, event: Value) {
        self.bus
            .publish(Live::Agent {
                agent: agent.to_string(),
                event,
            })
            .await;
    }

    /// Says the agent's state changed: to their page, and to the operators' view.
    pub async fn state_changed(&self, agent: &str) {
        let message = match self.store.agent(agent).await {
            Ok(Some(a)) => Live::State {
                agent: agent.to_string(),
                event: serde_json::json!({"type": "state", "state": a.state, "reason": a.reason,
                    "since": a.state_since, "call": a.attempt_id,
                    "wrapup_until": a.wrapup_until}),
            },
            _ => Live::Changes,
        };
        self.bus.publish(message).await;
    }

    /// How long a login from `ip` must wait before it is tried (0: now).
    pub fn login_wait_ms(&self, ip: IpAddr) -> i64 {
        let now = self.clock.now_ms();
        let brakes = self.brakes.lock().unwrap_or_else(|e| e.into_inner());
        brakes
            .get(&ip)
            .map(|b| (b.until_ms - now).max(0))
            .unwrap_or(0)
    }

    /// A failed login from `ip`: the next one waits 1 s, then 2, 4… up to a minute.
    pub fn login_failed(&self, ip: IpAddr) {
        let now = self.clock.now_ms();
        let mut brakes = self.brakes.lock().unwrap_or_else(|e| e.into_inner());
        if brakes.len() > 10_000 {
            brakes.retain(|_, b| b.until_ms > now);
        }
        let b = brakes.entry(ip).or_default();
        b.failures = b.failures.saturating_add(1);
        let wait = 1000i64 << (b.failures - 1).min(6);
        b.until_ms = now + wait.min(60_000);
    }

    pub fn login_succeeded(&self, ip: IpAddr) {
        self.brakes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ip);
    }
}
