//! Events delivered per second to a local receiver (`scripts/bench`, row "events"): a SQLite
//! store with `CONTACTS` contacts and `EVENTS` events queued in its outbox, the daemon's own
//! outbox task ([`pregonero::notify::Outbox`], signing each event) POSTing them to an axum
//! receiver on loopback that answers 200; the rate is the events marked delivered per second
//! of wall time. Also measured: events written to the outbox per second (one transaction each,
//! as a fact's own transaction writes its event), and end to end: `EVENTS` more events written
//! one by one while the outbox delivers them, from the first write to the last delivery.
//!
//! `cargo run --release --example events_bench -- [EVENTS] [CONTACTS]`
//!
//! `events_bench receive ADDR` only runs the receiver, for a daemon's outbox to deliver to
//! (`POST /events` answers 200; `GET /count` says how many were received), as `scripts/bench`
//! does to measure the control URL while events are delivered.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use pregonero::config::NotifyConfig;
use pregonero::notify::Outbox;
use pregonero::store::{ContactRecord, FileImport, Store};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

const T0: i64 = 1_780_000_000_000;

/// CPU seconds (user + system) this process has used, from /proc/self/stat (0 elsewhere): on a
/// busy machine the rate per CPU second says more than the rate per wall second.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at its closing parenthesis.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; 100 Hz.
    (ticks(11) + ticks(12)) / 100.0
}

/// The receiver: `POST /events` counts and answers 200, `GET /count` says how many came.
fn receiver(received: Arc<AtomicU64>) -> Router {
    let read = received.clone();
    Router::new()
        .route(
            "/events",
            post(move |body: axum::body::Bytes| {
                let received = received.clone();
                async move {
                    let _ = body.len();
                    received.fetch_add(1, Ordering::Relaxed);
                    "ok"
                }
            }),
        )
        .route(
            "/count",
            axum::routing::get(move || {
                let read = read.clone();
                async move { read.load(Ordering::Relaxed).to_string() }
            }),
        )
}

/// Serves the receiver alone on `addr` until killed.
async fn receive(addr: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, receiver(Arc::default())).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("receive") {
        let addr = args.nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
        return receive(&addr).await;
    }
    let events: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let contacts: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);

    let received = Arc::new(AtomicU64::new(0));
    let app = receiver(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/events", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir()?;
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("b.db").display())).await?;
    store
        .upsert_campaign("c1", "announcement", "bench", "", T0)
        .await?;
    let list: Vec<ContactRecord> = (0..contacts)
        .map(|i| ContactRecord {
            phone: format!("+346{i:08}"),
            name: format!("N{i}"),
            vars: r#"{"cita":"2026-12-03 10:30"}"#.into(),
            timezone: None,
            appointment_at: None,
        })
        .collect();
    let file = FileImport {
        file_name: "b.csv".into(),
        hash: "b".into(),
        rows_read: contacts as u64,
        rejected: 0,
        duplicates: 0,
        expected_rows: contacts as u64,
    };
    store.import_contacts("c1", &file, &list, T0).await?;
    let types: Vec<String> = pregonero::store::EVENT_TYPES
        .iter()
        .map(|t| t.to_string())
        .collect();
    store
        .set_event_target("c1", Some((url.as_str(), &types)), T0)
        .await?;
    let mut ids = Vec::with_capacity(contacts);
    for c in &list {
        if let Some(d) = store.contact("c1", &c.phone).await? {
            ids.push(d.contact_id);
        }
    }
    let queued = Instant::now();
    for i in 0..events {
        let data = serde_json::json!({"attempt": 1, "result": "answered", "seq": i});
        store
            .add_event(
                "c1",
                ids[i % ids.len()],
                None,
                "call.ended",
                &data,
                T0 + i as i64,
            )
            .await?;
    }
    let written_secs = queued.elapsed().as_secs_f64();
    eprintln!("queued {events} events for {contacts} contacts in {written_secs:.2} s");

    if std::env::var("EVENTS_BENCH_PROBE").is_ok() {
        let t = Instant::now();
        let due = store.due_deliveries(T0 + 10_000_000_000, 512).await?;
        eprintln!(
            "probe: {} due rows read in {:.1} ms",
            due.len(),
            t.elapsed().as_secs_f64() * 1e3
        );
        let ids: Vec<i64> = due.iter().map(|d| d.id).collect();
        let t = Instant::now();
        store.deliveries_done(&ids, T0).await?;
        eprintln!("probe: marked in {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    }
    let config = NotifyConfig::default();
    let outbox = Outbox::new(
        store.clone(),
        Arc::new(pregonero::clock::SystemClock),
        &config,
        1.0,
    )?
    .with_secret(Some(SecretString::from("bench-key")));
    let stop = CancellationToken::new();
    let started = Instant::now();
    let cpu = cpu_seconds();
    let task = tokio::spawn(outbox.run(stop.clone()));
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let left = store.next_delivery_at().await?;
        if left.is_none() {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("not delivered within 600 s");
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;

    // End to end: written one by one while the outbox (still running) delivers them.
    let e2e = Instant::now();
    for i in 0..events {
        let data = serde_json::json!({"attempt": 2, "result": "answered", "seq": i});
        store
            .add_event(
                "c1",
                ids[i % ids.len()],
                None,
                "call.ended",
                &data,
                T0 + (events + i) as i64,
            )
            .await?;
    }
    while store.next_delivery_at().await?.is_some() {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if e2e.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("not delivered within 600 s");
        }
    }
    let e2e_secs = e2e.elapsed().as_secs_f64();
    stop.cancel();
    let _ = task.await;
    let posts = received.load(Ordering::Relaxed);
    println!(
        "{{\"events\": {events}, \"contacts\": {contacts}, \"posts\": {posts}, \"seconds\": {secs:.3}, \"per_second\": {:.0}, \"cpu_seconds\": {cpu:.2}, \"per_cpu_second\": {:.0}, \"written_per_second\": {:.0}, \"end_to_end_per_second\": {:.0}}}",
        events as f64 / secs,
        events as f64 / cpu.max(0.01),
        events as f64 / written_secs.max(1e-9),
        events as f64 / e2e_secs.max(1e-9)
    );
    Ok(())
}
