//! The desk in the reports: disposition counts and per-agent rows in the campaign report,
//! each contact's last disposition in `report --contacts`, and the disposition of each call
//! in a contact's timeline.

use std::collections::BTreeMap;

use serde_json::json;

use crate::i18n::Lang;
use crate::report::csv::{Cell, CsvStyle};
use crate::report::timeline::Timeline;
use crate::report::CampaignReport;
use crate::store::{AgentStats, AttemptRow, ContactReportRow, DispositionRow, Store, StoreError};

/// Adds the campaign's dispositions and agents (when it has any); idle time counted to `now_ms`.
pub async fn fill(
    store: &Store,
    report: &mut CampaignReport,
    now_ms: i64,
) -> Result<(), StoreError> {
    let counts = store.disposition_counts(&report.campaign).await?;
    let mut agents = store.agent_stats(Some(&report.campaign)).await?;
    if !agents.is_empty() {
        let idle = store.agent_idle_seconds(&report.campaign, now_ms).await?;
        for a in &mut agents {
            a.idle_seconds = idle.get(&a.agent).copied().unwrap_or(0);
        }
    }
    if !counts.is_empty() || !agents.is_empty() {
        report.dispositions = Some(counts);
    }
    if !agents.is_empty() {
        report.agents = Some(agents);
    }
    Ok(())
}

/// The report table's desk lines.
pub fn table_lines(report: &CampaignReport, lang: Lang, out: &mut String) {
    if let Some(d) = &report.dispositions {
        out.push_str(&format!("  {}\n", lang.text("table.dispositions")));
        if d.is_empty() {
            out.push_str(&format!("    {}\n", lang.text("table.none_recorded")));
        }
        for (k, v) in d {
            out.push_str(&format!("    {k:<18}{v:>8}\n"));
        }
    }
    if let Some(agents) = &report.agents {
        out.push_str(&format!(
            "  {:<18}{:>9}{:>14}{:>12}{:>10}{:>10}  {}\n",
            lang.text("table.agent"),
            lang.text("table.agent_calls"),
            lang.text("table.agent_missed"),
            lang.text("table.agent_talk"),
            lang.text("table.agent_wrapup"),
            lang.text("table.agent_idle"),
            lang.text("table.dispositions_column")
        ));
        for a in agents {
            let d: Vec<String> = a
                .dispositions
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect();
            out.push_str(&format!(
                "  {:<18}{:>9}{:>14}{:>12}{:>10}{:>10}  {}\n",
                a.agent,
                a.calls,
                a.missed,
                a.talk_seconds,
                a.wrapup_seconds,
                a.idle_seconds,
                d.join(", ")
            ));
        }
    }
}

/// The columns [`apply_dispositions`] adds, after the CSV columns.
pub const DISPOSITION_COLUMNS: [&str; 3] = ["disposition", "disposition_agent", "disposition_note"];

/// The per-agent columns, as catalogue keys (`agent.*`) and as identifiers for scripts.
const AGENT_COLUMNS: [&str; 6] = [
    "agent",
    "calls",
    "missed",
    "talk_seconds",
    "wrapup_seconds",
    "idle_seconds",
];

fn agent_header(people: Option<crate::i18n::Lang>) -> Vec<String> {
    let mut h: Vec<String> = AGENT_COLUMNS
        .iter()
        .map(|c| match people {
            Some(l) => l.text(&format!("agent.{c}")).to_string(),
            None => c.to_string(),
        })
        .collect();
    h.push(match people {
        Some(l) => l.text("agent.dispositions").to_string(),
        None => "dispositions".into(),
    });
    h
}

fn agent_cells(a: &AgentStats) -> Vec<String> {
    let d: Vec<String> = a
        .dispositions
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    vec![
        a.agent.clone(),
        a.calls.to_string(),
        a.missed.to_string(),
        a.talk_seconds.to_string(),
        a.wrapup_seconds.to_string(),
        a.idle_seconds.to_string(),
        d.join(", "),
    ]
}

/// `report CAMPAIGN --agents --format csv`: one row per agent (headings in the reader's
/// language in excel style, identifiers in standard style).
pub fn agents_csv(agents: &[AgentStats], style: CsvStyle, lang: crate::i18n::Lang) -> String {
    let people = (style == CsvStyle::Excel).then_some(lang);
    let rows: Vec<Vec<Cell>> = agents
        .iter()
        .map(|a| {
            let c = agent_cells(a);
            vec![
                Cell::Text(c[0].clone()),
                Cell::Int(a.calls),
                Cell::Int(a.missed),
                Cell::Int(a.talk_seconds),
                Cell::Int(a.wrapup_seconds),
                Cell::Int(a.idle_seconds),
                Cell::Text(c[6].clone()),
            ]
        })
        .collect();
    crate::report::csv::write(style, &agent_header(people), &rows)
}

/// `report CAMPAIGN --agents`: aligned columns for a terminal.
pub fn agents_table(agents: &[AgentStats], lang: crate::i18n::Lang) -> String {
    use crate::report::contacts::{aligned, widen, widths_of};
    let header = agent_header(Some(lang));
    let rows: Vec<Vec<String>> = agents.iter().map(agent_cells).collect();
    let mut widths = widths_of(&header);
    for r in &rows {
        widen(&mut widths, r);
    }
    let mut out = aligned(&header, &widths);
    for r in &rows {
        out.push_str(&aligned(r, &widths));
    }
    out
}

