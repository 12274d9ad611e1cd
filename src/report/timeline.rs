//! `report CAMPAIGN --contact PHONE`: everything that happened to one contact, in order — each
//! attempt (claim, launch, answer, end, result, outcome, keys, talk time, cost), every control
//! request the provider sent for it (statuses, keys pressed, transfers) and every call-report
//! line matched to it.

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;

use crate::i18n::Lang;
use serde::Serialize;

use crate::store::{AttemptRow, ContactDetail, EventRow, ReportLineRow};

fn iso(ms: i64, tz: Tz) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .with_timezone(&tz)
        .to_rfc3339()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    pub at: String,
    /// `start`, `result`, `error`, `end`…
    pub kind: String,
    pub command: Option<String>,
    pub statuscall: Option<String>,
    pub dtmf: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Line {
    pub received_at: String,
    pub startdate: String,
    pub status: String,
    pub duration_seconds: i64,
    pub cost: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Attempt {
    pub number: i64,
    pub claimed_at: String,
    pub ended_at: Option<String>,
    pub status: String,
    pub provider_call_id: Option<String>,
    pub result: Option<String>,
    pub outcome: Option<String>,
    pub dtmf: Option<String>,
    pub talk_seconds: Option<i64>,
    pub cost: Option<f64>,
    pub error: Option<String>,
    /// A transfer was asked for during this call (the flow answered with `transfer`).
    pub transferred: bool,
    pub events: Vec<Event>,
    pub report_lines: Vec<Line>,
    /// What the desk agent recorded after this call (`crate::desk`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disposition: Option<serde_json::Value>,
    /// ms, to place inbound calls among the attempts.
    #[serde(skip)]
    pub claimed_ms: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Timeline {
    pub campaign: String,
    pub phone: String,
    pub name: String,
    pub state: String,
    pub attempts: Vec<Attempt>,
    pub talk_seconds: i64,
    pub cost: f64,
    /// What the contact said at the capture steps (`[[capture]]`), by field.
    pub captures: Vec<Said>,
    /// The contact's calls to us (callbacks), oldest first.
    pub inbound: Vec<Inbound>,
}

/// One inbound call of the contact.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Inbound {
    pub at: String,
    pub caller: String,
    pub did: String,
    /// `agent`, `menu`, `greeting`.
    pub route: String,
    /// `to_agent`, `opted_out`, `confirmed`, `cancelled`, `no_agent`, or none.
    pub outcome: Option<String>,
    pub ended_at: Option<String>,
    pub duration_seconds: Option<i64>,
    /// ms, to place it among the attempts.
    #[serde(skip)]
    pub received_ms: i64,
}

/// One transcript of the contact.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Said {
    pub field: String,
    /// `ok`, `empty` (nothing understood) or `failed`.
    pub status: String,
    pub text: String,
    pub at: String,
}

impl Inbound {
    /// The timeline's line for an inbound call.
    fn line(&self, lang: Lang) -> String {
        let mut line = lang.fill(
            "timeline.inbound",
            &[
                ("at", &self.at),
                ("caller", &self.caller),
                ("did", &self.did),
                ("route", &word(lang, "route", &self.route)),
            ],
        );
        if let Some(o) = &self.outcome {
            line.push_str(&format!(" → {}", lang.label(o)));
        }
        if let Some(d) = self.duration_seconds {
            line.push_str(&format!(", {d} s"));
        }
        format!("  {line}\n")
    }
}

/// An identifier of a family (`report_status` for a call report's `answer`, `busy`…;
/// `timeline.kind` for a request's kind; `route` for an inbound call's route) in the reader's
/// words; one the catalogue does not know, as it came.
fn word(lang: Lang, family: &str, id: &str) -> String {
    let key = format!("{family}.{id}");
    if crate::i18n::has(&key) {
        lang.text(&key).to_string()
    } else {
        id.to_string()
    }
}

impl Timeline {
    /// Adds the contact's inbound calls.
    pub fn with_inbound(mut self, rows: &[crate::store::InboundCall], tz: Tz) -> Timeline {
        self.inbound = rows
            .iter()
            .map(|r| Inbound {
                at: iso(r.received_at, tz),
                caller: r.caller.clone(),
                did: r.did.clone(),
                route: r.route.clone(),
                outcome: r.outcome.clone(),
                ended_at: r.ended_at.map(|m| iso(m, tz)),
                duration_seconds: r.duration_seconds,
                received_ms: r.received_at,
            })
            .collect();
        self
    }

    /// Adds the contact's transcripts.
    pub fn with_captures(mut self, rows: &[crate::store::CaptureRow], tz: Tz) -> Timeline {
        self.captures = rows
            .iter()
            .map(|r| Said {
                field: r.field.clone(),
                status: r.status.clone(),
                text: r.text.clone(),
                at: iso(r.captured_at, tz),
            })
            .collect();
        self
    }

