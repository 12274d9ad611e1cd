//! Events to the customer's systems over real HTTP: a campaign's `[events] url` receives each
//! call's events in order, signed (checked with openssl, an implementation of its own), next to
//! the reminder's `notify_url` (same outbox, payload unchanged); 1,000 events reach a receiver
//! that fails every third request, in order per contact; a 410 stops the campaign's deliveries.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use pregonero::config::NotifyConfig;
use pregonero::notify::Outbox;
use pregonero::store::{ContactRecord, FileImport, Store};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, Db};

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
struct Post {
    path: String,
    key: String,
    signature: Option<String>,
    body: String,
    status: u16,
}

/// A local stand-in for the customer's server: records every POST; answers 500 to every
/// `fail_every`-th request (0: never) and `gone_status` when set.
#[derive(Clone, Default)]
struct Receiver {
    fail_every: u64,
    count: Arc<AtomicU64>,
    gone: bool,
    /// While set, every request gets 503.
    down: Arc<AtomicBool>,
    posts: Arc<Mutex<Vec<Post>>>,
}

impl Receiver {
    async fn start(self) -> (Receiver, String) {
        let app = Router::new()
            .route("/{path}", post(receive))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (self, format!("http://{addr}"))
    }

    fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    /// The accepted event bodies, in the order they were accepted.
    fn accepted(&self, path: &str) -> Vec<(Post, Value)> {
        self.posts()
            .into_iter()
            .filter(|p| p.status == 200 && p.path == path)
            .map(|p| {
                let v = serde_json::from_str(&p.body).unwrap();
                (p, v)
            })
            .collect()
    }
}

async fn receive(
    State(r): State<Receiver>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let n = r.count.fetch_add(1, Ordering::SeqCst) + 1;
    let status = if r.down.load(Ordering::SeqCst) {
        StatusCode::SERVICE_UNAVAILABLE
    } else if r.gone {
        StatusCode::GONE
    } else if r.fail_every > 0 && n % r.fail_every == 0 {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    r.posts.lock().unwrap().push(Post {
        path,
        key: header("idempotency-key").unwrap_or_default(),
        signature: header("pregonero-signature"),
        body,
        status: status.as_u16(),
    });
    status
}

/// `v1` of a `Pregonero-Signature` as openssl computes it: HMAC-SHA256 of "<t>.<body>".
fn openssl_hmac(key: &str, t: &str, body: &str) -> String {
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", key])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl (the independent HMAC implementation) must be installed");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{t}.{body}").as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    // "SHA2-256(stdin)= <hex>" or "(stdin)= <hex>", depending on the version.
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap_or("")
        .to_string()
}

