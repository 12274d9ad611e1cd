//! An announcement campaign end to end: CSV → store → dialer → provider client → simulator →
//! control URL → flow → store → report, with scripted callees.

use serde_json::json;

use crate::helpers::{self, Db};

crate::on_both_backends!(announcement_campaign_runs_to_the_end);

const TOML: &str = r#"
kind = "announcement"
title = "Asamblea"
caller_id = "+34910000000"
max_attempts = 3
retry = { busy = "5m", no_answer = "10m", failed = "10m", unreachable = "10m" }
[announcement]
message = "Hola {nombre}; la asamblea es el {dia}."
repeat_key = "1"
"#;

// Windows-1252 would be read too; here UTF-8 with BOM, `;`, CRLF, a duplicate in another
// format and a garbage number.
const CSV: &str = "\u{feff}Teléfono;Nombre;Día\r\n600 000 001;Ana;lunes\r\n+34 600-000-002;Bea;lunes\r\n0034600000003;Carlos;lunes\r\n34600000004;Dora;lunes\r\n600000005;Eloy;lunes\r\n600000006;Fina;lunes\r\n0034 600 000 001;Ana bis;lunes\r\n12;Nadie;lunes\r\n";

const SCRIPT: &str = r#"
"+34600000001" = ["answer"]
"+34600000002" = ["busy", "answer"]
"+34600000003" = ["noanswer"]
"+34600000004" = ["unreachable"]
"+34600000005" = ["answer hangup=1"]
"+34600000006" = ["answer keys=1,1,1"]
"#;

async fn announcement_campaign_runs_to_the_end(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "e2e::announcement_campaign_runs_to_the_end").await
    else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let dir = helpers::campaign(root.path(), "asamblea", TOML, "socios.csv", CSV);
    let script = root.path().join("script.toml");
    std::fs::write(&script, SCRIPT).unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.script_file = Some(script);
    config.simulator.duplicate_reports = true;
    config.simulator.reorder_reports = true;

    helpers::run_until_idle(config).await;

    let report = helpers::report_json(&test_db.url, "asamblea").await;
    let talk = report["talk_seconds"].as_i64().unwrap();
    let cost = report["cost"].as_f64().unwrap();
    assert!(
        talk > 0 && cost > 0.0,
        "duration and cost come from the call reports: {report}"
    );
    let expected = json!({
        "campaign": "asamblea",
        "kind": "announcement",
        "contacts": 6,
        "states": {"pending": 0, "scheduled": 0, "in_progress": 0, "delivered": 3, "no_response": 1,
                   "unreachable": 1, "invalid_number": 1, "blocked": 0, "expired": 0, "failed": 0},
        // 1 + 2 (busy, answer) + 3 (no answer) + 2 (CHANUNAVAIL twice) + 1 + 1; duplicated and
        // reordered report lines never count an attempt twice.
        "attempts": {"total": 10, "answered": 4, "busy": 1, "no_answer": 3, "failed": 2},
        "talk_seconds": talk,
        "cost": cost,
    });
    assert_eq!(report, expected);
    let rejected = std::fs::read_to_string(dir.join("socios.csv.rejected.csv")).unwrap();
    assert!(
        rejected.contains("Nadie") && rejected.contains("línea 9"),
        "{rejected}"
    );

    // Running again imports nothing new and places no call: the campaign is finished.
    let config = helpers::config(&test_db.url, root.path());
    helpers::run_until_idle(config).await;
    assert_eq!(
        helpers::report_json(&test_db.url, "asamblea").await["attempts"]["total"],
        10
    );
}

crate::on_both_backends!(the_real_provider_never_dials_a_demo_campaign);