    pub fn build(
        contact: &ContactDetail,
        attempts: &[AttemptRow],
        events: &[EventRow],
        lines: &[ReportLineRow],
        tz: Tz,
    ) -> Timeline {
        let attempts: Vec<Attempt> = attempts
            .iter()
            .map(|a| {
                let evs: Vec<Event> = events
                    .iter()
                    .filter(|e| e.attempt_id == a.attempt_id)
                    .map(|e| Event {
                        at: iso(e.received_at, tz),
                        kind: e.kind.clone(),
                        command: e.command.clone(),
                        statuscall: e.statuscall.clone(),
                        dtmf: e.dtmf.clone(),
                    })
                    .collect();
                Attempt {
                    number: a.number,
                    claimed_at: iso(a.created_at, tz),
                    ended_at: a.ended_at.map(|m| iso(m, tz)),
                    status: a.status.clone(),
                    provider_call_id: a.provider_call_id.clone(),
                    result: a.result.clone(),
                    outcome: a.outcome.clone(),
                    dtmf: a.dtmf.clone(),
                    talk_seconds: a.talk_seconds,
                    cost: a.cost,
                    error: a.error.clone(),
                    transferred: a.outcome.as_deref() == Some("transferred"),
                    events: evs,
                    report_lines: lines
                        .iter()
                        .filter(|l| l.attempt_id == a.attempt_id)
                        .map(|l| Line {
                            received_at: iso(l.received_at, tz),
                            startdate: l.startdate.clone(),
                            status: l.status.clone(),
                            duration_seconds: l.duration_seconds,
                            cost: l.cost,
                        })
                        .collect(),
                    disposition: None,
                    claimed_ms: a.created_at,
                }
            })
            .collect();
        Timeline {
            campaign: contact.campaign_id.clone(),
            phone: contact.phone.clone(),
            name: contact.name.clone(),
            state: contact.state.clone(),
            talk_seconds: attempts.iter().filter_map(|a| a.talk_seconds).sum(),
            cost: (attempts.iter().filter_map(|a| a.cost).sum::<f64>() * 10_000.0).round()
                / 10_000.0,
            attempts,
            captures: vec![],
            inbound: vec![],
        }
    }

