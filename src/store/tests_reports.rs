//! The reads behind the reports (`report_reads.rs`), each test run on SQLite and on PostgreSQL.

use super::*;
use crate::testing::TestDb;

crate::testing::on_both_backends!("store::reports";
    contacts_stream_in_order_and_side_data_is_read_by_range,
    inbound_calls_are_counted_and_open_callbacks_found,
);

const T0: i64 = 1_780_000_000_000;

/// A campaign `c1` of `kind` with `n` contacts, each claimed once: the claims in id order.
async fn claimed(db: &TestDb, kind: &str, n: usize) -> (Store, Vec<Claim>) {
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .upsert_campaign("c1", kind, "T", "", T0)
        .await
        .unwrap();
    let contacts: Vec<ContactRecord> = (0..n)
        .map(|i| ContactRecord {
            phone: format!("+3460020{i:04}"),
            name: format!("Cliente {i}"),
            vars: format!("{{\"barrio\":\"b{i}\"}}"),
            timezone: None,
            appointment_at: None,
        })
        .collect();
    let f = FileImport {
        file_name: "lista.csv".into(),
        hash: "h".into(),
        rows_read: n as u64,
        rejected: 0,
        duplicates: 0,
        expected_rows: n as u64,
    };
    store
        .import_contacts("c1", &f, &contacts, T0)
        .await
        .unwrap();
    let mut claims = store
        .claim_due("c1", T0, n as u32, &launch_all)
        .await
        .unwrap();
    claims.sort_by_key(|c| c.contact_id);
    (store, claims)
}

async fn answer(store: &Store, attempt_id: i64, answers: &[(&str, &str)], at: i64) {
    let event = CallEvent {
        attempt_id: Some(attempt_id),
        provider_call_id: Some(format!("call.{attempt_id}")),
        kind: "result".into(),
        command: Some("speak_getdtmf".into()),
        dtmf: Some("1".into()),
        statuscall: Some("ANSWER".into()),
        fields: "{}".into(),
        received_at: at,
    };
    let progress = Progress {
        answered: true,
        outcome: None,
        dtmf: Some("1".into()),
        answers: answers
            .iter()
            .map(|(q, k)| (q.to_string(), k.to_string()))
            .collect(),
    };
    store.record_event(&event, Some(&progress)).await.unwrap();
}

async fn contacts_stream_in_order_and_side_data_is_read_by_range(db: &TestDb) {
    use futures_util::TryStreamExt;
    let (store, c) = claimed(db, "survey", 5).await;
    answer(&store, c[0].attempt_id, &[("q2", "5")], T0 + 10).await;
    answer(
        &store,
        c[2].attempt_id,
        &[("q1", "3"), ("q2", "4")],
        T0 + 20,
    )
    .await;
    store
        .record_capture(
            &CaptureWrite {
                attempt_id: c[1].attempt_id,
                field: "motivo".into(),
                text: Some("quiero una cita".into()),
                failed: false,
            },
            T0 + 30,
        )
        .await
        .unwrap();
    with_writer!(&store, |w| {
        sqlx::query(
            "INSERT INTO dispositions (attempt_id, agent, campaign_id, contact_id, disposition, note, created_at)
             VALUES ($1, 'ana', 'c1', $2, 'venta', 'nota', $3)",
        )
        .bind(c[3].attempt_id)
        .bind(c[3].contact_id)
        .bind(T0 + 40)
        .execute(w)
        .await
        .unwrap();
    });

    let rows: Vec<ContactReportRow> = store
        .contact_report_stream("c1", false)
        .try_collect()
        .await
        .unwrap();
    // The whole-table reading (a campaign holding most contacts) gives the same rows.
    let whole: Vec<ContactReportRow> = store
        .contact_report_stream("c1", true)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows, whole);
    assert!(store.contacts_mostly_of("c1").await.unwrap());
    assert!(!store.contacts_mostly_of("nobody").await.unwrap());
    assert_eq!(rows.len(), 5);
    assert!(rows.windows(2).all(|w| w[0].contact_id < w[1].contact_id));
    assert_eq!(rows[0].vars.get("barrio").map(String::as_str), Some("b0"));
    assert_eq!(rows, store.contact_report("c1").await.unwrap());
    assert_eq!(
        store.survey_questions("c1").await.unwrap(),
        vec!["q2", "q1"],
        "first answered first"
    );
    let (first, third) = (c[0].contact_id, c[2].contact_id);
    assert_eq!(
        store
            .contact_answers_between("c1", first, first)
            .await
            .unwrap(),
        vec![(first, "q2".to_string(), "5".to_string())]
    );
    assert_eq!(
        store
            .contact_answers_between("c1", first + 1, c[4].contact_id)
            .await
            .unwrap()
            .len(),
        2,
        "only the third contact's answers"
    );
    assert!(store
        .contact_answers_between("other", first, third)
        .await
        .unwrap()
        .is_empty());
    let said = store
        .captures_between("c1", c[1].contact_id, c[1].contact_id)
        .await
        .unwrap();
    assert_eq!(said.len(), 1);
    assert_eq!(said[0].text, "quiero una cita");
    assert!(store
        .captures_between("c1", third, c[4].contact_id)
        .await
        .unwrap()
        .is_empty());
    assert!(store.has_dispositions("c1").await.unwrap());
    assert!(!store.has_dispositions("other").await.unwrap());
    let d = store
        .dispositions_between("c1", first, c[4].contact_id)
        .await
        .unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].contact_id, d[0].disposition.as_str()),
        (c[3].contact_id, "venta")
    );
    assert!(store
        .dispositions_between("c1", first, third)
        .await
        .unwrap()
        .is_empty());
}

