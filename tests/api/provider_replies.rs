//! How the dialer reacts to the provider's launch replies (apivoice.md section 1), over real
//! HTTP against the simulator's fault switches.

use std::sync::Arc;
use std::time::Duration;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use pregonero::config::ProviderKind;
use pregonero::simulator::{Faults, SimHandle, Simulator, SimulatorConfig};
use pregonero::store::Store;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, Db};

crate::on_both_backends!(
    unauthorized_stops_every_launch_and_says_so,
    a_wrong_launch_url_stops_every_launch_and_names_it,
    no_balance_pauses_every_campaign_until_resumed,
    a_refused_request_fails_the_contact_without_retrying,
    a_flaky_provider_loses_no_contact_and_places_none_twice,
    a_dead_provider_opens_the_circuit_and_one_probe_closes_it,
);

const TOML: &str = "kind = \"announcement\"\ncaller_id = \"+34910000000\"\nretry = { busy = \"1s\", no_answer = \"1s\" }\n[announcement]\nmessage = \"Hola\"\n";
const CSV: &str = "telefono\n600000001\n600000002\n600000003\n";

async fn start_sim(faults: Faults) -> (SimHandle, CancellationToken) {
    let cancel = CancellationToken::new();
    let sim = Simulator::start(
        SimulatorConfig {
            control_url: "http://127.0.0.1:9/unused".into(),
            token: Some("tok".into()),
            faults,
            ..SimulatorConfig::default()
        },
        cancel.clone(),
    )
    .await
    .unwrap();
    (sim, cancel)
}

/// Runs two campaigns against a faulty provider until idle (or the run fails).
async fn run_against(
    db_url: &str,
    sim: &SimHandle,
    token: &str,
) -> (anyhow::Result<()>, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    helpers::campaign(root.path(), "uno", TOML, "a.csv", CSV);
    helpers::campaign(root.path(), "dos", TOML, "b.csv", CSV);
    let mut config = helpers::config(db_url, root.path());
    config.provider.kind = ProviderKind::Apivoice;
    config.provider.url = sim.launch_url();
    config.provider.api = "API sim".into();
    config.provider.token = Some(SecretString::from(token.to_string()));
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let run = tokio::time::timeout(
        Duration::from_secs(30),
        app.run_until_stopped(CancellationToken::new(), true),
    )
    .await
    .expect("the run did not end");
    (run, root)
}

async fn unauthorized_stops_every_launch_and_says_so(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "provider_replies::unauthorized").await else {
        return;
    };
    let (sim, cancel) = start_sim(Faults::default()).await;
    let (run, _root) = run_against(&test_db.url, &sim, "wrong-token").await;
    let err = run.expect_err("a 401 must stop the run").to_string();
    assert!(
        err.contains("401") && err.contains("no se lanza ninguna llamada"),
        "{err}"
    );
    assert!(
        !err.contains("wrong-token"),
        "the token must never appear in messages: {err}"
    );
    assert!(sim.launches().is_empty());
    for c in ["uno", "dos"] {
        let r = helpers::report_json(&test_db.url, c).await;
        assert_eq!(
            r["states"]["pending"].as_i64().unwrap() + r["states"]["scheduled"].as_i64().unwrap(),
            3,
            "{r}"
        );
        assert_eq!(
            r["attempts"]["total"], 0,
            "a refused launch is not an attempt: {r}"
        );
    }
    cancel.cancel();
}

/// An HTTP 404 from the launch URL is a wrong `provider.url`, not a bad token.
async fn a_wrong_launch_url_stops_every_launch_and_names_it(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "provider_replies::wrong_url").await else {
        return;
    };
    let (sim, cancel) = start_sim(Faults {
        http_status: Some(404),
        ..Faults::default()
    })
    .await;
    let (run, _root) = run_against(&test_db.url, &sim, "tok").await;
    let err = run.expect_err("a 404 must stop the run").to_string();
    assert!(
        err.contains("404") && err.contains("provider.url") && !err.contains("token"),
        "{err}"
    );
    for c in ["uno", "dos"] {
        let r = helpers::report_json(&test_db.url, c).await;
        assert_eq!(
            r["attempts"]["total"], 0,
            "a refused launch is not an attempt: {r}"
        );
    }
    cancel.cancel();
}

