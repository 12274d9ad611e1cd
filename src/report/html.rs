//! The HTML report: one self-contained page (inline CSS, inline SVG charts, no script, nothing
//! fetched) that an operator can mail or open offline. Every string from the data is escaped.
//!
//! The page is headed by the campaign's title, speaks the `[ui] language`, writes every date
//! one way (`4 dic 2026`, `4 dic 2026 10:30`), keeps a wide contact table inside a box of its
//! own (it scrolls; it never widens the page) and prints cleanly (a print stylesheet).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::compliance::{self, Compliance};
use super::contacts::ContactTable;
use super::svg::{self, escape, Series};
use super::CampaignReport;
use crate::campaign::Kind;
use crate::i18n::Lang;
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
    /// Per hour of day 0..23: answered / attempts (`None` where nothing was dialed).
    pub answer_rate_by_hour: Vec<Option<f64>>,
    /// Sales only: the rolling 30-day abandon rate (what the limit applies to) at each day.
    pub abandon_by_day: Vec<(String, Option<f64>)>,
    /// Survey questions: key → contacts.
    pub answers: BTreeMap<String, Vec<(String, f64)>>,
}

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// An ISO day ("2026-11-25") as people write it ("25 nov 2026").
fn day_label(iso: &str, lang: Lang) -> String {
    chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .map(|d| lang.date(&d))
        .unwrap_or_else(|_| iso.to_string())
}

/// An RFC 3339 instant ("2026-11-25T10:30:00+01:00") as people write it ("25 nov 2026 10:30").
fn instant_label(rfc3339: &str, lang: Lang) -> String {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| lang.datetime(&t))
        .unwrap_or_else(|_| rfc3339.to_string())
}

