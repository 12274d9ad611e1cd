//! Callback tasks over real HTTP, with an injected clock: a caller nobody takes makes one task
//! and one `callback.created` event; `callbacks` lists it and the desk shows it; with
//! `[inbound] call_back = true` the contact is due at its next window and the dialer calls it
//! then; an opted-out or confirmed contact is not re-armed; `pregonero simulate --inbound-url`
//! places an inbound call on a running daemon.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pregonero::app::Application;
use pregonero::callbacks::ListFormat;
use pregonero::clock::ManualClock;
use pregonero::i18n::Lang;
use pregonero::store::Store;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, Db};

crate::on_both_backends!(a_caller_nobody_takes_is_called_back_in_the_next_window);

const TOML: &str = r#"
kind = "reminder"
title = "Clínica Sol"
caller_id = "+34910000000"
hours = ["mon-fri 09:00-21:00"]
max_attempts = 1
[reminder]
message = "Pulse 1 para confirmar su cita del {cita} o 2 para anularla."
call_before = "240h"
agent_key = "3"
agent = "desk:ventas"
[inbound]
call_back = true
[events]
url = "RECEIVER"
types = ["callback.created"]
"#;

const CSV: &str = "telefono;nombre;cita\n600000001;Ana;30/11/2026 10:30\n600000002;Luis;30/11/2026 11:00\n600000003;Eva;30/11/2026 12:00\n";

// Ana and Eva do not answer (one attempt: unreachable); Luis confirms.
const SCRIPT: &str = "\"+34600000001\" = \"noanswer\"\n\"+34600000002\" = \"answer keys=1\"\n\"+34600000003\" = \"noanswer\"\n";

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn post(http: &reqwest::Client, url: &str, fields: &[(&str, &str)]) -> Value {
    let r = http.post(url).form(fields).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap_or(Value::Null)
}

/// An inbound call of `src` that rings a ready agent if any (nobody answers), hears the menu and hangs up
/// (with `end`, the end request is sent; without, it is lost).
async fn nobody_takes(http: &reqwest::Client, url: &str, id: &str, src: &str, end: bool) {
    let head = [("ID", id), ("api", "API sim")];
    let start = [
        head.as_slice(),
        &[
            ("typesrc", "did"),
            ("usersrc", src),
            ("src", src),
            ("dst", "34910000000"),
            ("statuscall", ""),
        ],
    ]
    .concat();
    let first = post(http, url, &start).await;
    // With a ready agent of the team the call rings them first (nobody answers); with none,
    // the menu at once.
    let menu = if first["command"] == "dial" {
        let result = [
            head.as_slice(),
            &[
                ("command", "dial"),
                ("userfield", first["userfield"].as_str().unwrap()),
                ("description", "NOANSWER"),
                ("statuscall", "ANSWER"),
            ],
        ]
        .concat();
        post(http, url, &result).await
    } else {
        first
    };
    assert_eq!(menu["command"], "speak_getdtmf", "{menu}");
    if !end {
        return;
    }
    let end = [
        head.as_slice(),
        &[
            ("userfield", menu["userfield"].as_str().unwrap()),
            ("statuscall", "CANCEL"),
            ("durationcall", "25"),
            ("durationcallanswered", "25"),
        ],
    ]
    .concat();
    assert_eq!(post(http, url, &end).await, json!({}));
}

async fn run_idle(db_url: &str, root: &std::path::Path, clock: &ManualClock) {
    let app = Application::build(config(db_url, root), Arc::new(clock.clone()))
        .await
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(60),
        app.run_until_stopped(CancellationToken::new(), true),
    )
    .await
    .expect("run did not end")
    .unwrap();
}

fn config(db_url: &str, root: &std::path::Path) -> pregonero::config::Config {
    let mut config = helpers::config(db_url, root);
    config.calling.hours = vec!["mon-fri 09:00-21:00".into()];
    config.simulator.script_file = Some(root.join("script.toml"));
    config
}

