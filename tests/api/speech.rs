//! Speech capture over real HTTP against the simulator: transcripts stored with the contact and
//! shown in every report format; interest and opt-out by voice; awkward transcripts (`;`,
//! quotes, emoji, 10 KB) stored as said; on both backends.

use chrono::Utc;
use pregonero::report::cli::{run, Format, ReportArgs};
use pregonero::report::csv::CsvStyle;
use pregonero::store::Store;

use crate::helpers::{self, Db};

crate::on_both_backends!(captures_are_stored_and_shown_in_every_report_format);

const TOML: &str = r#"kind = "promotion"
caller_id = "+34910000000"
require_consent = false

[promotion]
message = "Hola {nombre}. Pulse 1 o diga sí para hablar con un asesor, o diga baja."
agent = "queue:ventas"
interest_words = ["sí", "información", "asesor"]
optout_words = ["no me llame", "baja"]

[[capture]]
prompt = "Díganos en pocas palabras qué necesita."
field = "motivo"
"#;

const CSV: &str =
    "telefono;nombre\n600000001;Ana\n600000002;Bea\n600000003;Carlos\n600000004;Dani\n";

fn args(format: Format) -> ReportArgs {
    ReportArgs {
        campaign: Some("oferta".into()),
        format,
        // Identifiers and plain cells (the excel style's labels and text marks are tested
        // in report::csv).
        csv_style: CsvStyle::Standard,
        contacts: true,
        contact: None,
        compliance: false,
        agents: false,
    }
}

async fn captures_are_stored_and_shown_in_every_report_format(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "speech::captures").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    helpers::campaign(root.path(), "oferta", TOML, "lista.csv", CSV);
    let long = "x".repeat(10_240);
    let script = format!(
        "\"+34600000001\" = 'answer said=Sí,_quiero_INFORMACIÓN|fibra;_\"rápida\"_😀'\n\
         \"+34600000002\" = \"answer said=por_favor_no_me_llame_más\"\n\
         \"+34600000003\" = \"answer keys=1 said=-|!\"\n\
         \"+34600000004\" = \"answer said=asesor|{long}\"\n"
    );
    let script_file = root.path().join("script.toml");
    std::fs::write(&script_file, script).unwrap();
    let key_file = root.path().join("google.key");
    std::fs::write(&key_file, "AIzaTESTKEY\n").unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.script_file = Some(script_file);
    config.voice.google_key_file = Some(key_file);
    helpers::run_until_idle(config.clone()).await;
    let store = Store::connect(&test_db.url).await.unwrap();
    let now = Utc::now();

    let csv = run(&config, &store, &args(Format::Csv), now).await.unwrap();
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        lines.next().unwrap(),
        "phone,name,state,attempts,last_result,dtmf,last_call_at,talk_seconds,cost,nombre,telefono,motivo,respuesta"
    );
    let row = |phone: &str| {
        csv.lines()
            .find(|l| l.starts_with(phone))
            .unwrap_or_else(|| panic!("{phone} in {csv}"))
            .to_string()
    };
    // Interest by voice, then the capture before the transfer; the CSV quotes what needs it.
    let ana = row("+34600000001,");
    assert!(ana.starts_with("+34600000001,Ana,transferred,"), "{ana}");
    assert!(
        ana.ends_with(",\"fibra; \"\"rápida\"\" 😀\",\"Sí, quiero INFORMACIÓN\""),
        "{ana}"
    );
    // Opt-out by voice: the number is on the do-not-call list, nothing more is asked.
    let bea = row("+34600000002,");
    assert!(bea.starts_with("+34600000002,Bea,opted_out,"), "{bea}");
    assert!(bea.ends_with(",,por favor no me llame más"), "{bea}");
    let dnc = store.dnc_list().await.unwrap();
    assert!(dnc.iter().any(|e| e.phone == "+34600000002"), "{dnc:?}");
    // The key path beside the words; nothing understood, then a failure: the call went on.
    let carlos = row("+34600000003,");
    assert!(
        carlos.starts_with("+34600000003,Carlos,transferred,1,answered,1,"),
        "{carlos}"
    );
    assert!(carlos.ends_with(",600000003,,"), "{carlos}");
    // 10 KB stored whole.
    let dani = row("+34600000004,");
    assert!(
        dani.ends_with(&format!(",{long},asesor")),
        "{}",
        &dani[..80]
    );

    let json: serde_json::Value = serde_json::from_str(
        &run(&config, &store, &args(Format::Json), now)
            .await
            .unwrap(),
    )
    .unwrap();
    let by_phone = |p: &str| {
        json.as_array()
            .unwrap()
            .iter()
            .find(|c| c["phone"] == p)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        by_phone("+34600000001")["captures"]["motivo"]["text"],
        "fibra; \"rápida\" 😀"
    );
    assert_eq!(
        by_phone("+34600000003")["captures"]["motivo"]["status"],
        "failed"
    );
    assert_eq!(
        by_phone("+34600000004")["captures"]["motivo"]["text"]
            .as_str()
            .unwrap()
            .len(),
        10_240
    );

    let table = run(&config, &store, &args(Format::Table), now)
        .await
        .unwrap();
    assert!(table.lines().next().unwrap().contains("motivo"), "{table}");
    assert!(table.contains("fibra, \"rápida\" 😀"), "{table}");

    let html = run(&config, &store, &args(Format::Html), now)
        .await
        .unwrap();
    assert!(
        html.contains("<td>fibra; &quot;rápida&quot; 😀</td>")
            || html.contains("<td>fibra; &#34;rápida&#34; 😀</td>"),
        "the transcript, escaped"
    );

    let timeline = ReportArgs {
        contacts: false,
        contact: Some("600000001".into()),
        ..args(Format::Table)
    };
    let t = run(&config, &store, &timeline, now).await.unwrap();
    assert!(t.contains("dijo motivo a las "), "{t}");
    assert!(t.contains("\"fibra, \"rápida\" 😀\""), "{t}");
    let t = run(
        &config,
        &store,
        &ReportArgs {
            format: Format::Json,
            ..timeline
        },
        now,
    )
    .await
    .unwrap();
    let t: serde_json::Value = serde_json::from_str(&t).unwrap();
    assert_eq!(t["captures"][1]["field"], "respuesta", "{t}");
    store.close().await;
}

