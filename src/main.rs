//! The `pregonero` command: parses the CLI and hands off to the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use pregonero::app::{self, Application};
use pregonero::campaign::{self, csv, phone};
use pregonero::clock::{Clock, SystemClock};
use pregonero::config::{Config, ProviderKind};
use pregonero::provider::simulator::{self, Script, SimulatorConfig};
use pregonero::report;
use pregonero::store::{Backend, Store};

#[derive(Parser)]
#[command(
    name = "pregonero",
    version,
    about = "Outbound campaign dialer for netelip API Voice"
)]
struct Cli {
    /// Configuration file (TOML). Without it every key has its default.
    #[arg(long, global = true, env = "PREGONERO_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the daemon: webhooks, campaigns, dialer.
    Run {
        /// Exit once no contact is due or in progress (demos, tests).
        #[arg(long)]
        exit_when_idle: bool,
    },
    /// Validate the config, every campaign folder and CSV without dialing; print the webhook URLs.
    Check,
    /// Import a CSV file into a campaign, as dropping it in the folder would.
    Import { campaign: String, file: PathBuf },
    /// One line per campaign: kind, state, progress.
    Campaigns,
    /// Stop launching for a campaign (persisted).
    Pause { campaign: String },
    /// Restart launching for a campaign.
    Resume { campaign: String },
    /// Campaign results.
    Report {
        campaign: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// A standalone API Voice simulator.
    Simulate {
        /// Address for the launch endpoint (POST /v1/voice).
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: std::net::SocketAddr,
        /// The dialer's control URL.
        #[arg(long)]
        control_url: String,
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
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Cmd::Simulate {
        listen,
        control_url,
        report_url,
        speed,
        api,
        token,
        script,
        report_interval,
        urlencoded,
    } = cli.command
    {
        return simulate(
            listen,
            control_url,
            report_url,
            speed,
            api,
            token,
            script,
            report_interval,
            urlencoded,
        )
        .await;
    }
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Cmd::Run { exit_when_idle } => run(config, exit_when_idle).await,
        Cmd::Check => check(&config),
        Cmd::Import { campaign, file } => import(&config, &campaign, &file).await,
        Cmd::Campaigns => campaigns(&config).await,
        Cmd::Pause { campaign } => set_paused(&config, &campaign, true).await,
        Cmd::Resume { campaign } => set_paused(&config, &campaign, false).await,
        Cmd::Report {
            campaign,
            format,
            output,
        } => report_cmd(&config, campaign.as_deref(), format, output).await,
        Cmd::Simulate { .. } => Ok(ExitCode::SUCCESS),
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
    let app = Application::build(config, Arc::new(SystemClock)).await?;
    app.run_until_stopped(stop, exit_when_idle).await?;
    Ok(ExitCode::SUCCESS)
}

fn check(config: &Config) -> anyhow::Result<ExitCode> {
    let mut errors = 0;
    let region = phone::region(&config.calling.default_region);
    if region.is_none() {
        println!(
            "error: calling.default_region \"{}\" is not a country code such as ES",
            config.calling.default_region
        );
        errors += 1;
    }
    let (loaded, bad) = app::load_campaigns(config);
    for e in &bad {
        println!("error: {e}");
        errors += 1;
    }
    for c in &loaded {
        let dialed = if !c.flow_ready() {
            " (call flow not available yet: not dialed)"
        } else if c.demo && config.provider.kind == ProviderKind::Apivoice {
            " (demo: dialed only by the simulator)"
        } else {
            ""
        };
        println!(
            "campaign {} — {}{}{}",
            c.id,
            c.kind.as_str(),
            if c.title.is_empty() {
                String::new()
            } else {
                format!(": {}", c.title)
            },
            dialed
        );
        let files = c.csv_files().unwrap_or_default();
        if files.is_empty() {
            println!("  no CSV files in {}", c.dir.display());
        }
        for f in files {
            match csv::read_file(&f, region) {
                Ok(p) => {
                    println!(
                        "  {}: {} rows, {} valid contacts, {} rejected, {} duplicates",
                        p.name,
                        p.rows_read,
                        p.contacts.len(),
                        p.rejected.len(),
                        p.duplicates.len()
                    );
                    for r in p.rejected.iter().take(10) {
                        println!("    line {}: {}", r.line, r.error);
                    }
                    if p.rejected.len() > 10 {
                        println!(
                            "    … and {} more (all of them go to {}.rejected.csv on import)",
                            p.rejected.len() - 10,
                            p.name
                        );
                    }
                }
                Err(e) => {
                    println!("  error: {e}");
                    errors += 1;
                }
            }
        }
    }
    match &config.server.secret {
        Some(secret) => {
            let listen = config.server.listen.clone();
            let (control, report) = config.webhook_urls(&listen, secret);
            println!("\nPaste these in netelip's panel (API Voice instance \"{}\"):", config.provider.api);
            println!("  control URL: {control}");
            println!("  report URL:  {report}");
            if config.server.public_url.is_none() {
                println!("  (server.public_url is not set: these use the listen address; set it to the address the provider reaches)");
            }
        }
        None => println!("\nserver.secret is not set: the built-in simulator uses a random one per run. Set it (and server.public_url) before pointing netelip at this daemon."),
    }
    if errors > 0 {
        println!("\n{errors} error(s)");
        return Ok(ExitCode::FAILURE);
    }
    println!("\nok");
    Ok(ExitCode::SUCCESS)
}

async fn import(
    config: &Config,
    campaign_id: &str,
    file: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let dir = config.campaigns.dir.join(campaign_id);
    let c = campaign::Campaign::load(&dir)?;
    let store = Store::connect(&config.database.url).await?;
    let now = SystemClock.now_ms();
    store
        .upsert_campaign(&c.id, c.kind.as_str(), &c.title, &c.source, now)
        .await?;
    let summary = campaign::import::import_file(
        &store,
        &c,
        file,
        phone::region(&config.calling.default_region),
        now,
    )
    .await?;
    println!("{summary}");
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn campaigns(config: &Config) -> anyhow::Result<ExitCode> {
    let store = Store::connect(&config.database.url).await?;
    for r in report::build(&store, None).await? {
        let rows = store.campaigns().await?;
        let paused = rows.iter().any(|c| c.id == r.campaign && c.paused);
        let waiting: i64 = r
            .states
            .0
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "pending" | "scheduled" | "in_progress"))
            .map(|(_, v)| v)
            .sum();
        let state = if paused {
            "paused"
        } else if waiting == 0 {
            "finished"
        } else {
            "active"
        };
        println!(
            "{:<24} {:<13} {:<9} {}/{} done",
            r.campaign,
            r.kind,
            state,
            r.contacts - waiting,
            r.contacts
        );
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn set_paused(config: &Config, campaign: &str, paused: bool) -> anyhow::Result<ExitCode> {
    let store = Store::connect(&config.database.url).await?;
    let found = store
        .set_paused(campaign, paused, SystemClock.now_ms())
        .await?;
    store.close().await;
    if !found {
        anyhow::bail!("no campaign named \"{campaign}\" in the database");
    }
    println!("{campaign}: {}", if paused { "paused" } else { "resumed" });
    Ok(ExitCode::SUCCESS)
}

async fn report_cmd(
    config: &Config,
    campaign: Option<&str>,
    format: Format,
    output: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let store = Store::connect(&config.database.url).await?;
    let reports = report::build(&store, campaign).await?;
    store.close().await;
    let text = match format {
        Format::Json => {
            let mut s = if campaign.is_some() && reports.len() == 1 {
                serde_json::to_string_pretty(&reports[0])?
            } else {
                serde_json::to_string_pretty(&reports)?
            };
            s.push('\n');
            s
        }
        Format::Table => reports
            .iter()
            .map(|r| r.to_table())
            .collect::<Vec<_>>()
            .join("\n"),
    };
    match output {
        Some(path) => std::fs::write(&path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
async fn simulate(
    listen: std::net::SocketAddr,
    control_url: String,
    report_url: Option<String>,
    speed: f64,
    api: String,
    token: Option<String>,
    script: Option<PathBuf>,
    report_interval: f64,
    urlencoded: bool,
) -> anyhow::Result<ExitCode> {
    if speed.is_nan() || speed <= 0.0 {
        anyhow::bail!("--speed must be greater than 0");
    }
    let script = match script {
        Some(p) => {
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            Script::parse_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
        }
        None => Script::default(),
    };
    let cfg = SimulatorConfig {
        listen,
        token,
        api,
        control_url,
        report_url,
        speed,
        report_interval: std::time::Duration::from_secs_f64(report_interval / speed),
        urlencoded,
        script,
        ..SimulatorConfig::default()
    };
    simulator::run_standalone(cfg, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
