//! Scheduler tick cost against the size of the campaign: `scripts/bench` runs this on two
//! databases it imported (10 k and 1 M contacts) and prints the ratio.
//!
//! `PREGONERO_BENCH_DB=sqlite:///…/x.db PREGONERO_BENCH_CAMPAIGN=big cargo bench --bench tick`
//!
//! A tick is what the dialer does for every launch slot: claim the next due contact of the
//! campaign (gate, attempt row, state change, in one transaction), plus the `next_due` look-up
//! the idle check makes. Prints `tick_us <mean> <p99>` (microseconds).

use std::time::Instant;

use pregonero::store::{Gate, Store};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (Ok(url), Ok(campaign)) = (
        std::env::var("PREGONERO_BENCH_DB"),
        std::env::var("PREGONERO_BENCH_CAMPAIGN"),
    ) else {
        eprintln!("tick: set PREGONERO_BENCH_DB and PREGONERO_BENCH_CAMPAIGN (scripts/bench does)");
        return;
    };
    let ticks: usize = std::env::var("PREGONERO_BENCH_TICKS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2000);
    let store = match Store::connect(&url).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tick: cannot open {url}: {e}");
            std::process::exit(1);
        }
    };
    let now = chrono::Utc::now().timestamp_millis();
    let mut times = Vec::with_capacity(ticks);
    for _ in 0..ticks {
        let t = Instant::now();
        let claimed = store
            .claim_due(&campaign, now, 1, &|_| Gate::Launch)
            .await
            .map(|c| c.len())
            .unwrap_or(0);
        let _ = store.next_due(&campaign).await;
        times.push(t.elapsed().as_secs_f64() * 1e6);
        if claimed == 0 {
            eprintln!("tick: nothing left to claim");
            break;
        }
    }
    store.close().await;
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    let p99 = times
        .get((times.len() as f64 * 0.99) as usize)
        .copied()
        .unwrap_or(0.0);
    println!("tick_us {mean:.1} {p99:.1}");
}
