//! The agent desk's store operations (`desk.rs`), each test run on SQLite and on PostgreSQL.

use std::collections::{BTreeMap, HashSet};

use super::*;
use crate::campaign::RetryDelays;
use crate::testing::TestDb;

crate::testing::on_both_backends!("store::desk";
    agents_are_added_listed_given_a_password_and_removed,
    routing_takes_the_ready_agent_idle_longest_and_skips_one_who_did_not_answer,
    fifty_concurrent_transfers_never_give_two_calls_to_one_agent,
    wrap_up_ends_with_the_disposition_and_a_callback_is_scheduled_for_the_agent,
    a_disposition_for_another_agents_call_changes_nothing,
    settling_frees_agents_of_ended_calls_and_logs_out_closed_pages,
    presence_counts_ready_agents_and_wrap_ups_ending_soon,
    pacing_counts_ten_ready_agents_and_wrap_ups_ending_within_the_lead,
);

const T0: i64 = 1_780_000_000_000;

async fn store(db: &TestDb) -> Store {
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .upsert_campaign("c1", "sales", "T", "", T0)
        .await
        .unwrap();
    store
}

/// Imports `n` contacts and claims them: their attempt ids.
async fn attempts(store: &Store, n: usize) -> Vec<Claim> {
    let contacts: Vec<ContactRecord> = (0..n)
        .map(|i| ContactRecord {
            phone: format!("+3460010{i:04}"),
            name: format!("Cliente {i}"),
            vars: "{}".into(),
            timezone: None,
            appointment_at: None,
        })
        .collect();
    let f = FileImport {
        file_name: "lista.csv".into(),
        hash: format!("h{n}"),
        rows_read: n as u64,
        rejected: 0,
        duplicates: 0,
        expected_rows: n as u64,
    };
    store
        .import_contacts("c1", &f, &contacts, T0)
        .await
        .unwrap();
    store
        .claim_due("c1", T0, n as u32, &launch_all)
        .await
        .unwrap()
}

/// Adds agents `prefix1..=n` of `team`, ready one second apart (the first idle longest).
async fn ready_agents(store: &Store, team: &str, prefix: &str, n: usize) -> Vec<String> {
    let mut names = vec![];
    for i in 1..=n {
        let name = format!("{prefix}{i}");
        let ext = format!("{}{i:03}", team.len());
        assert!(store.agent_add(&name, &ext, team, T0).await.unwrap());
        let a = store
            .agent_set_state(&name, "ready", None, T0 + i as i64 * 1000)
            .await
            .unwrap()
            .expect("ready");
        assert_eq!(a.state, "ready");
        names.push(name);
    }
    names
}

async fn state(store: &Store, name: &str) -> (String, Option<String>, Option<i64>) {
    let a = store.agent(name).await.unwrap().expect("agent");
    (a.state, a.reason, a.attempt_id)
}

