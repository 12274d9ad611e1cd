//! Callback tasks (migration 0014, `callbacks.rs`), run on SQLite and on PostgreSQL.

use std::collections::BTreeMap;

use super::*;
use crate::testing::TestDb;

crate::testing::on_both_backends!("store::callbacks";
    a_call_nobody_took_makes_one_task_its_event_and_rearms_only_the_unreached,
    an_inbound_calls_talk_time_is_the_billed_time_of_its_report_line,
);

const T0: i64 = 1_780_000_000_000;

async fn store_with(db: &TestDb, n: usize) -> Store {
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .upsert_campaign("c1", "reminder", "T", "", T0)
        .await
        .unwrap();
    let contacts: Vec<ContactRecord> = (0..n)
        .map(|i| ContactRecord {
            phone: format!("+3460000{i:04}"),
            name: format!("N{i}"),
            vars: vars_to_json(&BTreeMap::new()),
            timezone: None,
            appointment_at: None,
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

/// An inbound call of contact `i` (matched unless `None`), begun at `at`.
async fn inbound(store: &Store, call: &str, contact: Option<i64>, at: i64) -> i64 {
    store
        .start_inbound(
            &NewInbound {
                call_id: Some(call),
                caller: "+34600000000",
                did: "+34910000000",
                matched: contact.map(|c| ("c1", c)),
                route: "menu",
                hold_until: at,
            },
            at,
        )
        .await
        .unwrap()
}

fn end(id: i64, task: Option<NewCallback>) -> InboundEnd {
    InboundEnd {
        id,
        duration_seconds: Some(20),
        talk_seconds: Some(15),
        task,
    }
}

async fn a_call_nobody_took_makes_one_task_its_event_and_rearms_only_the_unreached(db: &TestDb) {
    let store = store_with(db, 3).await;
    let types = vec!["callback.created".to_string()];
    store
        .set_event_target("c1", Some(("http://127.0.0.1:9/e", &types)), T0)
        .await
        .unwrap();
    let id_of = |i: usize| {
        let store = store.clone();
        async move {
            store
                .contact("c1", &format!("+3460000{i:04}"))
                .await
                .unwrap()
                .unwrap()
        }
    };
    let (a, b, c) = (id_of(0).await, id_of(1).await, id_of(2).await);
    assert_eq!(store.responsible_agent(a.contact_id).await.unwrap(), None);
    let task = |at: Option<i64>| NewCallback {
        agent: None,
        team: Some("ventas".into()),
        call_back_at: at,
    };

    // A hangs up in the menu: one task, its event, the contact due at the next window.
    let call = inbound(&store, "in.1", Some(a.contact_id), T0 + 1_000).await;
    assert_eq!(
        store.unended_inbound(T0 + 2_000, 10).await.unwrap(),
        vec![call]
    );
    let window = T0 + 50_000_000;
    let done = store
        .finish_inbound(&end(call, Some(task(Some(window)))), T0 + 30_000)
        .await
        .unwrap();
    assert!(done.ended && done.created && done.rearmed, "{done:?}");
    let first = done.task.unwrap();
    let a_now = id_of(0).await;
    assert_eq!((a_now.state.as_str(), a_now.next_at), ("scheduled", window));
    // The end request again: nothing more.
    let again = store
        .finish_inbound(&end(call, Some(task(Some(window)))), T0 + 31_000)
        .await
        .unwrap();
    assert_eq!(again, Finished::default());
    assert!(store
        .unended_inbound(T0 + 40_000, 10)
        .await
        .unwrap()
        .is_empty());
    // A second call nobody took counts on the open task, with no second event.
    let call2 = inbound(&store, "in.2", Some(a.contact_id), T0 + 60_000).await;
    let done = store
        .finish_inbound(&end(call2, Some(task(None))), T0 + 90_000)
        .await
        .unwrap();
    assert_eq!((done.task, done.created), (Some(first), false));

    // B confirmed by callback (the call was taken: no task); a later call nobody took makes a
    // task, but a confirmed contact is never re-armed.
    let call3 = inbound(&store, "in.3", Some(b.contact_id), T0 + 100_000).await;
    store
        .inbound_progress(
            call3,
            None,
            Some("confirmed"),
            Some("confirmed"),
            T0 + 101_000,
        )
        .await
        .unwrap();
    let done = store
        .finish_inbound(&end(call3, Some(task(Some(window)))), T0 + 102_000)
        .await
        .unwrap();
    assert_eq!(done.task, None);
    let call4 = inbound(&store, "in.4", Some(b.contact_id), T0 + 200_000).await;
    let done = store
        .finish_inbound(&end(call4, Some(task(Some(window)))), T0 + 201_000)
        .await
        .unwrap();
    assert!(done.created && !done.rearmed, "{done:?}");
    let b_now = id_of(1).await;
    assert_eq!(b_now.state, "confirmed");

    // C reached an agent: no task. An unknown caller: no task.
    let call5 = inbound(&store, "in.5", Some(c.contact_id), T0 + 300_000).await;
    store
        .inbound_progress(call5, Some("agent"), Some("to_agent"), None, T0 + 301_000)
        .await
        .unwrap();
    let done = store
        .finish_inbound(&end(call5, Some(task(None))), T0 + 302_000)
        .await
        .unwrap();
    assert_eq!(done.task, None);
    let call6 = inbound(&store, "in.6", None, T0 + 400_000).await;
    let done = store
        .finish_inbound(&end(call6, None), T0 + 401_000)
        .await
        .unwrap();
    assert!(done.ended && done.task.is_none());

    // Listed: A's (two calls, called back at the window) and B's (no call back).
    let open = store.callbacks(Some("c1"), true).await.unwrap();
    let seen: Vec<(i64, i64, Option<i64>, i64)> = open
        .iter()
        .map(|t| (t.contact_id, t.calls, t.call_back_at, t.called_at))
        .collect();
    assert_eq!(
        seen,
        vec![
            (a.contact_id, 2, Some(window), T0 + 1_000),
            (b.contact_id, 1, None, T0 + 200_000)
        ]
    );
    assert_eq!(open[0].phone, "+34600000000");
    // One callback.created per task, with its facts.
    let events: Vec<EventOutboxRow> = store
        .event_outbox("c1")
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.event == "callback.created")
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    let data: serde_json::Value = serde_json::from_str(events[0].data.as_deref().unwrap()).unwrap();
    assert_eq!(data["callback"], first);
    assert_eq!(data["call_id"], "in.1");
    assert_eq!(data["team"], "ventas");
    assert_eq!(data["call_back_at"], window);

    // The desk: the team sees both; a stranger marks nothing done; the team's agent does once.
    assert_eq!(
        store.agent_callbacks("ana", "ventas").await.unwrap().len(),
        2
    );
    assert!(store
        .agent_callbacks("eva", "otro")
        .await
        .unwrap()
        .is_empty());
    assert!(!store.callback_done(first, "eva", "", T0).await.unwrap());
    assert!(store
        .callback_done(first, "ana", "ventas", T0 + 500_000)
        .await
        .unwrap());
    assert!(!store
        .callback_done(first, "ana", "ventas", T0 + 500_001)
        .await
        .unwrap());
    let all = store.callbacks(None, false).await.unwrap();
    assert_eq!(all[0].done_by.as_deref(), Some("ana"));
    assert_eq!(store.callbacks(None, true).await.unwrap().len(), 1);

    // B calls again and is taken: their open task is done by that call.
    let call7 = inbound(&store, "in.7", Some(b.contact_id), T0 + 600_000).await;
    store
        .inbound_progress(call7, Some("agent"), Some("to_agent"), None, T0 + 601_000)
        .await
        .unwrap();
    store
        .finish_inbound(&end(call7, None), T0 + 602_000)
        .await
        .unwrap();
    assert!(store.callbacks(None, true).await.unwrap().is_empty());
    let all = store.callbacks(None, false).await.unwrap();
    assert_eq!(all[1].done_by.as_deref(), Some("inbound"));
}

/// The call report's line of an inbound call gives its talk time, whether the end request came
/// before (its talk time replaced) or not at all (the duration too); a line of no inbound call
/// changes nothing.
async fn an_inbound_calls_talk_time_is_the_billed_time_of_its_report_line(db: &TestDb) {
    let store = store_with(db, 1).await;
    let ended = inbound(&store, "in.1", None, T0).await;
    let silent = inbound(&store, "in.2", None, T0).await;
    store
        .end_inbound(ended, Some(40), Some(30), T0 + 40_000)
        .await
        .unwrap();
    let named = store
        .inbound_billed(&[("in.1", 28), ("in.2", 12), ("nobody", 5)])
        .await
        .unwrap();
    assert_eq!(named, 2);
    let a = store.inbound_call(ended).await.unwrap().unwrap();
    assert_eq!((a.duration_seconds, a.talk_seconds), (Some(40), Some(28)));
    let b = store.inbound_call(silent).await.unwrap().unwrap();
    assert_eq!((b.duration_seconds, b.talk_seconds), (Some(12), Some(12)));
    // The end request after the report keeps the report's talk time.
    store
        .end_inbound(silent, Some(15), Some(14), T0 + 15_000)
        .await
        .unwrap();
    let b = store.inbound_call(silent).await.unwrap().unwrap();
    assert_eq!((b.duration_seconds, b.talk_seconds), (Some(12), Some(12)));
}
