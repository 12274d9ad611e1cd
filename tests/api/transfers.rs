//! The transfer outcome from every signal, with the simulator playing each order of hang-ups:
//! the agent first (the `dial` result says `ANSWER`), the callee first after a long bridge (the
//! end request's durations prove it), the callee first after a short one (only the call
//! report's agent leg proves it), a `queue` that answers a bare `OK`, a callee who leaves while
//! the agent's phone rings; and an agent's busy leg in the report that must not re-queue a
//! contact who answered.

use pregonero::config::QueueOptions;
use pregonero::store::Store;
use serde_json::Value;

use crate::helpers::{self, Db};

const SALES: &str = "kind = \"sales\"\ncaller_id = \"+34910000000\"\nmax_attempts = 3\nrequire_consent = false\nretry = { busy = \"1m\", no_answer = \"1m\", failed = \"1m\", unreachable = \"1m\" }\n[sales]\nagent = \"extension:200\"\nagent_ring_seconds = 20\n";

/// (phone, simulator script, state, the signal that proved the bridge)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

const DIAL: &[Case] = &[
    // The agent hangs up first: the `dial` result says `ANSWER`.
    ("+34600000301", "answer", "connected", Some("result")),
    // The callee hangs up a minute into the bridge: no result, the end request's durations.
    (
        "+34600000302",
        "answer bridged=60",
        "connected",
        Some("duration"),
    ),
    // The callee hangs up 3 s into the bridge, inside the ring time: only the report's leg.
    (
        "+34600000303",
        "answer bridged=3",
        "connected",
        Some("report"),
    ),
    // The callee leaves while the agent's phone rings.
    ("+34600000304", "answer hangup=1", "abandoned", None),
    // Nobody picks up.
    ("+34600000305", "answer transfer=fail", "abandoned", None),
];

const QUEUE: &[Case] = &[
    // The queue's result is a bare `OK` however it went: only the report's leg proves it.
    ("+34600000311", "answer", "connected", Some("report")),
    (
        "+34600000312",
        "answer bridged=60",
        "connected",
        Some("report"),
    ),
    ("+34600000313", "answer hangup=1", "abandoned", None),
];

fn csv(cases: &[Case]) -> String {
    let mut s = "telefono\n".to_string();
    for (phone, ..) in cases {
        s.push_str(&phone[3..]);
        s.push('\n');
    }
    s
}

fn script(cases: &[Case]) -> String {
    cases
        .iter()
        .map(|(phone, script, ..)| format!("\"{phone}\" = \"{script}\"\n"))
        .collect()
}

/// Runs a sales campaign over these cases with the simulator switches `tune` sets, and checks
/// every contact's state, its one attempt and what proved the bridge; returns the report.
async fn run(
    db: Db,
    name: &str,
    toml: &str,
    cases: &[Case],
    tune: impl FnOnce(&mut pregonero::config::Config),
) -> Option<Value> {
    let test_db = helpers::fresh_db(db, name).await?;
    let root = tempfile::tempdir().unwrap();
    helpers::campaign(root.path(), "ventas", toml, "lista.csv", &csv(cases));
    let script_file = root.path().join("script.toml");
    std::fs::write(&script_file, script(cases)).unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.simulator.script_file = Some(script_file);
    // A 20 s ring is 200 ms of real time: a loaded machine cannot stretch a short bridge past it.
    config.simulator.speed = 100.0;
    config.limits.max_concurrent_calls = 8;
    config.limits.calls_per_second = 50.0;
    tune(&mut config);
    helpers::run_until_idle(config).await;

    let store = Store::connect(&test_db.url).await.unwrap();
    for (phone, script, state, signal) in cases {
        let c = store.contact("ventas", phone).await.unwrap().unwrap();
        assert_eq!(c.state, *state, "{phone} ({script})");
        let attempts = store.attempts_of(c.contact_id).await.unwrap();
        assert_eq!(attempts.len(), 1, "{phone} ({script}): {attempts:?}");
        assert_eq!(attempts[0].outcome.as_deref(), Some(*state), "{phone}");
        let facts = store
            .transfer_facts(attempts[0].attempt_id)
            .await
            .unwrap()
            .expect("the transfer is recorded");
        assert_eq!(facts.signal.as_deref(), *signal, "{phone} ({script})");
    }
    store.close().await;
    Some(helpers::report_json(&test_db.url, "ventas").await)
}

/// The abandon figures the pacing and the compliance report read: every answered call, and
/// only the ones no agent took.
fn assert_abandon(r: &Value, cases: &[Case]) {
    let abandoned = cases.iter().filter(|c| c.2 == "abandoned").count() as i64;
    let a = &r["abandon"];
    assert_eq!(
        (a["answered_30d"].as_i64(), a["abandoned_30d"].as_i64()),
        (Some(cases.len() as i64), Some(abandoned)),
        "{r}"
    );
}

crate::on_both_backends!(
    a_dial_transfer_is_decided_whoever_hangs_up_first,
    a_queue_transfer_is_decided_from_the_report,
    an_agent_leg_never_requeues_a_contact_who_answered,
);

async fn a_dial_transfer_is_decided_whoever_hangs_up_first(db: Db) {
    let Some(r) = run(db, "transfers::dial", SALES, DIAL, |_| {}).await else {
        return;
    };
    assert_abandon(&r, DIAL);
}

async fn a_queue_transfer_is_decided_from_the_report(db: Db) {
    let toml = SALES.replace("agent = \"extension:200\"", "queue = \"ventas\"");
    let Some(r) = run(db, "transfers::queue", &toml, QUEUE, |c| {
        c.simulator.bare_queue_results = true;
        // The provider understands `name;1` only, and pregonero is set to send it.
        c.simulator.queue_options = Some(QueueOptions::Semicolon);
        c.provider.queue_options = QueueOptions::Semicolon;
    })
    .await
    else {
        return;
    };
    assert_abandon(&r, QUEUE);
}

/// No end request ever comes: the report closes each call. The agent's leg, busy or not
/// answered, comes first in the batch; matched by its `ID` alone it would close the attempt as
/// busy and call the contact again. Matched by `dst`, each contact keeps its one attempt.
async fn an_agent_leg_never_requeues_a_contact_who_answered(db: Db) {
    let cases: &[Case] = &[
        ("+34600000321", "answer transfer=fail", "abandoned", None),
        ("+34600000322", "answer hangup=1", "abandoned", None),
        ("+34600000323", "answer", "connected", Some("result")),
    ];
    let Some(r) = run(db, "transfers::legs", SALES, cases, |c| {
        c.simulator.drop_end_requests = 1.0;
    })
    .await
    else {
        return;
    };
    assert_abandon(&r, cases);
}
