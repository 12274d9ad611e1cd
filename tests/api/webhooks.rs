//! The daemon's HTTP routes over real HTTP: secret, malformed bodies, unknown calls, health.

use std::sync::Arc;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use pregonero::store::Store;
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
            ("api", "API sim"),
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

crate::on_both_backends!(control_requests_must_be_for_our_instance_and_our_calls);

/// `api` must be our instance, and `ID` the call of the attempt `userdata` names; a settled call
/// takes no further keys. Each refusal is a valid command and changes nothing.
async fn control_requests_must_be_for_our_instance_and_our_calls(db: Db) {
    use pregonero::store::Gate;
    let Some(test_db) = helpers::fresh_db(db, "webhooks::our_calls").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let toml = "kind = \"reminder\"\ncaller_id = \"+34910000000\"\n[reminder]\nmessage = \"Tiene cita el {cita}. Pulse 1 para confirmar.\"\ncall_before = \"24h\"\n";
    let cita = (chrono::Utc::now() + chrono::TimeDelta::hours(6))
        .with_timezone(&chrono_tz::Europe::Madrid)
        .format("%d/%m/%Y %H:%M");
    helpers::campaign(
        root.path(),
        "citas",
        toml,
        "lista.csv",
        &format!("telefono;cita\n600111222;{cita}\n"),
    );
    let config = helpers::config(&test_db.url, root.path());
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    // The test launches the one contact itself, so the dialer has nothing to do.
    let now = chrono::Utc::now().timestamp_millis();
    let claims = app
        .store()
        .claim_due("citas", now, 1, &|_| Gate::Launch)
        .await
        .unwrap();
    assert_eq!(claims.len(), 1);
    let attempt = claims[0].attempt_id;
    app.store()
        .mark_launched(attempt, "111.1", now)
        .await
        .unwrap();
    let (control, _) = app.webhook_urls();
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));
    let http = reqwest::Client::new();
    let userdata = attempt.to_string();
    let post = |fields: Vec<(&'static str, String)>| {
        let http = http.clone();
        let control = control.clone();
        async move {
            let r = http.post(&control).form(&fields).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let start = |api: &str, id: &str| {
        vec![
            ("ID", id.to_string()),
            ("api", api.to_string()),
            ("userdata", userdata.clone()),
            ("statuscall", "ANSWER".to_string()),
        ]
    };

    // Another instance, or none with a command it answers: refused with a hangup, nothing
    // stored.
    let mut no_api = start("", "111.1");
    no_api.extend([
        ("command", "speak".to_string()),
        ("userfield", "x".to_string()),
    ]);
    for fields in [start("API other", "111.1"), no_api] {
        let (status, body) = post(fields.clone()).await;
        assert_eq!(
            (status, body["command"].as_str()),
            (403, Some("hangup")),
            "{fields:?}"
        );
    }
    // No api and no command context (seen while a `dial` rings): an empty 200, nothing stored.
    let (status, body) = post(start("", "111.1")).await;
    assert_eq!((status, body), (200, serde_json::json!({})));
    // Our instance, but another call's id for this attempt: refused.
    let (status, body) = post(start("API sim", "999.9")).await;
    assert_eq!((status, body["command"].as_str()), (403, Some("hangup")));
    let store = Store::connect(&test_db.url).await.unwrap();
    let contact = store
        .contact("citas", "+34600111222")
        .await
        .unwrap()
        .unwrap();
    assert!(store
        .events_of(contact.contact_id)
        .await
        .unwrap()
        .is_empty());

    // The real call: the reminder's menu; the key is taken.
    let (status, body) = post(start("api sim", "111.1")).await;
    assert_eq!(
        (status, body["command"].as_str()),
        (200, Some("speak_getdtmf")),
        "{body}"
    );
    let mut key = start("API sim", "111.1");
    key.extend([
        ("command", "speak_getdtmf".to_string()),
        ("status", "OK".to_string()),
        ("statuscode", "200".to_string()),
        ("dtmf", "1".to_string()),
        ("userfield", body["userfield"].as_str().unwrap().to_string()),
    ]);
    let (status, _) = post(key.clone()).await;
    assert_eq!(status, 200);
    let mut end = start("API sim", "111.1");
    end[3].1 = "CANCEL".into();
    end.push(("durationcallanswered", "9".to_string()));
    assert_eq!(post(end).await.0, 200);
    let settled = store
        .contact("citas", "+34600111222")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(settled.state, "confirmed");
    let events = store.events_of(contact.contact_id).await.unwrap().len();

    // A replay of the "cancel" key after the call ended changes nothing.
    key.iter_mut().find(|(k, _)| *k == "dtmf").unwrap().1 = "2".into();
    let (status, body) = post(key).await;
    assert_eq!((status, body["command"].as_str()), (200, Some("hangup")));
    let after = store
        .contact("citas", "+34600111222")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.state, "confirmed");
    assert_eq!(
        store.events_of(contact.contact_id).await.unwrap().len(),
        events
    );
    store.close().await;
    stop.cancel();
    running.await.unwrap().unwrap();
}

crate::on_both_backends!(the_source_allowlist_and_the_request_timeout_hold);