async fn agents_are_added_listed_given_a_password_and_removed(db: &TestDb) {
    let store = store(db).await;
    assert!(store.agent_add("ana", "201", "ventas", T0).await.unwrap());
    assert!(store.agent_add("luis", "202", "", T0).await.unwrap());
    assert!(
        !store.agent_add("ana", "299", "ventas", T0).await.unwrap(),
        "a name is taken once"
    );
    assert!(
        !store.agent_add("eva", "201", "ventas", T0).await.unwrap(),
        "an extension is taken once"
    );
    let list = store.agents().await.unwrap();
    let names: Vec<(&str, &str, &str, &str)> = list
        .iter()
        .map(|a| {
            (
                a.name.as_str(),
                a.extension.as_str(),
                a.team.as_str(),
                a.state.as_str(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("luis", "202", "", "logged_out"),
            ("ana", "201", "ventas", "logged_out")
        ]
    );
    assert_eq!(store.agent_password_hash("ana").await.unwrap(), Some(None));
    assert!(store
        .agent_set_password("ana", "$argon2id$x")
        .await
        .unwrap());
    assert_eq!(
        store.agent_password_hash("ana").await.unwrap(),
        Some(Some("$argon2id$x".to_string()))
    );
    assert!(!store.agent_set_password("nadie", "h").await.unwrap());
    assert_eq!(store.agent_password_hash("nadie").await.unwrap(), None);
    assert!(store.agent_remove("luis").await.unwrap());
    assert!(!store.agent_remove("luis").await.unwrap());
    assert_eq!(store.agents().await.unwrap().len(), 1);
    // A state that is not one an agent sets changes nothing.
    assert_eq!(
        store
            .agent_set_state("ana", "on_call", None, T0)
            .await
            .unwrap(),
        None
    );
    let paused = store
        .agent_set_state("ana", "paused", Some("café"), T0 + 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (paused.state.as_str(), paused.reason.as_deref()),
        ("paused", Some("café"))
    );
}

async fn routing_takes_the_ready_agent_idle_longest_and_skips_one_who_did_not_answer(db: &TestDb) {
    let store = store(db).await;
    let calls = attempts(&store, 3).await;
    // ana is ready first, then bea, then carl; another team's agent is never chosen.
    let team = ready_agents(&store, "ventas", "v", 3).await;
    ready_agents(&store, "soporte", "s", 1).await;
    let now = T0 + 10_000;
    let first = store
        .assign_agent("ventas", calls[0].attempt_id, "c1", None, now)
        .await
        .unwrap()
        .expect("an agent is ready");
    assert_eq!(first.name, team[0], "idle longest");
    assert_eq!(
        (first.state.as_str(), first.attempt_id),
        ("on_call", Some(calls[0].attempt_id))
    );
    // No pick-up: paused ("no answer"), and the call goes to the next ready agent.
    assert_eq!(
        store
            .agent_no_answer(calls[0].attempt_id, now + 100)
            .await
            .unwrap(),
        Some(team[0].clone())
    );
    assert_eq!(
        state(&store, &team[0]).await,
        ("paused".into(), Some("no answer".into()), None)
    );
    let second = store
        .assign_agent("ventas", calls[0].attempt_id, "c1", None, now + 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.name, team[1]);
    assert_eq!(
        store.first_offer(calls[0].attempt_id).await.unwrap(),
        Some(now),
        "the wait counts from the first offer"
    );
    // A preferred agent (a callback's) is taken first when ready.
    let third = store
        .assign_agent(
            "ventas",
            calls[1].attempt_id,
            "c1",
            Some(team[2].as_str()),
            now + 200,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.name, team[2]);
    // Nobody of the team is ready now.
    assert_eq!(
        store
            .assign_agent("ventas", calls[2].attempt_id, "c1", None, now + 300)
            .await
            .unwrap(),
        None
    );
    // Even back to ready, an agent is not offered the call they missed again.
    store
        .agent_set_state(&team[0], "ready", None, now + 400)
        .await
        .unwrap();
    store
        .agent_no_answer(calls[0].attempt_id, now + 500)
        .await
        .unwrap();
    assert_eq!(
        store
            .assign_agent("ventas", calls[0].attempt_id, "c1", None, now + 600)
            .await
            .unwrap(),
        None
    );
    // An agent on a call cannot set themselves paused in the middle of it.
    assert_eq!(
        store
            .agent_set_state(&team[2], "paused", Some("x"), now + 700)
            .await
            .unwrap(),
        None
    );
    assert_eq!(state(&store, &team[2]).await.0, "on_call");
}

async fn fifty_concurrent_transfers_never_give_two_calls_to_one_agent(db: &TestDb) {
    let store = store(db).await;
    let calls = attempts(&store, 50).await;
    assert_eq!(calls.len(), 50);
    let team = ready_agents(&store, "ventas", "a", 20).await;
    let mut tasks = tokio::task::JoinSet::new();
    for c in &calls {
        let store = store.clone();
        let id = c.attempt_id;
        tasks.spawn(async move {
            let agent = store
                .assign_agent("ventas", id, "c1", None, T0 + 60_000)
                .await
                .expect("assign");
            (id, agent.map(|a| a.name))
        });
    }
    let mut given: BTreeMap<String, i64> = BTreeMap::new();
    let mut unrouted = 0;
    while let Some(r) = tasks.join_next().await {
        let (id, agent) = r.expect("task");
        match agent {
            Some(name) => {
                assert!(
                    given.insert(name.clone(), id).is_none(),
                    "{name} was given two calls"
                );
            }
            None => unrouted += 1,
        }
    }
    assert_eq!(given.len(), 20, "every ready agent got one call");
    assert_eq!(unrouted, 30);
    for a in store.agents().await.unwrap() {
        assert_eq!(a.state, "on_call");
        assert_eq!(a.attempt_id, given.get(&a.name).copied(), "{}", a.name);
    }
    let names: HashSet<String> = given.into_keys().collect();
    assert_eq!(names, team.into_iter().collect());
}

async fn wrap_up_ends_with_the_disposition_and_a_callback_is_scheduled_for_the_agent(db: &TestDb) {
    let store = store(db).await;
    let calls = attempts(&store, 2).await;
    let team = ready_agents(&store, "ventas", "w", 1).await;
    let now = T0 + 10_000;
    let id = calls[0].attempt_id;
    store
        .assign_agent("ventas", id, "c1", None, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.agent_answered(id, now + 2_000).await.unwrap(),
        Some(team[0].clone())
    );
    // The call ends after a minute of talk: 30 s of wrap-up.
    assert_eq!(
        store
            .agent_call_ended(id, 30_000, now + 62_000)
            .await
            .unwrap(),
        Some(team[0].clone())
    );
    let a = store.agent(&team[0]).await.unwrap().unwrap();
    assert_eq!(
        (a.state.as_str(), a.attempt_id, a.wrapup_until),
        ("wrapup", Some(id), Some(now + 92_000))
    );
    // A second end of the call changes nothing.
    assert_eq!(
        store
            .agent_call_ended(id, 30_000, now + 63_000)
            .await
            .unwrap(),
        None
    );
    // In wrap-up the agent is not routed.
    assert!(store
        .assign_agent("ventas", calls[1].attempt_id, "c1", None, now + 70_000)
        .await
        .unwrap()
        .is_none());
    let callback_at = now + 86_400_000;
    assert_eq!(
        store
            .record_disposition(
                &team[0],
                id,
                "volver a llamar",
                "mañana por la tarde",
                Some(callback_at),
                now + 80_000
            )
            .await
            .unwrap(),
        DispositionResult::Stored
    );
    // Wrap-up is over with the disposition: ready again, idle from now.
    let a = store.agent(&team[0]).await.unwrap().unwrap();
    assert_eq!(
        (a.state.as_str(), a.attempt_id, a.state_since),
        ("ready", None, now + 80_000)
    );
    with_reader!(&store, |db| {
        let row: (String, i64, Option<String>) =
            sqlx::query_as("SELECT state, next_at, callback_agent FROM contacts WHERE id = $1")
                .bind(calls[0].contact_id)
                .fetch_one(db)
                .await
                .unwrap();
        assert_eq!(
            row,
            ("scheduled".to_string(), callback_at, Some(team[0].clone()))
        );
    });
    // The contact's next call (a new attempt) goes to that agent first.
    let again = store
        .claim_due("c1", callback_at, 5, &launch_all)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].contact_id, calls[0].contact_id);
    assert_eq!(again[0].number, 2, "a new attempt");
    assert_eq!(
        store.callback_agent(again[0].attempt_id).await.unwrap(),
        Some(team[0].clone())
    );
    let rows = store.dispositions("c1").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].disposition.as_str(),
            rows[0].note.as_str(),
            rows[0].callback_at
        ),
        ("volver a llamar", "mañana por la tarde", Some(callback_at))
    );
    assert_eq!(
        store.disposition_counts("c1").await.unwrap(),
        BTreeMap::from([("volver a llamar".to_string(), 1)])
    );
    let stats = store.agent_stats(Some("c1")).await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(
        (
            stats[0].calls,
            stats[0].missed,
            stats[0].talk_seconds,
            stats[0].wrapup_seconds
        ),
        (1, 0, 60, 18)
    );
    assert_eq!(stats[0].dispositions.get("volver a llamar"), Some(&1));
}

