//! What the fuzz targets run, shared with the stable replay test (`tests/api/fuzz_corpus.rs`):
//! each function takes the fuzzer's bytes, drives the daemon's own decoding code with them and
//! panics when an invariant does not hold. The targets in `fuzz/fuzz_targets/` are one line
//! each; this file uses only pregonero's public API, std and tokio, so both can include it.
//!
//! Input shapes (docs/fuzzing.md):
//! - `csv_reader`: the bytes are a CSV file;
//! - `control_request`: byte 0 picks the campaign (`>> 1`) and the body encoding (bit 0:
//!   multipart, else urlencoded); the rest is `QUERY\nBODY` (no `\n`: all body);
//! - `report`: byte 0 `% 3` picks what the rest is: 0 the `calls` JSON itself, 1 an urlencoded
//!   body, 2 a multipart body.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::Request;
use pregonero::campaign::csv::{self, ContactReader, ParsedFile};
use pregonero::campaign::{phone, Campaign, FlowSettings};
use pregonero::flow::{self, ControlRequest, FlowState, RequestKind, Step};

/// The boundary of every multipart body the targets build.
pub const BOUNDARY: &str = "pregonero-fuzz";

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
    .block_on(f)
}

/// A POST as the provider sends it: `query` in the URL when it is a valid one.
fn post(query: &[u8], multipart: bool, body: &[u8]) -> Request {
    let content_type = if multipart {
        format!("multipart/form-data; boundary={BOUNDARY}")
    } else {
        "application/x-www-form-urlencoded".to_string()
    };
    let build = |uri: &str| {
        Request::builder()
            .method("POST")
            .uri(uri)
            .header("content-type", content_type.as_str())
            .body(Body::from(body.to_vec()))
    };
    let with_query = std::str::from_utf8(query)
        .ok()
        .filter(|q| !q.is_empty())
        .and_then(|q| build(&format!("/apivoice/control/s?{q}")).ok());
    match with_query {
        Some(r) => r,
        None => build("/apivoice/control/s").expect("a plain request"),
    }
}

// ---------------------------------------------------------------------------------------------
// csv_reader

/// Reads `data` as a dropped CSV file, in one go and streamed in small batches, and checks what
/// `src/campaign/csv.rs` guarantees.
pub fn csv_reader(data: &[u8]) {
    let region = phone::region("ES");
    let parsed = match csv::parse_bytes("fuzz.csv", data, region) {
        Ok(p) => p,
        Err(message) => {
            assert!(!message.trim().is_empty(), "an error without a message");
            // Streaming fails too (perhaps after some batches).
            assert!(
                stream(data, 3).is_err(),
                "streaming read a file parse_bytes refused"
            );
            return;
        }
    };
    check_layout(data, &parsed);
    let rows = parsed.contacts.len() + parsed.rejected.len() + parsed.duplicates.len();
    assert_eq!(
        parsed.rows_read, rows as u64,
        "rows read != imported + rejected + duplicates"
    );

    // The first pass's line count is an upper bound of the rows and of every line number.
    let reader = ContactReader::from_bytes("fuzz.csv", data, region).expect("opened once already");
    let lines = reader.expected_rows();
    assert!(
        parsed.rows_read <= lines,
        "{} rows read, but expected_rows (an upper bound) is {lines}",
        parsed.rows_read
    );
    let header = parsed.layout.header_line;
    assert!(
        header >= 1 && header <= lines,
        "header line {header} of {lines}"
    );

    let mut phones = HashSet::new();
    for c in &parsed.contacts {
        check_contact(&parsed, c);
        assert!(phones.insert(c.phone.clone()), "{} imported twice", c.phone);
    }
    for r in &parsed.rejected {
        for lang in [pregonero::i18n::Lang::Es, pregonero::i18n::Lang::En] {
            let said = lang.render(&r.reason.msg());
            assert!(
                !said.trim().is_empty() && pregonero::i18n::has(&r.reason.msg().key),
                "line {}: rejected without a reason ({})",
                r.line,
                r.reason.id()
            );
        }
        assert!(
            r.line > header && r.line <= lines,
            "rejected row at line {} (header {header}, {lines} lines)",
            r.line
        );
    }
    for d in &parsed.duplicates {
        assert!(
            d.first_line > header && d.first_line < d.line && d.line <= lines,
            "duplicate {d:?} (header {header}, {lines} lines)"
        );
    }

    // Streaming in batches of any size gives the same rows and counts.
    for batch in [1, 2, 7] {
        let streamed = stream(data, batch).expect("parse_bytes read it whole");
        assert_eq!(streamed.rows_read, parsed.rows_read, "batch size {batch}");
        assert_eq!(streamed.contacts, parsed.contacts, "batch size {batch}");
        assert_eq!(streamed.rejected, parsed.rejected, "batch size {batch}");
        assert_eq!(streamed.duplicates, parsed.duplicates, "batch size {batch}");
    }
}

