//! Reminder campaigns end to end over real HTTP, driven by the simulator's scripted callees:
//! every key path of the menu, a refused command (`Command not found`), a hang-up in the middle
//! of a prompt, transfers that connect or fail, and the `notify_url` outbox delivering each
//! final outcome to a receiver that fails first, and across a daemon restart.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use pregonero::store::Store;
use serde_json::Value;

use crate::helpers::{self, Db};

/// A local stand-in for the customer's server: records every POST; answers 500 to the first
/// delivery of each idempotency key when `fail_first`, and 503 to all while `down`.
#[derive(Clone, Default)]
struct Receiver {
    fail_first: bool,
    down: Arc<AtomicBool>,
    seen: Arc<Mutex<HashSet<String>>>,
    /// (idempotency key, body, status answered)
    posts: Arc<Mutex<Vec<(String, Value, u16)>>>,
}

impl Receiver {
    async fn start(self) -> (Receiver, String) {
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        // Credentials in the URL must never reach a log line.
        (self, format!("http://user:s3cret@{addr}/hook?token=abc"))
    }

    fn posts(&self) -> Vec<(String, Value, u16)> {
        self.posts.lock().unwrap().clone()
    }

    /// Accepted deliveries by phone.
    fn delivered(&self) -> HashMap<String, Value> {
        self.posts()
            .into_iter()
            .filter(|(_, _, status)| *status == 200)
            .map(|(_, body, _)| (body["phone"].as_str().unwrap_or("").to_string(), body))
            .collect()
    }
}

async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> StatusCode {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let status = if r.down.load(Ordering::SeqCst) {
        StatusCode::SERVICE_UNAVAILABLE
    } else if r.fail_first && r.seen.lock().unwrap().insert(key.clone()) {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    r.posts.lock().unwrap().push((key, body, status.as_u16()));
    status
}

/// An appointment six hours from now, in Madrid's local time as a CSV writes it.
fn appointment() -> String {
    (chrono::Utc::now() + chrono::TimeDelta::hours(6))
        .with_timezone(&chrono_tz::Europe::Madrid)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

fn reminder_toml(notify_url: &str) -> String {
    format!(
        "kind = \"reminder\"\ncaller_id = \"+34910000000\"\nmax_attempts = 2\nretry = {{ busy = \"1m\", no_answer = \"1m\", failed = \"1m\", unreachable = \"1m\" }}\n[reminder]\nmessage = \"Hola {{nombre}}, le recordamos su cita del {{cita}}. Pulse 1 para confirmar, 2 para anular o 3 para hablar con recepción.\"\ncall_before = \"24h\"\nagent_key = \"3\"\nagent = \"extension:200\"\nnotify_url = \"{notify_url}\"\n"
    )
}

/// How many control requests of this kind (`error`, `end`…) the daemon stored.
async fn events_of_kind(url: &str, kind: &str) -> i64 {
    use sqlx::Connection;
    let sql = "SELECT COUNT(*) FROM call_events WHERE kind = 'KIND'".replace("KIND", kind);
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(&sql).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(&sql).fetch_one(&mut c).await.unwrap()
    }
}

crate::on_both_backends!(every_reminder_key_path_ends_right_and_is_notified);

async fn every_reminder_key_path_ends_right_and_is_notified(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "reminders::key_paths").await else {
        return;
    };
    let (receiver, url) = Receiver {
        fail_first: true,
        ..Receiver::default()
    }
    .start()
    .await;
    let root = tempfile::tempdir().unwrap();
    let cita = appointment();
    let rows: Vec<String> = (1..=8)
        .map(|i| format!("60000000{i};P{i};{cita};{}", 1000 + i))
        .collect();
    let csv = format!("telefono;nombre;cita;historia\n{}\n", rows.join("\n"));
    helpers::campaign(
        root.path(),
        "citas",
        &reminder_toml(&url),
        "citas.csv",
        &csv,
    );
    let script = root.path().join("script.toml");
    std::fs::write(
        &script,
        [
            "\"+34600000001\" = \"answer keys=1\"",     // confirm
            "\"+34600000002\" = \"answer keys=2\"",     // cancel
            "\"+34600000003\" = \"answer keys=t,t,t\"", // silence: 3 prompts, no_response
            "\"+34600000004\" = \"answer keys=7,1\"",   // wrong key, menu again, confirm
            "\"+34600000005\" = \"answer keys=3\"",     // agent, transfer connects
            "\"+34600000006\" = \"answer keys=3 transfer=fail\"", // agent, nobody answers
            "\"+34600000007\" = \"answer hangup=1\"",   // hangs up during the first prompt
            "\"+34600000008\" = \"answer refuse=1\"",   // provider refuses the first command
        ]
        .join("\n"),
    )
    .unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.script_file = Some(script);
    config.notify.backoff_seconds = 5.0;
    helpers::run_until_idle(config).await;

    let r = helpers::report_json(&test_db.url, "citas").await;
    let s = &r["states"];
    assert_eq!(
        ["confirmed", "cancelled", "transferred", "no_response"].map(|k| s[k].as_i64()),
        [Some(2), Some(1), Some(1), Some(4)],
        "{r}"
    );
    assert_eq!(
        r["attempts"]["total"], 8,
        "an answered call is not retried: {r}"
    );
    let store = Store::connect(&test_db.url).await.unwrap();
    let state_of = |phone: &'static str| {
        let store = store.clone();
        async move {
            let c = store.contact("citas", phone).await.unwrap().unwrap();
            let a = store.attempts_of(c.contact_id).await.unwrap();
            (c.state, a.last().and_then(|a| a.dtmf.clone()))
        }
    };
    let expect = [
        ("+34600000001", "confirmed", Some("1")),
        ("+34600000002", "cancelled", Some("2")),
        ("+34600000003", "no_response", None),
        ("+34600000004", "confirmed", Some("71")),
        ("+34600000005", "transferred", Some("3")),
        ("+34600000006", "no_response", Some("3")),
        ("+34600000007", "no_response", None),
        ("+34600000008", "no_response", None),
    ];
    for (phone, state, dtmf) in expect {
        let (got, digits) = state_of(phone).await;
        assert_eq!((got.as_str(), digits.as_deref()), (state, dtmf), "{phone}");
    }
    assert_eq!(
        events_of_kind(&test_db.url, "error").await,
        1,
        "the refused command came back as one error request, answered with hangup"
    );

    // Every final outcome reached the receiver, after one refused delivery each.
    let delivered = receiver.delivered();
    assert_eq!(delivered.len(), 8, "{:?}", receiver.posts());
    for (phone, state, dtmf) in expect {
        let body = &delivered[phone];
        assert_eq!(body["campaign"], "citas");
        assert_eq!(body["state"], state, "{body}");
        assert_eq!(body["dtmf"].as_str(), dtmf, "{body}");
        assert_eq!(body["attempts"], 1, "{body}");
        assert_eq!(
            body["vars"]["historia"],
            format!("10{}", &phone[10..]),
            "{body}"
        );
        assert!(
            body["time"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{body}"
        );
    }
    let posts = receiver.posts();
    assert!(posts
        .iter()
        .all(|(key, body, _)| key.starts_with("pregonero-notify-")
            && body["idempotency_key"] == *key));
    assert_eq!(posts.iter().filter(|p| p.2 == 500).count(), 8);
    let outbox = store.event_outbox("citas").await.unwrap();
    assert_eq!(outbox.len(), 8);
    assert!(
        outbox
            .iter()
            .all(|o| o.delivered_at.is_some() && o.tries == 1 && o.gave_up_at.is_none()),
        "{outbox:?}"
    );
    store.close().await;
}

