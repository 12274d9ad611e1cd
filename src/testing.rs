//! Test support shared by unit and integration tests: a fresh database per test on each backend.
//!
//! PostgreSQL tests read `PREGONERO_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`); each test gets its own database, dropped when the
//! guard goes out of scope. Without the variable the PostgreSQL variants print a loud SKIPPED
//! line and return.
//!
//! Every skip goes through [`skip`]: the line is written straight to the process's standard
//! error (libtest captures `eprintln!` inside a passing test, so a skip would otherwise be
//! silent), and when `PREGONERO_TEST_REQUIRE_ALL` is set to anything but `0` or an empty value the
//! skip is a failure instead. CI sets it.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

/// Environment variable naming the PostgreSQL server used by tests.
pub const POSTGRES_ENV: &str = "PREGONERO_TEST_POSTGRES_URL";

/// Environment variable that turns every skipped test into a failed one.
pub const REQUIRE_ALL_ENV: &str = "PREGONERO_TEST_REQUIRE_ALL";

/// Whether skips are forbidden (`PREGONERO_TEST_REQUIRE_ALL` set, and not to `0` or empty).
pub fn require_all() -> bool {
    std::env::var(REQUIRE_ALL_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Reports that `test` cannot run because `what` is missing (`reason` says how to provide it).
///
/// With `PREGONERO_TEST_REQUIRE_ALL` set this panics, so the test fails; otherwise it writes
/// `SKIPPED (<what>): <test> — <reason>` to the real standard error, past libtest's capture, and
/// the caller returns.
pub fn skip(what: &str, test: &str, reason: &str) {
    let line = format!("SKIPPED ({what}): {test} — {reason}");
    if require_all() {
        panic!("{line}; {REQUIRE_ALL_ENV} is set, so a skip is a failure");
    }
    // `eprintln!` would be captured by libtest and only shown for failing tests.
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Declares, for each test body `async fn name(db: &TestDb)`, a test module `name` with one
/// test on SQLite and one on PostgreSQL (its database named `PREFIX::name`), the store's
/// conformance suite: `on_both_backends!("store::desk"; agents_are_added, …)`.
#[cfg(test)]
macro_rules! on_both_backends {
    ($prefix:literal; $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::testing::TestDb::sqlite();
                super::$name(&db).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) =
                    $crate::testing::TestDb::postgres(concat!($prefix, "::", stringify!($name)))
                        .await
                else {
                    return;
                };
                super::$name(&db).await;
            }
        }
    )*};
}
#[cfg(test)]
pub(crate) use on_both_backends;

/// A database that exists for the duration of one test.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    drop_pg: Option<(String, String)>,
}

impl TestDb {
    /// A fresh SQLite file in a temporary folder.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        TestDb {
            url,
            _dir: Some(dir),
            drop_pg: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (after saying so loudly) when
    /// `PREGONERO_TEST_POSTGRES_URL` is not set.
    pub async fn postgres(test: &str) -> Option<TestDb> {
        let Ok(admin) = std::env::var(POSTGRES_ENV) else {
            skip("PostgreSQL", test, &format!("set {POSTGRES_ENV} to run it"));
            return None;
        };
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "pregonero_t_{}_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst),
            rand::random::<u32>()
        );
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is set but PostgreSQL is unreachable: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let url = match admin.rfind('/') {
            Some(i) if admin[..i].contains("://") && i > admin.find("://").unwrap_or(0) + 2 => {
                let rest = &admin[i + 1..];
                let query = rest.find('?').map(|q| &rest[q..]).unwrap_or("");
                format!("{}/{name}{query}", &admin[..i])
            }
            _ => format!("{admin}/{name}"),
        };
        Some(TestDb {
            url,
            _dir: None,
            drop_pg: Some((admin, name)),
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.drop_pg.take() {
            // Drop runs outside any async context: use a short-lived runtime on its own thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async move {
                        use sqlx::Connection;
                        if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                            let _ = sqlx::query(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .execute(&mut c)
                            .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}
