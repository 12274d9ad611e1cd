//! Every contact ends in exactly one state of its kind's closed list (product.md): the
//! report's `states` sums to `contacts` for every kind, whatever the callee did — answered and
//! hung up before the first key or before the first reply, let every prompt time out, pressed
//! a key, was busy — on both backends, against the simulator over HTTP.

use chrono::{Duration, Utc};
use pregonero::campaign::Kind;

use crate::helpers::{self, Db};

crate::on_both_backends!(report_states_sum_to_contacts_for_every_kind);

const KINDS: &[(&str, &str)] = &[
    (
        "reminder",
        "message = \"Hola {nombre}, pulse 1 para confirmar.\"\ncall_before = \"72h\"\n",
    ),
    ("announcement", "message = \"Aviso para {nombre}.\"\n"),
    (
        "promotion",
        "message = \"{nombre}, pulse 1 si le interesa.\"\nagent = \"queue:ventas\"\n",
    ),
    (
        "survey",
        "intro = \"Hola.\"\noutro = \"Gracias.\"\n[[survey.questions]]\ntext = \"Del 1 al 5.\"\nkeys = \"1-5\"\n[[survey.questions]]\ntext = \"1 sí, 2 no.\"\nkeys = \"1,2\"\n",
    ),
    ("sales", "message = \"Le atiende un asesor.\"\nqueue = \"ventas\"\n"),
];

/// What each callee does, by the last digit of the number.
const BEHAVIOURS: &[&str] = &[
    "answer hangup=1",
    "answer hangup=2",
    "answer",
    "answer keys=1",
    "answer keys=1,1",
    "busy",
    "noanswer",
];

async fn report_states_sum_to_contacts_for_every_kind(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "states::every_kind").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let appointment = (Utc::now() + Duration::hours(48)).format("%Y-%m-%d %H:%M");
    let mut script = String::new();
    for (k, (kind, section)) in KINDS.iter().enumerate() {
        let toml = format!(
            "kind = \"{kind}\"\ncaller_id = \"+34910000000\"\nmax_attempts = 1\nrequire_consent = false\n[{kind}]\n{section}"
        );
        let mut csv = String::from("telefono;nombre;cita\n");
        for (b, behaviour) in BEHAVIOURS.iter().enumerate() {
            let phone = format!("6000{k}00{b:02}");
            csv.push_str(&format!("{phone};N{b};{appointment}\n"));
            script.push_str(&format!("\"+34{phone}\" = \"{behaviour}\"\n"));
        }
        helpers::campaign(root.path(), kind, &toml, "lista.csv", &csv);
    }
    let script_file = root.path().join("script.toml");
    std::fs::write(&script_file, script).unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.script_file = Some(script_file);
    helpers::run_until_idle(config).await;

    for (kind, _) in KINDS {
        let report = helpers::report_json(&test_db.url, kind).await;
        let contacts = report["contacts"].as_i64().unwrap();
        assert_eq!(contacts, BEHAVIOURS.len() as i64, "{report}");
        let states = report["states"].as_object().unwrap();
        let mut listed: Vec<&str> = states.keys().map(String::as_str).collect();
        let mut closed: Vec<&str> = Kind::parse(kind)
            .unwrap()
            .states()
            .iter()
            .map(|s| s.as_str())
            .collect();
        listed.sort_unstable();
        closed.sort_unstable();
        assert_eq!(listed, closed, "{kind}: the closed list");
        let sum: i64 = states.values().map(|v| v.as_i64().unwrap()).sum();
        assert_eq!(
            sum, contacts,
            "{kind}: states must sum to contacts: {report}"
        );
        for waiting in ["pending", "scheduled", "in_progress"] {
            assert_eq!(states[waiting], 0, "{kind}: {report}");
        }
    }
}
