//! A campaign's schedule made concrete: its zone, calling window (weekly hours + holidays),
//! dialing rounds, start and end dates, and for reminders how long before the appointment the
//! call is due. [`CampaignPlan::gate`] is the one place that decides, for a due contact, whether
//! it may be launched now, must wait (and until when, and why), or will never be called.
//!
//! Guarantees (each tested): no launch outside the calling window in the callee's local time (in
//! every zone of the country when the callee's zone is unknown); none on a holiday; none outside
//! an open round; none before `start` or after `end`; no reminder after its appointment; no call
//! to a number on the do-not-call list while its entry applies.
//!
//! It lives beside the campaign, not in `schedule`: it is built from a [`Campaign`] and judges
//! the store's candidates, while `schedule` stays below both (windows, rounds, zones, retries).

use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use chrono_tz::Tz;

use super::Campaign;
use crate::config::CallingConfig;
use crate::schedule::gate::{Candidate, DncEntry, Gate};
use crate::schedule::holidays::Holidays;
use crate::schedule::rounds::{local_midnight, Rounds};
use crate::schedule::window::{CallingWindow, WeeklyHours};
use crate::schedule::zones::callee_zone;

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
    format!(
        "{} ({})",
        t.with_timezone(&tz).format("%a %d %b %Y %H:%M"),
        tz.name()
    )
}