fn check_layout(data: &[u8], p: &ParsedFile) {
    let l = &p.layout;
    assert!(
        matches!(l.delimiter, b';' | b',' | b'\t'),
        "delimiter {}",
        l.delimiter
    );
    let utf16 = data.starts_with(&[0xFF, 0xFE]) || data.starts_with(&[0xFE, 0xFF]);
    let expected = match (utf16, std::str::from_utf8(data).is_ok()) {
        (true, _) => None,
        (false, true) => Some("UTF-8"),
        (false, false) => Some("windows-1252"),
    };
    if let Some(e) = expected {
        assert_eq!(l.encoding, e, "encoding");
    } else {
        assert!(l.encoding.starts_with("UTF-16"), "encoding {}", l.encoding);
    }
    assert_eq!(l.keys.len(), l.headers.len());
    let unique: BTreeSet<&String> = l.keys.iter().collect();
    assert_eq!(
        unique.len(),
        l.keys.len(),
        "template names not unique: {:?}",
        l.keys
    );
    for k in &l.keys {
        assert!(!k.is_empty(), "an empty template name");
        assert_eq!(
            &csv::normalize_header(k),
            k,
            "template name {k:?} is not normalised"
        );
    }
}

fn check_contact(p: &ParsedFile, c: &csv::NewContact) {
    let digits = c.phone.strip_prefix('+').unwrap_or("");
    assert!(
        (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()),
        "not E.164: {:?}",
        c.phone
    );
    let vars: BTreeMap<String, String> = serde_json::from_str(&c.vars_json)
        .unwrap_or_else(|e| panic!("vars_json {:?} is not a JSON object: {e}", c.vars_json));
    let keys: BTreeSet<&String> = vars.keys().collect();
    let expected: BTreeSet<&String> = p.layout.keys.iter().collect();
    assert_eq!(keys, expected, "vars_json keys");
    assert_eq!(c.name, c.name.trim(), "name not trimmed");
}

/// The whole file through `ContactReader::next_batch(batch)`, as the importer reads it.
fn stream(data: &[u8], batch: usize) -> Result<ParsedFile, String> {
    let mut reader = ContactReader::from_bytes("fuzz.csv", data, phone::region("ES"))
        .map_err(|e| e.to_string())?;
    let mut all = csv::Batch::default();
    while let Some(b) = reader.next_batch(batch).map_err(|e| e.to_string())? {
        assert!(
            b.contacts.len() + b.rejected.len() + b.duplicates.len() <= batch.max(1),
            "a batch larger than asked"
        );
        all.contacts.extend(b.contacts);
        all.rejected.extend(b.rejected);
        all.duplicates.extend(b.duplicates);
    }
    let s = reader.summary();
    assert_eq!(
        (s.contacts, s.rejected, s.duplicates),
        (
            all.contacts.len() as u64,
            all.rejected.len() as u64,
            all.duplicates.len() as u64
        ),
        "summary counts != rows handed out"
    );
    assert_eq!(s.rows_read, s.contacts + s.rejected + s.duplicates);
    Ok(ParsedFile {
        name: s.name,
        hash: s.hash,
        layout: s.layout,
        rows_read: s.rows_read,
        contacts: all.contacts,
        rejected: all.rejected,
        duplicates: all.duplicates,
    })
}

