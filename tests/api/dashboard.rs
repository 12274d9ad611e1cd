//! The dashboard over real HTTP: off without a password, 401 without or with wrong credentials,
//! 200 with them, the JSON's shape, the HTML report route; and a headless Chromium check of the
//! dashboard and of a report (renders, SVG charts present, data filled in by the script, no
//! console errors, screenshots written).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, Db};

crate::on_both_backends!(
    dashboard_is_behind_basic_auth_and_serves_progress_and_reports,
    failed_logins_are_slowed_per_source
);

const TOML: &str = r#"
kind = "announcement"
title = "Tablón <de> anuncios"
caller_id = "+34910000000"
max_attempts = 2
[announcement]
message = "Hola {nombre}."
"#;

const CSV: &str =
    "telefono;nombre;portal\n600000001;Ana;1\n600000002;Bea;2\n600000003;Carlos <b>;3\n";

const SCRIPT: &str = r#"
"+34600000001" = ["answer"]
"+34600000002" = ["busy"]
"+34600000003" = ["answer"]
"#;

const PASSWORD: &str = "pw-for-tests-0123";

/// A finished campaign in a fresh database, and a config serving the dashboard.
async fn finished_campaign(db_url: &str, root: &Path) -> pregonero::config::Config {
    helpers::campaign(root, "tablon", TOML, "lista.csv", CSV);
    let script = root.join("script.toml");
    std::fs::write(&script, SCRIPT).unwrap();
    let mut config = helpers::config(db_url, root);
    config.simulator.script_file = Some(script);
    helpers::run_until_idle(config.clone()).await;
    config.server.dashboard_password = Some(SecretString::from(PASSWORD));
    config
}

/// Serves the dashboard until the token fires; returns the base URL.
async fn serve(
    config: pregonero::config::Config,
    stop: &CancellationToken,
) -> (String, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let base = format!("http://{}", app.addr());
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));
    let http = reqwest::Client::new();
    let up = helpers::wait_for(Duration::from_secs(20), || {
        let http = http.clone();
        let url = format!("{base}/healthz");
        async move { http.get(url).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    assert!(up, "the daemon did not come up");
    (base, running)
}

async fn dashboard_is_behind_basic_auth_and_serves_progress_and_reports(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "dashboard::basic_auth").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let config = finished_campaign(&test_db.url, root.path()).await;
    let http = reqwest::Client::new();

    // Without a password the dashboard does not exist.
    let mut off = config.clone();
    off.server.dashboard_password = None;
    let stop = CancellationToken::new();
    let (base, running) = serve(off, &stop).await;
    for path in [
        "/",
        "/api/campaigns",
        "/api/campaigns/tablon",
        "/reports/tablon.html",
    ] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path} with the dashboard off");
        let r = http
            .get(format!("{base}{path}"))
            .basic_auth("operator", Some(PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            404,
            "{path} with the dashboard off, credentials sent"
        );
    }
    stop.cancel();
    running.await.unwrap().unwrap();

    let stop = CancellationToken::new();
    let (base, running) = serve(config, &stop).await;
    for path in [
        "/",
        "/api/campaigns",
        "/api/campaigns/tablon",
        "/reports/tablon.html",
    ] {
        let url = format!("{base}{path}");
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path} without credentials");
        assert!(r
            .headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap().starts_with("Basic ")));
        let body = r.text().await.unwrap();
        assert!(!body.contains(PASSWORD));
        for (user, pw) in [("operator", "wrong"), ("admin", PASSWORD), ("operator", "")] {
            let r = http
                .get(&url)
                .basic_auth(user, Some(pw))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401, "{path} as {user}:{pw}");
        }
        let r = http
            .get(&url)
            .basic_auth("operator", Some(PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path} with the password");
    }
    let get = |path: &str| {
        http.get(format!("{base}{path}"))
            .basic_auth("operator", Some(PASSWORD))
            .send()
    };
    let list: serde_json::Value = get("/api/campaigns").await.unwrap().json().await.unwrap();
    assert!(list["generated_at"].is_string());
    let c = &list["campaigns"][0];
    assert_eq!(c["campaign"], "tablon");
    assert_eq!(c["kind"], "announcement");
    assert_eq!(c["title"], "Tablón <de> anuncios");
    assert_eq!(c["contacts"], 3);
    assert_eq!(c["done"], 3);
    assert_eq!(c["waiting"], 0);
    assert_eq!(c["progress"], 1.0);
    assert_eq!(c["paused"], false);
    assert_eq!(c["states"]["delivered"], 2);
    assert_eq!(c["attempts"]["total"], 4);
    assert_eq!(c["attempts"]["answered"], 2);
    assert_eq!(c["report_url"], "/reports/tablon.html");
    let one: serde_json::Value = get("/api/campaigns/tablon")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["campaign"], "tablon");
    assert_eq!(one["compliance"]["launches"], 4);
    assert_eq!(one["compliance"]["launches_outside_window"], 0);
    assert_eq!(one["compliance"]["reminders_after_appointment"], 0);
    assert_eq!(get("/api/campaigns/nope").await.unwrap().status(), 404);
    assert_eq!(get("/reports/nope.html").await.unwrap().status(), 404);
    assert_eq!(get("/reports/tablon").await.unwrap().status(), 404);
    let page = get("/reports/tablon.html")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.matches("<svg").count() >= 4, "the report's charts");
    assert!(!page.contains("<script"), "reports are static");
    let dash = get("/").await.unwrap().text().await.unwrap();
    assert!(dash.contains("/api/campaigns") && dash.contains("<script>"));
    // The webhooks still work beside the dashboard.
    assert_eq!(
        http.get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    stop.cancel();
    running.await.unwrap().unwrap();
}

