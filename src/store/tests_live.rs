//! The desk's sessions and the live messages (`live.rs`), each test run on SQLite and on
//! PostgreSQL.

use std::time::Duration;

use super::*;
use crate::testing::TestDb;

crate::testing::on_both_backends!("store::live";
    one_session_per_agent_found_by_its_hash_until_logout_or_idle,
    live_messages_reach_every_listener_whole_or_stay_in_process,
);

const T0: i64 = 1_780_000_000_000;
const HOUR: i64 = 3_600_000;

async fn one_session_per_agent_found_by_its_hash_until_logout_or_idle(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    assert!(store.agent_add("ana", "201", "ventas", T0).await.unwrap());
    store
        .desk_session_open("ana", "hash-1", "csrf-1", "s1", T0)
        .await
        .unwrap();
    let found = store.desk_session("hash-1", T0 - HOUR).await.unwrap();
    assert_eq!(
        found,
        Some(DeskSession {
            agent: "ana".into(),
            csrf: "csrf-1".into(),
            id: "s1".into()
        })
    );
    // A second login replaces the first: the old hash finds nothing.
    store
        .desk_session_open("ana", "hash-2", "csrf-2", "s2", T0 + 1)
        .await
        .unwrap();
    assert_eq!(store.desk_session("hash-1", T0 - HOUR).await.unwrap(), None);
    let s2 = store
        .desk_session("hash-2", T0 - HOUR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((s2.csrf.as_str(), s2.id.as_str()), ("csrf-2", "s2"));
    // Idle: neither the login nor the page heard from since the limit.
    assert_eq!(store.desk_session("hash-2", T0 + 2).await.unwrap(), None);
    store.agent_seen("ana", T0 + 5 * HOUR).await.unwrap();
    assert!(store
        .desk_session("hash-2", T0 + 4 * HOUR)
        .await
        .unwrap()
        .is_some());
    // Logout: the agent and the session id, once.
    assert_eq!(
        store.desk_session_close("hash-2").await.unwrap(),
        Some(("ana".to_string(), "s2".to_string()))
    );
    assert_eq!(store.desk_session_close("hash-2").await.unwrap(), None);
    assert_eq!(store.desk_session("hash-2", T0 - HOUR).await.unwrap(), None);
    // A removed agent's session stops working.
    store
        .desk_session_open("ana", "hash-3", "csrf-3", "s3", T0)
        .await
        .unwrap();
    assert!(store.agent_remove("ana").await.unwrap());
    assert_eq!(store.desk_session("hash-3", T0 - HOUR).await.unwrap(), None);
}

async fn live_messages_reach_every_listener_whole_or_stay_in_process(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    let Some(mut first) = store.live_listen().await.unwrap() else {
        // SQLite: one daemon, nothing sent; the caller delivers in process.
        assert!(!store.live_publish("{}", T0).await.unwrap());
        return;
    };
    // A second daemon's store on the same database.
    let other = Store::connect(&db.url).await.expect("connect");
    let mut second = other.live_listen().await.unwrap().unwrap();
    let small = r#"{"k":"changes"}"#.to_string();
    let big = format!(r#"{{"k":"x","pad":"{}"}}"#, "é".repeat(6000));
    assert!(big.len() > 8000);
    assert!(store.live_publish(&small, T0).await.unwrap());
    assert!(other.live_publish(&big, T0).await.unwrap());
    for listener in [&mut first, &mut second] {
        for want in [&small, &big] {
            let got = tokio::time::timeout(Duration::from_secs(10), listener.recv())
                .await
                .expect("a live message within 10 s")
                .unwrap();
            assert_eq!(got, LiveReceived::Message(want.clone()));
        }
    }
    // Stored messages are pruned after a few minutes.
    assert!(store.live_publish(&big, T0 + 3_600_000).await.unwrap());
    assert_eq!(store.live_prune(T0 + 3_600_000).await.unwrap(), 1);
    let kept: i64 = with_reader!(&store, |db| sqlx::query_scalar(
        "SELECT COUNT(*) FROM live_messages"
    )
    .fetch_one(db)
    .await
    .unwrap());
    assert_eq!(kept, 1);
}
