//! Callees calling back (`POST /apivoice/inbound/{secret}`) over real HTTP: a known caller
//! reaches their agent; the agent does not answer, the menu, an opt-out that is on the list
//! before the reply; a reminder confirmed by callback; anonymous and unknown callers; forged
//! requests that change nothing.

use std::sync::Arc;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use pregonero::store::Store;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, Db};

crate::on_both_backends!(
    callers_are_matched_routed_and_recorded,
    a_desk_campaigns_caller_rings_a_ready_agent_of_the_team,
);

/// One request of an inbound call; `userfield` from the previous reply.
async fn post(http: &reqwest::Client, url: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let r = http.post(url).form(fields).send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn start<'a>(id: &'a str, src: &'a str, dst: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("ID", id),
        ("api", "API sim"),
        ("typesrc", "did"),
        ("usersrc", src),
        ("src", src),
        ("dst", dst),
        ("userdata", ""),
        ("statuscall", ""),
    ]
}

fn result<'a>(
    id: &'a str,
    reply: &'a Value,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("ID", id),
        ("api", "API sim"),
        ("command", reply["command"].as_str().unwrap()),
        ("userfield", reply["userfield"].as_str().unwrap()),
        ("statuscall", "ANSWER"),
    ];
    f.extend_from_slice(extra);
    f
}

fn inbound_id(reply: &Value) -> i64 {
    reply["userfield"]
        .as_str()
        .and_then(|u| u.split('|').next())
        .and_then(|n| n.parse().ok())
        .unwrap()
}

async fn callers_are_matched_routed_and_recorded(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "inbound::callers").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    // Dialing starts in 2099: these contacts are only reached by their own callbacks.
    let toml = "kind = \"reminder\"\ntitle = \"Clínica Sol\"\ncaller_id = \"+34910000000\"\nstart = \"2099-01-01\"\n[reminder]\nmessage = \"Pulse 1 para confirmar su cita del {cita} o 2 para anularla.\"\nagent_key = \"3\"\nagent = \"extension:200\"\n[events]\nurl = \"http://127.0.0.1:9/events\"\ntypes = [\"inbound.received\", \"optout\", \"contact.final\"]\n";
    let csv = "telefono;nombre;cita\n600000001;Ana;01/06/2099 10:30\n600000002;Luis;01/06/2099 11:00\n600000003;Eva;01/06/2099 12:00\n";
    helpers::campaign(root.path(), "citas", toml, "citas.csv", csv);
    let config = helpers::config(&test_db.url, root.path());
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let url = app.inbound_url();
    let base = format!("http://{}", app.addr());
    assert_eq!(
        url,
        format!("{base}/apivoice/inbound/test-secret-0123456789")
    );
    let store: Store = app.store().clone();
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));
    let http = reqwest::Client::new();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);

    // 1. A known caller (national digits) reaches their agent.
    let (status, r) = post(&http, &url, &start("in.1", "600000001", "34910000000")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (r["command"].as_str(), r["options"].as_str()),
        (Some("dial"), Some("extension,200,15")),
        "{r}"
    );
    let ana = inbound_id(&r);
    let (_, r2) = post(
        &http,
        &url,
        &result(
            "in.1",
            &r,
            &[("description", "ANSWER"), ("status", "ANSWER")],
        ),
    )
    .await;
    assert_eq!(r2["command"], "hangup");
    let (_, end) = post(
        &http,
        &url,
        &[
            ("ID", "in.1"),
            ("api", "API sim"),
            ("userfield", r2["userfield"].as_str().unwrap()),
            ("statuscall", "CANCEL"),
            ("durationcall", "42"),
            ("durationcallanswered", "30"),
        ],
    )
    .await;
    assert_eq!(end, serde_json::json!({}));
    let call = store.inbound_call(ana).await.unwrap().unwrap();
    assert_eq!(
        (
            call.caller.as_str(),
            call.did.as_str(),
            call.campaign_id.as_deref(),
            call.route.as_str(),
            call.outcome.as_deref(),
            call.duration_seconds
        ),
        (
            "+34600000001",
            "+34910000000",
            Some("citas"),
            "agent",
            Some("to_agent"),
            Some(42)
        )
    );

    // 2. The agent does not answer: the menu; the opt-out is on the list before the reply.
    let (_, r) = post(&http, &url, &start("in.2", "0034600000002", "34910000000")).await;
    assert_eq!(r["command"], "dial");
    let (_, menu) = post(
        &http,
        &url,
        &result(
            "in.2",
            &r,
            &[("description", "NOANSWER"), ("status", "NOANSWER")],
        ),
    )
    .await;
    assert_eq!(menu["command"], "speak_getdtmf", "{menu}");
    let text = menu["options"].as_str().unwrap();
    assert!(
        text.contains("Luis")
            && text.contains("Clínica Sol")
            && text.contains("Pulse 1 para confirmar"),
        "{text}"
    );
    let (_, bye) = post(
        &http,
        &url,
        &result("in.2", &menu, &[("dtmf", "9"), ("status", "OK")]),
    )
    .await;
    assert_eq!(bye["command"], "speak");
    let dnc = store.dnc_list().await.unwrap();
    assert!(dnc.iter().any(|e| e.phone == "+34600000002"), "{dnc:?}");
    let luis = store
        .contact("citas", "+34600000002")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(luis.state, "opted_out");

    // 3. A reminder confirmed by callback ("34…" digits), as on the outbound call.
    let (_, r) = post(&http, &url, &start("in.3", "34600000003", "34910000000")).await;
    let (_, menu) = post(&http, &url, &result("in.3", &r, &[("description", "BUSY")])).await;
    let (_, ok) = post(
        &http,
        &url,
        &result("in.3", &menu, &[("dtmf", "1"), ("status", "OK")]),
    )
    .await;
    assert_eq!(ok["command"], "speak");
    let eva = store
        .contact("citas", "+34600000003")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(eva.state, "confirmed");
    let call = store.inbound_call(inbound_id(&ok)).await.unwrap().unwrap();
    assert_eq!(
        (call.route.as_str(), call.outcome.as_deref()),
        ("menu", Some("confirmed"))
    );

    // 4. An anonymous caller: a goodbye, recorded with no contact.
    let (_, r) = post(&http, &url, &start("in.4", "anonymous", "34910000000")).await;
    assert_eq!(r["command"], "speak", "{r}");
    let call = store.inbound_call(inbound_id(&r)).await.unwrap().unwrap();
    assert_eq!(
        (call.caller.as_str(), call.contact_id, call.route.as_str()),
        ("anonymous", None, "greeting")
    );

    // 5. A DID that is no campaign's: the default greeting with the opt-out, never an error.
    let (status, r) = post(&http, &url, &start("in.5", "600000001", "34999999999")).await;
    assert_eq!(status, 200);
    assert_eq!(r["command"], "speak_getdtmf");
    assert!(r["options"]
        .as_str()
        .unwrap()
        .contains("Gracias por llamar"));

    // 6. Forged requests change nothing: a wrong secret, another API instance, another call's id.
    let before = store.inbound_calls("citas").await.unwrap();
    let (status, _) = post(
        &http,
        &format!("{base}/apivoice/inbound/wrong"),
        &start("in.6", "600000001", "34910000000"),
    )
    .await;
    assert_eq!(status, 404);
    let mut foreign = start("in.7", "600000001", "34910000000");
    foreign[1] = ("api", "API other");
    let (status, r) = post(&http, &url, &foreign).await;
    assert_eq!((status, r["command"].as_str()), (403, Some("hangup")));
    let (status, _) = post(&http, &url, &result("in.other", &menu, &[("dtmf", "2")])).await;
    assert_eq!(status, 403);
    assert_eq!(store.inbound_calls("citas").await.unwrap(), before);
    assert_eq!(
        store
            .contact("citas", "+34600000003")
            .await
            .unwrap()
            .unwrap()
            .state,
        "confirmed"
    );

    // Each matched call queued inbound.received; the opt-out and the settled contacts their events.
    let events: Vec<(i64, String)> = store
        .event_outbox("citas")
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.contact_id, r.event))
        .collect();
    let of = |c: i64| -> Vec<&str> {
        events
            .iter()
            .filter(|e| e.0 == c)
            .map(|e| e.1.as_str())
            .collect()
    };
    assert_eq!(
        of(luis.contact_id),
        ["inbound.received", "optout", "contact.final"]
    );
    assert_eq!(of(eva.contact_id), ["inbound.received", "contact.final"]);

    stop.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(30), running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// A campaign whose agent is `desk:TEAM`: the caller rings the ready agent of the team idle
