//! Start-up and shutdown of the daemon: wires the store, campaigns, webhook server, provider
//! (the real API Voice or the in-process simulator) and dialer, and stops them in order.
//!
//! `Application::build` checks the TLS files, connects the store and binds the listener (port 0
//! in tests), so the URLs are known before anything runs. Under systemd (`Type=notify`) it says
//! `READY=1` once everything serves, pings the watchdog while the store answers and no main task
//! is stuck or gone (`crate::liveness`), and says `STOPPING=1` when the drain begins.
//! Shutdown: stop launching, let launch requests finish, let calls in progress end (bounded by
//! `server.drain_seconds`), then close the server.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::calls::{Campaigns, InFlight};
use crate::campaign::{self, phone};
use crate::clock::SharedClock;
use crate::config::{Config, ProviderKind};
use crate::dialer::{Dialer, DialerSettings};
use crate::liveness::Liveness;
use crate::provider::ApiVoiceClient;
use crate::sdnotify::{self, Notifier};
use crate::simulator::{Script, SimHandle, Simulator, SimulatorConfig};
use crate::store::Store;
use crate::telemetry::task_span;
use crate::webhook::{self, WebhookState};

/// `--exit-when-idle` exits when nothing is due within this (simulated) time.
const IDLE_HORIZON: Duration = Duration::from_secs(3600);

pub use crate::calls::load_campaigns;

/// Opens the store named by `database.url`; when it cannot, one sentence for people naming
/// the database (its password left out), with the reason after it.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    use crate::i18n::{Msg, UserError};
    let url = config.database.redacted_url();
    Store::connect(&config.database.url)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::UnknownScheme => {
                UserError::new(Msg::new("error.database_scheme").arg("url", url))
            }
            e => UserError::new(Msg::new("error.database").arg("url", url)).because(e),
        })
        .map_err(anyhow::Error::new)
}

