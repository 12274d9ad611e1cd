//! The events outbox (migration 0009, `events.rs`), one test body per behaviour, run on SQLite
//! and on PostgreSQL.

use std::collections::BTreeMap;

use super::*;
use crate::campaign::RetryDelays;
use crate::testing::TestDb;

crate::testing::on_both_backends!("store::events";
    each_fact_queues_its_event_in_its_own_transaction,
    only_the_types_asked_for_are_queued,
    a_waiting_row_holds_back_its_contact_not_the_others,
    a_410_stops_the_campaign_until_the_url_changes,
    events_queued_by_hand_follow_the_target,
    inbound_calls_are_matched_recorded_once_and_settle_their_contact,
    requests_that_overtake_the_launch_reply_keep_the_events_in_order,
);

const T0: i64 = 1_780_000_000_000;
const URL: &str = "http://127.0.0.1:9/events";

fn all_types() -> Vec<String> {
    EVENT_TYPES.iter().map(|t| t.to_string()).collect()
}

async fn store_with(db: &TestDb, n: usize) -> Store {
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .upsert_campaign("c1", "reminder", "T", "", T0)
        .await
        .unwrap();
    let contacts: Vec<ContactRecord> = (0..n)
        .map(|i| {
            let phone = format!("+3460000{i:04}");
            let mut vars = BTreeMap::new();
            vars.insert("telefono".to_string(), phone.clone());
            ContactRecord {
                phone: phone.clone(),
                name: format!("N{i}"),
                vars: vars_to_json(&vars),
                timezone: None,
                appointment_at: None,
            }
        })
        .collect();
    let file = FileImport {
        file_name: "lista.csv".into(),
        hash: "h0".into(),
        rows_read: n as u64,
        rejected: 0,
        duplicates: 0,
        expected_rows: n as u64,
    };
    store
        .import_contacts("c1", &file, &contacts, T0)
        .await
        .unwrap();
    store
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        delays: RetryDelays::default(),
        end_at: None,
        answered_without_outcome: crate::schedule::ContactState::NoResponse,
    }
}

/// Launched, answered with `outcome` after keys `dtmf`, ended at `at`.
async fn call(store: &Store, claim: &Claim, outcome: &str, dtmf: &str, at: i64) {
    let id = claim.attempt_id;
    store
        .mark_launched(id, &format!("call.{id}"), at - 3)
        .await
        .unwrap();
    let event = |kind: &str, at: i64| CallEvent {
        attempt_id: Some(id),
        provider_call_id: Some(format!("call.{id}")),
        kind: kind.into(),
        command: None,
        dtmf: None,
        statuscall: Some("ANSWER".into()),
        fields: "{}".into(),
        received_at: at,
    };
    let answered = Progress {
        answered: true,
        ..Default::default()
    };
    store
        .record_event(&event("start", at - 2), Some(&answered))
        .await
        .unwrap();
    let keys = Progress {
        answered: true,
        outcome: Some(outcome.into()),
        dtmf: Some(dtmf.into()),
        answers: vec![],
    };
    store
        .record_event(&event("result", at - 1), Some(&keys))
        .await
        .unwrap();
    let close = AttemptClose {
        result: AttemptResult::Answered,
        duration_seconds: Some(20),
        talk_seconds: Some(12),
        ended_at: at,
    };
    store.close_attempt(id, &close, &policy()).await.unwrap();
}

fn data(row: &EventOutboxRow) -> serde_json::Value {
    serde_json::from_str(row.data.as_deref().unwrap_or("null")).unwrap()
}

