//! The compliance report of a campaign: what an auditor asks, recomputed from what was stored
//! rather than trusted from the gate that allowed it.
//!
//! - launches outside the callee's calling window: each placed attempt's launch instant (the
//!   provider's acceptance, else the claim), the contact's zone (every possible zone when the
//!   number does not pin one, as the gate does) and the campaign's window as configured now;
//! - the abandon rate (sales: answered calls that found no agent) per day and per rolling 30 days;
//! - do-not-call hits prevented (contacts closed `blocked`);
//! - opt-outs and how fast they reached the do-not-call list;
//! - reminders called at or after their appointment.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::campaign::plan::CampaignPlan;
use crate::schedule::zones::callee_zone;
use crate::store::{AttemptFact, OptOutRow};

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn iso(ms: i64, tz: Tz) -> String {
    at(ms).with_timezone(&tz).to_rfc3339()
}

/// A launch the window did not allow.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OutsideWindow {
    pub attempt_id: i64,
    pub phone: String,
    pub launched_at: String,
    pub zones: Vec<String>,
}

/// Abandoned / answered on one day (campaign zone).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DayRate {
    pub day: String,
    pub answered: i64,
    pub abandoned: i64,
    pub rate: f64,
    /// Over the 30 days ending that day.
    pub rate_30d: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Abandon {
    /// Over the last 30 days of activity; `None` while no sales call was answered.
    pub rate_30d: Option<f64>,
    /// The worst rolling 30-day rate seen.
    pub max_rate_30d: Option<f64>,
    pub by_day: Vec<DayRate>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OptOut {
    pub phone: String,
    pub opted_out_at: Option<String>,
    /// When the number went on the do-not-call list; `None`: it is not on it.
    pub listed_at: Option<String>,
    /// List entry minus key press, seconds (≤ 0: listed before the reply left).
    pub seconds_to_list: Option<f64>,
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OptOuts {
    pub count: usize,
    /// Opted out but not on the do-not-call list now (removed since, or never written): must be 0.
    pub not_on_list: usize,
    pub max_seconds_to_list: Option<f64>,
    pub list: Vec<OptOut>,
}

/// `report CAMPAIGN --compliance`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Compliance {
    pub campaign: String,
    pub kind: String,
    pub launches: usize,
    /// `None` when the campaign's folder is not loaded (its window is unknown).
    pub launches_outside_window: Option<usize>,
    pub outside_window: Vec<OutsideWindow>,
    pub abandon: Abandon,
    pub do_not_call_blocked: i64,
    pub opt_outs: OptOuts,
    pub reminders_after_appointment: usize,
    pub reminders_after_appointment_ids: Vec<i64>,
    /// Promotion and sales: launches without a valid consent basis and the consent sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<super::consent::ConsentCounts>,
}

/// Everything the compliance report is computed from.
pub struct Inputs<'a> {
    pub campaign: &'a str,
    pub kind: &'a str,
    pub tz: Tz,
    pub plan: Option<&'a CampaignPlan>,
    pub facts: &'a [AttemptFact],
    pub blocked: i64,
    pub opt_outs: &'a [OptOutRow],
}

/// When the call was placed: the provider's acceptance, else the claim.
pub fn launch_time(f: &AttemptFact) -> i64 {
    f.launched_at.unwrap_or(f.created_at)
}

pub fn compute(i: &Inputs) -> Compliance {
    let mut outside = Vec::new();
    if let Some(plan) = i.plan {
        for f in i.facts {
            let zones = callee_zone(&f.phone, f.timezone.as_deref(), plan.tz).zones();
            let t = at(launch_time(f));
            if !plan.window.is_open_all(t, &zones) {
                outside.push(OutsideWindow {
                    attempt_id: f.attempt_id,
                    phone: f.phone.clone(),
                    launched_at: iso(launch_time(f), zones.first().copied().unwrap_or(plan.tz)),
                    zones: zones.iter().map(|z| z.name().to_string()).collect(),
                });
            }
        }
    }
    let late: Vec<i64> = i
        .facts
        .iter()
        .filter(|f| f.appointment_at.is_some_and(|a| launch_time(f) >= a))
        .map(|f| f.attempt_id)
        .collect();
    let list: Vec<OptOut> = i
        .opt_outs
        .iter()
        .map(|o| OptOut {
            phone: o.phone.clone(),
            opted_out_at: o.keys_at.map(|m| iso(m, i.tz)),
            listed_at: o.dnc_at.map(|m| iso(m, i.tz)),
            seconds_to_list: match (o.keys_at, o.dnc_at) {
                (Some(k), Some(d)) => Some((d - k) as f64 / 1000.0),
                _ => None,
            },
            source: o.dnc_source.clone(),
        })
        .collect();
    Compliance {
        campaign: i.campaign.to_string(),
        kind: i.kind.to_string(),
        launches: i.facts.len(),
        launches_outside_window: i.plan.map(|_| outside.len()),
        outside_window: outside,
        abandon: abandon(i.facts, i.tz),
        do_not_call_blocked: i.blocked,
        opt_outs: OptOuts {
            count: list.len(),
            not_on_list: list.iter().filter(|o| o.listed_at.is_none()).count(),
            max_seconds_to_list: list
                .iter()
                .filter_map(|o| o.seconds_to_list)
                .reduce(f64::max),
            list,
        },
        reminders_after_appointment: late.len(),
        reminders_after_appointment_ids: late,
        consent: None,
    }
}