async fn no_balance_pauses_every_campaign_until_resumed(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "provider_replies::no_balance").await else {
        return;
    };
    let (sim, cancel) = start_sim(Faults {
        response_code: Some("402".into()),
        ..Faults::default()
    })
    .await;
    let (run, _root) = run_against(&test_db.url, &sim, "tok").await;
    run.expect("paused campaigns leave nothing to do");
    let store = Store::connect(&test_db.url).await.unwrap();
    let rows = store.campaigns().await.unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert!(r.paused, "{r:?}");
        assert!(
            r.paused_reason.as_deref().unwrap_or("").contains("402"),
            "{r:?}"
        );
    }
    // Resuming clears the reason; nothing was lost meanwhile.
    assert!(store.set_paused("uno", false, None, 0).await.unwrap());
    assert_eq!(store.campaigns().await.unwrap()[1].paused_reason, None);
    store.close().await;
    let r = helpers::report_json(&test_db.url, "uno").await;
    assert_eq!(r["attempts"]["total"], 0, "{r}");
    assert_eq!(
        r["states"]["pending"].as_i64().unwrap() + r["states"]["scheduled"].as_i64().unwrap(),
        3
    );
    cancel.cancel();
}

async fn a_refused_request_fails_the_contact_without_retrying(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "provider_replies::refused").await else {
        return;
    };
    let (sim, cancel) = start_sim(Faults {
        response_code: Some("103".into()),
        ..Faults::default()
    })
    .await;
    let (run, _root) = run_against(&test_db.url, &sim, "tok").await;
    run.unwrap();
    for c in ["uno", "dos"] {
        let r = helpers::report_json(&test_db.url, c).await;
        assert_eq!(r["states"]["failed"], 3, "{r}");
        assert_eq!(
            r["attempts"]["total"], 3,
            "one attempt each, never retried: {r}"
        );
    }
    cancel.cancel();
}