async fn the_real_provider_never_dials_a_demo_campaign(db: Db) {
    use pregonero::simulator::{Simulator, SimulatorConfig};
    let Some(test_db) =
        helpers::fresh_db(db, "e2e::the_real_provider_never_dials_a_demo_campaign").await
    else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let demo = TOML.replace("max_attempts = 3", "max_attempts = 3\ndemo = true");
    helpers::campaign(root.path(), "demo", &demo, "socios.csv", CSV);
    let cancel = tokio_util::sync::CancellationToken::new();
    // Stands in for netelip: it would accept every launch.
    let sim = Simulator::start(
        SimulatorConfig {
            control_url: "http://127.0.0.1:9/unused".into(),
            ..SimulatorConfig::default()
        },
        cancel.clone(),
    )
    .await
    .unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.provider.kind = pregonero::config::ProviderKind::Apivoice;
    config.provider.url = sim.launch_url();
    config.provider.token = Some(secrecy::SecretString::from("tok"));
    helpers::run_until_idle(config).await;
    assert!(
        sim.launches().is_empty(),
        "a demo campaign was dialed through the real provider"
    );
    let report = helpers::report_json(&test_db.url, "demo").await;
    assert_eq!(report["states"]["pending"], 6, "{report}");
    cancel.cancel();
}

crate::on_both_backends!(a_promotion_transfers_the_interested_and_blocks_who_opts_out);

async fn a_promotion_transfers_the_interested_and_blocks_who_opts_out(db: Db) {
    use pregonero::store::Store;
    let Some(test_db) = helpers::fresh_db(db, "e2e::promotion").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let toml = "kind = \"promotion\"\ncaller_id = \"+34910000000\"\nrequire_consent = false\n[promotion]\nmessage = \"Hola {nombre}, tenemos una oferta. Pulse 1 para hablar con un asesor o 9 para no recibir más llamadas.\"\nagent = \"queue:ventas\"\n";
    let csv = "telefono;nombre\n600000001;Ana\n600000002;Bea\n600000003;Carlos\n600000004;Dora\n";
    helpers::campaign(root.path(), "oferta", toml, "lista.csv", csv);
    let script = root.path().join("script.toml");
    std::fs::write(
        &script,
        "\"+34600000001\" = \"answer keys=1\"\n\"+34600000002\" = \"answer keys=1 transfer=fail\"\n\"+34600000003\" = \"answer keys=9\"\n\"+34600000004\" = \"answer\"\n",
    )
    .unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.script_file = Some(script);
    helpers::run_until_idle(config).await;
    let r = helpers::report_json(&test_db.url, "oferta").await;
    let s = &r["states"];
    assert_eq!(
        [
            &s["transferred"],
            &s["interested"],
            &s["opted_out"],
            &s["not_interested"]
        ]
        .map(|v| v.as_i64()),
        [Some(1), Some(1), Some(1), Some(1)],
        "{r}"
    );
    let store = Store::connect(&test_db.url).await.unwrap();
    let dnc = store.dnc_list().await.unwrap();
    store.close().await;
    assert_eq!(dnc.len(), 1);
    assert_eq!(dnc[0].phone, "+34600000003");
    assert!(dnc[0].source.starts_with("opt-out"), "{dnc:?}");
}

crate::on_both_backends!(a_survey_stores_each_answer_and_reports_them);

async fn a_survey_stores_each_answer_and_reports_them(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "e2e::survey").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let toml = "kind = \"survey\"\ncaller_id = \"+34910000000\"\n[survey]\nintro = \"Hola {nombre}, dos preguntas.\"\noutro = \"Gracias.\"\n[[survey.questions]]\nid = \"nota\"\ntext = \"Del 1 al 5, ¿cómo nos valora?\"\nkeys = \"1-5\"\n[[survey.questions]]\nid = \"vuelve\"\ntext = \"¿Volvería? 1 sí, 2 no.\"\nkeys = \"1,2\"\n";
    let csv = "telefono;nombre\n600000001;Ana\n600000002;Bea\n600000003;Carlos\n";
    helpers::campaign(root.path(), "encuesta", toml, "lista.csv", csv);
    let script = root.path().join("script.toml");
    // Ana answers both (an invalid 9 first repeats the second question); Bea answers the
    // first and hangs up during the second; Carlos answers 5 and 2.
    std::fs::write(
        &script,
        "\"+34600000001\" = \"answer keys=4,9,1\"\n\"+34600000002\" = \"answer keys=3 hangup=4\"\n\"+34600000003\" = \"answer keys=5,2\"\n",
    )
    .unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.script_file = Some(script);
    helpers::run_until_idle(config).await;
    let r = helpers::report_json(&test_db.url, "encuesta").await;
    assert_eq!(
        (
            r["states"]["completed"].as_i64(),
            r["states"]["partial"].as_i64()
        ),
        (Some(2), Some(1)),
        "{r}"
    );
    assert_eq!(
        r["answers"],
        json!({"nota": {"3": 1, "4": 1, "5": 1}, "vuelve": {"1": 1, "2": 1}}),
        "{r}"
    );
    // The contacts report: a column per question, one key per cell.
    let store = pregonero::store::Store::connect(&test_db.url)
        .await
        .unwrap();
    let table = pregonero::report::contact_table(&store, "encuesta", chrono_tz::UTC)
        .await
        .unwrap();
    store.close().await;
    let csv = table.to_csv(pregonero::report::csv::CsvStyle::Standard);
    let mut lines = csv.lines();
    assert!(
        lines.next().unwrap().contains(",cost,nota,vuelve,"),
        "{csv}"
    );
    let row = |phone: &str| {
        csv.lines()
            .find(|l| l.starts_with(phone))
            .unwrap_or_default()
            .to_string()
    };
    assert!(row("+34600000001,").contains(",4,1,"), "{csv}");
    assert!(row("+34600000002,").contains(",3,,"), "{csv}");
    assert!(row("+34600000003,").contains(",5,2,"), "{csv}");
}