/// An appointment six hours from now, in Madrid's local time as a CSV writes it.
fn appointment() -> String {
    (chrono::Utc::now() + chrono::TimeDelta::hours(6))
        .with_timezone(&chrono_tz::Europe::Madrid)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

crate::on_both_backends!(
    a_campaigns_calls_reach_its_receiver_signed_and_in_order,
    a_thousand_events_arrive_in_order_through_a_receiver_failing_every_third_request,
    a_receiver_answering_410_stops_the_campaigns_deliveries,
    undelivered_events_survive_a_restart,
);

async fn a_campaigns_calls_reach_its_receiver_signed_and_in_order(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "events::signed_in_order").await else {
        return;
    };
    let (receiver, base) = Receiver {
        fail_every: 3,
        ..Receiver::default()
    }
    .start()
    .await;
    let root = tempfile::tempdir().unwrap();
    let cita = appointment();
    let csv = format!(
        "telefono;nombre;cita;historia\n600000001;Ana;{cita};1001\n600000002;Luis;{cita};1002\n600000003;Eva;{cita};1003\n"
    );
    let toml = format!(
        "kind = \"reminder\"\ncaller_id = \"+34910000000\"\nmax_attempts = 1\n[reminder]\nmessage = \"Hola {{nombre}}, su cita del {{cita}}. Pulse 1 para confirmar o 2 para anular.\"\ncall_before = \"24h\"\nnotify_url = \"{base}/notify\"\n[events]\nurl = \"{base}/events\"\ntypes = [\"call.launched\", \"call.answered\", \"call.ended\", \"contact.final\"]\n"
    );
    helpers::campaign(root.path(), "citas", &toml, "citas.csv", &csv);
    let script = root.path().join("script.toml");
    std::fs::write(
        &script,
        "\"+34600000001\" = \"answer keys=1\"\n\"+34600000002\" = \"answer keys=2\"\n\"+34600000003\" = \"busy\"\n",
    )
    .unwrap();
    let secret = "whsec-0123456789abcdef";
    let secret_file = root.path().join("events.key");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.script_file = Some(script);
    config.notify.backoff_seconds = 5.0;
    config.events.secret_file = Some(secret_file);
    helpers::run_until_idle(config).await;

    // Every event, once accepted, per contact in the order the facts happened.
    let accepted = receiver.accepted("events");
    let mut per_contact: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut ids = std::collections::HashSet::new();
    for (post, v) in &accepted {
        assert_eq!(
            post.key,
            v["id"].as_str().unwrap(),
            "Idempotency-Key is the id"
        );
        assert!(ids.insert(post.key.clone()), "accepted once: {}", post.key);
        assert_eq!(v["campaign"], "citas");
        assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{v}");
        let phone = v["contact"]["phone"].as_str().unwrap().to_string();
        assert_eq!(
            v["contact"]["vars"]["historia"],
            format!("100{}", &phone[11..])
        );
        per_contact
            .entry(phone)
            .or_default()
            .push(v["type"].as_str().unwrap().to_string());
    }
    let call = [
        "call.launched",
        "call.answered",
        "call.ended",
        "contact.final",
    ];
    assert_eq!(per_contact["+34600000001"], call);
    assert_eq!(per_contact["+34600000002"], call);
    assert_eq!(
        per_contact["+34600000003"],
        ["call.launched", "call.ended", "contact.final"],
        "a busy line is never answered"
    );
    let ended = |phone: &str| {
        accepted
            .iter()
            .find(|(_, v)| v["type"] == "call.ended" && v["contact"]["phone"] == phone)
            .map(|(_, v)| v["data"].clone())
            .unwrap()
    };
    assert_eq!(ended("+34600000001")["outcome"], "confirmed");
    assert_eq!(ended("+34600000002")["dtmf"], "2");
    assert_eq!(ended("+34600000003")["result"], "busy");
    let last = accepted
        .iter()
        .rfind(|(_, v)| v["contact"]["phone"] == "+34600000001")
        .unwrap();
    assert_eq!(last.1["data"]["state"], "confirmed");

    // Each signature checks out with openssl, an implementation of its own.
    for post in receiver.posts().iter().filter(|p| p.path == "events") {
        let sig = post.signature.as_deref().expect("signed");
        let (t, v1) = sig
            .strip_prefix("t=")
            .and_then(|s| s.split_once(",v1="))
            .expect("t=…,v1=…");
        let now = chrono::Utc::now().timestamp();
        assert!((now - t.parse::<i64>().unwrap()).abs() < 120, "{sig}");
        assert_eq!(v1, openssl_hmac(secret, t, &post.body), "{}", post.body);
    }
    // Some deliveries were refused (every third request) and retried.
    assert!(receiver.posts().iter().any(|p| p.status == 500));

    // The reminder's notify_url: the same outbox, its payload unchanged, unsigned.
    let notified = receiver.accepted("notify");
    assert_eq!(notified.len(), 3);
    for (post, v) in &notified {
        assert!(post.key.starts_with("pregonero-notify-"));
        assert_eq!(v["idempotency_key"], post.key);
        assert!(v["state"].is_string() && v["phone"].is_string(), "{v}");
        assert!(post.signature.is_none());
    }
    let states: HashMap<String, String> = notified
        .iter()
        .map(|(_, v)| {
            (
                v["phone"].as_str().unwrap().to_string(),
                v["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(states["+34600000001"], "confirmed");
    assert_eq!(states["+34600000002"], "cancelled");
}

const T0: i64 = 1_780_000_000_000;

/// A store with campaign `c1` of `n` contacts and its events receiver at `url`.
async fn campaign_with(db_url: &str, n: usize, url: &str) -> (Store, Vec<i64>) {
    let store = Store::connect(db_url).await.unwrap();
    store
        .upsert_campaign("c1", "announcement", "T", "", T0)
        .await
        .unwrap();
    let contacts: Vec<ContactRecord> = (0..n)
        .map(|i| ContactRecord {
            phone: format!("+3460000{i:04}"),
            name: format!("N{i}"),
            vars: "{}".into(),
            timezone: None,
            appointment_at: None,
        })
        .collect();
    let file = FileImport {
        file_name: "lista.csv".into(),
        hash: "h".into(),
        rows_read: n as u64,
        rejected: 0,
        duplicates: 0,
        expected_rows: n as u64,
    };
    store
        .import_contacts("c1", &file, &contacts, T0)
        .await
        .unwrap();
    let types: Vec<String> = pregonero::store::EVENT_TYPES
        .iter()
        .map(|t| t.to_string())
        .collect();
    store
        .set_event_target("c1", Some((url, &types)), T0)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let c = store
            .contact("c1", &format!("+3460000{i:04}"))
            .await
            .unwrap()
            .unwrap();
        ids.push(c.contact_id);
    }
    (store, ids)
}

/// An outbox task with quick retries (a hundredth of a second, doubling to a tenth).
fn outbox(store: &Store) -> Outbox {
    let config = NotifyConfig {
        max_tries: 50,
        timeout_seconds: 5.0,
        backoff_seconds: 0.01,
        backoff_max_seconds: 0.1,
    };
    Outbox::new(
        store.clone(),
        Arc::new(pregonero::clock::SystemClock),
        &config,
        1.0,
    )
    .unwrap()
}

async fn a_thousand_events_arrive_in_order_through_a_receiver_failing_every_third_request(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "events::thousand").await else {
        return;
    };
    let (receiver, base) = Receiver {
        fail_every: 3,
        ..Receiver::default()
    }
    .start()
    .await;
    let (store, contacts) = campaign_with(&test_db.url, 50, &format!("{base}/events")).await;
    // 20 events per contact, the contacts interleaved: 1,000 rows.
    for seq in 0..20 {
        for (i, contact) in contacts.iter().enumerate() {
            let data = serde_json::json!({"seq": seq, "contact": i});
            assert!(store
                .add_event("c1", *contact, None, "call.ended", &data, T0 + seq)
                .await
                .unwrap());
        }
    }
    let stop = CancellationToken::new();
    let task = tokio::spawn(outbox(&store).run(stop.clone()));
    let all_delivered = helpers::wait_for(Duration::from_secs(60), || {
        let store = store.clone();
        async move {
            store.event_outbox("c1").await.is_ok_and(|rows| {
                rows.len() == 1_000 && rows.iter().all(|r| r.delivered_at.is_some())
            })
        }
    })
    .await;
    stop.cancel();
    task.await.unwrap();
    assert!(all_delivered, "not every event was delivered within 60 s");

    let posts = receiver.posts();
    assert!(
        posts.iter().filter(|p| p.status == 500).count() >= 300,
        "every third request failed"
    );
    let mut seen: HashMap<i64, Vec<i64>> = HashMap::new();
    for (_, v) in receiver.accepted("events") {
        let contact = v["data"]["contact"].as_i64().unwrap();
        seen.entry(contact)
            .or_default()
            .push(v["data"]["seq"].as_i64().unwrap());
    }
    assert_eq!(seen.len(), 50);
    for (contact, seqs) in &seen {
        assert_eq!(
            seqs,
            &(0..20).collect::<Vec<i64>>(),
            "contact {contact}: every event once, in order"
        );
    }
    store.close().await;
}

async fn a_receiver_answering_410_stops_the_campaigns_deliveries(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "events::gone").await else {
        return;
    };
    let (receiver, base) = Receiver {
        gone: true,
        ..Receiver::default()
    }
    .start()
    .await;
    let url = format!("{base}/events");
    let (store, contacts) = campaign_with(&test_db.url, 3, &url).await;
    for contact in &contacts {
        store
            .add_event(
                "c1",
                *contact,
                None,
                "call.ended",
                &serde_json::json!({}),
                T0,
            )
            .await
            .unwrap();
    }
    let outbox = outbox(&store);
    outbox.deliver_due(&CancellationToken::new()).await.unwrap();
    let target = store.event_target("c1").await.unwrap().unwrap();
    assert!(target.stopped_at.is_some(), "{target:?}");
    let rows = store.event_outbox("c1").await.unwrap();
    assert!(
        rows.iter()
            .all(|r| r.gave_up_at.is_some() && r.delivered_at.is_none()),
        "{rows:?}"
    );
    // Nothing more is queued for it, nor sent.
    assert!(!store
        .add_event(
            "c1",
            contacts[0],
            None,
            "call.ended",
            &serde_json::json!({}),
            T0 + 1
        )
        .await
        .unwrap());
    let before = receiver.posts().len();
    assert!(before <= 3);
    outbox.deliver_due(&CancellationToken::new()).await.unwrap();
    assert_eq!(receiver.posts().len(), before);
    store.close().await;
}

async fn undelivered_events_survive_a_restart(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "events::restart").await else {
        return;
    };
    let (receiver, base) = Receiver::default().start().await;
    receiver.down.store(true, Ordering::SeqCst);
    let (store, contacts) = campaign_with(&test_db.url, 2, &format!("{base}/events")).await;
    for (seq, contact) in [(0, contacts[0]), (1, contacts[0]), (2, contacts[1])] {
        let data = serde_json::json!({"seq": seq});
        store
            .add_event("c1", contact, None, "call.ended", &data, T0 + seq)
            .await
            .unwrap();
    }
    // The receiver is down: the first row of each contact fails once, the second waits.
    outbox(&store)
        .deliver_due(&CancellationToken::new())
        .await
        .unwrap();
    let tries: Vec<i64> = store
        .event_outbox("c1")
        .await
        .unwrap()
        .iter()
        .map(|r| r.tries)
        .collect();
    assert_eq!(tries, [1, 0, 1]);
    let refused = receiver.posts().len();
    assert_eq!(refused, 2);
    store.close().await;

    // The next run, with the receiver back, delivers all three, in order per contact.
    receiver.down.store(false, Ordering::SeqCst);
    let store = Store::connect(&test_db.url).await.unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(outbox(&store).run(stop.clone()));
    let delivered = helpers::wait_for(Duration::from_secs(30), || {
        let store = store.clone();
        async move {
            store
                .event_outbox("c1")
                .await
                .is_ok_and(|rows| rows.iter().all(|r| r.delivered_at.is_some()))
        }
    })
    .await;
    stop.cancel();
    task.await.unwrap();
    assert!(delivered, "{:?}", store.event_outbox("c1").await);
    let seqs: Vec<i64> = receiver
        .accepted("events")
        .iter()
        .filter(|(_, v)| v["contact"]["phone"] == "+34600000000")
        .map(|(_, v)| v["data"]["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [0, 1]);
    store.close().await;
}

#[tokio::test]
async fn check_names_each_campaigns_receiver_and_whether_events_are_signed() {
    let root = tempfile::tempdir().unwrap();
    let campaigns = root.path().join("campaigns");
    helpers::campaign(
        &campaigns,
        "avisos",
        "kind = \"announcement\"\ncaller_id = \"+34910000000\"\n[announcement]\nmessage = \"Hola\"\n[events]\nurl = \"https://user:pw@crm.example.com/hooks?token=abc\"\ntypes = [\"call.ended\", \"optout\"]\n",
        "lista.csv",
        "telefono\n600000001\n",
    );
    let key = root.path().join("events.key");
    std::fs::write(&key, "k3y\n").unwrap();
    let toml = root.path().join("pregonero.toml");
    let write_config = |secret: &std::path::Path| {
        std::fs::write(
            &toml,
            format!(
                "[campaigns]\ndir = \"{}\"\n[events]\nsecret_file = \"{}\"\n",
                campaigns.display(),
                secret.display()
            ),
        )
        .unwrap();
    };
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_pregonero"))
            .arg("--config")
            .arg(&toml)
            .arg("check")
            .env_remove("PREGONERO_CONFIG")
            .current_dir(root.path())
            .output()
            .unwrap()
    };
    write_config(&key);
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("  eventos: call.ended, optout a https://crm.example.com (firmados)"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("pw@") && !stdout.contains("token=abc"),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    // A signing key that cannot be read is an error naming the file.
    write_config(&root.path().join("missing.key"));
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("missing.key"), "{stdout}");
}
