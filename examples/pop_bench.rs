//! Screen-pop latency (`scripts/bench`, row "screen pop"): the daemon in this process on a
//! SQLite store, with the built-in simulator; `AGENTS` desk agents log in over HTTP, open their
//! event streams (Server-Sent Events) and set themselves ready; a desk sales campaign dials at
//! `RATE` calls per second. Each screen pop's latency is the time from the transfer command
//! (the agent's assignment, written just before the command leaves) to the pop's arrival on
//! the agent's stream, both on this machine's wall clock. Prints one JSON line with p50, p99
//! and the worst of `POPS` pops.
//!
//! `cargo run --release --example pop_bench -- [POPS] [AGENTS] [RATE]`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pregonero::app::Application;
use pregonero::clock::{Clock, SystemClock};
use reqwest::header::{HeaderMap, HeaderValue, COOKIE, SET_COOKIE};
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "clave-de-banco-1";

fn campaign(rate: u32) -> String {
    format!(
        "kind = \"sales\"\ncaller_id = \"+34910000000\"\nmax_attempts = 1\nrequire_consent = false\ncalls_per_second = {rate}\nwrapup_seconds = 0\ndispositions = [\"venta\"]\nscript = \"Buenos días {{nombre}}.\"\n[sales]\nagent = \"desk:banco\"\nagent_ring_seconds = 20\nagents = 1000\n"
    )
}

async fn login(http: &reqwest::Client, base: &str, name: &str) -> anyhow::Result<(String, String)> {
    let r = http
        .post(format!("{base}/desk/api/login"))
        .json(&json!({"name": name, "password": PASSWORD}))
        .send()
        .await?;
    let cookie = r
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| anyhow::anyhow!("no session cookie for {name}"))?
        .to_string();
    let body: Value = r.json().await?;
    let csrf = body["csrf"].as_str().unwrap_or_default().to_string();
    Ok((cookie, csrf))
}

fn headers(cookie: &str, csrf: Option<&str>) -> anyhow::Result<HeaderMap> {
    let mut h = HeaderMap::new();
    h.insert(COOKIE, HeaderValue::from_str(cookie)?);
    if let Some(c) = csrf {
        h.insert("x-csrf-token", HeaderValue::from_str(c)?);
    }
    Ok(h)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let pops: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let agents: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let rate: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);

    let dir = tempfile::tempdir()?;
    let campaigns = dir.path().join("campaigns");
    let folder = campaigns.join("banco");
    std::fs::create_dir_all(&folder)?;
    std::fs::write(folder.join("campaign.toml"), campaign(rate))?;
    let (mut csv, mut script) = (String::from("telefono;nombre\n"), String::new());
    for i in 0..pops {
        let number = format!("6{:08}", 10_000_000 + i);
        csv.push_str(&format!("{number};Cliente {i}\n"));
        // Every callee answers after a second.
        script.push_str(&format!("\"+34{number}\" = \"answer ring=1\"\n"));
    }
    std::fs::write(folder.join("lista.csv"), csv)?;
    let script_file = dir.path().join("script.toml");
    std::fs::write(&script_file, script)?;

    let mut config = pregonero::config::Config::default();
    config.database.url = format!("sqlite://{}", dir.path().join("bench.db").display());
    config.campaigns.dir = campaigns;
    config.server.listen = "127.0.0.1:0".into();
    config.server.secret = Some(SecretString::from("bench-secret-0123456789"));
    config.limits.calls_per_second = f64::from(rate);
    config.limits.max_concurrent_calls = 400;
    config.calling.hours = vec!["mon-sun 00:00-24:00".into()];
    config.calling.holiday_calendar = "none".into();
    // Real time for the callees: a call rings 1 s, the agent answers at once and talks 1 s.
    config.simulator.speed = 1.0;
    config.simulator.script_file = Some(script_file);
    config.simulator.desk.answer_after_seconds = 0.0;
    config.simulator.desk.talk_seconds = 1.0;

    let app = Application::build(config, Arc::new(SystemClock)).await?;
    let store = app.store().clone();
    store.set_paused("banco", true, Some("bench"), 0).await?;
    let hash = pregonero::desk::password::hash(PASSWORD)?;
    for i in 0..agents {
        let name = format!("agente{i}");
        store
            .agent_add(&name, &format!("{}", 300 + i), "banco", 0)
            .await?;
        store.agent_set_password(&name, &hash).await?;
    }
    let base = format!("http://{}", app.addr());
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));

    let http = reqwest::Client::new();
    let received: Arc<Mutex<HashMap<i64, i64>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.get(format!("{base}/desk")).send().await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "the daemon did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for i in 0..agents {
        let (cookie, csrf) = login(&http, &base, &format!("agente{i}")).await?;
        let mut stream = http
            .get(format!("{base}/desk/api/events"))
            .headers(headers(&cookie, None)?)
            .send()
            .await?;
        let seen = received.clone();
        tokio::spawn(async move {
            let mut buf = String::new();
            while let Ok(Some(chunk)) = stream.chunk().await {
                let at = SystemClock.now_ms();
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let event: String = buf.drain(..end + 2).collect();
                    for line in event.lines() {
                        let Some(data) = line.strip_prefix("data:") else {
                            continue;
                        };
                        let Ok(v) = serde_json::from_str::<Value>(data.trim()) else {
                            continue;
                        };
                        if let (Some("pop"), Some(call)) = (v["type"].as_str(), v["call"].as_i64())
                        {
                            seen.lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .insert(call, at);
                        }
                    }
                }
            }
        });
        http.post(format!("{base}/desk/api/state"))
            .headers(headers(&cookie, Some(&csrf))?)
            .json(&json!({"state": "ready"}))
            .send()
            .await?
            .error_for_status()?;
    }
    store.set_paused("banco", false, None, 0).await?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(120 + pops as u64 / 5);
    while received.lock().unwrap_or_else(|e| e.into_inner()).len() < pops {
        anyhow::ensure!(
            Instant::now() < deadline,
            "not every call reached an agent in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let got = received.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut latencies = Vec::with_capacity(got.len());
    for (call, at) in &got {
        if let Some(offered) = store.first_offer(*call).await? {
            latencies.push(at - offered);
        }
    }
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(30), running).await;
    latencies.sort_unstable();
    println!(
        "{}",
        json!({
            "pops": latencies.len(),
            "agents": agents,
            "transfers_per_second": got.len() as f64 / secs,
            "p50_ms": percentile(&latencies, 0.5),
            "p99_ms": percentile(&latencies, 0.99),
            "max_ms": latencies.last().copied().unwrap_or(0),
        })
    );
    Ok(())
}
