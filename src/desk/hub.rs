//! The desk's live side in this daemon: agents' sessions, the events pushed to their pages
//! (Server-Sent Events), and the failed-login brake per source address.
//!
//! Guarantees: one session per agent (a second login ends the first: its event stream closes
//! and its cookie stops working); session tokens are random (128 bits) and kept hashed;
//! events are only ever sent to the stream of the agent they concern.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use crate::clock::SharedClock;
use crate::store::Store;

/// Events kept for a slow page before older ones are dropped.
const EVENT_BUFFER: usize = 64;

/// A logged-in agent's session.
#[derive(Debug, Clone)]
pub struct Session {
    pub agent: String,
    /// Sent back in the `X-CSRF-Token` header of every POST.
    pub csrf: String,
    pub id: u64,
}

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
    /// Session token hash → session.
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    /// Agent → (session id, the stream of its events).
    streams: Mutex<HashMap<String, (u64, broadcast::Sender<Value>)>>,
    brakes: Mutex<HashMap<IpAddr, Brake>>,
    next_id: std::sync::atomic::AtomicU64,
    /// Operators' view (dashboard): every agent state change.
    pub changes: broadcast::Sender<()>,
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn random_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Desk {
    pub fn new(store: Store, clock: SharedClock, time_scale: f64, secure_cookie: bool) -> Desk {
        Desk {
            store,
            clock,
            time_scale: if time_scale > 0.0 { time_scale } else { 1.0 },
            heartbeat_timeout_ms: 45_000,
            secure_cookie,
            sessions: Mutex::default(),
            streams: Mutex::default(),
            brakes: Mutex::default(),
            next_id: Default::default(),
            changes: broadcast::channel(16).0,
        }
    }

    /// Simulated seconds as real milliseconds.
    pub fn scaled_ms(&self, seconds: f64) -> i64 {
        (seconds * 1000.0 / self.time_scale) as i64
    }

    /// Opens a session for `agent`, ending any other one of theirs: (token, session).
    pub fn open_session(&self, agent: &str) -> (String, Session) {
        let token = random_token();
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let session = Session {
            agent: agent.to_string(),
            csrf: random_token(),
            id,
        };
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, s| s.agent != agent);
        sessions.insert(token_hash(&token), session.clone());
        drop(sessions);
        // A new stream: the old page's stream ends when its sender is dropped.
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        streams.insert(agent.to_string(), (id, broadcast::channel(EVENT_BUFFER).0));
        (token, session)
    }

    pub fn session(&self, token: &str) -> Option<Session> {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&token_hash(token))
            .cloned()
    }

    /// Ends a session (logout); its stream closes.
    pub fn close_session(&self, token: &str) {
        let removed = self
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&token_hash(token));
        if let Some(s) = removed {
            let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
            if streams.get(&s.agent).is_some_and(|(id, _)| *id == s.id) {
                streams.remove(&s.agent);
            }
        }
    }

    /// The agent's event stream for this session; `None` once another session replaced it.
    pub fn subscribe(&self, session: &Session) -> Option<broadcast::Receiver<Value>> {
        let streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        match streams.get(&session.agent) {
            Some((id, tx)) if *id == session.id => Some(tx.subscribe()),
            _ => None,
        }
    }

    /// Pushes an event to the agent's page (if one is open).
    pub fn send(&self, agent: &str, event: Value) {
        let streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, tx)) = streams.get(agent) {
            let _ = tx.send(event);
        }
    }

    /// Says the agent's state changed: to their page, and to the operators' view.
    pub async fn state_changed(&self, agent: &str) {
        if let Ok(Some(a)) = self.store.agent(agent).await {
            self.send(
                agent,
                serde_json::json!({"type": "state", "state": a.state, "reason": a.reason,
                    "since": a.state_since, "call": a.attempt_id,
                    "wrapup_until": a.wrapup_until}),
            );
        }
        let _ = self.changes.send(());
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