impl CampaignPlan {
    /// Builds the plan from the campaign and the `[calling]` defaults it overrides. Errors name
    /// the key at fault.
    pub fn build(
        campaign: &Campaign,
        calling: &CallingConfig,
        now: DateTime<Utc>,
    ) -> Result<CampaignPlan, String> {
        let tz_name = campaign.timezone.as_deref().unwrap_or(&calling.timezone);
        let tz: Tz = tz_name.parse().map_err(|_| {
            format!("timezone \"{tz_name}\" is not an IANA time zone such as Europe/Madrid")
        })?;
        let hours = WeeklyHours::parse(campaign.hours.as_ref().unwrap_or(&calling.hours))?;
        let year = now.with_timezone(&tz).year();
        let calendar = campaign
            .holiday_calendar
            .as_deref()
            .unwrap_or(&calling.holiday_calendar);
        let mut holidays = Holidays::national(calendar, year - 1..=year + 2)
            .map_err(|e| format!("holiday_calendar: {e}"))?;
        holidays
            .with_extra(&calling.holidays)
            .map_err(|e| format!("[calling].holidays: {e}"))?;
        if let Some(extra) = &campaign.holidays {
            holidays
                .with_extra(extra)
                .map_err(|e| format!("holidays: {e}"))?;
        }
        let rounds = campaign
            .schedule
            .as_deref()
            .map(Rounds::parse)
            .transpose()?;
        let start = campaign.start.and_then(|d| local_midnight(d, tz));
        let end = campaign
            .end
            .and_then(|d| d.succ_opt())
            .and_then(|d| local_midnight(d, tz));
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
                return close(
                    "expired",
                    format!("the campaign ended ({})", local(end, self.tz)),
                );
            }
        }
        if self.call_before.is_some() && c.appointment_at.is_none() {
            // A reminder needs an appointment; the import rejects such rows, this is the guard.
            return close("expired", "no appointment to remind".into());
        }
        if let Some(app) = c.appointment_at {
            if now_ms >= app {
                return close(
                    "expired",
                    format!(
                        "the appointment ({}) has passed",
                        local(at_ms(app), self.tz)
                    ),
                );
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
                return defer(
                    start,
                    format!("the campaign starts {}", local(start, self.tz)),
                );
            }
        }
        if let (Some(app), Some(before)) = (c.appointment_at, self.call_before) {
            let due = app - before.as_millis() as i64;
            if now_ms < due {
                return defer(
                    at_ms(due),
                    format!("the reminder is due {}", local(at_ms(due), first_zone)),
                );
            }
        }
        if let Some(r) = &self.rounds {
            if !r.is_open(now, self.tz) {
                return match r.next_fire(now, self.tz) {
                    Some(t) => defer(
                        t,
                        format!("round not open yet: next round {}", local(t, self.tz)),
                    ),
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
                zones
                    .iter()
                    .map(|z| z.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            self.window.explain_closed(now, first_zone)
        };
        match self.window.next_open_all(now, &zones) {
            Some(t) if t - now < chrono::Duration::days(HORIZON_DAYS) => {
                let next = defer(t, format!("{why}; next window {}", local(t, first_zone)));
                // Never past the end of the campaign or the appointment.
                let deadline = [self.end.map(ms), c.appointment_at]
                    .into_iter()
                    .flatten()
                    .min();
                match deadline {
                    Some(d) if ms(t) >= d => close(
                        "expired",
                        format!("{why}, and no window opens before the deadline"),
                    ),
                    _ => next,
                }
            }
            _ => close(
                "expired",
                format!("{why}, and no calling window opens in the next {HORIZON_DAYS} days"),
            ),
        }
    }

    fn dnc_gate(&self, d: &DncEntry, now: DateTime<Utc>, zones: &[Tz], zone: Tz) -> Option<Gate> {
        if d.until_date.is_none() && d.hours.is_none() {
            return Some(Gate::Close {
                state: "blocked".into(),
                note: format!("on the do-not-call list ({})", d.source),
            });
        }
        if let Some(until) = d
            .until_date
            .as_deref()
            .and_then(|u| chrono::NaiveDate::parse_from_str(u, "%Y-%m-%d").ok())
        {
            // Blocked through that local date, in the callee's zone.
            if now.with_timezone(&zone).date_naive() <= until {
                let free = until.succ_opt().and_then(|n| local_midnight(n, zone))?;
                return Some(Gate::Defer {
                    until: ms(free),
                    note: format!("on the do-not-call list until {until} ({})", d.source),
                });
            }
        }
        let h = d.hours.as_ref()?;
        let lines: Vec<String> = h.split('|').map(str::to_string).collect();
        let blocked = CallingWindow {
            hours: WeeklyHours::parse(&lines).ok()?,
            holidays: Holidays::default(),
        };
        // Blocked while the do-not-call hours hold in any of the callee's possible zones.
        let until = zones
            .iter()
            .filter_map(|z| blocked.open_until(now, *z))
            .max()?;
        Some(Gate::Defer {
            until: ms(until),
            note: format!("do-not-call hours {h} ({})", d.source),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use proptest::prelude::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn plan(extra: &str) -> CampaignPlan {
        let text = format!("kind = \"announcement\"\ncaller_id = \"+34910000000\"\n{extra}\n[announcement]\nmessage = \"x\"\n");
        let c = Campaign::parse("c", Path::new("c"), Path::new("c/campaign.toml"), &text).unwrap();
        CampaignPlan::build(&c, &CallingConfig::default(), utc("2026-06-01T00:00:00Z")).unwrap()
    }

    fn cand(phone: &str) -> Candidate {
        Candidate {
            contact_id: 1,
            phone: phone.into(),
            timezone: None,
            appointment_at: None,
            dnc: None,
            vars: String::new(),
        }
    }

    fn dnc(until: Option<&str>, hours: Option<&str>) -> Option<DncEntry> {
        Some(DncEntry {
            phone: "+34910000001".into(),
            until_date: until.map(str::to_string),
            hours: hours.map(str::to_string),
            source: "cli".into(),
        })
    }

    // Tuesday 24 Nov 2026, 11:00 in Madrid.
    const TUE_11: &str = "2026-11-24T10:00:00Z";

    #[test]
    fn default_hours_hold_in_the_callee_zone() {
        let p = plan("");
        let t = utc("2026-11-24T08:30:00Z").timestamp_millis(); // 09:30 Madrid, 08:30 Canary
        assert_eq!(p.gate(&cand("+34910000001"), t), Gate::Launch);
        match p.gate(&cand("+34928000002"), t) {
            Gate::Defer { until, note } => {
                assert_eq!(until, utc("2026-11-24T09:00:00Z").timestamp_millis());
                assert!(note.contains("Atlantic/Canary"), "{note}");
            }
            g => panic!("{g:?}"),
        }
        assert!(
            matches!(p.gate(&cand("+34600000003"), t), Gate::Defer { .. }),
            "a mobile could be in the Canaries"
        );
    }

    #[test]
    fn holidays_and_weekends_defer() {
        let p = plan("");
        // Tuesday 8 Dec 2026 is a national holiday: next window Wednesday 09:00.
        match p.gate(
            &cand("+34910000001"),
            utc("2026-12-08T10:00:00Z").timestamp_millis(),
        ) {
            Gate::Defer { until, note } => {
                assert_eq!(until, utc("2026-12-09T08:00:00Z").timestamp_millis());
                assert!(note.contains("holiday"), "{note}");
            }
            g => panic!("{g:?}"),
        }
    }

    #[test]
    fn do_not_call_entries_block_for_good_until_a_date_or_during_hours() {
        let p = plan("");
        let t = utc(TUE_11).timestamp_millis();
        let mut c = cand("+34910000001");
        c.dnc = dnc(None, None);
        assert!(matches!(p.gate(&c, t), Gate::Close { ref state, .. } if state == "blocked"));
        c.dnc = dnc(Some("2026-11-30"), None);
        assert_eq!(
            p.gate(&c, t),
            Gate::Defer {
                until: utc("2026-11-30T23:00:00Z").timestamp_millis(),
                note: "on the do-not-call list until 2026-11-30 (cli)".into()
            }
        );
        c.dnc = dnc(Some("2026-11-01"), None);
        assert_eq!(
            p.gate(&c, t),
            Gate::Launch,
            "an expired entry no longer blocks"
        );
        c.dnc = dnc(None, Some("mon-fri 09:00-14:00"));
        assert!(
            matches!(p.gate(&c, t), Gate::Defer { until, .. } if until == utc("2026-11-24T13:00:00Z").timestamp_millis())
        );
        assert_eq!(
            p.gate(&c, utc("2026-11-24T14:00:00Z").timestamp_millis()),
            Gate::Launch
        );
    }

    #[test]
    fn reminders_wait_for_their_time_and_never_call_after_the_appointment() {
        let text = "kind = \"reminder\"\ncaller_id = \"+34910000000\"\n[reminder]\nmessage = \"x\"\ncall_before = \"24h\"\n";
        let c = Campaign::parse("r", Path::new("r"), Path::new("r/campaign.toml"), text).unwrap();
        let p = CampaignPlan::build(&c, &CallingConfig::default(), utc(TUE_11)).unwrap();
        let mut k = cand("+34910000001");
        k.appointment_at = Some(utc("2026-11-26T10:00:00Z").timestamp_millis());
        match p.gate(&k, utc(TUE_11).timestamp_millis()) {
            Gate::Defer { until, .. } => {
                assert_eq!(until, utc("2026-11-25T10:00:00Z").timestamp_millis())
            }
            g => panic!("{g:?}"),
        }
        assert_eq!(
            p.gate(&k, utc("2026-11-25T10:00:00Z").timestamp_millis()),
            Gate::Launch
        );
        assert!(
            matches!(p.gate(&k, utc("2026-11-26T10:00:00Z").timestamp_millis()), Gate::Close { ref state, .. } if state == "expired")
        );
    }

    #[test]
    fn start_end_and_rounds() {
        let p = plan("start = \"2026-11-25\"\nend = \"2026-11-27\"\nschedule = \"0 10 * * *\"");
        let c = cand("+34910000001");
        assert!(
            matches!(p.gate(&c, utc(TUE_11).timestamp_millis()), Gate::Defer { until, .. } if until == utc("2026-11-24T23:00:00Z").timestamp_millis())
        );
        // Wednesday 09:30: started, but the round opens at 10:00.
        assert!(
            matches!(p.gate(&c, utc("2026-11-25T08:30:00Z").timestamp_millis()), Gate::Defer { until, ref note } if until == utc("2026-11-25T09:00:00Z").timestamp_millis() && note.contains("round"))
        );
        assert_eq!(
            p.gate(&c, utc("2026-11-25T09:00:00Z").timestamp_millis()),
            Gate::Launch
        );
        assert!(
            matches!(p.gate(&c, utc("2026-11-27T23:00:00Z").timestamp_millis()), Gate::Close { ref state, .. } if state == "expired")
        );
        assert_eq!(
            p.campaign_status(utc("2026-11-28T10:00:00Z")).as_deref(),
            Some("ended")
        );
    }

    #[test]
    fn bad_hours_name_the_key() {
        let text = "kind = \"announcement\"\ncaller_id = \"1\"\nhours = [\"mon-fry 10:00-15:00\"]\n[announcement]\nmessage = \"x\"\n";
        let c = Campaign::parse("c", Path::new("c"), Path::new("c/campaign.toml"), text).unwrap();
        let e = CampaignPlan::build(&c, &CallingConfig::default(), utc(TUE_11)).unwrap_err();
        assert!(e.contains("fry"), "{e}");
    }

    fn phone_strategy() -> impl Strategy<Value = (String, Option<String>)> {
        prop_oneof![
            (910000000u32..919999999).prop_map(|n| (format!("+34{n}"), None)),
            (928000000u32..928999999).prop_map(|n| (format!("+34{n}"), None)),
            (922000000u32..922999999).prop_map(|n| (format!("+34{n}"), None)),
            (600000000u32..699999999).prop_map(|n| (format!("+34{n}"), None)),
            (600000000u32..699999999)
                .prop_map(|n| (format!("+34{n}"), Some("America/New_York".to_string()))),
            (100000000u32..199999999).prop_map(|n| (format!("+33{n}"), None)),
            (7400000000u64..7499999999).prop_map(|n| (format!("+44{n}"), None)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        /// Over two simulated years (both DST changes, holidays), random contacts, zones and
        /// windows: every launch the gate allows is inside the window in every zone the callee
        /// may be in, and every deferral points at an instant when the window is open there.
        #[test]
        fn no_launch_outside_the_callee_window(
            secs in 0i64..(2 * 365 * 86400),
            (phone, tz) in phone_strategy(),
            start_h in 6u32..12, len_h in 1u32..10, sat in proptest::bool::ANY,
            holiday_offset in 0i64..730,
        ) {
            let now = utc("2026-01-01T00:00:00Z") + chrono::Duration::seconds(secs);
            let mut hours = vec![format!("mon-fri {start_h:02}:00-{:02}:30", start_h + len_h)];
            if sat { hours.push("sat 10:00-14:00".into()); }
            let holiday = (utc("2026-01-01T12:00:00Z") + chrono::Duration::days(holiday_offset)).format("%Y-%m-%d").to_string();
            let p = plan(&format!("hours = {hours:?}\nholidays = [\"{holiday}\"]"));
            let c = Candidate { timezone: tz.clone(), ..cand(&phone) };
            let zones = callee_zone(&phone, tz.as_deref(), p.tz).zones();
            let check = |t: DateTime<Utc>| zones.iter().all(|z| {
                let local = t.with_timezone(z);
                let holiday_here = local.format("%Y-%m-%d").to_string() == holiday
                    || p.window.holidays.contains(local.date_naive());
                p.window.is_open(t, *z) && !holiday_here
            });
            match p.gate(&c, now.timestamp_millis()) {
                Gate::Launch => prop_assert!(check(now), "launched {phone} at {now} outside its window"),
                Gate::Defer { until, .. } => {
                    let t = at_ms(until);
                    prop_assert!(t > now);
                    prop_assert!(check(t), "deferred {phone} to {t}, which is outside its window");
                }
                Gate::Close { .. } => {}
            }
        }
    }
}
