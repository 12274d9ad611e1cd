//! Speech captures in the store, run on SQLite and on PostgreSQL.

use std::collections::BTreeMap;

use super::*;
use crate::testing::TestDb;

crate::testing::on_both_backends!("store::capture";
    a_transcript_is_stored_per_contact_and_field,
    awkward_text_round_trips_unchanged,
    an_empty_transcript_never_replaces_a_usable_one,
    events_carry_each_contacts_usable_transcripts,
);

const T0: i64 = 1_780_000_000_000;

/// A store with one campaign of `n` contacts, each claimed once: their attempt ids.
async fn claimed(db: &TestDb, n: usize) -> (Store, Vec<Claim>) {
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .upsert_campaign("c1", "promotion", "T", "", T0)
        .await
        .unwrap();
    let contacts: Vec<ContactRecord> = (0..n)
        .map(|i| {
            let phone = format!("+3460001{i:04}");
            let mut vars = BTreeMap::new();
            vars.insert("telefono".to_string(), phone.clone());
            ContactRecord {
                phone,
                name: format!("N{i}"),
                vars: vars_to_json(&vars),
                timezone: None,
                appointment_at: None,
            }
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
    let c = store.claim_due("c1", T0, 100, &launch_all).await.unwrap();
    assert_eq!(c.len(), n);
    (store, c)
}

fn said(attempt_id: i64, field: &str, text: Option<&str>) -> CaptureWrite {
    CaptureWrite {
        attempt_id,
        field: field.into(),
        text: text.map(str::to_string),
        failed: false,
    }
}

async fn a_transcript_is_stored_per_contact_and_field(db: &TestDb) {
    let (store, c) = claimed(db, 2).await;
    let (a, b) = (&c[0], &c[1]);
    assert!(store
        .record_capture(
            &said(a.attempt_id, "motivo", Some("quiero cambiar de tarifa")),
            T0
        )
        .await
        .unwrap());
    assert!(store
        .record_capture(&said(a.attempt_id, "horario", Some("por la tarde")), T0)
        .await
        .unwrap());
    assert!(store
        .record_capture(&said(b.attempt_id, "motivo", Some("información")), T0 + 1)
        .await
        .unwrap());
    // An attempt that does not exist stores nothing.
    assert!(!store
        .record_capture(&said(999_999, "motivo", Some("x")), T0)
        .await
        .unwrap());
    let mine = store.captures_of_contact(a.contact_id).await.unwrap();
    let fields: Vec<(&str, &str, &str)> = mine
        .iter()
        .map(|r| (r.field.as_str(), r.status.as_str(), r.text.as_str()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("horario", "ok", "por la tarde"),
            ("motivo", "ok", "quiero cambiar de tarifa")
        ]
    );
    assert!(mine.iter().all(|r| r.attempt_id == a.attempt_id));
    let all = store.captures_of_campaign("c1").await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(
        store.capture_fields("c1").await.unwrap(),
        vec!["horario".to_string(), "motivo".to_string()]
    );
    assert!(store.capture_fields("other").await.unwrap().is_empty());
}

async fn awkward_text_round_trips_unchanged(db: &TestDb) {
    let (store, c) = claimed(db, 1).await;
    let long = "palabra; \"citada\" 'simple' ".repeat(400);
    assert!(long.len() > 10_000);
    for text in [
        "uno; dos; DROP TABLE contacts; --",
        "dijo \"sí\" y 'no' \\ barra",
        "me encanta 😀👍🏽 ñandú",
        long.as_str(),
    ] {
        store
            .record_capture(&said(c[0].attempt_id, "motivo", Some(text)), T0)
            .await
            .unwrap();
        let rows = store.captures_of_contact(c[0].contact_id).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].text, text, "stored as said");
    }
    // The contacts are all still there.
    assert_eq!(store.captures_of_campaign("c1").await.unwrap().len(), 1);
}

async fn an_empty_transcript_never_replaces_a_usable_one(db: &TestDb) {
    let (store, c) = claimed(db, 2).await;
    let (a, b) = (c[0].attempt_id, c[1].attempt_id);
    // Nothing understood, then a failure: recorded as such while nothing better exists.
    store
        .record_capture(&said(a, "motivo", None), T0)
        .await
        .unwrap();
    let failed = CaptureWrite {
        failed: true,
        ..said(b, "motivo", None)
    };
    store.record_capture(&failed, T0).await.unwrap();
    let statuses: Vec<String> = store
        .captures_of_campaign("c1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec!["empty".to_string(), "failed".to_string()]);
    // A usable transcript replaces it; a later empty one does not replace that.
    store
        .record_capture(&said(a, "motivo", Some("baja")), T0 + 1)
        .await
        .unwrap();
    assert!(!store
        .record_capture(&said(a, "motivo", None), T0 + 2)
        .await
        .unwrap());
    let rows = store.captures_of_contact(c[0].contact_id).await.unwrap();
    assert_eq!(
        (
            rows[0].status.as_str(),
            rows[0].text.as_str(),
            rows[0].captured_at
        ),
        ("ok", "baja", T0 + 1)
    );
}

/// A pass over the outbox reads the transcripts of every contact it tells about at once: each
/// `call.ended` carries its own contact's usable transcripts, other events none.
async fn events_carry_each_contacts_usable_transcripts(db: &TestDb) {
    let (store, c) = claimed(db, 3).await;
    let types = ["call.ended".to_string(), "call.answered".to_string()];
    store
        .set_event_target("c1", Some(("http://127.0.0.1:9/e", &types)), T0)
        .await
        .unwrap();
    store
        .record_capture(&said(c[0].attempt_id, "motivo", Some("fibra")), T0)
        .await
        .unwrap();
    store
        .record_capture(&said(c[1].attempt_id, "motivo", None), T0)
        .await
        .unwrap();
    for (i, claim) in c.iter().enumerate() {
        let contact = store
            .attempt_info(claim.attempt_id)
            .await
            .unwrap()
            .unwrap()
            .contact_id;
        let event = if i == 2 {
            "call.answered"
        } else {
            "call.ended"
        };
        store
            .add_event(
                "c1",
                contact,
                Some(claim.attempt_id),
                event,
                &serde_json::json!({}),
                T0,
            )
            .await
            .unwrap();
    }
    let due = store.due_deliveries(T0, 100).await.unwrap();
    let said: Vec<(String, BTreeMap<String, String>)> = due
        .iter()
        .map(|d| (d.event.clone(), d.transcripts.clone()))
        .collect();
    let fibra = BTreeMap::from([("motivo".to_string(), "fibra".to_string())]);
    assert_eq!(
        said,
        vec![
            ("call.ended".to_string(), fibra),
            ("call.ended".to_string(), BTreeMap::new()),
            ("call.answered".to_string(), BTreeMap::new()),
        ]
    );
}
