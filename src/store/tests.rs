//! One test body per behaviour, run on SQLite and on PostgreSQL.

use std::collections::{BTreeMap, HashSet};

use super::*;
use crate::campaign::RetryDelays;
use crate::testing::TestDb;

crate::testing::on_both_backends!("store";
    import_is_idempotent_and_merges_duplicates,
    claims_are_atomic_and_write_the_attempt_first,
    closing_twice_counts_once,
    retries_follow_the_policy,
    not_placed_launches_do_not_count,
    events_record_progress,
    report_lines_are_idempotent_and_carry_cost,
    paused_campaigns_are_not_unfinished_work,
    the_gate_defers_and_closes_inside_the_claim,
    do_not_call_entries_round_trip_and_reach_the_gate,
    repeated_results_grow_the_delay_and_explain_sees_the_history,
    an_import_cut_short_is_resumed_not_skipped,
    a_big_first_import_takes_the_bulk_path_and_keeps_numbers_unique,
    a_final_state_writes_an_outbox_row_in_its_transaction,
    outbox_rows_retry_give_up_and_deliver_once,
    report_queries_see_contacts_attempts_events_and_opt_outs,
    concurrent_small_writes_are_all_stored_and_a_bad_one_fails_alone,
    a_report_chunk_applies_in_order_and_closes_each_attempt_once,
    claims_take_the_earliest_due_across_pending_and_scheduled,
    the_contact_report_streams_in_id_order_with_the_columns_of_every_file,
    a_duty_has_one_holder_until_its_lease_expires_or_is_given_up,
    launch_slots_are_spaced_by_every_scope_even_when_taken_at_once,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_import_killed_midway_gets_its_phone_index_back_sqlite() {
    let db = TestDb::sqlite();
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .upsert_campaign("c1", "announcement", "T", "", T0)
        .await
        .unwrap();
    let records = numbered(BULK);
    let big = FileImport {
        expected_rows: BULK as u64,
        ..file("bulk")
    };
    let id = store.begin_import("c1", &big, T0).await.unwrap().unwrap();
    assert!(
        !has_phone_index(&store).await,
        "the bulk path drops the index"
    );
    store
        .insert_contacts("c1", id, &records[..5_000], T0)
        .await
        .unwrap();
    // The process dies here: its import lock goes with it.
    store.close().await;
    drop(store);
    let store = Store::connect(&db.url).await.expect("reconnect");
    assert!(has_phone_index(&store).await, "recovered at start-up");
    // The file resumes on the ordinary path (the campaign has contacts now).
    assert_eq!(store.begin_import("c1", &big, T0).await.unwrap(), Some(id));
    assert!(has_phone_index(&store).await);
    let inserted = store.insert_contacts("c1", id, &records, T0).await.unwrap();
    assert_eq!(inserted, BULK as u64 - 5_000);
    store.finish_import(id, &big).await.unwrap();
    assert_eq!(
        store.imported_files("c1").await.unwrap()[0].imported,
        BULK as i64
    );
}

/// Rows of a file big enough for the bulk path.
const BULK: usize = 60_000;

fn numbered(n: usize) -> Vec<ContactRecord> {
    (0..n).map(|i| contact(&format!("+3465{i:07}"))).collect()
}

async fn has_phone_index(store: &Store) -> bool {
    match store {
        Store::Sqlite(s) => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'contacts_phone'",
        )
        .fetch_one(s.pool())
        .await
        .unwrap()
            == 1,
        Store::Postgres(s) => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'contacts' AND indexname = 'contacts_phone'",
        )
        .fetch_one(s.pool())
        .await
        .unwrap()
            == 1,
    }
}

async fn a_big_first_import_takes_the_bulk_path_and_keeps_numbers_unique(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    for c in ["c1", "c2"] {
        store
            .upsert_campaign(c, "announcement", "T", "", T0)
            .await
            .unwrap();
    }
    // Another campaign's contacts, some with the same numbers: they are not duplicates there.
    let other: Vec<ContactRecord> = (0..10).map(|i| contact(&format!("+3465{i:07}"))).collect();
    store
        .import_contacts("c2", &file("other"), &other, T0)
        .await
        .unwrap();
    let records = numbered(BULK);
    let big = FileImport {
        expected_rows: BULK as u64,
        ..file("bulk")
    };
    let id = store.begin_import("c1", &big, T0).await.unwrap().unwrap();
    let mut inserted = 0;
    for chunk in records.chunks(5_000) {
        inserted += store.insert_contacts("c1", id, chunk, T0).await.unwrap();
    }
    store.finish_import(id, &big).await.unwrap();
    assert_eq!(inserted, BULK as u64);
    assert!(has_phone_index(&store).await, "the index is back");
    // A second file of the same campaign: its numbers already there are merged, not doubled.
    let mut again: Vec<ContactRecord> = (0..5).map(|i| contact(&format!("+3465{i:07}"))).collect();
    again.push(contact("+34699999999"));
    let r = store
        .import_contacts("c1", &file("again"), &again, T0)
        .await
        .unwrap();
    assert_eq!((r.inserted, r.existing), (1, 5));
    assert_eq!(store.stats("c1").await.unwrap().contacts, BULK as i64 + 1);
    assert_eq!(store.stats("c2").await.unwrap().contacts, 10);
}

const T0: i64 = 1_780_000_000_000;

fn policy(max: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: max,
        delays: RetryDelays::default(),
        end_at: None,
        answered_without_outcome: ContactState::NoResponse,
    }
}

fn contact(phone: &str) -> ContactRecord {
    let mut vars = BTreeMap::new();
    vars.insert("telefono".to_string(), phone.to_string());
    ContactRecord {
        phone: phone.to_string(),
        name: format!("N{phone}"),
        vars: crate::store::vars_to_json(&vars),
        timezone: None,
        appointment_at: None,
    }
}

fn file(hash: &str) -> FileImport {
    FileImport {
        file_name: "lista.csv".into(),
        hash: hash.into(),
        rows_read: 3,
        rejected: 0,
        duplicates: 0,
        expected_rows: 3,
    }
}

async fn store_with(db: &TestDb, n: usize) -> Store {
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .upsert_campaign("c1", "announcement", "T", "", T0)
        .await
        .unwrap();
    let contacts: Vec<ContactRecord> = (0..n)
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
    let files = store.imported_files("c1").await.unwrap();
    assert_eq!(
        files.iter().map(|f| f.imported).collect::<Vec<_>>(),
        vec![2, 1]
    );
}

async fn claims_are_atomic_and_write_the_attempt_first(db: &TestDb) {
    let store = store_with(db, 60).await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let c = s.claim_due("c1", T0, 7, &launch_all).await.unwrap();
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
    // The database folder must outlive the store: it is deleted when `db2` is dropped.
    let db2 = TestDb::sqlite();
    let store2 = store_with(&db2, 1).await;
    assert!(store2
        .claim_due("c1", T0 - 1, 10, &launch_all)
        .await
        .unwrap()
        .is_empty());
}