crate::on_both_backends!(an_undelivered_notification_survives_a_restart);

async fn an_undelivered_notification_survives_a_restart(db: Db) {
    use pregonero::app::Application;
    let Some(test_db) = helpers::fresh_db(db, "reminders::restart").await else {
        return;
    };
    let (receiver, url) = Receiver::default().start().await;
    receiver.down.store(true, Ordering::SeqCst);
    let root = tempfile::tempdir().unwrap();
    let csv = format!("telefono;nombre;cita\n600000001;Ana;{}\n", appointment());
    helpers::campaign(
        root.path(),
        "citas",
        &reminder_toml(&url),
        "citas.csv",
        &csv,
    );
    let script = root.path().join("script.toml");
    std::fs::write(&script, "\"+34600000001\" = \"answer keys=2\"\n").unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.script_file = Some(script);
    // 60 simulated seconds: 60 ms between the first tries at this speed.
    config.notify.backoff_seconds = 60.0;

    // First run: the call ends `cancelled`, the receiver is down; stop once a try failed.
    let app = Application::build(config.clone(), Arc::new(pregonero::clock::SystemClock))
        .await
        .unwrap();
    let store = app.store().clone();
    let stop = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn(app.run_until_stopped(stop.clone(), false));
    let failed_once = helpers::wait_for(Duration::from_secs(30), || {
        let store = store.clone();
        async move {
            store
                .event_outbox("citas")
                .await
                .map(|o| o.first().is_some_and(|o| o.tries >= 1))
                .unwrap_or(false)
        }
    })
    .await;
    assert!(failed_once, "the outcome never reached the outbox");
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("shutdown")
        .unwrap()
        .unwrap();
    let store = Store::connect(&test_db.url).await.unwrap();
    let row = store.event_outbox("citas").await.unwrap().remove(0);
    assert_eq!(
        (row.state.as_str(), row.delivered_at, row.gave_up_at),
        ("cancelled", None, None)
    );
    let refused: Vec<String> = receiver.posts().into_iter().map(|p| p.0).collect();
    assert!(!refused.is_empty());

    // Second run: the receiver is back; the row left from the first run is delivered.
    receiver.down.store(false, Ordering::SeqCst);
    helpers::run_until_idle(config).await;
    let delivered = receiver.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered["+34600000001"]["state"], "cancelled");
    let accepted: Vec<String> = receiver
        .posts()
        .into_iter()
        .filter(|p| p.2 == 200)
        .map(|p| p.0)
        .collect();
    assert_eq!(accepted.len(), 1);
    assert_eq!(
        accepted[0], refused[0],
        "the same row (same idempotency key) is delivered"
    );
    let row = store.event_outbox("citas").await.unwrap().remove(0);
    assert!(row.delivered_at.is_some(), "{row:?}");
    let report = helpers::report_json(&test_db.url, "citas").await;
    assert_eq!(report["attempts"]["total"], 1, "nothing was dialed twice");
    store.close().await;
}
