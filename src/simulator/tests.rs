//! Tests of the simulator over real HTTP, against a stand-in dialer.

use std::sync::atomic::AtomicBool;

use super::call::CONTROL_FIELDS;
use super::*;

type Reqs = Arc<Mutex<Vec<BTreeMap<String, String>>>>;

/// A dialer stand-in: start → speak_getdtmf (or garbage), result → hangup, end → `{}`.
#[derive(Clone, Default)]
struct Dialer {
    reqs: Reqs,
    reports: Arc<Mutex<Vec<Vec<Value>>>>,
    garbage: bool,
    fail_reports: Arc<AtomicBool>,
    /// How many report POSTs to fail before taking them again.
    fail_next: Arc<std::sync::atomic::AtomicUsize>,
}

impl Dialer {
    fn reqs(&self) -> Vec<BTreeMap<String, String>> {
        self.reqs.lock().unwrap().clone()
    }
    fn reports(&self) -> Vec<Vec<Value>> {
        self.reports.lock().unwrap().clone()
    }
}

async fn control(State(d): State<Dialer>, req: Request) -> Response {
    let f = read_form(req).await.unwrap();
    d.reqs.lock().unwrap().push(f.clone());
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let reply = if !matches!(get("statuscall").as_str(), "" | "ANSWER") {
        json!({})
    } else if get("statuscode").parse::<u16>().unwrap_or(0) >= 400 || !get("command").is_empty() {
        json!({"command": "hangup", "options": "", "userfield": "u2"})
    } else if d.garbage {
        return "this is not json".into_response();
    } else {
        json!({"command": "speak_getdtmf", "options": "google;es;Pulse 1 para confirmar;6000;1", "userfield": "u1"})
    };
    Json(reply).into_response()
}

