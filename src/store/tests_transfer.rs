//! A transfer's facts and the proof of its bridge in the store, run on SQLite and on
//! PostgreSQL.

use std::collections::BTreeMap;

use super::*;
use crate::schedule::RetryDelays;
use crate::testing::TestDb;

crate::testing::on_both_backends!("store::transfer";
    a_bridge_proven_after_the_close_moves_the_contact,
    the_first_proof_wins_and_a_later_state_is_kept,
    the_events_of_a_call_carry_what_the_callee_said,
);

const T0: i64 = 1_780_000_000_000;

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 1,
        delays: RetryDelays::default(),
        end_at: None,
        answered_without_outcome: crate::schedule::ContactState::Abandoned,
    }
}

/// A sales campaign with `n` contacts, each claimed once, answered and sent to an agent
/// (outcome `abandoned` until a proof comes).
async fn transferred(db: &TestDb, n: usize) -> (Store, Vec<Claim>) {
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .upsert_campaign("c1", "sales", "T", "", T0)
        .await
        .unwrap();
    let contacts: Vec<ContactRecord> = (0..n)
        .map(|i| ContactRecord {
            phone: format!("+3460002{i:04}"),
            name: format!("N{i}"),
            vars: vars_to_json(&BTreeMap::new()),
            timezone: None,
            appointment_at: None,
        })
        .collect();
    let file = FileImport {
        file_name: "lista.csv".into(),
        hash: "h".into(),
        rows_read: n as u64,
        rejected: 0,
        duplicates: 0,
        expected_rows: n as u64,
    };
    store
        .import_contacts("c1", &file, &contacts, T0)
        .await
        .unwrap();
    let claims = store.claim_due("c1", T0, 100, &launch_all).await.unwrap();
    for c in &claims {
        let event = CallEvent {
            attempt_id: Some(c.attempt_id),
            provider_call_id: Some(format!("1.{}", c.attempt_id)),
            kind: "start".into(),
            command: None,
            dtmf: None,
            statuscall: Some("ANSWER".into()),
            fields: "{}".into(),
            received_at: T0 + 1000,
        };
        let progress = Progress {
            answered: true,
            outcome: Some("abandoned".into()),
            ..Progress::default()
        };
        store.record_event(&event, Some(&progress)).await.unwrap();
        store
            .transfer_started(c.attempt_id, T0 + 1000, Some("connected"), Some(20_000))
            .await
            .unwrap();
    }
    (store, claims)
}

fn ended(at: i64) -> AttemptClose {
    AttemptClose {
        result: crate::schedule::AttemptResult::Answered,
        duration_seconds: Some(12),
        talk_seconds: Some(8),
        ended_at: at,
    }
}

async fn a_bridge_proven_after_the_close_moves_the_contact(db: &TestDb) {
    let (store, claims) = transferred(db, 2).await;
    let (a, b) = (&claims[0], &claims[1]);
    let facts = store.transfer_facts(a.attempt_id).await.unwrap().unwrap();
    assert_eq!(
        facts,
        TransferFacts {
            at: T0 + 1000,
            window_ms: Some(20_000),
            answered_at: Some(T0 + 1000),
            outcome: Some("connected".into()),
            signal: None,
        }
    );
    for c in [a, b] {
        let next = store
            .close_attempt(c.attempt_id, &ended(T0 + 9000), &policy())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next.state, "abandoned");
    }
    // The report's agent leg, after the close.
    let proven = store
        .transfer_bridged(a.attempt_id, "report", T0 + 600_000)
        .await
        .unwrap();
    assert_eq!(proven.as_deref(), Some("connected"));
    let contact = store.contact("c1", &a.phone).await.unwrap().unwrap();
    assert_eq!(contact.state, "connected");
    let attempt = &store.attempts_of(a.contact_id).await.unwrap()[0];
    assert_eq!(attempt.outcome.as_deref(), Some("connected"));
    // The other call stays abandoned; the abandon count sees one of two.
    let other = store.contact("c1", &b.phone).await.unwrap().unwrap();
    assert_eq!(other.state, "abandoned");
    assert_eq!(store.abandon_counts("c1", T0).await.unwrap(), (2, 1));
    // No transfer, no proof.
    assert_eq!(
        store.transfer_bridged(-1, "report", T0).await.unwrap(),
        None
    );
    store.close().await;
}

async fn the_first_proof_wins_and_a_later_state_is_kept(db: &TestDb) {
    let (store, claims) = transferred(db, 1).await;
    let a = &claims[0];
    assert!(store
        .transfer_bridged(a.attempt_id, "duration", T0 + 5000)
        .await
        .unwrap()
        .is_some());
    // A report leg proving it again changes nothing.
    assert_eq!(
        store
            .transfer_bridged(a.attempt_id, "report", T0 + 6000)
            .await
            .unwrap(),
        None
    );
    let facts = store.transfer_facts(a.attempt_id).await.unwrap().unwrap();
    assert_eq!(facts.signal.as_deref(), Some("duration"));
    let next = store
        .close_attempt(a.attempt_id, &ended(T0 + 9000), &policy())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.state, "connected");
    store.close().await;
}

async fn the_events_of_a_call_carry_what_the_callee_said(db: &TestDb) {
    let (store, claims) = transferred(db, 2).await;
    let types = ["call.ended".to_string(), "contact.final".to_string()];
    store
        .set_event_target("c1", Some(("https://crm.example.com/h", &types)), T0)
        .await
        .unwrap();
    let said = "quiero fibra; \"rápida\" 😀";
    let write = |field: &str, text: Option<&str>, failed| CaptureWrite {
        attempt_id: claims[0].attempt_id,
        field: field.into(),
        text: text.map(str::to_string),
        failed,
    };
    store
        .record_capture(&write("motivo", Some(said), false), T0 + 2000)
        .await
        .unwrap();
    store
        .record_capture(&write("dni", None, true), T0 + 2000)
        .await
        .unwrap();
    for c in &claims {
        store
            .close_attempt(c.attempt_id, &ended(T0 + 9000), &policy())
            .await
            .unwrap();
    }
    let due = store.due_deliveries(T0 + 3_600_000, 20).await.unwrap();
    assert_eq!(due.len(), 4, "{due:?}");
    for d in &due {
        let body: serde_json::Value = serde_json::from_str(&crate::events::body(d)).unwrap();
        if d.contact_id == claims[0].contact_id {
            // A failed capture is not a transcript.
            assert_eq!(
                body["data"]["transcripts"],
                serde_json::json!({"motivo": said})
            );
        } else {
            assert!(body["data"].get("transcripts").is_none(), "{body}");
        }
    }
    store.close().await;
}