/// `server.allow_from` refuses other sources (believing `X-Forwarded-For` only from a trusted
/// proxy); a request that does not finish in `server.request_timeout_seconds` gets `hangup`.
async fn the_source_allowlist_and_the_request_timeout_hold(db: Db) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(test_db) = helpers::fresh_db(db, "webhooks::allowlist").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.server.allow_from = vec!["203.0.113.0/24".into()];
    config.server.request_timeout_seconds = 0.3;
    let mut proxied = config.clone();
    proxied.server.trusted_proxies = vec!["127.0.0.1".into()];
    let refused = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let (control, report) = refused.webhook_urls();
    let stop = CancellationToken::new();
    let running = tokio::spawn(refused.run_until_stopped(stop.clone(), false));
    let http = reqwest::Client::new();
    // From 127.0.0.1, not in the list; a forged header from an untrusted peer does not help.
    for url in [&control, &report] {
        let r = http
            .post(url)
            .header("X-Forwarded-For", "203.0.113.5")
            .form(&[("calls", "[]")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{url}");
    }
    stop.cancel();
    running.await.unwrap().unwrap();

    let app = Application::build(proxied, Arc::new(SystemClock))
        .await
        .unwrap();
    let addr = app.addr();
    let (control, report) = app.webhook_urls();
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));
    // Through a trusted proxy, for a client in the list: in.
    let r = http
        .post(&report)
        .header("X-Forwarded-For", "203.0.113.5")
        .form(&[("calls", "[]")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(&report)
        .header("X-Forwarded-For", "198.51.100.7")
        .form(&[("calls", "[]")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A body that never completes: cut at the timeout with a valid command.
    let path = control.trim_start_matches(&format!("http://{addr}"));
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nX-Forwarded-For: 203.0.113.5\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nID=1.1&stat"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut reply = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read(&mut reply))
        .await
        .expect("the server cut the slow request")
        .unwrap();
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("\"command\":\"hangup\""), "{reply}");
    stop.cancel();
    running.await.unwrap().unwrap();
}

crate::on_both_backends!(an_answered_call_that_never_ended_is_not_retried_as_lost);

/// The daemon died after the callee answered (the start request is stored) and before the
/// call ended; no end request or report line ever closes the attempt. After the grace period
/// it is closed as answered from what was stored, never as `lost`: the contact is not called a
/// second time.
async fn an_answered_call_that_never_ended_is_not_retried_as_lost(db: Db) {
    use pregonero::store::Gate;
    let Some(test_db) = helpers::fresh_db(db, "webhooks::answered_never_ended").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let toml = "kind = \"announcement\"\ncaller_id = \"+34910000000\"\nmax_attempts = 3\nretry = { busy = \"1s\", no_answer = \"1s\", failed = \"1s\" }\n[announcement]\nmessage = \"Hola\"\n";
    helpers::campaign(
        root.path(),
        "avisos",
        toml,
        "lista.csv",
        "telefono\n600333444\n",
    );
    let mut config = helpers::config(&test_db.url, root.path());
    config.provider.unknown_grace_seconds = 1;
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let claims = app
        .store()
        .claim_due("avisos", now, 1, &|_| Gate::Launch)
        .await
        .unwrap();
    let attempt = claims[0].attempt_id;
    let (control, _) = app.webhook_urls();
    let running = tokio::spawn(app.run_until_stopped(CancellationToken::new(), true));
    let r = reqwest::Client::new()
        .post(&control)
        .form(&[
            ("ID", "555.5"),
            ("api", "API sim"),
            ("userdata", &attempt.to_string()),
            ("statuscall", "ANSWER"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::timeout(std::time::Duration::from_secs(60), running)
        .await
        .expect("the reaper did not settle the attempt")
        .unwrap()
        .unwrap();
    let store = Store::connect(&test_db.url).await.unwrap();
    let c = store
        .contact("avisos", "+34600333444")
        .await
        .unwrap()
        .unwrap();
    let attempts = store.attempts_of(c.contact_id).await.unwrap();
    assert_eq!(attempts.len(), 1, "called again: {attempts:?}");
    assert_eq!(
        attempts[0].result.as_deref(),
        Some("answered"),
        "{attempts:?}"
    );
    assert!(
        !["pending", "scheduled", "in_progress"].contains(&c.state.as_str()),
        "{}",
        c.state
    );
    store.close().await;
}

crate::on_both_backends!(large_report_batches_are_read_whole);

/// A busy campaign's batch passes 64 KiB (urlencoded) and 2 MiB (multipart): both are read, not
/// refused (the 16 MiB limit of the route is the only one).
async fn large_report_batches_are_read_whole(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "webhooks::large_reports").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let config = helpers::config(&test_db.url, root.path());
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let (_, report) = app.webhook_urls();
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));
    let lines = |n: usize| {
        let v: Vec<serde_json::Value> = (0..n)
            .map(|i| {
                serde_json::json!({"ID": format!("1700000000.{i}"), "startdate": format!("2026-12-01 10:00:00.{i:06}"),
                    "dst": format!("{}", 600000000 + i), "duration": "12", "cost": 0.004, "status": "answer",
                    "src": "0034910000000", "dstname": "España - móvil", "useragent": ""})
            })
            .collect();
        serde_json::to_string(&v).unwrap()
    };
    let http = reqwest::Client::new();
    let small = lines(1000);
    assert!(small.len() > 64 * 1024);
    let r = http
        .post(&report)
        .form(&[("calls", small.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let big = lines(25000);
    assert!(big.len() > 3 * 1024 * 1024);
    let form = reqwest::multipart::Form::new().text("calls", big);
    let r = http.post(&report).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    stop.cancel();
    running.await.unwrap().unwrap();
}
