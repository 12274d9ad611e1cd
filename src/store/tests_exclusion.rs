//! Hashed exclusion lists in the store, run on SQLite and on PostgreSQL.

use super::*;
use crate::testing::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashed_digests_round_trip_once_sqlite() {
    hashed_digests_round_trip_once(&TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashed_digests_round_trip_once_postgres() {
    if let Some(db) = TestDb::postgres("store::exclusion::round_trip").await {
        hashed_digests_round_trip_once(&db).await;
    }
}

async fn hashed_digests_round_trip_once(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    // More than one INSERT chunk, and a digest twice.
    let digests: Vec<String> = (0..INSERT_CHUNK + 3).map(|i| format!("{i:064x}")).collect();
    assert_eq!(
        store
            .dnc_hashed_import(&digests, "lista.sha256", 1)
            .await
            .unwrap(),
        digests.len() as u64
    );
    assert_eq!(
        store
            .dnc_hashed_import(&digests[..2], "otra", 2)
            .await
            .unwrap(),
        0,
        "already listed"
    );
    let all = store.dnc_hashed_all().await.unwrap();
    assert_eq!(all.len(), digests.len());
    assert_eq!(all[0], digests[0]);
    // What the dialer's gate reads: the same set, matched by hashing a number.
    let set = crate::exclusion::HashedList::default()
        .current(&store, 1)
        .await
        .unwrap();
    assert_eq!(set.len(), digests.len());
}