async fn each_fact_queues_its_event_in_its_own_transaction(db: &TestDb) {
    let store = store_with(db, 2).await;
    store
        .set_event_target("c1", Some((URL, &all_types())), T0)
        .await
        .unwrap();
    store
        .set_notify_target("c1", Some("http://127.0.0.1:9/notify"), T0)
        .await
        .unwrap();
    let claims = store.claim_due("c1", T0, 2, &launch_all).await.unwrap();
    call(&store, &claims[0], "opted_out", "9", T0 + 100).await;
    call(&store, &claims[1], "confirmed", "1", T0 + 200).await;

    let rows = store.event_outbox("c1").await.unwrap();
    let of = |contact: i64| -> Vec<(String, String)> {
        rows.iter()
            .filter(|r| r.contact_id == contact)
            .map(|r| (r.event.clone(), r.format.clone()))
            .collect()
    };
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        of(claims[0].contact_id),
        pairs(&[
            ("call.launched", "event"),
            ("call.answered", "event"),
            ("optout", "event"),
            ("call.ended", "event"),
            ("contact.final", "notify"),
            ("contact.final", "event"),
        ])
    );
    assert_eq!(
        of(claims[1].contact_id),
        pairs(&[
            ("call.launched", "event"),
            ("call.answered", "event"),
            ("call.ended", "event"),
            ("contact.final", "notify"),
            ("contact.final", "event"),
        ])
    );
    let ended = rows
        .iter()
        .find(|r| r.event == "call.ended" && r.contact_id == claims[1].contact_id)
        .unwrap();
    let d = data(ended);
    assert_eq!(d["result"], "answered");
    assert_eq!(d["outcome"], "confirmed");
    assert_eq!(d["dtmf"], "1");
    assert_eq!(d["attempt"], 1);
    assert_eq!(d["call_id"], format!("call.{}", claims[1].attempt_id));
    assert_eq!(d["duration_seconds"], 20);
    let last = rows.last().unwrap();
    assert_eq!(
        (last.event.as_str(), last.url.as_str()),
        ("contact.final", URL)
    );
    assert_eq!(data(last)["state"], "confirmed");
    assert_eq!(data(last)["attempts"], 1);

    // The notify row keeps its payload's source: the contact's state.
    let due = store.due_deliveries(T0 + 1_000, 100).await.unwrap();
    assert_eq!(due.len(), rows.len());
    let notify = due.iter().find(|d| d.format == "notify").unwrap();
    assert_eq!(notify.state, "opted_out");
    assert_eq!(notify.url, "http://127.0.0.1:9/notify");
    assert_eq!(notify.phone, claims[0].phone);
    let launched = &due[0];
    assert_eq!(
        (
            launched.event.as_str(),
            launched.created_at,
            launched.name.as_str()
        ),
        ("call.launched", T0 + 97, "N0")
    );
    assert_eq!(launched.vars.get("telefono"), Some(&claims[0].phone));
}

/// The provider may answer the control URL (the call answered, even ended) before our launch
/// request has its reply: `call.launched` still comes first, at the first request's time, and
/// the late reply changes nothing.
async fn requests_that_overtake_the_launch_reply_keep_the_events_in_order(db: &TestDb) {
    let store = store_with(db, 2).await;
    store
        .set_event_target("c1", Some((URL, &all_types())), T0)
        .await
        .unwrap();
    let claims = store.claim_due("c1", T0, 2, &launch_all).await.unwrap();
    let event = |id: i64, kind: &str, at: i64| CallEvent {
        attempt_id: Some(id),
        provider_call_id: Some(format!("call.{id}")),
        kind: kind.into(),
        command: None,
        dtmf: None,
        statuscall: Some("ANSWER".into()),
        fields: "{}".into(),
        received_at: at,
    };
    let answered = Progress {
        answered: true,
        ..Default::default()
    };
    // Answered, then the launch reply.
    let a = claims[0].attempt_id;
    store
        .record_event(&event(a, "start", T0 + 10), Some(&answered))
        .await
        .unwrap();
    store
        .mark_launched(a, &format!("call.{a}"), T0 + 20)
        .await
        .unwrap();
    // Ended (busy) before the launch reply.
    let b = claims[1].attempt_id;
    store
        .record_event(&event(b, "end", T0 + 30), None)
        .await
        .unwrap();
    let close = AttemptClose {
        result: AttemptResult::Busy,
        duration_seconds: Some(0),
        talk_seconds: Some(0),
        ended_at: T0 + 30,
    };
    store.close_attempt(b, &close, &policy()).await.unwrap();
    store
        .mark_launched(b, &format!("call.{b}"), T0 + 40)
        .await
        .unwrap();

    let rows = store.due_deliveries(T0 + 1_000, 100).await.unwrap();
    let of = |contact: i64| -> Vec<(String, i64)> {
        rows.iter()
            .filter(|r| r.contact_id == contact && r.format == "event")
            .map(|r| (r.event.clone(), r.created_at))
            .collect()
    };
    assert_eq!(
        of(claims[0].contact_id),
        [
            ("call.launched".to_string(), T0 + 10),
            ("call.answered".to_string(), T0 + 10)
        ]
    );
    let busy = of(claims[1].contact_id);
    assert_eq!(
        busy.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>()[..2],
        ["call.launched", "call.ended"]
    );
    assert_eq!(busy[0].1, T0 + 30);
}