async fn a_disposition_for_another_agents_call_changes_nothing(db: &TestDb) {
    let store = store(db).await;
    let calls = attempts(&store, 1).await;
    let team = ready_agents(&store, "ventas", "d", 2).await;
    let id = calls[0].attempt_id;
    store
        .assign_agent("ventas", id, "c1", None, T0 + 10_000)
        .await
        .unwrap()
        .unwrap();
    // Offered but not yet taken: not even its own agent may dispose of it.
    assert_eq!(
        store
            .record_disposition(&team[0], id, "venta", "", None, T0 + 10_500)
            .await
            .unwrap(),
        DispositionResult::NotYours
    );
    store.agent_answered(id, T0 + 11_000).await.unwrap();
    let before = store.agents().await.unwrap();
    assert_eq!(
        store
            .record_disposition(&team[1], id, "venta", "", Some(T0 + 99_000), T0 + 12_000)
            .await
            .unwrap(),
        DispositionResult::NotYours
    );
    assert_eq!(
        store
            .record_disposition(&team[1], id + 1000, "venta", "", None, T0 + 12_000)
            .await
            .unwrap(),
        DispositionResult::NotYours
    );
    assert_eq!(store.agents().await.unwrap(), before);
    assert!(store.dispositions("c1").await.unwrap().is_empty());
}

