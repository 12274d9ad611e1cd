//! Drives each kind's flow through sequences of control requests, as the provider sends them.

use super::*;
use crate::campaign::Campaign;
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
    assert_eq!(s.outcome.as_deref(), Some("delivered"));
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
    assert_eq!(s.outcome.as_deref(), Some("delivered"));
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