/// Abandoned calls over answered calls, per local day and per rolling 30 days.
pub fn abandon(facts: &[AttemptFact], tz: Tz) -> Abandon {
    let mut days: BTreeMap<NaiveDate, (i64, i64)> = BTreeMap::new();
    for f in facts.iter().filter(|f| f.answered_at.is_some()) {
        let day = at(launch_time(f)).with_timezone(&tz).date_naive();
        let e = days.entry(day).or_default();
        e.0 += 1;
        if f.outcome.as_deref() == Some("abandoned") {
            e.1 += 1;
        }
    }
    let rate = |a: i64, b: i64| if a > 0 { b as f64 / a as f64 } else { 0.0 };
    let by_day: Vec<DayRate> = days
        .iter()
        .map(|(day, (answered, abandoned))| {
            let from = *day - chrono::Duration::days(29);
            let (a30, b30) = days
                .range(from..=*day)
                .fold((0, 0), |(a, b), (_, (x, y))| (a + x, b + y));
            DayRate {
                day: day.to_string(),
                answered: *answered,
                abandoned: *abandoned,
                rate: rate(*answered, *abandoned),
                rate_30d: rate(a30, b30),
            }
        })
        .collect();
    Abandon {
        rate_30d: by_day.last().map(|d| d.rate_30d),
        max_rate_30d: by_day.iter().map(|d| d.rate_30d).reduce(f64::max),
        by_day,
    }
}

