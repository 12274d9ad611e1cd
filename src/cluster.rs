//! Several daemons on one PostgreSQL database: which of them performs the duties that must run
//! once (the reaper of calls nobody settles, …), and the daemon's name in `/healthz` and
//! `/metrics`. A duty is held under a lease row with a deadline (`Store::hold_duty`), renewed
//! every [`RENEW`]; when its holder dies, another daemon takes it within [`TTL`] + [`RENEW`].
//! On SQLite one daemon holds the file, so it holds every duty without asking.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::Store;

/// How long a lease lasts without renewal.
pub const TTL: Duration = Duration::from_secs(6);
/// How often a holder renews (and a waiting daemon asks again).
pub const RENEW: Duration = Duration::from_secs(2);

/// The duties one daemon at a time performs.
pub const REAPER: &str = "reaper";
/// The outbox's deliveries (events and reminder notifications): one sender keeps each
/// contact's events in order.
pub const OUTBOX: &str = "outbox";
/// Callback tasks of inbound calls whose end request never came (`crate::callbacks`).
pub const CALLBACKS: &str = "callbacks";

/// The drop folder's imports (CSV files and the do-not-call list); see `crate::watch`.
pub const IMPORTS: &str = "imports";

/// Every duty, asked for by [`Duties::keep`] so that each moves within [`TTL`] + [`RENEW`]
/// of its holder's death whatever the pace of the job that performs it.
pub const ALL: [&str; 4] = [REAPER, OUTBOX, IMPORTS, CALLBACKS];

/// This daemon's view of the duties it holds.
#[derive(Debug)]
pub struct Duties {
    store: Store,
    node: String,
    /// Unique per process: two daemons on one host (one node name) never share a lease.
    holder: String,
    /// Per duty: held or not, as of when it was last asked.
    seen: Mutex<BTreeMap<String, (bool, Instant)>>,
}

fn wall_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Duties {
    pub fn new(store: Store, node: String) -> Duties {
        let holder = format!(
            "{node}:{}:{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        Duties {
            store,
            node,
            holder,
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether this daemon performs `duty` now. Asks the database at most every [`RENEW`]
    /// (renewing the lease when held); a database error counts as not held.
    pub async fn holds(&self, duty: &str) -> bool {
        if !self.store.is_shared() {
            return true;
        }
        let cached = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(duty)
            .filter(|(_, at)| at.elapsed() < RENEW)
            .map(|(held, _)| *held);
        if let Some(held) = cached {
            return held;
        }
        let held = match self
            .store
            .hold_duty(duty, &self.holder, wall_ms(), TTL.as_millis() as i64)
            .await
        {
            Ok(held) => held,
            Err(e) => {
                tracing::error!(duty, "cannot renew a duty lease: {e}");
                false
            }
        };
        let before = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(duty.to_string(), (held, Instant::now()))
            .map(|(h, _)| h);
        if before != Some(held) && (held || before.is_some()) {
            tracing::info!(duty, node = %self.node, "{}", if held { "this daemon performs the duty" } else { "another daemon performs the duty" });
        }
        held
    }

    /// Asks for every duty of [`ALL`] each [`RENEW`] until `stop` (a no-op on SQLite): a
    /// duty whose holder died is taken here even while its job sleeps.
    pub async fn keep(self: std::sync::Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        if !self.store.is_shared() {
            return;
        }
        let mut tick = tokio::time::interval(RENEW);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            for duty in ALL {
                self.holds(duty).await;
            }
        }
    }

    /// The duties this daemon held when last asked.
    pub fn held(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, (held, _))| *held)
            .map(|(d, _)| d.clone())
            .collect()
    }

    /// Gives every held duty up (the daemon is stopping): another daemon takes them at once.
    pub async fn release_all(&self) {
        if !self.store.is_shared() {
            return;
        }
        for duty in self.held() {
            if let Err(e) = self.store.release_duty(&duty, &self.holder).await {
                tracing::warn!(duty, "cannot give a duty up (it expires by itself): {e}");
            }
        }
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// `/metrics` lines: the node's name and the duties it holds.
    pub fn metrics_text(&self) -> String {
        let mut out = format!(
            "# HELP pregonero_node_info The daemon's node name.\n# TYPE pregonero_node_info gauge\npregonero_node_info{{node=\"{}\"}} 1\n",
            escape_label(&self.node)
        );
        out.push_str("# HELP pregonero_duty_held Whether this daemon performs the duty.\n# TYPE pregonero_duty_held gauge\n");
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        for (duty, (held, _)) in seen.iter() {
            out.push_str(&format!(
                "pregonero_duty_held{{duty=\"{}\"}} {}\n",
                escape_label(duty),
                u8::from(*held)
            ));
        }
        out
    }
}

/// A Prometheus label value: backslash, quote and line feed escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