// ---------------------------------------------------------------------------------------------
// control_request

/// The attempt of a request without a readable `userdata` (the store would find it by call id).
pub const ATTEMPT: i64 = 5;

const KINDS: &[&str] = &[
    "kind = \"reminder\"\n[reminder]\nmessage = \"Hola {nombre}; su cita del {cita}. Pulse 1, 2 o 3.\"\ncall_before = \"24h\"\nagent_key = \"3\"\nagent = \"pstn:+34910000001\"\n",
    "kind = \"announcement\"\n[announcement]\nmessage = \"Hola {nombre}, asamblea el lunes. Pulse 1 para repetir.\"\nrepeat_key = \"1\"\n",
    "kind = \"announcement\"\n[announcement]\nmessage = \"Hola; {nombre}\"\n",
    "kind = \"promotion\"\n[promotion]\nmessage = \"Hola {nombre}, pulse 1 para un asesor o 9 para no recibir más llamadas.\"\nagent = \"queue:ventas\"\n",
    "kind = \"survey\"\n[survey]\nintro = \"Hola {nombre}, dos preguntas.\"\noutro = \"Gracias.\"\n[[survey.questions]]\ntext = \"Del 1 al 5, ¿cómo nos valora?\"\nkeys = \"1-5\"\n[[survey.questions]]\nid = \"vuelve\"\ntext = \"¿Volvería? 1 sí, 2 no.\"\nkeys = \"1,2\"\nmax_prompts = 2\n",
    "kind = \"sales\"\n[sales]\nmessage = \"Le atiende un asesor.\"\nqueue = \"ventas\"\n",
    "kind = \"sales\"\n[sales]\nagent = \"extension:200\"\nagents = 2\nabandon_after_seconds = 2\n",
];

/// One campaign of each kind (two announcements and two sales), as `campaign.toml` files.
pub fn campaigns() -> &'static [Campaign] {
    static CAMPAIGNS: OnceLock<Vec<Campaign>> = OnceLock::new();
    CAMPAIGNS.get_or_init(|| {
        KINDS
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let text = format!("caller_id = \"+34910000000\"\n{text}");
                let id = format!("c{i}");
                Campaign::parse(&id, Path::new(&id), Path::new("campaign.toml"), &text)
                    .unwrap_or_else(|e| panic!("campaign {i}: {e}"))
            })
            .collect()
    })
}