async fn only_the_types_asked_for_are_queued(db: &TestDb) {
    let store = store_with(db, 3).await;
    // No receiver: nothing.
    let claims = store.claim_due("c1", T0, 3, &launch_all).await.unwrap();
    call(&store, &claims[0], "confirmed", "1", T0 + 100).await;
    assert!(store.event_outbox("c1").await.unwrap().is_empty());

    let types = vec!["call.ended".to_string(), "optout".to_string()];
    store
        .set_event_target("c1", Some((URL, &types)), T0)
        .await
        .unwrap();
    call(&store, &claims[1], "opted_out", "9", T0 + 200).await;
    let events: Vec<String> = store
        .event_outbox("c1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.event)
        .collect();
    assert_eq!(events, ["optout", "call.ended"]);

    // Removed: later facts queue nothing, queued rows stay.
    store.set_event_target("c1", None, T0).await.unwrap();
    assert_eq!(store.event_target("c1").await.unwrap(), None);
    call(&store, &claims[2], "confirmed", "1", T0 + 300).await;
    assert_eq!(store.event_outbox("c1").await.unwrap().len(), 2);
}

async fn a_waiting_row_holds_back_its_contact_not_the_others(db: &TestDb) {
    let store = store_with(db, 2).await;
    let types = vec!["call.launched".to_string(), "call.ended".to_string()];
    store
        .set_event_target("c1", Some((URL, &types)), T0)
        .await
        .unwrap();
    let claims = store.claim_due("c1", T0, 2, &launch_all).await.unwrap();
    call(&store, &claims[0], "confirmed", "1", T0 + 100).await;
    call(&store, &claims[1], "confirmed", "1", T0 + 200).await;
    let rows = store.event_outbox("c1").await.unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let (a1, a2, b1, b2) = (ids[0], ids[1], ids[2], ids[3]);
    assert_eq!(rows[0].contact_id, rows[1].contact_id);

    let due_ids = |now: i64| {
        let store = store.clone();
        async move {
            store
                .due_deliveries(now, 100)
                .await
                .unwrap()
                .iter()
                .map(|d| d.id)
                .collect::<Vec<i64>>()
        }
    };
    assert_eq!(due_ids(T0 + 1_000).await, [a1, a2, b1, b2]);
    // A's first row failed and waits until T0 + 5000: A's second waits behind it.
    store
        .notification_failed(a1, "HTTP 500", Some(T0 + 5_000), T0 + 1_000)
        .await
        .unwrap();
    assert_eq!(due_ids(T0 + 1_001).await, [b1, b2]);
    // The next wake-up is B's rows, not A's second (held back, though its time has come).
    assert_eq!(store.next_delivery_at().await.unwrap(), Some(T0 + 200 - 3));
    store.deliveries_done(&[b1, b2], T0 + 1_002).await.unwrap();
    assert!(due_ids(T0 + 1_003).await.is_empty());
    assert_eq!(store.next_delivery_at().await.unwrap(), Some(T0 + 5_000));
    // Once due again it comes first, followed by the row it held back.
    assert_eq!(due_ids(T0 + 5_000).await, [a1, a2]);
    // A row given up no longer holds anything back.
    store
        .notification_failed(a1, "HTTP 500", None, T0 + 5_001)
        .await
        .unwrap();
    assert_eq!(due_ids(T0 + 5_002).await, [a2]);
    store.deliveries_done(&[a2], T0 + 5_003).await.unwrap();
    // A second report of a delivery changes nothing.
    store.deliveries_done(&[a2], T0 + 9_999).await.unwrap();
    let rows = store.event_outbox("c1").await.unwrap();
    let done: Vec<(Option<i64>, Option<i64>)> = rows
        .iter()
        .map(|r| (r.delivered_at, r.gave_up_at))
        .collect();
    assert_eq!(
        done,
        [
            (None, Some(T0 + 5_001)),
            (Some(T0 + 5_003), None),
            (Some(T0 + 1_002), None),
            (Some(T0 + 1_002), None),
        ]
    );
}

async fn a_410_stops_the_campaign_until_the_url_changes(db: &TestDb) {
    let store = store_with(db, 3).await;
    let types = vec!["call.ended".to_string()];
    store
        .set_event_target("c1", Some((URL, &types)), T0)
        .await
        .unwrap();
    let claims = store.claim_due("c1", T0, 3, &launch_all).await.unwrap();
    call(&store, &claims[0], "confirmed", "1", T0 + 100).await;
    call(&store, &claims[1], "confirmed", "1", T0 + 200).await;
    let given_up = store
        .stop_receiver("c1", URL, "HTTP 410", T0 + 300)
        .await
        .unwrap();
    assert_eq!(given_up, 2);
    assert_eq!(
        store.event_target("c1").await.unwrap().unwrap().stopped_at,
        Some(T0 + 300)
    );
    assert!(store.due_deliveries(T0 + 400, 10).await.unwrap().is_empty());
    // Reloading the same campaign file keeps it stopped: no new rows.
    store
        .set_event_target("c1", Some((URL, &types)), T0 + 500)
        .await
        .unwrap();
    call(&store, &claims[2], "confirmed", "1", T0 + 600).await;
    let rows = store.event_outbox("c1").await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r.gave_up_at == Some(T0 + 300) && r.last_error.as_deref() == Some("HTTP 410")));
    // A new URL starts again.
    store
        .set_event_target("c1", Some(("http://127.0.0.1:9/new", &types)), T0 + 700)
        .await
        .unwrap();
    assert_eq!(
        store.event_target("c1").await.unwrap().unwrap().stopped_at,
        None
    );
    let more = store
        .claim_due("c1", T0 + 86_400_000, 3, &launch_all)
        .await
        .unwrap();
    assert!(more.is_empty(), "all three contacts are final");
    assert!(store
        .add_event(
            "c1",
            claims[2].contact_id,
            None,
            "call.ended",
            &serde_json::json!({}),
            T0 + 800
        )
        .await
        .unwrap());
    assert_eq!(store.due_deliveries(T0 + 900, 10).await.unwrap().len(), 1);
}