impl ChartData {
    pub fn compute(
        report: &CampaignReport,
        facts: &[AttemptFact],
        tz: Tz,
        lang: Lang,
    ) -> ChartData {
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
                .find(|(k, _)| k == outcome.as_str())
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
                    let day = lang.date(&t);
                    // "25 nov 10 h": the year is in the report's heading.
                    let day = day.rsplit_once(' ').map_or(day.as_str(), |(d, _)| d);
                    format!("{day} {:02} h", t.hour())
                } else {
                    lang.date(&t)
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
            .map(|(n, a)| (*n > 0).then(|| *a as f64 / *n as f64))
            .collect();
        let abandon_by_day = if kind == Kind::Sales {
            compliance::abandon(facts, tz)
                .by_day
                .into_iter()
                .map(|d| (day_label(&d.day, lang), Some(d.rate_30d)))
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
svg.chart{display:block;margin:.5em 0;max-width:100%;height:auto}\
.scroll{max-width:100%;overflow-x:auto;border:1px solid #eee}table.contacts{font-size:.85em;margin:0}\
table.contacts td{max-width:18em;overflow-wrap:anywhere}p.breach{color:#c53030;font-weight:bold}\
@media print{@page{size:A4;margin:12mm}body{max-width:none;margin:0;padding:0;font-size:10pt}\
h2{break-after:avoid}svg.chart,table{break-inside:avoid}svg.chart{width:100%}\
.scroll{overflow:visible;border:0}table.contacts{font-size:7pt;width:100%;table-layout:fixed}\
table.contacts tr{break-inside:avoid}table.contacts td,table.contacts th{padding:.1em .25em;overflow-wrap:anywhere}}";

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

fn zero_or_bad(n: Option<usize>, lang: Lang) -> String {
    match n {
        Some(0) => "<span class=\"ok\">0</span>".into(),
        Some(n) => format!(
            "<span class=\"bad\">{n} ← {}</span>",
            escape(lang.text("compliance.breach"))
        ),
        None => format!(
            "<span class=\"muted\">{}</span>",
            escape(lang.text("compliance.unknown"))
        ),
    }
}

fn compliance_html(c: &Compliance, lang: Lang) -> String {
    let t = |k: &str| lang.text(k).to_string();
    let pct = |v: Option<f64>| {
        let text = v
            .map(|r| lang.percent(r))
            .unwrap_or_else(|| t("compliance.none"));
        match (v, c.abandon.limit) {
            (Some(r), Some(l)) if r > l => format!(
                "<span class=\"bad\">{} ← {}</span>",
                escape(&text),
                escape(&t("compliance.breach"))
            ),
            _ => escape(&text),
        }
    };
    let mut s = format!("<h2>{}</h2>", escape(&t("html.compliance")));
    if c.breached() {
        let names: Vec<String> = c
            .breaches
            .iter()
            .map(|b| t(&format!("breach.{b}")))
            .collect();
        s.push_str(&format!(
            "<p class=\"breach\">{}: {}</p>",
            escape(&t("compliance.breach")),
            escape(&names.join(", "))
        ));
    }
    s.push_str("<table>");
    let row =
        |k: &str, v: String| format!("<tr><th>{}</th><td class=\"n\">{v}</td></tr>", escape(k));
    s.push_str(&row(&t("compliance.launches"), c.launches.to_string()));
    s.push_str(&row(
        &t("compliance.outside_window"),
        zero_or_bad(c.launches_outside_window, lang),
    ));
    s.push_str(&row(
        &t("compliance.regional_holiday"),
        zero_or_bad(c.launches_on_regional_holiday, lang),
    ));
    s.push_str(&row(
        &t("compliance.abandon_last_30"),
        pct(c.abandon.rate_30d),
    ));
    s.push_str(&row(
        &t("compliance.abandon_worst_30"),
        pct(c.abandon.max_rate_30d),
    ));
    if let Some(l) = c.abandon.limit {
        s.push_str(&row(&t("compliance.limit"), escape(&lang.percent(l))));
    }
    s.push_str(&row(
        &t("compliance.dnc_blocked"),
        c.do_not_call_blocked.to_string(),
    ));
    s.push_str(&row(
        &t("compliance.opt_outs"),
        c.opt_outs.count.to_string(),
    ));
    s.push_str(&row(
        &t("compliance.opt_outs_not_listed"),
        zero_or_bad(Some(c.opt_outs.not_on_list), lang),
    ));
    s.push_str(&row(
        &t("compliance.slowest_opt_out"),
        escape(
            &c.opt_outs
                .max_seconds_to_list
                .map(|v| format!("{} s", lang.decimal(v, 3)))
                .unwrap_or_else(|| t("compliance.none")),
        ),
    ));
    s.push_str(&row(
        &t("compliance.reminders_late"),
        zero_or_bad(Some(c.reminders_after_appointment), lang),
    ));
    s.push_str("</table>");
    for o in &c.outside_window {
        s.push_str(&format!(
            "<p class=\"bad\">{} {} → {} · {} ({})</p>",
            escape(&t("compliance.attempt")),
            o.attempt_id,
            escape(&o.phone),
            escape(&instant_label(&o.launched_at, lang)),
            escape(&o.zones.join(", "))
        ));
    }
    s
}

/// A chart with its empty-series panel in the reader's language.
fn no_data(lang: Lang, chart: String) -> String {
    chart.replace(
        &format!(">{}</text>", svg::NO_DATA),
        &format!(">{}</text>", escape(lang.text("html.no_data"))),
    )
}

/// What the page is about and for whom.
pub struct Page<'a> {
    /// The campaign's title (its folder name when it has none).
    pub title: &'a str,
    pub lang: Lang,
    pub generated: DateTime<Tz>,
}

/// The whole page.
pub fn render(
    report: &CampaignReport,
    data: &ChartData,
    compliance: Option<&Compliance>,
    contacts: Option<&ContactTable>,
    page: &Page,
) -> String {
    let lang = page.lang;
    let t = |k: &str| lang.text(k).to_string();
    let mut b = String::with_capacity(32 * 1024);
    b.push_str(&format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        match lang {
            Lang::Es => "es",
            Lang::En => "en",
        }
    ));
    b.push_str(&format!(
        "<title>{} — {}</title><style>{STYLE}</style></head><body>",
        escape(page.title),
        escape(&t("html.report"))
    ));
    b.push_str(&format!(
        "<h1>{}</h1><p class=\"muted\">{} · {} · {} {} · {} {} {}</p>",
        escape(page.title),
        escape(&report.campaign),
        escape(lang.label(&report.kind)),
        report.contacts,
        escape(&t("html.contacts")),
        escape(&t("html.generated")),
        escape(&lang.datetime(&page.generated)),
        escape(page.generated.timezone().name())
    ));
    b.push_str(&format!("<h2>{}</h2>", escape(&t("html.summary"))));
    let states: Vec<(String, String)> = report
        .states
        .0
        .iter()
        .map(|(k, v)| (lang.label(k).to_string(), v.to_string()))
        .collect();
    let mut attempts: Vec<(String, String)> = report
        .attempts
        .0
        .iter()
        .map(|(k, v)| {
            (
                format!("{} · {}", t("html.attempts"), lang.label(k)),
                v.to_string(),
            )
        })
        .collect();
    attempts.push((t("html.talk_seconds"), report.talk_seconds.to_string()));
    attempts.push((t("col.cost"), lang.euros(report.cost)));
    b.push_str("<div style=\"display:flex;gap:2em;flex-wrap:wrap\">");
    b.push_str(&kv_table(&states));
    b.push_str(&kv_table(&attempts));
    b.push_str("</div>");

    let funnel: Vec<(String, f64)> = data
        .funnel
        .iter()
        .map(|(k, v)| (lang.label(k).to_string(), *v))
        .collect();
    b.push_str(&format!("<h2>{}</h2>", escape(&t("html.funnel"))));
    b.push_str(&no_data(lang, svg::bars(&t("html.funnel"), &funnel)));
    b.push_str(&format!("<h2>{}</h2>", escape(&t("html.over_time"))));
    b.push_str(&no_data(
        lang,
        svg::columns(
            &t("html.over_time"),
            &data.timeline_labels,
            &[
                Series {
                    name: &t("html.attempts"),
                    values: data.timeline_attempts.clone(),
                },
                Series {
                    name: lang.label("answered"),
                    values: data.timeline_answers.clone(),
                },
            ],
            false,
        ),
    ));
    b.push_str(&format!("<h2>{}</h2>", escape(&t("html.rate_by_hour"))));
    let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    b.push_str(&no_data(
        lang,
        svg::columns(
            &t("html.rate_by_hour"),
            &hours,
            &[Series {
                name: &t("html.answer_rate"),
                values: data
                    .answer_rate_by_hour
                    .iter()
                    .map(|r| r.unwrap_or(f64::NAN))
                    .collect(),
            }],
            true,
        ),
    ));
    b.push_str(&format!("<h2>{}</h2>", escape(&t("html.abandon"))));
    let limit = compliance.and_then(|c| c.abandon.limit);
    let limit_label = limit.map(|l| format!("{} {}", t("compliance.limit"), lang.percent(l)));
    b.push_str(&no_data(
        lang,
        svg::rate_line(
            &t("html.abandon"),
            &data.abandon_by_day,
            limit.zip(limit_label.as_deref()),
        ),
    ));
    if !data.answers.is_empty() {
        b.push_str(&format!("<h2>{}</h2>", escape(&t("html.survey"))));
        for (q, keys) in &data.answers {
            b.push_str(&format!("<h3>{}</h3>", escape(q)));
            b.push_str(&no_data(lang, svg::bars(q, keys)));
        }
    }
    if let Some(agents) = report.agents.as_deref().filter(|a| !a.is_empty()) {
        b.push_str(&crate::report::agents::agents_html(agents, lang));
    }
    if let Some(i) = &report.inbound {
        b.push_str(&format!("<h2>{}</h2>", escape(&t("html.inbound"))));
        b.push_str(&kv_table(&[
            (t("inbound.calls"), i.calls.to_string()),
            (t("inbound.matched"), i.matched.to_string()),
            (t("inbound.to_agent"), i.to_agent.to_string()),
            (t("inbound.opted_out"), i.opted_out.to_string()),
            (t("inbound.confirmed"), i.confirmed.to_string()),
            (t("inbound.cancelled"), i.cancelled.to_string()),
            (t("inbound.callbacks_open"), i.callbacks_open.to_string()),
        ]));
    }
    if let Some(c) = compliance {
        b.push_str(&compliance_html(c, lang));
    }
    if let Some(table) = contacts {
        b.push_str(&format!("<h2>{}</h2>", escape(&t("html.contact_table"))));
        if (table.rows.len() as i64) < report.contacts {
            let note = t("html.contacts_capped")
                .replace("{shown}", &table.rows.len().to_string())
                .replace("{total}", &report.contacts.to_string())
                .replace("{campaign}", &report.campaign);
            b.push_str(&format!("<p class=\"muted\">{}</p>", escape(&note)));
        }
        b.push_str("<div class=\"scroll\">");
        b.push_str(&table.to_html_table());
        b.push_str("</div>");
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
        let d = ChartData::compute(&report(), &facts, chrono_tz::Europe::Madrid, Lang::Es);
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
            vec!["25 nov 10 h", "25 nov 11 h", "25 nov 12 h", "25 nov 13 h"]
        );
        assert_eq!(d.timeline_attempts, vec![2.0, 0.0, 0.0, 1.0]);
        assert_eq!(d.timeline_answers, vec![1.0, 0.0, 0.0, 1.0]);
        assert_eq!(d.answer_rate_by_hour[10], Some(0.5));
        assert_eq!(d.answer_rate_by_hour[13], Some(1.0));
        assert_eq!(
            d.answer_rate_by_hour[9], None,
            "no calls at 9: no rate, not 0 %"
        );
        assert!(d.abandon_by_day.is_empty(), "not a sales campaign");
        assert_eq!(d.answers["q1"].len(), 2);
    }

    #[test]
    fn the_compliance_section_has_the_regional_holiday_row() {
        let c = compliance::compute(&compliance::Inputs {
            campaign: "c",
            kind: "announcement",
            tz: chrono_tz::Europe::Madrid,
            plan: None,
            facts: &[],
            blocked: 0,
            opt_outs: &[],
            abandon_limit: None,
        });
        let html = compliance_html(&c, Lang::Es);
        assert!(
            html.contains("en festivo de la región del destinatario"),
            "{html}"
        );
    }

    #[test]
    fn the_page_is_self_contained_and_escaped() {
        let facts = vec![fact(1, 1, "2026-11-25T09:10:00Z", true)];
        let r = report();
        let d = ChartData::compute(&r, &facts, chrono_tz::UTC, Lang::Es);
        let page = render(
            &r,
            &d,
            None,
            None,
            &Page {
                title: "Encuesta <de> otoño",
                lang: Lang::Es,
                generated: Utc
                    .with_ymd_and_hms(2026, 12, 4, 10, 30, 0)
                    .unwrap()
                    .with_timezone(&chrono_tz::UTC),
            },
        );
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(
            page.contains("<title>Encuesta &lt;de&gt; otoño — "),
            "the title, not the folder"
        );
        assert!(page.contains("<h1>Encuesta &lt;de&gt; otoño</h1>"));
        assert!(
            page.contains(
                "enc&lt;u&gt;esta · encuesta · 3 contactos · generado el 4 dic 2026 10:30 UTC"
            ),
            "{page}"
        );
        assert!(page.contains("@media print"));
        assert!(!page.contains("<u>") && !page.contains("<2>"));
        assert!(page.contains("&lt;2&gt;"));
        // Funnel, timeline, rate by hour, abandon (no data), one survey question.
        assert_eq!(page.matches("<svg").count(), 5);
        assert!(
            page.contains("sin datos"),
            "the abandon chart is empty, in Spanish"
        );
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
