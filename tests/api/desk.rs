//! The agent desk over real HTTP, against the simulator: a sales call to `desk:ventas` goes to
//! the ready agent, whose event stream gets the screen pop; the disposition is taken from that
//! agent only; sessions need the cookie, POSTs the CSRF header; a second login ends the first.

use std::sync::Arc;
use std::time::Duration;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use pregonero::store::Store;
use reqwest::header::{HeaderMap, HeaderValue, COOKIE, SET_COOKIE};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, Db};

crate::on_both_backends!(
    a_desk_call_reaches_the_ready_agent_with_its_screen_pop_and_disposition,
    an_agent_who_does_not_pick_up_is_paused_and_the_next_one_takes_the_call,
    after_a_restart_no_agent_stays_on_a_call_that_ended,
);

pub const TOML: &str = r#"
kind = "sales"
title = "Ventas fibra"
caller_id = "+34910000000"
max_attempts = 1
require_consent = false
script = "Buenos días {nombre}: le llamo por su plan {plan}."
wrapup_seconds = 3600
dispositions = ["venta", "no interesado", { name = "volver a llamar", callback = true }]
[sales]
agent = "desk:ventas"
agent_ring_seconds = 20
"#;

pub const CSV: &str = "telefono;nombre;plan\n600000001;Ana Cliente;Fibra 600\n";

pub const PASSWORD: &str = "clave-de-prueba-1";

/// Adds an agent with `PASSWORD`.
pub async fn add_agent(store: &Store, name: &str, ext: &str, team: &str) {
    assert!(store.agent_add(name, ext, team, 0).await.unwrap());
    let hash = pregonero::desk::password::hash(PASSWORD).unwrap();
    assert!(store.agent_set_password(name, &hash).await.unwrap());
}

