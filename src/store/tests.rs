//! One test body per behaviour, run on SQLite and on PostgreSQL.

use std::collections::{BTreeMap, HashSet};

use super::*;
use crate::campaign::RetryDelays;
use crate::testing::TestDb;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = crate::testing::TestDb::sqlite();
                super::$name(&db).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = crate::testing::TestDb::postgres(concat!("store::", stringify!($name))).await else {
                    return;
                };
                super::$name(&db).await;
            }
        }
    )*};
}

on_both_backends!(
    import_is_idempotent_and_merges_duplicates,
    claims_are_atomic_and_write_the_attempt_first,
    closing_twice_counts_once,
    retries_follow_the_policy,
    not_placed_launches_do_not_count,
    events_record_progress,
    report_lines_are_idempotent_and_carry_cost,
    paused_campaigns_are_not_unfinished_work,
);

const T0: i64 = 1_780_000_000_000;

fn policy(max: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: max,
        delays: RetryDelays::default(),
    }
}

fn contact(phone: &str) -> NewContact {
    let mut vars = BTreeMap::new();
    vars.insert("telefono".to_string(), phone.to_string());
    NewContact {
        phone: phone.to_string(),
        name: format!("N{phone}"),
        vars,
        timezone: None,
        appointment: None,
    }
}

fn file(hash: &str) -> FileImport {
    FileImport {
        file_name: "lista.csv".into(),
        hash: hash.into(),
        rows_read: 3,
        rejected: 0,
        duplicates: 0,
    }
}

async fn store_with(db: &TestDb, n: usize) -> Store {
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .upsert_campaign("c1", "announcement", "T", "", T0)
        .await
        .unwrap();
    let contacts: Vec<NewContact> = (0..n)
        .map(|i| contact(&format!("+3460000{i:04}")))
        .collect();
    store
        .import_contacts("c1", &file("h0"), &contacts, T0)
        .await
        .unwrap();
    store
}

fn close(result: AttemptResult, at: i64) -> AttemptClose {
    AttemptClose {
        result,
        duration_seconds: Some(10),
        talk_seconds: Some(5),
        ended_at: at,
    }
}

async fn import_is_idempotent_and_merges_duplicates(db: &TestDb) {
    let store = store_with(db, 2).await;
    let again = store
        .import_contacts("c1", &file("h0"), &[contact("+34600000000")], T0)
        .await
        .unwrap();
    assert!(again.already_imported);
    let more = store
        .import_contacts(
            "c1",
            &file("h1"),
            &[contact("+34600000000"), contact("+34611111111")],
            T0,
        )
        .await
        .unwrap();
    assert_eq!(
        more,
        ImportResult {
            already_imported: false,
            inserted: 1,
            existing: 1
        }
    );
    assert_eq!(store.stats("c1").await.unwrap().contacts, 3);
}

async fn claims_are_atomic_and_write_the_attempt_first(db: &TestDb) {
    let store = store_with(db, 60).await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let c = s.claim_due("c1", T0, 7).await.unwrap();
                if c.is_empty() {
                    return got;
                }
                got.extend(c);
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    assert_eq!(all.len(), 60);
    let contacts: HashSet<i64> = all.iter().map(|c| c.contact_id).collect();
    assert_eq!(contacts.len(), 60, "a contact was claimed twice");
    assert!(all.iter().all(|c| c.number == 1));
    let open = store.open_attempts().await.unwrap();
    assert_eq!(open.len(), 60);
    assert!(open.iter().all(|a| a.status == "launching"));
    let stats = store.stats("c1").await.unwrap();
    assert_eq!(stats.states.get("in_progress"), Some(&60));
    // Not due yet: nothing to claim before next_at.
    let store2 = store_with(&TestDb::sqlite(), 1).await;
    assert!(store2.claim_due("c1", T0 - 1, 10).await.unwrap().is_empty());
}

async fn closing_twice_counts_once(db: &TestDb) {
    let store = store_with(db, 1).await;
    let c = store.claim_due("c1", T0, 10).await.unwrap().remove(0);
    store
        .mark_launched(c.attempt_id, "1700000000.1", T0)
        .await
        .unwrap();
    let p = policy(3);
    let first = store
        .close_attempt(c.attempt_id, &close(AttemptResult::Busy, T0 + 1000), &p)
        .await
        .unwrap();
    assert_eq!(first.map(|n| n.state), Some("scheduled".to_string()));
    let second = store
        .close_attempt(c.attempt_id, &close(AttemptResult::Answered, T0 + 2000), &p)
        .await
        .unwrap();
    assert_eq!(second, None);
    let stats = store.stats("c1").await.unwrap();
    assert_eq!(stats.attempts.get("busy"), Some(&1));
    assert_eq!(stats.attempts.values().sum::<i64>(), 1);
    assert_eq!(
        store.attempt_by_call_id("1700000000.1").await.unwrap(),
        Some(c.attempt_id)
    );
}

async fn retries_follow_the_policy(db: &TestDb) {
    let store = store_with(db, 1).await;
    let p = policy(2);
    let c1 = store.claim_due("c1", T0, 10).await.unwrap().remove(0);
    let next = store
        .close_attempt(c1.attempt_id, &close(AttemptResult::NoAnswer, T0), &p)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.state, "scheduled");
    let due = next.next_at.unwrap();
    assert!(
        store.claim_due("c1", due - 1, 10).await.unwrap().is_empty(),
        "claimed before the retry delay"
    );
    let c2 = store.claim_due("c1", due, 10).await.unwrap().remove(0);
    assert_eq!(c2.number, 2);
    let next = store
        .close_attempt(c2.attempt_id, &close(AttemptResult::NoAnswer, due), &p)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.state, "unreachable");
    assert_eq!(store.unfinished_contacts().await.unwrap(), 0);
}

