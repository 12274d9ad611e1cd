//! The systemd notification protocol as a `Type=notify` unit sees it: a real datagram socket
//! in a temporary folder stands in for `$NOTIFY_SOCKET` (passed to the application directly,
//! the process environment is left alone). READY comes once the routes answer, the watchdog is
//! pinged while healthy and not while the database is unreachable, STOPPING when the drain
//! begins.

use std::sync::Arc;
use std::time::Duration;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use pregonero::sdnotify::{Notifier, NotifyAddr};
use tokio::net::UnixDatagram;
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, Db};

crate::on_both_backends!(ready_watchdog_and_stopping_reach_systemd);

/// The fake systemd end of the socket.
struct Systemd {
    socket: UnixDatagram,
    _dir: tempfile::TempDir,
}

impl Systemd {
    fn listen() -> (Systemd, NotifyAddr) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        (Systemd { socket, _dir: dir }, NotifyAddr::Path(path))
    }

    /// The next message, within 20 s.
    async fn next(&self) -> String {
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(20), self.socket.recv(&mut buf))
            .await
            .expect("a notification within 20 s")
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// Skips messages until one satisfies `want`; returns it.
    async fn until(&self, want: impl Fn(&str) -> bool) -> String {
        loop {
            let m = self.next().await;
            if want(&m) {
                return m;
            }
        }
    }
}

async fn ready_watchdog_and_stopping_reach_systemd(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "systemd::ready_watchdog_and_stopping").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let config = helpers::config(&test_db.url, root.path());
    let (systemd, addr) = Systemd::listen();
    let notifier = Notifier::connect(addr, Some(Duration::from_millis(200))).unwrap();
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap()
        .with_notifier(notifier);
    let base = format!("http://{}", app.addr());
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));

    let ready = systemd.next().await;
    assert!(
        ready.starts_with("READY=1\nSTATUS=serving on http://127.0.0.1:"),
        "{ready:?}"
    );
    // Ready means serving: the store is migrated and the routes answer.
    let r = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(r.status(), 200);
    // Three pings. On a loaded machine one health check may overrun its 200 ms (the ping is
    // then skipped and a STATUS line says why); nothing else may come in between.
    let mut pings = 0;
    while pings < 3 {
        let m = systemd.next().await;
        if m == "WATCHDOG=1\n" {
            pings += 1;
        } else {
            assert!(m.starts_with("STATUS="), "{m:?}");
        }
    }

    stop.cancel();
    let stopping = systemd.until(|m| m != "WATCHDOG=1\n").await;
    assert!(
        stopping.starts_with("STOPPING=1\nSTATUS=stopping"),
        "{stopping:?}"
    );
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the daemon stops")
        .unwrap()
        .unwrap();
    // No ping after STOPPING: the watchdog task ended first.
    let mut buf = [0u8; 64];
    assert!(systemd.socket.try_recv(&mut buf).is_err());
}

/// PostgreSQL only: connections to the test database are refused for a while (SQLite has no
/// server to lose). The daemon stops pinging and says why, then recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_watchdog_ping_while_the_database_is_unreachable() {
    let Some(test_db) = helpers::fresh_db(Db::Postgres, "systemd::no_watchdog_ping").await else {
        return;
    };
    let admin_url = std::env::var(pregonero::testing::POSTGRES_ENV).unwrap();
    let name = test_db
        .url
        .rsplit('/')
        .next()
        .and_then(|n| n.split('?').next())
        .unwrap()
        .to_string();
    let root = tempfile::tempdir().unwrap();
    let config = helpers::config(&test_db.url, root.path());
    let (systemd, addr) = Systemd::listen();
    let notifier = Notifier::connect(addr, Some(Duration::from_millis(500))).unwrap();
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap()
        .with_notifier(notifier);
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));
    assert!(systemd.next().await.starts_with("READY=1\n"));
    systemd.until(|m| m == "WATCHDOG=1\n").await;

    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&name)
        .execute(&mut admin)
        .await
        .unwrap();
    let unhealthy = systemd.until(|m| m != "WATCHDOG=1\n").await;
    assert!(unhealthy.starts_with("STATUS=unhealthy: "), "{unhealthy:?}");

    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .await
        .unwrap();
    // Nothing but the recovery line comes before the next ping.
    let recovered = systemd.next().await;
    assert!(
        recovered.starts_with("STATUS=serving on http://"),
        "{recovered:?}"
    );
    assert_eq!(systemd.next().await, "WATCHDOG=1\n");
    let _ = admin.close().await;

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(60), running)
        .await
        .expect("the daemon stops")
        .unwrap()
        .unwrap();
}

/// The unit's `Documentation=` names a file the install steps put there.
#[test]
fn the_units_documentation_is_installed() {
    let root = env!("CARGO_MANIFEST_DIR");
    let unit = std::fs::read_to_string(format!("{root}/systemd/pregonero.service")).unwrap();
    let deploy = std::fs::read_to_string(format!("{root}/docs/deploy.md")).unwrap();
    let docs: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("Documentation="))
        .flat_map(str::split_whitespace)
        .collect();
    assert!(!docs.is_empty(), "the unit names its documentation");
    for doc in docs {
        let Some(path) = doc.strip_prefix("file://") else {
            continue;
        };
        let step = format!("install -D -m 0644 docs/deploy.md {path}");
        assert!(deploy.contains(&step), "docs/deploy.md lacks `{step}`");
        assert!(
            unit.contains(&step),
            "the unit's own install notes lack `{step}`"
        );
    }
}