async fn inbound_calls_are_counted_and_open_callbacks_found(db: &TestDb) {
    let (store, c) = claimed(db, "reminder", 4).await;
    let did = "+34910000000";
    let call = |id: &'static str, caller: &'static str, matched: Option<i64>, did: &'static str| {
        let store = &store;
        async move {
            store
                .start_inbound(
                    &NewInbound {
                        call_id: Some(id),
                        caller,
                        did,
                        matched: matched.map(|m| ("c1", m)),
                        route: "agent",
                        hold_until: T0,
                    },
                    T0 + 100_000,
                )
                .await
                .unwrap()
        }
    };
    // Taken by an agent; opted out; nobody took it; nobody took it and still on the line.
    let taken = call("in.1", "+34600200000", Some(c[0].contact_id), did).await;
    let optout = call("in.2", "+34600200001", Some(c[1].contact_id), did).await;
    let missed = call("in.3", "+34600200002", Some(c[2].contact_id), did).await;
    let live = call("in.4", "+34600200003", Some(c[3].contact_id), did).await;
    // Unknown callers: to the campaign's number (counted), to another number (not).
    call("in.5", "anonymous", None, did).await;
    call("in.6", "anonymous", None, "+34910999999").await;
    store
        .inbound_progress(taken, None, Some("to_agent"), None, T0 + 100_100)
        .await
        .unwrap();
    store
        .inbound_progress(
            optout,
            Some("menu"),
            Some("opted_out"),
            Some("opted_out"),
            T0 + 100_100,
        )
        .await
        .unwrap();
    store
        .inbound_progress(missed, Some("menu"), Some("no_agent"), None, T0 + 100_100)
        .await
        .unwrap();
    // Ended: the call nobody took becomes a callback task.
    for (id, task) in [(taken, false), (optout, false), (missed, true)] {
        let end = InboundEnd {
            id,
            duration_seconds: Some(30),
            talk_seconds: Some(20),
            task: task.then(|| NewCallback {
                agent: Some("ana".into()),
                team: None,
                call_back_at: None,
            }),
        };
        store.finish_inbound(&end, T0 + 130_000).await.unwrap();
    }
    let _ = live;
    let counts = store.inbound_counts("c1").await.unwrap();
    assert_eq!(
        counts,
        InboundCounts {
            calls: 5,
            matched: 4,
            to_agent: 1,
            opted_out: 1,
            confirmed: 0,
            cancelled: 0,
            callbacks_open: 1,
        }
    );
    assert_eq!(
        store.inbound_counts("other").await.unwrap(),
        InboundCounts::default()
    );
    let of = store.inbound_calls_of(c[2].contact_id).await.unwrap();
    assert_eq!(of.len(), 1);
    assert_eq!(of[0].outcome.as_deref(), Some("no_agent"));
    // The task done: no longer owed.
    let tasks = store.callbacks(Some("c1"), true).await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert!(store
        .callback_done(tasks[0].id, "ana", "", T0 + 140_000)
        .await
        .unwrap());
    assert_eq!(store.callbacks_open("c1").await.unwrap(), 0);
}