/// A random secret for webhook URLs when none is configured (simulator only).
fn random_secret() -> SecretString {
    let bytes: [u8; 16] = rand::random();
    SecretString::from(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Replaces the secret path segment of a URL for logs.
pub fn mask_url(url: &str, secret: &SecretString) -> String {
    url.replace(secret.expose_secret(), "<secret>")
}

/// A daemon ready to run.
pub struct Application {
    config: Config,
    store: Store,
    campaigns: Campaigns,
    listener: Option<tokio::net::TcpListener>,
    addr: SocketAddr,
    /// `[server] tls_cert` / `tls_key`, loaded: the listener speaks HTTPS.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// With TLS and the built-in simulator: a plain loopback listener for the simulator's own
    /// control requests and reports (it runs in this process and does not trust certificates).
    sim_listener: Option<tokio::net::TcpListener>,
    sim_addr: Option<SocketAddr>,
    secret: SecretString,
    clock: SharedClock,
    notifier: Arc<Notifier>,
    /// One daemon per SQLite file: the lock is held for the application's life.
    _daemon_lock: Option<std::fs::File>,
}

/// What the daemon's parts share while it runs.
struct Shared {
    in_flight: Arc<InFlight>,
    duties: Arc<crate::cluster::Duties>,
    metrics: Arc<crate::metrics::Metrics>,
    desk: Arc<crate::desk::hub::Desk>,
    simulated: bool,
    /// The simulator's speed; 1 for real calls.
    time_scale: f64,
}

/// The HTTP servers' tasks.
struct Servers {
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    sim_server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    live_updates: Option<tokio::task::JoinHandle<()>>,
}

/// What a running daemon stops when it shuts down, each task with its own stop.
struct Running {
    servers: Servers,
    server_stop: CancellationToken,
    sim: Option<SimHandle>,
    sim_stop: CancellationToken,
    watch_task: tokio::task::JoinHandle<()>,
    watch_stop: CancellationToken,
    duty_keeper: tokio::task::JoinHandle<()>,
    dial_loop: tokio::task::JoinHandle<()>,
    dial_stop: CancellationToken,
    tasks: TaskTracker,
    notify_tasks: TaskTracker,
    notify_stop: CancellationToken,
    watchdog: Option<tokio::task::JoinHandle<()>>,
    watchdog_stop: CancellationToken,
}

impl Application {
    /// Connects the store (applying migrations), loads and imports the campaign folders and binds
    /// the webhook listener.
    pub async fn build(config: Config, clock: SharedClock) -> anyhow::Result<Application> {
        let listener = tokio::net::TcpListener::bind(&config.server.listen)
            .await
            .with_context(|| {
                format!("cannot listen on server.listen = {}", config.server.listen)
            })?;
        Self::build_on(config, clock, listener).await
    }

    /// As [`Application::build`], serving on a listener already bound (its address is known
    /// before the application is built, e.g. to point a simulator at it).
    pub async fn build_on(
        config: Config,
        clock: SharedClock,
        listener: tokio::net::TcpListener,
    ) -> anyhow::Result<Application> {
        // First, so that a broken certificate stops the start before any work is done.
        let tls = crate::tls::server_config(
            config.server.tls_cert.as_deref(),
            config.server.tls_key.as_deref(),
        )
        .map_err(crate::i18n::UserError::from)?;
        let store = open_store(&config).await?;
        let daemon_lock = store.lock_for_daemon()?;
        let region = phone::region(&config.calling.default_region);
        let (loaded, errors) = load_campaigns(&config, clock.now());
        for e in &errors {
            tracing::error!("{}", crate::i18n::Lang::En.render(e));
        }
        let blacklist = config.campaigns.dir.join("blacklist.csv");
        if blacklist.is_file() {
            match campaign::dnc::import(&store, &blacklist, region, clock.now_ms()).await {
                Ok((n, rejects)) => {
                    tracing::info!(
                        "{}: {n} number(s) on the do-not-call list",
                        blacklist.display()
                    );
                    for r in rejects {
                        let error = crate::i18n::Lang::En.render(&r.error);
                        tracing::warn!("{} line {}: {error}", blacklist.display(), r.line);
                    }
                }
                Err(e) => tracing::error!("{}", crate::i18n::Lang::En.render(&e)),
            }
        }
        let mut map = HashMap::new();
        for c in loaded {
            match campaign::import::sync_campaign(
                &store,
                &c,
                c.plan.tz,
                region,
                config.ui.language,
                clock.now_ms(),
            )
            .await
            {
                Ok(summaries) => {
                    for s in summaries {
                        tracing::info!(campaign = %c.id, "{s}");
                    }
                }
                Err(e) => tracing::error!(campaign = %c.id, "{e}"),
            }
            // The campaign row exists now (`sync_campaign` stored it).
            if let Err(e) = store
                .set_notify_target(&c.id, c.notify_url(), clock.now_ms())
                .await
            {
                tracing::error!(campaign = %c.id, "cannot store the campaign's notify_url: {e}");
            }
            let events = c
                .events
                .as_ref()
                .map(|e| (e.url.as_str(), e.types.as_slice()));
            if let Err(e) = store.set_event_target(&c.id, events, clock.now_ms()).await {
                tracing::error!(campaign = %c.id, "cannot store the campaign's events URL: {e}");
            }
            map.insert(c.id.clone(), Arc::new(c));
        }
        let addr = listener.local_addr()?;
        let sim_listener = if tls.is_some() && config.provider.kind == ProviderKind::Simulator {
            Some(
                tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|e| {
                        crate::i18n::UserError::new(crate::i18n::Msg::new("runtime.sim_listen"))
                            .because(e)
                    })?,
            )
        } else {
            None
        };
        let sim_addr = sim_listener.as_ref().map(|l| l.local_addr()).transpose()?;
        let secret = config.server.secret.clone().unwrap_or_else(random_secret);
        Ok(Application {
            config,
            store,
            campaigns: Arc::new(std::sync::RwLock::new(map)),
            listener: Some(listener),
            addr,
            tls,
            sim_listener,
            sim_addr,
            secret,
            clock,
            notifier: Arc::new(Notifier::disabled()),
            _daemon_lock: daemon_lock,
        })
    }

    /// Reports readiness, stopping and watchdog pings to systemd through `notifier`
    /// (`Notifier::from_env()` in the daemon; nothing is sent by default).
    pub fn with_notifier(mut self, notifier: Notifier) -> Application {
        self.notifier = Arc::new(notifier);
        self
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The control and report URLs the provider must call.
    pub fn webhook_urls(&self) -> (String, String) {
        self.config
            .webhook_urls(&self.addr.to_string(), &self.secret)
    }

    /// The inbound control URL (callees calling back).
    pub fn inbound_url(&self) -> String {
        self.config
            .inbound_url(&self.addr.to_string(), &self.secret)
    }

    /// Runs until `stop` fires (or, with `exit_when_idle`, until no contact is due or in
    /// progress), then shuts down in order: the HTTP side and the desk first, then the
    /// provider (or the simulator), the dialer, the folder watcher and the outbox; systemd is
    /// told it is ready; [`Application::shut_down`] stops them the other way round.
    pub async fn run_until_stopped(
        mut self,
        stop: CancellationToken,
        exit_when_idle: bool,
    ) -> anyhow::Result<()> {
        let shared = self.shared();
        let live = Liveness::new();
        let server_stop = CancellationToken::new();
        let servers = self.serve(&shared, &live, &server_stop).await?;
        self.start_desk_tasks(&shared, &server_stop);
        let sim_stop = CancellationToken::new();
        let (provider, sim) = self.provider(shared.simulated, &sim_stop).await?;
        let dialer = self.dialer(&shared, provider);
        let watch_stop = CancellationToken::new();
        let mut watcher = crate::watch::FolderWatcher::new(
            self.config.clone(),
            self.store.clone(),
            self.campaigns.clone(),
            self.clock.clone(),
        )
        .with_duties(shared.duties.clone());
        watcher.assume_current();
        let watch_task =
            tokio::spawn(live.watch("folder watcher", watcher.run(watch_stop.clone())));
        // Duties asked for on a clock of their own; stops with the watcher (the jobs still
        // running in the drain renew what they hold themselves).
        let duty_keeper = tokio::spawn(
            shared
                .duties
                .clone()
                .keep(watch_stop.clone())
                .instrument(task_span("duties")),
        );
        let dial_stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let dial_loop = tokio::spawn(live.watch(
            "dialer",
            dialer.clone().run(dial_stop.clone(), tasks.clone()),
        ));
        let notify_stop = CancellationToken::new();
        let notify_tasks = self.start_outbox(&shared, &live, &notify_stop)?;

        let ready = format!(
            "serving on {}://{} ({} database, {} campaign(s))",
            self.scheme(),
            self.addr,
            self.store.backend_name(),
            self.campaigns
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .len()
        );
        self.notifier.ready(&ready);
        let watchdog_stop = CancellationToken::new();
        let watchdog = self.start_watchdog(&live, ready, &watchdog_stop);

        let outcome = live
            .watch(
                "main",
                self.until_done(&stop, exit_when_idle, &shared, &dialer, sim.as_ref()),
            )
            .await;

        let running = Running {
            servers,
            server_stop,
            sim,
            sim_stop,
            watch_task,
            watch_stop,
            duty_keeper,
            dial_loop,
            dial_stop,
            tasks,
            notify_tasks,
            notify_stop,
            watchdog,
            watchdog_stop,
        };
        self.shut_down(running, &shared).await;
        outcome
    }

    /// What the daemon's parts share while it runs.
    fn shared(&self) -> Shared {
        let simulated = self.config.provider.kind == ProviderKind::Simulator;
        let time_scale = if simulated {
            self.config.simulator.speed
        } else {
            1.0
        };
        Shared {
            in_flight: Arc::new(InFlight::default()),
            duties: Arc::new(crate::cluster::Duties::new(
                self.store.clone(),
                self.config.server.node(),
            )),
            metrics: Arc::new(crate::metrics::Metrics::default()),
            desk: Arc::new(crate::desk::hub::Desk::new(
                self.store.clone(),
                self.clock.clone(),
                time_scale,
                self.tls.is_some(),
            )),
            simulated,
            time_scale,
        }
    }

    /// The call service and the webhook's own settings.
    fn webhook_state(&self, shared: &Shared) -> anyhow::Result<WebhookState> {
        let service = crate::service::CallService {
            store: self.store.clone(),
            campaigns: self.campaigns.clone(),
            in_flight: shared.in_flight.clone(),
            clock: self.clock.clone(),
            time_scale: shared.time_scale,
            metrics: shared.metrics.clone(),
            api: self.config.provider.api.clone(),
            desk: shared.desk.clone(),
            inbound: self.config.inbound.clone(),
            default_region: crate::campaign::phone::region(&self.config.calling.default_region),
            // The simulator takes any key: a demo hears its scripted transcripts without one.
            google_key: match self.config.google_key()? {
                Some(k) => Some(k),
                None if shared.simulated => Some(crate::capture::SIMULATOR_KEY.into()),
                None => None,
            },
            adapter: crate::flow::Adapter::from_config(&self.config.provider),
        };
        Ok(WebhookState {
            service,
            secret: self.secret.clone(),
            policy: crate::guard::SourcePolicy::from_config(&self.config)?,
            control_timeout: Duration::from_secs_f64(self.config.server.request_timeout_seconds),
            report_timeout: Duration::from_secs_f64(self.config.server.report_timeout_seconds),
            duties: shared.duties.clone(),
        })
    }

    /// The dashboard's routes (a login page only when it has a password).
    fn dashboard(&self, shared: &Shared) -> anyhow::Result<axum::Router> {
        let password = self.config.dashboard_password()?;
        if password.is_some() {
            tracing::info!(
                "dashboard on {}://{}/ (user {})",
                self.scheme(),
                self.addr,
                crate::dashboard::USER
            );
        }
        Ok(crate::dashboard::router(crate::dashboard::DashboardState {
            store: self.store.clone(),
            campaigns: self.campaigns.clone(),
            clock: self.clock.clone(),
            password,
            default_tz: self
                .config
                .calling
                .timezone
                .parse()
                .unwrap_or(chrono_tz::Europe::Madrid),
            lang: self.config.ui.language,
            sources: crate::guard::SourcePolicy::from_config(&self.config)?,
            throttle: Default::default(),
            agent_changes: shared.desk.bus.changes.clone(),
        }))
    }

    /// Serves every route (webhooks, dashboard, desk) on the listener, over TLS when
    /// configured, and on the simulator's plain loopback listener when there is one.
    async fn serve(
        &mut self,
        shared: &Shared,
        live: &Liveness,
        server_stop: &CancellationToken,
    ) -> anyhow::Result<Servers> {
        let state = self.webhook_state(shared)?;
        let dashboard = self.dashboard(shared)?;
        // Desk and dashboard live updates from every daemon on the database (PostgreSQL),
        // listened to before the first request is served.
        let live_updates = shared.desk.bus.listen(server_stop.clone()).await;
        let desk_routes = crate::desk::web::router(crate::desk::web::DeskState {
            desk: shared.desk.clone(),
            campaigns: self.campaigns.clone(),
        });
        let app = webhook::router(state)
            .merge(dashboard)
            .merge(desk_routes)
            .layer(axum::middleware::from_fn(crate::telemetry::request_span));
        let listener = self
            .listener
            .take()
            .context("the application was already started")?;
        // The peer's address reaches the handlers (for `server.allow_from`).
        let make = || {
            app.clone()
                .into_make_service_with_connect_info::<crate::guard::PeerAddr>()
        };
        let shutdown = |stop: CancellationToken| async move { stop.cancelled().await };
        let server = match &self.tls {
            Some(tls) => {
                let listener = crate::tls::TlsListener::new(
                    listener,
                    tls.clone(),
                    crate::tls::HANDSHAKE_TIMEOUT,
                );
                tokio::spawn(
                    live.watch(
                        "HTTPS server",
                        axum::serve(listener, make())
                            .with_graceful_shutdown(shutdown(server_stop.clone()))
                            .into_future(),
                    ),
                )
            }
            None => tokio::spawn(
                live.watch(
                    "HTTP server",
                    axum::serve(listener, make())
                        .with_graceful_shutdown(shutdown(server_stop.clone()))
                        .into_future(),
                ),
            ),
        };
        let sim_server = self.sim_listener.take().map(|listener| {
            tokio::spawn(
                live.watch(
                    "simulator-facing HTTP server",
                    axum::serve(listener, make())
                        .with_graceful_shutdown(shutdown(server_stop.clone()))
                        .into_future(),
                ),
            )
        });
        let (control_url, report_url) = self
            .config
            .webhook_urls(&self.addr.to_string(), &self.secret);
        tracing::info!(
            listen = %self.addr,
            database = self.store.backend_name(),
            "webhooks ready: control URL {}, report URL {} (`pregonero check` prints them in full)",
            mask_url(&control_url, &self.secret),
            mask_url(&report_url, &self.secret),
        );
        Ok(Servers {
            server,
            sim_server,
            live_updates,
        })
    }

    /// Agents' states kept true to the calls and the desk pages (restart included); with the
    /// simulator, simulated agents kept ready for the desk teams of the campaigns.
    fn start_desk_tasks(&self, shared: &Shared, server_stop: &CancellationToken) {
        tokio::spawn(
            crate::desk::web::settle_loop(shared.desk.clone(), server_stop.clone())
                .instrument(task_span("desk settle")),
        );
        if !shared.simulated {
            return;
        }
        let teams: Vec<String> = self
            .campaigns
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter_map(|c| crate::desk::routing::desk_target(c).map(|(t, _)| t.to_string()))
            .collect();
        tokio::spawn(
            crate::desk::sim::keep_agents_ready(
                shared.desk.clone(),
                self.config.simulator.desk.clone(),
                teams,
                server_stop.clone(),
            )
            .instrument(task_span("simulated agents")),
        );
    }

    /// The client that launches calls: the built-in simulator's (started here) or the real
    /// API Voice's.
    async fn provider(
        &self,
        simulated: bool,
        sim_stop: &CancellationToken,
    ) -> anyhow::Result<(ApiVoiceClient, Option<SimHandle>)> {
        if simulated {
            let (sim, client) = self.start_simulator(sim_stop).await?;
            return Ok((client, Some(sim)));
        }
        let token = self.config.provider_token()?.ok_or_else(|| {
            crate::i18n::UserError::new(crate::i18n::Msg::new("runtime.no_token"))
        })?;
        let client = ApiVoiceClient::new(
            &self.config.provider.url,
            &self.config.provider.api,
            token,
            self.config.provider_timeout(),
        )?
        .with_caller_id_format(self.config.provider.caller_id_format);
        tracing::info!(url = %self.config.provider.url, api = %self.config.provider.api, "placing real calls through API Voice");
        Ok((client, None))
    }

    /// The dialer, with its limits from `[limits]` and `[provider]`.
    fn dialer(&self, shared: &Shared, provider: ApiVoiceClient) -> Arc<Dialer> {
        let time_scale = shared.time_scale;
        let dialer = Dialer::new(
            self.store.clone(),
            provider,
            self.campaigns.clone(),
            self.clock.clone(),
            DialerSettings {
                calls_per_second: self.config.limits.calls_per_second,
                max_concurrent_calls: self.config.limits.max_concurrent_calls,
                time_scale,
                unknown_grace: Duration::from_secs(self.config.provider.unknown_grace_seconds),
                stale_call: Duration::from_secs(self.config.provider.stale_call_seconds),
                end_grace: Duration::from_secs(self.config.provider.end_grace_seconds),
                real_provider: !shared.simulated,
                breaker: crate::breaker::BreakerSettings::from_config(&self.config, time_scale),
            },
            shared.in_flight.clone(),
            shared.metrics.clone(),
        );
        dialer.set_duties(shared.duties.clone());
        dialer
    }

    /// Outcome notifications and the callback tasks of inbound calls whose end request never
    /// came. They run until the calls in progress have ended (their outcomes are the last rows
    /// of the outbox), then stop after the delivery under way.
    fn start_outbox(
        &self,
        shared: &Shared,
        live: &Liveness,
        notify_stop: &CancellationToken,
    ) -> anyhow::Result<TaskTracker> {
        let notify_tasks = TaskTracker::new();
        let outbox = crate::notify::Outbox::new(
            self.store.clone(),
            self.clock.clone(),
            &self.config.notify,
            shared.time_scale,
        )?
        .with_secret(self.config.events_secret()?)
        .with_duties(shared.duties.clone());
        // The outbox delivers on a thread of its own, at a lower priority: a backlog of
        // thousands of events never queues ahead of a control request, whose caller is waiting.
        let delivered = spawn_lowered(
            "pregonero-outbox",
            live.watch("notification outbox", outbox.run(notify_stop.clone())),
        )?;
        notify_tasks.spawn(async move {
            let _ = delivered.await;
        });
        let callbacks = crate::callbacks::Ctx {
            store: self.store.clone(),
            campaigns: self.campaigns.clone(),
            call_back: self.config.inbound.call_back,
            time_scale: shared.time_scale,
        };
        notify_tasks.spawn(
            callbacks
                .run(
                    self.clock.clone(),
                    shared.duties.clone(),
                    Duration::from_secs(self.config.provider.stale_call_seconds),
                    notify_stop.clone(),
                )
                .instrument(task_span("callbacks")),
        );
        notify_tasks.close();
        Ok(notify_tasks)
    }

    /// The systemd watchdog's pings, while the store answers and no main task is stuck or
    /// gone; `None` without a watchdog.
    fn start_watchdog(
        &self,
        live: &Liveness,
        ready: String,
        stop: &CancellationToken,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let interval = self.notifier.watchdog_interval()?;
        let notifier = self.notifier.clone();
        let stop = stop.clone();
        let store = self.store.clone();
        let live = live.clone();
        tracing::info!(
            "systemd watchdog: a ping every {} ms while healthy",
            interval.as_millis()
        );
        Some(tokio::spawn(
            async move {
                let check = move || {
                    let store = store.clone();
                    let live = live.clone();
                    async move {
                        // A single poll lasting a whole ping interval (2 s at least, for a
                        // loaded machine) is a hang, not work: polls take micro- to milliseconds.
                        live.check(interval.max(Duration::from_secs(2)))?;
                        store
                            .ping()
                            .await
                            .map_err(|e| format!("the database does not answer: {e}"))
                    }
                };
                sdnotify::run_watchdog(&notifier, interval, &ready, stop, check).await
            }
            .instrument(task_span("watchdog")),
        ))
    }

    /// Until `stop` fires, or with `exit_when_idle` until nothing is due within the idle
    /// horizon and no call is in progress (an error if the dialer halted).
    async fn until_done(
        &self,
        stop: &CancellationToken,
        exit_when_idle: bool,
        shared: &Shared,
        dialer: &Dialer,
        sim: Option<&SimHandle>,
    ) -> anyhow::Result<()> {
        loop {
            tokio::select! {
                _ = stop.cancelled() => {
                    tracing::info!("stopping: no new launches");
                    return Ok(());
                }
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            if let Some(h) = dialer.halted() {
                if exit_when_idle {
                    return Err(crate::i18n::UserError::new(h.msg()).into());
                }
            }
            // The store first, then what is in flight: a claim that took the last due contacts
            // before the store's answer is in flight (or under way) now. The simulator's
            // callers calling back (`callback_rate`) are work too.
            let sim_idle = sim.is_none_or(|s| s.calls_in_progress() == 0);
            if exit_when_idle
                && !self.work_left(shared.time_scale).await
                && shared.in_flight.is_idle()
                && sim_idle
            {
                // Idle is "nothing due within the horizon", not "every contact final": say
                // how many wait for a later retry.
                let later = self.store.unfinished_contacts().await.unwrap_or(0);
                tracing::info!(
                    "no call in progress and nothing due within the next hour: exiting ({later} contacts wait for a later try; the next run makes them)"
                );
                return Ok(());
            }
        }
    }

    /// Stops what `run_until_stopped` started, in order: no new launches, launch requests
    /// finished, calls in progress ended (both bounded by `server.drain_seconds`), the outbox
    /// after the outcomes of those calls, the duties released, the simulator's last report
    /// taken, then the servers and the store.
    async fn shut_down(self, r: Running, shared: &Shared) {
        // From here on systemd bounds the drain with TimeoutStopSec=, not the watchdog.
        self.notifier.stopping(&format!(
            "stopping: letting calls in progress end (up to {} s)",
            self.config.server.drain_seconds
        ));
        r.watchdog_stop.cancel();
        if let Some(w) = r.watchdog {
            let _ = w.await;
        }
        r.watch_stop.cancel();
        let _ = r.watch_task.await;
        let _ = r.duty_keeper.await;
        r.dial_stop.cancel();
        let _ = r.dial_loop.await;
        r.tasks.close();
        let drain = Duration::from_secs(self.config.server.drain_seconds);
        if tokio::time::timeout(drain, r.tasks.wait()).await.is_err() {
            tracing::warn!("launch requests still pending after {}s", drain.as_secs());
        }
        // Calls in progress keep talking to the webhooks until they end or the drain ends; a
        // call we hung up on is waited for too, its end request is on its way.
        let in_flight = &shared.in_flight;
        let deadline = tokio::time::Instant::now() + drain;
        while !in_flight.all_closed() && tokio::time::Instant::now() < deadline {
            in_flight.changed(Duration::from_millis(200)).await;
        }
        if !in_flight.all_closed() {
            tracing::warn!(calls = in_flight.len(), "calls still open at shutdown; they will be settled by the next call report or released after the grace period");
        }
        r.notify_stop.cancel();
        if tokio::time::timeout(drain, r.notify_tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("a notification delivery was still under way after {}s; it is retried at the next start", drain.as_secs());
        }
        // Another daemon on the database takes the once-only duties at once.
        shared.duties.release_all().await;
        if let Some(sim) = &r.sim {
            if !sim.flush_reports_within(Duration::from_secs(5)).await {
                tracing::warn!("the simulator's last call report was not taken");
            }
        }
        r.sim_stop.cancel();
        r.server_stop.cancel();
        let s = r.servers;
        match tokio::time::timeout(Duration::from_secs(5), s.server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!("webhook server: {e}"),
            Ok(Err(e)) => tracing::error!("webhook server task: {e}"),
            Err(_) => tracing::warn!("webhook server did not stop within 5s"),
        }
        if let Some(sim_server) = s.sim_server {
            let _ = tokio::time::timeout(Duration::from_secs(5), sim_server).await;
        }
        if let Some(task) = s.live_updates {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        self.store.close().await;
    }

    /// Whether any dialable, unpaused campaign has a contact due, or a notification is to be
    /// delivered, within the idle horizon (one hour, divided by the simulator's speed). Calls in
    /// progress are checked by the caller.
    async fn work_left(&self, time_scale: f64) -> bool {
        let horizon = (IDLE_HORIZON.as_millis() as f64 / time_scale.max(1e-9)) as i64;
        let limit = self.clock.now_ms() + horizon;
        // Notifications still to deliver soon count as work.
        match self.store.next_delivery_at().await {
            Ok(Some(at)) if at <= limit => return true,
            Ok(_) => {}
            Err(_) => return true,
        }
        let ids: Vec<String> = self
            .campaigns
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|c| !(c.demo && self.config.provider.kind != ProviderKind::Simulator))
            .map(|c| c.id.clone())
            .collect();
        let paused: HashMap<String, bool> = match self.store.campaigns().await {
            Ok(rows) => rows.into_iter().map(|r| (r.id, r.paused)).collect(),
            Err(_) => return true,
        };
        for id in ids {
            if paused.get(&id).copied().unwrap_or(false) {
                continue;
            }
            match self.store.next_due(&id).await {
                Ok(Some(due)) if due <= limit => return true,
                Ok(_) => {}
                Err(_) => return true,
            }
        }
        false
    }

    async fn start_simulator(
        &self,
        stop: &CancellationToken,
    ) -> anyhow::Result<(SimHandle, ApiVoiceClient)> {
        let s = &self.config.simulator;
        let script = match &s.script_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    crate::i18n::UserError::new(crate::i18n::Msg::read_error(path, &e))
                })?;
                Script::parse_toml(&text).map_err(|e| {
                    crate::i18n::UserError::new(
                        crate::i18n::Msg::new("runtime.script_file")
                            .arg("file", path.display())
                            .msg("error", e),
                    )
                })?
            }
            None => Script::default(),
        };
        // With TLS the simulator calls back on its own plain loopback listener.
        let callback = self.sim_addr.unwrap_or(self.addr);
        let base = format!("http://{callback}");
        let token = random_secret();
        let cfg = SimulatorConfig {
            token: Some(token.expose_secret().to_string()),
            api: self.config.provider.api.clone(),
            control_url: format!("{base}/apivoice/control/{}", self.secret.expose_secret()),
            report_url: Some(format!(
                "{base}/apivoice/report/{}",
                self.secret.expose_secret()
            )),
            speed: s.speed,
            report_interval: Duration::from_secs_f64(s.report_interval_seconds / s.speed),
            urlencoded: s.urlencoded,
            duplicate_reports: s.duplicate_reports,
            reorder_reports: s.reorder_reports,
            drop_end_requests: s.drop_end_requests,
            drop_reports: s.drop_reports,
            bare_requests: s.bare_requests,
            bare_queue_results: s.bare_queue_results,
            bare_speak_results: s.bare_speak_results,
            queue_options: s.queue_options,
            seed: s.seed,
            script,
            faults: crate::simulator::Faults::from_settings(&s.faults),
            desk: Some(s.desk.clone()),
            inbound_url: Some(format!(
                "{base}/apivoice/inbound/{}",
                self.secret.expose_secret()
            )),
            callback_rate: s.callback_rate,
            callback_after_secs: s.callback_after_seconds.max(0.0),
            ..SimulatorConfig::default()
        };
        let sim = Simulator::start(cfg, stop.clone()).await.map_err(|e| {
            crate::i18n::UserError::new(crate::i18n::Msg::new("runtime.sim_start")).because(e)
        })?;
        tracing::info!(url = %sim.launch_url(), speed = s.speed, "built-in API Voice simulator started (no real calls)");
        let client = ApiVoiceClient::new(
            &sim.launch_url(),
            &self.config.provider.api,
            token,
            self.config.provider_timeout(),
        )?
        .with_caller_id_format(self.config.provider.caller_id_format);
        Ok((sim, client))
    }
}

/// How much lower than the daemon's own threads a background thread runs (`nice`): what it
/// does can wait, what the webhooks do cannot.
const BACKGROUND_NICENESS: i32 = 10;

/// Runs `fut` on a thread of its own (a single-threaded runtime) at a lower CPU priority, so that
/// its work (and every task it spawns) never waits in front of the webhooks' tasks on the main
/// runtime. The returned receiver resolves when `fut` is done (or its thread ended).
fn spawn_lowered<F>(name: &str, fut: F) -> anyhow::Result<tokio::sync::oneshot::Receiver<()>>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (done, finished) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            lower_this_thread(BACKGROUND_NICENESS);
            rt.block_on(fut);
            let _ = done.send(());
        })?;
    Ok(finished)
}

/// Lowers the calling thread's scheduling priority (Linux: a thread's own `nice`); elsewhere,
/// or when refused, the thread keeps the process's priority.
fn lower_this_thread(niceness: i32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
        let refused = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, niceness) != 0
        };
        if refused {
            tracing::debug!("cannot lower the priority of a background thread");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = niceness;
}
