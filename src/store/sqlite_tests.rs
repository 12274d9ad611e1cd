//! SQLite-only tests: the group commit and the direct writer.
use super::*;

/// A store on `url` with campaign `c1` of three contacts, all claimed: their attempt ids.
async fn store_with_claims(url: &str) -> (Store, SqliteStore, Vec<i64>) {
    let sqlite = SqliteStore::connect(url).await.expect("connect");
    let store = Store::Sqlite(sqlite.clone());
    store
        .upsert_campaign("c1", "survey", "T", "", 1_000)
        .await
        .unwrap();
    let contacts: Vec<ContactRecord> = (0..3)
        .map(|i| ContactRecord {
            phone: format!("+3460000000{i}"),
            name: String::new(),
            vars: "{}".into(),
            timezone: None,
            appointment_at: None,
        })
        .collect();
    let file = FileImport {
        file_name: "l.csv".into(),
        hash: "h".into(),
        rows_read: 3,
        rejected: 0,
        duplicates: 0,
        expected_rows: 3,
    };
    let id = store
        .begin_import("c1", &file, 1_000)
        .await
        .unwrap()
        .unwrap();
    store
        .insert_contacts("c1", id, &contacts, 1_000)
        .await
        .unwrap();
    store.finish_import(id, &file).await.unwrap();
    let claims = store
        .claim_due("c1", 1_000, 3, &crate::store::launch_all)
        .await
        .unwrap();
    let ids = claims.iter().map(|c| c.attempt_id).collect();
    (store, sqlite, ids)
}

