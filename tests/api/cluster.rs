//! Several daemons on one database: allowed on PostgreSQL, refused on a SQLite file.

use std::sync::Arc;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use pregonero::testing::TestDb;

use crate::helpers;

/// A second daemon on the same SQLite file stops at start with one sentence that says why and
/// what to use instead; once the first is gone, a daemon starts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_one_sqlite_file_refuses_to_start() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let first = Application::build(helpers::config(&db.url, dir.path()), Arc::new(SystemClock))
        .await
        .expect("the first daemon starts");
    let second =
        Application::build(helpers::config(&db.url, dir.path()), Arc::new(SystemClock)).await;
    let message = format!("{:#}", second.err().expect("the second daemon is refused"));
    assert!(
        message.contains("another pregonero daemon already runs on the SQLite database")
            && message.contains("PostgreSQL"),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");
    drop(first);
    Application::build(helpers::config(&db.url, dir.path()), Arc::new(SystemClock))
        .await
        .expect("a daemon starts once the first is gone");
}

/// PostgreSQL is the shared engine: two daemons on one database both start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_share_one_postgresql_database() {
    let Some(db) = TestDb::postgres("cluster::two_daemons").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let _first = Application::build(helpers::config(&db.url, dir.path()), Arc::new(SystemClock))
        .await
        .expect("the first daemon starts");
    Application::build(helpers::config(&db.url, dir.path()), Arc::new(SystemClock))
        .await
        .expect("a second daemon on the same PostgreSQL database starts");
}