    /// For a terminal, in the reader's language (times as stored, to the millisecond, with
    /// their offset).
    pub fn to_table(&self, lang: Lang) -> String {
        let name = if self.name.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.name)
        };
        let mut out = lang.fill(
            "timeline.heading",
            &[
                ("phone", &self.phone),
                ("name", &name),
                ("campaign", &self.campaign),
                ("state", &lang.label(&self.state)),
            ],
        );
        out.push('\n');
        if self.attempts.is_empty() {
            out.push_str(&format!("  {}\n", lang.text("timeline.never_called")));
        }
        let mut inbound = self.inbound.iter().peekable();
        for a in &self.attempts {
            while let Some(i) = inbound.next_if(|i| i.received_ms < a.claimed_ms) {
                out.push_str(&i.line(lang));
            }
            let mut line = lang.fill(
                "timeline.attempt",
                &[("number", &a.number), ("at", &a.claimed_at)],
            );
            if let Some(c) = &a.provider_call_id {
                line.push_str(&lang.fill("timeline.call", &[("call", c)]));
            }
            line.push_str(&format!(
                ": {}",
                lang.label(a.result.as_deref().unwrap_or(&a.status))
            ));
            if let Some(o) = &a.outcome {
                line.push_str(&format!(" → {}", lang.label(o)));
            }
            if let Some(e) = &a.error {
                line.push_str(&format!(" ({e})"));
            }
            out.push_str(&format!("  {line}\n"));
            for e in &a.events {
                let mut line = format!("{} {}", e.at, word(lang, "timeline.kind", &e.kind));
                if let Some(s) = &e.statuscall {
                    line.push_str(&format!(" {} {s}", lang.text("timeline.status")));
                }
                if let Some(d) = &e.dtmf {
                    line.push_str(&format!(" {} {d}", lang.text("timeline.keys")));
                }
                if let Some(c) = &e.command {
                    line.push_str(&format!(" {} {c}", lang.text("timeline.command")));
                }
                out.push_str(&format!("    {line}\n"));
            }
            for l in &a.report_lines {
                let line = lang.fill(
                    "timeline.report_line",
                    &[
                        ("at", &l.received_at),
                        ("status", &word(lang, "report_status", &l.status)),
                        ("seconds", &l.duration_seconds),
                        ("cost", &lang.decimal(l.cost, 4)),
                        ("start", &l.startdate),
                    ],
                );
                out.push_str(&format!("    {line}\n"));
            }
            if let Some(d) = &a.disposition {
                out.push_str(&crate::report::agents::timeline_line(d, lang));
            }
            if let Some(end) = &a.ended_at {
                let mut line = lang.fill("timeline.ended", &[("at", end)]);
                if let Some(d) = &a.dtmf {
                    line.push_str(&format!(", {} {d}", lang.text("timeline.keys")));
                }
                if a.transferred {
                    line.push_str(&format!(", {}", lang.label("transferred")));
                }
                if let Some(t) = a.talk_seconds {
                    line.push_str(&format!(", {} {t} s", lang.text("timeline.talk")));
                }
                if let Some(c) = a.cost {
                    line.push_str(&format!(", {} €", lang.decimal(c, 4)));
                }
                out.push_str(&format!("    {line}\n"));
            }
        }
        for i in inbound {
            out.push_str(&i.line(lang));
        }
        for c in &self.captures {
            let said = match c.status.as_str() {
                "ok" => format!("\"{}\"", crate::flow::spoken(&c.text)),
                "failed" => lang.text("timeline.said_failed").to_string(),
                _ => lang.text("timeline.said_nothing").to_string(),
            };
            let line = lang.fill(
                "timeline.said",
                &[("field", &c.field), ("at", &c.at), ("said", &said)],
            );
            out.push_str(&format!("  {line}\n"));
        }
        let total = lang.fill(
            "timeline.total",
            &[
                ("talk", &self.talk_seconds),
                ("cost", &lang.decimal(self.cost, 4)),
            ],
        );
        out.push_str(&format!("  {total}\n"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_and_lines_sit_under_their_attempt() {
        let contact = ContactDetail {
            contact_id: 1,
            campaign_id: "p".into(),
            phone: "+34600000001".into(),
            name: "Ana".into(),
            state: "transferred".into(),
            attempts: 2,
            next_at: 0,
            last_result: Some("answered".into()),
            timezone: None,
            appointment_at: None,
            vars: "{}".into(),
            note: None,
        };
        let attempt = |id: i64, result: &str, outcome: Option<&str>| AttemptRow {
            attempt_id: id,
            number: id,
            status: "closed".into(),
            result: Some(result.into()),
            outcome: outcome.map(str::to_string),
            dtmf: outcome.map(|_| "1".to_string()),
            provider_call_id: Some(format!("{id}.1")),
            created_at: id * 1000,
            ended_at: Some(id * 1000 + 500),
            talk_seconds: Some(if outcome.is_some() { 12 } else { 0 }),
            cost: Some(0.01),
            error: None,
        };
        let events = vec![EventRow {
            attempt_id: 2,
            kind: "result".into(),
            command: Some("transfer".into()),
            dtmf: Some("1".into()),
            statuscall: Some("ANSWER".into()),
            received_at: 2100,
        }];
        let lines = vec![ReportLineRow {
            attempt_id: 2,
            status: "answer".into(),
            startdate: "2026-11-23 10:00:00".into(),
            duration_seconds: 12,
            cost: 0.01,
            received_at: 3000,
        }];
        let t = Timeline::build(
            &contact,
            &[
                attempt(1, "busy", None),
                attempt(2, "answered", Some("transferred")),
            ],
            &events,
            &lines,
            chrono_tz::UTC,
        );
        assert!(t.attempts[0].events.is_empty());
        assert_eq!(t.attempts[1].events.len(), 1);
        assert_eq!(t.attempts[1].report_lines.len(), 1);
        assert!(t.attempts[1].transferred);
        assert_eq!(t.talk_seconds, 12);
        assert!((t.cost - 0.02).abs() < 1e-9);
        let text = t.to_table(Lang::En);
        assert!(text.contains("attempt #2"), "{text}");
        assert!(text.contains("keys 1 command transfer"), "{text}");
        assert!(text.contains("report line: answer 12 s"), "{text}");
        let j = serde_json::to_value(&t).unwrap();
        assert_eq!(j["attempts"][1]["events"][0]["dtmf"], "1");

        // A callback between the two attempts sits between them.
        let inbound = crate::store::InboundCall {
            id: 9,
            provider_call_id: Some("in.9".into()),
            caller: "+34600000001".into(),
            did: "+34910000000".into(),
            campaign_id: Some("p".into()),
            contact_id: Some(1),
            route: "menu".into(),
            outcome: Some("no_agent".into()),
            received_at: 1500,
            ended_at: Some(1600),
            duration_seconds: Some(30),
            talk_seconds: Some(25),
        };
        let t = t.with_inbound(&[inbound], chrono_tz::UTC);
        let text = t.to_table(Lang::En);
        let (first, call, second) = (
            text.find("attempt #1").unwrap(),
            text.find("inbound call").unwrap(),
            text.find("attempt #2").unwrap(),
        );
        assert!(first < call && call < second, "{text}");
        assert!(
            text.contains("from +34600000001 to +34910000000: menu → no agent, 30 s"),
            "{text}"
        );
        // In Spanish, the default: words and labels, the identifiers' values as they are.
        let text = t.to_table(Lang::Es);
        assert!(text.contains("intento nº 2 reservado"), "{text}");
        assert!(text.contains("teclas 1 orden transfer"), "{text}");
        assert!(
            text.contains("llamada entrante") && text.contains(": menú → sin agente, 30 s"),
            "{text}"
        );
        assert!(
            text.contains("total hablado 12 s, coste 0,0200 €"),
            "{text}"
        );
        let j = serde_json::to_value(&t).unwrap();
        assert_eq!(j["inbound"][0]["route"], "menu");
        assert!(j["inbound"][0].get("received_ms").is_none());
    }
}