async fn report(State(d): State<Dialer>, req: Request) -> Response {
    let failing_one = d
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if d.fail_reports.load(Ordering::SeqCst) || failing_one {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let f = read_form(req).await.unwrap();
    let calls: Vec<Value> = serde_json::from_str(&f["calls"]).unwrap();
    d.reports.lock().unwrap().push(calls);
    Json(json!({"response": "200"})).into_response()
}

/// Starts a dialer stand-in and a simulator (speed 1000, token "secret") pointed at it.
async fn setup(
    garbage: bool,
    tune: impl FnOnce(&mut SimulatorConfig),
) -> (Dialer, SimHandle, CancellationToken) {
    let d = Dialer {
        garbage,
        ..Dialer::default()
    };
    let app = Router::new()
        .route("/control", post(control))
        .route("/inbound", post(control))
        .route("/report", post(report))
        .with_state(d.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut cfg = SimulatorConfig {
        token: Some("secret".into()),
        control_url: format!("{base}/control"),
        inbound_url: Some(format!("{base}/inbound")),
        report_url: Some(format!("{base}/report")),
        speed: 1000.0,
        report_interval: Duration::from_secs(3600),
        ..SimulatorConfig::default()
    };
    tune(&mut cfg);
    let cancel = CancellationToken::new();
    let sim = Simulator::start(cfg, cancel.clone()).await.unwrap();
    (d, sim, cancel)
}

async fn launch(url: &str, fields: &[(&str, &str)]) -> Value {
    let resp = reqwest::Client::new()
        .post(url)
        .form(fields)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn good(dst: &'static str, userdata: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut f = vec![
        ("token", "secret"),
        ("api", "API sim"),
        ("src", "910053461"),
        ("dst", dst),
    ];
    f.extend([
        ("duration", "30"),
        ("typedst", "pstn"),
        ("userdata", userdata),
    ]);
    f
}

async fn until(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cond()
}

#[tokio::test]
async fn answered_call_drives_control_url_and_reports() {
    for urlencoded in [false, true] {
        let (d, sim, cancel) = setup(false, |c| {
            c.urlencoded = urlencoded;
            c.script = Script::parse_toml(r#""+34600000001" = ["answer keys=2"]"#).unwrap();
        })
        .await;
        let reply = launch(&sim.launch_url(), &good("0034600000001", "att-1")).await;
        assert_eq!(reply["response"], "200");
        let id = reply["ID"].as_str().unwrap().to_string();
        assert!(id.contains('.'));
        assert!(until(|| sim.calls_in_progress() == 0).await);

        let reqs = d.reqs();
        assert_eq!(reqs.len(), 3, "{reqs:?}");
        for r in &reqs {
            assert!(
                CONTROL_FIELDS.split_whitespace().all(|k| r.contains_key(k)),
                "{r:?}"
            );
            assert_eq!(
                (r["ID"].as_str(), r["api"].as_str()),
                (id.as_str(), "API sim")
            );
            assert_eq!(
                (r["dst"].as_str(), r["userdata"].as_str()),
                ("0034600000001", "att-1")
            );
            assert_eq!(r["startcall"].len(), 19);
        }
        let (start, result, end) = (&reqs[0], &reqs[1], &reqs[2]);
        assert_eq!(
            (start["command"].as_str(), start["userfield"].as_str()),
            ("", "")
        );
        assert_eq!(start["statuscall"], "ANSWER");
        assert_eq!(
            (result["command"].as_str(), result["userfield"].as_str()),
            ("speak_getdtmf", "u1")
        );
        assert_eq!(result["options"], "google;es;Pulse 1 para confirmar;6000;1");
        assert_eq!(
            (result["status"].as_str(), result["statuscode"].as_str()),
            ("OK", "200")
        );
        assert_eq!(result["dtmf"], "2");
        assert_eq!(
            (end["statuscall"].as_str(), end["userfield"].as_str()),
            ("CANCEL", "u2")
        );
        let total: u64 = end["durationcall"].parse().unwrap();
        let answered: u64 = end["durationcallanswered"].parse().unwrap();
        assert!(total > answered && answered > 0, "{total} {answered}");
        assert_eq!(
            sim.acked_dtmf(),
            vec![(id.clone(), "att-1".into(), "2".into())]
        );

        assert!(
            !sim.wait_idle(Duration::from_millis(20)).await,
            "a report line is pending"
        );
        sim.flush_reports().await;
        assert!(sim.wait_idle(Duration::from_secs(1)).await);
        let batches = d.reports();
        assert_eq!(batches.len(), 1);
        let line = &batches[0][0];
        assert_eq!(line["ID"], id.as_str());
        assert_eq!(line["src"], format!("0034910053461 (APIVoice {id})"));
        assert_eq!(
            (line["dst"].as_str(), line["status"].as_str()),
            (Some("600000001"), Some("answer"))
        );
        assert_eq!(line["duration"], answered.to_string());
        assert!(line["cost"].is_number() && line["dstname"].is_string());
        assert_eq!(line["startdate"].as_str().unwrap().len(), 26);
        assert_eq!(
            (line["ip"].as_str(), line["plan"].as_str()),
            (Some(""), Some(""))
        );
        assert_eq!(line["useragent"], format!("APIVoice;{id};API sim"));
        cancel.cancel();
    }
}

#[tokio::test]
async fn launch_validation_codes() {
    let (d, sim, cancel) = setup(false, |_| {}).await;
    let url = sim.launch_url();
    let with = |k: &'static str, v: &'static str| {
        let mut f = good("0034600000009", "x");
        f.retain(|(name, _)| *name != k);
        if !v.is_empty() {
            f.push((k, v));
        }
        f
    };
    for (fields, code) in [
        (with("token", "wrong"), "401"),
        (with("api", "API other"), "401"),
        (with("dst", ""), "406"),
        (with("token", ""), "406"),
        (with("dst", "+34600000009"), "103"),
        (with("typedst", "fax"), "103"),
        (with("duration", "abc"), "103"),
    ] {
        assert_eq!(launch(&url, &fields).await["response"], code, "{fields:?}");
    }
    assert!(sim.launches().is_empty());
    let mut ext = with("dst", "101");
    ext.retain(|(k, _)| *k != "typedst");
    ext.push(("typedst", "extension"));
    let root = format!("http://{}/", sim.addr());
    assert_eq!(launch(&root, &ext).await["response"], "200");
    assert_eq!(sim.launches().len(), 1);
    assert!(until(|| sim.calls_in_progress() == 0 && !d.reqs().is_empty()).await);
    cancel.cancel();
}

#[tokio::test]
async fn busy_then_answer_and_report_retry() {
    let (d, sim, cancel) = setup(false, |c| {
        c.duplicate_reports = true;
        c.script.insert(
            "+34600000002",
            vec!["busy".parse().unwrap(), "answer hangup=1".parse().unwrap()],
        );
    })
    .await;
    let reply = launch(&sim.launch_url(), &good("0034600000002", "a1")).await;
    assert!(until(|| sim.calls_in_progress() == 0).await);
    let reqs = d.reqs();
    assert_eq!(
        reqs.len(),
        1,
        "no start before a not-answered end: {reqs:?}"
    );
    assert_eq!(
        (reqs[0]["statuscall"].as_str(), reqs[0]["ID"].as_str()),
        ("BUSY", reply["ID"].as_str().unwrap())
    );
    assert_eq!(
        (
            reqs[0]["command"].as_str(),
            reqs[0]["durationcallanswered"].as_str()
        ),
        ("", "0")
    );

    d.fail_reports.store(true, Ordering::SeqCst);
    sim.flush_reports().await;
    assert_eq!(sim.pending_reports(), 1, "kept after a failed POST");
    d.fail_reports.store(false, Ordering::SeqCst);
    sim.flush_reports().await;
    assert_eq!(d.reports()[0][0]["status"], "busy");
    assert_eq!(d.reports()[0][0]["duration"], "0");

    // Second attempt answers, then hangs up during the first command: no result request.
    launch(&sim.launch_url(), &good("0034600000002", "a2")).await;
    assert!(until(|| sim.calls_in_progress() == 0).await);
    let reqs = d.reqs();
    let statuses: Vec<&str> = reqs.iter().map(|r| r["statuscall"].as_str()).collect();
    assert_eq!(statuses, ["BUSY", "ANSWER", "CANCEL"]);
    sim.flush_reports().await;
    let batch = &d.reports()[1];
    assert_eq!(batch.len(), 2, "new line plus one duplicate");
    assert!(
        batch.iter().any(|l| l["status"] == "answer")
            && batch.iter().any(|l| l["status"] == "busy")
    );
    cancel.cancel();
}

/// A stopping daemon's last report: a batch the dialer refuses (a 503 while its store is busy)
/// is sent again until it is taken, or the time given is up.
#[tokio::test]
async fn the_last_report_is_sent_again_until_it_is_taken() {
    let (d, sim, cancel) = setup(false, |c| {
        c.script
            .insert("0034600000009", vec!["busy".parse().unwrap()]);
    })
    .await;
    launch(&sim.launch_url(), &good("0034600000009", "a9")).await;
    assert!(until(|| sim.calls_in_progress() == 0 && sim.pending_reports() == 1).await);
    d.fail_next.store(2, Ordering::SeqCst);
    assert!(sim.flush_reports_within(Duration::from_secs(30)).await);
    assert_eq!(sim.pending_reports(), 0);
    assert_eq!(d.reports().len(), 1, "taken once, after two refusals");
    assert_eq!(d.reports()[0][0]["status"], "busy");

    // A dialer that never takes it: the lines stay pending once the time is up.
    launch(&sim.launch_url(), &good("0034600000009", "a10")).await;
    assert!(until(|| sim.calls_in_progress() == 0 && sim.pending_reports() == 1).await);
    d.fail_reports.store(true, Ordering::SeqCst);
    assert!(!sim.flush_reports_within(Duration::from_millis(250)).await);
    assert_eq!(sim.pending_reports(), 1);
    cancel.cancel();
}

#[tokio::test]
async fn bad_reply_gets_command_not_found_then_cancel() {
    let (d, sim, cancel) = setup(true, |c| {
        c.script
            .insert("0034600000003", vec!["answer".parse().unwrap()])
    })
    .await;
    launch(&sim.launch_url(), &good("0034600000003", "b")).await;
    assert!(until(|| sim.calls_in_progress() == 0).await);
    let reqs = d.reqs();
    assert_eq!(reqs.len(), 3, "{reqs:?}");
    assert_eq!(
        (
            reqs[1]["statuscode"].as_str(),
            reqs[1]["description"].as_str()
        ),
        ("401", "Command not found")
    );
    assert_eq!(reqs[2]["statuscall"], "CANCEL");
    cancel.cancel();
}

#[tokio::test]
async fn launch_faults() {
    let (_, sim, cancel) = setup(false, |c| c.faults.response_code = Some("402".into())).await;
    assert_eq!(
        launch(&sim.launch_url(), &good("0034600000004", "f")).await["response"],
        "402"
    );
    cancel.cancel();

    let (_, sim, cancel) = setup(false, |c| c.faults.http_status = Some(500)).await;
    let resp = reqwest::Client::new()
        .post(sim.launch_url())
        .form(&good("0034600000004", "f"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    cancel.cancel();

    let (_, sim, cancel) = setup(false, |c| c.faults.max_cps = Some(1.0)).await;
    assert_eq!(
        launch(&sim.launch_url(), &good("0034600000004", "f")).await["response"],
        "200"
    );
    assert_eq!(
        launch(&sim.launch_url(), &good("0034600000004", "g")).await["response"],
        "503"
    );
    cancel.cancel();

    let (d, sim, cancel) = setup(false, |c| c.faults.hang = true).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let result = client
        .post(sim.launch_url())
        .form(&good("0034600000004", "h"))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    assert!(sim.launches().is_empty() && sim.calls_in_progress() == 0 && d.reqs().is_empty());
    cancel.cancel();
}

#[test]
fn script_grammar() {
    assert_eq!("busy".parse(), Ok(CallScript::Busy));
    assert_eq!("NoAnswer".parse(), Ok(CallScript::NoAnswer));
    assert_eq!("unreachable".parse(), Ok(CallScript::Unreachable));
    assert_eq!("congestion".parse(), Ok(CallScript::Congestion));
    let expected = CallScript::Answer {
        ring_secs: 2.5,
        keys: vec![Key::Timeout, Key::Digits("2".into())],
        said: vec![],
        hangup_during: Some(3),
        refuse: Some(2),
        transfer_ok: false,
        bridge_secs: Some(0.5),
        bridged_secs: Some(12.0),
    };
    assert_eq!(
        "answer keys=t,2 hangup=3 transfer=fail ring=2.5 refuse=2 bridge=0.5 bridged=12".parse(),
        Ok(expected)
    );
    for bad in [
        "",
        "ring",
        "busy keys=1",
        "answer keys=x",
        "answer hangup=0",
        "answer refuse=0",
        "answer foo=1",
        "answer keys",
    ] {
        assert!(bad.parse::<CallScript>().is_err(), "{bad}");
    }
    let s = Script::parse_toml(
        "\"+34600000001\" = [\"busy\", \"answer keys=1\"]\n\"0034911\" = \"congestion\"",
    )
    .unwrap();
    assert_eq!(s.for_attempt("0034600000001", 0), Some(&CallScript::Busy));
    assert!(matches!(
        s.for_attempt("+34600000001", 5),
        Some(CallScript::Answer { .. })
    ));
    assert_eq!(s.for_attempt("+34911", 0), Some(&CallScript::Congestion));
    let s = Script::parse_toml(
        "\"+34600\" = \"answer\"\n[agents]\ncount = 2\nbridge = 0.5\ntalk = 20\n",
    )
    .unwrap();
    assert_eq!(
        s.agents,
        Some(crate::simulator::Agents {
            count: 2,
            bridge_secs: 0.5,
            talk_secs: 20.0,
            wait_secs: 30.0
        })
    );
    assert!(Script::parse_toml("[agents]\ncount = 0\n").is_err());
    assert!(Script::parse_toml("[agents]\nseats = 2\n").is_err());
    assert!(Script::parse_toml("\"+34600\" = [\"maybe\"]").is_err());
    assert!(Script::parse_toml("\"+34600\" = 3").is_err());
}

/// A bad script is said in the reader's language, naming the destination and the word.
#[test]
fn script_errors_are_sentences_of_the_catalogue() {
    use crate::i18n::Lang;
    let e = Script::parse_toml("\"+34600\" = [\"answer keys=1,x\"]").unwrap_err();
    assert_eq!(
        Lang::Es.render(&e),
        "+34600: `x` no es una tecla (dígitos, * o #, o t para que se agote el tiempo)"
    );
    assert_eq!(
        Lang::En.render(&e),
        "+34600: `x` is not a key (digits, * or #, or t for a timeout)"
    );
    let e = Script::parse_toml("\"+34600\" = [\"maybe\"]").unwrap_err();
    assert!(Lang::Es
        .render(&e)
        .starts_with("+34600: `maybe` no es un resultado"));
    let e = Script::parse_toml("[agents]\ncount = 0\n").unwrap_err();
    assert_eq!(Lang::En.render(&e), "agents.count must be at least 1");
    let e = Script::parse_toml("\n\"+34600\" = [").unwrap_err();
    assert!(
        Lang::Es.render(&e).starts_with("línea 2: "),
        "{}",
        Lang::Es.render(&e)
    );
}

#[test]
fn random_outcomes_are_deterministic_and_mostly_answered() {
    let dsts: Vec<String> = (0..2000).map(|i| format!("00346{i:08}")).collect();
    let answered = dsts
        .iter()
        .filter(|d| matches!(random_outcome(7, d, 0), CallScript::Answer { .. }))
        .count();
    assert!((1200..1600).contains(&answered), "{answered}");
    assert!(dsts
        .iter()
        .all(|d| random_outcome(7, d, 1) == random_outcome(7, d, 1)));
    assert_eq!(mask("0034600000123"), "**********123");
}

#[test]
fn said_scripts_transcripts_nothing_and_failures() {
    let s: CallScript = "answer said=quiero_información;_\"ya\"_😀|-|!"
        .parse()
        .unwrap();
    let CallScript::Answer { said, .. } = s else {
        panic!("an answer")
    };
    assert_eq!(
        said,
        vec![
            Said::Text("quiero información; \"ya\" 😀".into()),
            Said::Nothing,
            Said::Fail
        ]
    );
}

#[tokio::test]
async fn a_callee_calls_back_on_the_inbound_url_as_netelip_puts_a_caller_through() {
    let (d, sim, _cancel) = setup(false, |c| {
        c.callback_rate = 1.0;
        c.callback_after_secs = 5.0;
        c.script = Script::parse_toml(r#""+34600000001" = ["noanswer"]"#).unwrap();
    })
    .await;
    let reply = launch(&sim.launch_url(), &good("0034600000001", "att-1")).await;
    assert_eq!(reply["response"], "200");
    // The lone NOANSWER end request, then the callback: start, one result, the end.
    assert!(until(|| sim.calls_in_progress() == 0 && d.reqs().len() == 4).await);
    let reqs = d.reqs();
    let inbound: Vec<_> = reqs.iter().filter(|r| r.get("typesrc").is_some()).collect();
    assert_eq!(inbound.len(), 3, "{reqs:?}");
    for r in &inbound {
        assert_eq!(
            (
                r["typesrc"].as_str(),
                r["usersrc"].as_str(),
                r["src"].as_str()
            ),
            ("did", "600000001", "600000001")
        );
        assert_eq!(
            (r["dst"].as_str(), r["userdata"].as_str()),
            ("34910053461", "")
        );
        assert_ne!(r["ID"], reply["ID"].as_str().unwrap());
    }
    assert_eq!(inbound[0]["statuscall"], "ANSWER");
    assert_eq!(inbound[1]["command"], "speak_getdtmf");
    assert_eq!(inbound[1]["dtmf"], "timeout");
    assert_eq!(inbound[2]["statuscall"], "CANCEL");

    // The command line's call: every exchange kept, in order, keys pressed.
    let exchanges = sim
        .call_in(&InboundCall {
            url: sim.inner.cfg.inbound_url.clone().unwrap(),
            from: "+34600000002".into(),
            to: "+34910053461".into(),
            keys: parse_keys("9").unwrap(),
            transfer_ok: true,
        })
        .await;
    assert_eq!(exchanges.len(), 3);
    assert!(exchanges.iter().all(|x| x.reply.is_ok()));
    let text = describe_exchanges(&exchanges);
    assert!(
        text.starts_with("→ start: src=600000002 dst=34910053461 typesrc=did"),
        "{text}"
    );
    assert!(text.contains("→ speak_getdtmf: status=OK dtmf=9"), "{text}");
    assert!(text.contains("← hangup"), "{text}");
}

#[tokio::test]
async fn an_inbound_call_reports_its_did_leg_some_without_an_id() {
    let (d, sim, _cancel) = setup(false, |_| {}).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let exchanges = sim
            .call_in(&InboundCall {
                url: sim.inner.cfg.inbound_url.clone().unwrap(),
                from: format!("+3460000{i:04}"),
                to: "+34910053461".into(),
                keys: Vec::new(),
                transfer_ok: true,
            })
            .await;
        let sent = &exchanges[0].sent;
        ids.push(sent.iter().find(|(k, _)| k == "ID").unwrap().1.clone());
    }
    sim.flush_reports().await;
    let lines: Vec<Value> = d.reports().into_iter().flatten().collect();
    assert_eq!(lines.len(), 12, "{lines:?}");
    for l in &lines {
        // The caller as put through, the number called in national digits, free.
        assert!(l["src"].as_str().unwrap().starts_with("60000"), "{l}");
        assert_eq!(l["dst"], "910053461");
        assert_eq!(l["cost"], 0.0);
        assert_eq!(l["status"], "answer");
    }
    // Which legs lose their ID is a function of the seed and the call id (the share's own
    // spread is checked on `hit`): exactly those, and every other leg keeps its call's ID.
    let seed = sim.inner.cfg.seed;
    let mut kept: Vec<String> = ids
        .iter()
        .filter(|id| !super::call::hit(seed, 4, id, super::call::DID_LEG_WITHOUT_ID))
        .cloned()
        .collect();
    let mut reported: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            l["ID"]
                .as_str()
                .filter(|id| !id.is_empty())
                .map(String::from)
        })
        .collect();
    kept.sort();
    reported.sort();
    assert_eq!(reported, kept);
    assert_eq!(
        lines.iter().filter(|l| l["ID"] == "").count(),
        12 - kept.len()
    );
}

#[test]
fn a_bad_key_of_the_command_line_is_said_in_the_reader_s_language() {
    let e = parse_keys("1,x").unwrap_err();
    assert_eq!(
        crate::i18n::Lang::Es.render(&e),
        "--keys: `x` no es una tecla (dígitos, * o #, o t para que se agote el tiempo)"
    );
    assert_eq!(parse_keys(" 1, t ").unwrap().len(), 2);
}