async fn closing_twice_counts_once(db: &TestDb) {
    let store = store_with(db, 1).await;
    let c = store
        .claim_due("c1", T0, 10, &launch_all)
        .await
        .unwrap()
        .remove(0);
    store
        .mark_launched(c.attempt_id, "1700000000.1", T0)
        .await
        .unwrap();
    let p = policy(3);
    let first = store
        .close_attempt(c.attempt_id, &close(AttemptResult::Busy, T0 + 1000), &p)
        .await
        .unwrap();
    assert_eq!(first.map(|n| n.state), Some(ContactState::Scheduled));
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
    let c1 = store
        .claim_due("c1", T0, 10, &launch_all)
        .await
        .unwrap()
        .remove(0);
    let next = store
        .close_attempt(c1.attempt_id, &close(AttemptResult::NoAnswer, T0), &p)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.state, "scheduled");
    let due = next.next_at.unwrap();
    assert!(
        store
            .claim_due("c1", due - 1, 10, &launch_all)
            .await
            .unwrap()
            .is_empty(),
        "claimed before the retry delay"
    );
    assert_eq!(store.next_due("c1").await.unwrap(), Some(due));
    let c2 = store
        .claim_due("c1", due, 10, &launch_all)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(c2.number, 2);
    let next = store
        .close_attempt(c2.attempt_id, &close(AttemptResult::NoAnswer, due), &p)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.state, "unreachable");
    assert_eq!(store.unfinished_contacts().await.unwrap(), 0);
    assert_eq!(store.next_due("c1").await.unwrap(), None);
}

async fn not_placed_launches_do_not_count(db: &TestDb) {
    let store = store_with(db, 2).await;
    let claims = store.claim_due("c1", T0, 10, &launch_all).await.unwrap();
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
    let again = store
        .claim_due("c1", T0 + 5000, 10, &launch_all)
        .await
        .unwrap();
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
    let c = store
        .claim_due("c1", T0, 10, &launch_all)
        .await
        .unwrap()
        .remove(0);
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
                answers: vec![("q1".into(), "1".into())],
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        store.survey_answers("c1").await.unwrap(),
        vec![("q1".to_string(), "1".to_string(), 1)]
    );
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
    let c = store
        .claim_due("c1", T0, 10, &launch_all)
        .await
        .unwrap()
        .remove(0);
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
    assert_eq!(
        a.attempt,
        Some(LineAttempt {
            attempt_id: c.attempt_id,
            campaign_id: "c1".into(),
            open: true
        })
    );
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
    assert!(store.set_paused("c1", true, None, T0).await.unwrap());
    assert_eq!(store.unfinished_contacts().await.unwrap(), 0);
    assert!(store.campaigns().await.unwrap()[0].paused);
    // Re-reading campaign.toml keeps the paused flag.
    store
        .upsert_campaign("c1", "announcement", "T2", "", T0)
        .await
        .unwrap();
    assert!(store.campaigns().await.unwrap()[0].paused);
    assert!(!store.set_paused("nope", true, None, T0).await.unwrap());
    store.ping().await.unwrap();
}