async fn settling_frees_agents_of_ended_calls_and_logs_out_closed_pages(db: &TestDb) {
    let store = store(db).await;
    let calls = attempts(&store, 2).await;
    let team = ready_agents(&store, "ventas", "r", 3).await;
    let now = T0 + 10_000;
    for c in &calls {
        store
            .assign_agent("ventas", c.attempt_id, "c1", None, now)
            .await
            .unwrap()
            .unwrap();
    }
    // The first call ended while the daemon was down; the second is still live.
    store
        .close_attempt(
            calls[0].attempt_id,
            &AttemptClose {
                result: crate::schedule::AttemptResult::Answered,
                duration_seconds: Some(10),
                talk_seconds: Some(5),
                ended_at: now + 1_000,
            },
            &RetryPolicy {
                max_attempts: 3,
                delays: RetryDelays::default(),
                end_at: None,
                answered_without_outcome: crate::schedule::ContactState::Abandoned,
            },
        )
        .await
        .unwrap();
    store.agent_seen(&team[0], now + 50_000).await.unwrap();
    store.agent_seen(&team[1], now + 50_000).await.unwrap();
    // r3 (ready, page not seen since it was set ready) is logged out; r1 freed; r2 kept.
    let changed = store
        .settle_agents(now + 60_000, now + 30_000)
        .await
        .unwrap();
    assert_eq!(changed, vec![team[0].clone(), team[2].clone()]);
    assert_eq!(state(&store, &team[0]).await.0, "ready");
    assert_eq!(
        state(&store, &team[1]).await,
        ("on_call".into(), None, Some(calls[1].attempt_id)),
        "a live call keeps its agent, seen or not"
    );
    assert_eq!(
        state(&store, &team[2]).await,
        ("logged_out".into(), Some("page closed".into()), None)
    );
}

async fn presence_counts_ready_agents_and_wrap_ups_ending_soon(db: &TestDb) {
    let store = store(db).await;
    let calls = attempts(&store, 3).await;
    ready_agents(&store, "ventas", "p", 10).await;
    ready_agents(&store, "otros", "o", 2).await;
    let now = T0 + 20_000;
    assert_eq!(
        store.desk_presence("ventas", now, 5_000).await.unwrap(),
        (10, 0)
    );
    // Three take calls; two end, with wrap-ups ending in 3 s and in 60 s.
    for c in &calls {
        store
            .assign_agent("ventas", c.attempt_id, "c1", None, now)
            .await
            .unwrap()
            .unwrap();
        store.agent_answered(c.attempt_id, now).await.unwrap();
    }
    store
        .agent_call_ended(calls[0].attempt_id, 3_000, now)
        .await
        .unwrap();
    store
        .agent_call_ended(calls[1].attempt_id, 60_000, now)
        .await
        .unwrap();
    assert_eq!(
        store.desk_presence("ventas", now, 5_000).await.unwrap(),
        (7, 1)
    );
    // Once the short wrap-up is over its agent counts as ready.
    assert_eq!(
        store
            .desk_presence("ventas", now + 4_000, 5_000)
            .await
            .unwrap(),
        (8, 0)
    );
    assert_eq!(
        store.desk_presence("nadie", now, 5_000).await.unwrap(),
        (0, 0)
    );
}

async fn pacing_counts_ten_ready_agents_and_wrap_ups_ending_within_the_lead(db: &TestDb) {
    use crate::desk::pacing::{desk_cap, desk_view};
    use crate::pacing::AgentView;
    let store = store(db).await;
    ready_agents(&store, "ventas", "q", 10).await;
    let now = T0 + 20_000;
    let idle = AgentView::default();
    let view = desk_view(&store, "ventas", idle, now, 5_000).await;
    assert_eq!(view.agents, 10);
    // Progressive: one call per agent present; predictive with a low abandon rate: × ratio.
    assert_eq!(desk_cap(&view, 1.0, 0.03, Some(0.0)), 10);
    assert_eq!(desk_cap(&view, 1.5, 0.03, Some(0.01)), 15);
    // The abandon budget spent: back to progressive.
    assert_eq!(desk_cap(&view, 1.5, 0.03, Some(0.05)), 10);
    // Two take calls (in the transfer step); one ends with a wrap-up inside the lead time,
    // another with a long one.
    let calls = attempts(&store, 3).await;
    for c in &calls {
        store
            .assign_agent("ventas", c.attempt_id, "c1", None, now)
            .await
            .unwrap()
            .unwrap();
    }
    store
        .agent_call_ended(calls[0].attempt_id, 2_000, now)
        .await
        .unwrap();
    store
        .agent_call_ended(calls[1].attempt_id, 600_000, now)
        .await
        .unwrap();
    let busy = AgentView {
        in_transfer: 1,
        mean_lead_ms: Some(5_000),
        ..AgentView::default()
    };
    let view = desk_view(&store, "ventas", busy, now, 99).await;
    // 7 ready + 1 wrap-up ending within 5 s + 1 call with an agent.
    assert_eq!(view.agents, 9);
    assert_eq!(desk_cap(&view, 1.0, 0.03, None), 9);
    // Nobody of a team present: no call at all.
    let none = desk_view(&store, "nadie", AgentView::default(), now, 5_000).await;
    assert_eq!(desk_cap(&none, 1.0, 0.03, None), 0);
}
