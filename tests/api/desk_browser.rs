//! The desk page in headless Chromium, driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: file descriptors 3 and 4, NUL-terminated JSON): an agent logs
//! in through the form, sets ready, and the screen pop of a simulated call appears without a
//! reload.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::desk::{add_agent, CSV, PASSWORD, TOML};
use crate::helpers::{self, Db};

const CHROMIUM: &str = "/usr/bin/chromium";

extern "C" {
    fn pipe(fds: *mut i32) -> i32;
    fn dup2(old: i32, new: i32) -> i32;
    fn close(fd: i32) -> i32;
}

/// A headless Chromium and its DevTools pipe.
struct Browser {
    child: std::process::Child,
    tx: std::fs::File,
    rx: BufReader<std::fs::File>,
    next_id: u64,
    session: Option<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let (mut to_child, mut from_child) = ([0i32; 2], [0i32; 2]);
        // SAFETY: plain pipe(2) calls into arrays of two descriptors.
        assert_eq!(unsafe { pipe(to_child.as_mut_ptr()) }, 0);
        assert_eq!(unsafe { pipe(from_child.as_mut_ptr()) }, 0);
        let (child_in, child_out) = (to_child[0], from_child[1]);
        let profile = tempfile::tempdir().unwrap();
        let mut cmd = std::process::Command::new(CHROMIUM);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-pipe",
            "about:blank",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        // SAFETY: only async-signal-safe calls (dup2) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if dup2(child_in, 3) < 0 || dup2(child_out, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("run chromium");
        // SAFETY: the descriptors are ours; the child's ends are closed in this process.
        let (tx, rx) = unsafe {
            close(child_in);
            close(child_out);
            (
                std::fs::File::from_raw_fd(to_child[1]),
                std::fs::File::from_raw_fd(from_child[0]),
            )
        };
        Browser {
            child,
            tx,
            rx: BufReader::new(rx),
            next_id: 0,
            session: None,
            _profile: profile,
        }
    }

    /// Sends a DevTools command and waits for its reply (events in between are skipped).
    fn call(&mut self, method: &str, params: Value) -> Value {
        match self.try_call(method, params) {
            Ok(v) => v,
            Err(e) => panic!("{method}: {e}"),
        }
    }

    fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        self.tx.write_all(msg.to_string().as_bytes()).unwrap();
        self.tx.write_all(b"\0").unwrap();
        loop {
            let mut buf = Vec::new();
            let n = self.rx.read_until(0, &mut buf).unwrap();
            assert!(n > 0, "chromium closed the DevTools pipe");
            buf.pop();
            let v: Value = serde_json::from_slice(&buf).unwrap();
            if v["id"] == id {
                return match v.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(v["result"].clone()),
                };
            }
        }
    }

    fn open(&mut self, url: &str) {
        let target = self.call("Target.createTarget", json!({"url": url}));
        let attached = self.call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        self.session = attached["sessionId"].as_str().map(str::to_string);
    }

    /// Evaluates `expr` (a promise is awaited) in the page: its value.
    fn eval(&mut self, expr: &str) -> Value {
        let params = json!({"expression": expr, "awaitPromise": true, "returnByValue": true});
        // The page may still be replacing the first blank document.
        let mut tries = 0;
        let r = loop {
            match self.try_call("Runtime.evaluate", params.clone()) {
                Ok(r) => break r,
                Err(e) if tries < 50 => {
                    tries += 1;
                    eprintln!("evaluate retried: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("Runtime.evaluate: {e}"),
            }
        };
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// JavaScript: resolves with `what()` once it is truthy, or with null after `ms`.
fn until(what: &str, ms: u32) -> String {
    format!(
        "new Promise(done => {{ const t0 = Date.now(); const f = () => {{ let v = null; \
         try {{ v = ({what})(); }} catch (e) {{}} \
         if (v) return done(v); if (Date.now() - t0 > {ms}) return done(null); setTimeout(f, 50); }}; f(); }})"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_logs_in_sets_ready_and_sees_the_screen_pop_in_chromium() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("SKIPPED (Chromium): {CHROMIUM} not found; install it (apt-get install -y chromium) to run the browser check");
        return;
    }
    let test_db = helpers::fresh_db(Db::Sqlite, "desk::chromium")
        .await
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    helpers::campaign(root.path(), "ventas", TOML, "lista.csv", CSV);
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.speed = 100.0;
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let store = app.store().clone();
    assert!(store
        .set_paused("ventas", true, Some("test"), 0)
        .await
        .unwrap());
    add_agent(&store, "ana", "201", "ventas").await;
    let base = format!("http://{}", app.addr());
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));

    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let url = format!("{base}/desk");
    let browser = tokio::task::spawn_blocking(move || {
        let mut b = Browser::start();
        b.open(&url);
        let loaded = b.eval(&until(
            "() => document.getElementById('login-form')",
            10_000,
        ));
        assert!(loaded.is_object(), "the page did not load");
        b.eval(&format!(
            "document.getElementById('name').value = 'ana'; \
             document.getElementById('password').value = '{PASSWORD}'; \
             document.getElementById('login-button').click(); true"
        ));
        let shown = b.eval(&until(
            "() => !document.getElementById('controls').classList.contains('hidden')",
            10_000,
        ));
        assert_eq!(shown, json!(true), "logged in through the form");
        b.eval("document.getElementById('ready').click(); true");
        let ready = b.eval(&until(
            "() => document.getElementById('state').dataset.state === 'ready' && 'ready'",
            10_000,
        ));
        assert_eq!(ready, json!("ready"));
        let _ = ready_tx.send(());
        go_rx.recv().unwrap();
        b.eval(&until(
            "() => { const n = document.getElementById('pop-name').textContent; \
               return n && { name: n, phone: document.getElementById('pop-phone').textContent, \
               script: document.getElementById('script').textContent, \
               vars: document.getElementById('pop-vars').textContent, \
               hidden: document.getElementById('pop').classList.contains('hidden'), \
               cookie: document.cookie }; }",
            30_000,
        ))
    });
    tokio::time::timeout(Duration::from_secs(60), ready_rx)
        .await
        .expect("the agent was not ready in the browser within 60 s")
        .expect("the browser step failed");
    assert_eq!(store.agent("ana").await.unwrap().unwrap().state, "ready");
    store.set_paused("ventas", false, None, 0).await.unwrap();
    go_tx.send(()).unwrap();
    let pop = tokio::time::timeout(Duration::from_secs(90), browser)
        .await
        .expect("chromium did not finish")
        .expect("the browser step failed");
    assert!(pop.is_object(), "no screen pop on the page");
    assert_eq!(pop["name"], "Ana Cliente");
    assert_eq!(pop["phone"], "+34600000001");
    assert_eq!(
        pop["script"],
        "Buenos días Ana Cliente: le llamo por su plan Fibra 600."
    );
    assert!(pop["vars"].as_str().unwrap().contains("Fibra 600"));
    assert_eq!(pop["hidden"], false);
    assert_eq!(pop["cookie"], "", "the session cookie is HttpOnly");
    stop.cancel();
    running.await.unwrap().unwrap();
}
