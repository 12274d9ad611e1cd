//! `pregonero doctor` and `pregonero test-call` over real HTTP: the test call against the
//! built-in simulator, the doctor against a running daemon.

use std::sync::Arc;
use std::time::Duration;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use pregonero::testcall::{Seen, TestCallOptions};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, Db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_call_through_the_simulator_confirms_every_assumption() {
    let root = tempfile::tempdir().unwrap();
    let config = helpers::config("sqlite::memory:", root.path());
    let opts = TestCallOptions {
        phone: "600 12 34 56".into(),
        campaign: None,
        call_timeout: Duration::from_secs(60),
        report_wait: Duration::from_secs(60),
    };
    let mut out = Vec::new();
    let verdicts = pregonero::testcall::run(&config, &opts, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    // Every raw exchange is printed: the key pressed went out, came back in `dtmf` and was said.
    assert!(text.contains("\"dtmf\":\"7\""), "{text}");
    assert!(text.contains("Ha pulsado la tecla 7"), "{text}");
    assert!(text.contains("petición de informe"), "{text}");
    // Phone numbers only with their last 3 digits, the token never.
    assert!(!text.contains("600123456"), "{text}");
    assert!(text.contains("token=[oculto]"), "{text}");
    for v in &verdicts {
        assert_eq!(
            v.result,
            Seen::Holds,
            "{} — {}\n{text}",
            v.assumption,
            v.detail
        );
    }
    assert!(verdicts.len() >= 12, "{verdicts:?}");
    assert!(text.contains("veredictos:"), "{text}");
    assert!(
        text.contains("[ok] la tecla pulsada llega en `dtmf`: dtmf=7"),
        "{text}"
    );
}

crate::on_both_backends!(doctor_reaches_the_webhook_urls_of_a_running_daemon);

async fn doctor_reaches_the_webhook_urls_of_a_running_daemon(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "doctor::webhook_urls").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    config.server.public_url = Some(format!("http://{addr}"));
    config.server.secret = Some(SecretString::from("doctor-secret-0123456789"));
    let app = Application::build_on(config.clone(), Arc::new(SystemClock), listener)
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));

    let mut out = Vec::new();
    let summary = pregonero::doctor::run(&config, None, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    assert_eq!(summary.failures, 0, "{text}");
    assert!(text.contains("[ok  ] base de datos"), "{text}");
    assert!(text.contains("[ok  ] URL de control: GET"), "{text}");
    assert!(text.contains("[ok  ] URL de informe: GET"), "{text}");
    // What to paste in the panel carries the secret; the check lines do not.
    assert!(text.contains(&format!(
        "http://{addr}/apivoice/control/doctor-secret-0123456789"
    )));
    assert!(text.contains("<server.secret>"), "{text}");

    // A wrong secret in the config: the daemon answers 404 and the doctor fails.
    let mut wrong = config.clone();
    wrong.server.secret = Some(SecretString::from("not-the-daemon-secret"));
    let mut out = Vec::new();
    let summary = pregonero::doctor::run(&wrong, None, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    assert_eq!(summary.failures, 2, "{text}");
    assert!(text.contains("404"), "{text}");

    stop.cancel();
    running.await.unwrap().unwrap();
}

/// A configuration file that is not valid TOML: one Spanish `error:` line on standard error
/// that names the file, the exit status 1, and no panic; English with `[ui] language = "en"`
/// read from the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_config_is_one_spanish_error_line_naming_the_file() {
    let root = tempfile::tempdir().unwrap();
    let toml = root.path().join("pregonero.toml");
    std::fs::write(&toml, "[database\nurl = 1\n").unwrap();
    let run = |english: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pregonero"));
        cmd.arg("--config")
            .arg(&toml)
            .arg("campaigns")
            .env_remove("PREGONERO_CONFIG")
            .env_remove("PREGONERO_UI_LANGUAGE")
            .current_dir(root.path());
        if english {
            cmd.env("PREGONERO_UI_LANGUAGE", "en");
        }
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    let out = run(false).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with(&format!(
            "error: el archivo de configuración {} no es válido, línea 1: ",
            toml.display()
        )),
        "{stderr}"
    );
    let out = run(true).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: the configuration file {} is invalid, line 1: ",
            toml.display()
        )),
        "{stderr}"
    );
    // A file that does not exist is named too.
    let missing = root.path().join("nope.toml");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pregonero"));
    cmd.arg("--config")
        .arg(&missing)
        .arg("check")
        .env_remove("PREGONERO_CONFIG")
        .env_remove("PREGONERO_UI_LANGUAGE");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!(
            "error: el archivo de configuración {} no existe",
            missing.display()
        )
    );
}
