//! The compliance report of a campaign: what an auditor asks, recomputed from what was stored
//! rather than trusted from the gate that allowed it.
//!
//! - launches outside the callee's calling window: each placed attempt's launch instant (the
//!   provider's acceptance, else the claim), the contact's zone (every possible zone when the
//!   number does not pin one, or the campaign's when those share no window, as the gate does)
//!   and the window of the callee's region as configured now;
//! - launches on a holiday of the callee's region (the region read again from the contact's
//!   columns and number, as the gate does);
//! - the abandon rate (sales: answered calls that found no agent) per day and per rolling 30 days;
//! - do-not-call hits prevented (contacts closed `blocked`);
//! - opt-outs and how fast they reached the do-not-call list;
//! - reminders called at or after their appointment.
//!
//! A breach (a launch outside the window, a rolling 30-day abandon rate over the campaign's
//! `max_abandon_rate`, an opt-out not on the list, a reminder after its appointment) is named in
//! `breaches`, marked where it is shown, and makes `report --compliance` exit with status 2.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::campaign::plan::CampaignPlan;
use crate::i18n::Lang;
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

/// A launch on a holiday of the callee's region.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OnHoliday {
    pub attempt_id: i64,
    pub phone: String,
    pub launched_at: String,
    pub holiday: String,
    /// Where the holiday applies (`ES`, a region code, `local`…).
    pub scope: String,
    /// The callee's region and where it came from; `None`: unknown.
    pub region: Option<String>,
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
    /// `rate_30d` above the campaign's limit.
    pub over_limit: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Abandon {
    /// Over the last 30 days of activity; `None` while no sales call was answered.
    pub rate_30d: Option<f64>,
    /// The worst rolling 30-day rate seen.
    pub max_rate_30d: Option<f64>,
    /// The campaign's `max_abandon_rate` (sales campaigns; the default 0.03 when the folder is
    /// not loaded).
    pub limit: Option<f64>,
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
    /// Launches on a holiday of the callee's region (must be 0); `None` when the campaign's
    /// folder is not loaded.
    pub launches_on_regional_holiday: Option<usize>,
    pub on_holiday: Vec<OnHoliday>,
    pub abandon: Abandon,
    pub do_not_call_blocked: i64,
    pub opt_outs: OptOuts,
    pub reminders_after_appointment: usize,
    pub reminders_after_appointment_ids: Vec<i64>,
    /// What the campaign broke, as stable identifiers: `outside_window`, `abandon_rate`,
    /// `opt_out_not_listed`, `reminder_after_appointment`, `regional_holiday`. Empty: nothing.
    pub breaches: Vec<String>,
    /// Promotion and sales: launches without a valid consent basis and the consent sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<super::consent::ConsentCounts>,
}

/// The limit a sales campaign's abandon rate is held to when its folder is not loaded.
pub const DEFAULT_ABANDON_LIMIT: f64 = 0.03;

/// Everything the compliance report is computed from.
pub struct Inputs<'a> {
    pub campaign: &'a str,
    pub kind: &'a str,
    pub tz: Tz,
    pub plan: Option<&'a CampaignPlan>,
    pub facts: &'a [AttemptFact],
    pub blocked: i64,
    pub opt_outs: &'a [OptOutRow],
    /// The campaign's `max_abandon_rate` (sales only).
    pub abandon_limit: Option<f64>,
}

/// When the call was placed: the provider's acceptance, else the claim.
pub fn launch_time(f: &AttemptFact) -> i64 {
    f.launched_at.unwrap_or(f.created_at)
}

