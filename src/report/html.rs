//! The HTML report: one self-contained page (inline CSS, inline SVG charts, no script, nothing
//! fetched) that an operator can mail or open offline. Every string from the data is escaped.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::compliance::{self, Compliance};
use super::contacts::ContactTable;
use super::svg::{self, escape, Series};
use super::CampaignReport;
use crate::campaign::Kind;
use crate::store::AttemptFact;

/// Past this many hours of activity, "by hour" becomes "by day".
const MAX_HOURLY_BUCKETS: i64 = 96;

/// The series the charts draw, computed from the report and the attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    pub funnel: Vec<(String, f64)>,
    /// Buckets (local hour or day), attempts and answers in each.
    pub timeline_labels: Vec<String>,
    pub timeline_attempts: Vec<f64>,
    pub timeline_answers: Vec<f64>,
    /// Per hour of day 0..23: answered / attempts (0 where nothing was dialed).
    pub answer_rate_by_hour: Vec<f64>,
    /// Sales only: abandon rate per day.
    pub abandon_by_day: Vec<(String, Option<f64>)>,
    /// Survey questions: key → contacts.
    pub answers: BTreeMap<String, Vec<(String, f64)>>,
}

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl ChartData {
    pub fn compute(report: &CampaignReport, facts: &[AttemptFact], tz: Tz) -> ChartData {
        let called: BTreeSet<i64> = facts.iter().map(|f| f.contact_id).collect();
        let answered: BTreeSet<i64> = facts
            .iter()
            .filter(|f| f.answered_at.is_some())
            .map(|f| f.contact_id)
            .collect();
        let mut funnel = vec![
            ("contacts".to_string(), report.contacts as f64),
            ("called".to_string(), called.len() as f64),
            ("answered".to_string(), answered.len() as f64),
        ];
        let kind = Kind::parse(&report.kind).unwrap_or(Kind::Announcement);
        for outcome in kind.outcomes() {
            let n = report
                .states
                .0
                .iter()
                .find(|(k, _)| k == outcome)
                .map(|(_, v)| *v)
                .unwrap_or(0);
            funnel.push((outcome.to_string(), n as f64));
        }

        let launch = |f: &AttemptFact| at(compliance::launch_time(f)).with_timezone(&tz);
        let (mut labels, mut attempts, mut answers) = (Vec::new(), Vec::new(), Vec::new());
        if let (Some(first), Some(last)) = (
            facts.iter().map(compliance::launch_time).min(),
            facts.iter().map(compliance::launch_time).max(),
        ) {
            let hourly = (last - first) / 3_600_000 < MAX_HOURLY_BUCKETS;
            let key = |t: DateTime<Tz>| {
                if hourly {
                    t.format("%d/%m %H h").to_string()
                } else {
                    t.format("%Y-%m-%d").to_string()
                }
            };
            // Every bucket between the first and the last, empty ones included.
            let step = if hourly { 3_600_000 } else { 86_400_000 };
            let mut t = first;
            let mut index = BTreeMap::new();
            while t <= last + step {
                let k = key(at(t).with_timezone(&tz));
                if !index.contains_key(&k) {
                    index.insert(k.clone(), labels.len());
                    labels.push(k);
                }
                t += step;
            }
            attempts = vec![0.0; labels.len()];
            answers = vec![0.0; labels.len()];
            for f in facts {
                if let Some(&i) = index.get(&key(launch(f))) {
                    attempts[i] += 1.0;
                    if f.answered_at.is_some() {
                        answers[i] += 1.0;
                    }
                }
            }
            // Drop a trailing empty bucket added by the loop's bound.
            while labels.len() > 1 && attempts.last() == Some(&0.0) {
                labels.pop();
                attempts.pop();
                answers.pop();
            }
        }
        let mut per_hour = [(0u32, 0u32); 24];
        for f in facts {
            let h = launch(f).hour() as usize;
            per_hour[h].0 += 1;
            if f.answered_at.is_some() {
                per_hour[h].1 += 1;
            }
        }
        let answer_rate_by_hour = per_hour
            .iter()
            .map(|(n, a)| if *n > 0 { *a as f64 / *n as f64 } else { 0.0 })
            .collect();
        let abandon_by_day = if kind == Kind::Sales {
            compliance::abandon(facts, tz)
                .by_day
                .into_iter()
                .map(|d| (d.day, Some(d.rate)))
                .collect()
        } else {
            Vec::new()
        };
        let answers_by_q = report
            .answers
            .iter()
            .flatten()
            .map(|(q, keys)| {
                (
                    q.clone(),
                    keys.iter().map(|(k, n)| (k.clone(), *n as f64)).collect(),
                )
            })
            .collect();
        ChartData {
            funnel,
            timeline_labels: labels,
            timeline_attempts: attempts,
            timeline_answers: answers,
            answer_rate_by_hour,
            abandon_by_day,
            answers: answers_by_q,
        }
    }
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:980px;color:#222;padding:0 1em}\
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}\
th{background:#f3f3f3}td.n{text-align:right}.muted{color:#666}.ok{color:#276749}.bad{color:#c53030;font-weight:bold}\
svg.chart{display:block;margin:.5em 0;max-width:100%;height:auto}table.contacts{font-size:.85em}";

fn kv_table(rows: &[(String, String)]) -> String {
    let mut s = String::from("<table>");
    for (k, v) in rows {
        s.push_str(&format!(
            "<tr><th>{}</th><td class=\"n\">{}</td></tr>",
            escape(k),
            escape(v)
        ));
    }
    s.push_str("</table>");
    s
}

fn zero_or_bad(n: Option<usize>) -> String {
    match n {
        Some(0) => "<span class=\"ok\">0</span>".into(),
        Some(n) => format!("<span class=\"bad\">{n}</span>"),
        None => "<span class=\"muted\">unknown (campaign folder not loaded)</span>".into(),
    }
}

fn compliance_html(c: &Compliance) -> String {
    let pct = |v: Option<f64>| {
        v.map(|r| format!("{:.2} %", r * 100.0))
            .unwrap_or_else(|| "none".into())
    };
    let mut s = String::from("<h2>Compliance</h2><table>");
    let row =
        |k: &str, v: String| format!("<tr><th>{}</th><td class=\"n\">{v}</td></tr>", escape(k));
    s.push_str(&row("launches", c.launches.to_string()));
    s.push_str(&row(
        "launches outside the callee's calling window",
        zero_or_bad(c.launches_outside_window),
    ));
    s.push_str(&row(
        "abandon rate, last 30 days",
        escape(&pct(c.abandon.rate_30d)),
    ));
    s.push_str(&row(
        "abandon rate, worst 30 days",
        escape(&pct(c.abandon.max_rate_30d)),
    ));
    s.push_str(&row(
        "do-not-call hits prevented (blocked)",
        c.do_not_call_blocked.to_string(),
    ));
    s.push_str(&row("opt-outs", c.opt_outs.count.to_string()));
    s.push_str(&row(
        "opt-outs not on the do-not-call list",
        zero_or_bad(Some(c.opt_outs.not_on_list)),
    ));
    s.push_str(&row(
        "slowest opt-out to the list",
        escape(
            &c.opt_outs
                .max_seconds_to_list
                .map(|v| format!("{v:.3} s"))
                .unwrap_or_else(|| "none".into()),
        ),
    ));
    s.push_str(&row(
        "reminders called after their appointment",
        zero_or_bad(Some(c.reminders_after_appointment)),
    ));
    s.push_str("</table>");
    for o in &c.outside_window {
        s.push_str(&format!(
            "<p class=\"bad\">attempt {} to {} at {} ({})</p>",
            o.attempt_id,
            escape(&o.phone),
            escape(&o.launched_at),
            escape(&o.zones.join(", "))
        ));
    }
    s
}

/// The whole page.
pub fn render(
    report: &CampaignReport,
    data: &ChartData,
    compliance: Option<&Compliance>,
    contacts: Option<&ContactTable>,
    generated: DateTime<Tz>,
) -> String {
    let mut b = String::with_capacity(32 * 1024);
    b.push_str("<!DOCTYPE html><html lang=\"es\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    b.push_str(&format!(
        "<title>{} — pregonero report</title><style>{STYLE}</style></head><body>",
        escape(&report.campaign)
    ));
    b.push_str(&format!(
        "<h1>{}</h1><p class=\"muted\">{} campaign · {} contacts · generated {}</p>",
        escape(&report.campaign),
        escape(&report.kind),
        report.contacts,
        escape(&generated.format("%Y-%m-%d %H:%M %Z").to_string())
    ));
    b.push_str("<h2>Summary</h2>");
    let states: Vec<(String, String)> = report
        .states
        .0
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    let mut attempts: Vec<(String, String)> = report
        .attempts
        .0
        .iter()
        .map(|(k, v)| (format!("attempts {k}"), v.to_string()))
        .collect();
    attempts.push(("talk time (s)".into(), report.talk_seconds.to_string()));
    attempts.push(("cost (€)".into(), format!("{:.4}", report.cost)));
    b.push_str("<div style=\"display:flex;gap:2em;flex-wrap:wrap\">");
    b.push_str(&kv_table(&states));
    b.push_str(&kv_table(&attempts));
    b.push_str("</div>");

    b.push_str("<h2>Outcome funnel</h2>");
    b.push_str(&svg::bars("Outcome funnel", &data.funnel));
    b.push_str("<h2>Attempts and answers over time</h2>");
    b.push_str(&svg::columns(
        "Attempts and answers over time",
        &data.timeline_labels,
        &[
            Series {
                name: "attempts",
                values: data.timeline_attempts.clone(),
            },
            Series {
                name: "answered",
                values: data.timeline_answers.clone(),
            },
        ],
        false,
    ));
    b.push_str("<h2>Answer rate by hour of day</h2>");
    let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    b.push_str(&svg::columns(
        "Answer rate by hour of day",
        &hours,
        &[Series {
            name: "answer rate",
            values: data.answer_rate_by_hour.clone(),
        }],
        true,
    ));
    b.push_str("<h2>Abandon rate (sales)</h2>");
    b.push_str(&svg::rate_line(
        "Abandon rate per day",
        &data.abandon_by_day,
    ));
    if !data.answers.is_empty() {
        b.push_str("<h2>Survey answers</h2>");
        for (q, keys) in &data.answers {
            b.push_str(&format!("<h3>{}</h3>", escape(q)));
            b.push_str(&svg::bars(&format!("Answers to {q}"), keys));
        }
    }
    if let Some(c) = compliance {
        b.push_str(&compliance_html(c));
    }
    if let Some(t) = contacts {
        b.push_str("<h2>Contacts</h2>");
        b.push_str(&t.to_html_table());
    }
    b.push_str("</body></html>\n");
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CampaignStats;

    fn fact(id: i64, contact: i64, at: &str, answered: bool) -> AttemptFact {
        let t = DateTime::parse_from_rfc3339(at).unwrap().timestamp_millis();
        AttemptFact {
            attempt_id: id,
            contact_id: contact,
            phone: "+34914000000".into(),
            timezone: None,
            appointment_at: None,
            vars: "{}".into(),
            created_at: t,
            launched_at: Some(t),
            answered_at: answered.then_some(t + 1000),
            ended_at: Some(t + 2000),
            result: Some(if answered { "answered" } else { "busy" }.into()),
            outcome: None,
        }
    }

    fn report() -> CampaignReport {
        let mut stats = CampaignStats {
            contacts: 3,
            ..Default::default()
        };
        stats.states.insert("completed".into(), 1);
        stats.attempts.insert("answered".into(), 2);
        let mut r = CampaignReport::from_stats("enc<u>esta", Kind::Survey, &stats);
        let mut q = BTreeMap::new();
        q.insert("1".to_string(), 2);
        q.insert("<2>".to_string(), 1);
        r.answers = Some([("q1".to_string(), q)].into_iter().collect());
        r
    }

    #[test]
    fn chart_data_from_attempts() {
        let facts = vec![
            fact(1, 1, "2026-11-25T09:10:00Z", true),
            fact(2, 2, "2026-11-25T09:50:00Z", false),
            fact(3, 2, "2026-11-25T12:05:00Z", true),
        ];
        let d = ChartData::compute(&report(), &facts, chrono_tz::Europe::Madrid);
        assert_eq!(
            &d.funnel[..3],
            &[
                ("contacts".to_string(), 3.0),
                ("called".to_string(), 2.0),
                ("answered".to_string(), 2.0)
            ]
        );
        assert_eq!(d.funnel[3], ("completed".to_string(), 1.0));
        // 10 h, 11 h, 12 h, 13 h local (Madrid is UTC+1 in November).
        assert_eq!(
            d.timeline_labels,
            vec!["25/11 10 h", "25/11 11 h", "25/11 12 h", "25/11 13 h"]
        );
        assert_eq!(d.timeline_attempts, vec![2.0, 0.0, 0.0, 1.0]);
        assert_eq!(d.timeline_answers, vec![1.0, 0.0, 0.0, 1.0]);
        assert_eq!(d.answer_rate_by_hour[10], 0.5);
        assert_eq!(d.answer_rate_by_hour[13], 1.0);
        assert_eq!(d.answer_rate_by_hour[9], 0.0);
        assert!(d.abandon_by_day.is_empty(), "not a sales campaign");
        assert_eq!(d.answers["q1"].len(), 2);
    }

    #[test]
    fn the_page_is_self_contained_and_escaped() {
        let facts = vec![fact(1, 1, "2026-11-25T09:10:00Z", true)];
        let r = report();
        let d = ChartData::compute(&r, &facts, chrono_tz::UTC);
        let page = render(
            &r,
            &d,
            None,
            None,
            Utc::now().with_timezone(&chrono_tz::UTC),
        );
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<h1>enc&lt;u&gt;esta</h1>"));
        assert!(!page.contains("<u>") && !page.contains("<2>"));
        assert!(page.contains("&lt;2&gt;"));
        // Funnel, timeline, rate by hour, abandon (no data), one survey question.
        assert_eq!(page.matches("<svg").count(), 5);
        assert!(page.contains("no data"), "the abandon chart is empty");
        for external in ["<script", "http://", "https://", "<link", "@import", "url("] {
            let allowed = external == "http://"
                && page.matches(external).count()
                    == page.matches("http://www.w3.org/2000/svg").count();
            assert!(
                !page.contains(external) || allowed,
                "{external} in the page"
            );
        }
    }
}
