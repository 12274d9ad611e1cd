//! The desk in the reports: disposition counts and per-agent rows in the campaign report,
//! each contact's last disposition in `report --contacts`, and the disposition of each call
//! in a contact's timeline.

use std::collections::BTreeMap;

use serde_json::json;

use crate::report::timeline::Timeline;
use crate::report::CampaignReport;
use crate::store::{AttemptRow, ContactReportRow, Store, StoreError};

/// Adds the campaign's dispositions and agents (when it has any).
pub async fn fill(store: &Store, report: &mut CampaignReport) -> Result<(), StoreError> {
    let counts = store.disposition_counts(&report.campaign).await?;
    let agents = store.agent_stats(Some(&report.campaign)).await?;
    if !counts.is_empty() || !agents.is_empty() {
        report.dispositions = Some(counts);
    }
    if !agents.is_empty() {
        report.agents = Some(agents);
    }
    Ok(())
}

/// The report table's desk lines.
pub fn table_lines(report: &CampaignReport, out: &mut String) {
    if let Some(d) = &report.dispositions {
        out.push_str("  dispositions:\n");
        if d.is_empty() {
            out.push_str("    none recorded\n");
        }
        for (k, v) in d {
            out.push_str(&format!("    {k:<16}{v:>8}\n"));
        }
    }
    if let Some(agents) = &report.agents {
        out.push_str(&format!(
            "  {:<18}{:>6}{:>8}{:>10}{:>10}  dispositions\n",
            "agent", "calls", "missed", "talk s", "wrap-up s"
        ));
        for a in agents {
            let d: Vec<String> = a
                .dispositions
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect();
            out.push_str(&format!(
                "  {:<18}{:>6}{:>8}{:>10}{:>10}  {}\n",
                a.agent,
                a.calls,
                a.missed,
                a.talk_seconds,
                a.wrapup_seconds,
                d.join(", ")
            ));
        }
    }
}

/// Each contact's latest disposition as the columns `disposition`, `disposition_agent` and
/// `disposition_note` (after the CSV columns), when the campaign has any.
pub async fn contact_columns(
    store: &Store,
    campaign: &str,
    rows: &mut [ContactReportRow],
) -> Result<(), StoreError> {
    let all = store.dispositions(campaign).await?;
    if all.is_empty() {
        return Ok(());
    }
    let mut latest = BTreeMap::new();
    for d in all {
        latest.insert(d.contact_id, d);
    }
    for r in rows.iter_mut() {
        let (disposition, agent, note) = match latest.get(&r.contact_id) {
            Some(d) => (d.disposition.clone(), d.agent.clone(), d.note.clone()),
            None => Default::default(),
        };
        r.vars.insert("disposition".into(), disposition);
        r.vars.insert("disposition_agent".into(), agent);
        r.vars.insert("disposition_note".into(), note);
    }
    Ok(())
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
pub fn timeline_line(d: &serde_json::Value) -> String {
    let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
    let mut line = format!(
        "    {} disposition by {}: {}",
        s("at"),
        s("agent"),
        s("disposition")
    );
    if !s("note").is_empty() {
        line.push_str(&format!(" — {}", s("note")));
    }
    if !s("callback_at").is_empty() {
        line.push_str(&format!(" (call back {})", s("callback_at")));
    }
    line.push('\n');
    line
}