async fn the_gate_defers_and_closes_inside_the_claim(db: &TestDb) {
    let store = store_with(db, 3).await;
    let gate = |c: &Candidate| match c.phone.as_str() {
        "+34600000000" => Gate::Defer {
            until: T0 + 60_000,
            note: "outside calling hours".into(),
        },
        "+34600000001" => Gate::Close {
            state: ContactState::Expired,
            note: "appointment passed".into(),
        },
        _ => Gate::Launch,
    };
    let claims = store.claim_due("c1", T0, 10, &gate).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].phone, "+34600000002");
    let deferred = store.contact("c1", "+34600000000").await.unwrap().unwrap();
    assert_eq!(
        (deferred.state.as_str(), deferred.next_at),
        ("scheduled", T0 + 60_000)
    );
    assert_eq!(deferred.note.as_deref(), Some("outside calling hours"));
    assert_eq!(deferred.attempts, 0, "a deferral is not an attempt");
    let closed = store.contact("c1", "+34600000001").await.unwrap().unwrap();
    assert_eq!(closed.state, "expired");
    // Deferred contacts are not offered again before their time.
    assert!(store
        .claim_due("c1", T0 + 59_999, 10, &launch_all)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .claim_due("c1", T0 + 60_000, 10, &launch_all)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn do_not_call_entries_round_trip_and_reach_the_gate(db: &TestDb) {
    let store = store_with(db, 2).await;
    let entry = DncEntry {
        phone: "+34600000001".into(),
        until_date: Some("2026-12-31".into()),
        hours: Some("mon-fri 09:00-14:00".into()),
        source: "blacklist.csv".into(),
    };
    assert_eq!(
        store
            .dnc_upsert(std::slice::from_ref(&entry), T0)
            .await
            .unwrap(),
        1
    );
    let permanent = DncEntry {
        until_date: None,
        hours: None,
        source: "cli".into(),
        ..entry.clone()
    };
    store
        .dnc_upsert(std::slice::from_ref(&permanent), T0)
        .await
        .unwrap();
    assert_eq!(store.dnc_list().await.unwrap(), vec![permanent.clone()]);
    let seen = std::sync::Mutex::new(Vec::new());
    let gate = |c: &Candidate| {
        seen.lock().unwrap().push((c.phone.clone(), c.dnc.clone()));
        Gate::Launch
    };
    store.claim_due("c1", T0, 10, &gate).await.unwrap();
    let seen = seen.into_inner().unwrap();
    assert!(seen.contains(&("+34600000001".to_string(), Some(permanent))));
    assert!(seen.contains(&("+34600000000".to_string(), None)));
    assert!(store.dnc_remove("+34600000001").await.unwrap());
    assert!(!store.dnc_remove("+34600000001").await.unwrap());
    assert!(store.dnc_list().await.unwrap().is_empty());
}

async fn repeated_results_grow_the_delay_and_explain_sees_the_history(db: &TestDb) {
    let store = store_with(db, 1).await;
    let p = policy(5);
    let mut now = T0;
    let mut delays = Vec::new();
    for _ in 0..3 {
        let c = store
            .claim_due("c1", now, 1, &launch_all)
            .await
            .unwrap()
            .remove(0);
        let next = store
            .close_attempt(c.attempt_id, &close(AttemptResult::Busy, now), &p)
            .await
            .unwrap()
            .unwrap();
        let at = next.next_at.unwrap();
        delays.push(at - now);
        now = at;
    }
    assert_eq!(delays, vec![600_000, 1_200_000, 2_400_000]);
    let detail = store.contact("c1", "+34600000000").await.unwrap().unwrap();
    assert_eq!(
        (detail.attempts, detail.last_result.as_deref()),
        (3, Some("busy"))
    );
    let attempts = store.attempts_of(detail.contact_id).await.unwrap();
    assert_eq!(
        attempts.iter().map(|a| a.number).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(attempts.iter().all(|a| a.result.as_deref() == Some("busy")));
    store.pause_all("no balance (402)", now).await.unwrap();
    let rows = store.campaigns().await.unwrap();
    assert!(rows[0].paused);
    assert_eq!(rows[0].paused_reason.as_deref(), Some("no balance (402)"));
    store.set_paused("c1", false, None, now).await.unwrap();
    assert_eq!(store.campaigns().await.unwrap()[0].paused_reason, None);
}

async fn an_import_cut_short_is_resumed_not_skipped(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    store
        .upsert_campaign("c1", "announcement", "T", "", T0)
        .await
        .unwrap();
    let records: Vec<ContactRecord> = (0..2600)
        .map(|i| ContactRecord {
            appointment_at: (i % 2 == 0).then_some(T0 + i),
            timezone: (i % 3 == 0).then(|| "Atlantic/Canary".to_string()),
            ..(contact(&format!("+3461{i:07}")))
        })
        .collect();
    let big = FileImport {
        rows_read: 2600,
        expected_rows: 2600,
        ..file("big")
    };
    let id = store.begin_import("c1", &big, T0).await.unwrap().unwrap();
    assert_eq!(
        store
            .insert_contacts("c1", id, &records[..1500], T0)
            .await
            .unwrap(),
        1500
    );
    // The daemon dies here. On restart the same file resumes under the same record.
    assert_eq!(store.begin_import("c1", &big, T0).await.unwrap(), Some(id));
    assert_eq!(
        store.insert_contacts("c1", id, &records, T0).await.unwrap(),
        1100
    );
    store.finish_import(id, &big).await.unwrap();
    assert_eq!(store.begin_import("c1", &big, T0).await.unwrap(), None);
    let files = store.imported_files("c1").await.unwrap();
    assert_eq!(
        (files.len(), files[0].imported, files[0].rows_read),
        (1, 2600, 2600)
    );
    let c = store.contact("c1", "+34610000002").await.unwrap().unwrap();
    assert_eq!((c.appointment_at, c.timezone), (Some(T0 + 2), None));
    let c = store.contact("c1", "+34610000003").await.unwrap().unwrap();
    assert_eq!(
        (c.appointment_at, c.timezone.as_deref()),
        (None, Some("Atlantic/Canary"))
    );
}

/// Answers the attempt with `outcome` and closes it.
async fn answer_and_close(store: &Store, attempt_id: i64, outcome: &str, dtmf: &str, at: i64) {
    let event = CallEvent {
        attempt_id: Some(attempt_id),
        provider_call_id: Some(format!("call.{attempt_id}")),
        kind: "result".into(),
        command: Some("speak_getdtmf".into()),
        dtmf: Some(dtmf.into()),
        statuscall: Some("ANSWER".into()),
        fields: "{}".into(),
        received_at: at,
    };
    let progress = Progress {
        answered: true,
        outcome: Some(outcome.into()),
        dtmf: Some(dtmf.into()),
        answers: vec![],
    };
    store.record_event(&event, Some(&progress)).await.unwrap();
    store
        .close_attempt(attempt_id, &close(AttemptResult::Answered, at), &policy(3))
        .await
        .unwrap()
        .unwrap();
}

async fn a_final_state_writes_an_outbox_row_in_its_transaction(db: &TestDb) {
    let store = store_with(db, 4).await;
    // Before the campaign has a URL nothing is queued.
    let claims = store.claim_due("c1", T0, 1, &launch_all).await.unwrap();
    answer_and_close(&store, claims[0].attempt_id, "confirmed", "1", T0 + 1).await;
    assert!(store.event_outbox("c1").await.unwrap().is_empty());

    store
        .set_notify_target("c1", Some("https://u:p@example.com/hook"), T0)
        .await
        .unwrap();
    let gate = |c: &Candidate| match c.phone.as_str() {
        "+34600000001" => Gate::Close {
            state: ContactState::Blocked,
            note: "do-not-call".into(),
        },
        _ => Gate::Launch,
    };
    let claims = store.claim_due("c1", T0 + 10, 10, &gate).await.unwrap();
    assert_eq!(claims.len(), 2);
    // Scheduled (a retry) is not final: no row.
    store
        .close_attempt(
            claims[1].attempt_id,
            &close(AttemptResult::Busy, T0 + 20),
            &policy(3),
        )
        .await
        .unwrap();
    answer_and_close(&store, claims[0].attempt_id, "cancelled", "2", T0 + 30).await;
    let rows = store.event_outbox("c1").await.unwrap();
    let states: Vec<&str> = rows.iter().map(|r| r.state.as_str()).collect();
    assert_eq!(states, ["blocked", "cancelled"]);
    assert!(rows
        .iter()
        .all(|r| r.tries == 0 && r.delivered_at.is_none()));

    let due = store.due_deliveries(T0 + 30, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    let n = &due[1];
    assert_eq!(
        (n.state.as_str(), n.phone.as_str(), n.dtmf.as_deref()),
        ("cancelled", claims[0].phone.as_str(), Some("2"))
    );
    assert_eq!((n.attempts, n.created_at), (1, T0 + 30));
    assert_eq!(n.url, "https://u:p@example.com/hook");
    assert_eq!(n.vars.get("telefono"), Some(&n.phone));
    assert_eq!(store.next_delivery_at().await.unwrap(), Some(T0 + 10));

    // Without a URL again, later outcomes are not queued; queued ones stay.
    store.set_notify_target("c1", None, T0).await.unwrap();
    // The busy contact's retry.
    let later = T0 + 86_400_000;
    let claims = store.claim_due("c1", later, 10, &launch_all).await.unwrap();
    assert_eq!(claims.len(), 1);
    answer_and_close(&store, claims[0].attempt_id, "confirmed", "1", later + 1).await;
    assert_eq!(store.event_outbox("c1").await.unwrap().len(), 2);
}

async fn outbox_rows_retry_give_up_and_deliver_once(db: &TestDb) {
    let store = store_with(db, 2).await;
    store
        .set_notify_target("c1", Some("http://127.0.0.1:9/x"), T0)
        .await
        .unwrap();
    let claims = store.claim_due("c1", T0, 10, &launch_all).await.unwrap();
    answer_and_close(&store, claims[0].attempt_id, "confirmed", "1", T0 + 1).await;
    answer_and_close(&store, claims[1].attempt_id, "cancelled", "2", T0 + 2).await;
    let rows = store.event_outbox("c1").await.unwrap();
    let (a, b) = (rows[0].id, rows[1].id);

    store
        .notification_failed(a, "HTTP 500", Some(T0 + 1_000), T0 + 5)
        .await
        .unwrap();
    let due: Vec<i64> = store
        .due_deliveries(T0 + 999, 10)
        .await
        .unwrap()
        .iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(due, [b], "a failed row waits for its retry time");
    assert_eq!(store.next_delivery_at().await.unwrap(), Some(T0 + 2));
    store.deliveries_done(&[b], T0 + 6).await.unwrap();
    // Delivered rows are never offered again, and a late failure report changes nothing.
    store
        .notification_failed(b, "late", None, T0 + 7)
        .await
        .unwrap();
    assert_eq!(store.next_delivery_at().await.unwrap(), Some(T0 + 1_000));
    let due = store.due_deliveries(T0 + 1_000, 10).await.unwrap();
    assert_eq!((due.len(), due[0].id, due[0].tries), (1, a, 1));
    store
        .notification_failed(a, "timeout", None, T0 + 1_001)
        .await
        .unwrap();
    assert!(store
        .due_deliveries(i64::MAX / 2, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.next_delivery_at().await.unwrap(), None);
    let rows = store.event_outbox("c1").await.unwrap();
    assert_eq!(
        (
            rows[0].tries,
            rows[0].gave_up_at,
            rows[0].last_error.as_deref()
        ),
        (2, Some(T0 + 1_001), Some("timeout"))
    );
    assert_eq!((rows[1].tries, rows[1].delivered_at), (0, Some(T0 + 6)));
}

async fn report_queries_see_contacts_attempts_events_and_opt_outs(db: &TestDb) {
    let store = store_with(db, 3).await;
    let claims = store.claim_due("c1", T0, 2, &launch_all).await.unwrap();
    assert_eq!(claims.len(), 2);
    let (a, b) = (&claims[0], &claims[1]);
    store
        .mark_launched(a.attempt_id, "7.1", T0 + 10)
        .await
        .unwrap();
    store
        .mark_launched(b.attempt_id, "7.2", T0 + 10)
        .await
        .unwrap();
    let ev = |kind: &str, dtmf: Option<&str>, at: i64| CallEvent {
        attempt_id: Some(a.attempt_id),
        provider_call_id: Some("7.1".into()),
        kind: kind.into(),
        command: Some("speak".into()),
        dtmf: dtmf.map(str::to_string),
        statuscall: Some("ANSWER".into()),
        fields: "{}".into(),
        received_at: at,
    };
    let answered = Progress {
        answered: true,
        ..Default::default()
    };
    store
        .record_event(&ev("start", None, T0 + 100), Some(&answered))
        .await
        .unwrap();
    // The opt-out: on the do-not-call list first, then the event is stored (as the webhook does).
    let entry = DncEntry {
        phone: a.phone.clone(),
        until_date: None,
        hours: None,
        source: "opt-out (c1)".into(),
    };
    store
        .dnc_upsert(std::slice::from_ref(&entry), T0 + 200)
        .await
        .unwrap();
    store
        .record_event(
            &ev("result", Some("9"), T0 + 200),
            Some(&Progress {
                answered: true,
                outcome: Some("opted_out".into()),
                dtmf: Some("9".into()),
                answers: vec![],
            }),
        )
        .await
        .unwrap();
    let batch = store
        .store_report_batch("calls=[]", T0 + 500)
        .await
        .unwrap();
    let line = ReportLine {
        provider_call_id: "7.1".into(),
        startdate: "2026-11-23 10:00:00.000001".into(),
        dst: "600000000".into(),
        status: "answer".into(),
        duration_seconds: 20,
        cost: 0.05,
        raw: "{}".into(),
    };
    store
        .apply_report_line(batch, &line, T0 + 500)
        .await
        .unwrap();
    store
        .close_attempt(
            a.attempt_id,
            &close(AttemptResult::Answered, T0 + 300),
            &policy(3),
        )
        .await
        .unwrap();
    store
        .close_attempt(
            b.attempt_id,
            &close(AttemptResult::Busy, T0 + 300),
            &policy(3),
        )
        .await
        .unwrap();

    let rows = store.contact_report("c1").await.unwrap();
    assert_eq!(rows.len(), 3);
    let ra = rows.iter().find(|r| r.phone == a.phone).unwrap();
    assert_eq!(ra.state, "opted_out");
    assert_eq!(ra.attempts, 1);
    assert_eq!(ra.dtmf.as_deref(), Some("9"));
    assert_eq!(ra.last_result.as_deref(), Some("answered"));
    assert_eq!(ra.last_call_at, Some(T0 + 300));
    assert_eq!(ra.talk_seconds, 20);
    assert!((ra.cost - 0.05).abs() < 1e-9, "{}", ra.cost);
    assert_eq!(ra.vars.get("telefono"), Some(&a.phone));
    let untouched = rows
        .iter()
        .find(|r| r.phone != a.phone && r.phone != b.phone)
        .unwrap();
    assert_eq!(
        (untouched.attempts, untouched.talk_seconds, untouched.cost),
        (0, 0, 0.0)
    );
    assert_eq!(untouched.last_call_at, None);

    let facts = store.attempt_facts("c1").await.unwrap();
    assert_eq!(facts.len(), 2);
    let fa = facts.iter().find(|f| f.attempt_id == a.attempt_id).unwrap();
    assert_eq!(fa.phone, a.phone);
    assert_eq!(fa.created_at, T0);
    assert_eq!(fa.launched_at, Some(T0 + 10));
    assert_eq!(fa.answered_at, Some(T0 + 100));
    assert_eq!(fa.outcome.as_deref(), Some("opted_out"));
    let fb = facts.iter().find(|f| f.attempt_id == b.attempt_id).unwrap();
    assert_eq!(fb.result.as_deref(), Some("busy"));
    assert_eq!(fb.answered_at, None);

    let events = store.events_of(a.contact_id).await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| (e.kind.as_str(), e.dtmf.as_deref(), e.received_at))
            .collect::<Vec<_>>(),
        vec![("start", None, T0 + 100), ("result", Some("9"), T0 + 200)]
    );
    assert!(store.events_of(b.contact_id).await.unwrap().is_empty());
    let lines = store.report_lines_of(a.contact_id).await.unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (lines[0].attempt_id, lines[0].duration_seconds),
        (a.attempt_id, 20)
    );
    assert_eq!(lines[0].status, "answer");

    let outs = store.opt_outs("c1").await.unwrap();
    assert_eq!(
        outs,
        vec![OptOutRow {
            attempt_id: a.attempt_id,
            phone: a.phone.clone(),
            keys_at: Some(T0 + 200),
            dnc_at: Some(T0 + 200),
            dnc_source: Some("opt-out (c1)".into()),
        }]
    );
    assert!(store.opt_outs("other").await.unwrap().is_empty());
}

/// A database from before migration 0005 (the inline `UNIQUE (campaign_id, phone)` of 0001),
/// with contacts and an attempt pointing at one of them: migrated, its contacts are built again
/// between 0005 and 0006, every row, id and reference kept, and the later migrations (the
/// outbox trigger, the views) find the table as they expect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contacts_rebuild_keeps_rows_references_and_triggers_sqlite() {
    use std::str::FromStr;
    let db = TestDb::sqlite();
    let mut before = sqlx::migrate!("./migrations/sqlite");
    let up_to_0004: Vec<_> = before.iter().filter(|m| m.version <= 4).cloned().collect();
    before.migrations = up_to_0004.into();
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&db.url)
        .unwrap()
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    before.run(&pool).await.unwrap();
    for q in [
        "INSERT INTO campaigns (id, kind, created_at, updated_at) VALUES ('c1', 'aviso', 1, 1)",
        "INSERT INTO contacts (campaign_id, phone, next_at, updated_at) VALUES
             ('c1', '+34600000000', 1, 1), ('c1', '+34600000001', 1, 1), ('c1', '+34600000002', 1, 1)",
        "INSERT INTO attempts (contact_id, campaign_id, number, status, created_at)
             VALUES (2, 'c1', 1, 'launching', 1)",
    ] {
        sqlx::query(q).execute(&pool).await.unwrap();
    }
    let inline = "SELECT COUNT(*) FROM sqlite_master WHERE tbl_name = 'contacts' AND sql IS NULL";
    let count = |pool: sqlx::SqlitePool| async move {
        sqlx::query_scalar::<_, i64>(inline)
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(count(pool.clone()).await, 1, "the old layout is in place");
    pool.close().await;

    let store = Store::connect(&db.url).await.expect("migrate");
    let Store::Sqlite(s) = &store else {
        unreachable!()
    };
    assert_eq!(count(s.pool().clone()).await, 0);
    assert!(has_phone_index(&store).await);
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE tbl_name = 'contacts' AND sql IS NOT NULL ORDER BY name",
    )
    .fetch_all(s.pool())
    .await
    .unwrap();
    assert_eq!(
        names,
        [
            "contacts",
            "contacts_due",
            "contacts_notify_final_state",
            "contacts_phone"
        ]
    );
    assert_eq!(store.stats("c1").await.unwrap().contacts, 3);
    let info = store.attempt_info(1).await.unwrap().unwrap();
    assert_eq!((info.contact_id, info.phone.as_str()), (2, "+34600000001"));
    // The state check holds, and the trigger writes the outbox row of a final state.
    let bad = sqlx::query("UPDATE contacts SET state = 'bogus' WHERE id = 1")
        .execute(&*s.writer().await)
        .await;
    assert!(bad.is_err(), "{bad:?}");
    store
        .set_notify_target("c1", Some("http://127.0.0.1:9/x"), T0)
        .await
        .unwrap();
    sqlx::query("UPDATE contacts SET state = 'confirmed', updated_at = 2 WHERE id = 1")
        .execute(&*s.writer().await)
        .await
        .unwrap();
    assert_eq!(store.event_outbox("c1").await.unwrap().len(), 1);
    // Still one contact per number.
    let again = store
        .import_contacts("c1", &file("again"), &[contact("+34600000000")], T0)
        .await
        .unwrap();
    assert_eq!((again.inserted, again.existing), (0, 1));
}

