//! The drop folder, watched: new CSV files are imported within seconds, new campaign folders
//! appear, an edited `campaign.toml` is applied live.
//!
//! Guarantees: a file is read only once its size and modification time have been stable for
//! `campaigns.settle_ms` (never half-written); Excel lock files (`~$…`), hidden and temporary
//! files and our own `*.rejected.csv` are ignored; a broken `campaign.toml` edit keeps the last
//! good version running and says why; the same content is never imported twice (the store keys
//! files by their hash). File events only wake the scanner up: a periodic rescan makes it work
//! on file systems without events too.
//!
//! Several daemons on one database: every daemon applies `campaign.toml` edits to the campaigns
//! it runs, but the CSV and do-not-call imports are a duty ([`crate::cluster::IMPORTS`]): its
//! holder imports a settled file at once; another daemon imports it only once it has stood
//! settled for [`IMPORT_FALLBACK`] more (a folder kept on that daemon's own disk, not shared),
//! and the store's file hashes make that second look a no-op when the holder already read it.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::calls::{ActiveCampaign, Campaigns, Registry as _};
use crate::campaign::plan::CampaignPlan;
use crate::campaign::{self, phone, Campaign};
use crate::clock::SharedClock;
use crate::cluster::{self, Duties};
use crate::config::Config;
use crate::store::Store;

/// How much longer than `settle_ms` a daemon not holding the imports duty leaves a settled
/// file to the holder before importing it itself.
pub const IMPORT_FALLBACK: Duration = Duration::from_secs(20);

/// What was seen of a file at the last scan.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    size: u64,
    modified: Option<SystemTime>,
    /// When this (size, modified) was first seen.
    since: Instant,
    /// Already handled in this state (imported, or reported as broken).
    done: bool,
}

/// Watches `campaigns.dir`.
pub struct FolderWatcher {
    config: Config,
    store: Store,
    campaigns: Campaigns,
    clock: SharedClock,
    seen: HashMap<PathBuf, Seen>,
    /// CSV files waiting for their folder to get a valid `campaign.toml`.
    waiting: HashSet<PathBuf>,
    /// The duty leases (several daemons on one database); `None`: this daemon imports.
    duties: Option<Arc<Duties>>,
}

fn ignored(name: &str) -> bool {
    let n = name.to_lowercase();
    n.starts_with('.')
        || n.starts_with("~$")
        || n.ends_with('~')
        || n.ends_with(".tmp")
        || n.ends_with(".part")
        || n.ends_with(".rejected.csv")
}

impl FolderWatcher {
    pub fn new(
        config: Config,
        store: Store,
        campaigns: Campaigns,
        clock: SharedClock,
    ) -> FolderWatcher {
        FolderWatcher {
            config,
            store,
            campaigns,
            clock,
            seen: HashMap::new(),
            waiting: HashSet::new(),
            duties: None,
        }
    }

    /// Imports under the duty lease: see the module's documentation.
    pub fn with_duties(mut self, duties: Arc<Duties>) -> FolderWatcher {
        self.duties = Some(duties);
        self
    }

    /// Marks every file present now as handled (the start-up import already read them).
    pub fn assume_current(&mut self) {
        for path in self.files() {
            if let Some(s) = stat(&path) {
                self.seen.insert(path, Seen { done: true, ..s });
            }
        }
    }