/// A logged-in agent: (cookie header, CSRF token).
pub async fn login(http: &reqwest::Client, base: &str, name: &str) -> (String, String) {
    let r = http
        .post(format!("{base}/desk/api/login"))
        .json(&json!({"name": name, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "login of {name}");
    let set = r
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    assert!(!set.contains("Secure"), "no TLS here: {set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    (cookie, body["csrf"].as_str().unwrap().to_string())
}

pub fn headers(cookie: &str, csrf: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(COOKIE, HeaderValue::from_str(cookie).unwrap());
    if let Some(c) = csrf {
        h.insert("x-csrf-token", HeaderValue::from_str(c).unwrap());
    }
    h
}

/// The agent's event stream, as JSON values on a channel.
pub async fn events(
    http: &reqwest::Client,
    base: &str,
    cookie: &str,
) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
    let mut r = http
        .get(format!("{base}/desk/api/events"))
        .headers(headers(cookie, None))
        .send()
        .await
        .unwrap();
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

/// The next event of `kind` (others skipped), within `timeout`.
pub async fn next_event(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Value>,
    kind: &str,
    pred: impl Fn(&Value) -> bool,
    timeout: Duration,
) -> Value {
    tokio::time::timeout(timeout, async {
        loop {
            let v = rx.recv().await.expect("the event stream ended");
            if v["type"] == kind && pred(&v) {
                return v;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind} event within {timeout:?}"))
}

async fn a_desk_call_reaches_the_ready_agent_with_its_screen_pop_and_disposition(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "desk::routing").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    // The callee says what they want before the transfer: the agent sees it.
    let toml =
        format!("{TOML}\n[[capture]]\nprompt = \"Díganos qué necesita.\"\nfield = \"motivo\"\n");
    helpers::campaign(root.path(), "ventas", &toml, "lista.csv", CSV);
    let script = root.path().join("script.toml");
    std::fs::write(
        &script,
        "\"+34600000001\" = \"answer said=más_velocidad\"\n",
    )
    .unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.script_file = Some(script);
    config.simulator.speed = 100.0;
    config.server.dashboard_password = Some(secrecy::SecretString::from("operador-1234"));
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let store = app.store().clone();
    // Held until the agent is ready.
    assert!(store
        .set_paused("ventas", true, Some("test"), 0)
        .await
        .unwrap());
    add_agent(&store, "ana", "201", "ventas").await;
    add_agent(&store, "bea", "202", "soporte").await;
    let base = format!("http://{}", app.addr());
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));
    let http = reqwest::Client::new();
    let up = helpers::wait_for(Duration::from_secs(20), || {
        let http = http.clone();
        let url = format!("{base}/desk");
        async move { http.get(url).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    assert!(up, "the daemon did not come up");

    // No session: 401 everywhere.
    for (method, path) in [
        ("POST", "state"),
        ("GET", "events"),
        ("POST", "disposition"),
        ("GET", "me"),
    ] {
        let r = http
            .request(method.parse().unwrap(), format!("{base}/desk/api/{path}"))
            .json(&json!({"state": "ready"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path} without a cookie");
    }
    let (cookie, csrf) = login(&http, &base, "ana").await;
    // A POST without the CSRF header, or with another one, is refused and changes nothing.
    for bad in [None, Some("forged")] {
        let r = http
            .post(format!("{base}/desk/api/state"))
            .headers(headers(&cookie, bad))
            .json(&json!({"state": "ready"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    // A form post (what another site could send) is refused even with the token.
    let r = http
        .post(format!("{base}/desk/api/state"))
        .headers(headers(&cookie, Some(&csrf)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("state=ready")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(
        store.agent("ana").await.unwrap().unwrap().state,
        "logged_out"
    );
    let mut stream = events(&http, &base, &cookie).await;
    let r = http
        .post(format!("{base}/desk/api/state"))
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
        Duration::from_secs(5),
    )
    .await;

    // The campaign dials: the call goes to ana, whose page gets the screen pop.
    store.set_paused("ventas", false, None, 0).await.unwrap();
    let pop = next_event(&mut stream, "pop", |_| true, Duration::from_secs(30)).await;
    let received = pregonero::clock::Clock::now_ms(&SystemClock);
    assert_eq!(pop["contact"]["name"], "Ana Cliente");
    assert_eq!(pop["contact"]["phone"], "+34600000001");
    assert_eq!(pop["contact"]["vars"]["plan"], "Fibra 600");
    assert_eq!(pop["transcripts"]["motivo"], "más velocidad", "{pop}");
    assert_eq!(
        pop["script"],
        "Buenos días Ana Cliente: le llamo por su plan Fibra 600."
    );
    assert_eq!(pop["dispositions"][2]["callback"], true);
    let call = pop["call"].as_i64().unwrap();
    // Within a second of the transfer command (the assignment is written just before it leaves).
    let offered = store.first_offer(call).await.unwrap().unwrap();
    let latency = received - offered;
    eprintln!("screen pop {latency} ms after the transfer command");
    assert!(
        (0..1000).contains(&latency),
        "screen pop after {latency} ms"
    );
    // The agent talks, then the call ends: wrap-up, with the call still theirs.
    next_event(
        &mut stream,
        "state",
        |v| v["state"] == "wrapup",
        Duration::from_secs(30),
    )
    .await;

    // bea (another team) may not dispose of ana's call: 403, nothing stored.
    let (bcookie, bcsrf) = login(&http, &base, "bea").await;
    let r = http
        .post(format!("{base}/desk/api/disposition"))
        .headers(headers(&bcookie, Some(&bcsrf)))
        .json(&json!({"call": call, "disposition": "venta", "note": "mía"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(store.dispositions("ventas").await.unwrap().is_empty());
    // A disposition that the campaign does not offer: 400 naming the valid ones.
    let r = http
        .post(format!("{base}/desk/api/disposition"))
        .headers(headers(&cookie, Some(&csrf)))
        .json(&json!({"call": call, "disposition": "quizá"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("venta, no interesado, volver a llamar"));
    let r = http
        .post(format!("{base}/desk/api/disposition"))
        .headers(headers(&cookie, Some(&csrf)))
        .json(&json!({"call": call, "disposition": "venta", "note": "contrata 600 Mb"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    next_event(
        &mut stream,
        "state",
        |v| v["state"] == "ready",
        Duration::from_secs(5),
    )
    .await;
    let stored = store.dispositions("ventas").await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (
            stored[0].agent.as_str(),
            stored[0].disposition.as_str(),
            stored[0].note.as_str()
        ),
        ("ana", "venta", "contrata 600 Mb")
    );
    let stats = store.agent_stats(Some("ventas")).await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!((stats[0].agent.as_str(), stats[0].calls), ("ana", 1));

    // The disposition is in the report JSON, the contacts report and the timeline.
    let report = helpers::report_json(&test_db.url, "ventas").await;
    assert_eq!(report["dispositions"], json!({"venta": 1}));
    assert_eq!(report["agents"][0]["agent"], "ana");
    assert_eq!(report["agents"][0]["dispositions"], json!({"venta": 1}));
    let table = pregonero::report::contact_table(&store, "ventas", chrono_tz::Europe::Madrid)
        .await
        .unwrap();
    let csv = table.to_csv(pregonero::report::csv::CsvStyle::Standard);
    assert!(csv.lines().next().unwrap().contains("disposition"), "{csv}");
    assert!(csv.contains("venta,ana,contrata 600 Mb"), "{csv}");
    let timeline = pregonero::report::contact_timeline(
        &store,
        "ventas",
        "+34600000001",
        chrono_tz::Europe::Madrid,
    )
    .await
    .unwrap();
    assert_eq!(
        timeline.attempts[0].disposition.as_ref().unwrap()["disposition"],
        "venta"
    );
    assert!(timeline
        .to_table(pregonero::i18n::Lang::En)
        .contains("disposition by ana: venta — contrata 600 Mb"));
    assert!(timeline
        .to_table(pregonero::i18n::Lang::Es)
        .contains("resultado anotado por ana: venta — contrata 600 Mb"));

    // A second login of ana ends the first session.
    let (cookie2, _) = login(&http, &base, "ana").await;
    let me = |c: String| {
        let http = http.clone();
        let base = base.clone();
        async move {
            http.get(format!("{base}/desk/api/me"))
                .headers(headers(&c, None))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(me(cookie.clone()).await, 401);
    assert_eq!(me(cookie2).await, 200);

    // Wrong passwords: 401, then the address waits (429 with Retry-After).
    let wrong = |http: reqwest::Client| {
        let base = base.clone();
        async move {
            http.post(format!("{base}/desk/api/login"))
                .json(&json!({"name": "ana", "password": "nope-nope"}))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(wrong(http.clone()).await.status(), 401);
    let r = wrong(http.clone()).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());

    stop.cancel();
    running.await.unwrap().unwrap();
}

async fn an_agent_who_does_not_pick_up_is_paused_and_the_next_one_takes_the_call(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "desk::no_answer").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    // A wait of 60 s (1.2 s of real time): 30 s of ringing for each agent.
    let toml = TOML.replace("agent_ring_seconds = 20", "agent_ring_seconds = 60");
    helpers::campaign(root.path(), "ventas", &toml, "lista.csv", CSV);
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.speed = 50.0;
    // ana's extension never picks up; bea's answers after 3 s.
    config.simulator.desk.no_answer = vec!["201".into()];
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let store = app.store().clone();
    assert!(store
        .set_paused("ventas", true, Some("test"), 0)
        .await
        .unwrap());
    add_agent(&store, "ana", "201", "ventas").await;
    add_agent(&store, "bea", "202", "ventas").await;
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));
    // ana ready first (idle longest), then bea.
    let now = pregonero::clock::Clock::now_ms(&SystemClock);
    store
        .agent_set_state("ana", "ready", None, now - 2_000)
        .await
        .unwrap();
    store
        .agent_set_state("bea", "ready", None, now - 1_000)
        .await
        .unwrap();
    store.set_paused("ventas", false, None, 0).await.unwrap();
    let done = helpers::wait_for(Duration::from_secs(30), || {
        let store = store.clone();
        async move {
            store
                .agent_stats(Some("ventas"))
                .await
                .unwrap()
                .iter()
                .any(|a| a.agent == "bea" && a.calls == 1)
        }
    })
    .await;
    assert!(done, "bea did not take the call");
    let ana = store.agent("ana").await.unwrap().unwrap();
    assert_eq!(
        (ana.state.as_str(), ana.reason.as_deref()),
        ("paused", Some("no answer"))
    );
    let stats = store.agent_stats(Some("ventas")).await.unwrap();
    let ana_stats = stats.iter().find(|a| a.agent == "ana").unwrap();
    assert_eq!((ana_stats.calls, ana_stats.missed), (0, 1));
    let connected = helpers::wait_for(Duration::from_secs(30), || {
        let store = store.clone();
        async move {
            store
                .stats("ventas")
                .await
                .unwrap()
                .states
                .get("connected")
                .copied()
                == Some(1)
        }
    })
    .await;
    assert!(connected, "the call was connected to bea");
    stop.cancel();
    running.await.unwrap().unwrap();
}

async fn after_a_restart_no_agent_stays_on_a_call_that_ended(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "desk::restart").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    helpers::campaign(root.path(), "ventas", TOML, "lista.csv", CSV);
    let config = helpers::config(&test_db.url, root.path());
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let store = app.store().clone();
    assert!(store
        .set_paused("ventas", true, Some("test"), 0)
        .await
        .unwrap());
    // Left by the previous run: ana on a call whose attempt is no longer open.
    add_agent(&store, "ana", "201", "ventas").await;
    let now = pregonero::clock::Clock::now_ms(&SystemClock);
    store
        .agent_set_state("ana", "ready", None, now)
        .await
        .unwrap();
    store
        .assign_agent("ventas", 987_654, "ventas", None, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.agent("ana").await.unwrap().unwrap().state, "on_call");
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));
    let freed = helpers::wait_for(Duration::from_secs(15), || {
        let store = store.clone();
        async move { store.agent("ana").await.unwrap().unwrap().state == "ready" }
    })
    .await;
    assert!(freed, "the agent stayed on a call that had ended");
    stop.cancel();
    running.await.unwrap().unwrap();
}
