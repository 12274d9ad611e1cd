//! The real service's unknowns, played by the simulator: the dialer keeps its pace when the
//! provider sends no end-of-call request (after our `hangup`, or for a call nobody answered) and
//! no report line for a share of calls.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{self, Db};

const TOML: &str = r#"
kind = "announcement"
caller_id = "+34910000000"
max_attempts = 2
retry = { busy = "1m", no_answer = "1m", failed = "1m", unreachable = "1m" }
[announcement]
message = "Hola {nombre}."
"#;

fn csv(n: u32) -> String {
    let mut s = "telefono;nombre\n".to_string();
    for i in 1..=n {
        s.push_str(&format!("6000001{i:02};Socio {i}\n"));
    }
    s
}

/// Runs the campaign on a fresh database with these simulator switches; the report and the
/// time it took.
async fn run(
    db: Db,
    name: &str,
    drop_end_requests: f64,
    drop_reports: f64,
) -> Option<(Value, Duration)> {
    let test_db = helpers::fresh_db(db, name).await?;
    let root = tempfile::tempdir().unwrap();
    helpers::campaign(root.path(), "socios", TOML, "socios.csv", &csv(40));
    let mut config = helpers::config(&test_db.url, root.path());
    config.limits.calls_per_second = 10.0;
    config.limits.max_concurrent_calls = 4;
    config.simulator.drop_end_requests = drop_end_requests;
    config.simulator.drop_reports = drop_reports;
    let started = Instant::now();
    helpers::run_until_idle(config).await;
    let took = started.elapsed();
    Some((helpers::report_json(&test_db.url, "socios").await, took))
}

crate::on_both_backends!(throughput_holds_when_the_provider_sends_no_end_request);

async fn throughput_holds_when_the_provider_sends_no_end_request(db: Db) {
    let name = "unknowns::throughput_holds";
    let Some((base, base_took)) = run(db, &format!("{name}_base"), 0.0, 0.0).await else {
        return;
    };
    // No end request ever: slots are freed by our `hangup` and by the ring-time bound; the
    // report lines still tell how unanswered calls ended, so every contact ends as it did.
    let (silent, silent_took) = run(db, &format!("{name}_silent"), 1.0, 0.0).await.unwrap();
    // Half the end requests and half the report lines lost: answered calls keep their outcome.
    let (lossy, lossy_took) = run(db, &format!("{name}_lossy"), 0.5, 0.5).await.unwrap();
    println!(
        "40 contacts, 4 slots, 10 calls/s: all ends {:.1} s, no end request {:.1} s, half the ends and reports lost {:.1} s",
        base_took.as_secs_f64(),
        silent_took.as_secs_f64(),
        lossy_took.as_secs_f64()
    );
    assert_eq!(silent["states"], base["states"], "{silent}\n{base}");
    for r in [&base, &silent, &lossy] {
        for open in ["pending", "scheduled", "in_progress"] {
            assert_eq!(r["states"][open], 0, "{r}");
        }
    }
    for outcome in ["delivered", "no_response"] {
        assert_eq!(
            lossy["states"][outcome], base["states"][outcome],
            "{lossy}\n{base}"
        );
    }
    assert_eq!(
        lossy["attempts"]["answered"], base["attempts"]["answered"],
        "{lossy}\n{base}"
    );
    // Before, every silent call held its slot for `stale_call_seconds` (two minutes here): four
    // of them stopped the campaign. Now the pace is the pace of a well-behaved provider, give or
    // take the reaper's turn (2 s) and the ring-time bound.
    for took in [silent_took, lossy_took] {
        assert!(
            took < base_took * 2 + Duration::from_secs(10),
            "{took:?} against {base_took:?} with every end request"
        );
    }
}

/// `check` warns about a campaign whose `caller_id` is not one of the account's numbers,
/// comparing digits however each side is written.
#[test]
fn check_warns_about_a_caller_id_that_is_not_the_accounts() {
    let root = tempfile::tempdir().unwrap();
    let campaigns = root.path().join("campaigns");
    helpers::campaign(&campaigns, "socios", TOML, "socios.csv", &csv(1));
    let run = |caller_ids: &str| {
        let toml = root.path().join("pregonero.toml");
        std::fs::write(
            &toml,
            format!(
                "[campaigns]\ndir = \"{}\"\n[provider]\ncaller_ids = [{caller_ids}]\n",
                campaigns.display()
            ),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pregonero"))
            .arg("--config")
            .arg(&toml)
            .arg("check")
            .env_remove("PREGONERO_CONFIG")
            .current_dir(root.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let warning = "aviso: el caller_id +34910000000 no está entre los caller_ids de [provider]";
    let out = run("\"0034910000001\"");
    assert!(out.contains(warning), "{out}");
    for ours in ["\"0034 910 000 000\"", "\"34910000000\", \"+34910000001\""] {
        let out = run(ours);
        assert!(!out.contains("aviso: el caller_id"), "{ours}: {out}");
    }
    // Without the list there is nothing to compare with.
    assert!(!run("").contains("aviso: el caller_id"));
}

crate::on_both_backends!(a_bare_request_while_a_transfer_starts_does_not_cut_it);

/// The provider sends a request with no `api` and no command context as a transfer starts:
/// answered `{}`, it changes nothing, and every callee reaches an agent.
async fn a_bare_request_while_a_transfer_starts_does_not_cut_it(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "unknowns::bare_request").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let toml = "kind = \"sales\"\ncaller_id = \"+34910000000\"\nmax_attempts = 1\nrequire_consent = false\n[sales]\nagent = \"extension:200\"\nagents = 3\n";
    helpers::campaign(
        root.path(),
        "ventas",
        toml,
        "lista.csv",
        "telefono\n600000201\n600000202\n600000203\n",
    );
    let script = root.path().join("script.toml");
    std::fs::write(
        &script,
        "\"+34600000201\" = \"answer\"\n\"+34600000202\" = \"answer\"\n\"+34600000203\" = \"answer\"\n[agents]\ncount = 3\nbridge = 0.5\ntalk = 5\n",
    )
    .unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.script_file = Some(script);
    config.simulator.speed = 50.0;
    config.simulator.bare_requests = true;
    helpers::run_until_idle(config).await;
    let r = helpers::report_json(&test_db.url, "ventas").await;
    assert_eq!(r["states"]["connected"], 3, "{r}");
}
