//! Shared set-up: campaign folders, configs, running the application, reading results.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use pregonero::config::Config;
use pregonero::store::Store;
use pregonero::testing::TestDb;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

/// The two backends every database test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A fresh database of that backend, or `None` when PostgreSQL is not configured (the skip is
/// printed loudly by `TestDb::postgres`).
pub async fn fresh_db(db: Db, test: &str) -> Option<TestDb> {
    match db {
        Db::Sqlite => Some(TestDb::sqlite()),
        Db::Postgres => TestDb::postgres(test).await,
    }
}

/// Writes `campaigns/<id>/campaign.toml` and one CSV file.
pub fn campaign(root: &Path, id: &str, toml: &str, csv_name: &str, csv: &str) -> PathBuf {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).expect("campaign dir");
    std::fs::write(dir.join("campaign.toml"), toml).expect("campaign.toml");
    std::fs::write(dir.join(csv_name), csv).expect("csv");
    dir
}

/// A config for in-process runs: the given database and campaigns, an ephemeral port, a fast
/// simulator.
pub fn config(db_url: &str, campaigns: &Path) -> Config {
    let mut c = Config::default();
    c.database.url = db_url.to_string();
    c.campaigns.dir = campaigns.to_path_buf();
    c.server.listen = "127.0.0.1:0".into();
    c.server.secret = Some(SecretString::from("test-secret-0123456789"));
    c.server.drain_seconds = 10;
    c.limits.calls_per_second = 5.0;
    c.limits.max_concurrent_calls = 4;
    c.simulator.speed = 1000.0;
    c.simulator.report_interval_seconds = 20.0;
    // Tests that are not about calling hours must not depend on when they run.
    c.calling.hours = vec!["mon-sun 00:00-24:00".into()];
    c.calling.holiday_calendar = "none".into();
    c
}

/// Runs the application until it is idle, with a generous upper bound.
pub async fn run_until_idle(config: Config) {
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .expect("build");
    tokio::time::timeout(
        Duration::from_secs(90),
        app.run_until_stopped(CancellationToken::new(), true),
    )
    .await
    .expect("the campaign did not finish within 90 s")
    .expect("run");
}

/// The report JSON of a campaign, exactly as `pregonero report --format json` prints it.
pub async fn report_json(db_url: &str, campaign: &str) -> serde_json::Value {
    let store = Store::connect(db_url).await.expect("store");
    let reports = pregonero::report::build(
        &store,
        Some(campaign),
        chrono::Utc::now().timestamp_millis(),
    )
    .await
    .expect("report");
    store.close().await;
    serde_json::to_value(&reports[0]).expect("json")
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub async fn wait_for<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A loopback port free now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `pregonero --config CONFIG run`, the real binary, its log appended to `log`.
pub fn spawn_daemon(
    config: &std::path::Path,
    exit_when_idle: bool,
    log: &std::path::Path,
) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pregonero"));
    cmd.arg("--config").arg(config).arg("run");
    if exit_when_idle {
        cmd.arg("--exit-when-idle");
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    cmd.stdout(Stdio::null())
        .stderr(log)
        .env_remove("PREGONERO_CONFIG")
        .spawn()
        .expect("spawn pregonero")
}

/// Sends `sig` (`-TERM`, `-KILL`) to the process.
pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(sig)
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success(), "kill {sig} failed");
}

/// Waits for the process to exit; kills it and fails the test after `timeout`.
pub async fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if tokio::time::Instant::now() >= deadline {
            let _ = child.kill();
            panic!("pregonero did not exit within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a campaign killed and restarted must show: no attempt launched twice (one simulator
/// launch per attempt id), each of `contacts` numbers launched, none more than `max_attempts`
/// times; in the report every launch an attempt, at most `unsent` attempts more (claims whose
/// daemon died before the request left: counted, never called twice), every contact final.
pub fn assert_launched_once_and_final(
    launches: &[pregonero::simulator::LaunchRecord],
    report: &serde_json::Value,
    contacts: usize,
    max_attempts: usize,
    unsent: usize,
) {
    let mut ids: Vec<&str> = launches.iter().map(|l| l.userdata.as_str()).collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "an attempt was launched twice");
    let mut per_number = std::collections::HashMap::new();
    for l in launches {
        *per_number.entry(l.dst.clone()).or_insert(0) += 1;
    }
    assert_eq!(per_number.len(), contacts, "a contact was never called");
    assert!(
        per_number.values().all(|n| *n <= max_attempts),
        "a contact got more than max_attempts launches"
    );
    assert_eq!(report["contacts"], contacts);
    let total = report["attempts"]["total"].as_u64().unwrap_or(0) as usize;
    assert!(
        (launches.len()..=launches.len() + unsent).contains(&total),
        "{} launches, {total} attempts: {report}",
        launches.len()
    );
    let states = report["states"].as_object().expect("states");
    for waiting in ["pending", "scheduled", "in_progress"] {
        assert_eq!(states[waiting], 0, "{report}");
    }
    let sum: i64 = states.values().map(|v| v.as_i64().unwrap_or(0)).sum();
    assert_eq!(sum, contacts as i64, "{report}");
}

/// Every key press the simulator got an HTTP 200 for is stored, and there was at least one.
pub async fn assert_acked_keys_stored(sim: &pregonero::simulator::SimHandle, store: &Store) {
    let stored = store.dtmf_events().await.expect("dtmf events");
    let acked = sim.acked_dtmf();
    assert!(!acked.is_empty(), "the test should exercise key presses");
    for (call, _userdata, dtmf) in acked {
        assert!(
            stored
                .iter()
                .any(|(c, d)| c.as_deref() == Some(call.as_str()) && *d == dtmf),
            "key {dtmf} of call {call} was acknowledged but is not stored"
        );
    }
}

/// Declares a test that runs on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Db::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Db::Postgres).await;
            }
        }
    )*};
}
