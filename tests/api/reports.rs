//! `pregonero report` after a real promotion campaign (simulator over HTTP): per-contact CSV for
//! Excel, one contact's timeline, the compliance report and the HTML page, on both backends.

use chrono::Utc;
use pregonero::report::cli::{run, Format, ReportArgs};
use pregonero::report::csv::CsvStyle;
use pregonero::store::{DncEntry, Store};

use crate::helpers::{self, Db};

crate::on_both_backends!(reports_of_a_promotion_after_it_ran);

const TOML: &str = "kind = \"promotion\"\ncaller_id = \"+34910000000\"\nrequire_consent = false\n[promotion]\nmessage = \"Hola {nombre}, pulse 1 para hablar con un asesor o 9 para no recibir más llamadas.\"\nagent = \"queue:ventas\"\n";
const CSV: &str = "telefono;nombre;población\n600000001;Ana;Móstoles\n600000002;Bea;Getafe\n600000003;Carlos;Leganés\n600000005;Eva;Alcorcón\n";
const SCRIPT: &str = "\"+34600000001\" = \"answer keys=1\"\n\"+34600000002\" = \"answer\"\n\"+34600000003\" = \"answer keys=9\"\n\"+34600000005\" = \"answer\"\n";

fn args(format: Format) -> ReportArgs {
    ReportArgs {
        campaign: Some("oferta".into()),
        format,
        csv_style: CsvStyle::Excel,
        contacts: false,
        contact: None,
        compliance: false,
    }
}

async fn reports_of_a_promotion_after_it_ran(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "reports::promotion").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    helpers::campaign(root.path(), "oferta", TOML, "lista.csv", CSV);
    let script = root.path().join("script.toml");
    std::fs::write(&script, SCRIPT).unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.script_file = Some(script);
    // Eva is on the do-not-call list before the campaign starts: a hit prevented.
    let store = Store::connect(&test_db.url).await.unwrap();
    store
        .dnc_upsert(
            &[DncEntry {
                phone: "+34600000005".into(),
                until_date: None,
                hours: None,
                source: "cli".into(),
            }],
            Utc::now().timestamp_millis(),
        )
        .await
        .unwrap();
    store.close().await;
    helpers::run_until_idle(config.clone()).await;
    let store = Store::connect(&test_db.url).await.unwrap();
    let now = Utc::now();

    let compliance = ReportArgs {
        compliance: true,
        ..args(Format::Json)
    };
    let c: serde_json::Value =
        serde_json::from_str(&run(&config, &store, &compliance, now).await.unwrap()).unwrap();
    assert_eq!(c["launches"], 3, "{c}");
    assert_eq!(c["launches_outside_window"], 0, "{c}");
    assert_eq!(c["do_not_call_blocked"], 1, "{c}");
    assert_eq!(c["opt_outs"]["count"], 1, "{c}");
    assert_eq!(c["opt_outs"]["not_on_list"], 0, "{c}");
    assert_eq!(c["opt_outs"]["list"][0]["phone"], "+34600000003");
    // The number is on the list before the reply to the key press leaves.
    assert!(
        c["opt_outs"]["max_seconds_to_list"].as_f64().unwrap() <= 0.0,
        "{c}"
    );
    assert_eq!(c["reminders_after_appointment"], 0);
    assert_eq!(c["abandon"]["rate_30d"], 0.0, "no abandoned call: {c}");
    let table = run(
        &config,
        &store,
        &ReportArgs {
            compliance: true,
            ..args(Format::Table)
        },
        now,
    )
    .await
    .unwrap();
    assert!(
        table.contains("outside the callee's window              0"),
        "{table}"
    );

    let contacts = ReportArgs {
        contacts: true,
        ..args(Format::Csv)
    };
    let csv = run(&config, &store, &contacts, now).await.unwrap();
    assert!(csv.starts_with('\u{feff}'), "Excel needs the BOM");
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    // The CSV columns under the names the importer gives them (lower case, no accents).
    assert_eq!(
        lines.next().unwrap(),
        "phone;name;state;attempts;last_result;dtmf;last_call_at;talk_seconds;cost;nombre;poblacion;telefono"
    );
    let carlos = csv
        .lines()
        .find(|l| l.starts_with("+34600000003;"))
        .unwrap();
    assert!(
        carlos.starts_with("+34600000003;Carlos;opted_out;1;answered;9;"),
        "{carlos}"
    );
    assert!(carlos.ends_with(";Carlos;Leganés;600000003"), "{carlos}");
    let eva = csv
        .lines()
        .find(|l| l.starts_with("+34600000005;"))
        .unwrap();
    assert!(
        eva.starts_with("+34600000005;Eva;blocked;0;;;;0;0,0000;"),
        "{eva}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &run(
            &config,
            &store,
            &ReportArgs {
                contacts: true,
                ..args(Format::Json)
            },
            now,
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 4);

    let timeline = ReportArgs {
        contact: Some("600 00 00 03".into()),
        ..args(Format::Json)
    };
    let t: serde_json::Value =
        serde_json::from_str(&run(&config, &store, &timeline, now).await.unwrap()).unwrap();
    assert_eq!(t["phone"], "+34600000003");
    assert_eq!(t["state"], "opted_out");
    let events = t["attempts"][0]["events"].as_array().unwrap();
    assert!(events.iter().any(|e| e["dtmf"] == "9"), "{t}");
    assert!(events.iter().any(|e| e["kind"] == "start"), "{t}");
    let ana = ReportArgs {
        contact: Some("+34600000001".into()),
        ..args(Format::Table)
    };
    let text = run(&config, &store, &ana, now).await.unwrap();
    assert!(text.contains("transferred"), "{text}");
    let missing = ReportArgs {
        contact: Some("+34699999999".into()),
        ..args(Format::Table)
    };
    let e = run(&config, &store, &missing, now).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("is not a contact of campaign oferta"),
        "{e}"
    );

    let html = run(&config, &store, &args(Format::Html), now)
        .await
        .unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.matches("<svg").count() >= 4);
    assert!(html.contains("<h2>Compliance</h2>"));
    store.close().await;
}