async fn concurrent_small_writes_are_all_stored_and_a_bad_one_fails_alone(db: &TestDb) {
    // SQLite groups these into shared transactions: one write that breaks a constraint must
    // not take the others of its group down with it.
    let store = store_with(db, 40).await;
    let claims = store.claim_due("c1", T0, 40, &launch_all).await.unwrap();
    assert_eq!(claims.len(), 40);
    let mut tasks = Vec::new();
    for (i, c) in claims.iter().enumerate() {
        let s = store.clone();
        let (attempt_id, call) = (c.attempt_id, format!("77.{i}"));
        tasks.push(tokio::spawn(async move {
            s.mark_launched(attempt_id, &call, T0).await?;
            let event = CallEvent {
                attempt_id: Some(attempt_id),
                provider_call_id: Some(call),
                kind: "start".into(),
                command: None,
                dtmf: Some("1".into()),
                statuscall: Some("ANSWER".into()),
                fields: "{}".into(),
                received_at: T0 + 1,
            };
            let answered = Progress {
                answered: true,
                dtmf: Some("1".into()),
                ..Default::default()
            };
            s.record_event(&event, Some(&answered)).await?;
            if i % 2 == 0 {
                s.close_attempt(
                    attempt_id,
                    &close(AttemptResult::Answered, T0 + 2),
                    &policy(3),
                )
                .await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    let bad = CallEvent {
        attempt_id: Some(i64::MAX / 2),
        provider_call_id: None,
        kind: "start".into(),
        command: None,
        dtmf: None,
        statuscall: None,
        fields: "{}".into(),
        received_at: T0,
    };
    let bad_result = store.record_event(&bad, None).await;
    for t in tasks {
        t.await.unwrap().expect("every good write is stored");
    }
    assert!(
        bad_result.is_err(),
        "an event for no attempt breaks the foreign key"
    );
    for (i, c) in claims.iter().enumerate() {
        let info = store.attempt_info(c.attempt_id).await.unwrap().unwrap();
        assert!(info.answered, "attempt {i} lost its answer");
        assert_eq!(info.provider_call_id, Some(format!("77.{i}")));
        let expected = if i % 2 == 0 { "closed" } else { "ringing" };
        assert_eq!(info.status, expected, "attempt {i}");
    }
    let states = store.stats("c1").await.unwrap().states;
    assert_eq!(states.get("no_response"), Some(&20), "{states:?}");
}

async fn a_report_chunk_applies_in_order_and_closes_each_attempt_once(db: &TestDb) {
    let store = store_with(db, 3).await;
    let claims = store.claim_due("c1", T0, 3, &launch_all).await.unwrap();
    for (i, c) in claims.iter().enumerate() {
        store
            .mark_launched(c.attempt_id, &format!("8.{i}"), T0)
            .await
            .unwrap();
    }
    // The first call was answered (a start request came), the report says so too.
    store
        .record_event(
            &CallEvent {
                attempt_id: Some(claims[0].attempt_id),
                provider_call_id: Some("8.0".into()),
                kind: "start".into(),
                command: None,
                dtmf: None,
                statuscall: Some("ANSWER".into()),
                fields: "{}".into(),
                received_at: T0,
            },
            Some(&Progress {
                answered: true,
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    let batch = store.store_report_batch("calls=[]", T0).await.unwrap();
    let line = |id: &str, dst: &str, status: &str| ReportLine {
        provider_call_id: id.into(),
        startdate: "2026-11-23 10:00:00.000001".into(),
        dst: dst.into(),
        status: status.into(),
        duration_seconds: 9,
        cost: 0.01,
        raw: "{}".into(),
    };
    let lines = vec![
        line("8.0", "600000000", "answer"),
        line("1.1", "911111111", "answer"),
        line("8.1", "600000001", "busy"),
        line("8.0", "910000000", "answer"),
        line("8.0", "600000000", "answer"),
        line("8.2", "600000002", "noanswer"),
        // An inbound call's DID leg without its ID: stored, matched to no attempt.
        line("", "910000000", "answer"),
    ];
    let applied = store.apply_report_lines(batch, &lines, T0).await.unwrap();
    assert_eq!(
        applied.iter().map(|a| a.new).collect::<Vec<_>>(),
        vec![true, true, true, true, false, true, true],
        "the repeated line within the chunk is not new"
    );
    assert_eq!(applied[1].attempt, None, "not our call");
    assert_eq!(
        applied[6].attempt, None,
        "a leg without an ID is nobody's attempt"
    );
    let again = store
        .apply_report_lines(batch, &lines[6..], T0)
        .await
        .unwrap();
    assert!(!again[0].new, "the ID-less leg is stored once");
    assert_eq!(
        applied[0].attempt,
        Some(LineAttempt {
            attempt_id: claims[0].attempt_id,
            campaign_id: "c1".into(),
            open: true
        })
    );
    assert!(applied[0].answered && !applied[2].answered);
    let jobs: Vec<CloseJob> = [
        (0, AttemptResult::Answered),
        (1, AttemptResult::Busy),
        (0, AttemptResult::Answered),
        (2, AttemptResult::NoAnswer),
    ]
    .iter()
    .map(|(i, r)| CloseJob {
        attempt_id: claims[*i].attempt_id,
        close: close(*r, T0 + 5),
        policy: policy(1),
    })
    .collect();
    store
        .set_notify_target("c1", Some("http://127.0.0.1:9/hook"), T0)
        .await
        .unwrap();
    let next = store.close_attempts(&jobs).await.unwrap();
    assert!(next[0].is_some() && next[1].is_some() && next[3].is_some());
    assert!(next[2].is_none(), "the second leg of a call closes nothing");
    let again = store.close_attempts(&jobs).await.unwrap();
    assert!(
        again.iter().all(Option::is_none),
        "a batch sent again closes nothing"
    );
    let stats = store.stats("c1").await.unwrap();
    assert!((stats.cost - 0.04).abs() < 1e-9, "{}", stats.cost);
    assert_eq!(
        stats.states.get("no_response"),
        Some(&1),
        "{:?}",
        stats.states
    );
    assert_eq!(
        stats.states.get("unreachable"),
        Some(&2),
        "{:?}",
        stats.states
    );
    // Each final state wrote its notification in the same transaction, once.
    assert_eq!(store.event_outbox("c1").await.unwrap().len(), 3);
}

async fn claims_take_the_earliest_due_across_pending_and_scheduled(db: &TestDb) {
    let store = store_with(db, 4).await;
    let phone = |i: usize| format!("+3460000{i:04}");
    // Contact 0 is deferred to T0 + 10 inside the claim that launches contact 1, which is then
    // not placed and due again at T0 + 20: both are `scheduled`, 2 and 3 still `pending` at T0.
    let deferred = phone(0);
    let gate = move |c: &Candidate| {
        if c.phone == deferred {
            Gate::Defer {
                until: T0 + 10,
                note: "window".into(),
            }
        } else {
            Gate::Launch
        }
    };
    let one = store.claim_due("c1", T0, 1, &gate).await.unwrap();
    assert_eq!(
        one.iter().map(|c| c.phone.clone()).collect::<Vec<_>>(),
        vec![phone(1)]
    );
    store
        .mark_not_placed(one[0].attempt_id, "test", &NotPlaced::RetryAt(T0 + 20), T0)
        .await
        .unwrap();
    assert_eq!(store.next_due("c1").await.unwrap(), Some(T0));
    let order: Vec<String> = store
        .claim_due("c1", T0 + 30, 10, &launch_all)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.phone)
        .collect();
    assert_eq!(order, vec![phone(2), phone(3), phone(0), phone(1)]);
    assert_eq!(store.next_due("c1").await.unwrap(), None);
}

// ---- The import lease and the bulk path, on both backends ----------------------------------

crate::testing::on_both_backends!("store";
    a_big_first_file_gives_the_same_contacts_on_the_bulk_and_the_ordinary_path,
    a_second_importer_of_the_campaign_waits_for_the_lease,
    an_aborted_bulk_import_leaves_nothing_half_done,
);

/// Waits (polling, up to 20 s) until `cond` holds.
async fn wait_until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !cond().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A campaign folder `dir/<id>` with an announcement `campaign.toml`.
fn campaign_folder(dir: &std::path::Path, id: &str) -> crate::campaign::Campaign {
    let folder = dir.join(id);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("campaign.toml"),
        "kind = \"announcement\"\ncaller_id = \"+34910000000\"\n[announcement]\nmessage = \"Hola {nombre}\"\n",
    )
    .unwrap();
    crate::campaign::Campaign::load(&folder).unwrap()
}

/// A CSV of `BULK` rows as Excel users write them: the same number in three forms, some
/// numbers twice in another form (the first row wins), some rows without a valid number.
fn big_csv(extra: &str) -> String {
    let mut text = String::from("telefono;nombre;notas\r\n");
    for i in 0..BULK {
        let (n, name) = if i % 97 == 50 {
            (i - 50 + 1, format!("Repetido {i}"))
        } else {
            (i, format!("Persona {i}"))
        };
        let d = format!("65{n:07}");
        let phone = if i % 1000 == 999 {
            "12".to_string()
        } else {
            match i % 3 {
                0 => format!("{} {} {} {}", &d[0..3], &d[3..5], &d[5..7], &d[7..9]),
                1 => format!("+34 {}-{}-{}", &d[0..3], &d[3..6], &d[6..9]),
                _ => format!("0034{d}"),
            }
        };
        text.push_str(&format!(
            "{phone};{name};\"nota \"\"{i}\"\" con \\ barra\"\r\n"
        ));
    }
    text.push_str(extra);
    text
}

async fn import_csv(
    store: &Store,
    campaign: &crate::campaign::Campaign,
    name: &str,
    text: &str,
) -> crate::campaign::import::ImportSummary {
    let path = campaign.dir.join(name);
    std::fs::write(&path, text).unwrap();
    crate::campaign::import::import_file(
        store,
        campaign,
        chrono_tz::Europe::Madrid,
        &path,
        crate::campaign::phone::region("ES"),
        crate::i18n::Lang::Es,
        T0,
        None,
    )
    .await
    .unwrap()
}

/// Shorthands of the tests.
impl Store {
    /// One report line through [`Store::apply_report_lines`].
    pub(super) async fn apply_report_line(
        &self,
        batch_id: i64,
        line: &ReportLine,
        now: i64,
    ) -> Result<ReportLineApplied> {
        let mut applied = self
            .apply_report_lines(batch_id, std::slice::from_ref(line), now)
            .await?;
        Ok(applied.pop().expect("one result per line"))
    }

    /// Every row [`Store::contact_report_each`] streams, in memory.
    pub(super) async fn contact_report(&self, campaign: &str) -> Result<Vec<ContactReportRow>> {
        let mut rows = Vec::new();
        self.contact_report_each(campaign, |r| {
            rows.push(r);
            Ok::<_, StoreError>(())
        })
        .await?;
        Ok(rows)
    }
}

/// (phone, name, state, vars) of every contact, in id order.
async fn contact_rows(
    store: &Store,
    campaign: &str,
) -> Vec<(String, String, String, BTreeMap<String, String>)> {
    store
        .contact_report(campaign)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.phone, r.name, r.state, r.vars))
        .collect()
}

async fn a_big_first_file_gives_the_same_contacts_on_the_bulk_and_the_ordinary_path(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    let dir = tempfile::tempdir().unwrap();
    let bulk = campaign_folder(dir.path(), "bulk");
    let plain = campaign_folder(dir.path(), "plain");
    for c in [&bulk, &plain] {
        store
            .upsert_campaign(&c.id, "announcement", "T", "", T0)
            .await
            .unwrap();
    }
    let blocked = ["+34650000001", "+34650000003"];
    let dnc: Vec<DncEntry> = blocked
        .iter()
        .map(|p| DncEntry {
            phone: p.to_string(),
            until_date: None,
            hours: None,
            source: "cli".into(),
        })
        .collect();
    store.dnc_upsert(&dnc, T0).await.unwrap();
    // `plain` has a contact already, so its copy of the big file takes the ordinary path.
    import_csv(
        &store,
        &plain,
        "primero.csv",
        "telefono;nombre;notas\r\n+34 699 999 999;Primero;x\r\n",
    )
    .await;
    let text = big_csv("");
    let a = import_csv(&store, &bulk, "lista.csv", &text).await;
    let b = import_csv(&store, &plain, "lista.csv", &text).await;
    assert_eq!(
        (a.rows_read, a.imported, a.rejected, a.duplicates),
        (b.rows_read, b.imported, b.rejected, b.duplicates)
    );
    // A repeat is a duplicate when both it and the row it repeats have a valid number.
    let repeats = (0..BULK)
        .filter(|i| i % 97 == 50 && i % 1000 != 999 && (i - 49) % 1000 != 999)
        .count() as u64;
    assert_eq!(a.rejected, (BULK / 1000) as u64);
    assert_eq!(a.duplicates, repeats);
    assert_eq!(a.imported, BULK as u64 - a.rejected - repeats);
    let rows_a = contact_rows(&store, "bulk").await;
    let mut rows_b = contact_rows(&store, "plain").await;
    assert_eq!(rows_b.remove(0).0, "+34699999999");
    assert_eq!(rows_a.len() as u64, a.imported);
    assert!(rows_a == rows_b, "the two paths stored different contacts");
    // The first row of a number wins; the CSV columns survive COPY's escapes.
    let c = store
        .contact("bulk", "+34650000001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.name, "Persona 1");
    assert_eq!(
        rows_a[0].3.get("notas").map(String::as_str),
        Some("nota \"0\" con \\ barra")
    );
    // Do-not-call hits reach the gate the same way.
    let gate = |c: &Candidate| match c.dnc {
        Some(_) => Gate::Close {
            state: ContactState::Blocked,
            note: "do-not-call".into(),
        },
        None => Gate::Launch,
    };
    for campaign in ["bulk", "plain"] {
        store.claim_due(campaign, T0, 10, &gate).await.unwrap();
        for p in blocked {
            let c = store.contact(campaign, p).await.unwrap().unwrap();
            assert_eq!(c.state, "blocked", "{campaign} {p}");
        }
    }
    // Idempotent by content; a re-saved file with one more row imports only that row.
    let again = import_csv(&store, &bulk, "lista.csv", &text).await;
    assert!(again.already_imported);
    let resaved = big_csv("611 22 33 44;Nueva;x\r\n");
    let more = import_csv(&store, &bulk, "lista-2.csv", &resaved).await;
    assert_eq!((more.imported, more.duplicates), (1, a.imported + repeats));
    assert_eq!(
        store.stats("bulk").await.unwrap().contacts,
        a.imported as i64 + 1
    );
    assert!(has_phone_index(&store).await);
}

async fn a_second_importer_of_the_campaign_waits_for_the_lease(db: &TestDb) {
    let first = Store::connect(&db.url).await.expect("connect");
    // Another process: its own pools, its own leases.
    let second = Store::connect(&db.url).await.expect("connect");
    first
        .upsert_campaign("c1", "announcement", "T", "", T0)
        .await
        .unwrap();
    let records = numbered(BULK);
    let big = FileImport {
        expected_rows: BULK as u64,
        ..file("bulk")
    };
    let id = first.begin_import("c1", &big, T0).await.unwrap().unwrap();
    let waiting = {
        let second = second.clone();
        tokio::spawn(async move { second.begin_import("c1", &file("later"), T0).await })
    };
    match &first {
        Store::Postgres(s) => {
            wait_until("the second importer to wait for the advisory lock", || async {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                )
                .fetch_one(s.pool())
                .await
                .unwrap()
                    == 1
            })
            .await
        }
        Store::Sqlite(_) => {
            wait_until("the second importer to record its file", || async {
                first.imported_files("c1").await.unwrap().len() == 2
            })
            .await
        }
    }
    let mut waiting = waiting;
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), &mut waiting)
            .await
            .is_err(),
        "the second importer went ahead while the lease was held"
    );
    for chunk in records.chunks(5_000) {
        first.insert_contacts("c1", id, chunk, T0).await.unwrap();
    }
    first.finish_import(id, &big).await.unwrap();
    let later = tokio::time::timeout(std::time::Duration::from_secs(30), waiting)
        .await
        .expect("the second importer goes on once the lease is free")
        .unwrap()
        .unwrap()
        .unwrap();
    // It sees the first file's contacts: its own numbers already there are merged.
    let mut again = numbered(3);
    again.push(contact("+34699999999"));
    assert_eq!(
        second
            .insert_contacts("c1", later, &again, T0)
            .await
            .unwrap(),
        1
    );
    second.finish_import(later, &file("later")).await.unwrap();
    assert_eq!(first.stats("c1").await.unwrap().contacts, BULK as i64 + 1);
    assert!(has_phone_index(&first).await);
}

async fn an_aborted_bulk_import_leaves_nothing_half_done(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .upsert_campaign("c1", "announcement", "T", "", T0)
        .await
        .unwrap();
    let records = numbered(BULK);
    let big = FileImport {
        expected_rows: BULK as u64,
        ..file("bulk")
    };
    let id = store.begin_import("c1", &big, T0).await.unwrap().unwrap();
    for chunk in records[..20_000].chunks(5_000) {
        store.insert_contacts("c1", id, chunk, T0).await.unwrap();
    }
    store.abort_import(id).await.unwrap();
    assert!(has_phone_index(&store).await);
    let files = store.imported_files("c1").await.unwrap();
    assert_eq!(files.len(), 1, "the file stays recorded, to be resumed");
    let kept = store.stats("c1").await.unwrap().contacts;
    match &store {
        // One transaction from begin to finish: nothing of it was written.
        Store::Postgres(_) => assert_eq!((kept, files[0].imported), (0, 0)),
        // Each batch committed: they stay, counted, and the resumed import skips them.
        Store::Sqlite(_) => assert_eq!((kept, files[0].imported), (20_000, 20_000)),
    }
    // The lease is free: another process resumes the file at once.
    let other = Store::connect(&db.url).await.expect("connect");
    let resumed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        other.begin_import("c1", &big, T0),
    )
    .await
    .expect("the lease was released")
    .unwrap();
    assert_eq!(resumed, Some(id));
    for chunk in records.chunks(5_000) {
        other.insert_contacts("c1", id, chunk, T0).await.unwrap();
    }
    let record = other.finish_import(id, &big).await.unwrap();
    assert_eq!(record.imported, BULK as i64);
    assert_eq!(other.stats("c1").await.unwrap().contacts, BULK as i64);
    assert_eq!(store.begin_import("c1", &big, T0).await.unwrap(), None);
}

