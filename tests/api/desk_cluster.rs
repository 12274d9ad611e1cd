//! The desk behind a load balancer: on PostgreSQL two daemons on one database, an agent's
//! requests answered by either, and what one daemon produces (a state change, a screen pop
//! larger than a notification can carry, a newer login) reaching the event stream held by the
//! other. On SQLite one daemon holds the file: the same requests all go to it.

use std::sync::Arc;
use std::time::Duration;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::desk::{add_agent, events, headers, login, next_event, CSV, TOML};
use crate::helpers::{self, Db};

crate::on_both_backends!(
    an_agent_is_served_by_any_daemon_and_gets_events_produced_by_another,
    a_page_refreshes_its_state_when_the_live_updates_connection_comes_back,
);

/// A daemon: its base URL, and the task running it until `stop`.
struct Daemon {
    base: String,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start(app: Application, stop: &CancellationToken) -> Daemon {
    let base = format!("http://{}", app.addr());
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));
    let http = reqwest::Client::new();
    let up = helpers::wait_for(Duration::from_secs(20), || {
        let http = http.clone();
        let url = format!("{base}/desk");
        async move { http.get(url).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    assert!(up, "the daemon did not come up");
    Daemon { base, running }
}

const OPERATOR: &str = "operador-1234";

/// A Server-Sent Events response as JSON values on a channel.
async fn sse(mut r: reqwest::Response) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
    assert_eq!(r.status(), 200);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = String::new();
        while let Ok(Some(chunk)) = r.chunk().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                for line in event.lines() {
                    if let Some(data) = line.strip_prefix("data:") {
                        if let Ok(v) = serde_json::from_str::<Value>(data.trim()) {
                            let _ = tx.send(v);
                        }
                    }
                }
            }
        }
    });
    rx
}

/// The next agents snapshot of the dashboard's stream that `pred` accepts, within 10 s.
async fn next_agents(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Value>,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let v = rx.recv().await.expect("the dashboard's stream ended");
            if pred(&v) {
                return v;
            }
        }
    })
    .await
    .expect("no such agents snapshot within 10 s")
}

