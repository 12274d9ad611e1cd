//! Drives each kind's flow through sequences of control requests, as the provider sends them.

use super::*;
use crate::campaign::{Campaign, TransferTarget};
use std::path::Path;

fn campaign(extra: &str) -> Campaign {
    let text = format!(
        "kind = \"announcement\"\ncaller_id = \"+34910000000\"\n[announcement]\nmessage = \"Hola {{nombre}}; asamblea el lunes\"\n{extra}"
    );
    Campaign::parse("a", Path::new("a"), Path::new("a/campaign.toml"), &text).unwrap()
}

fn req(pairs: &[(&str, &str)]) -> ControlRequest {
    ControlRequest {
        fields: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn vars() -> BTreeMap<String, String> {
    [("nombre".to_string(), "Ana".to_string())]
        .into_iter()
        .collect()
}

#[test]
fn a_request_with_no_api_and_no_command_context_is_bare() {
    assert!(req(&[("ID", "1.1"), ("statuscall", "ANSWER")]).is_bare());
    assert!(req(&[]).is_bare());
    assert!(!req(&[("api", "API sim"), ("statuscall", "ANSWER")]).is_bare());
    assert!(!req(&[("command", "dial")]).is_bare());
    assert!(!req(&[("userfield", "1|msg|0")]).is_bare());
}

#[test]
fn requests_are_classified_as_the_spec_says() {
    assert_eq!(req(&[("statuscall", "ANSWER")]).kind(), RequestKind::Start);
    assert_eq!(req(&[]).kind(), RequestKind::Start);
    assert_eq!(
        req(&[("command", "speak"), ("userfield", "1|msg|0")]).kind(),
        RequestKind::Result
    );
    assert_eq!(
        req(&[("statuscode", "401"), ("description", "Command not found")]).kind(),
        RequestKind::Error
    );
    assert_eq!(
        req(&[("statuscall", "CANCEL"), ("command", "speak")]).kind(),
        RequestKind::End
    );
    assert_eq!(req(&[("statuscall", "BUSY")]).kind(), RequestKind::End);
}

#[test]
fn announcement_speaks_then_hangs_up_and_is_delivered_only_after_the_message() {
    let c = campaign("");
    let s = next_step(&c, 42, &vars(), &req(&[("statuscall", "ANSWER")]));
    assert_eq!(s.command.command, "speak");
    assert_eq!(s.command.options, "google;es;Hola Ana, asamblea el lunes");
    assert_eq!(s.command.userfield, "42|msg|0");
    assert_eq!(s.outcome, None);
    let r = req(&[
        ("command", "speak"),
        ("userfield", "42|msg|0"),
        ("status", "OK"),
        ("statuscode", "200"),
    ]);
    let s = next_step(&c, 42, &vars(), &r);
    assert_eq!(s.command.command, "hangup");
    assert_eq!(
        s.outcome.map(crate::schedule::Outcome::as_str),
        Some("delivered")
    );
}

#[test]
fn repeat_key_replays_a_bounded_number_of_times() {
    let c = campaign("repeat_key = \"1\"\n");
    let s = next_step(&c, 7, &vars(), &req(&[]));
    assert_eq!(s.command.command, "speak_getdtmf");
    assert!(
        s.command.options.ends_with(";5000;1"),
        "{}",
        s.command.options
    );
    let mut uf = s.command.userfield;
    for _ in 0..MAX_REPLAYS {
        let s = next_step(
            &c,
            7,
            &vars(),
            &req(&[
                ("command", "speak_getdtmf"),
                ("userfield", &uf),
                ("status", "OK"),
                ("dtmf", "1"),
            ]),
        );
        assert_eq!(s.command.command, "speak_getdtmf");
        uf = s.command.userfield;
    }
    let s = next_step(
        &c,
        7,
        &vars(),
        &req(&[
            ("command", "speak_getdtmf"),
            ("userfield", &uf),
            ("status", "OK"),
            ("dtmf", "1"),
        ]),
    );
    assert_eq!(s.command.command, "hangup");
    assert_eq!(
        s.outcome.map(crate::schedule::Outcome::as_str),
        Some("delivered")
    );
}

#[test]
fn errors_and_garbage_get_hangup() {
    let c = campaign("");
    let s = next_step(
        &c,
        1,
        &vars(),
        &req(&[
            ("statuscode", "401"),
            ("description", "Command not found"),
            ("command", "x"),
        ]),
    );
    assert_eq!(s.command, Command::hangup("error"));
    let s = next_step(
        &c,
        1,
        &vars(),
        &req(&[("command", "speak"), ("userfield", "garbage")]),
    );
    assert_eq!(s.command.command, "hangup");
}

#[test]
fn spoken_text_has_no_separators() {
    assert_eq!(spoken("a;b\nc  d"), "a,b c d");
}

// ---- every kind, driven request by request ----

const ID: i64 = 5;

fn kind(kind: &str, section: &str) -> Campaign {
    let text = format!("kind = \"{kind}\"\ncaller_id = \"+34910000000\"\n[{kind}]\n{section}");
    Campaign::parse("c", Path::new("c"), Path::new("c/campaign.toml"), &text).unwrap()
}

fn contact() -> BTreeMap<String, String> {
    [("nombre", "Ana"), ("cita", "2026-11-24 10:30")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn start(c: &Campaign) -> Step {
    next_step(c, ID, &contact(), &req(&[("statuscall", "ANSWER")]))
}

/// The result of `prev`'s command, with these extra fields (e.g. `dtmf`).
fn after(c: &Campaign, prev: &Step, extra: &[(&str, &str)]) -> Step {
    let mut fields = vec![
        ("command", prev.command.command.as_str()),
        ("options", prev.command.options.as_str()),
        ("userfield", prev.command.userfield.as_str()),
        ("status", "OK"),
        ("statuscode", "200"),
        ("statuscall", "ANSWER"),
    ];
    for (k, v) in extra {
        fields.retain(|(f, _)| f != k);
        fields.push((k, v));
    }
    next_step(c, ID, &contact(), &req(&fields))
}

fn key(c: &Campaign, prev: &Step, dtmf: &str) -> Step {
    after(c, prev, &[("dtmf", dtmf)])
}

fn assert_cmd(s: &Step, command: &str, userfield: &str, outcome: Option<&str>) {
    assert_eq!(s.command.command, command, "{s:?}");
    assert_eq!(s.command.userfield, userfield, "{s:?}");
    assert_eq!(
        s.outcome.map(crate::schedule::Outcome::as_str),
        outcome,
        "{s:?}"
    );
}

const REMINDER: &str = "message = \"Hola {nombre}, le recordamos su cita del {cita}. Pulse 1 para confirmar o 2 para cancelar.\"\ncall_before = \"24h\"\n";
const PROMPT: &str = "Hola Ana, le recordamos su cita del martes 24 de noviembre a las diez y media de la mañana. Pulse 1 para confirmar o 2 para cancelar.";

#[test]
fn reminder_confirms_with_the_appointment_in_words() {
    let c = kind("reminder", REMINDER);
    let s = start(&c);
    assert_cmd(&s, "speak_getdtmf", "5|menu|0", None);
    assert_eq!(s.command.options, format!("google;es;{PROMPT};5000;1"));
    let s = key(&c, &s, "1");
    assert_cmd(&s, "speak", "5|ok|0", Some("confirmed"));
    assert_eq!(
        s.command.options,
        "google;es;Gracias, su cita queda confirmada. Hasta pronto."
    );
    let s = after(&c, &s, &[]);
    assert_cmd(&s, "hangup", "5|bye|0", None);
    assert_eq!(s.command.options, "");
}

#[test]
fn reminder_cancels() {
    let c = kind(
        "reminder",
        &format!("{REMINDER}cancelled_message = \"Anulada; adiós {{nombre}}\"\n"),
    );
    let s = key(&c, &start(&c), "2");
    assert_cmd(&s, "speak", "5|cancel|0", Some("cancelled"));
    assert_eq!(s.command.options, "google;es;Anulada, adiós Ana");
    assert_cmd(&after(&c, &s, &[]), "hangup", "5|bye|0", None);
}

#[test]
fn reminder_repeats_on_timeout_then_gives_up_as_no_response() {
    let c = kind("reminder", REMINDER);
    let s = start(&c);
    let s = key(&c, &s, "timeout");
    assert_cmd(&s, "speak_getdtmf", "5|menu|1", None);
    assert_eq!(s.command.options, format!("google;es;{PROMPT};5000;1"));
    let s = key(&c, &s, "timeout");
    assert_cmd(&s, "speak_getdtmf", "5|menu|2", None);
    let s = key(&c, &s, "timeout");
    assert_cmd(&s, "hangup", "5|bye|0", Some("no_response"));
}

#[test]
fn reminder_wrong_key_says_so_and_counts_as_a_prompt() {
    let c = kind("reminder", &format!("{REMINDER}max_prompts = 2\n"));
    let s = key(&c, &start(&c), "7");
    assert_cmd(&s, "speak_getdtmf", "5|menu|1", None);
    assert_eq!(
        s.command.options,
        format!("google;es;La opción no es válida. {PROMPT};5000;1")
    );
    // The second wrong key spends the last prompt.
    assert_cmd(&key(&c, &s, "7"), "hangup", "5|bye|0", Some("no_response"));
    // A right key after a wrong one still counts.
    assert_cmd(&key(&c, &s, "1"), "speak", "5|ok|0", Some("confirmed"));
}

#[test]
fn reminder_transfers_to_an_agent_only_connected_counts() {
    let c = kind(
        "reminder",
        &format!("{REMINDER}agent_key = \"0\"\nagent = \"extension:200\"\n"),
    );
    let s = key(&c, &start(&c), "0");
    assert_cmd(&s, "speak", "5|agent|0", None);
    assert_eq!(
        s.command.options,
        "google;es;Le pasamos con una persona. Un momento, por favor."
    );
    let s = after(&c, &s, &[]);
    assert_cmd(&s, "dial", "5|xfer|0", None);
    assert_eq!(s.command.options, "extension,200,30");
    assert_eq!(
        s.transfer,
        Some(TransferTarget::Extension("200".to_string()))
    );
    let answered = after(&c, &s, &[("description", "ANSWER")]);
    assert_cmd(&answered, "hangup", "5|bye|0", Some("transferred"));
    assert_eq!(answered.transfer_result, Some(true));
    let missed = after(
        &c,
        &s,
        &[("description", "NOANSWER"), ("status", "NOANSWER")],
    );
    assert_cmd(&missed, "hangup", "5|bye|0", Some("no_response"));
    assert_eq!(missed.transfer_result, Some(false));
    // Only the transfer's own result is one.
    assert_eq!(s.transfer_result, None);
}

#[test]
fn transfers_to_outside_numbers_dial_the_00_form() {
    let c = kind(
        "reminder",
        &format!("{REMINDER}agent_key = \"#\"\nagent = \"pstn:+34 910 000 001\"\n"),
    );
    let s = after(&c, &key(&c, &start(&c), "#"), &[]);
    assert_cmd(&s, "dial", "5|xfer|0", None);
    assert_eq!(s.command.options, "pstn,0034910000001,30");
    let s = after(&c, &s, &[("status", "ANSWER")]);
    assert_eq!(
        s.outcome.map(crate::schedule::Outcome::as_str),
        Some("transferred")
    );
}

#[test]
fn reminder_without_a_known_appointment_speaks_the_column_as_is() {
    let c = kind("reminder", REMINDER);
    let mut vars = contact();
    vars.insert("cita".into(), "mañana".into());
    let s = next_step(&c, ID, &vars, &req(&[]));
    assert!(
        s.command.options.contains("su cita del mañana."),
        "{}",
        s.command.options
    );
    // An `appointment_at` variable wins over the CSV column.
    vars.insert(APPOINTMENT_AT.into(), "2026-11-25 09:00".into());
    let s = next_step(&c, ID, &vars, &req(&[]));
    assert!(
        s.command
            .options
            .contains("su cita del miércoles 25 de noviembre a las nueve de la mañana."),
        "{}",
        s.command.options
    );
}

const PROMOTION: &str =
    "message = \"{nombre}, oferta. Pulse 1 si le interesa o 9 para no recibir más llamadas.\"\nagent = \"queue:ventas\"\n";

#[test]
fn promotion_interest_transfers_and_falls_back_to_interested() {
    let c = kind("promotion", PROMOTION);
    let s = start(&c);
    assert_cmd(&s, "speak_getdtmf", "5|menu|0", None);
    let s = key(&c, &s, "1");
    assert_cmd(&s, "speak", "5|agent|0", Some("interested"));
    assert!(!s.optout);
    let s = after(&c, &s, &[]);
    assert_cmd(&s, "queue", "5|xfer|0", None);
    assert_eq!(s.command.options, "ventas,1");
    assert_eq!(s.transfer, Some(TransferTarget::Queue("ventas".into())));
    assert_cmd(
        &after(&c, &s, &[("description", "ANSWER")]),
        "hangup",
        "5|bye|0",
        Some("transferred"),
    );
    assert_cmd(
        &after(&c, &s, &[("description", "NOANSWER")]),
        "hangup",
        "5|bye|0",
        Some("interested"),
    );
}

#[test]
fn promotion_opt_out_is_flagged_on_the_step() {
    let c = kind("promotion", PROMOTION);
    let s = key(&c, &start(&c), "9");
    assert_cmd(&s, "speak", "5|optout|0", Some("opted_out"));
    assert!(s.optout);
    assert_eq!(
        s.command.options,
        "google;es;Hemos anotado que no desea recibir más llamadas. Disculpe las molestias."
    );
    let s = after(&c, &s, &[]);
    assert_cmd(&s, "hangup", "5|bye|0", None);
    assert!(!s.optout);
}

#[test]
fn promotion_silence_or_wrong_keys_end_not_interested() {
    let c = kind("promotion", PROMOTION);
    let mut s = start(&c);
    for n in 1..3 {
        s = key(&c, &s, "timeout");
        assert_cmd(&s, "speak_getdtmf", &format!("5|menu|{n}"), None);
    }
    assert_cmd(
        &key(&c, &s, "timeout"),
        "hangup",
        "5|bye|0",
        Some("not_interested"),
    );
    let mut s = start(&c);
    for _ in 1..3 {
        s = key(&c, &s, "5");
    }
    assert!(s.command.options.contains("La opción no es válida."));
    assert_cmd(
        &key(&c, &s, "5"),
        "hangup",
        "5|bye|0",
        Some("not_interested"),
    );
}

const SURVEY: &str =
    "intro = \"Hola {nombre}, tres segundos de su tiempo.\"\noutro = \"Gracias.\"\n\
[[survey.questions]]\ntext = \"Del 1 al 5, ¿cómo nos valora?\"\nkeys = \"1-5\"\n\
[[survey.questions]]\nid = \"vuelve\"\ntext = \"¿Volvería? 1 sí, 2 no.\"\nkeys = \"1,2\"\n";

#[test]
fn survey_reports_each_answer_partial_then_completed() {
    let c = kind("survey", SURVEY);
    let s = start(&c);
    assert_cmd(&s, "speak", "5|intro|0", None);
    assert_eq!(
        s.command.options,
        "google;es;Hola Ana, tres segundos de su tiempo."
    );
    let s = after(&c, &s, &[]);
    assert_cmd(&s, "speak_getdtmf", "5|q1|0", None);
    assert_eq!(
        s.command.options,
        "google;es;Del 1 al 5, ¿cómo nos valora?;5000;1"
    );
    // 6 is not an answer: the question is asked again, nothing reported.
    let s = key(&c, &s, "6");
    assert_cmd(&s, "speak_getdtmf", "5|q1|1", None);
    assert!(s.answers.is_empty());
    assert!(s
        .command
        .options
        .starts_with("google;es;La opción no es válida. Del 1"));
    let s = key(&c, &s, "4");
    assert_cmd(&s, "speak_getdtmf", "5|q2|0", Some("partial"));
    assert_eq!(s.answers, vec![("q1".to_string(), "4".to_string())]);
    let s = key(&c, &s, "timeout");
    assert_cmd(&s, "speak_getdtmf", "5|q2|1", None);
    let s = key(&c, &s, "2");
    assert_cmd(&s, "speak", "5|outro|0", Some("completed"));
    assert_eq!(s.answers, vec![("vuelve".to_string(), "2".to_string())]);
    let s = after(&c, &s, &[]);
    assert_cmd(&s, "hangup", "5|bye|0", None);
    assert!(s.answers.is_empty());
}

/// The prompt count travels in `userfield` and comes back from the provider: a request with
/// `u32::MAX` there (garbled or forged) overflowed `n + 1` and panicked the handler. It ends
/// the menu as spent prompts do.
#[test]
fn survey_prompt_count_of_u32_max_ends_the_question_without_overflow() {
    let c = kind("survey", SURVEY);
    let mut prev = after(&c, &start(&c), &[]);
    assert_cmd(&prev, "speak_getdtmf", "5|q1|0", None);
    prev.command.userfield = format!("5|q1|{}", u32::MAX);
    for dtmf in ["timeout", "7"] {
        let s = key(&c, &prev, dtmf);
        assert_cmd(&s, "hangup", "5|bye|0", None);
        assert!(s.answers.is_empty());
    }
    // A valid answer still counts, whatever the count says.
    let s = key(&c, &prev, "3");
    assert_cmd(&s, "speak_getdtmf", "5|q2|0", Some("partial"));
    // Every other menu replays through the same code.
    let reminder = kind("reminder", REMINDER);
    let mut prev = start(&reminder);
    prev.command.userfield = format!("5|menu|{}", u32::MAX);
    assert_cmd(
        &key(&reminder, &prev, "timeout"),
        "hangup",
        "5|bye|0",
        Some("no_response"),
    );
}

/// Found by fuzzing: `durationcallanswered = 733333333333333333333333333` was read as
/// `i64::MAX` seconds (an `f64` saturating into `i64`), stored as the talk time and summed.
#[test]
fn durations_that_are_not_a_call_are_unknown() {
    let d = |v: &str| req(&[("durationcall", v)]).seconds("durationcall");
    assert_eq!(d("31"), Some(31));
    assert_eq!(d(" 30.6 "), Some(31));
    assert_eq!(d(&MAX_CALL_SECONDS.to_string()), Some(MAX_CALL_SECONDS));
    for garbled in [
        "733333333333333333333333333",
        "1e30",
        "inf",
        "NaN",
        "-1",
        "",
        "x",
    ] {
        assert_eq!(d(garbled), None, "{garbled}");
    }
}

#[test]
fn survey_without_intro_starts_with_the_first_question_and_stops_when_prompts_run_out() {
    let c = kind(
        "survey",
        "max_prompts = 2\n[[survey.questions]]\ntext = \"¿Nota?\"\n",
    );
    let s = start(&c);
    assert_cmd(&s, "speak_getdtmf", "5|q1|0", None);
    let s = key(&c, &s, "timeout");
    assert_cmd(&s, "speak_getdtmf", "5|q1|1", None);
    // No answer given: no outcome (the attempt ends `partial` only if one was).
    assert_cmd(&key(&c, &s, "timeout"), "hangup", "5|bye|0", None);
    // Keys default to 0-9, and the only question is also the last.
    let s = key(&c, &start(&c), "0");
    assert_cmd(&s, "speak", "5|outro|0", Some("completed"));
    assert_eq!(
        s.command.options,
        "google;es;Gracias por responder. Hasta pronto."
    );
}

#[test]
fn sales_is_abandoned_until_an_agent_takes_the_call() {
    let c = kind(
        "sales",
        "message = \"Le atiende un asesor.\"\nqueue = \"ventas\"\n",
    );
    let s = start(&c);
    assert_cmd(&s, "speak", "5|msg|0", Some("abandoned"));
    let s = after(&c, &s, &[]);
    assert_cmd(&s, "queue", "5|xfer|0", None);
    assert_eq!(s.command.options, "ventas,1");
    assert_cmd(
        &after(&c, &s, &[("status", "ANSWER")]),
        "hangup",
        "5|bye|0",
        Some("connected"),
    );
    assert_cmd(
        &after(&c, &s, &[("status", "NOANSWER"), ("description", "BUSY")]),
        "hangup",
        "5|bye|0",
        Some("abandoned"),
    );
}

#[test]
fn sales_without_a_message_transfers_at_once() {
    let c = kind("sales", "agent = \"pstn:+34600111222\"\n");
    let s = start(&c);
    assert_cmd(&s, "dial", "5|xfer|0", Some("abandoned"));
    // The agent's phone rings for `agent_ring_seconds` (20 by default): neither the legal
    // abandon threshold (2 s) nor the campaign's 30 s for the callee.
    assert_eq!(s.command.options, "pstn,0034600111222,20");
    assert_eq!(
        s.transfer_outcome.map(crate::schedule::Outcome::as_str),
        Some("connected")
    );
    let c = kind(
        "sales",
        "agent = \"extension:200\"\nagent_ring_seconds = 25\nabandon_after_seconds = 3\n",
    );
    assert_eq!(start(&c).command.options, "extension,200,25");
    assert_eq!(
        s.transfer,
        Some(TransferTarget::Pstn("+34600111222".into()))
    );
}

#[test]
fn errors_foreign_state_and_call_ends_hang_up() {
    let c = kind("reminder", REMINDER);
    let s = start(&c);
    let err = after(
        &c,
        &s,
        &[("statuscode", "401"), ("description", "Command not found")],
    );
    assert_eq!(err, Step::hangup("error"));
    // Another attempt's userfield, an unknown step, a garbled one: hang up, no outcome.
    for uf in ["6|menu|0", "5|nope|0", "5", "|||", "5|menu|x"] {
        let mut prev = s.clone();
        prev.command.userfield = uf.to_string();
        let r = key(&c, &prev, "1");
        if uf == "5|menu|x" {
            // An unreadable count is taken as the first prompt.
            assert_cmd(&r, "speak", "5|ok|0", Some("confirmed"));
        } else {
            assert_cmd(&r, "hangup", "5|bye|0", None);
        }
    }
    let end = after(&c, &s, &[("statuscall", "CANCEL")]);
    assert_eq!(end.command.command, "hangup");
    assert_eq!(end.outcome, None);
}

/// Walks every path of every kind a few steps deep with awkward inputs and checks what must
/// hold for each reply: one known command, options well formed, a short userfield.
#[test]
fn every_reply_of_every_kind_is_well_formed() {
    let campaigns = [
        kind(
            "reminder",
            &format!("{REMINDER}agent_key = \"0\"\nagent = \"pstn:+34910000001\"\n"),
        ),
        kind(
            "announcement",
            "message = \"Hola; {nombre}\"\nrepeat_key = \"*\"\n",
        ),
        kind("announcement", "message = \"Hola {nombre}\"\n"),
        kind("promotion", PROMOTION),
        kind("survey", SURVEY),
        kind("sales", "message = \"m\"\nagent = \"extension:12\"\n"),
    ];
    let inputs: &[&[(&str, &str)]] = &[
        &[("dtmf", "1")],
        &[("dtmf", "2")],
        &[("dtmf", "0")],
        &[("dtmf", "9")],
        &[("dtmf", "*")],
        &[("dtmf", "timeout")],
        &[("dtmf", "17")],
        &[("dtmf", "")],
        &[("description", "ANSWER")],
        &[("status", "NOANSWER"), ("statuscode", "")],
    ];
    let mut vars = contact();
    vars.insert("nombre".into(), "Ana; \"la jefa\"\n, Pérez|x".into());
    for c in &campaigns {
        // The flow is a function of the request and the userfield, so replies with equal
        // command and userfield lead to the same places: visit each once.
        let mut seen = std::collections::BTreeSet::new();
        let mut frontier = vec![next_step(c, ID, &vars, &req(&[]))];
        for _depth in 0..12 {
            let mut next = vec![];
            for s in &frontier {
                check_reply(s);
                let new = seen.insert((s.command.command.clone(), s.command.userfield.clone()));
                if s.command.command == "hangup" || !new {
                    continue;
                }
                for extra in inputs {
                    let mut fields = vec![
                        ("command", s.command.command.as_str()),
                        ("userfield", s.command.userfield.as_str()),
                        ("status", "OK"),
                    ];
                    fields.extend_from_slice(extra);
                    next.push(next_step(c, ID, &vars, &req(&fields)));
                }
            }
            frontier = next;
        }
        assert!(
            frontier.iter().all(|s| s.command.command == "hangup"),
            "{:?}: some call never ends",
            c.kind
        );
    }
}

fn check_reply(s: &Step) {
    let c = &s.command;
    assert!(c.userfield.len() < 100, "{c:?}");
    assert_eq!(c.userfield.matches('|').count(), 2, "{c:?}");
    let fields = c.options.split(';').count();
    match c.command.as_str() {
        "speak" => assert_eq!(fields, 3, "{c:?}"),
        "speak_getdtmf" => assert_eq!(fields, 5, "{c:?}"),
        "dial" => assert_eq!(c.options.split(',').count(), 3, "{c:?}"),
        "queue" => assert_eq!(c.options.split(',').count(), 2, "{c:?}"),
        "hangup" => assert_eq!(c.options, "", "{c:?}"),
        other => panic!("unexpected command {other}"),
    }
    assert!(!c.options.contains('\n'), "{c:?}");
}

/// The `speak` result proves the message was heard with its status, or, under the default
/// `status_or_up`, without one while the call is still up; a failed status never does.
#[test]
fn an_announcement_is_delivered_by_a_result_that_proves_it_was_heard() {
    use crate::config::SpeakResults::{Status, StatusOrUp};
    let c = kind("announcement", "message = \"Hola {nombre}\"\n");
    let s = start(&c);
    let adapted = |extra: &[(&str, &str)], rule| {
        let mut fields = vec![
            ("command", "speak"),
            ("options", s.command.options.as_str()),
            ("userfield", s.command.userfield.as_str()),
        ];
        fields.extend_from_slice(extra);
        let adapter = Adapter {
            speak_results: rule,
            ..Adapter::default()
        };
        next_step_adapted(&c, ID, &contact(), &req(&fields), None, adapter).outcome
    };
    let delivered = crate::schedule::Outcome::parse("delivered");
    for rule in [StatusOrUp, Status] {
        assert_eq!(adapted(&[("status", "OK")], rule), delivered);
        assert_eq!(adapted(&[("statuscode", "200")], rule), delivered);
        assert_eq!(
            adapted(&[("status", "ERROR"), ("statuscode", "400")], rule),
            None
        );
    }
    assert_eq!(adapted(&[("statuscall", "ANSWER")], StatusOrUp), delivered);
    assert_eq!(adapted(&[], StatusOrUp), delivered);
    assert_eq!(adapted(&[("statuscall", "ANSWER")], Status), None);
}

/// A queue's result that proves nothing (a bare `OK`) keeps the outcome of a transfer nobody
/// took and tells the pacing nothing; a failure word proves nobody took it.
#[test]
fn a_bare_queue_result_proves_nothing() {
    let c = kind("sales", "queue = \"ventas\"\n");
    let s = start(&c);
    assert_eq!(s.command.command, "queue");
    assert_eq!(
        s.transfer_outcome.map(crate::schedule::Outcome::as_str),
        Some("connected")
    );
    let bare = after(&c, &s, &[]);
    assert_cmd(&bare, "hangup", "5|bye|0", Some("abandoned"));
    assert_eq!(bare.transfer_result, None);
    let timeout = after(&c, &s, &[("description", "TIMEOUT")]);
    assert_eq!(timeout.transfer_result, Some(false));
    let answer = after(&c, &s, &[("description", "ANSWER")]);
    assert_cmd(&answer, "hangup", "5|bye|0", Some("connected"));
    assert_eq!(answer.transfer_result, Some(true));
}

#[test]
fn queue_options_follow_the_configured_form() {
    use crate::config::QueueOptions;
    let c = kind("sales", "queue = \"ventas\"\n");
    let first = req(&[("statuscall", "ANSWER")]);
    for (form, options) in [
        (QueueOptions::Comma, "ventas,1"),
        (QueueOptions::Semicolon, "ventas;1"),
        (QueueOptions::Name, "ventas"),
    ] {
        let adapter = Adapter {
            queue_options: form,
            ..Adapter::default()
        };
        let s = next_step_adapted(&c, ID, &contact(), &first, None, adapter);
        assert_eq!(s.command.options, options, "{form:?}");
    }
}