async fn not_placed_launches_do_not_count(db: &TestDb) {
    let store = store_with(db, 2).await;
    let claims = store.claim_due("c1", T0, 10).await.unwrap();
    store
        .mark_not_placed(
            claims[0].attempt_id,
            "HTTP 503",
            &NotPlaced::RetryAt(T0 + 5000),
            T0,
        )
        .await
        .unwrap();
    store
        .mark_not_placed(
            claims[1].attempt_id,
            "provider said 103",
            &NotPlaced::Failed,
            T0,
        )
        .await
        .unwrap();
    let stats = store.stats("c1").await.unwrap();
    assert_eq!(stats.states.get("scheduled"), Some(&1));
    assert_eq!(stats.states.get("failed"), Some(&1));
    let again = store.claim_due("c1", T0 + 5000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].number, 2, "attempt numbers are never reused");
    // A late result for a launch already settled changes nothing.
    store
        .mark_not_placed(claims[1].attempt_id, "late", &NotPlaced::RetryAt(T0), T0)
        .await
        .unwrap();
    assert_eq!(
        store.stats("c1").await.unwrap().states.get("failed"),
        Some(&1)
    );
}

async fn events_record_progress(db: &TestDb) {
    let store = store_with(db, 1).await;
    let c = store.claim_due("c1", T0, 10).await.unwrap().remove(0);
    let ev = |kind: &str, dtmf: Option<&str>| CallEvent {
        attempt_id: Some(c.attempt_id),
        provider_call_id: Some("99.1".into()),
        kind: kind.into(),
        command: None,
        dtmf: dtmf.map(str::to_string),
        statuscall: Some("ANSWER".into()),
        fields: "{}".into(),
        received_at: T0,
    };
    store
        .record_event(
            &ev("start", None),
            Some(&Progress {
                answered: true,
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    store
        .record_event(
            &ev("result", Some("1")),
            Some(&Progress {
                answered: true,
                outcome: Some("delivered".into()),
                dtmf: Some("1".into()),
            }),
        )
        .await
        .unwrap();
    let info = store.attempt_info(c.attempt_id).await.unwrap().unwrap();
    assert!(info.answered);
    assert_eq!(info.outcome.as_deref(), Some("delivered"));
    assert_eq!(
        info.vars.get("telefono").map(String::as_str),
        Some(c.phone.as_str())
    );
    // The call id learnt from the control request matches report lines even if the launch
    // reply was lost.
    assert_eq!(
        store.attempt_by_call_id("99.1").await.unwrap(),
        Some(c.attempt_id)
    );
    let next = store
        .close_attempt(
            c.attempt_id,
            &close(AttemptResult::Answered, T0),
            &policy(3),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.state, "delivered");
}

async fn report_lines_are_idempotent_and_carry_cost(db: &TestDb) {
    let store = store_with(db, 1).await;
    let c = store.claim_due("c1", T0, 10).await.unwrap().remove(0);
    store.mark_launched(c.attempt_id, "5.5", T0).await.unwrap();
    let batch = store.store_report_batch("calls=[]", T0).await.unwrap();
    let line = ReportLine {
        provider_call_id: "5.5".into(),
        startdate: "2026-11-23 10:00:00.000001".into(),
        dst: "600000000".into(),
        status: "answer".into(),
        duration_seconds: 31,
        cost: 0.02,
        raw: "{}".into(),
    };
    let a = store.apply_report_line(batch, &line, T0).await.unwrap();
    assert!(a.new);
    assert_eq!(a.attempt, Some((c.attempt_id, "c1".to_string(), true)));
    let b = store.apply_report_line(batch, &line, T0).await.unwrap();
    assert!(!b.new);
    let leg = ReportLine {
        dst: "910000000".into(),
        cost: 0.01,
        duration_seconds: 12,
        ..line.clone()
    };
    store.apply_report_line(batch, &leg, T0).await.unwrap();
    store
        .close_attempt(
            c.attempt_id,
            &close(AttemptResult::Answered, T0),
            &policy(3),
        )
        .await
        .unwrap();
    store.finish_report_batch(batch, 3, None).await.unwrap();
    let stats = store.stats("c1").await.unwrap();
    assert!((stats.cost - 0.03).abs() < 1e-9, "{}", stats.cost);
    assert_eq!(stats.talk_seconds, 31);
}

async fn paused_campaigns_are_not_unfinished_work(db: &TestDb) {
    let store = store_with(db, 3).await;
    assert_eq!(store.unfinished_contacts().await.unwrap(), 3);
    assert!(store.set_paused("c1", true, T0).await.unwrap());
    assert_eq!(store.unfinished_contacts().await.unwrap(), 0);
    assert!(store.campaigns().await.unwrap()[0].paused);
    // Re-reading campaign.toml keeps the paused flag.
    store
        .upsert_campaign("c1", "announcement", "T2", "", T0)
        .await
        .unwrap();
    assert!(store.campaigns().await.unwrap()[0].paused);
    assert!(!store.set_paused("nope", true, T0).await.unwrap());
    store.ping().await.unwrap();
}
