//! The live bus: what the desk pages and the operators' dashboard must learn at once (an
//! agent's event, a change of the agents' states, a session ended) reaches the pages connected
//! to any daemon of several on one database.
//!
//! Every message is published to the store ([`Store::live_publish`]): on PostgreSQL it goes to
//! every daemon as a notification and each daemon's one listener task ([`Bus::listen`])
//! delivers it to the event streams and the dashboard's `changes` held in that daemon — the
//! sender's own messages come back the same way, so nothing is delivered twice. On SQLite one
//! daemon holds the file: messages are delivered in process at once.
//!
//! Guarantees: an agent's event reaches only the streams of that agent; messages from one
//! publisher arrive in the order it published them; a message too large for a notification
//! arrives whole (the store keeps it in a table); when the listener's connection was lost and
//! is back (messages sent meanwhile are gone), every local page gets a `resync` event (the
//! desk page then fetches its state again) and the dashboard a change; a failed publish is
//! logged and never fails the request or call behind it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tracing::Instrument;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::store::{LiveListener, LiveReceived, Store};

/// Events kept for a slow page before older ones are dropped.
const EVENT_BUFFER: usize = 64;

/// One live message, as sent between daemons (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Live {
    /// An event for the agent's page (`pop`).
    Agent { agent: String, event: Value },
    /// The agent's new state: to their page, and a change for the operators' view.
    State { agent: String, event: Value },
    /// The agents' states changed (the operators' view).
    Changes,
    /// The agent's sessions other than `keep` ended: their event streams close.
    Session { agent: String, keep: Option<String> },
}

/// The streams and the dashboard's channel held in this daemon.
pub struct Bus {
    store: Store,
    clock: SharedClock,
    /// Agent → (session id, the stream of its events).
    streams: Mutex<HashMap<String, (String, broadcast::Sender<Value>)>>,
    /// Operators' view (dashboard): every agent state change, from any daemon.
    pub changes: broadcast::Sender<()>,
}

impl Bus {
    pub fn new(store: Store, clock: SharedClock) -> Bus {
        Bus {
            store,
            clock,
            streams: Mutex::default(),
            changes: broadcast::channel(16).0,
        }
    }

