//! Calling hours through the whole daemon, with an injected clock: nobody is dialed outside the
//! window in their own time zone, and `explain` says why and until when.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pregonero::app::Application;
use pregonero::clock::ManualClock;
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, Db};

crate::on_both_backends!(nobody_is_called_outside_their_own_calling_hours);

const TOML: &str = r#"
kind = "announcement"
caller_id = "+34910000000"
hours = ["mon-fri 09:00-21:00"]
[announcement]
message = "Aviso de la comunidad."
"#;

// A Madrid landline, a Canary Islands landline (one hour behind), a Spanish mobile (could be
// in either zone), and a contact whose CSV names its own zone.
const CSV: &str = "telefono;nombre;timezone\n910000001;Madrid;\n928000002;Canarias;\n600000003;Movil;\n600000004;Londres;Europe/London\n";

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn run_at(db_url: &str, root: &std::path::Path, clock: &ManualClock) {
    let mut config = helpers::config(db_url, root);
    config.calling.hours = vec!["mon-fri 09:00-21:00".into()];
    config.calling.holiday_calendar = "ES".into();
    let script = root.join("script.toml");
    std::fs::write(&script, "\"+34910000001\" = \"answer\"\n\"+34928000002\" = \"answer\"\n\"+34600000003\" = \"answer\"\n\"+34600000004\" = \"answer\"\n").unwrap();
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

async fn states(db_url: &str) -> serde_json::Value {
    helpers::report_json(db_url, "aviso").await["states"].clone()
}

async fn nobody_is_called_outside_their_own_calling_hours(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "windows::nobody_is_called_outside").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    helpers::campaign(root.path(), "aviso", TOML, "lista.csv", CSV);

    // Monday 23 Nov 2026, 23:00 in Madrid: nobody may be called.
    let clock = ManualClock::new(utc("2026-11-23T22:00:00Z"));
    run_at(&test_db.url, root.path(), &clock).await;
    let s = states(&test_db.url).await;
    assert_eq!(s["delivered"], 0, "{s}");
    assert_eq!(s["scheduled"], 4, "{s}");

    // Tuesday 09:30 in Madrid is 08:30 in the Canaries and London: only the Madrid landline.
    clock.advance(Duration::from_secs(10 * 3600 + 30 * 60));
    run_at(&test_db.url, root.path(), &clock).await;
    let s = states(&test_db.url).await;
    assert_eq!(
        (s["delivered"].as_i64(), s["scheduled"].as_i64()),
        (Some(1), Some(3)),
        "{s}"
    );
    let mut config = helpers::config(&test_db.url, root.path());
    config.calling.hours = vec!["mon-fri 09:00-21:00".into()];
    let why = pregonero::commands::explain(&config, "aviso", "928 000 002", clock.now_dt())
        .await
        .unwrap();
    assert!(
        why.contains("fuera de horario hasta 09:00 (Atlantic/Canary)"),
        "{why}"
    );
    // The same reason in English with `[ui] language = "en"`.
    let mut english = config.clone();
    english.ui.language = pregonero::i18n::Lang::En;
    let why = pregonero::commands::explain(&english, "aviso", "928 000 002", clock.now_dt())
        .await
        .unwrap();
    assert!(
        why.contains("outside calling hours until 09:00 (Atlantic/Canary)"),
        "{why}"
    );
    let why = pregonero::commands::explain(&config, "aviso", "600 000 003", clock.now_dt())
        .await
        .unwrap();
    assert!(
        why.contains("Europe/Madrid") && why.contains("Atlantic/Canary"),
        "{why}"
    );

    // Tuesday 10:30 in Madrid: 09:30 everywhere else; everyone is called.
    clock.advance(Duration::from_secs(3600));
    run_at(&test_db.url, root.path(), &clock).await;
    let s = states(&test_db.url).await;
    assert_eq!(
        (s["delivered"].as_i64(), s["scheduled"].as_i64()),
        (Some(4), Some(0)),
        "{s}"
    );
}

crate::on_both_backends!(reminders_are_due_before_the_appointment_and_never_after);

async fn reminders_are_due_before_the_appointment_and_never_after(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "windows::reminders").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let toml = "kind = \"reminder\"\ncaller_id = \"+34910000000\"\n[reminder]\nmessage = \"Hola {nombre}, le recordamos su cita {cita}. Pulse 1 para confirmar o 2 para cancelar.\"\ncall_before = \"24h\"\n";
    // Appointments in the contact's local time: Madrid, and a Canary landline (one hour behind).
    let csv = "telefono;nombre;cita\n910000001;Ana;26/11/2026 10:30\n928000002;Bea;26/11/2026 10:30\n910000003;Carlos;24/11/2026 09:00\n";
    helpers::campaign(root.path(), "citas", toml, "citas.csv", csv);
    let script = root.path().join("script.toml");
    std::fs::write(&script, "\"+34910000001\" = \"answer keys=1\"\n\"+34928000002\" = \"answer keys=2\"\n\"+34910000003\" = \"answer keys=1\"\n").unwrap();
    let run = |clock: ManualClock| {
        let mut config = helpers::config(&test_db.url, root.path());
        config.simulator.script_file = Some(script.clone());
        async move {
            let app = Application::build(config, Arc::new(clock)).await.unwrap();
            tokio::time::timeout(
                Duration::from_secs(60),
                app.run_until_stopped(CancellationToken::new(), true),
            )
            .await
            .expect("run did not end")
            .unwrap();
        }
    };
    // Tuesday 24 Nov, 12:00 Madrid: Carlos's appointment (09:00 today) has passed; the others
    // are due tomorrow 10:30 their time.
    let clock = ManualClock::new(utc("2026-11-24T11:00:00Z"));
    run(clock.clone()).await;
    let s = helpers::report_json(&test_db.url, "citas").await["states"].clone();
    assert_eq!(
        (
            s["expired"].as_i64(),
            s["scheduled"].as_i64(),
            s["confirmed"].as_i64()
        ),
        (Some(1), Some(2), Some(0)),
        "{s}"
    );
    // Wednesday 10:30 Madrid (09:30 UTC): Ana is due; Bea, in the Canaries, at 10:30 her time.
    clock.advance(Duration::from_secs(22 * 3600 + 30 * 60));
    run(clock.clone()).await;
    let s = helpers::report_json(&test_db.url, "citas").await["states"].clone();
    assert_eq!(
        (s["confirmed"].as_i64(), s["scheduled"].as_i64()),
        (Some(1), Some(1)),
        "{s}"
    );
    clock.advance(Duration::from_secs(3600));
    run(clock.clone()).await;
    let s = helpers::report_json(&test_db.url, "citas").await["states"].clone();
    assert_eq!(
        (
            s["confirmed"].as_i64(),
            s["cancelled"].as_i64(),
            s["expired"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{s}"
    );
}