const CHROMIUM_DEFAULT: &str = "/usr/bin/chromium";

/// The headless browser: `PREGONERO_TEST_CHROMIUM` when set (a path that does not exist hides the
/// browser, which is how CI's refusal to skip is checked), else `/usr/bin/chromium`.
fn chromium_path() -> String {
    std::env::var("PREGONERO_TEST_CHROMIUM").unwrap_or_else(|_| CHROMIUM_DEFAULT.to_string())
}

/// Runs headless Chromium with a fresh profile; returns (status ok, stdout, stderr).
fn chromium(args: &[String]) -> (bool, String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(chromium_path());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1200,900",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .stdin(std::process::Stdio::null());
    let out = cmd.output().expect("run chromium");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Console messages and uncaught errors of the page, from Chromium's log.
fn page_errors(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect()
}

async fn in_chromium(args: Vec<String>) -> (bool, String, String) {
    tokio::time::timeout(
        Duration::from_secs(120),
        tokio::task::spawn_blocking(move || chromium(&args)),
    )
    .await
    .expect("chromium did not finish within 120 s")
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_and_report_render_in_headless_chromium() {
    let browser = chromium_path();
    if !Path::new(&browser).exists() {
        pregonero::testing::skip(
            "Chromium",
            "dashboard::headless_chromium",
            &format!("{browser} not found; install it (apt-get install -y chromium) to run the browser check"),
        );
        return;
    }
    let test_db = helpers::fresh_db(Db::Sqlite, "dashboard::chromium")
        .await
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    let config = finished_campaign(&test_db.url, root.path()).await;
    let stop = CancellationToken::new();
    let (base, running) = serve(config, &stop).await;
    let authed = base.replacen("http://", &format!("http://operator:{PASSWORD}@"), 1);
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));

    // The dashboard: the script fetches /api/campaigns and draws a progress bar per campaign.
    let dash_png = shots.join("dashboard.png");
    let _ = std::fs::remove_file(&dash_png);
    let (ok, dom, log) = in_chromium(vec![
        "--virtual-time-budget=5000".into(),
        "--dump-dom".into(),
        format!("{authed}/"),
    ])
    .await;
    assert!(ok, "chromium failed:\n{log}");
    assert!(
        dom.contains("data-campaign=\"tablon\""),
        "the rows are filled by the script:\n{dom}"
    );
    assert!(
        dom.contains("<svg class=\"progress\""),
        "a progress bar per campaign:\n{dom}"
    );
    assert!(
        dom.contains("Tablón &lt;de&gt; anuncios"),
        "titles are text, not markup:\n{dom}"
    );
    assert!(dom.contains("href=\"/reports/tablon.html\""));
    assert!(
        dom.contains("<span id=\"updated\">Actualizado "),
        "the refresh succeeded:\n{dom}"
    );
    assert_eq!(
        page_errors(&log),
        Vec::<String>::new(),
        "console errors on the dashboard"
    );
    let (ok, _, log) = in_chromium(vec![
        "--virtual-time-budget=5000".into(),
        format!("--screenshot={}", dash_png.display()),
        format!("{authed}/"),
    ])
    .await;
    assert!(ok && dash_png.is_file(), "no dashboard screenshot:\n{log}");

    // The HTML report: static, its charts are SVG.
    let report_png = shots.join("report.png");
    let _ = std::fs::remove_file(&report_png);
    let (ok, dom, log) = in_chromium(vec![
        "--dump-dom".into(),
        format!("{authed}/reports/tablon.html"),
    ])
    .await;
    assert!(ok, "chromium failed:\n{log}");
    assert!(dom.matches("<svg").count() >= 4, "the charts:\n{dom}");
    assert!(dom.contains("class=\"bar\""), "bars drawn:\n{dom}");
    assert!(
        dom.contains("Embudo de resultados"),
        "Spanish headings:\n{dom}"
    );
    assert!(
        dom.contains("<h1>Tablón &lt;de&gt; anuncios</h1>"),
        "headed by the campaign's title, not its folder:\n{dom}"
    );
    assert_eq!(
        page_errors(&log),
        Vec::<String>::new(),
        "console errors on the report"
    );
    let (ok, _, log) = in_chromium(vec![
        format!("--screenshot={}", report_png.display()),
        format!("{authed}/reports/tablon.html"),
    ])
    .await;
    assert!(ok && report_png.is_file(), "no report screenshot:\n{log}");
    let png = std::fs::read(&report_png).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");

    // Printed to PDF: the print stylesheet gives A4 pages, read back as images by pdftoppm.
    let pdf = shots.join("report.pdf");
    let _ = std::fs::remove_file(&pdf);
    let (ok, _, log) = in_chromium(vec![
        "--no-pdf-header-footer".into(),
        format!("--print-to-pdf={}", pdf.display()),
        format!("{authed}/reports/tablon.html"),
    ])
    .await;
    assert!(ok && pdf.is_file(), "no PDF:\n{log}");
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"));
    match std::process::Command::new("pdftoppm")
        .args(["-r", "40", "-png"])
        .arg(&pdf)
        .arg(shots.join("report-page"))
        .status()
    {
        Ok(status) => {
            assert!(status.success(), "pdftoppm could not read the PDF");
            let first = shots.join("report-page-1.png");
            assert!(first.is_file(), "no first page image");
            // A4 at 40 dpi is 331 × 468 pixels: the page is portrait A4, as @page asks.
            let png = std::fs::read(&first).unwrap();
            let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
            let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
            assert_eq!((width, height), (331, 468), "page size");
            eprintln!(
                "Printed report: {} (first page {})",
                pdf.display(),
                first.display()
            );
        }
        Err(e) if std::env::var_os("PREGONERO_TEST_REQUIRE_ALL").is_some() => {
            panic!("pdftoppm is required (apt-get install -y poppler-utils): {e}")
        }
        Err(e) => eprintln!("SKIPPED (pdftoppm): {e}; install poppler-utils to check the print"),
    }
    eprintln!(
        "Chromium screenshots: {} and {}",
        dash_png.display(),
        report_png.display()
    );
    stop.cancel();
    running.await.unwrap().unwrap();
}

/// Five wrong passwords are answered 401; the sixth earns a lockout during which even the right
/// password gets 429 with Retry-After; a request without credentials is not a failure.
async fn failed_logins_are_slowed_per_source(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "dashboard::throttle").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let config = finished_campaign(&test_db.url, root.path()).await;
    let stop = CancellationToken::new();
    let (base, running) = serve(config, &stop).await;
    let http = reqwest::Client::new();
    let url = format!("{base}/api/campaigns");
    for _ in 0..3 {
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(
            r.status(),
            401,
            "no credentials: a challenge, not a failure"
        );
    }
    for n in 1..=6 {
        let r = http
            .get(&url)
            .basic_auth("operator", Some(format!("guess-{n}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "failure {n}");
    }
    let r = http
        .get(&url)
        .basic_auth("operator", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "locked out after the sixth failure");
    assert_eq!(r.headers()["retry-after"], "1");
    stop.cancel();
    running.await.unwrap().unwrap();
}