    /// Sends `message` to every daemon's pages (this one's included).
    pub async fn publish(&self, message: Live) {
        let payload = match serde_json::to_string(&message) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("cannot encode a live message: {e}");
                return;
            }
        };
        match self.store.live_publish(&payload, self.clock.now_ms()).await {
            Ok(true) => {}
            Ok(false) => self.deliver(message),
            Err(e) => tracing::warn!("cannot send a live update to the other daemons: {e}"),
        }
    }

    /// Delivers a message to the streams held here.
    pub fn deliver(&self, message: Live) {
        match message {
            Live::Agent { agent, event } => self.to_agent(&agent, event),
            Live::State { agent, event } => {
                self.to_agent(&agent, event);
                let _ = self.changes.send(());
            }
            Live::Changes => {
                let _ = self.changes.send(());
            }
            Live::Session { agent, keep } => {
                let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
                // Dropping the sender ends the stream's pages.
                if streams
                    .get(&agent)
                    .is_some_and(|(id, _)| Some(id) != keep.as_ref())
                {
                    streams.remove(&agent);
                }
            }
        }
    }

    fn to_agent(&self, agent: &str, event: Value) {
        let streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, tx)) = streams.get(agent) {
            let _ = tx.send(event);
        }
    }

    /// A stream of the agent's events for session `id` (found current in the store just
    /// before): another session's stream held here ends.
    pub fn subscribe(&self, agent: &str, id: &str) -> broadcast::Receiver<Value> {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        match streams.get(agent) {
            Some((held, tx)) if held == id => tx.subscribe(),
            _ => {
                let tx = broadcast::channel(EVENT_BUFFER).0;
                let rx = tx.subscribe();
                streams.insert(agent.to_string(), (id.to_string(), tx));
                rx
            }
        }
    }

    /// Ends the stream of session `id` held here, if it is the agent's current one here.
    pub fn unsubscribe(&self, agent: &str, id: &str) {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        if streams.get(agent).is_some_and(|(held, _)| held == id) {
            streams.remove(agent);
        }
    }

    /// Every page held here fetches its state again; the dashboard too.
    fn resync(&self) {
        let streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        for (_, tx) in streams.values() {
            let _ = tx.send(serde_json::json!({"type": "resync"}));
        }
        drop(streams);
        let _ = self.changes.send(());
    }

    /// Listens to every daemon's messages until `stop` (PostgreSQL; returns at once on SQLite).
    /// The first connection is made before this returns, so that nothing published after
    /// the daemon starts serving is missed; the task that delivers is returned.
    pub async fn listen(
        self: &std::sync::Arc<Self>,
        stop: CancellationToken,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let first = match self.store.live_listen().await {
            Ok(None) => return None,
            Ok(Some(l)) => Some(l),
            Err(e) => {
                tracing::warn!(
                    "live updates from the other daemons are not received yet (retrying): {e}"
                );
                None
            }
        };
        let bus = self.clone();
        Some(tokio::spawn(
            async move {
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = bus.run(first) => {}
                    _ = bus.prune() => {}
                }
            }
            .instrument(crate::telemetry::task_span("desk bus")),
        ))
    }

    /// Stored oversize messages (screen pops: customers' data) are deleted after a few minutes.
    async fn prune(&self) {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = self.store.live_prune(self.clock.now_ms()).await {
                tracing::debug!("cannot prune the stored live updates: {e}");
            }
        }
    }

    async fn run(&self, mut listener: Option<LiveListener>) {
        // Logged once per outage, not per retry.
        let mut down = listener.is_none();
        let mut backoff = Duration::from_millis(200);
        loop {
            let Some(l) = listener.as_mut() else {
                match self.store.live_listen().await {
                    Ok(l) => {
                        listener = l;
                        if down {
                            tracing::info!("live updates from the other daemons received again");
                            down = false;
                        }
                        backoff = Duration::from_millis(200);
                        // Whatever was sent while nobody listened is gone.
                        self.resync();
                    }
                    Err(e) => {
                        if !down {
                            tracing::warn!(
                                "lost the live updates from the other daemons, reconnecting: {e}"
                            );
                            down = true;
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
                continue;
            };
            match l.recv().await {
                Ok(LiveReceived::Message(payload)) => {
                    match serde_json::from_str::<Live>(&payload) {
                        Ok(m) => self.deliver(m),
                        Err(e) => tracing::warn!("a live update could not be read: {e}"),
                    }
                }
                Ok(LiveReceived::Reconnected) => {
                    tracing::warn!(
                        "the live updates' connection was lost and is back: pages refresh their state"
                    );
                    self.resync();
                }
                Err(crate::store::StoreError::Corrupt(e)) => {
                    tracing::warn!("a live update was lost: {e}")
                }
                Err(e) => {
                    if !down {
                        tracing::warn!(
                            "lost the live updates from the other daemons, reconnecting: {e}"
                        );
                        down = true;
                    }
                    listener = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn bus() -> (Bus, crate::testing::TestDb) {
        let db = crate::testing::TestDb::sqlite();
        let store = Store::connect(&db.url).await.unwrap();
        (
            Bus::new(store, std::sync::Arc::new(crate::clock::SystemClock)),
            db,
        )
    }

    #[tokio::test]
    async fn events_reach_only_their_agent_and_a_newer_session_ends_the_old_stream() {
        let (bus, _db) = bus().await;
        let mut ana = bus.subscribe("ana", "s1");
        let mut ana_tab = bus.subscribe("ana", "s1");
        let mut bea = bus.subscribe("bea", "b1");
        let mut changes = bus.changes.subscribe();
        let event = serde_json::json!({"type": "state", "state": "ready"});
        // SQLite: published messages are delivered in process at once.
        bus.publish(Live::State {
            agent: "ana".into(),
            event: event.clone(),
        })
        .await;
        assert_eq!(ana.try_recv().unwrap(), event);
        assert_eq!(ana_tab.try_recv().unwrap(), event);
        assert!(bea.try_recv().is_err());
        assert!(changes.try_recv().is_ok());
        // The current session is kept; another one's stream ends.
        bus.deliver(Live::Session {
            agent: "ana".into(),
            keep: Some("s1".into()),
        });
        assert!(matches!(
            ana.try_recv(),
            Err(broadcast::error::TryRecvError::Empty)
        ));
        bus.deliver(Live::Session {
            agent: "ana".into(),
            keep: Some("s2".into()),
        });
        assert!(matches!(
            ana.try_recv(),
            Err(broadcast::error::TryRecvError::Closed)
        ));
        // Unsubscribing a session that is not the one held changes nothing.
        bus.unsubscribe("bea", "b0");
        bus.deliver(Live::Agent {
            agent: "bea".into(),
            event: event.clone(),
        });
        assert_eq!(bea.try_recv().unwrap(), event);
        bus.resync();
        assert_eq!(bea.try_recv().unwrap()["type"], "resync");
    }

    #[test]
    fn messages_travel_as_tagged_json() {
        let m = Live::Session {
            agent: "ana".into(),
            keep: None,
        };
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(text, r#"{"k":"session","agent":"ana","keep":null}"#);
        assert_eq!(serde_json::from_str::<Live>(&text).unwrap(), m);
    }
}