/// Rows a caller stages twice on PostgreSQL's bulk path (the CSV reader never does): the
/// unique index refuses them and the rows are written again, each number's first row kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_staged_twice_is_written_once_postgres() {
    let Some(db) = TestDb::postgres("store::a_number_staged_twice_is_written_once").await else {
        return;
    };
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .upsert_campaign("c1", "announcement", "T", "", T0)
        .await
        .unwrap();
    let mut records = numbered(BULK);
    records[3].name = "tab\there, newline\nthere, back\\slash \\N".into();
    records[10] = ContactRecord {
        name: "second".into(),
        ..records[3].clone()
    };
    let big = FileImport {
        expected_rows: BULK as u64,
        ..file("bulk")
    };
    let id = store.begin_import("c1", &big, T0).await.unwrap().unwrap();
    for chunk in records.chunks(5_000) {
        store.insert_contacts("c1", id, chunk, T0).await.unwrap();
    }
    let record = store.finish_import(id, &big).await.unwrap();
    assert_eq!((record.imported, record.duplicates), (BULK as i64 - 1, 1));
    let c = store
        .contact("c1", &records[3].phone)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.name, records[3].name);
    assert!(has_phone_index(&store).await);
}

async fn the_contact_report_streams_in_id_order_with_the_columns_of_every_file(db: &TestDb) {
    let store = store_with(db, 5).await;
    // A second file with other columns.
    let mut vars = BTreeMap::new();
    vars.insert("barrio".to_string(), "Triana".to_string());
    vars.insert("a_primero".to_string(), "x".to_string());
    let other = ContactRecord {
        phone: "+34611111111".into(),
        name: "Otra".into(),
        vars: crate::store::vars_to_json(&vars),
        timezone: None,
        appointment_at: None,
    };
    store
        .import_contacts("c1", &file("h1"), std::slice::from_ref(&other), T0)
        .await
        .unwrap();
    assert_eq!(
        store
            .contact_columns("c1", store.reads_whole_table("c1").await.unwrap())
            .await
            .unwrap(),
        vec!["telefono", "a_primero", "barrio"],
        "the first file's columns first, then the new ones of the next"
    );
    let mut seen = Vec::new();
    store
        .contact_report_each("c1", |r| {
            seen.push((r.contact_id, r.phone));
            Ok::<_, StoreError>(())
        })
        .await
        .unwrap();
    assert_eq!(seen.len(), 6);
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
    assert_eq!(seen[5].1, "+34611111111");
    // An error of the consumer stops the stream and comes back as it was.
    let mut calls = 0;
    let stopped = store
        .contact_report_each("c1", |_| {
            calls += 1;
            if calls == 2 {
                Err(StoreError::Corrupt("stop".into()))
            } else {
                Ok(())
            }
        })
        .await;
    assert!(matches!(stopped, Err(StoreError::Corrupt(m)) if m == "stop"));
    assert_eq!(calls, 2);
    assert!(store
        .contact_columns("nobody", false)
        .await
        .unwrap()
        .is_empty());
}