/// The proof that no single daemon is needed: three real daemons on one PostgreSQL database
/// behind the round-robin proxy (the provider's control and report requests spread over all
/// three), 2,000 contacts, one daemon SIGKILLed every couple of seconds and restarted. No
/// attempt is launched twice, no contact gets more than its attempts, every acknowledged key
/// press is stored, every contact ends final, and each duty the killed daemon held is taken by
/// another daemon within 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_daemons_one_killed_again_and_again_lose_nothing() {
    use pregonero::simulator::{Simulator, SimulatorConfig};
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    const CONTACTS: usize = 2_000;
    const KILLS: usize = 6;
    let Some(db) = TestDb::postgres("cluster::three_daemons_killed").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let campaigns = root.path().join("campaigns");
    let mut csv = String::from("telefono;nombre\n");
    for i in 0..CONTACTS {
        csv.push_str(&format!("6100{i:05};Socio {i}\n"));
    }
    helpers::campaign(
        &campaigns,
        "junta",
        "kind = \"announcement\"\ncaller_id = \"+34910000000\"\nmax_attempts = 3\nretry = { busy = \"1s\", no_answer = \"1s\", failed = \"1s\", unreachable = \"1s\" }\n[announcement]\nmessage = \"Junta general el lunes a las siete.\"\nrepeat_key = \"1\"\n",
        "socios.csv",
        &csv,
    );

    // The proxy outlives every daemon: the provider's one URL.
    let secret = "s3cret-for-the-cluster-test";
    let backends: Vec<std::net::SocketAddr> = (0..3)
        .map(|_| {
            format!("127.0.0.1:{}", helpers::free_port())
                .parse()
                .unwrap()
        })
        .collect();
    let front = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front_addr = front.local_addr().unwrap();
    let cancel = CancellationToken::new();
    let proxy_stop = cancel.clone();
    tokio::spawn(pregonero::proxy::serve(
        front,
        backends.clone(),
        async move { proxy_stop.cancelled().await },
    ));
    let sim = Simulator::start(
        SimulatorConfig {
            token: Some("t0k3n".into()),
            api: "API test".into(),
            control_url: format!("http://{front_addr}/apivoice/control/{secret}"),
            report_url: Some(format!("http://{front_addr}/apivoice/report/{secret}")),
            speed: 10.0,
            report_interval: Duration::from_millis(300),
            seed: 19,
            ..SimulatorConfig::default()
        },
        cancel.clone(),
    )
    .await
    .unwrap();
    let configs: Vec<std::path::PathBuf> = backends
        .iter()
        .enumerate()
        .map(|(i, addr)| {
            let path = root.path().join(format!("node{i}.toml"));
            std::fs::write(
                &path,
                format!(
                    "[database]\nurl = \"{}\"\n[campaigns]\ndir = \"{}\"\n[provider]\nkind = \"apivoice\"\nurl = \"{}\"\napi = \"API test\"\ntoken = \"t0k3n\"\nunknown_grace_seconds = 2\nstale_call_seconds = 20\n[server]\nlisten = \"{addr}\"\nsecret = \"{secret}\"\nnode_name = \"node{i}\"\ntrusted_proxies = [\"127.0.0.1\"]\ndrain_seconds = 5\n[limits]\ncalls_per_second = 100\nmax_concurrent_calls = 30\n[calling]\nhours = [\"mon-sun 00:00-24:00\"]\nholiday_calendar = \"none\"\n",
                    db.url,
                    campaigns.display(),
                    sim.launch_url()
                ),
            )
            .unwrap();
            path
        })
        .collect();
    let log = root.path().join("daemons.log");
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let mut daemons: Vec<std::process::Child> = configs
        .iter()
        .map(|c| helpers::spawn_daemon(c, false, &log))
        .collect();

    let store = pregonero::store::Store::connect(&db.url).await.unwrap();
    let mut moved = 0;
    for round in 0..KILLS {
        // Let the campaign run a little between kills.
        let target = sim.launches().len() + 120;
        let sim2 = sim.clone();
        let progressed = helpers::wait_for(Duration::from_secs(60), || {
            let n = sim2.launches().len();
            async move { n >= target }
        })
        .await;
        assert!(
            progressed || sim.launches().len() >= CONTACTS,
            "round {round}: the campaign stalled at {} launches:\n{}",
            sim.launches().len(),
            read_log()
        );
        // Kill the daemon that holds the most duties (the reaper's holder first).
        let leases = store.duty_leases().await.unwrap();
        let holds = |pid: u32| {
            leases
                .iter()
                .filter(|(_, holder, _)| holder.split(':').nth(1) == Some(&pid.to_string()))
                .map(|(duty, _, _)| duty.clone())
                .collect::<Vec<_>>()
        };
        let victim = (0..daemons.len())
            .max_by_key(|&i| holds(daemons[i].id()).len())
            .unwrap_or(round % 3);
        let pid = daemons[victim].id();
        let held = holds(pid);
        helpers::signal(&daemons[victim], "-KILL");
        let _ = helpers::wait_exit(&mut daemons[victim], Duration::from_secs(10)).await;
        let killed_at = std::time::Instant::now();
        // Every duty it held moves to a live daemon within 10 s.
        let store2 = store.clone();
        let held2 = held.clone();
        let taken = helpers::wait_for(Duration::from_secs(10), || {
            let store = store2.clone();
            let held = held2.clone();
            async move {
                let leases = store.duty_leases().await.unwrap_or_default();
                held.iter().all(|duty| {
                    leases.iter().any(|(d, holder, _)| {
                        d == duty && holder.split(':').nth(1) != Some(&pid.to_string())
                    })
                })
            }
        })
        .await;
        assert!(
            taken,
            "round {round}: duties {held:?} of the killed daemon not taken over within 10 s ({:?} later): {:?}",
            killed_at.elapsed(),
            store.duty_leases().await
        );
        moved += held.len();
        daemons[victim] = helpers::spawn_daemon(&configs[victim], false, &log);
    }
    assert!(moved > 0, "no kill hit a daemon holding a duty");

    // Every contact final.
    let report_now = || {
        let store = store.clone();
        async move {
            let reports = pregonero::report::build(
                &store,
                Some("junta"),
                chrono::Utc::now().timestamp_millis(),
            )
            .await
            .expect("report");
            serde_json::to_value(&reports[0]).expect("json")
        }
    };
    let finished = helpers::wait_for(Duration::from_secs(180), || async {
        let r = report_now().await;
        ["pending", "scheduled", "in_progress"]
            .iter()
            .all(|s| r["states"][*s] == 0)
    })
    .await;
    let report = report_now().await;
    assert!(
        finished,
        "not every contact is final: {report}\n{}",
        read_log()
    );
    for d in &daemons {
        helpers::signal(d, "-TERM");
    }
    for d in daemons.iter_mut() {
        let status = helpers::wait_exit(d, Duration::from_secs(30)).await;
        assert!(status.success(), "a daemon failed to stop: {}", read_log());
    }

    // No attempt launched twice, no contact over its attempts, every contact final; every
    // key press acknowledged is stored, whichever daemon answered it.
    helpers::assert_launched_once_and_final(&sim.launches(), &report, CONTACTS, 3, KILLS * 8);
    helpers::assert_acked_keys_stored(&sim, &store).await;
    store.close().await;
    cancel.cancel();
}
