//! A campaign's schedule made concrete: its zone, calling window (weekly hours + holidays),
//! dialing rounds, start and end dates, and for reminders how long before the appointment the
//! call is due. [`CampaignPlan::gate`] is the one place that decides, for a due contact, whether
//! it may be launched now, must wait (and until when, and why), or will never be called.
//!
//! Guarantees (each tested): no launch outside the calling window in the callee's local time (in
//! every zone of the country when the callee's zone is unknown); none on a holiday; none outside
//! an open round; none before `start` or after `end`; no reminder after its appointment; no call
//! to a number on the do-not-call list while its entry applies.

use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use chrono_tz::Tz;

use super::holidays::Holidays;
use super::rounds::{local_midnight, Rounds};
use super::window::{CallingWindow, WeeklyHours};
use super::zones::callee_zone;
use crate::campaign::Campaign;
use crate::config::CallingConfig;
use crate::store::{Candidate, DncEntry, Gate};

/// How far ahead the window search looks before giving up.
const HORIZON_DAYS: i64 = 400;

/// A campaign's schedule, ready to answer "may this contact be called now?".
#[derive(Debug, Clone)]
pub struct CampaignPlan {
    pub tz: Tz,
    pub window: CallingWindow,
    pub rounds: Option<Rounds>,
    pub start: Option<DateTime<Utc>>,
    /// The first instant after the last day of the campaign.
    pub end: Option<DateTime<Utc>>,
    pub call_before: Option<Duration>,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn at_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

/// Formats an instant for a person, in a zone: `Tue 24 Nov 10:00 (Europe/Madrid)`.
pub fn local(t: DateTime<Utc>, tz: Tz) -> String {
    format!("{} ({})", t.with_timezone(&tz).format("%a %d %b %Y %H:%M"), tz.name())
}

impl CampaignPlan {
    /// Builds the plan from the campaign and the `[calling]` defaults it overrides. Errors name
    /// the key at fault.
    pub fn build(campaign: &Campaign, calling: &CallingConfig, now: DateTime<Utc>) -> Result<CampaignPlan, String> {
        let tz_name = campaign.timezone.as_deref().unwrap_or(&calling.timezone);
        let tz: Tz = tz_name
            .parse()
            .map_err(|_| format!("timezone \"{tz_name}\" is not an IANA time zone such as Europe/Madrid"))?;
        let hours = WeeklyHours::parse(campaign.hours.as_ref().unwrap_or(&calling.hours))?;
        let year = now.with_timezone(&tz).year();
        let calendar = campaign.holiday_calendar.as_deref().unwrap_or(&calling.holiday_calendar);
        let mut holidays = Holidays::national(calendar, year - 1..=year + 2).map_err(|e| format!("holiday_calendar: {e}"))?;
        holidays.with_extra(&calling.holidays).map_err(|e| format!("[calling].holidays: {e}"))?;
        if let Some(extra) = &campaign.holidays {
            holidays.with_extra(extra).map_err(|e| format!("holidays: {e}"))?;
        }
        let rounds = campaign.schedule.as_deref().map(Rounds::parse).transpose()?;
        let start = campaign.start.and_then(|d| local_midnight(d, tz));
        let end = campaign.end.and_then(|d| d.succ_opt()).and_then(|d| local_midnight(d, tz));
        Ok(CampaignPlan {
            tz,
            window: CallingWindow { hours, holidays },
            rounds,
            start,
            end,
            call_before: campaign.call_before,
        })
    }

    /// Whether the campaign as a whole is outside its schedule now, and why (for `campaigns`).
    /// Evaluated in the campaign's own zone.
    pub fn campaign_status(&self, now: DateTime<Utc>) -> Option<String> {
        if let Some(end) = self.end {
            if now >= end {
                return Some("ended".into());
            }
        }
        if let Some(start) = self.start {
            if now < start {
                return Some(format!("starts {}", local(start, self.tz)));
            }
        }
        if let Some(r) = &self.rounds {
            if !r.is_open(now, self.tz) {
                return Some(match r.next_fire(now, self.tz) {
                    Some(t) => format!("next round {}", local(t, self.tz)),
                    None => "no round ahead".into(),
                });
            }
        }
        if !self.window.is_open(now, self.tz) {
            return Some(self.window.explain_closed(now, self.tz));
        }
        None
    }