    /// Runs until `stop`: a scan on every file event and every `rescan_seconds`.
    pub async fn run(mut self, stop: CancellationToken) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        let dir = self.config.campaigns.dir.clone();
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            // Opening or reading a file is an event too (inotify's IN_OPEN, IN_CLOSE_NOWRITE):
            // the scan itself lists the folders and hashes files, so waking on those would spin.
            if let Ok(e) = res {
                if matches!(e.kind, notify::EventKind::Access(_)) {
                    return;
                }
            }
            let _ = tx.try_send(());
        })
        .and_then(|mut w| {
            use notify::Watcher;
            w.watch(&dir, notify::RecursiveMode::Recursive).map(|_| w)
        });
        let _watcher = match watcher {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(
                    "file events unavailable for {} ({e}); rescanning periodically",
                    self.config.campaigns.dir.display()
                );
                None
            }
        };
        let settle = Duration::from_millis(self.config.campaigns.settle_ms);
        let rescan = Duration::from_secs_f64(self.config.campaigns.rescan_seconds.max(0.2));
        loop {
            // Files still settling need a look soon even without new events.
            let pending = self.seen.values().any(|s| !s.done);
            let wait = if pending {
                settle.min(rescan) / 2
            } else {
                rescan
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = rx.recv() => {}
                _ = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
            }
            self.scan().await;
        }
    }

    fn files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.config.campaigns.dir) else {
            return out;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if ignored(&name) {
                continue;
            }
            if p.is_dir() {
                if let Ok(inner) = std::fs::read_dir(&p) {
                    for f in inner.flatten() {
                        let n = f.file_name().to_string_lossy().into_owned();
                        let lower = n.to_lowercase();
                        if !ignored(&n) && (lower.ends_with(".csv") || lower == "campaign.toml") {
                            out.push(f.path());
                        }
                    }
                }
            } else if name.eq_ignore_ascii_case("blacklist.csv") {
                out.push(p);
            }
        }
        out.sort();
        out
    }

    /// One pass: settle, then act on every changed file.
    pub async fn scan(&mut self) {
        let settle = Duration::from_millis(self.config.campaigns.settle_ms);
        let importer = match &self.duties {
            Some(d) => d.holds(cluster::IMPORTS).await,
            None => true,
        };
        let mut ready = Vec::new();
        let files = self.files();
        self.seen.retain(|p, _| files.contains(p));
        for path in files {
            let Some(now) = stat(&path) else {
                continue;
            };
            let entry = self.seen.entry(path.clone()).or_insert_with(|| now.clone());
            if entry.size != now.size || entry.modified != now.modified {
                *entry = now;
                continue;
            }
            let wait = if importer || path.ends_with("campaign.toml") {
                settle
            } else {
                settle + IMPORT_FALLBACK
            };
            if !entry.done && entry.since.elapsed() >= wait {
                entry.done = true;
                ready.push(path);
            }
        }
        // campaign.toml first, so a new folder's CSVs find their campaign.
        ready.sort_by_key(|p| !p.ends_with("campaign.toml"));
        for path in ready {
            self.handle(&path).await;
        }
    }

    async fn handle(&mut self, path: &Path) {
        let region = phone::region(&self.config.calling.default_region);
        let now = self.clock.now_ms();
        if path
            .file_name()
            .is_some_and(|n| n.eq_ignore_ascii_case("blacklist.csv"))
            && path.parent() == Some(self.config.campaigns.dir.as_path())
        {
            match campaign::dnc::import(&self.store, path, region, now).await {
                Ok((n, rejects)) => {
                    tracing::info!("{}: {n} number(s) on the do-not-call list", path.display());
                    for r in rejects {
                        let error = crate::i18n::Lang::En.render(&r.error);
                        tracing::warn!("{} line {}: {error}", path.display(), r.line);
                    }
                }
                Err(e) => tracing::error!("{}", crate::i18n::Lang::En.render(&e)),
            }
            return;
        }
        let Some(dir) = path.parent() else {
            return;
        };
        if path.ends_with("campaign.toml") {
            self.reload(dir).await;
            return;
        }
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let active = self.campaigns.campaign(&id);
        let Some(active) = active else {
            tracing::warn!(
                "{}: no valid campaign.toml beside it yet; it will be imported once there is one",
                path.display()
            );
            self.waiting.insert(path.to_path_buf());
            return;
        };
        match campaign::import::import_file(
            &self.store,
            &active.def,
            active.plan.tz,
            path,
            region,
            self.config.ui.language,
            now,
            None,
        )
        .await
        {
            Ok(summary) => tracing::info!(campaign = %id, "{summary}"),
            Err(e) => tracing::error!(campaign = %id, "{e}"),
        }
    }

    /// (Re)loads a campaign folder; a broken edit keeps the last good version.
    async fn reload(&mut self, dir: &Path) {
        let now = self.clock.now();
        let loaded =
            Campaign::load(dir).map_err(|e| e.to_string()).and_then(
                |def| match CampaignPlan::build(&def, &self.config.calling, now) {
                    Ok(plan) => Ok(ActiveCampaign { def, plan }),
                    Err(e) => Err(format!(
                        "{}: {}",
                        dir.join("campaign.toml").display(),
                        crate::i18n::Lang::En.render(&e)
                    )),
                },
            );
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match loaded {
            Ok(active) => {
                let c = &active.def;
                if let Err(e) = self
                    .store
                    .upsert_campaign(
                        &c.id,
                        c.kind.as_str(),
                        &c.title,
                        &c.source,
                        now.timestamp_millis(),
                    )
                    .await
                {
                    tracing::error!(campaign = %id, "cannot store the campaign: {e}");
                    return;
                }
                if let Err(e) = self
                    .store
                    .set_notify_target(&c.id, c.notify_url(), now.timestamp_millis())
                    .await
                {
                    tracing::error!(campaign = %id, "cannot store the campaign's notify_url: {e}");
                    return;
                }
                let events = c
                    .events
                    .as_ref()
                    .map(|e| (e.url.as_str(), e.types.as_slice()));
                if let Err(e) = self
                    .store
                    .set_event_target(&c.id, events, now.timestamp_millis())
                    .await
                {
                    tracing::error!(campaign = %id, "cannot store the campaign's events URL: {e}");
                    return;
                }
                let existed = self
                    .campaigns
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id.clone(), Arc::new(active))
                    .is_some();
                tracing::info!(campaign = %id, "{}", if existed { "campaign.toml changed: applied" } else { "new campaign folder" });
                // CSVs that waited for a valid campaign.toml go at the next scan.
                let waiting: Vec<PathBuf> = self
                    .waiting
                    .iter()
                    .filter(|p| p.parent() == Some(dir))
                    .cloned()
                    .collect();
                for p in waiting {
                    self.waiting.remove(&p);
                    if let Some(s) = self.seen.get_mut(&p) {
                        s.done = false;
                    }
                }
            }
            Err(e) => {
                let running = self
                    .campaigns
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .contains_key(&id);
                if running {
                    tracing::error!(campaign = %id, "{e}; keeping the last good version");
                } else {
                    tracing::error!(campaign = %id, "{e}; the campaign is not loaded until this is fixed");
                }
            }
        }
    }
}

fn stat(path: &Path) -> Option<Seen> {
    let m = std::fs::metadata(path).ok()?;
    Some(Seen {
        size: m.len(),
        modified: m.modified().ok(),
        since: Instant::now(),
        done: false,
    })
}