/// A daemon (announcement campaign "avisos" with `phones`) and a standalone simulator wired to
/// each other over real HTTP: the simulator places the calls and drives the daemon's control
/// and report URLs. Every destination answers.
async fn wired(
    db_url: &str,
    root: &std::path::Path,
    phones: &[String],
    faults: Faults,
) -> (Application, SimHandle, CancellationToken) {
    let csv = format!(
        "telefono\n{}\n",
        phones
            .iter()
            .map(|p| p[3..].to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    helpers::campaign(root, "avisos", TOML, "lista.csv", &csv);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let script: String = phones
        .iter()
        .map(|p| format!("\"{p}\" = \"answer\"\n"))
        .collect();
    let cancel = CancellationToken::new();
    let sim = Simulator::start(
        SimulatorConfig {
            token: Some("tok".into()),
            control_url: format!("{base}/apivoice/control/test-secret-0123456789"),
            report_url: Some(format!("{base}/apivoice/report/test-secret-0123456789")),
            speed: 1000.0,
            report_interval: Duration::from_millis(50),
            script: pregonero::simulator::Script::parse_toml(&script).unwrap(),
            faults,
            ..SimulatorConfig::default()
        },
        cancel.clone(),
    )
    .await
    .unwrap();
    let mut config = helpers::config(db_url, root);
    config.provider.kind = ProviderKind::Apivoice;
    config.provider.url = sim.launch_url();
    config.provider.api = "API sim".into();
    config.provider.token = Some(SecretString::from("tok".to_string()));
    // A lost reply is known to be lost after half a second; waits are short for the test.
    config.provider.timeout_seconds = 0.5;
    config.provider.retry_backoff_seconds = 0.02;
    config.provider.circuit_open_seconds = 0.2;
    config.limits.calls_per_second = 50.0;
    let app = Application::build_on(config, Arc::new(SystemClock), listener)
        .await
        .unwrap();
    (app, sim, cancel)
}

/// Every contact delivered, each destination placed exactly once by the simulator.
async fn assert_each_placed_once(db_url: &str, sim: &SimHandle, phones: &[String]) {
    let r = helpers::report_json(db_url, "avisos").await;
    assert_eq!(
        r["states"]["delivered"].as_i64(),
        Some(phones.len() as i64),
        "{r}"
    );
    let mut placed = std::collections::BTreeMap::<String, usize>::new();
    for l in sim.launches() {
        *placed.entry(l.dst).or_default() += 1;
    }
    assert_eq!(placed.len(), phones.len(), "{placed:?}");
    assert!(placed.values().all(|n| *n == 1), "placed twice: {placed:?}");
    let store = Store::connect(db_url).await.unwrap();
    assert!(store.open_attempts().await.unwrap().is_empty());
    store.close().await;
}

/// 5xx replies, then slow replies and replies lost after the call was placed, then `503`
/// codes, each for a share of launches: every contact ends delivered and no call is placed
/// twice (a launch whose reply was lost is settled by its control requests, not relaunched).
async fn a_flaky_provider_loses_no_contact_and_places_none_twice(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "provider_replies::flaky").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let phones: Vec<String> = (10..34).map(|i| format!("+346000001{i}")).collect();
    let flaky = |f: Faults| Faults { rate: 0.3, ..f };
    let (app, sim, cancel) = wired(
        &test_db.url,
        root.path(),
        &phones,
        flaky(Faults {
            http_status: Some(502),
            ..Faults::default()
        }),
    )
    .await;
    let run = tokio::spawn(app.run_until_stopped(CancellationToken::new(), true));
    let placed = |n: usize| {
        let sim = sim.clone();
        move || {
            let sim = sim.clone();
            async move { sim.launches().len() >= n }
        }
    };
    assert!(helpers::wait_for(Duration::from_secs(30), placed(8)).await);
    sim.set_faults(flaky(Faults {
        latency: Duration::from_millis(30),
        lost_reply: true,
        ..Faults::default()
    }));
    assert!(helpers::wait_for(Duration::from_secs(30), placed(16)).await);
    sim.set_faults(flaky(Faults {
        response_code: Some("503".into()),
        ..Faults::default()
    }));
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the campaign did not finish")
        .unwrap()
        .unwrap();
    assert!(
        sim.launch_requests() > phones.len(),
        "some launches must have failed: {} requests",
        sim.launch_requests()
    );
    assert_each_placed_once(&test_db.url, &sim, &phones).await;
    cancel.cancel();
}

/// Every launch fails: after `circuit_failures` in a row the circuit opens, and from then on
/// one probe per cool-down reaches the provider. When it recovers, the probe closes the circuit
/// and the campaign completes, each call placed once.
async fn a_dead_provider_opens_the_circuit_and_one_probe_closes_it(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "provider_replies::circuit").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let phones: Vec<String> = (10..16).map(|i| format!("+346000002{i}")).collect();
    let (app, sim, cancel) = wired(
        &test_db.url,
        root.path(),
        &phones,
        Faults {
            http_status: Some(500),
            ..Faults::default()
        },
    )
    .await;
    let metrics_url = format!("http://{}/metrics", app.addr());
    let run = tokio::spawn(app.run_until_stopped(CancellationToken::new(), true));
    let http = reqwest::Client::new();
    let metric = |name: &'static str| {
        let http = http.clone();
        let url = metrics_url.clone();
        async move {
            let text = http.get(&url).send().await.ok()?.text().await.ok()?;
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
        }
    };
    let tripped = || {
        let m = metric("pregonero_provider_circuit_trips_total ");
        async move { m.await.unwrap_or(0) >= 3 }
    };
    assert!(helpers::wait_for(Duration::from_secs(30), tripped).await);
    let requests = sim.launch_requests();
    let trips = metric("pregonero_provider_circuit_trips_total ")
        .await
        .unwrap();
    // 5 failures open it; up to 4 launches were already in the air (max_concurrent_calls);
    // then one probe per trip.
    assert!(
        requests as u64 <= 5 + 4 + trips,
        "{requests} launch requests for {trips} trips"
    );
    assert!(sim.launches().is_empty());
    sim.set_faults(Faults::default());
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the campaign did not finish after the provider recovered")
        .unwrap()
        .unwrap();
    assert_each_placed_once(&test_db.url, &sim, &phones).await;
    cancel.cancel();
}