/// Status of `GET /desk/api/me` with that cookie.
async fn me(http: &reqwest::Client, base: &str, cookie: &str) -> u16 {
    http.get(format!("{base}/desk/api/me"))
        .headers(headers(cookie, None))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Daemon B has the campaign loaded (it dials, answers its calls' control requests and so
/// produces the screen pop); daemon A has none. On SQLite, A is B.
async fn an_agent_is_served_by_any_daemon_and_gets_events_produced_by_another(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "desk_cluster::any_daemon").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    // A column long enough for the pop to exceed a PostgreSQL notification (8000 bytes).
    let notes: String = vec!["nota larga"; 1000].join(", ");
    let csv = CSV
        .replace("plan\n", "plan;notas\n")
        .replace("Fibra 600\n", &format!("Fibra 600;\"{notes}\"\n"));
    helpers::campaign(root.path(), "ventas", TOML, "lista.csv", &csv);
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.speed = 100.0;
    config.server.dashboard_password = Some(OPERATOR.into());
    let app_b = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let store = app_b.store().clone();
    assert!(store
        .set_paused("ventas", true, Some("test"), 0)
        .await
        .unwrap());
    add_agent(&store, "ana", "201", "ventas").await;
    let stop = CancellationToken::new();
    let b = start(app_b, &stop).await;
    let empty = tempfile::tempdir().unwrap();
    let a = match db {
        Db::Sqlite => None,
        Db::Postgres => {
            let mut config = helpers::config(&test_db.url, empty.path());
            config.server.dashboard_password = Some(OPERATOR.into());
            let app_a = Application::build(config, Arc::new(SystemClock))
                .await
                .unwrap();
            Some(start(app_a, &stop).await)
        }
    };
    let base_a = a.as_ref().map_or(b.base.clone(), |d| d.base.clone());
    let base_b = b.base.clone();
    let http = reqwest::Client::new();

    // (a) Logged in through A, served by B.
    let (cookie, csrf) = login(&http, &base_a, "ana").await;
    assert_eq!(me(&http, &base_b, &cookie).await, 200);
    let r = http
        .post(format!("{base_b}/desk/api/state"))
        .headers(headers(&cookie, Some("forged")))
        .json(&json!({"state": "ready"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "B checks the CSRF token stored by A");

    // (b) The stream is held by A; B changes the state and then produces the screen pop. The
    // operators' dashboard on A sees the change too.
    let mut stream = events(&http, &base_a, &cookie).await;
    next_event(&mut stream, "state", |_| true, Duration::from_secs(5)).await;
    let mut dashboard = sse(http
        .get(format!("{base_a}/api/agents/events"))
        .basic_auth("operator", Some(OPERATOR))
        .send()
        .await
        .unwrap())
    .await;
    let first = next_agents(&mut dashboard, |_| true).await;
    assert_eq!(first["agents"][0]["state"], "logged_out");
    let asked = std::time::Instant::now();
    let r = http
        .post(format!("{base_b}/desk/api/state"))
        .headers(headers(&cookie, Some(&csrf)))
        .json(&json!({"state": "ready"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    next_event(
        &mut stream,
        "state",
        |v| v["state"] == "ready",
        Duration::from_secs(10),
    )
    .await;
    eprintln!(
        "state change through B reached the page's stream on A {} ms after the request left",
        asked.elapsed().as_millis()
    );
    next_agents(&mut dashboard, |v| v["agents"][0]["state"] == "ready").await;
    store.set_paused("ventas", false, None, 0).await.unwrap();
    // (d) The pop is larger than a notification: it arrives whole.
    let pop = next_event(&mut stream, "pop", |_| true, Duration::from_secs(30)).await;
    assert!(
        pop.to_string().len() > 8000,
        "{} bytes",
        pop.to_string().len()
    );
    assert_eq!(pop["contact"]["name"], "Ana Cliente");
    assert!(
        pop["contact"]["vars"]["notas"] == Value::String(notes.clone()),
        "the long column arrived cut: {} bytes",
        pop["contact"]["vars"]["notas"].as_str().map_or(0, str::len)
    );
    next_event(
        &mut stream,
        "state",
        |v| v["state"] == "on_call",
        Duration::from_secs(10),
    )
    .await;
    // A page reloaded (or told to resync) gets the pop again from a daemon that loaded the
    // campaign (behind a balancer every daemon reads the same campaigns folder).
    let again: Value = http
        .get(format!("{base_b}/desk/api/me"))
        .headers(headers(&cookie, None))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["pop"]["call"], pop["call"]);
    assert!(again["pop"]["contact"]["vars"]["notas"] == Value::String(notes.clone()));

    // (c) A second login through B ends the first session: its stream on A closes, its cookie
    // stops working on both daemons.
    let (cookie2, _) = login(&http, &base_b, "ana").await;
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while stream.recv().await.is_some() {}
    })
    .await;
    assert!(closed.is_ok(), "the first session's stream stayed open");
    assert_eq!(me(&http, &base_a, &cookie).await, 401);
    assert_eq!(me(&http, &base_b, &cookie).await, 401);
    assert_eq!(me(&http, &base_a, &cookie2).await, 200);
    let r = http
        .get(format!("{base_a}/desk/api/events"))
        .headers(headers(&cookie, None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Logout through A ends the newer session's stream held by B.
    let mut stream2 = events(&http, &base_b, &cookie2).await;
    next_event(&mut stream2, "state", |_| true, Duration::from_secs(5)).await;
    let csrf2 = http
        .get(format!("{base_a}/desk/api/me"))
        .headers(headers(&cookie2, None))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["csrf"]
        .as_str()
        .unwrap()
        .to_string();
    let r = http
        .post(format!("{base_a}/desk/api/logout"))
        .headers(headers(&cookie2, Some(&csrf2)))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while stream2.recv().await.is_some() {}
    })
    .await;
    assert!(
        closed.is_ok(),
        "the logged-out session's stream stayed open"
    );
    assert_eq!(me(&http, &base_b, &cookie2).await, 401);

    stop.cancel();
    b.running.await.unwrap().unwrap();
    if let Some(a) = a {
        a.running.await.unwrap().unwrap();
    }
}

/// The listener's connection to PostgreSQL is cut: when it is back, the page is told to fetch
/// its state again, and events flow as before. On SQLite nothing is listened to: events keep
/// flowing in process.
async fn a_page_refreshes_its_state_when_the_live_updates_connection_comes_back(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "desk_cluster::resync").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let app = Application::build(
        helpers::config(&test_db.url, root.path()),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    add_agent(app.store(), "ana", "201", "ventas").await;
    let stop = CancellationToken::new();
    let d = start(app, &stop).await;
    let http = reqwest::Client::new();
    let (cookie, csrf) = login(&http, &d.base, "ana").await;
    let mut stream = events(&http, &d.base, &cookie).await;
    next_event(&mut stream, "state", |_| true, Duration::from_secs(5)).await;
    if let Db::Postgres = db {
        let pool = sqlx::PgPool::connect(&test_db.url).await.unwrap();
        let cut: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(cut, vec![true], "one listener per daemon");
        next_event(&mut stream, "resync", |_| true, Duration::from_secs(15)).await;
        pool.close().await;
    }
    let r = http
        .post(format!("{}/desk/api/state", d.base))
        .headers(headers(&cookie, Some(&csrf)))
        .json(&json!({"state": "paused", "reason": "café"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    next_event(
        &mut stream,
        "state",
        |v| v["state"] == "paused" && v["reason"] == "café",
        Duration::from_secs(10),
    )
    .await;
    stop.cancel();
    d.running.await.unwrap().unwrap();
}
