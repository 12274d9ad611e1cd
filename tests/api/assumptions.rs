//! The provider's unknowns that configuration corrects, played by the simulator: a `speak`
//! result without its status counts as heard only while the call is up and the configuration
//! allows it.

use pregonero::config::SpeakResults;

use crate::helpers::{self, Db};

const TOML: &str = "kind = \"announcement\"\ncaller_id = \"+34910000000\"\nmax_attempts = 1\n[announcement]\nmessage = \"Hola {nombre}.\"\n";

crate::on_both_backends!(a_speak_result_without_status_counts_as_configured);

async fn a_speak_result_without_status_counts_as_configured(db: Db) {
    for (rule, state) in [
        (SpeakResults::StatusOrUp, "delivered"),
        (SpeakResults::Status, "no_response"),
    ] {
        let name = format!("assumptions::speak_{state}");
        let Some(test_db) = helpers::fresh_db(db, &name).await else {
            return;
        };
        let root = tempfile::tempdir().unwrap();
        let csv = "telefono;nombre\n600000401;Ana\n600000402;Bea\n";
        helpers::campaign(root.path(), "aviso", TOML, "lista.csv", csv);
        let script = root.path().join("script.toml");
        std::fs::write(
            &script,
            "\"+34600000401\" = \"answer\"\n\"+34600000402\" = \"answer\"\n",
        )
        .unwrap();
        let mut config = helpers::config(&test_db.url, root.path());
        config.simulator.script_file = Some(script);
        config.simulator.bare_speak_results = true;
        config.provider.speak_results = rule;
        helpers::run_until_idle(config).await;
        let r = helpers::report_json(&test_db.url, "aviso").await;
        assert_eq!(r["states"][state], 2, "{rule:?}: {r}");
    }
}
