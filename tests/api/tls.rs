//! Built-in TLS (`[server] tls_cert` / `tls_key`) over real HTTPS: the daemon's routes with a
//! client that trusts the committed test certificate, a campaign dialed through the simulator
//! while TLS is on, and a broken key that stops the daemon with one sentence.
//!
//! SQLite only: these are about the transport, and the store is the same on both backends.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, Db};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// Runs the command to its end (killed and failed after `timeout`); its output is small.
async fn output_within(mut cmd: Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pregonero");
    let exited = helpers::wait_for(timeout, || {
        let done = matches!(child.try_wait(), Ok(Some(_)));
        async move { done }
    })
    .await;
    if !exited {
        let _ = child.kill();
        panic!("pregonero did not exit within {timeout:?}");
    }
    child.wait_with_output().unwrap()
}

/// An HTTPS client that trusts only the test certificate.
fn client() -> reqwest::Client {
    let pem = std::fs::read(fixture("cert.pem")).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .tls_built_in_root_certs(false)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_serves_its_routes_over_https() {
    let test_db = helpers::fresh_db(Db::Sqlite, "tls").await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.server.tls_cert = Some(fixture("cert.pem"));
    config.server.tls_key = Some(fixture("key.pem"));
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let port = app.addr().port();
    let (control, report) = app.webhook_urls();
    assert_eq!(
        control,
        format!("https://127.0.0.1:{port}/apivoice/control/test-secret-0123456789")
    );
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));
    let http = client();

    let r = http
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok", "{body}");
    // The IP address is in the certificate too (the URLs above use it).
    let r = http
        .get(format!("https://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The control route answers a call we never launched with a valid command.
    let r = http
        .post(&control)
        .form(&[
            ("ID", "9.9"),
            ("api", "API sim"),
            ("userdata", "1"),
            ("statuscall", "ANSWER"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["command"], "hangup", "{body}");
    let r = http
        .post(&report)
        .form(&[("calls", "[]")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // Plain HTTP on the HTTPS port gets no HTTP answer.
    assert!(reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .is_err());

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the daemon stops")
        .unwrap()
        .unwrap();
}

/// The in-process simulator reaches the daemon on its own loopback listener when the public
/// one speaks TLS, so demos and tests still dial end to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_is_dialed_with_tls_on() {
    let test_db = helpers::fresh_db(Db::Sqlite, "tls").await.unwrap();
    let root = tempfile::tempdir().unwrap();
    helpers::campaign(
        root.path(),
        "aviso",
        "kind = \"announcement\"\ncaller_id = \"+34910000000\"\nmax_attempts = 1\n[announcement]\nmessage = \"Hola {nombre}.\"\n",
        "socios.csv",
        "telefono;nombre\n600000101;Ana\n600000102;Bea\n600000103;Carlos\n",
    );
    let mut config = helpers::config(&test_db.url, root.path());
    config.server.tls_cert = Some(fixture("cert.pem"));
    config.server.tls_key = Some(fixture("key.pem"));
    helpers::run_until_idle(config).await;
    let report = helpers::report_json(&test_db.url, "aviso").await;
    assert_eq!(report["contacts"], 3, "{report}");
    assert_eq!(report["attempts"]["total"], 3, "{report}");
    let states = report["states"].as_object().unwrap();
    for open in ["pending", "scheduled", "in_progress"] {
        assert_eq!(states[open], 0, "{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_key_stops_the_start_with_one_sentence() {
    let root = tempfile::tempdir().unwrap();
    let key = root.path().join("key.pem");
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let db = root.path().join("p.db");

    // In process: Application::build refuses before anything listens.
    let mut config = helpers::config(&format!("sqlite://{}", db.display()), root.path());
    config.server.tls_cert = Some(fixture("cert.pem"));
    config.server.tls_key = Some(key.clone());
    let err = Application::build(config, Arc::new(SystemClock))
        .await
        .err()
        .expect("a broken key is refused")
        .to_string();
    // A sentence from the catalogue, Spanish being the default language.
    assert!(
        err.starts_with(&format!(
            "server.tls_key {} no es una clave privada utilizable",
            key.display()
        )),
        "{err}"
    );
    assert!(!db.exists(), "nothing was opened before the check");

    // The real binary: exit status 1 and that sentence on stderr, nothing else.
    let toml = root.path().join("pregonero.toml");
    std::fs::write(
        &toml,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[campaigns]\ndir = \"{}\"\n[server]\nlisten = \"127.0.0.1:0\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            db.display(),
            root.path().display(),
            fixture("cert.pem").display(),
            key.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pregonero"));
    cmd.arg("--config")
        .arg(&toml)
        .arg("run")
        .env_remove("PREGONERO_CONFIG")
        .env_remove("NOTIFY_SOCKET");
    let out = output_within(cmd, Duration::from_secs(30)).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with(&format!("error: server.tls_key {}", key.display())),
        "{stderr}"
    );
    // A key file that does not exist names the file and the key the same way.
    let missing = root.path().join("nope.pem");
    std::fs::write(
        &toml,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            fixture("cert.pem").display(),
            missing.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pregonero"));
    cmd.arg("--config")
        .arg(&toml)
        .arg("check")
        .env_remove("PREGONERO_CONFIG")
        .current_dir(root.path());
    let out = output_within(cmd, Duration::from_secs(30)).await;
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "error: no se puede leer server.tls_key {}",
            missing.display()
        )),
        "{stdout}"
    );
}
