//! The `pregonero` command: parses the CLI and hands off to the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use chrono::Utc;
use pregonero::app::{self, Application};
use pregonero::campaign::{self, phone};
use pregonero::clock::{Clock, SystemClock};
use pregonero::config::Config;
use pregonero::i18n::{Lang, Msg, UserError};
use pregonero::simulator::{self, Script, SimulatorConfig};
use pregonero::{commands, desk, report};

/// The daemon makes many small allocations per request on two or more threads; glibc's malloc
/// spent a fifth of the control URL's CPU in them, part of it waiting on its arena locks
/// (`docs/benchmarks.md`). mimalloc's per-thread heaps take no lock on that path. Built without
/// transparent huge pages (`no_thp`): with them its eagerly committed arena was faulted in 2 MiB
/// at a time (idle RSS 19 → 32 MB).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "pregonero",
    version,
    about = "Outbound campaign dialer for netelip API Voice"
)]
pub(crate) struct Cli {
    /// Configuration file (TOML). Without it every key has its default.
    #[arg(long, global = true, env = "PREGONERO_CONFIG")]
    config: Option<PathBuf>,
    /// How log lines are written: `text` for people, `json` (one object per line, with the
    /// request or task span) for journald and log shippers.
    #[arg(
        long,
        global = true,
        env = "PREGONERO_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    log_format: pregonero::telemetry::LogFormat,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the daemon: webhooks, campaigns, dialer.
    Run {
        /// Exit once no call is in progress and nothing is due within the next hour (demos,
        /// tests); retries scheduled later stay pending for the next run.
        #[arg(long)]
        exit_when_idle: bool,
    },
    /// Validate the config, every campaign folder and CSV without dialing; print the webhook URLs.
    Check,
    /// Import a CSV file into a campaign, as dropping it in the folder would.
    Import { campaign: String, file: PathBuf },
    /// One line per campaign: kind, state, progress.
    Campaigns,
    /// Why this contact was or was not called, and when it will be.
    Explain { campaign: String, phone: String },
    /// The holiday calendar in force: date, name and scope of each day.
    Holidays {
        /// The year (default: this year).
        #[arg(long)]
        year: Option<i32>,
        /// A region (ISO 3166-2:ES code such as CT, or a name) or province (name or postal
        /// number); without it, the days of callees with no region.
        #[arg(long)]
        region: Option<String>,
        /// Use this campaign's settings instead of [calling]'s.
        #[arg(long)]
        campaign: Option<String>,
    },
    /// The do-not-call list.
    Dnc {
        #[command(subcommand)]
        action: DncCmd,
    },
    /// The agents of the desk (`agent = "desk:TEAM"` transfers).
    Agent {
        #[command(subcommand)]
        action: AgentCmd,
    },
    /// Calls to return: inbound calls of known contacts that nobody took.
    Callbacks {
        /// Only this campaign's.
        #[arg(long)]
        campaign: Option<String>,
        #[arg(long, value_enum, default_value_t = pregonero::callbacks::ListFormat::Table)]
        format: pregonero::callbacks::ListFormat,
        /// Only the tasks not done yet.
        #[arg(long)]
        open: bool,
    },
    /// Stop launching for a campaign (persisted).
    Pause { campaign: String },
    /// Restart launching for a campaign.
    Resume { campaign: String },
    /// Campaign results: summary, per contact, one contact's timeline, compliance.
    Report {
        campaign: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// CSV flavour: excel (`;`, decimal comma, UTF-8 BOM: a Spanish Excel) or standard.
        #[arg(long, value_enum, default_value_t = report::csv::CsvStyle::Excel)]
        csv_style: report::csv::CsvStyle,
        /// One row per contact.
        #[arg(long)]
        contacts: bool,
        /// Everything that happened to one contact (its phone number).
        #[arg(long, value_name = "PHONE", conflicts_with_all = ["contacts", "compliance"])]
        contact: Option<String>,
        /// The compliance report (calling windows, abandon rate, do-not-call, opt-outs).
        #[arg(long, conflicts_with = "contacts")]
        compliance: bool,
        /// One row per desk agent: calls, missed, talk, wrap-up and idle time, dispositions.
        #[arg(long, conflicts_with_all = ["contacts", "contact", "compliance"])]
        agents: bool,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// A standalone API Voice simulator.
    Simulate(Box<SimArgs>),
    /// A round-robin HTTP proxy on loopback, to try several daemons on one machine (production
    /// puts nginx or a load balancer in front of the daemons; see docs/deploy.md).
    Proxy {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// A daemon's address (repeat for each daemon).
        #[arg(long = "backend", required = true)]
        backends: Vec<std::net::SocketAddr>,
    },
    /// Check this machine before the first real campaign: config, database, secret files, TLS
    /// expiry, webhook URLs reached on public_url, the provider's URL; print what to paste in
    /// netelip's panel.
    Doctor,
    /// Place one call to your own phone (say a sentence, take a key, say it back), print every
    /// raw request and reply, and a verdict on each protocol assumption it could observe.
    TestCall {
        /// Your phone number.
        phone: String,
        /// Take the caller id and voice from this campaign (required with the real provider).
        #[arg(long)]
        campaign: Option<String>,
        /// Seconds to wait for the call to end.
        #[arg(long, default_value_t = 180)]
        call_timeout: u64,
        /// Seconds to wait for the call report after the call (netelip sends one about every
        /// ten minutes).
        #[arg(long, default_value_t = 900)]
        report_wait: u64,
    },
}

#[derive(clap::Args)]
struct SimArgs {
    /// Address for the launch endpoint (POST /v1/voice).
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: std::net::SocketAddr,
    /// The dialer's control URL.
    #[arg(long, required_unless_present = "inbound_url")]
    control_url: Option<String>,
    /// Place one inbound call on this URL instead (the dialer's `/apivoice/inbound/<secret>`),
    /// as netelip puts a caller through; print every request and reply, then exit.
    #[arg(long, requires_all = ["call_from", "to"])]
    inbound_url: Option<String>,
    /// The inbound call's caller (`612345678`, `+34612345678` or `anonymous`).
    #[arg(long, requires = "inbound_url")]
    call_from: Option<String>,
    /// The number the inbound call dials (a campaign's caller_id).
    #[arg(long, requires = "inbound_url")]
    to: Option<String>,
    /// What the caller presses at each successive menu, e.g. `9` or `t,9` (t: nothing).
    #[arg(long, default_value = "", requires = "inbound_url")]
    keys: String,
    /// The agent rung during the inbound call does not answer.
    #[arg(long, requires = "inbound_url")]
    agent_no_answer: bool,
    /// The dialer's call-report URL.
    #[arg(long)]
    report_url: Option<String>,
    /// Time compression (1 = real time).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Expected API instance name.
    #[arg(long, default_value = "API sim")]
    api: String,
    /// Expected token (any non-empty token when unset).
    #[arg(long, env = "PREGONERO_SIMULATOR_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// TOML file with scripted outcomes per number.
    #[arg(long)]
    script: Option<PathBuf>,
    /// Simulated seconds between report batches.
    #[arg(long, default_value_t = 600.0)]
    report_interval: f64,
    /// Send urlencoded instead of multipart bodies.
    #[arg(long)]
    urlencoded: bool,
    /// Append every accepted launch and acknowledged key press to this file (JSON lines).
    #[arg(long)]
    journal: Option<PathBuf>,
    /// Share of launches the faults below hit (0 to 1).
    #[arg(long, default_value_t = 1.0)]
    fault_rate: f64,
    /// Fault: reply with this bare HTTP status (e.g. 502).
    #[arg(long)]
    fault_http_status: Option<u16>,
    /// Fault: reply HTTP 200 with this API code (e.g. 503).
    #[arg(long)]
    fault_code: Option<String>,
    /// Fault: real milliseconds added before the reply.
    #[arg(long, default_value_t = 0)]
    fault_latency_ms: u64,
    /// Fault: place the call but never send its reply.
    #[arg(long)]
    fault_lost_reply: bool,
}

#[derive(Subcommand)]
enum AgentCmd {
    /// Add an agent: their PBX extension, and the team that `desk:TEAM` names.
    Add {
        name: String,
        #[arg(long)]
        extension: String,
        #[arg(long)]
        team: Option<String>,
    },
    /// List the agents, their state and the time in it.
    List,
    /// Remove an agent (their past calls stay in the reports).
    Remove { name: String },
    /// Set an agent's desk password, read from standard input (never from the command line).
    Password { name: String },
}

#[derive(Subcommand)]
enum DncCmd {
    /// Add a number (for good, or until a date, or during some hours).
    Add {
        phone: String,
        /// Blocked through this date (YYYY-MM-DD).
        #[arg(long)]
        until: Option<String>,
        /// Blocked only during these hours, e.g. "mon-fri 09:00-14:00" (several joined by |).
        #[arg(long)]
        hours: Option<String>,
    },
    /// Remove a number.
    Remove { phone: String },
    /// List the numbers.
    List,
    /// Add every number of a CSV file (columns: number, optional until, optional hours).
    Import {
        file: PathBuf,
        /// The file is a hashed exclusion list: SHA-256 hex digests of E.164 numbers, one a
        /// line; matched without storing the plain numbers.
        #[arg(long)]
        hashed: bool,
    },
}

use report::cli::Format;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Commands that only read (and the check) keep start-up housekeeping out of their output:
    // their log shows warnings and errors (sqlx's only errors: a slow statement is not the
    // reader's business) unless RUST_LOG asks for more.
    let quiet = matches!(
        cli.command,
        Cmd::Check
            | Cmd::Campaigns
            | Cmd::Explain { .. }
            | Cmd::Report { .. }
            | Cmd::Callbacks { .. }
    );
    pregonero::telemetry::init(
        cli.log_format,
        if quiet {
            "warn,sqlx=error"
        } else {
            "info,sqlx=warn"
        },
    );
    // Errors are said in the configured language; Spanish (or the file's `[ui] language`, if it
    // can be read at all) when the configuration itself could not be loaded.
    let mut lang = Config::language_hint(cli.config.as_deref());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let e = anyhow::Error::new(UserError::new(Msg::new("cli.no_runtime")).because(e));
            eprintln!("{}", commands::error_line_in(&e, lang));
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(dispatch(cli, &mut lang)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", commands::error_line_in(&e, lang));
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli, lang: &mut Lang) -> anyhow::Result<ExitCode> {
    if let Cmd::Simulate(args) = cli.command {
        return simulate(*args).await;
    }
    if let Cmd::Proxy { listen, backends } = cli.command {
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            UserError::new(Msg::new("cli.cannot_listen").arg("address", listen)).because(e)
        })?;
        eprintln!(
            "{}",
            lang.fill(
                "cli.proxy",
                &[("address", &listen), ("backends", &backends.len())]
            )
        );
        let stop = shutdown_signal();
        pregonero::proxy::serve(listener, backends, async move { stop.cancelled().await }).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let config = Config::load(cli.config.as_deref()).map_err(UserError::from)?;
    *lang = config.ui.language;
    match cli.command {
        Cmd::Run { exit_when_idle } => run(config, exit_when_idle).await,
        Cmd::Check => check(&config),
        Cmd::Doctor => {
            let summary =
                pregonero::doctor::run(&config, cli.config.as_deref(), &mut std::io::stdout())
                    .await?;
            Ok(if summary.failures > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Cmd::TestCall {
            phone,
            campaign,
            call_timeout,
            report_wait,
        } => {
            let opts = pregonero::testcall::TestCallOptions {
                phone,
                campaign,
                call_timeout: std::time::Duration::from_secs(call_timeout),
                report_wait: std::time::Duration::from_secs(report_wait),
            };
            let verdicts = pregonero::testcall::run(&config, &opts, &mut std::io::stdout()).await?;
            let differs = verdicts
                .iter()
                .any(|v| v.result != pregonero::testcall::Seen::Holds);
            Ok(if differs {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Cmd::Import { campaign, file } => import(&config, &campaign, &file).await,
        Cmd::Campaigns => print(commands::campaigns(&config, Utc::now()).await),
        Cmd::Explain { campaign, phone } => {
            print(commands::explain(&config, &campaign, &phone, Utc::now()).await)
        }
        Cmd::Holidays {
            year,
            region,
            campaign,
        } => print(commands::holidays(
            &config,
            year,
            region.as_deref(),
            campaign.as_deref(),
            Utc::now(),
        )),
        Cmd::Dnc { action } => print(match action {
            DncCmd::Add {
                phone,
                until,
                hours,
            } => {
                commands::dnc_add(
                    &config,
                    &phone,
                    until.as_deref(),
                    hours.as_deref(),
                    Utc::now(),
                )
                .await
            }
            DncCmd::Remove { phone } => commands::dnc_remove(&config, &phone).await,
            DncCmd::List => commands::dnc_list(&config).await,
            DncCmd::Import {
                file,
                hashed: false,
            } => commands::dnc_import(&config, &file, Utc::now()).await,
            DncCmd::Import { file, hashed: true } => {
                commands::dnc_import_hashed(&config, &file, Utc::now()).await
            }
        }),
        Cmd::Agent { action } => print(match action {
            AgentCmd::Add {
                name,
                extension,
                team,
            } => {
                desk::cli::add(
                    &config,
                    &name,
                    &extension,
                    team.as_deref(),
                    SystemClock.now_ms(),
                )
                .await
            }
            AgentCmd::List => desk::cli::list(&config, SystemClock.now_ms()).await,
            AgentCmd::Remove { name } => desk::cli::remove(&config, &name).await,
            AgentCmd::Password { name } => desk::cli::set_password(&config, &name).await,
        }),
        Cmd::Callbacks {
            campaign,
            format,
            open,
        } => print(pregonero::callbacks::command(&config, campaign.as_deref(), open, format).await),
        Cmd::Pause { campaign } => set_paused(&config, &campaign, true).await,
        Cmd::Resume { campaign } => set_paused(&config, &campaign, false).await,
        Cmd::Report {
            campaign,
            format,
            csv_style,
            contacts,
            contact,
            compliance,
            agents,
            output,
        } => {
            let args = report::cli::ReportArgs {
                campaign,
                format,
                csv_style,
                contacts,
                contact,
                compliance,
                agents,
            };
            report_cmd(&config, &args, output).await
        }
        Cmd::Simulate(_) | Cmd::Proxy { .. } => Ok(ExitCode::SUCCESS),
    }
}

/// Fires on SIGTERM or SIGINT.
fn shutdown_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown signal received");
        t.cancel();
    });
    token
}

async fn run(config: Config, exit_when_idle: bool) -> anyhow::Result<ExitCode> {
    let stop = shutdown_signal();
    // Under systemd (Type=notify): READY=1 once serving, watchdog pings, STOPPING=1.
    let notifier = pregonero::sdnotify::Notifier::from_env();
    notifier.status("starting: opening the database and importing the campaign folders");
    let app = Application::build(config, Arc::new(SystemClock))
        .await?
        .with_notifier(notifier);
    app.run_until_stopped(stop, exit_when_idle).await?;
    Ok(ExitCode::SUCCESS)
}

fn check(config: &Config) -> anyhow::Result<ExitCode> {
    let ok = pregonero::check::run(config, Utc::now(), &mut std::io::stdout().lock())?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn import(
    config: &Config,
    campaign_id: &str,
    file: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let dir = config.campaigns.dir.join(campaign_id);
    let c = campaign::Campaign::load(&dir).map_err(UserError::from)?;
    let plan = pregonero::campaign::plan::CampaignPlan::build(&c, &config.calling, Utc::now())
        .map_err(|e| {
            UserError::new(
                Msg::new("error.campaign_invalid")
                    .arg("file", dir.join("campaign.toml").display())
                    .msg("error", e),
            )
        })?;
    let store = app::open_store(config).await?;
    let now = SystemClock.now_ms();
    store
        .upsert_campaign(&c.id, c.kind.as_str(), &c.title, &c.source, now)
        .await?;
    // A progress line on a terminal, rewritten in place.
    let lang = config.ui.language;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let show = |rows: u64| {
        if tty {
            eprint!("\r{}", lang.fill("import.progress", &[("n", &rows)]));
        }
    };
    let progress: &(dyn Fn(u64) + Sync) = &show;
    let result = campaign::import::import_file(
        &store,
        &c,
        plan.tz,
        file,
        phone::region(&config.calling.default_region),
        lang,
        now,
        Some(progress),
    )
    .await;
    if tty {
        eprint!("\r\x1b[K");
    }
    store.close().await;
    let summary = result.map_err(|e| UserError::new(e.msg()))?;
    print!("{}", summary.render(lang));
    Ok(ExitCode::SUCCESS)
}

fn print(text: anyhow::Result<String>) -> anyhow::Result<ExitCode> {
    print!("{}", text?);
    Ok(ExitCode::SUCCESS)
}

async fn set_paused(config: &Config, campaign: &str, paused: bool) -> anyhow::Result<ExitCode> {
    let store = app::open_store(config).await?;
    let found = store
        .set_paused(campaign, paused, Some("operator"), SystemClock.now_ms())
        .await?;
    store.close().await;
    let lang = config.ui.language;
    if !found {
        return Err(UserError::new(Msg::new("error.no_campaign").arg("campaign", campaign)).into());
    }
    let done = if paused {
        "campaign.paused_now"
    } else {
        "campaign.resumed"
    };
    println!("{}", lang.fill(done, &[("campaign", &campaign)]));
    Ok(ExitCode::SUCCESS)
}

async fn report_cmd(
    config: &Config,
    args: &report::cli::ReportArgs,
    output: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let store = app::open_store(config).await?;
    // Written as it is rendered (`--contacts` streams); to a file through a temporary file in
    // its folder, renamed once complete, so a failure never leaves half a report behind.
    let breach = match output {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let cannot_write = || Msg::new("cli.cannot_write").arg("file", path.display());
            let tmp = tempfile::NamedTempFile::new_in(dir)
                .map_err(|e| UserError::new(cannot_write()).because(e))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 16, tmp);
            let breach = report::cli::render_to(config, &store, args, Utc::now(), &mut w).await;
            store.close().await;
            let breach = breach?;
            w.into_inner()
                .map_err(|e| e.into_error())
                .and_then(|tmp| tmp.persist(&path).map_err(|e| e.error))
                .map_err(|e| UserError::new(cannot_write()).because(e))?;
            breach
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
            let breach = report::cli::render_to(config, &store, args, Utc::now(), &mut w).await;
            store.close().await;
            let breach = breach?;
            std::io::Write::flush(&mut w)?;
            breach
        }
    };
    // A compliance breach is a finding a script must not miss: exit status 2.
    Ok(if breach {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

async fn simulate(a: SimArgs) -> anyhow::Result<ExitCode> {
    if a.speed.is_nan() || a.speed <= 0.0 {
        return Err(UserError::new(Msg::new("config.greater_than_0").arg("key", "--speed")).into());
    }
    if !(0.0..=1.0).contains(&a.fault_rate) {
        return Err(
            UserError::new(Msg::new("config.between_0_1").arg("key", "--fault-rate")).into(),
        );
    }
    if let Some(url) = &a.inbound_url {
        return simulate_inbound(&a, url).await;
    }
    let script = match &a.script {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).map_err(|e| UserError::new(Msg::read_error(p, &e)))?;
            Script::parse_toml(&text).map_err(|e| {
                UserError::new(
                    Msg::new("simulate.bad_script")
                        .arg("file", p.display())
                        .msg("error", e),
                )
            })?
        }
        None => Script::default(),
    };
    let cfg = SimulatorConfig {
        listen: a.listen,
        token: a.token,
        api: a.api,
        control_url: a.control_url.unwrap_or_default(),
        report_url: a.report_url,
        speed: a.speed,
        report_interval: std::time::Duration::from_secs_f64(a.report_interval / a.speed),
        urlencoded: a.urlencoded,
        script,
        journal: a.journal,
        faults: simulator::Faults {
            latency: std::time::Duration::from_millis(a.fault_latency_ms),
            response_code: a.fault_code,
            http_status: a.fault_http_status,
            lost_reply: a.fault_lost_reply,
            rate: a.fault_rate,
            ..simulator::Faults::default()
        },
        ..SimulatorConfig::default()
    };
    simulator::run_standalone(cfg, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// `pregonero simulate --inbound-url`: one inbound call, every exchange printed; fails when the
/// daemon refused a request.
async fn simulate_inbound(a: &SimArgs, url: &str) -> anyhow::Result<ExitCode> {
    let keys = simulator::parse_keys(&a.keys).map_err(UserError::new)?;
    let cfg = SimulatorConfig {
        api: a.api.clone(),
        speed: a.speed,
        urlencoded: a.urlencoded,
        ..SimulatorConfig::default()
    };
    let stop = CancellationToken::new();
    let sim = simulator::Simulator::start(cfg, stop.clone()).await?;
    let call = simulator::InboundCall {
        url: url.to_string(),
        from: a.call_from.clone().unwrap_or_default(),
        to: a.to.clone().unwrap_or_default(),
        keys,
        transfer_ok: !a.agent_no_answer,
    };
    let interrupted = shutdown_signal();
    let exchanges = tokio::select! {
        x = sim.call_in(&call) => x,
        _ = interrupted.cancelled() => Vec::new(),
    };
    stop.cancel();
    print!("{}", simulator::describe_exchanges(&exchanges));
    let refused = exchanges.iter().any(|x| x.reply.is_err());
    Ok(if refused || exchanges.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