crate::on_both_backends!(sales_never_dial_more_calls_than_agents_and_count_the_abandoned);

/// Each attempt of a contact as (launch, end for the dialer): a transfer's result is answered
/// with `hangup`, which frees the call's slot (and its agent) before the provider's end
/// request arrives; a call without one ends with its end request.
async fn call_spans(store: &pregonero::store::Store, contact_id: i64) -> Vec<(i64, i64)> {
    let events = store.events_of(contact_id).await.unwrap();
    let mut spans = Vec::new();
    for at in store.attempts_of(contact_id).await.unwrap() {
        let ended = at.ended_at.expect("ended");
        let hung_up = events
            .iter()
            .filter(|e| e.attempt_id == at.attempt_id && e.kind != "end")
            .filter(|e| matches!(e.command.as_deref(), Some("dial" | "queue")))
            .map(|e| e.received_at)
            .min();
        spans.push((at.created_at, hung_up.map_or(ended, |h| h.min(ended))));
    }
    spans
}

async fn sales_never_dial_more_calls_than_agents_and_count_the_abandoned(db: Db) {
    use pregonero::store::Store;
    let Some(test_db) = helpers::fresh_db(db, "e2e::sales").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let toml = "kind = \"sales\"\ncaller_id = \"+34910000000\"\nmax_attempts = 1\nrequire_consent = false\n[sales]\nagent = \"extension:200\"\nagents = 2\nagent_ring_seconds = 2\n";
    let phones: Vec<String> = (1..=8).map(|i| format!("+3460000000{i}")).collect();
    let csv = format!(
        "telefono;nombre\n{}\n",
        phones
            .iter()
            .map(|p| format!("{};X", &p[3..]))
            .collect::<Vec<_>>()
            .join("\n")
    );
    helpers::campaign(root.path(), "ventas", toml, "lista.csv", &csv);
    let script = root.path().join("script.toml");
    // Two agents who pick up in half a second and talk 20 s. Six callees wait for them; one
    // hangs up while the transfer rings; for another the agent would take 5 s, over the 2 s
    // the agent's phone rings.
    let mut lines: Vec<String> = phones[..6]
        .iter()
        .map(|p| format!("\"{p}\" = \"answer\""))
        .collect();
    lines.push("\"+34600000007\" = \"answer hangup=1\"".into());
    lines.push("\"+34600000008\" = \"answer bridge=5\"".into());
    lines.push("[agents]\ncount = 2\nbridge = 0.5\ntalk = 20".into());
    std::fs::write(&script, lines.join("\n")).unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.script_file = Some(script);
    // Slower than the other tests: the 2 s ring is 40 ms of real time, so a loaded
    // machine does not turn a prompt pick-up into an abandon.
    config.simulator.speed = 50.0;
    // Room for more calls than agents: only the sales pacing holds them back.
    config.limits.max_concurrent_calls = 8;
    config.limits.calls_per_second = 50.0;
    helpers::run_until_idle(config).await;

    let r = helpers::report_json(&test_db.url, "ventas").await;
    assert_eq!(
        (
            r["states"]["connected"].as_i64(),
            r["states"]["abandoned"].as_i64()
        ),
        (Some(6), Some(2)),
        "{r}"
    );
    let a = &r["abandon"];
    assert_eq!(
        (
            a["answered_30d"].as_i64(),
            a["abandoned_30d"].as_i64(),
            a["rate_30d"].as_f64()
        ),
        (Some(8), Some(2), Some(0.25)),
        "{r}"
    );
    assert_eq!(a["by_day"].as_array().map(Vec::len), Some(1), "{r}");

    // Calls in progress (launch to end) never outnumbered the agents.
    let store = Store::connect(&test_db.url).await.unwrap();
    let mut spans = Vec::new();
    for p in &phones {
        let c = store.contact("ventas", p).await.unwrap().unwrap();
        spans.extend(call_spans(&store, c.contact_id).await);
    }
    store.close().await;
    assert_eq!(spans.len(), 8);
    let most = spans
        .iter()
        .map(|(start, _)| {
            spans
                .iter()
                .filter(|(s, e)| s <= start && start < e)
                .count()
        })
        .max()
        .unwrap();
    assert_eq!(most, 2, "calls in progress at once: {spans:?}");
}

