//! How the dialer reacts to the provider's launch replies (apivoice.md section 1), over real
//! HTTP against the simulator's fault switches.

use std::sync::Arc;
use std::time::Duration;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use pregonero::config::ProviderKind;
use pregonero::provider::simulator::{Faults, SimHandle, Simulator, SimulatorConfig};
use pregonero::store::{Backend, Store};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, Db};

crate::on_both_backends!(
    unauthorized_stops_every_launch_and_says_so,
    no_balance_pauses_every_campaign_until_resumed,
    a_refused_request_fails_the_contact_without_retrying,
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
    assert!(err.contains("401") && err.contains("stopped"), "{err}");
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
