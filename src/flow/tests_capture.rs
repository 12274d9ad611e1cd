//! Capture steps and answers by voice, driven request by request as the provider sends them.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::campaign::Campaign;

const ID: i64 = 9;
const KEY: &str = "AIzaTESTKEY";

fn campaign(kind: &str, section: &str, extra: &str) -> Campaign {
    let text =
        format!("kind = \"{kind}\"\ncaller_id = \"+34910000000\"\n{extra}\n[{kind}]\n{section}");
    Campaign::parse("c", Path::new("c"), Path::new("c/campaign.toml"), &text).unwrap()
}

const CAPTURE: &str =
    "[[capture]]\nprompt = \"Díganos, {nombre}, el motivo\"\nfield = \"motivo\"\n";

fn vars() -> BTreeMap<String, String> {
    [("nombre".to_string(), "Ana".to_string())]
        .into_iter()
        .collect()
}

fn req(pairs: &[(&str, &str)]) -> ControlRequest {
    ControlRequest {
        fields: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn start(c: &Campaign) -> Step {
    next_step_with_key(c, ID, &vars(), &req(&[("statuscall", "ANSWER")]), Some(KEY))
}

/// The result of `prev`'s command, with these fields set too.
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
    next_step_with_key(c, ID, &vars(), &req(&fields), Some(KEY))
}

fn heard(c: &Campaign, prev: &Step, text: &str) -> Step {
    assert_eq!(prev.command.command, GOOGLE_VOICE2TEXT);
    after(c, prev, &[(TRANSCRIPT_FIELD, text)])
}

fn got(field: &str, text: Option<&str>) -> Captured {
    Captured {
        field: field.into(),
        text: text.map(str::to_string),
        failed: false,
    }
}

#[test]
fn a_capture_speaks_the_prompt_listens_and_hands_the_transcript_on() {
    let c = campaign("announcement", "message = \"Aviso\"\n", CAPTURE);
    let s = start(&c);
    assert_eq!(s.command.options, "google;es;Aviso");
    let s = after(&c, &s, &[]);
    assert_eq!(
        s.outcome.map(crate::schedule::Outcome::as_str),
        Some("delivered")
    );
    assert_eq!(s.command.command, "speak");
    assert_eq!(s.command.options, "google;es;Díganos, Ana, el motivo");
    assert_eq!(s.command.userfield, "9|cap1|0");
    let s = after(&c, &s, &[]);
    assert_eq!(s.command.command, GOOGLE_VOICE2TEXT);
    assert_eq!(s.command.options, format!("{KEY};es;2;1"));
    let s = heard(&c, &s, "cambiar de tarifa");
    assert_eq!(s.captures, vec![got("motivo", Some("cambiar de tarifa"))]);
    assert_eq!(s.command.command, "hangup");
}

#[test]
fn nothing_heard_retries_the_prompt_once_then_goes_on_recorded() {
    let c = campaign("announcement", "message = \"Aviso\"\n", CAPTURE);
    let s = after(&c, &start(&c), &[]);
    let s = heard(&c, &after(&c, &s, &[]), "  ");
    assert_eq!(s.captures, vec![got("motivo", None)]);
    assert_eq!(s.command.command, "speak", "the prompt again");
    assert_eq!(s.command.userfield, "9|cap1|3");
    let s = after(&c, &s, &[]);
    assert_eq!(s.command.userfield, "9|cap1|4");
    // A failed transcription (statuscode 400) is a result, not a refusal of the command.
    let s = after(&c, &s, &[("statuscode", "400"), ("status", "ERROR")]);
    assert_eq!(
        s.captures,
        vec![Captured {
            failed: true,
            ..got("motivo", None)
        }]
    );
    assert_eq!(s.command.command, "hangup");
}

#[test]
fn confirm_reads_the_text_back_and_repeats_once_on_2() {
    let c = campaign(
        "announcement",
        "message = \"Aviso\"\n",
        &format!("{CAPTURE}confirm = true\n"),
    );
    let s = after(&c, &start(&c), &[]);
    let s = heard(&c, &after(&c, &s, &[]), "calle Mayor; 3");
    assert_eq!(s.captures, vec![got("motivo", Some("calle Mayor; 3"))]);
    assert_eq!(s.command.command, "speak_getdtmf");
    assert!(
        s.command
            .options
            .starts_with("google;es;Ha dicho: calle Mayor, 3. Pulse 1"),
        "{}",
        s.command.options
    );
    let s = after(&c, &s, &[("dtmf", "2")]);
    assert_eq!(s.command.userfield, "9|cap1|3");
    let s = heard(&c, &after(&c, &s, &[]), "calle Menor 3");
    let s = after(&c, &s, &[("dtmf", "1")]);
    assert_eq!(s.command.command, "hangup");
}

#[test]
fn without_a_key_a_capture_is_recorded_as_failed_and_skipped() {
    let c = campaign("announcement", "message = \"Aviso\"\n", CAPTURE);
    let s = next_step(&c, ID, &vars(), &req(&[("statuscall", "ANSWER")]));
    let r = req(&[
        ("command", "speak"),
        ("userfield", &s.command.userfield),
        ("status", "OK"),
        ("statuscode", "200"),
        ("statuscall", "ANSWER"),
    ]);
    let s = next_step(&c, ID, &vars(), &r);
    assert_eq!(s.command.command, "hangup");
    assert!(s.captures[0].failed);
}

const PROMO: &str = "message = \"Oferta. Pulse 1 o dígalo\"\nagent = \"queue:ventas\"\ninterest_words = [\"sí\", \"información\", \"asesor\"]\noptout_words = [\"no me llame\", \"baja\"]\n";

#[test]
fn a_promotion_hears_interest_by_voice_and_captures_before_the_transfer() {
    let c = campaign("promotion", PROMO, CAPTURE);
    let s = after(&c, &start(&c), &[("dtmf", "timeout")]);
    assert_eq!(s.command.command, GOOGLE_VOICE2TEXT, "listens when no key");
    let s = heard(&c, &s, "SI, quiero INFORMACION");
    assert_eq!(
        s.outcome.map(crate::schedule::Outcome::as_str),
        Some("interested")
    );
    assert!(!s.optout);
    assert_eq!(
        s.captures,
        vec![got("respuesta", Some("SI, quiero INFORMACION"))]
    );
    // The capture comes before the transfer's announcement and the transfer.
    assert_eq!(s.command.userfield, "9|cap1|0");
    let s = heard(&c, &after(&c, &s, &[]), "una tarifa de fibra");
    assert_eq!(
        s.command.options,
        "google;es;Le pasamos con una persona. Un momento, por favor."
    );
    let s = after(&c, &s, &[]);
    assert_eq!(s.command.command, "queue");
    // The key path works beside the words.
    let s = after(&c, &start(&c), &[("dtmf", "1")]);
    assert_eq!(
        s.outcome.map(crate::schedule::Outcome::as_str),
        Some("interested")
    );
    assert_eq!(s.command.userfield, "9|cap1|0");
}

#[test]
fn a_promotion_hears_an_opt_out_by_voice_before_any_interest() {
    let c = campaign("promotion", PROMO, "");
    let s = after(&c, &start(&c), &[("dtmf", "timeout")]);
    let s = heard(&c, &s, "No, ¡NO me llame más! Ni información ni nada");
    assert!(s.optout);
    assert_eq!(
        s.outcome.map(crate::schedule::Outcome::as_str),
        Some("opted_out")
    );
    assert_eq!(s.command.userfield, "9|optout|0");
    // Something else twice: not interested, and the call ends.
    let s = after(&c, &start(&c), &[("dtmf", "timeout")]);
    let s = heard(&c, &s, "");
    let s = heard(&c, &s, "");
    assert_eq!(
        s.outcome.map(crate::schedule::Outcome::as_str),
        Some("not_interested")
    );
    assert_eq!(s.command.command, "hangup");
    let s = after(&c, &start(&c), &[("dtmf", "timeout")]);
    let s = heard(&c, &s, "quizá otro día");
    assert_eq!(
        s.outcome.map(crate::schedule::Outcome::as_str),
        Some("not_interested")
    );
    assert_eq!(s.command.command, "hangup");
}

#[test]
fn sales_captures_between_its_message_and_the_transfer() {
    let c = campaign("sales", "message = \"Hola\"\nqueue = \"ventas\"\n", CAPTURE);
    let s = after(&c, &start(&c), &[]);
    assert_eq!(s.command.userfield, "9|cap1|0");
    let s = heard(&c, &after(&c, &s, &[]), "quiero fibra");
    assert_eq!(s.command.command, "queue");
}

/// Without a message the transfer is the first step: the capture comes before it all the same.
#[test]
fn sales_without_a_message_captures_before_the_transfer() {
    let c = campaign("sales", "queue = \"ventas\"\n", CAPTURE);
    let s = start(&c);
    assert_eq!(s.command.userfield, "9|cap1|0");
    let s = heard(&c, &after(&c, &s, &[]), "quiero fibra");
    assert_eq!(s.command.command, "queue");
}

#[test]
fn captures_may_run_at_the_start() {
    let c = campaign(
        "reminder",
        "message = \"Su cita. Pulse 1 o 2\"\n",
        &format!("{CAPTURE}at = \"start\"\n"),
    );
    let s = start(&c);
    assert_eq!(s.command.userfield, "9|cap1|0");
    let s = heard(&c, &after(&c, &s, &[]), "hola");
    assert_eq!(s.command.userfield, "9|menu|0");
}

#[test]
fn awkward_transcripts_reach_no_command_unescaped() {
    let long = "palabra; ".repeat(1200);
    let c = campaign(
        "announcement",
        "message = \"Aviso\"\n",
        &format!("{CAPTURE}confirm = true\n"),
    );
    for text in [
        "uno; dos; tres",
        "dijo \"sí\" y 'no'",
        "😀👍🏽 ñ\nsalto\r\tde línea",
        long.as_str(),
    ] {
        let s = after(&c, &start(&c), &[]);
        let s = heard(&c, &after(&c, &s, &[]), text);
        let stored = s.captures[0].text.clone().unwrap();
        assert_eq!(stored, text.trim(), "stored as said");
        assert_eq!(s.command.command, "speak_getdtmf");
        assert_eq!(
            s.command.options.matches(';').count(),
            4,
            "exactly the command's own separators: {}",
            s.command.options
        );
        assert!(!s.command.options.contains('\n'));
        assert!(s.command.options.chars().count() < 400);
        assert!(!s.command.options.contains(KEY));
    }
    // Longer than the store keeps: cut at a character boundary.
    let huge = "ñ".repeat(MAX_TRANSCRIPT_BYTES);
    let s = after(&c, &start(&c), &[]);
    let s = heard(&c, &after(&c, &s, &[]), &huge);
    let kept = s.captures[0].text.clone().unwrap();
    assert!(kept.len() <= MAX_TRANSCRIPT_BYTES && kept.chars().all(|ch| ch == 'ñ'));
}

// ---- property: whatever is said or pressed, every reply is one well-formed command ----

/// How many `;`-separated fields each command's options have (apivoice.md section 2).
fn fields_ok(cmd: &Command) -> bool {
    let n = cmd.options.split(';').count();
    match cmd.command.as_str() {
        "speak" => n == 3 || n == 4,
        "speak_getdtmf" => n == 5 || n == 6,
        GOOGLE_VOICE2TEXT => n == 4 && cmd.options.starts_with(&format!("{KEY};")),
        "queue" | "dial" => !cmd.options.contains(';'),
        "hangup" => cmd.options.is_empty(),
        _ => false,
    }
}

fn campaigns() -> Vec<Campaign> {
    let confirm = format!(
        "{CAPTURE}confirm = true\n[[capture]]\nprompt = \"Hora\"\nfield = \"hora\"\nat = \"end\"\n"
    );
    vec![
        campaign("promotion", PROMO, &confirm),
        campaign(
            "announcement",
            "message = \"Aviso\"\nrepeat_key = \"1\"\n",
            &confirm,
        ),
        campaign(
            "reminder",
            "message = \"Cita. Pulse 1 o 2 o 0\"\nagent_key = \"0\"\nagent = \"queue:a\"\n",
            &confirm,
        ),
        campaign(
            "sales",
            "message = \"Hola\"\nqueue = \"ventas\"\n",
            &confirm,
        ),
        campaign(
            "survey",
            "[[survey.questions]]\ntext = \"Nota\"\nkeys = \"1-5\"\n",
            &confirm,
        ),
    ]
}

#[derive(Debug, Clone)]
enum Input {
    Key(String),
    Said(String),
    Failed,
    Refused,
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        prop::sample::select(vec!["1", "2", "0", "9", "5", "*", "timeout", ""])
            .prop_map(|k| Input::Key(k.to_string())),
        prop_oneof![
            Just("sí quiero información".to_string()),
            Just("no me llame; baja".to_string()),
            Just(String::new()),
            ".{0,80}",
            "[;|\"'\\n😀 a-z]{0,40}",
        ]
        .prop_map(Input::Said),
        Just(Input::Failed),
        Just(Input::Refused),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn no_transcript_or_key_makes_a_malformed_command(
        which in 0usize..5,
        inputs in prop::collection::vec(input(), 0..40),
    ) {
        let c = &campaigns()[which];
        let mut s = start(c);
        let mut steps = 0;
        for i in inputs.iter().cycle().take(200) {
            prop_assert!(fields_ok(&s.command), "malformed: {:?}", s.command);
            prop_assert!(s.command.userfield.len() <= 100);
            prop_assert!(
                s.command.command == GOOGLE_VOICE2TEXT || !s.command.options.contains(KEY),
                "the key only in google_voice2text: {:?}", s.command
            );
            if s.command.command == "hangup" {
                break;
            }
            steps += 1;
            s = match i {
                Input::Key(k) => after(c, &s, &[("dtmf", k)]),
                Input::Said(t) => after(c, &s, &[(TRANSCRIPT_FIELD, t)]),
                Input::Failed => after(c, &s, &[("statuscode", "400"), ("status", "ERROR")]),
                Input::Refused => after(c, &s, &[("statuscode", "401"), (TRANSCRIPT_FIELD, "Command not found")]),
            };
        }
        // Every call ends: no input loops the flow.
        prop_assert!(inputs.is_empty() || s.command.command == "hangup" || steps < 200,
            "still going after {steps} steps: {:?}", s.command);
        prop_assert!(steps < 60, "{steps} steps");
    }
}
