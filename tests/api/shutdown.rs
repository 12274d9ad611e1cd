//! SIGTERM in the middle of a campaign: the real binary exits 0, and a restart finishes the
//! campaign without launching any attempt twice. The simulator runs in the test process so
//! that its record of launches survives the daemon's restart.

use std::time::Duration;

use pregonero::simulator::{SimHandle, Simulator, SimulatorConfig};
use pregonero::testing::TestDb;
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, free_port, signal, spawn_daemon, wait_exit, Db};

crate::on_both_backends!(
    sigterm_then_restart_launches_nothing_twice,
    sigkill_at_random_moments_loses_nothing_and_launches_nothing_twice,
);

const CONTACTS: usize = 40;

/// A campaign of `contacts` members, a simulator in this process, and a daemon config that
/// points the real provider client at it.
struct Setup {
    _db: TestDb,
    db_url: String,
    _root: tempfile::TempDir,
    config: std::path::PathBuf,
    log: std::path::PathBuf,
    sim: SimHandle,
    cancel: CancellationToken,
}

async fn setup(
    db: Db,
    test: &str,
    contacts: usize,
    repeat_key: bool,
    extra_config: &str,
) -> Option<Setup> {
    let test_db = helpers::fresh_db(db, test).await?;
    let root = tempfile::tempdir().unwrap();
    let campaigns = root.path().join("campaigns");
    let mut csv = String::from("telefono;nombre\n");
    for i in 0..contacts {
        csv.push_str(&format!("6000{i:05};Socio {i}\n"));
    }
    let repeat = if repeat_key {
        "repeat_key = \"1\"\n"
    } else {
        ""
    };
    helpers::campaign(
        &campaigns,
        "junta",
        &format!("kind = \"announcement\"\ncaller_id = \"+34910000000\"\nmax_attempts = 3\nretry = {{ busy = \"1s\", no_answer = \"1s\", failed = \"1s\", unreachable = \"1s\" }}\n[announcement]\nmessage = \"Junta general el lunes a las siete.\"\n{repeat}"),
        "socios.csv",
        &csv,
    );
    let port = free_port();
    let secret = "s3cret-for-the-shutdown-test";
    let cancel = CancellationToken::new();
    let sim = Simulator::start(
        SimulatorConfig {
            token: Some("t0k3n".into()),
            api: "API test".into(),
            control_url: format!("http://127.0.0.1:{port}/apivoice/control/{secret}"),
            report_url: Some(format!("http://127.0.0.1:{port}/apivoice/report/{secret}")),
            speed: 10.0,
            report_interval: Duration::from_millis(300),
            seed: 11,
            ..SimulatorConfig::default()
        },
        cancel.clone(),
    )
    .await
    .unwrap();
    let config = root.path().join("pregonero.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\n[campaigns]\ndir = \"{}\"\n[provider]\nkind = \"apivoice\"\nurl = \"{}\"\napi = \"API test\"\ntoken = \"t0k3n\"\n{extra_config}\n[server]\nlisten = \"127.0.0.1:{port}\"\nsecret = \"{secret}\"\ndrain_seconds = 30\n[limits]\ncalls_per_second = 20\nmax_concurrent_calls = 6\n[calling]\nhours = [\"mon-sun 00:00-24:00\"]\nholiday_calendar = \"none\"\n",
            test_db.url,
            campaigns.display(),
            sim.launch_url()
        ),
    )
    .unwrap();
    let log = root.path().join("daemon.log");
    Some(Setup {
        db_url: test_db.url.clone(),
        _db: test_db,
        config,
        log,
        _root: root,
        sim,
        cancel,
    })
}

impl Setup {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Every contact final, no attempt launched twice, at most 3 launches per number, and the
    /// report's attempts equal to the simulator's launches, give or take `unsent`: a daemon
    /// killed after committing a claim and before its request left cannot know whether the
    /// call was placed, so that attempt counts (erring towards fewer calls, never more).
    async fn assert_finished_without_duplicates(&self, contacts: usize, unsent: usize) {
        let report = helpers::report_json(&self.db_url, "junta").await;
        helpers::assert_launched_once_and_final(&self.sim.launches(), &report, contacts, 3, unsent);
    }
}

async fn sigterm_then_restart_launches_nothing_twice(db: Db) {
    let Some(s) = setup(db, "shutdown::sigterm_then_restart", CONTACTS, false, "").await else {
        return;
    };
    let mut daemon = spawn_daemon(&s.config, false, &s.log);
    let sim2 = s.sim.clone();
    let started = helpers::wait_for(Duration::from_secs(30), || {
        let n = sim2.launches().len();
        async move { n >= 12 }
    })
    .await;
    assert!(started, "the daemon launched too few calls: {}", s.log());
    let in_progress_at_signal = s.sim.calls_in_progress();
    signal(&daemon, "-TERM");
    let status = wait_exit(&mut daemon, Duration::from_secs(40)).await;
    assert!(
        status.success(),
        "SIGTERM must exit 0, got {status:?}; log:\n{}",
        s.log()
    );
    let launched_before = s.sim.launches().len();
    assert!(
        launched_before < CONTACTS * 3,
        "the campaign should still be running at SIGTERM"
    );
    // Calls in progress were allowed to end before the daemon left.
    assert_eq!(
        s.sim.calls_in_progress(),
        0,
        "{in_progress_at_signal} calls were in progress at SIGTERM"
    );
    let mid = helpers::report_json(&s.db_url, "junta").await;
    assert_eq!(mid["states"]["in_progress"], 0, "{mid}");

    let mut daemon = spawn_daemon(&s.config, true, &s.log);
    let status = wait_exit(&mut daemon, Duration::from_secs(60)).await;
    assert!(status.success(), "restart failed: {}", s.log());
    s.assert_finished_without_duplicates(CONTACTS, 0).await;
    s.cancel.cancel();
}

async fn sigkill_at_random_moments_loses_nothing_and_launches_nothing_twice(db: Db) {
    use rand::Rng;
    // A short grace period, so attempts whose launch reply died with the daemon are released
    // within the test; a short stale limit for calls whose report never comes.
    let extra = "unknown_grace_seconds = 2\nstale_call_seconds = 20";
    let Some(s) = setup(db, "shutdown::sigkill", CONTACTS, true, extra).await else {
        return;
    };
    let mut rng = rand::rng();
    for round in 0..3 {
        let mut daemon = spawn_daemon(&s.config, false, &s.log);
        let target = s.sim.launches().len() + rng.random_range(3..10);
        let sim2 = s.sim.clone();
        let reached = helpers::wait_for(Duration::from_secs(30), || {
            let n = sim2.launches().len();
            async move { n >= target }
        })
        .await;
        signal(&daemon, "-KILL");
        let _ = wait_exit(&mut daemon, Duration::from_secs(10)).await;
        assert!(
            reached || s.sim.launches().len() >= CONTACTS,
            "round {round}: too few launches: {}",
            s.log()
        );
    }
    let mut daemon = spawn_daemon(&s.config, true, &s.log);
    let status = wait_exit(&mut daemon, Duration::from_secs(90)).await;
    assert!(
        status.success(),
        "restart after SIGKILL failed: {}",
        s.log()
    );
    // One claim at most was between its commit and its request at each of the 3 kills.
    s.assert_finished_without_duplicates(CONTACTS, 3).await;
    // Every key press the simulator got a 200 for is in the store.
    let store = pregonero::store::Store::connect(&s.db_url).await.unwrap();
    helpers::assert_acked_keys_stored(&s.sim, &store).await;
    store.close().await;
    s.cancel.cancel();
}
