//! Several daemons on one database: allowed on PostgreSQL, refused on a SQLite file.

use std::sync::Arc;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use pregonero::testing::TestDb;

use crate::helpers;

/// A second daemon on the same SQLite file stops at start with one sentence that says why and
/// what to use instead; once the first is gone, a daemon starts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_one_sqlite_file_refuses_to_start() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let first = Application::build(helpers::config(&db.url, dir.path()), Arc::new(SystemClock))
        .await
        .expect("the first daemon starts");
    let second =
        Application::build(helpers::config(&db.url, dir.path()), Arc::new(SystemClock)).await;
    let message = format!("{:#}", second.err().expect("the second daemon is refused"));
    assert!(
        message.contains("another pregonero daemon already runs on the SQLite database")
            && message.contains("PostgreSQL"),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");
    drop(first);
    Application::build(helpers::config(&db.url, dir.path()), Arc::new(SystemClock))
        .await
        .expect("a daemon starts once the first is gone");
}

/// PostgreSQL is the shared engine: two daemons on one database both start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_share_one_postgresql_database() {
    let Some(db) = TestDb::postgres("cluster::two_daemons").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let _first = Application::build(helpers::config(&db.url, dir.path()), Arc::new(SystemClock))
        .await
        .expect("the first daemon starts");
    Application::build(helpers::config(&db.url, dir.path()), Arc::new(SystemClock))
        .await
        .expect("a second daemon on the same PostgreSQL database starts");
}