async fn events_queued_by_hand_follow_the_target(db: &TestDb) {
    let store = store_with(db, 1).await;
    let claims = store.claim_due("c1", T0, 1, &launch_all).await.unwrap();
    let data = serde_json::json!({"target": "queue,ventas,1"});
    let add = |event: &'static str| {
        let (store, data) = (store.clone(), data.clone());
        let (contact, attempt) = (claims[0].contact_id, claims[0].attempt_id);
        async move {
            store
                .add_event("c1", contact, Some(attempt), event, &data, T0 + 5)
                .await
                .unwrap()
        }
    };
    assert!(!add("transfer.started").await, "no receiver");
    let types = vec!["transfer.started".to_string()];
    store
        .set_event_target("c1", Some((URL, &types)), T0)
        .await
        .unwrap();
    assert!(add("transfer.started").await);
    assert!(!add("call.ended").await, "a type not asked for");
    let rows = store.event_outbox("c1").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].event, "transfer.started");
    assert_eq!(rows[0].data.as_deref(), Some(data.to_string().as_str()));
    let due = store.due_deliveries(T0 + 5, 10).await.unwrap();
    assert_eq!(
        (due[0].created_at, due[0].format.as_str()),
        (T0 + 5, "event")
    );
}

async fn inbound_calls_are_matched_recorded_once_and_settle_their_contact(db: &TestDb) {
    let store = store_with(db, 2).await;
    store
        .upsert_campaign("c2", "reminder", "T2", "", T0)
        .await
        .unwrap();
    let types = vec!["inbound.received".to_string(), "contact.final".to_string()];
    store
        .set_event_target("c1", Some((URL, &types)), T0)
        .await
        .unwrap();
    let phone = "+34600000001";
    let found = store
        .inbound_matches(phone, &["c1".to_string(), "c2".to_string()])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].campaign_id.as_str(), found[0].name.as_str()),
        ("c1", "N1")
    );
    assert!(store
        .inbound_matches(phone, &["c2".to_string()])
        .await
        .unwrap()
        .is_empty());
    assert!(store.inbound_matches(phone, &[]).await.unwrap().is_empty());
    let contact = found[0].contact_id;

    let id = store
        .start_inbound(
            &NewInbound {
                call_id: Some("in.1"),
                caller: phone,
                did: "+34910000000",
                matched: Some(("c1", contact)),
                route: "agent",
                hold_until: T0 + 600_000,
            },
            T0 + 10,
        )
        .await
        .unwrap();
    // A repeated start is the same call: no second row, no second event.
    let again = store
        .start_inbound(
            &NewInbound {
                call_id: Some("in.1"),
                caller: phone,
                did: "+34910000000",
                matched: Some(("c1", contact)),
                route: "agent",
                hold_until: T0 + 900_000,
            },
            T0 + 11,
        )
        .await
        .unwrap();
    assert_eq!(id, again);
    let anonymous = store
        .start_inbound(
            &NewInbound {
                call_id: None,
                caller: "anonymous",
                did: "+34910000000",
                matched: None,
                route: "greeting",
                hold_until: T0 + 600_000,
            },
            T0 + 12,
        )
        .await
        .unwrap();
    assert_ne!(anonymous, id);
    // The caller is not dialled while on the line (until the hold of the first start).
    assert_eq!(
        store.contact("c1", phone).await.unwrap().unwrap().next_at,
        T0 + 600_000
    );
    let due = store
        .claim_due("c1", T0 + 599_999, 10, &launch_all)
        .await
        .unwrap();
    assert!(due.iter().all(|c| c.contact_id != contact), "{due:?}");
    let rows = store.event_outbox("c1").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].event.as_str(), rows[0].contact_id),
        ("inbound.received", contact)
    );
    assert_eq!(data(&rows[0])["call_id"], "in.1");

    // The agent did not answer: the menu; the caller confirms.
    assert!(!store
        .inbound_progress(id, Some("menu"), None, None, T0 + 20)
        .await
        .unwrap());
    assert!(store
        .inbound_progress(id, None, Some("confirmed"), Some("confirmed"), T0 + 30)
        .await
        .unwrap());
    // Settled once: a final state is not settled again.
    assert!(!store
        .inbound_progress(id, None, Some("cancelled"), Some("cancelled"), T0 + 31)
        .await
        .unwrap());
    store
        .end_inbound(id, Some(40), Some(35), T0 + 50)
        .await
        .unwrap();
    store
        .end_inbound(id, Some(99), None, T0 + 60)
        .await
        .unwrap();
    let call = store.inbound_call(id).await.unwrap().unwrap();
    assert_eq!(
        (
            call.route.as_str(),
            call.outcome.as_deref(),
            call.ended_at,
            call.duration_seconds
        ),
        ("menu", Some("cancelled"), Some(T0 + 50), Some(40))
    );
    let c = store.contact("c1", phone).await.unwrap().unwrap();
    assert_eq!(c.state, "confirmed");
    let events: Vec<String> = store
        .event_outbox("c1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.event)
        .collect();
    assert_eq!(events, ["inbound.received", "contact.final"]);
    let calls = store.inbound_calls("c1").await.unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        store
            .inbound_call(anonymous)
            .await
            .unwrap()
            .unwrap()
            .contact_id,
        None
    );
}