crate::on_both_backends!(contacts_without_a_valid_consent_are_rejected_with_the_reason);

const CONSENT_TOML: &str = r#"kind = "promotion"
caller_id = "+34910000000"
consent_valid_for = "24 months"

[promotion]
message = "Hola {nombre}. Pulse 1 para hablar con un asesor."
agent = "queue:ventas"
"#;

async fn contacts_without_a_valid_consent_are_rejected_with_the_reason(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "speech::consent").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let today = Utc::now().date_naive();
    let recent = today - chrono::Days::new(30);
    let old = today - chrono::Days::new(800);
    let csv = format!(
        "telefono;nombre;consentimiento;origen_consentimiento\n\
         600000001;Ana;{};web\n\
         600000002;Bea;{};tienda\n\
         600000003;Carlos;;web\n\
         600000004;Dani;{};web\n\
         600000005;Eva;pronto;web\n",
        recent.format("%Y-%m-%d"),
        recent.format("%d/%m/%Y"),
        old.format("%Y-%m-%d"),
    );
    let dir = helpers::campaign(root.path(), "oferta", CONSENT_TOML, "lista.csv", &csv);
    let config = helpers::config(&test_db.url, root.path());
    helpers::run_until_idle(config.clone()).await;
    let rejected = std::fs::read_to_string(dir.join("lista.csv.rejected.csv")).unwrap();
    let line = |phone: &str| {
        rejected
            .lines()
            .find(|l| l.contains(phone))
            .unwrap_or_else(|| panic!("{phone} in {rejected}"))
            .to_string()
    };
    // In Spanish, the default `[ui] language`.
    assert!(
        line("600000003").contains("consentimiento está vacía"),
        "{rejected}"
    );
    assert!(line("600000004").contains("caducó tras el"), "{rejected}");
    assert!(
        line("600000005").contains("\"\"pronto\"\" no es una fecha"),
        "{rejected}"
    );
    assert!(!rejected.contains("600000001") && !rejected.contains("600000002"));
    let store = Store::connect(&test_db.url).await.unwrap();
    let contacts = ReportArgs {
        campaign: Some("oferta".into()),
        ..args(Format::Json)
    };
    let json: serde_json::Value =
        serde_json::from_str(&run(&config, &store, &contacts, Utc::now()).await.unwrap()).unwrap();
    let phones: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["phone"].as_str().unwrap())
        .collect();
    assert_eq!(phones, vec!["+34600000001", "+34600000002"]);
    // The compliance report: no launch without a basis, and where consent came from.
    let compliance = ReportArgs {
        campaign: Some("oferta".into()),
        contacts: false,
        compliance: true,
        ..args(Format::Json)
    };
    let c: serde_json::Value =
        serde_json::from_str(&run(&config, &store, &compliance, Utc::now()).await.unwrap())
            .unwrap();
    assert_eq!(c["launches"], 2, "{c}");
    assert_eq!(c["consent"]["launches_without_basis"], 0, "{c}");
    assert_eq!(c["consent"]["sources"]["web"], 1, "{c}");
    assert_eq!(c["consent"]["sources"]["tienda"], 1, "{c}");
    store.close().await;
}

crate::on_both_backends!(a_number_on_a_hashed_list_is_never_called);

