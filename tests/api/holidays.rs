//! Holidays of the callee's region through the whole daemon, with an injected clock: nobody is
//! dialed on a holiday of their region, `explain` names the holiday and where the region came
//! from, the compliance report's regional-holiday row reads 0; and a mobile whose possible
//! zones share no window is called in the campaign's zone instead of being expired.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pregonero::app::Application;
use pregonero::clock::ManualClock;
use pregonero::report::cli::{run, Format, ReportArgs};
use pregonero::store::Store;
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, Db};

crate::on_both_backends!(nobody_is_called_on_a_holiday_of_their_region);

const TOML: &str =
    "kind = \"announcement\"\ncaller_id = \"+34910000000\"\n[announcement]\nmessage = \"Aviso.\"\n";
const EVENING: &str = "kind = \"announcement\"\ncaller_id = \"+34910000000\"\nhours = [\"mon-fri 20:00-21:00\"]\n[announcement]\nmessage = \"Aviso.\"\n";

// A Madrid landline, a Barcelona landline, a mobile in the province of Barcelona (by its
// column), a mobile with a Madrid postal code, and a mobile with no region.
const CSV: &str = "telefono;nombre;provincia;código postal\n910000001;Madrid;;\n930000002;Barcelona;;\n600000003;Movil BCN;Barcelona;\n600000004;Movil MAD;;28001\n600000005;Movil;;\n";

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn config(db_url: &str, root: &std::path::Path) -> pregonero::config::Config {
    let mut config = helpers::config(db_url, root);
    config.calling.hours = vec!["mon-fri 09:00-21:00".into()];
    config.calling.holiday_calendar = "ES".into();
    config
}

async fn run_at(db_url: &str, root: &std::path::Path, clock: &ManualClock) {
    let mut config = config(db_url, root);
    let script = root.join("script.toml");
    let lines: String = [
        "+34910000001",
        "+34930000002",
        "+34600000003",
        "+34600000004",
        "+34600000005",
        "+34600000006",
    ]
    .iter()
    .map(|p| format!("\"{p}\" = \"answer\"\n"))
    .collect();
    std::fs::write(&script, lines).unwrap();
    config.simulator.script_file = Some(script);
    let app = Application::build(config, Arc::new(clock.clone()))
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

async fn states(db_url: &str, campaign: &str) -> serde_json::Value {
    helpers::report_json(db_url, campaign).await["states"].clone()
}

async fn compliance(db_url: &str, root: &std::path::Path, now: DateTime<Utc>) -> serde_json::Value {
    let store = Store::connect(db_url).await.unwrap();
    let args = ReportArgs {
        campaign: Some("aviso".into()),
        format: Format::Json,
        csv_style: pregonero::report::csv::CsvStyle::Excel,
        contacts: false,
        contact: None,
        compliance: true,
        agents: false,
    };
    let text = run(&config(db_url, root), &store, &args, now)
        .await
        .unwrap();
    store.close().await;
    serde_json::from_str(&text).unwrap()
}

async fn nobody_is_called_on_a_holiday_of_their_region(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "holidays::regional").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    helpers::campaign(root.path(), "aviso", TOML, "lista.csv", CSV);
    helpers::campaign(
        root.path(),
        "tarde",
        EVENING,
        "lista.csv",
        "telefono\n600000006\n",
    );

    // Friday 11 September 2026, 10:00 in Madrid (09:00 in the Canaries): Catalonia's day.
    let clock = ManualClock::new(utc("2026-09-11T08:00:00Z"));
    run_at(&test_db.url, root.path(), &clock).await;
    let s = states(&test_db.url, "aviso").await;
    assert_eq!(
        (s["delivered"].as_i64(), s["scheduled"].as_i64()),
        (Some(3), Some(2)),
        "{s}"
    );
    let c = compliance(&test_db.url, root.path(), clock.now_dt()).await;
    assert_eq!(c["launches"], 3, "{c}");
    assert_eq!(c["launches_on_regional_holiday"], 0, "{c}");
    assert_eq!(c["launches_outside_window"], 0, "{c}");
    let cfg = config(&test_db.url, root.path());
    let why = pregonero::commands::explain(&cfg, "aviso", "930 000 002", clock.now_dt())
        .await
        .unwrap();
    assert!(why.contains("Fiesta Nacional de Cataluña"), "{why}");
    assert!(
        why.contains("región CT (Barcelona, por el prefijo del fijo)"),
        "{why}"
    );
    let why = pregonero::commands::explain(&cfg, "aviso", "600 000 003", clock.now_dt())
        .await
        .unwrap();
    assert!(why.contains("de la columna provincia"), "{why}");
    // The evening campaign's mobile waits for 20:00 in Madrid; it is not expired.
    let s = states(&test_db.url, "tarde").await;
    assert_eq!(
        (s["scheduled"].as_i64(), s["expired"].as_i64()),
        (Some(1), Some(0)),
        "{s}"
    );
    let why = pregonero::commands::explain(&cfg, "tarde", "600 000 006", clock.now_dt())
        .await
        .unwrap();
    assert!(
        why.contains("se le llama en la zona de la campaña (Europe/Madrid)"),
        "{why}"
    );

    // 20:30 in Madrid: the evening mobile is called.
    clock.advance(Duration::from_secs(10 * 3600 + 30 * 60));
    run_at(&test_db.url, root.path(), &clock).await;
    let s = states(&test_db.url, "tarde").await;
    assert_eq!(s["delivered"], 1, "{s}");

    // Monday 14 September, 10:00 in Madrid: Barcelona is called too.
    clock.advance(Duration::from_secs(2 * 86400 + 13 * 3600 + 30 * 60));
    run_at(&test_db.url, root.path(), &clock).await;
    let s = states(&test_db.url, "aviso").await;
    assert_eq!(s["delivered"], 5, "{s}");
    let c = compliance(&test_db.url, root.path(), clock.now_dt()).await;
    assert_eq!(c["launches"], 5, "{c}");
    assert_eq!(c["launches_on_regional_holiday"], 0, "{c}");
}