async fn a_duty_has_one_holder_until_its_lease_expires_or_is_given_up(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    assert!(store.hold_duty("reaper", "a", 1_000, 6_000).await.unwrap());
    assert!(
        !store.hold_duty("reaper", "b", 2_000, 6_000).await.unwrap(),
        "a holds it"
    );
    assert!(
        store.hold_duty("reaper", "a", 5_000, 6_000).await.unwrap(),
        "renewed to 11,000"
    );
    assert!(!store.hold_duty("reaper", "b", 10_999, 6_000).await.unwrap());
    assert!(
        store.hold_duty("outbox", "b", 10_999, 6_000).await.unwrap(),
        "another duty"
    );
    assert!(
        store.hold_duty("reaper", "b", 11_001, 6_000).await.unwrap(),
        "a's lease ran out"
    );
    assert!(!store.hold_duty("reaper", "a", 11_002, 6_000).await.unwrap());
    store.release_duty("reaper", "a").await.unwrap();
    assert!(
        !store.hold_duty("reaper", "a", 11_003, 6_000).await.unwrap(),
        "not a's to give"
    );
    store.release_duty("reaper", "b").await.unwrap();
    assert!(
        store.hold_duty("reaper", "a", 11_004, 6_000).await.unwrap(),
        "given up: free"
    );
    assert_eq!(
        store.duty_leases().await.unwrap(),
        vec![
            ("outbox".to_string(), "b".to_string(), 16_999),
            ("reaper".to_string(), "a".to_string(), 17_004)
        ]
    );
}