async fn a_number_on_a_hashed_list_is_never_called(db: Db) {
    use sha2::{Digest, Sha256};
    let Some(test_db) = helpers::fresh_db(db, "speech::hashed").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let toml = "kind = \"announcement\"\ncaller_id = \"+34910000000\"\n[announcement]\nmessage = \"Aviso\"\n";
    let csv = "telefono;nombre\n600000001;Ana\n600000002;Bea\n";
    helpers::campaign(root.path(), "aviso", toml, "lista.csv", csv);
    // As distributed: uppercase hex of the number with its +.
    let list = root.path().join("robinson.sha256");
    std::fs::write(&list, format!("{:X}\n", Sha256::digest(b"+34600000002"))).unwrap();
    let config = helpers::config(&test_db.url, root.path());
    let out = pregonero::commands::dnc_import_hashed(&config, &list, Utc::now())
        .await
        .unwrap();
    assert!(
        out.contains("1 huella(s) leída(s), 1 nueva(s) en la lista de exclusión cifrada"),
        "{out}"
    );
    helpers::run_until_idle(config.clone()).await;
    let store = Store::connect(&test_db.url).await.unwrap();
    let json: serde_json::Value = serde_json::from_str(
        &run(
            &config,
            &store,
            &ReportArgs {
                campaign: Some("aviso".into()),
                ..args(Format::Json)
            },
            Utc::now(),
        )
        .await
        .unwrap(),
    )
    .unwrap();
    let state = |p: &str| {
        json.as_array()
            .unwrap()
            .iter()
            .find(|c| c["phone"] == p)
            .map(|c| (c["state"].clone(), c["attempts"].clone()))
            .unwrap()
    };
    assert_eq!(
        state("+34600000002"),
        ("blocked".into(), 0.into()),
        "{json}"
    );
    assert_eq!(state("+34600000001").1, 1, "{json}");
    // Nothing of the list is stored in plain.
    let listed = store.dnc_list().await.unwrap();
    assert!(listed.is_empty(), "{listed:?}");
    store.close().await;
}

crate::on_both_backends!(consent_that_lapses_mid_campaign_stops_the_contact_before_its_launch);

async fn consent_that_lapses_mid_campaign_stops_the_contact_before_its_launch(db: Db) {
    use pregonero::app::Application;
    use pregonero::clock::ManualClock;
    use std::sync::Arc;
    use std::time::Duration;
    let Some(test_db) = helpers::fresh_db(db, "speech::consent_lapses").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let toml = "kind = \"announcement\"\ncaller_id = \"+34910000000\"\nhours = [\"mon-fri 09:00-21:00\"]\nrequire_consent = true\nconsent_valid_for = \"12 months\"\n[announcement]\nmessage = \"Aviso\"\n";
    // Ana's consent is valid through Monday 23 November 2026; Bea's for longer.
    let csv =
        "telefono;nombre;consentimiento\n600000001;Ana;24/11/2025\n600000002;Bea;2026-06-01\n";
    helpers::campaign(root.path(), "aviso", toml, "lista.csv", csv);
    let script = root.path().join("script.toml");
    std::fs::write(
        &script,
        "\"+34600000001\" = \"answer\"\n\"+34600000002\" = \"answer\"\n",
    )
    .unwrap();
    // Monday 23:00 in Madrid: imported (both valid today), nobody called outside the hours.
    let clock = ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2026-11-23T22:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
    );
    let run_at = |clock: ManualClock| {
        let mut config = helpers::config(&test_db.url, root.path());
        config.calling.hours = vec!["mon-fri 09:00-21:00".into()];
        config.simulator.script_file = Some(script.clone());
        async move {
            let app = Application::build(config, Arc::new(clock)).await.unwrap();
            tokio::time::timeout(
                Duration::from_secs(60),
                app.run_until_stopped(tokio_util::sync::CancellationToken::new(), true),
            )
            .await
            .expect("run did not end")
            .unwrap();
        }
    };
    run_at(clock.clone()).await;
    let states = helpers::report_json(&test_db.url, "aviso").await["states"].clone();
    assert_eq!(states["scheduled"], 2, "{states}");
    // Tuesday 10:30 in Madrid (09:30 in the Canaries, where a mobile may be): Ana's consent
    // lapsed overnight; she is stopped before her launch.
    clock.advance(Duration::from_secs(11 * 3600 + 30 * 60));
    run_at(clock.clone()).await;
    let states = helpers::report_json(&test_db.url, "aviso").await["states"].clone();
    assert_eq!(
        (states["expired"].as_i64(), states["delivered"].as_i64()),
        (Some(1), Some(1)),
        "{states}"
    );
    let config = helpers::config(&test_db.url, root.path());
    let why = pregonero::commands::explain(&config, "aviso", "600000001", clock.now_dt())
        .await
        .unwrap();
    assert!(
        why.contains("el consentimiento dado el 2025-11-24 caducó tras el 2026-11-23"),
        "{why}"
    );
    let store = Store::connect(&test_db.url).await.unwrap();
    let json: serde_json::Value = serde_json::from_str(
        &run(
            &config,
            &store,
            &ReportArgs {
                campaign: Some("aviso".into()),
                ..args(Format::Json)
            },
            clock.now_dt(),
        )
        .await
        .unwrap(),
    )
    .unwrap();
    let ana = json
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phone"] == "+34600000001")
        .cloned()
        .unwrap();
    assert_eq!(ana["attempts"], 0, "never launched: {ana}");
    store.close().await;
}