/// The contact every call is for (the CSV columns the templates use).
fn contact() -> BTreeMap<String, String> {
    [
        ("nombre", "Ana; \"la jefa\"\n, Pérez|x"),
        ("telefono", "+34600000000"),
        ("cita", "2026-03-15 09:30"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Decodes `data` as a control request (`webhook::control_request`, the daemon's own) and
/// answers it with the chosen campaign's flow (`flow::next_step`, as `handle_control` does).
pub fn control_request(data: &[u8]) {
    let Some((&select, rest)) = data.split_first() else {
        return;
    };
    let campaigns = campaigns();
    let campaign = &campaigns[usize::from(select >> 1) % campaigns.len()];
    let (query, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&[][..], rest),
    };
    let request = post(query, select & 1 == 1, body);
    let Ok(req) = block_on(pregonero::webhook::control_request(request)) else {
        return;
    };
    check_request(&req);
    let attempt = req.attempt_id().unwrap_or(ATTEMPT);
    let step = flow::next_step(campaign, attempt, &contact(), &req);
    check_step(campaign, attempt, &req, &step);
}

fn check_request(req: &ControlRequest) {
    if let Some(id) = req.attempt_id() {
        assert!(id >= 0, "attempt id {id}");
    }
    for key in ["durationcall", "durationcallanswered"] {
        if let Some(s) = req.seconds(key) {
            assert!(
                (0..=flow::MAX_CALL_SECONDS).contains(&s),
                "{key} = {:?} read as {s} seconds",
                req.get(key)
            );
        }
    }
    if let Some(d) = req.dtmf() {
        assert!(!d.is_empty() && !d.eq_ignore_ascii_case("timeout"));
    }
}

fn check_step(campaign: &Campaign, attempt: i64, req: &ControlRequest, s: &Step) {
    match req.kind() {
        RequestKind::End => return assert_eq!(*s, Step::hangup("end")),
        RequestKind::Error => return assert_eq!(*s, Step::hangup("error")),
        RequestKind::Start | RequestKind::Result => {}
    }
    let c = &s.command;
    assert!(c.userfield.len() < 100, "{c:?}");
    let state = FlowState::parse(&c.userfield).unwrap_or_else(|| panic!("userfield of {c:?}"));
    assert_eq!(state.attempt_id, attempt, "{c:?}");
    assert_eq!(c.userfield.matches('|').count(), 2, "{c:?}");
    assert!(
        !c.options.contains('\n') && !c.options.contains('\r'),
        "{c:?}"
    );
    let fields = c.options.split(';').count();
    match c.command.as_str() {
        "speak" => assert_eq!(fields, 3, "{c:?}"),
        "speak_getdtmf" => assert_eq!(fields, 5, "{c:?}"),
        "dial" => assert_eq!(c.options.split(',').count(), 3, "{c:?}"),
        "queue" => assert_eq!(c.options.split(',').count(), 2, "{c:?}"),
        "hangup" => assert_eq!(c.options, "", "{c:?}"),
        other => panic!("unexpected command {other}"),
    }
    assert_eq!(
        s.transfer.is_some(),
        matches!(c.command.as_str(), "dial" | "queue"),
        "{s:?}"
    );
    let survey = matches!(campaign.flow, FlowSettings::Survey(_));
    assert!(s.answers.len() <= usize::from(survey), "{s:?}");
    for (question, key) in &s.answers {
        assert!(!question.is_empty(), "{s:?}");
        assert_eq!(Some(key.as_str()), req.dtmf().as_deref(), "{s:?}");
    }
    assert!(
        !s.optout || matches!(campaign.flow, FlowSettings::Promotion(_)),
        "{s:?}"
    );
    if let Some(outcome) = &s.outcome {
        let allowed: &[&str] = match campaign.flow {
            FlowSettings::Reminder(_) => &["confirmed", "cancelled", "transferred", "no_response"],
            FlowSettings::Announcement(_) => &["delivered"],
            FlowSettings::Promotion(_) => {
                &["transferred", "interested", "opted_out", "not_interested"]
            }
            FlowSettings::Survey(_) => &["completed", "partial"],
            FlowSettings::Sales(_) => &["connected", "abandoned"],
        };
        assert!(allowed.contains(&outcome.as_str()), "{s:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// report

/// Decodes `data` as a report batch (`webhook::report_lines`, the daemon's own, or
/// `webhook::parse_report` on the `calls` JSON) and checks every line.
pub fn report(data: &[u8]) {
    let Some((&select, rest)) = data.split_first() else {
        return;
    };
    let lines = match select % 3 {
        0 => pregonero::webhook::parse_report(&String::from_utf8_lossy(rest)),
        mode => block_on(pregonero::webhook::report_lines(post(b"", mode == 2, rest))),
    };
    let Ok(lines) = lines else {
        return;
    };
    for l in &lines {
        // A leg without an ID is kept with an empty call id (matched to no attempt).
        assert_eq!(l.provider_call_id, l.provider_call_id.trim(), "{l:?}");
        assert_eq!(l.status, l.status.to_ascii_lowercase(), "{l:?}");
        assert!(
            (0..=flow::MAX_CALL_SECONDS).contains(&l.duration_seconds),
            "{l:?}"
        );
        // Finite and at most `webhook::MAX_LINE_COST`, a million euros.
        assert!((0.0..=1e6).contains(&l.cost), "{l:?}");
        assert!(
            serde_json::from_str::<serde_json::Value>(&l.raw).is_ok(),
            "{l:?}"
        );
    }
}