/// longest (by extension, never the placeholder); with nobody of the team ready, the menu at
/// once, without the agent key.
async fn a_desk_campaigns_caller_rings_a_ready_agent_of_the_team(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "inbound::desk").await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let toml = "kind = \"promotion\"\ntitle = \"Ofertas\"\ncaller_id = \"+34910000000\"\nstart = \"2099-01-01\"\nrequire_consent = false\n[promotion]\nmessage = \"Tenemos una oferta.\"\nagent = \"desk:ventas\"\n";
    let csv = "telefono;nombre\n600000001;Ana\n600000002;Luis\n";
    helpers::campaign(root.path(), "ofertas", toml, "lista.csv", csv);
    let config = helpers::config(&test_db.url, root.path());
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let url = app.inbound_url();
    let store: Store = app.store().clone();
    let now = chrono::Utc::now().timestamp_millis();
    for (name, ext, team) in [
        ("eva", "201", "ventas"),
        ("leo", "202", "ventas"),
        ("ivo", "300", "soporte"),
    ] {
        store
            .agent_add(name, ext, team, now - 60_000)
            .await
            .unwrap();
    }
    // Leo has been ready longest; Ivo is ready but of another team.
    store
        .agent_set_state("leo", "ready", None, now - 30_000)
        .await
        .unwrap();
    store
        .agent_set_state("ivo", "ready", None, now - 50_000)
        .await
        .unwrap();
    store
        .agent_set_state("eva", "ready", None, now - 10_000)
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone(), false));
    let http = reqwest::Client::new();

    let (_, r) = post(&http, &url, &start("in.d1", "600000001", "34910000000")).await;
    assert_eq!(
        (r["command"].as_str(), r["options"].as_str()),
        (Some("dial"), Some("extension,202,15")),
        "{r}"
    );

    // Nobody of the team ready: the menu at once, opt-out only.
    for name in ["eva", "leo"] {
        store
            .agent_set_state(name, "paused", Some("break"), now)
            .await
            .unwrap();
    }
    let (_, r) = post(&http, &url, &start("in.d2", "600000002", "34910000000")).await;
    assert_eq!(r["command"], "speak_getdtmf", "{r}");
    assert!(!r["options"].as_str().unwrap_or("").contains("desk"), "{r}");

    stop.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(30), running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