async fn a_caller_nobody_takes_is_called_back_in_the_next_window(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "callbacks::next_window").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    // The events' receiver takes everything (an idle daemon has delivered them all).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver = format!("http://{}/events", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/events", axum::routing::post(|| async { "ok" }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let toml = TOML.replace("RECEIVER", &receiver);
    helpers::campaign(root.path(), "citas", &toml, "citas.csv", CSV);
    std::fs::write(root.path().join("script.toml"), SCRIPT).unwrap();

    // Monday 23 Nov 2026, 10:00 in Madrid: everyone is called once.
    let clock = ManualClock::new(utc("2026-11-23T09:00:00Z"));
    run_idle(&test_db.url, root.path(), &clock).await;
    let store = Store::connect(&test_db.url).await.unwrap();
    let state = |phone: &'static str| {
        let store = store.clone();
        async move { store.contact("citas", phone).await.unwrap().unwrap() }
    };
    assert_eq!(state("+34600000001").await.state, "unreachable");
    assert_eq!(state("+34600000002").await.state, "confirmed");
    assert_eq!(state("+34600000003").await.state, "unreachable");

    // 22:00: the window is closed. Ana and Luis call back and nobody takes them; Eva calls
    // back through the simulator's command line and opts out.
    clock.advance(Duration::from_secs(12 * 3600));
    let app = Application::build(config(&test_db.url, root.path()), Arc::new(clock.clone()))
        .await
        .unwrap();
    let url = app.inbound_url();
    let base = format!("http://{}", app.addr());
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));
    let http = reqwest::Client::new();
    nobody_takes(&http, &url, "in.1", "600000001", true).await;
    // Luis's end request is lost: the callbacks duty ends his call once it is stale
    // (`stale_call_seconds` divided by the simulator's speed: 7.2 s).
    nobody_takes(&http, &url, "in.2", "600000002", false).await;
    clock.advance(Duration::from_secs(10));
    let swept = helpers::wait_for(Duration::from_secs(20), || {
        let store = store.clone();
        async move { store.callbacks(None, true).await.unwrap().len() == 2 }
    })
    .await;
    assert!(swept, "the call without an end request got no task");
    let inbound = url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_pregonero"))
            .args([
                "simulate",
                "--inbound-url",
                &inbound,
                "--call-from",
                "+34600000003",
            ])
            .args(["--to", "+34910000000", "--keys", "9", "--agent-no-answer"])
            .args(["--speed", "1000", "--api", "API sim"])
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        printed.contains("start: src=600000003 dst=34910000000 typesrc=did"),
        "{printed}"
    );
    assert!(
        printed.contains("dtmf=9") && printed.contains("statuscall=CANCEL"),
        "{printed}"
    );
    // On the do-not-call list (her calls had ended: her state stays), and not re-armed.
    let dnc = store.dnc_list().await.unwrap();
    assert!(dnc.iter().any(|e| e.phone == "+34600000003"), "{dnc:?}");
    assert_eq!(state("+34600000003").await.state, "unreachable");

    // One task each for Ana and Luis; only Ana (not reached) is due again, when the window
    // opens on Tuesday: 10:00 in Madrid, 09:00 in the Canaries, where a mobile may be.
    let window = utc("2026-11-24T09:00:00Z").timestamp_millis();
    let ana = state("+34600000001").await;
    assert_eq!((ana.state.as_str(), ana.next_at), ("scheduled", window));
    assert_eq!(state("+34600000002").await.state, "confirmed");
    let listed = pregonero::callbacks::list(
        &store,
        Some("citas"),
        true,
        ListFormat::Json,
        Lang::Es,
        chrono_tz::Europe::Madrid,
    )
    .await
    .unwrap();
    let tasks: Value = serde_json::from_str(&listed).unwrap();
    let seen: Vec<(&str, &str, Option<&str>)> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["phone"].as_str().unwrap(),
                t["team"].as_str().unwrap(),
                t["call_back_at"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("+34600000001", "ventas", Some("2026-11-24T09:00:00Z")),
            ("+34600000002", "ventas", None),
        ]
    );
    let table = pregonero::callbacks::list(
        &store,
        None,
        false,
        ListFormat::Table,
        Lang::Es,
        chrono_tz::Europe::Madrid,
    )
    .await
    .unwrap();
    assert!(table.starts_with("nº"), "{table}");
    let csv = pregonero::callbacks::list(
        &store,
        None,
        true,
        ListFormat::Csv,
        Lang::Es,
        chrono_tz::Europe::Madrid,
    )
    .await
    .unwrap();
    // A Spanish Excel's CSV: BOM, `;`, numbers kept as text (never a formula).
    assert!(csv.starts_with("\u{feff}nº;campaña;teléfono;"), "{csv}");
    assert!(csv.contains(";'+34600000001;Ana;"), "{csv}");
    assert!(
        table.contains("24 nov 2026 10:00") && table.contains("equipo ventas"),
        "{table}"
    );
    let events: Vec<i64> = store
        .event_outbox("citas")
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.event == "callback.created")
        .map(|r| r.contact_id)
        .collect();
    assert_eq!(
        events,
        vec![ana.contact_id, state("+34600000002").await.contact_id]
    );

    // The desk: an agent of the team sees both and marks Luis's done.
    crate::desk::add_agent(&store, "marta", "201", "ventas").await;
    let (cookie, csrf) = crate::desk::login(&http, &base, "marta").await;
    let desk = |h| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let r: Value = http
                .get(format!("{base}/desk/api/callbacks"))
                .headers(h)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["callbacks"].as_array().unwrap().clone()
        }
    };
    let open = desk(crate::desk::headers(&cookie, None)).await;
    assert_eq!(open.len(), 2, "{open:?}");
    assert_eq!(open[0]["title"], "Clínica Sol");
    let r = http
        .post(format!("{base}/desk/api/callbacks/done"))
        .headers(crate::desk::headers(&cookie, Some(&csrf)))
        .json(&json!({"id": open[1]["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(desk(crate::desk::headers(&cookie, None)).await.len(), 1);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    // Tuesday 10:00:30: the dialer calls Ana back (she confirms), and nobody else.
    clock.advance(Duration::from_secs(12 * 3600 + 30));
    let script = "\"+34600000001\" = \"answer keys=1\"\n";
    std::fs::write(root.path().join("script.toml"), script).unwrap();
    run_idle(&test_db.url, root.path(), &clock).await;
    let ana = state("+34600000001").await;
    assert_eq!((ana.state.as_str(), ana.attempts), ("confirmed", 2));
    // Her task is done by that call; Luis's was done by the agent.
    let done: Vec<Option<String>> = store
        .callbacks(Some("citas"), false)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.done_by)
        .collect();
    assert_eq!(
        done,
        [Some("call_back".to_string()), Some("marta".to_string())]
    );
    assert_eq!(state("+34600000002").await.attempts, 1);
    assert_eq!(state("+34600000003").await.attempts, 1);
    store.close().await;
}

crate::on_both_backends!(the_simulator_calls_back_a_share_of_the_numbers_it_rang);

/// `[simulator] callback_rate = 1`: each number rung calls back; nobody takes the calls (no
/// agent, no key), so each becomes a task, and `--exit-when-idle` waits for them.
async fn the_simulator_calls_back_a_share_of_the_numbers_it_rang(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "callbacks::simulator").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let toml = "kind = \"announcement\"\ncaller_id = \"+34910000000\"\n[announcement]\nmessage = \"Aviso.\"\n";
    let csv = "telefono;nombre\n600000001;Ana\n600000002;Luis\n";
    helpers::campaign(root.path(), "aviso", toml, "lista.csv", csv);
    let script = root.path().join("script.toml");
    std::fs::write(
        &script,
        "\"+34600000001\" = \"noanswer\"\n\"+34600000002\" = \"busy\"\n",
    )
    .unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.script_file = Some(script);
    config.simulator.callback_rate = 1.0;
    let app = Application::build(config, Arc::new(pregonero::clock::SystemClock))
        .await
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(60),
        app.run_until_stopped(CancellationToken::new(), true),
    )
    .await
    .expect("run did not end")
    .unwrap();
    let store = Store::connect(&test_db.url).await.unwrap();
    let calls = store.inbound_calls("aviso").await.unwrap();
    assert!(calls.len() >= 2, "{calls:?}");
    assert!(calls
        .iter()
        .all(|c| c.ended_at.is_some() && c.route == "menu"));
    let tasks = store.callbacks(Some("aviso"), true).await.unwrap();
    let mut phones: Vec<&str> = tasks.iter().map(|t| t.phone.as_str()).collect();
    phones.sort();
    assert_eq!(phones, ["+34600000001", "+34600000002"]);
    store.close().await;
}
