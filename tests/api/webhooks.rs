//! The daemon's HTTP routes over real HTTP: secret, malformed bodies, unknown calls, health.

use std::sync::Arc;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use pregonero::store::{Backend, Store};
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, Db};

crate::on_both_backends!(routes_defend_themselves_and_change_nothing_on_bad_input);

async fn routes_defend_themselves_and_change_nothing_on_bad_input(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "webhooks::routes_defend_themselves").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let config = helpers::config(&test_db.url, root.path());
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let base = format!("http://{}", app.addr());
    let (control, report) = app.webhook_urls();
    assert_eq!(
        control,
        format!("{base}/apivoice/control/test-secret-0123456789")
    );
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));
    let http = reqwest::Client::new();

    // The panel's URL validation.
    assert_eq!(http.get(&control).send().await.unwrap().status(), 200);
    // A wrong secret is indistinguishable from a missing route.
    let wrong = format!("{base}/apivoice/control/test-secret-0123456788");
    let r = http
        .post(&wrong)
        .form(&[("ID", "1.1"), ("statuscall", "ANSWER")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .post(format!("{base}/apivoice/report/nope"))
        .form(&[("calls", "[]")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // A call we never launched gets a valid command, never an empty body.
    let r = http
        .post(&control)
        .form(&[
            ("ID", "9.9"),
            ("userdata", "424242"),
            ("statuscall", "ANSWER"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["command"], "hangup");

    // Malformed report bodies: 400, and no report line or attempt appears.
    for bad in [vec![("calls", "{not json")], vec![("other", "[]")]] {
        let r = http.post(&report).form(&bad).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad:?}");
    }
    let ok = http
        .post(&report)
        .form(&[("calls", "[]")])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.json::<serde_json::Value>().await.unwrap()["response"],
        "200"
    );

    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("pregonero_control_request_seconds_count 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE pregonero_launches_total counter"),
        "{metrics}"
    );

    stop.cancel();
    running.await.unwrap().unwrap();
    let store = Store::connect(&test_db.url).await.unwrap();
    assert!(store.open_attempts().await.unwrap().is_empty());
    assert!(store.campaigns().await.unwrap().is_empty());
    store.close().await;
}
