//! Consent revoked by every path stops every further call: the opt-out key, opt-out words said
//! to a capture, a `dnc` import, and a list sent again with the consent withdrawn (the inbound
//! menu's opt-out writes the same do-not-call list; `inbound::` shows it there).

use std::sync::Arc;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use pregonero::store::Store;

use crate::helpers::{self, Db};

fn toml(extra: &str) -> String {
    format!(
        "kind = \"promotion\"\ncaller_id = \"+34910000000\"\nmax_attempts = 1\n{extra}[promotion]\nmessage = \"Hola {{nombre}}. Pulse 1 para hablar con un asesor o 2 para no recibir más llamadas.\"\ninterest_key = \"1\"\noptout_key = \"2\"\nagent = \"queue:ventas\"\ninterest_words = [\"sí\"]\noptout_words = [\"baja\"]\n"
    )
}

fn csv(rows: &[(&str, &str)]) -> String {
    let mut s = "telefono;nombre;consentimiento\n".to_string();
    for (phone, consent) in rows {
        s.push_str(&format!("{phone};N{phone};{consent}\n"));
    }
    s
}

crate::on_both_backends!(revoking_consent_by_every_path_stops_further_calls);

async fn revoking_consent_by_every_path_stops_further_calls(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "consent::revocation").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let given = "2026-03-01";
    let script = root.path().join("script.toml");
    std::fs::write(
        &script,
        "\"+34600000501\" = \"answer keys=2\"\n\"+34600000502\" = \"answer keys=t said=baja\"\n\"+34600000504\" = \"answer keys=1\"\n\"+34600000505\" = \"answer keys=1\"\n",
    )
    .unwrap();

    // 1. A first campaign: one callee opts out by key, another says "baja".
    helpers::campaign(
        root.path(),
        "oferta",
        &toml(""),
        "lista.csv",
        &csv(&[("600000501", given), ("600000502", given)]),
    );
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.script_file = Some(script);
    helpers::run_until_idle(config.clone()).await;
    let store = Store::connect(&test_db.url).await.unwrap();
    for phone in ["+34600000501", "+34600000502"] {
        let c = store.contact("oferta", phone).await.unwrap().unwrap();
        assert_eq!(c.state, "opted_out", "{phone}");
    }

    // 2. The do-not-call import, as `pregonero dnc import` reads it.
    let dnc = root.path().join("dnc.csv");
    std::fs::write(&dnc, "telefono\n+34 600 000 503\n").unwrap();
    let (added, rejects) = pregonero::campaign::dnc::import(&store, &dnc, None, 0)
        .await
        .unwrap();
    assert_eq!((added, rejects.len()), (1, 0));

    // 3. A second campaign with every number and a valid consent; built (its list imported)
    //    but held before any call.
    helpers::campaign(
        root.path(),
        "otra",
        &toml(""),
        "lista.csv",
        &csv(&[
            ("600000501", given),
            ("600000502", given),
            ("600000503", given),
            ("600000504", given),
            ("600000505", given),
        ]),
    );
    store.close().await;
    let app = Application::build(config.clone(), Arc::new(SystemClock))
        .await
        .unwrap();
    drop(app);

    // 4. The list sent again: 504 without its consent (withdrawn), 505 with it.
    std::fs::write(
        root.path().join("otra").join("lista-2.csv"),
        csv(&[("600000504", ""), ("600000505", given)]),
    )
    .unwrap();
    helpers::run_until_idle(config).await;

    let store = Store::connect(&test_db.url).await.unwrap();
    for phone in [
        "+34600000501",
        "+34600000502",
        "+34600000503",
        "+34600000504",
    ] {
        let c = store.contact("otra", phone).await.unwrap().unwrap();
        let attempts = store.attempts_of(c.contact_id).await.unwrap();
        assert!(attempts.is_empty(), "{phone} was called: {attempts:?}");
        assert!(
            !["pending", "scheduled", "in_progress"].contains(&c.state.as_str()),
            "{phone}: {}",
            c.state
        );
    }
    let withdrawn = store
        .contact("otra", "+34600000504")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(withdrawn.state, "blocked");
    assert!(
        withdrawn
            .note
            .as_deref()
            .is_some_and(|n| n.contains("lista-2.csv")),
        "{withdrawn:?}"
    );
    // The one contact whose consent stands is called.
    let kept = store
        .contact("otra", "+34600000505")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.attempts_of(kept.contact_id).await.unwrap().len(), 1);
    store.close().await;
}