    /// The verdict on a due contact at `now`.
    pub fn gate(&self, c: &Candidate, now_ms: i64) -> Gate {
        let now = at_ms(now_ms);
        let close = |state: &str, note: String| Gate::Close {
            state: state.into(),
            note,
        };
        let defer = |until: DateTime<Utc>, note: String| Gate::Defer {
            until: ms(until).max(now_ms + 1),
            note,
        };
        if let Some(end) = self.end {
            if now >= end {
                return close("expired", format!("the campaign ended ({})", local(end, self.tz)));
            }
        }
        if let Some(app) = c.appointment_at {
            if now_ms >= app {
                return close("expired", format!("the appointment ({}) has passed", local(at_ms(app), self.tz)));
            }
        }
        let zones = callee_zone(&c.phone, c.timezone.as_deref(), self.tz).zones();
        let first_zone = zones.first().copied().unwrap_or(self.tz);
        if let Some(d) = &c.dnc {
            if let Some(g) = self.dnc_gate(d, now, &zones, first_zone) {
                return g;
            }
        }
        if let Some(start) = self.start {
            if now < start {
                return defer(start, format!("the campaign starts {}", local(start, self.tz)));
            }
        }
        if let (Some(app), Some(before)) = (c.appointment_at, self.call_before) {
            let due = app - before.as_millis() as i64;
            if now_ms < due {
                return defer(at_ms(due), format!("the reminder is due {}", local(at_ms(due), first_zone)));
            }
        }
        if let Some(r) = &self.rounds {
            if !r.is_open(now, self.tz) {
                return match r.next_fire(now, self.tz) {
                    Some(t) => defer(t, format!("round not open yet: next round {}", local(t, self.tz))),
                    None => close("expired", "the schedule has no round ahead".into()),
                };
            }
        }
        if self.window.is_open_all(now, &zones) {
            return Gate::Launch;
        }
        let why = if zones.len() > 1 {
            format!(
                "outside calling hours in one of its possible zones ({})",
                zones.iter().map(|z| z.name()).collect::<Vec<_>>().join(", ")
            )
        } else {
            self.window.explain_closed(now, first_zone)
        };
        match self.window.next_open_all(now, &zones) {
            Some(t) if t - now < chrono::Duration::days(HORIZON_DAYS) => {
                let next = defer(t, format!("{why}; next window {}", local(t, first_zone)));
                // Never past the end of the campaign or the appointment.
                let deadline = [self.end.map(ms), c.appointment_at].into_iter().flatten().min();
                match deadline {
                    Some(d) if ms(t) >= d => close("expired", format!("{why}, and no window opens before the deadline")),
                    _ => next,
                }
            }
            _ => close("expired", format!("{why}, and no calling window opens in the next {HORIZON_DAYS} days")),
        }
    }

    fn dnc_gate(&self, d: &DncEntry, now: DateTime<Utc>, zones: &[Tz], zone: Tz) -> Option<Gate> {
        if d.until_date.is_none() && d.hours.is_none() {
            return Some(Gate::Close {
                state: "blocked".into(),
                note: format!("on the do-not-call list ({})", d.source),
            });
        }
        if let Some(until) = d.until_date.as_deref().and_then(|u| chrono::NaiveDate::parse_from_str(u, "%Y-%m-%d").ok()) {
            // Blocked through that local date, in the callee's zone.
            if now.with_timezone(&zone).date_naive() <= until {
                let free = until.succ_opt().and_then(|n| local_midnight(n, zone))?;
                return Some(Gate::Defer {
                    until: ms(free),
                    note: format!("on the do-not-call list until {until} ({})", d.source),
                });
            }
            if d.hours.is_none() {
                return None;
            }
        }
        if let Some(h) = &d.hours {
            let lines: Vec<String> = h.split('|').map(str::to_string).collect();
            let blocked = CallingWindow {
                hours: WeeklyHours::parse(&lines).ok()?,
                holidays: Holidays::default(),
            };
            // Blocked while the do-not-call hours hold in any of the callee's possible zones.
            let until = zones.iter().filter_map(|z| blocked.open_until(now, *z)).max();
            if let Some(until) = until {
                return Some(Gate::Defer {
                    until: ms(until),
                    note: format!("do-not-call hours {h} ({})", d.source),
                });
            }
        }
        None
    }
}