pub fn compute(i: &Inputs) -> Compliance {
    let mut outside = Vec::new();
    let mut on_holiday = Vec::new();
    if let Some(plan) = i.plan {
        for f in i.facts {
            let place = plan.place(&f.vars, &f.phone);
            let window = plan.window_for(place.as_ref());
            let zones = callee_zone(&f.phone, f.timezone.as_deref(), plan.tz).zones();
            let t = at(launch_time(f));
            let (zones, _) = plan.call_zones(window, zones, t);
            if let Some((z, h)) = zones.iter().find_map(|z| {
                window
                    .holidays
                    .get(t.with_timezone(z).date_naive())
                    .map(|h| (z, h))
            }) {
                on_holiday.push(OnHoliday {
                    attempt_id: f.attempt_id,
                    phone: f.phone.clone(),
                    launched_at: iso(launch_time(f), *z),
                    holiday: h.name.clone(),
                    scope: h.scope.clone(),
                    region: place.as_ref().map(|p| p.describe()),
                });
            }
            if !window.is_open_all(t, &zones) {
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
    let mut abandon = abandon(i.facts, i.tz);
    abandon.limit = i.abandon_limit;
    if let Some(limit) = i.abandon_limit {
        for d in &mut abandon.by_day {
            d.over_limit = d.rate_30d > limit;
        }
    }
    let not_on_list = list.iter().filter(|o| o.listed_at.is_none()).count();
    let mut breaches = Vec::new();
    if !outside.is_empty() {
        breaches.push("outside_window".to_string());
    }
    if abandon.by_day.iter().any(|d| d.over_limit) {
        breaches.push("abandon_rate".to_string());
    }
    if not_on_list > 0 {
        breaches.push("opt_out_not_listed".to_string());
    }
    if !late.is_empty() {
        breaches.push("reminder_after_appointment".to_string());
    }
    if !on_holiday.is_empty() {
        breaches.push("regional_holiday".to_string());
    }
    Compliance {
        campaign: i.campaign.to_string(),
        kind: i.kind.to_string(),
        launches: i.facts.len(),
        launches_outside_window: i.plan.map(|_| outside.len()),
        outside_window: outside,
        launches_on_regional_holiday: i.plan.map(|_| on_holiday.len()),
        on_holiday,
        abandon,
        do_not_call_blocked: i.blocked,
        opt_outs: OptOuts {
            count: list.len(),
            not_on_list,
            max_seconds_to_list: list
                .iter()
                .filter_map(|o| o.seconds_to_list)
                .reduce(f64::max),
            list,
        },
        reminders_after_appointment: late.len(),
        reminders_after_appointment_ids: late,
        breaches,
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
                over_limit: false,
            }
        })
        .collect();
    Abandon {
        rate_30d: by_day.last().map(|d| d.rate_30d),
        max_rate_30d: by_day.iter().map(|d| d.rate_30d).reduce(f64::max),
        limit: None,
        by_day,
    }
}

impl Compliance {
    /// Whether anything was breached.
    pub fn breached(&self) -> bool {
        !self.breaches.is_empty()
    }

    /// For a terminal, in `lang`; a breached line ends in a mark ("← INCUMPLE").
    pub fn to_table(&self, lang: Lang) -> String {
        let t = |k: &str| lang.text(k).to_string();
        let mark = |bad: bool| {
            if bad {
                format!("  ← {}", t("compliance.breach"))
            } else {
                String::new()
            }
        };
        let line = |label: &str, value: String, bad: bool| {
            format!("  {:<38}{:>10}{}\n", label, value, mark(bad))
        };
        let mut out = format!(
            "{} ({}) — {}\n",
            self.campaign,
            lang.label(&self.kind),
            t("compliance.title")
        );
        out.push_str(&line(
            &t("compliance.launches"),
            self.launches.to_string(),
            false,
        ));
        out.push_str(&line(
            &t("compliance.outside_window"),
            self.launches_outside_window
                .map(|n| n.to_string())
                .unwrap_or_else(|| t("compliance.unknown")),
            self.launches_outside_window.is_some_and(|n| n > 0),
        ));
        for o in &self.outside_window {
            out.push_str(&format!(
                "    {} {} → {} ({}) {}\n",
                t("compliance.attempt"),
                o.attempt_id,
                o.phone,
                o.zones.join(", "),
                o.launched_at
            ));
        }
        out.push_str(&line(
            &t("compliance.regional_holiday"),
            self.launches_on_regional_holiday
                .map(|n| n.to_string())
                .unwrap_or_else(|| t("compliance.unknown")),
            self.launches_on_regional_holiday.is_some_and(|n| n > 0),
        ));
        for o in &self.on_holiday {
            out.push_str(&format!(
                "    {} {} → {} {}: {} ({}; {} {})\n",
                t("compliance.attempt"),
                o.attempt_id,
                o.phone,
                o.launched_at,
                o.holiday,
                o.scope,
                t("compliance.region"),
                o.region.as_deref().unwrap_or("?")
            ));
        }
        let pct = |v: Option<f64>| {
            v.map(|r| lang.percent(r))
                .unwrap_or_else(|| t("compliance.none"))
        };
        let over = |v: Option<f64>| matches!((v, self.abandon.limit), (Some(r), Some(l)) if r > l);
        out.push_str(&line(
            &t("compliance.abandon_last_30"),
            pct(self.abandon.rate_30d),
            over(self.abandon.rate_30d),
        ));
        out.push_str(&line(
            &t("compliance.abandon_worst_30"),
            pct(self.abandon.max_rate_30d),
            over(self.abandon.max_rate_30d),
        ));
        if let Some(l) = self.abandon.limit {
            out.push_str(&line(&t("compliance.limit"), lang.percent(l), false));
        }
        for d in &self.abandon.by_day {
            out.push_str(&format!(
                "    {}  {}/{} = {} (30 d {}){}\n",
                d.day,
                d.abandoned,
                d.answered,
                lang.percent(d.rate),
                lang.percent(d.rate_30d),
                mark(d.over_limit)
            ));
        }
        out.push_str(&line(
            &t("compliance.dnc_blocked"),
            self.do_not_call_blocked.to_string(),
            false,
        ));
        out.push_str(&line(
            &t("compliance.opt_outs"),
            self.opt_outs.count.to_string(),
            false,
        ));
        out.push_str(&line(
            &t("compliance.opt_outs_not_listed"),
            self.opt_outs.not_on_list.to_string(),
            self.opt_outs.not_on_list > 0,
        ));
        if let Some(s) = self.opt_outs.max_seconds_to_list {
            out.push_str(&line(
                &t("compliance.slowest_opt_out"),
                format!("{} s", lang.decimal(s, 3)),
                false,
            ));
        }
        out.push_str(&line(
            &t("compliance.reminders_late"),
            self.reminders_after_appointment.to_string(),
            self.reminders_after_appointment > 0,
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
            vars: "{}".into(),
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
            regional: Default::default(),
            provincial: Default::default(),
            holiday_region: None,
            unknown_any: false,
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
            abandon_limit: None,
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
            abandon_limit: None,
        });
        assert_eq!(unknown.launches_outside_window, None);
        assert!(unknown.to_table(Lang::En).contains("unknown"));
        assert!(unknown.to_table(Lang::Es).contains("desconocido"));
        // Launches outside the window are a breach, marked on their line.
        assert_eq!(c.breaches, vec!["outside_window"]);
        let table = c.to_table(Lang::Es);
        let line = table
            .lines()
            .find(|l| l.contains("fuera del horario"))
            .unwrap();
        assert!(line.ends_with("2  ← INCUMPLE"), "{table}");
        assert!(unknown.breaches.is_empty());
    }

    fn built(extra: &str) -> CampaignPlan {
        let text = format!("kind = \"announcement\"\ncaller_id = \"+34910000000\"\n{extra}\n[announcement]\nmessage = \"x\"\n");
        let dir = std::path::Path::new("c");
        let c =
            crate::campaign::Campaign::parse("c", dir, &dir.join("campaign.toml"), &text).unwrap();
        let now = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .unwrap()
            .to_utc();
        CampaignPlan::build(&c, &crate::config::CallingConfig::default(), now).unwrap()
    }

    fn inputs<'a>(p: &'a CampaignPlan, facts: &'a [AttemptFact]) -> Inputs<'a> {
        Inputs {
            campaign: "c",
            kind: "announcement",
            tz: p.tz,
            plan: Some(p),
            facts,
            blocked: 0,
            opt_outs: &[],
            abandon_limit: None,
        }
    }

    #[test]
    fn launches_on_a_holiday_of_the_callee_region_are_listed() {
        let p = built("");
        // Friday 11 September 2026, 10:00 in Madrid: Catalonia's national day.
        let mut mobile_bcn = fact(3, "+34600000000", "2026-09-11T08:00:00Z");
        mobile_bcn.vars = r#"{"provincia":"Barcelona"}"#.into();
        let facts = vec![
            fact(1, "+34932000000", "2026-09-11T08:00:00Z"),
            fact(2, "+34914000000", "2026-09-11T08:00:00Z"),
            mobile_bcn,
        ];
        let c = compute(&inputs(&p, &facts));
        assert_eq!(c.launches_on_regional_holiday, Some(2));
        let ids: Vec<i64> = c.on_holiday.iter().map(|o| o.attempt_id).collect();
        assert_eq!(ids, vec![1, 3]);
        assert_eq!(c.on_holiday[0].holiday, "Fiesta Nacional de Cataluña");
        assert_eq!(c.on_holiday[0].scope, "CT");
        assert_eq!(
            c.on_holiday[1].region.as_deref(),
            Some("CT (Barcelona, from the provincia column)")
        );
        let table = c.to_table(Lang::En);
        assert!(
            table.contains("on a holiday of the callee's region            2  ←"),
            "{table}"
        );
        let none = compute(&inputs(&p, &facts[1..2]));
        assert_eq!(none.launches_on_regional_holiday, Some(0));
    }

    #[test]
    fn a_mobile_whose_zones_share_no_window_is_checked_in_the_campaign_zone() {
        let p = built("hours = [\"mon-fri 20:00-21:00\"]");
        // Wed 25 Nov 2026, 20:30 in Madrid (19:30 in the Canaries): the two zones never share
        // a minute of this window, so the campaign's zone is the one that counts.
        let facts = vec![
            fact(1, "+34600000000", "2026-11-25T19:30:00Z"),
            fact(2, "+34600000000", "2026-11-25T20:30:00Z"),
        ];
        let c = compute(&inputs(&p, &facts));
        assert_eq!(c.launches_outside_window, Some(1));
        assert_eq!(c.outside_window[0].attempt_id, 2);
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
            abandon_limit: None,
        });
        assert_eq!(c.reminders_after_appointment_ids, vec![1]);
        assert_eq!(
            c.breaches,
            vec!["opt_out_not_listed", "reminder_after_appointment"]
        );
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

    /// 7 abandoned of 26 answered (26.92 %) against a 3 % limit: a breach, marked in the
    /// table, on the day and in `breaches`; under the limit nothing is marked.
    #[test]
    fn an_abandon_rate_over_the_limit_is_a_breach() {
        let mut facts = Vec::new();
        for i in 0..26 {
            let mut f = fact(i, "+34914000000", "2026-11-25T11:00:00Z");
            f.answered_at = f.launched_at;
            if i < 7 {
                f.outcome = Some("abandoned".into());
            }
            facts.push(f);
        }
        let inputs = |limit| Inputs {
            campaign: "v",
            kind: "sales",
            tz: chrono_tz::Europe::Madrid,
            plan: None,
            facts: &facts,
            blocked: 0,
            opt_outs: &[],
            abandon_limit: Some(limit),
        };
        let c = compute(&inputs(0.03));
        assert_eq!(c.breaches, vec!["abandon_rate"]);
        assert!(c.breached());
        assert!(c.abandon.by_day[0].over_limit);
        let table = c.to_table(Lang::Es);
        assert!(
            table.contains("abandono, últimos 30 días                26,92 %  ← INCUMPLE"),
            "{table}"
        );
        assert!(
            table.contains("límite de abandono                        3,00 %\n"),
            "{table}"
        );
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["breaches"][0], "abandon_rate");
        assert_eq!(json["abandon"]["limit"], 0.03);
        let fine = compute(&inputs(0.30));
        assert!(fine.breaches.is_empty());
        assert!(!fine.to_table(Lang::Es).contains("INCUMPLE"));
    }
}