fn key_press(attempt: i64, k: &str) -> GroupOp {
    GroupOp::Event(
        CallEvent {
            attempt_id: Some(attempt),
            provider_call_id: Some(format!("c.{attempt}")),
            kind: "result".into(),
            command: None,
            dtmf: Some(k.into()),
            statuscall: None,
            fields: "{}".into(),
            received_at: 2_000,
        },
        Some(Progress {
            answered: true,
            dtmf: Some(k.into()),
            answers: vec![("q".into(), k.into())],
            ..Default::default()
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_keeps_the_order_of_the_writes_on_one_attempt() {
    let db = crate::testing::TestDb::sqlite();
    let (_any, store, claims) = store_with_claims(&db.url).await;
    let (a, b) = (claims[0], claims[1]);
    let key = key_press;
    let launched = |attempt: i64| GroupOp::Launched {
        attempt_id: attempt,
        call_id: format!("c.{attempt}"),
        now: 1_500,
    };
    // Runs: [launch a, launch b] [a1, b1] [a2, b2] [a3]: keys of one attempt stay in order.
    let ops = [
        launched(a),
        launched(b),
        key(a, "1"),
        key(b, "7"),
        key(a, "2"),
        key(b, "8"),
        key(a, "3"),
    ];
    let refs: Vec<&GroupOp> = ops.iter().collect();
    let out = group_apply(&store.writer_pool, &store.direct, &refs)
        .await
        .unwrap();
    assert_eq!(out.len(), ops.len());
    let dtmf: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, dtmf, status FROM attempts WHERE dtmf IS NOT NULL ORDER BY id")
            .fetch_all(&store.pool)
            .await
            .unwrap();
    assert_eq!(
        dtmf,
        vec![
            (a, "123".into(), "ringing".into()),
            (b, "78".into(), "ringing".into())
        ]
    );
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM call_events")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(events, 5);
    let answers: Vec<(i64, String)> =
        sqlx::query_as("SELECT attempt_id, answer FROM survey_answers ORDER BY attempt_id")
            .fetch_all(&store.pool)
            .await
            .unwrap();
    assert_eq!(
        answers,
        vec![(a, "3".into()), (b, "8".into())],
        "the last answer wins"
    );
    store.close().await;
}

/// A write that fails in a group (here an event naming an attempt that does not exist,
/// refused by the foreign key) fails its own caller only and leaves nothing behind: the
/// group runs again with a savepoint per write, and the writes before and after it are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_write_in_a_group_fails_only_its_own_caller() {
    let db = crate::testing::TestDb::sqlite();
    let (_any, store, claims) = store_with_claims(&db.url).await;
    let (a, b) = (claims[0], claims[1]);
    let ops = [
        key_press(a, "1"),
        key_press(999_999, "5"),
        key_press(b, "2"),
    ];
    let refs: Vec<&GroupOp> = ops.iter().collect();
    let out = group_apply(&store.writer_pool, &store.direct, &refs)
        .await
        .expect("the group commits");
    assert!(out[0].is_ok() && out[2].is_ok(), "{out:?}");
    let err = out[1]
        .as_ref()
        .expect_err("the event of no attempt is refused");
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    let stored: Vec<(Option<i64>, String)> =
        sqlx::query_as("SELECT attempt_id, dtmf FROM call_events ORDER BY id")
            .fetch_all(&store.pool)
            .await
            .unwrap();
    assert_eq!(stored, vec![(Some(a), "1".into()), (Some(b), "2".into())]);
    let answers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM survey_answers")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(
        answers, 2,
        "the failed write's survey answer was undone with it"
    );
    store.close().await;
}

/// Writes through sqlx and through the direct connection, many at once from many tasks,
/// take turns on the process's write lock: every one succeeds and none waits in SQLite's
/// busy handler (a `database is locked` would mean two writers of this process collided).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_and_sqlx_writes_take_turns() {
    let db = crate::testing::TestDb::sqlite();
    let (any, store, claims) = store_with_claims(&db.url).await;
    let store = Arc::new(store);
    // No waiting in the busy handler at all: a collision fails at once.
    sqlx::query("PRAGMA busy_timeout = 0")
        .execute(&*store.writer().await)
        .await
        .unwrap();
    store
        .direct
        .run(
            &store.writer_pool,
            |db| Ok(db.busy_timeout(Duration::ZERO)?),
        )
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..600i64 {
        let store = any.clone();
        let attempt = claims[(i % 3) as usize];
        tasks.spawn(async move {
            if i % 2 == 0 {
                store
                    .record_event(
                        &CallEvent {
                            attempt_id: Some(attempt),
                            provider_call_id: None,
                            kind: "start".into(),
                            command: None,
                            dtmf: None,
                            statuscall: None,
                            fields: "{}".into(),
                            received_at: 3_000 + i,
                        },
                        None,
                    )
                    .await
            } else {
                store
                    .set_paused("c1", i % 4 == 1, Some("test"), 3_000 + i)
                    .await
                    .map(|_| ())
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("task").expect("every write succeeds");
    }
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM call_events")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(events, 300);
    store.close().await;
}

/// An in-memory database has no file for a second connection: the direct writes borrow
/// the sqlx writer's own handle instead, with the same results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_database_borrows_the_writers_handle() {
    let (any, store, claims) = store_with_claims("sqlite::memory:").await;
    assert!(
        store.direct.borrows(),
        "no file: the writer's handle is borrowed"
    );
    let a = claims[0];
    any.mark_launched(a, "c.1", 1_500).await.unwrap();
    any.record_event(
        &CallEvent {
            attempt_id: Some(a),
            provider_call_id: Some("c.1".into()),
            kind: "result".into(),
            command: None,
            dtmf: Some("1".into()),
            statuscall: None,
            fields: "{}".into(),
            received_at: 2_000,
        },
        Some(&Progress {
            answered: true,
            dtmf: Some("1".into()),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    let line = ReportLine {
        provider_call_id: "c.1".into(),
        startdate: "2026-12-02 10:00:00".into(),
        dst: "600000000".into(),
        status: "answer".into(),
        duration_seconds: 12,
        cost: 0.01,
        raw: "{}".into(),
    };
    let batch = any.store_report_batch("[]", 2_500).await.unwrap();
    let applied = any
        .apply_report_lines(batch, &[line.clone(), line], 2_500)
        .await
        .unwrap();
    assert!(applied[0].new && !applied[1].new, "{applied:?}");
    assert_eq!(
        applied[0].attempt,
        Some(LineAttempt {
            attempt_id: a,
            campaign_id: "c1".into(),
            open: true
        })
    );
    let row: (String, Option<String>, Option<i64>) =
        sqlx::query_as("SELECT status, dtmf, talk_seconds FROM attempts WHERE id = ?")
            .bind(a)
            .fetch_one(&store.pool)
            .await
            .unwrap();
    assert_eq!(row, ("ringing".into(), Some("1".into()), Some(12)));
    store.close().await;
}