async fn launch_slots_are_spaced_by_every_scope_even_when_taken_at_once(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    // The account allows 50 launches a second (20 ms), the campaign 20 (50 ms).
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40i64 {
        let store = store.clone();
        tasks.spawn(async move {
            let scopes: &[(&str, i64)] = if i % 2 == 0 {
                &[("account", 20_000), ("campaign:c1", 50_000)]
            } else {
                &[("account", 20_000)]
            };
            (
                i % 2 == 0,
                store.take_launch_slot(scopes, 1_000_000).await.unwrap(),
            )
        });
    }
    let mut all = Vec::new();
    let mut campaign = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (in_campaign, at) = r.unwrap();
        all.push(at);
        if in_campaign {
            campaign.push(at);
        }
    }
    all.sort_unstable();
    campaign.sort_unstable();
    assert!(all[0] >= 1_000_000);
    assert!(all.windows(2).all(|w| w[1] - w[0] >= 20_000), "{all:?}");
    assert!(
        campaign.windows(2).all(|w| w[1] - w[0] >= 50_000),
        "{campaign:?}"
    );
    // 20 campaign launches need 19 intervals of 50 ms; the others fill the gaps.
    assert!(
        *all.last().unwrap() - all[0] <= 20 * 50_000 + 20 * 20_000,
        "{all:?}"
    );
    // Later, after a pause: the next launch leaves at once.
    assert_eq!(
        store
            .take_launch_slot(&[("account", 20_000)], 9_000_000)
            .await
            .unwrap(),
        9_000_000
    );
}