impl Compliance {
    /// For a terminal.
    pub fn to_table(&self) -> String {
        let mut out = format!("{} ({}) — compliance\n", self.campaign, self.kind);
        out.push_str(&format!(
            "  launches                          {:>8}\n",
            self.launches
        ));
        out.push_str(&format!(
            "  outside the callee's window       {:>8}\n",
            self.launches_outside_window
                .map(|n| n.to_string())
                .unwrap_or_else(|| "unknown (campaign folder not loaded)".into())
        ));
        for o in &self.outside_window {
            out.push_str(&format!(
                "    attempt {} to {} at {} ({})\n",
                o.attempt_id,
                o.phone,
                o.launched_at,
                o.zones.join(", ")
            ));
        }
        let pct = |v: Option<f64>| {
            v.map(|r| format!("{:.2} %", r * 100.0))
                .unwrap_or_else(|| "none".into())
        };
        out.push_str(&format!(
            "  abandon rate, last 30 days        {:>8}\n  abandon rate, worst 30 days       {:>8}\n",
            pct(self.abandon.rate_30d),
            pct(self.abandon.max_rate_30d)
        ));
        for d in &self.abandon.by_day {
            out.push_str(&format!(
                "    {}  {}/{} = {:.2} % (30 days {:.2} %)\n",
                d.day,
                d.abandoned,
                d.answered,
                d.rate * 100.0,
                d.rate_30d * 100.0
            ));
        }
        out.push_str(&format!(
            "  do-not-call hits prevented        {:>8}\n",
            self.do_not_call_blocked
        ));
        out.push_str(&format!(
            "  opt-outs                          {:>8}\n  opt-outs not on the list          {:>8}\n",
            self.opt_outs.count, self.opt_outs.not_on_list
        ));
        if let Some(s) = self.opt_outs.max_seconds_to_list {
            out.push_str(&format!("  slowest opt-out to list       {s:>10.3} s\n"));
        }
        out.push_str(&format!(
            "  reminders after the appointment   {:>8}\n",
            self.reminders_after_appointment
        ));
        if let Some(c) = &self.consent {
            out.push_str(&format!(
                "  launches without consent          {:>8}\n",
                c.launches_without_basis
            ));
            for (source, n) in &c.sources {
                out.push_str(&format!("    consent from {source}: {n}\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::window::{CallingWindow, WeeklyHours};

    fn fact(id: i64, phone: &str, launched: &str) -> AttemptFact {
        let t = DateTime::parse_from_rfc3339(launched)
            .unwrap()
            .timestamp_millis();
        AttemptFact {
            attempt_id: id,
            contact_id: id,
            phone: phone.into(),
            timezone: None,
            appointment_at: None,
            created_at: t - 50,
            launched_at: Some(t),
            answered_at: None,
            ended_at: None,
            result: None,
            outcome: None,
        }
    }

    fn plan() -> CampaignPlan {
        CampaignPlan {
            tz: chrono_tz::Europe::Madrid,
            window: CallingWindow {
                hours: WeeklyHours::parse(&["mon-fri 10:00-15:00".into()]).unwrap(),
                holidays: Default::default(),
            },
            rounds: None,
            start: None,
            end: None,
            call_before: None,
        }
    }

    #[test]
    fn launches_are_checked_in_the_callee_zone() {
        let p = plan();
        // Wed 2026-11-25. A Canary landline at 09:30 UTC is 09:30 local: outside. The same
        // instant in Madrid is 10:30: inside. A Spanish mobile may be in either zone: outside.
        let facts = vec![
            fact(1, "+34914000000", "2026-11-25T09:30:00Z"),
            fact(2, "+34928000000", "2026-11-25T09:30:00Z"),
            fact(3, "+34600000000", "2026-11-25T09:30:00Z"),
            fact(4, "+34600000000", "2026-11-25T11:00:00Z"),
        ];
        let c = compute(&Inputs {
            campaign: "c",
            kind: "announcement",
            tz: p.tz,
            plan: Some(&p),
            facts: &facts,
            blocked: 2,
            opt_outs: &[],
        });
        assert_eq!(c.launches, 4);
        assert_eq!(c.launches_outside_window, Some(2));
        assert_eq!(
            c.outside_window
                .iter()
                .map(|o| o.attempt_id)
                .collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert_eq!(c.outside_window[0].zones, vec!["Atlantic/Canary"]);
        assert_eq!(c.do_not_call_blocked, 2);
        assert_eq!(c.abandon.rate_30d, None);
        let unknown = compute(&Inputs {
            campaign: "c",
            kind: "announcement",
            tz: p.tz,
            plan: None,
            facts: &facts,
            blocked: 0,
            opt_outs: &[],
        });
        assert_eq!(unknown.launches_outside_window, None);
        assert!(unknown.to_table().contains("unknown"));
    }

    #[test]
    fn reminders_after_the_appointment_and_opt_out_delays() {
        let mut f = fact(1, "+34914000000", "2026-11-25T11:00:00Z");
        f.appointment_at = Some(f.launched_at.unwrap());
        let mut ok = fact(2, "+34914000001", "2026-11-25T11:00:00Z");
        ok.appointment_at = Some(ok.launched_at.unwrap() + 1);
        let outs = vec![
            OptOutRow {
                attempt_id: 1,
                phone: "+34914000000".into(),
                keys_at: Some(1_000),
                dnc_at: Some(1_000),
                dnc_source: Some("opt-out (c)".into()),
            },
            OptOutRow {
                attempt_id: 2,
                phone: "+34914000001".into(),
                keys_at: Some(1_000),
                dnc_at: None,
                dnc_source: None,
            },
        ];
        let c = compute(&Inputs {
            campaign: "c",
            kind: "reminder",
            tz: chrono_tz::UTC,
            plan: None,
            facts: &[f, ok],
            blocked: 0,
            opt_outs: &outs,
        });
        assert_eq!(c.reminders_after_appointment_ids, vec![1]);
        assert_eq!(c.opt_outs.count, 2);
        assert_eq!(c.opt_outs.not_on_list, 1);
        assert_eq!(c.opt_outs.max_seconds_to_list, Some(0.0));
    }

    #[test]
    fn abandon_rate_per_day_and_rolling_30_days() {
        let mut facts = Vec::new();
        // Day 1: 10 answered, 1 abandoned; day 40: 10 answered, 0 abandoned.
        for i in 0..10 {
            let mut f = fact(i, "+34914000000", "2026-01-10T11:00:00Z");
            f.answered_at = f.launched_at;
            if i == 0 {
                f.outcome = Some("abandoned".into());
            }
            facts.push(f);
            let mut g = fact(100 + i, "+34914000000", "2026-02-19T11:00:00Z");
            g.answered_at = g.launched_at;
            facts.push(g);
        }
        // Not answered: does not count.
        facts.push(fact(999, "+34914000000", "2026-02-19T12:00:00Z"));
        let a = abandon(&facts, chrono_tz::Europe::Madrid);
        assert_eq!(a.by_day.len(), 2);
        assert_eq!(a.by_day[0].day, "2026-01-10");
        assert!((a.by_day[0].rate - 0.1).abs() < 1e-9);
        // Day 1 is out of day 40's 30-day window.
        assert_eq!(a.by_day[1].rate_30d, 0.0);
        assert_eq!(a.rate_30d, Some(0.0));
        assert_eq!(a.max_rate_30d, Some(0.1));
    }
}
