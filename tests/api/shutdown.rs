//! SIGTERM in the middle of a campaign: the real binary exits 0, and a restart finishes the
//! campaign without launching any attempt twice. The simulator runs in the test process so
//! that its record of launches survives the daemon's restart.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pregonero::provider::simulator::{Simulator, SimulatorConfig};
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, Db};

crate::on_both_backends!(sigterm_then_restart_launches_nothing_twice);

const CONTACTS: usize = 40;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_daemon(config: &std::path::Path, exit_when_idle: bool, log: &std::path::Path) -> Child {
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

async fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
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

async fn sigterm_then_restart_launches_nothing_twice(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "shutdown::sigterm_then_restart").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let campaigns = root.path().join("campaigns");
    let mut csv = String::from("telefono;nombre\n");
    for i in 0..CONTACTS {
        csv.push_str(&format!("6000001{i:02};Socio {i}\n"));
    }
    helpers::campaign(
        &campaigns,
        "junta",
        "kind = \"announcement\"\ncaller_id = \"+34910000000\"\nmax_attempts = 3\nretry = { busy = \"1s\", no_answer = \"1s\", failed = \"1s\", unreachable = \"1s\" }\n[announcement]\nmessage = \"Junta general el lunes a las siete.\"\n",
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
            "[database]\nurl = \"{}\"\n[campaigns]\ndir = \"{}\"\n[provider]\nkind = \"apivoice\"\nurl = \"{}\"\napi = \"API test\"\ntoken = \"t0k3n\"\n[server]\nlisten = \"127.0.0.1:{port}\"\nsecret = \"{secret}\"\ndrain_seconds = 30\n[limits]\ncalls_per_second = 20\nmax_concurrent_calls = 6\n",
            test_db.url,
            campaigns.display(),
            sim.launch_url()
        ),
    )
    .unwrap();
    let log = root.path().join("daemon.log");

    let mut daemon = spawn_daemon(&config, false, &log);
    let sim2 = sim.clone();
    let started = helpers::wait_for(Duration::from_secs(30), || {
        let n = sim2.launches().len();
        async move { n >= 12 }
    })
    .await;
    assert!(
        started,
        "the daemon launched too few calls: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let in_progress_at_signal = sim.calls_in_progress();
    let kill = Command::new("kill")
        .arg("-TERM")
        .arg(daemon.id().to_string())
        .status()
        .unwrap();
    assert!(kill.success());
    let status = wait_exit(&mut daemon, Duration::from_secs(40)).await;
    assert!(
        status.success(),
        "SIGTERM must exit 0, got {status:?}; log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let launched_before = sim.launches().len();
    assert!(
        launched_before < CONTACTS * 3,
        "the campaign should still be running at SIGTERM"
    );
    // Calls in progress were allowed to end before the daemon left.
    assert_eq!(
        sim.calls_in_progress(),
        0,
        "{in_progress_at_signal} calls were in progress at SIGTERM"
    );
    let mid = helpers::report_json(&test_db.url, "junta").await;
    assert_eq!(mid["states"]["in_progress"], 0, "{mid}");

    let mut daemon = spawn_daemon(&config, true, &log);
    let status = wait_exit(&mut daemon, Duration::from_secs(60)).await;
    assert!(
        status.success(),
        "restart failed: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    let launches = sim.launches();
    let mut ids: Vec<&str> = launches.iter().map(|l| l.userdata.as_str()).collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "an attempt was launched twice");
    let mut per_number = std::collections::HashMap::new();
    for l in &launches {
        *per_number.entry(l.dst.clone()).or_insert(0) += 1;
    }
    assert_eq!(per_number.len(), CONTACTS);
    assert!(
        per_number.values().all(|n| *n <= 3),
        "a contact got more than max_attempts launches"
    );

    let report = helpers::report_json(&test_db.url, "junta").await;
    assert_eq!(report["contacts"], CONTACTS);
    assert_eq!(report["attempts"]["total"], launches.len(), "{report}");
    let states = report["states"].as_object().unwrap();
    for waiting in ["pending", "scheduled", "in_progress"] {
        assert_eq!(states[waiting], 0, "{report}");
    }
    let sum: i64 = states.values().map(|v| v.as_i64().unwrap()).sum();
    assert_eq!(sum, CONTACTS as i64);
    cancel.cancel();
}