crate::on_both_backends!(sales_learn_that_fewer_agents_are_present_than_the_setting_says);

/// The setting says 4 agents, but only 2 are at their desks. The first transfers nobody takes
/// teach the pacing that 2 are present: from then on it holds 2 calls in progress, and the
/// rest of the list connects instead of being abandoned round after round.
async fn sales_learn_that_fewer_agents_are_present_than_the_setting_says(db: Db) {
    use pregonero::store::Store;
    let Some(test_db) = helpers::fresh_db(db, "e2e::sales_estimate").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let toml = "kind = \"sales\"\ncaller_id = \"+34910000000\"\nmax_attempts = 1\nrequire_consent = false\n[sales]\nagent = \"extension:200\"\nagents = 4\nagent_ring_seconds = 2\n";
    let phones: Vec<String> = (10..=21).map(|i| format!("+346000000{i}")).collect();
    let csv = format!(
        "telefono\n{}\n",
        phones
            .iter()
            .map(|p| p[3..].to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    helpers::campaign(root.path(), "ventas", toml, "lista.csv", &csv);
    let script = root.path().join("script.toml");
    let mut lines: Vec<String> = phones
        .iter()
        .map(|p| format!("\"{p}\" = \"answer\""))
        .collect();
    lines.push("[agents]\ncount = 2\nbridge = 0.5\ntalk = 20".into());
    std::fs::write(&script, lines.join("\n")).unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.script_file = Some(script);
    config.simulator.speed = 50.0;
    config.limits.max_concurrent_calls = 12;
    config.limits.calls_per_second = 50.0;
    helpers::run_until_idle(config).await;

    let r = helpers::report_json(&test_db.url, "ventas").await;
    let connected = r["states"]["connected"].as_i64().unwrap_or(0);
    let abandoned = r["states"]["abandoned"].as_i64().unwrap_or(0);
    assert_eq!(connected + abandoned, 12, "{r}");
    // With the setting alone, every round of 4 would abandon 2 (6 of 12). The first round
    // must lose 2; after that, at most one call launched before the second loss.
    assert!((2..=3).contains(&abandoned), "abandoned {abandoned}: {r}");

    // After the last abandoned call ended, calls in progress never outnumbered the 2 agents.
    let store = Store::connect(&test_db.url).await.unwrap();
    let mut spans = Vec::new();
    let mut last_loss = 0;
    for p in &phones {
        let c = store.contact("ventas", p).await.unwrap().unwrap();
        for (start, end) in call_spans(&store, c.contact_id).await {
            if c.state == "abandoned" {
                last_loss = last_loss.max(end);
            }
            spans.push((start, end));
        }
    }
    store.close().await;
    let later = spans
        .iter()
        .filter(|(start, _)| *start >= last_loss)
        .map(|(start, _)| {
            spans
                .iter()
                .filter(|(s, e)| s <= start && start < e)
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(
        later <= 2,
        "calls in progress after the estimate fell: {later}, {spans:?}"
    );
    assert!(
        spans.iter().filter(|(s, _)| *s >= last_loss).count() >= 8,
        "most of the list is dialled after the estimate fell: {spans:?}"
    );
}
