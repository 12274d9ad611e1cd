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
        agents: false,
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
    // In the operators' language (Spanish by default); nothing breached, nothing marked.
    assert!(
        table.contains("  fuera del horario del destinatario             0\n"),
        "{table}"
    );
    assert!(!table.contains("INCUMPLE"), "{table}");
    assert_eq!(c["breaches"], serde_json::json!([]), "{c}");

    let contacts = ReportArgs {
        contacts: true,
        ..args(Format::Csv)
    };
    let csv = run(&config, &store, &contacts, now).await.unwrap();
    assert!(csv.starts_with('\u{feff}'), "Excel needs the BOM");
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    // Headings and states in Spanish for people; the CSV columns under the names the importer
    // gives them (lower case, no accents); phones marked as text (a leading ').
    assert_eq!(
        lines.next().unwrap(),
        "teléfono;nombre;estado;intentos;último resultado;teclas;última llamada;segundos hablados;coste;nombre;poblacion;telefono"
    );
    let carlos = csv
        .lines()
        .find(|l| l.starts_with("'+34600000003;"))
        .unwrap();
    assert!(
        carlos.starts_with("'+34600000003;Carlos;baja solicitada;1;contestada;9;"),
        "{carlos}"
    );
    assert!(carlos.ends_with(";Carlos;Leganés;'600000003"), "{carlos}");
    let eva = csv
        .lines()
        .find(|l| l.starts_with("'+34600000005;"))
        .unwrap();
    assert!(
        eva.starts_with("'+34600000005;Eva;bloqueado;0;;;;0;0,0000;"),
        "{eva}"
    );
    // Scripts get identifiers, byte for byte.
    let standard = run(
        &config,
        &store,
        &ReportArgs {
            csv_style: CsvStyle::Standard,
            ..contacts.clone()
        },
        now,
    )
    .await
    .unwrap();
    assert!(
        standard.starts_with("phone,name,state,attempts,last_result,dtmf,last_call_at,talk_seconds,cost,nombre,poblacion,telefono\r\n"),
        "{standard}"
    );
    assert!(
        standard.contains("\r\n+34600000003,Carlos,opted_out,1,answered,9,"),
        "{standard}"
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
    assert!(text.contains("→ transferida"), "{text}");
    let missing = ReportArgs {
        contact: Some("+34699999999".into()),
        ..args(Format::Table)
    };
    let e = run(&config, &store, &missing, now).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("+34699999999 no es un contacto de la campaña oferta"),
        "{e}"
    );

    let html = run(&config, &store, &args(Format::Html), now)
        .await
        .unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.matches("<svg").count() >= 4);
    assert!(html.contains("<h2>Cumplimiento</h2>"), "{html}");
    // The contacts table, in its own box, states as people read them.
    let html = run(
        &config,
        &store,
        &ReportArgs {
            contacts: true,
            ..args(Format::Html)
        },
        now,
    )
    .await
    .unwrap();
    assert!(html.contains("<div class=\"scroll\"><table class=\"contacts\">"));
    assert!(html.contains("<td>baja solicitada</td>"), "{html}");
    store.close().await;
    operator_views(db, &test_db.url).await;
}

/// Migration 0008: `v_contacts` and `v_attempts` show readable times beside the milliseconds;
/// on PostgreSQL `vars` is jsonb and every table and column has a comment.
async fn operator_views(db: Db, url: &str) {
    use sqlx::Row;
    match db {
        Db::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let row = sqlx::query(
                "SELECT campaign_title, state, last_call_at_ms, last_call_at_utc FROM v_contacts WHERE phone = '+34600000003'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            let ms: i64 = row.get("last_call_at_ms");
            let utc: String = row.get("last_call_at_utc");
            let expected = chrono::DateTime::from_timestamp_millis(ms)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string();
            assert_eq!(utc, expected);
            assert_eq!(row.get::<String, _>("state"), "opted_out");
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM v_attempts WHERE launched_at_utc LIKE '____-__-__T__:__:__.___Z' AND phone LIKE '+34%'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            assert_eq!(n, 3, "every placed attempt with a readable launch time");
            pool.close().await;
        }
        Db::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let row = sqlx::query(
                "SELECT state, last_call_at_ms, (EXTRACT(EPOCH FROM last_call_at) * 1000)::bigint AS back, vars->>'poblacion' AS town FROM v_contacts WHERE phone = '+34600000003'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            assert_eq!(
                row.get::<Option<i64>, _>("last_call_at_ms"),
                row.get::<Option<i64>, _>("back")
            );
            assert_eq!(
                row.get::<Option<String>, _>("town").as_deref(),
                Some("Leganés")
            );
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM v_attempts WHERE launched_at IS NOT NULL")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            assert_eq!(n, 3);
            // Every column of every table has a comment.
            let missing: Vec<String> = sqlx::query_scalar(
                "SELECT c.table_name || '.' || c.column_name FROM information_schema.columns c \
                 JOIN pg_class t ON t.relname = c.table_name AND t.relkind = 'r' \
                 JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema() \
                 WHERE c.table_schema = current_schema() AND c.table_name NOT LIKE '\\_sqlx%' \
                 AND col_description(t.oid, c.ordinal_position) IS NULL ORDER BY 1",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            assert_eq!(missing, Vec::<String>::new(), "columns without a comment");
            pool.close().await;
        }
    }
}