/// The HTML report's agents section (every value escaped).
pub fn agents_html(agents: &[AgentStats], lang: crate::i18n::Lang) -> String {
    use crate::report::svg::escape;
    let mut s = format!(
        "<h2>{}</h2><div class=\"scroll\"><table><thead><tr>",
        escape(lang.text("html.agents"))
    );
    for h in agent_header(Some(lang)) {
        s.push_str(&format!("<th>{}</th>", escape(&h)));
    }
    s.push_str("</tr></thead><tbody>");
    for a in agents {
        s.push_str("<tr>");
        for (i, c) in agent_cells(a).iter().enumerate() {
            let class = if (1..=5).contains(&i) {
                " class=\"n\""
            } else {
                ""
            };
            s.push_str(&format!("<td{class}>{}</td>", escape(c)));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div>");
    s
}

/// Each contact's latest disposition as the columns `disposition`, `disposition_agent` and
/// `disposition_note` (after the CSV columns), when the campaign has any.
pub async fn contact_columns(
    store: &Store,
    campaign: &str,
    rows: &mut [ContactReportRow],
) -> Result<(), StoreError> {
    let all = store.dispositions(campaign).await?;
    if !all.is_empty() {
        apply_dispositions(rows, all);
    }
    Ok(())
}

/// Puts each contact's latest disposition of `all` (oldest first) in its row's columns.
pub fn apply_dispositions(rows: &mut [ContactReportRow], all: Vec<DispositionRow>) {
    let mut latest = BTreeMap::new();
    for d in all {
        latest.insert(d.contact_id, d);
    }
    for r in rows.iter_mut() {
        let (disposition, agent, note) = match latest.get(&r.contact_id) {
            Some(d) => (d.disposition.clone(), d.agent.clone(), d.note.clone()),
            None => Default::default(),
        };
        r.vars.insert(DISPOSITION_COLUMNS[0].into(), disposition);
        r.vars.insert(DISPOSITION_COLUMNS[1].into(), agent);
        r.vars.insert(DISPOSITION_COLUMNS[2].into(), note);
    }
}

/// Puts each call's disposition in the timeline.
pub async fn timeline_dispositions(
    store: &Store,
    attempts: &[AttemptRow],
    t: &mut Timeline,
    tz: chrono_tz::Tz,
) -> Result<(), StoreError> {
    let all = store.dispositions(&t.campaign).await?;
    for (row, a) in attempts.iter().zip(t.attempts.iter_mut()) {
        if let Some(d) = all.iter().rev().find(|d| d.attempt_id == row.attempt_id) {
            let at = |ms: i64| {
                chrono::DateTime::from_timestamp_millis(ms)
                    .map(|d| d.with_timezone(&tz).to_rfc3339())
            };
            a.disposition = Some(json!({
                "at": at(d.created_at),
                "agent": d.agent,
                "disposition": d.disposition,
                "note": d.note,
                "callback_at": d.callback_at.and_then(at),
            }));
        }
    }
    Ok(())
}

/// The timeline's line for a disposition.
pub fn timeline_line(d: &serde_json::Value, lang: Lang) -> String {
    let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
    let mut line = lang.fill(
        "timeline.disposition",
        &[
            ("at", &s("at")),
            ("agent", &s("agent")),
            ("disposition", &s("disposition")),
        ],
    );
    if !s("note").is_empty() {
        line.push_str(&format!(" — {}", s("note")));
    }
    if !s("callback_at").is_empty() {
        line.push_str(&lang.fill("timeline.call_back", &[("at", &s("callback_at"))]));
    }
    format!("    {line}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_rows_in_every_format() {
        let agents = vec![AgentStats {
            agent: "=ana".into(),
            calls: 3,
            missed: 1,
            talk_seconds: 120,
            wrapup_seconds: 30,
            idle_seconds: 600,
            dispositions: [("venta".to_string(), 2)].into_iter().collect(),
        }];
        let std = agents_csv(&agents, CsvStyle::Standard, crate::i18n::Lang::Es);
        assert_eq!(
            std,
            "agent,calls,missed,talk_seconds,wrapup_seconds,idle_seconds,dispositions\r\n=ana,3,1,120,30,600,venta: 2\r\n"
        );
        let excel = agents_csv(&agents, CsvStyle::Excel, crate::i18n::Lang::Es);
        assert!(
            excel.contains("agente;llamadas atendidas;no atendidas;"),
            "{excel}"
        );
        assert!(
            excel.contains("'=ana;3;1;120;30;600;venta: 2"),
            "a formula stays text: {excel}"
        );
        let table = agents_table(&agents, crate::i18n::Lang::En);
        assert!(table.starts_with("agent  calls taken"), "{table}");
        let html = agents_html(&agents, crate::i18n::Lang::Es);
        assert!(html.contains("<h2>Agentes</h2>") && html.contains("<td class=\"n\">600</td>"));
    }
}
