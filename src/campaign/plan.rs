//! A campaign's schedule made concrete: its zone, calling window (weekly hours + holidays),
//! dialing rounds, start and end dates, and for reminders how long before the appointment the
//! call is due. [`CampaignPlan::gate`] is the one place that decides, for a due contact, whether
//! it may be launched now, must wait (and until when, and why), or will never be called.
//!
//! Guarantees (each tested): no launch outside the calling window in the callee's local time (in
//! every zone of the country when the callee's zone is unknown, or in the campaign's zone when
//! those zones share no window in the next 7 days); none on a holiday of the callee's region;
//! none outside an open round; none before `start` or after `end`; no reminder after its
//! appointment; no call to a number on the do-not-call list while its entry applies.
//!
//! It lives beside the campaign, not in `schedule`: it is built from a [`Campaign`] and judges
//! the store's candidates, while `schedule` stays below both (windows, rounds, zones, regions,
//! retries).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use chrono_tz::Tz;

use super::Campaign;
use crate::config::CallingConfig;
use crate::i18n::{Lang, Msg};
use crate::schedule::gate::{Candidate, DncEntry, Gate};
use crate::schedule::holidays::{Holidays, LocalDay, Observed};
use crate::schedule::regions::{self, Place, PlaceSource, Scope};
use crate::schedule::rounds::{local_midnight, Rounds};
use crate::schedule::window::{CallingWindow, WeeklyHours};
use crate::schedule::zones::callee_zone;
use crate::schedule::ContactState;

/// How far ahead the window search looks before giving up.
const HORIZON_DAYS: i64 = 400;
/// How far ahead a number that may be in several zones looks for a window common to all of
/// them before it is called in the campaign's zone instead.
pub const COMMON_WINDOW_DAYS: i64 = 7;

/// A campaign's schedule, ready to answer "may this contact be called now?".
#[derive(Debug, Clone)]
pub struct CampaignPlan {
    pub tz: Tz,
    /// The window of a callee whose region is unknown (`unknown_region`: national days, or
    /// every region's).
    pub window: CallingWindow,
    /// The window of each region (ISO 3166-2:ES code) with a built-in calendar, and of each
    /// province (postal-code number) that has local days of its own. Empty for calendars
    /// without regions.
    pub regional: HashMap<&'static str, CallingWindow>,
    pub provincial: HashMap<u8, CallingWindow>,
    /// The campaign's `holiday_region`: the region of callees with none of their own.
    pub holiday_region: Option<&'static str>,
    /// `unknown_region = "any"`: callees with no region observe every region's days.
    pub unknown_any: bool,
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

impl CampaignPlan {
    /// Builds the plan from the campaign and the `[calling]` defaults it overrides. Errors name
    /// the key at fault, in a sentence of the catalogue.
    pub fn build(
        campaign: &Campaign,
        calling: &CallingConfig,
        now: DateTime<Utc>,
    ) -> Result<CampaignPlan, Msg> {
        let tz_name = campaign.timezone.as_deref().unwrap_or(&calling.timezone);
        let tz: Tz = tz_name.parse().map_err(|_| {
            Msg::new("config.bad_timezone")
                .arg("key", "timezone")
                .arg("value", tz_name)
        })?;
        let hours = WeeklyHours::parse(campaign.hours.as_ref().unwrap_or(&calling.hours))?;
        let year = now.with_timezone(&tz).year();
        let years = year - 1..=year + 2;
        let calendar = campaign
            .holiday_calendar
            .as_deref()
            .unwrap_or(&calling.holiday_calendar);
        let unknown = campaign
            .unknown_region
            .as_deref()
            .unwrap_or(&calling.unknown_region);
        let unknown_observes = match unknown.trim().to_ascii_lowercase().as_str() {
            "national" => Observed::National,
            "any" => Observed::AnyRegion,
            _ => return Err(Msg::new("rule.unknown_region").arg("value", unknown)),
        };
        let holiday_region = match campaign
            .holiday_region
            .as_deref()
            .or(calling.holiday_region.as_deref())
        {
            None => None,
            Some(r) => Some(
                regions::scope_by_name(r)
                    .and_then(|s| s.region())
                    .ok_or_else(|| Msg::new("rule.holiday_region").arg("value", r))?,
            ),
        };
        let mut local_days = Vec::new();
        for (key, entries) in [
            ("[calling].holidays", Some(&calling.holidays)),
            ("holidays", campaign.holidays.as_ref()),
        ] {
            for entry in entries.into_iter().flatten() {
                local_days.push(
                    LocalDay::parse(entry)
                        .map_err(|e| Msg::new("error.in").arg("what", key).msg("error", e))?,
                );
            }
        }
        let with_local = |mut h: Holidays, applies: &dyn Fn(&Scope) -> bool| {
            for day in &local_days {
                if day.scope.as_ref().is_none_or(applies) {
                    h.add_local(day);
                }
            }
            CallingWindow {
                hours: hours.clone(),
                holidays: h,
            }
        };
        let calendar_of = |observed| {
            // The message names holiday_calendar itself.
            Holidays::calendar(calendar, observed, years.clone())
        };
        let any = unknown_observes == Observed::AnyRegion;
        let window = with_local(calendar_of(unknown_observes)?, &|_| any);
        let mut regional = HashMap::new();
        let mut provincial = HashMap::new();
        if calendar.trim().eq_ignore_ascii_case("es") {
            for (code, _, _) in regions::REGIONS {
                let h = calendar_of(Observed::Region(code))?;
                regional.insert(code, with_local(h, &|s| *s == Scope::Region(code)));
            }
            let provinces: BTreeMap<u8, ()> = local_days
                .iter()
                .filter_map(|d| match d.scope {
                    Some(Scope::Province(p)) => Some((p, ())),
                    _ => None,
                })
                .collect();
            for p in provinces.into_keys() {
                let region = regions::province_region(p).unwrap_or("MD");
                let h = calendar_of(Observed::Region(region))?;
                provincial.insert(
                    p,
                    with_local(h, &|s| {
                        *s == Scope::Province(p) || *s == Scope::Region(region)
                    }),
                );
            }
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
            window,
            regional,
            provincial,
            holiday_region,
            unknown_any: any,
            rounds,
            start,
            end,
            call_before: campaign.call_before,
        })
    }

    /// Whether the campaign as a whole is outside its schedule now, and why (for `campaigns`).
    /// Evaluated in the campaign's own zone. In English; [`Self::campaign_status_msg`] is the
    /// same in the reader's language.
    pub fn campaign_status(&self, now: DateTime<Utc>) -> Option<String> {
        self.campaign_status_msg(now).map(|m| Lang::En.render(&m))
    }

    /// [`Self::campaign_status`] as a catalogue message.
    pub fn campaign_status_msg(&self, now: DateTime<Utc>) -> Option<Msg> {
        if let Some(end) = self.end {
            if now >= end {
                return Some(Msg::new("why.ended"));
            }
        }
        if let Some(start) = self.start {
            if now < start {
                return Some(Msg::new("why.starts").time("at", start, self.tz));
            }
        }
        if let Some(r) = &self.rounds {
            if !r.is_open(now, self.tz) {
                return Some(match r.next_fire(now, self.tz) {
                    Some(t) => Msg::new("why.next_round").time("at", t, self.tz),
                    None => Msg::new("why.no_round"),
                });
            }
        }
        if !self.window.is_open(now, self.tz) {
            return Some(self.window.closed_msg(now, self.tz));
        }
        None
    }

    /// The verdict on a due contact at `now`. The note of a `Defer` or `Close` is a stored
    /// [`Msg`] (its key is the reason's stable identifier), shown with [`Lang::stored`].
    pub fn gate(&self, c: &Candidate, now_ms: i64) -> Gate {
        let now = at_ms(now_ms);
        let close = |state: ContactState, note: Msg| Gate::Close {
            state,
            note: note.to_stored(),
        };
        let defer = |until: DateTime<Utc>, note: Msg| Gate::Defer {
            until: ms(until).max(now_ms + 1),
            note: note.to_stored(),
        };
        if let Some(end) = self.end {
            if now >= end {
                return close(
                    ContactState::Expired,
                    Msg::new("why.campaign_ended").time("at", end, self.tz),
                );
            }
        }
        if self.call_before.is_some() && c.appointment_at.is_none() {
            // A reminder needs an appointment; the import rejects such rows, this is the guard.
            return close(ContactState::Expired, Msg::new("why.no_appointment"));
        }
        if let Some(app) = c.appointment_at {
            if now_ms >= app {
                return close(
                    ContactState::Expired,
                    Msg::new("why.appointment_passed").time("at", at_ms(app), self.tz),
                );
            }
        }
        let place = self.place(&c.vars, &c.phone);
        let window = self.window_for(place.as_ref());
        let zones = callee_zone(&c.phone, c.timezone.as_deref(), self.tz).zones();
        let (zones, in_campaign_zone) = self.call_zones(window, zones, now);
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
                    Msg::new("why.campaign_starts").time("at", start, self.tz),
                );
            }
        }
        if let (Some(app), Some(before)) = (c.appointment_at, self.call_before) {
            let due = app - before.as_millis() as i64;
            if now_ms < due {
                return defer(
                    at_ms(due),
                    Msg::new("why.reminder_due").time("at", at_ms(due), first_zone),
                );
            }
        }
        if let Some(r) = &self.rounds {
            if !r.is_open(now, self.tz) {
                return match r.next_fire(now, self.tz) {
                    Some(t) => defer(t, Msg::new("why.round_not_open").time("at", t, self.tz)),
                    None => close(ContactState::Expired, Msg::new("why.no_round_ahead")),
                };
            }
        }
        if window.is_open_all(now, &zones) {
            return Gate::Launch;
        }
        let why = if let Some(h) = zones.iter().find_map(|z| {
            let day = now.with_timezone(z).date_naive();
            window.holidays.get(day).map(|h| (day, h, z))
        }) {
            let (day, h, z) = h;
            let region = match &place {
                Some(p) => Msg::new("why.callee_region").msg("place", p.describe_msg()),
                None => Msg::new("why.no_callee_region"),
            };
            Msg::new("why.holiday")
                .arg("day", day)
                .arg("zone", z.name())
                .msg("name", h.name_msg())
                .msg("scope", h.scope_msg())
                .msg("region", region)
        } else if zones.len() > 1 {
            Msg::new("why.zones_closed").arg(
                "zones",
                zones
                    .iter()
                    .map(|z| z.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        } else {
            window.closed_msg(now, first_zone)
        };
        let why = if in_campaign_zone {
            Msg::new("why.and")
                .msg("a", why)
                .msg("b", self.campaign_zone_msg(&c.phone, c.timezone.as_deref()))
        } else {
            why
        };
        match window.next_open_all(now, &zones) {
            Some(t) if t - now < chrono::Duration::days(HORIZON_DAYS) => {
                // Never past the end of the campaign or the appointment.
                let deadline = [self.end.map(ms), c.appointment_at]
                    .into_iter()
                    .flatten()
                    .min();
                match deadline {
                    Some(d) if ms(t) >= d => close(
                        ContactState::Expired,
                        Msg::new("why.no_window_before_deadline").msg("why", why),
                    ),
                    _ => defer(
                        t,
                        Msg::new("why.next_window")
                            .msg("why", why)
                            .time("at", t, first_zone),
                    ),
                }
            }
            _ => close(
                ContactState::Expired,
                Msg::new("why.no_window_ahead")
                    .msg("why", why)
                    .arg("days", HORIZON_DAYS),
            ),
        }
    }

    /// Why a number is called in the campaign's zone rather than its own possible zones.
    pub fn campaign_zone_msg(&self, phone: &str, timezone: Option<&str>) -> Msg {
        let names = callee_zone(phone, timezone, self.tz)
            .zones()
            .iter()
            .map(|z| z.name())
            .collect::<Vec<_>>()
            .join(", ");
        Msg::new("why.campaign_zone")
            .arg("zones", names)
            .arg("days", COMMON_WINDOW_DAYS)
            .arg("zone", self.tz.name())
    }

    /// For `explain`: the callee's region and where it came from, or what applies without one.
    pub fn holidays_msg(&self, vars_json: &str, phone: &str) -> Msg {
        if self.regional.is_empty() {
            return Msg::new("holidays.no_calendar");
        }
        match self.place(vars_json, phone) {
            Some(p) => Msg::new("holidays.region").msg("place", p.describe_msg()),
            None if self.unknown_any => Msg::new("holidays.unknown_any"),
            None => Msg::new("holidays.unknown_national"),
        }
    }

    /// The callee's place: from its CSV columns (stored as JSON) and its number, else the
    /// campaign's `holiday_region`. `None` when the calendar has no regions.
    pub fn place(&self, vars_json: &str, phone: &str) -> Option<Place> {
        if self.regional.is_empty() {
            return None;
        }
        regions::place_of_json(vars_json, phone).or_else(|| {
            self.holiday_region.map(|region| Place {
                region,
                province: None,
                source: PlaceSource::Campaign,
            })
        })
    }

    /// The calling window of a callee in `place` (its province's when it has local days of
    /// its own, else its region's, else the window of callees with no region).
    pub fn window_for(&self, place: Option<&Place>) -> &CallingWindow {
        place
            .and_then(|p| {
                p.province
                    .and_then(|pr| self.provincial.get(&pr))
                    .or_else(|| self.regional.get(p.region))
            })
            .unwrap_or(&self.window)
    }

    /// The zones a call at `now` must be inside the window of: every zone the number may be
    /// in when their windows meet within the next [`COMMON_WINDOW_DAYS`] days, else the
    /// campaign's zone alone (the second value then says so).
    pub fn call_zones(
        &self,
        window: &CallingWindow,
        zones: Vec<Tz>,
        now: DateTime<Utc>,
    ) -> (Vec<Tz>, bool) {
        if zones.len() <= 1 || window.is_open_all(now, &zones) {
            return (zones, false);
        }
        match window.next_open_all(now, &zones) {
            Some(t) if t - now <= chrono::Duration::days(COMMON_WINDOW_DAYS) => (zones, false),
            _ => (vec![self.tz], true),
        }
    }

    fn dnc_gate(&self, d: &DncEntry, now: DateTime<Utc>, zones: &[Tz], zone: Tz) -> Option<Gate> {
        if d.until_date.is_none() && d.hours.is_none() {
            return Some(Gate::Close {
                state: ContactState::Blocked,
                note: Msg::new("why.dnc").arg("source", &d.source).to_stored(),
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
                    note: Msg::new("why.dnc_until")
                        .arg("until", until)
                        .arg("source", &d.source)
                        .to_stored(),
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
            note: Msg::new("why.dnc_hours")
                .arg("hours", h)
                .arg("source", &d.source)
                .to_stored(),
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
            vars: "{}".into(),
            dnc: None,
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
                let note = Lang::En.stored(&note);
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
                let note = Lang::En.stored(&note);
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
        assert!(matches!(
            p.gate(&c, t),
            Gate::Close {
                state: ContactState::Blocked,
                ..
            }
        ));
        c.dnc = dnc(Some("2026-11-30"), None);
        assert_eq!(
            p.gate(&c, t),
            Gate::Defer {
                until: utc("2026-11-30T23:00:00Z").timestamp_millis(),
                note: Msg::new("why.dnc_until")
                    .arg("until", "2026-11-30")
                    .arg("source", "cli")
                    .to_stored()
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
        assert!(matches!(
            p.gate(&k, utc("2026-11-26T10:00:00Z").timestamp_millis()),
            Gate::Close {
                state: ContactState::Expired,
                ..
            }
        ));
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
            matches!(p.gate(&c, utc("2026-11-25T08:30:00Z").timestamp_millis()), Gate::Defer { until, ref note } if until == utc("2026-11-25T09:00:00Z").timestamp_millis() && Lang::En.stored(note).contains("round"))
        );
        assert_eq!(
            p.gate(&c, utc("2026-11-25T09:00:00Z").timestamp_millis()),
            Gate::Launch
        );
        assert!(matches!(
            p.gate(&c, utc("2026-11-27T23:00:00Z").timestamp_millis()),
            Gate::Close {
                state: ContactState::Expired,
                ..
            }
        ));
        assert_eq!(
            p.campaign_status(utc("2026-11-28T10:00:00Z")).as_deref(),
            Some("ended")
        );
    }

    fn cand_in(phone: &str, vars: &str) -> Candidate {
        Candidate {
            vars: vars.into(),
            ..cand(phone)
        }
    }

    #[test]
    fn reasons_are_stored_by_key_and_read_in_either_language() {
        let p = plan("");
        // Tuesday 8 Dec 2026 is a national holiday; a Madrid landline, at 11:00.
        let t = utc("2026-12-08T10:00:00Z").timestamp_millis();
        let Gate::Defer { note, .. } = p.gate(&cand("+34910000001"), t) else {
            panic!("deferred");
        };
        let stored = Msg::from_stored(&note).expect("a stored message");
        assert_eq!(stored.key, "why.next_window", "{note}");
        assert_eq!(
            Lang::Es.stored(&note),
            "festivo el 2026-12-08 en Europe/Madrid: Inmaculada Concepción (ES; región del destinatario: MD (Madrid, por el prefijo del fijo)); próxima franja el mié 09 dic 2026 09:00 (Europe/Madrid)"
        );
        assert_eq!(
            Lang::En.stored(&note),
            "holiday 2026-12-08 in Europe/Madrid: Inmaculada Concepción (ES; the callee's region MD (Madrid, from the landline's prefix)); next window Wed 09 Dec 2026 09:00 (Europe/Madrid)"
        );
        // Text that is not a stored message (rows written before) is shown as it is.
        assert_eq!(
            Lang::Es.stored("outside calling hours"),
            "outside calling hours"
        );
        // The campaign as a whole, for `campaigns` and the dashboard.
        let night = utc("2026-11-24T22:00:00Z");
        assert_eq!(
            Lang::Es.render(&p.campaign_status_msg(night).unwrap()),
            "fuera de horario hasta mié 09:00 (Europe/Madrid)"
        );
        assert_eq!(
            p.campaign_status(night).unwrap(),
            "outside calling hours until Wed 09:00 (Europe/Madrid)"
        );
    }

    #[test]
    fn holidays_of_the_callee_region_defer_and_say_which_and_why() {
        let p = plan("");
        // Friday 11 September 2026, 10:00 in Madrid: Catalonia's national day.
        let t = utc("2026-09-11T08:00:00Z").timestamp_millis();
        assert_eq!(p.gate(&cand("+34914000000"), t), Gate::Launch);
        // Monday 09:00, in Madrid for landlines and in the Canaries too for mobiles.
        let (landline, mobile) = ("2026-09-14T07:00:00Z", "2026-09-14T08:00:00Z");
        for (c, next) in [
            (cand("+34932000000"), landline),
            (
                cand_in("+34600000000", r#"{"provincia":"BARCELONA"}"#),
                mobile,
            ),
            (
                cand_in("+34600000000", r#"{"codigo_postal":"08001"}"#),
                mobile,
            ),
            (
                cand_in("+34914000000", r#"{"comunidad":"Cataluña"}"#),
                landline,
            ),
        ] {
            match p.gate(&c, t) {
                Gate::Defer { until, note } => {
                    let note = Lang::En.stored(&note);
                    assert_eq!(until, utc(next).timestamp_millis(), "{c:?}");
                    assert!(note.contains("Fiesta Nacional de Cataluña"), "{note}");
                    assert!(note.contains("the callee's region CT"), "{note}");
                }
                g => panic!("{c:?}: {g:?}"),
            }
        }
        // No region known: national days only (the default) or every region's.
        assert_eq!(p.gate(&cand("+34600000000"), t), Gate::Launch);
        let any = plan("unknown_region = \"any\"");
        assert!(matches!(
            any.gate(&cand("+34600000000"), t),
            Gate::Defer { .. }
        ));
        // The campaign's region for callees with none of their own.
        let ct = plan("holiday_region = \"Catalunya\"");
        match ct.gate(&cand("+34600000000"), t) {
            Gate::Defer { note, .. } => {
                let note = Lang::En.stored(&note);
                assert!(note.contains("the campaign's holiday_region"), "{note}")
            }
            g => panic!("{g:?}"),
        }
        assert_eq!(ct.gate(&cand("+34914000000"), t), Gate::Launch);
        // Monday 2 November 2026: All Saints' moved from the Sunday in Madrid, not Catalonia.
        let t = utc("2026-11-02T10:00:00Z").timestamp_millis();
        assert!(matches!(
            p.gate(&cand("+34914000000"), t),
            Gate::Defer { .. }
        ));
        assert_eq!(p.gate(&cand("+34932000000"), t), Gate::Launch);
        // Holy Thursday 2026: everywhere but Catalonia and Valencia.
        let t = utc("2026-04-02T10:00:00Z").timestamp_millis();
        assert!(matches!(
            p.gate(&cand("+34954000000"), t),
            Gate::Defer { .. }
        ));
        assert_eq!(p.gate(&cand("+34963000000"), t), Gate::Launch);
    }

    #[test]
    fn local_days_for_a_region_or_a_province() {
        let p = plan("holidays = [\"2026-09-24 Barcelona\", \"2026-05-15 MD\", \"2026-06-05\"]");
        let at = |s| utc(s).timestamp_millis();
        let deferred = |c: &Candidate, t| matches!(p.gate(c, t), Gate::Defer { .. });
        // Thursday 24 September: La Mercè in the province of Barcelona only.
        let t = at("2026-09-24T10:00:00Z");
        assert!(deferred(&cand("+34932000000"), t));
        assert!(!deferred(&cand("+34972000000"), t), "Girona");
        assert!(!deferred(&cand("+34914000000"), t));
        // Friday 15 May: San Isidro for the Madrid region.
        let t = at("2026-05-15T10:00:00Z");
        assert!(deferred(&cand("+34914000000"), t));
        assert!(!deferred(&cand("+34932000000"), t));
        assert!(
            !deferred(&cand("+34600000000"), t),
            "no region: not Madrid's day"
        );
        // Friday 5 June: for everyone.
        let t = at("2026-06-05T10:00:00Z");
        for phone in ["+34914000000", "+34932000000", "+34600000000"] {
            assert!(deferred(&cand(phone), t), "{phone}");
        }
        let text = "kind = \"announcement\"\ncaller_id = \"1\"\nholidays = [\"2026-05-15 Narnia\"]\n[announcement]\nmessage = \"x\"\n";
        let c = Campaign::parse("c", Path::new("c"), Path::new("c/campaign.toml"), text).unwrap();
        let e = CampaignPlan::build(&c, &CallingConfig::default(), utc(TUE_11)).unwrap_err();
        let (en, es) = (Lang::En.render(&e), Lang::Es.render(&e));
        assert!(
            en.starts_with("holidays: holidays \"2026-05-15 Narnia\""),
            "{en}"
        );
        assert!(
            es.contains("\"Narnia\" no es una comunidad autónoma"),
            "{es}"
        );
        for bad in ["holiday_region = \"XX\"", "unknown_region = \"all\""] {
            let text = format!("kind = \"announcement\"\ncaller_id = \"1\"\n{bad}\n[announcement]\nmessage = \"x\"\n");
            let c =
                Campaign::parse("c", Path::new("c"), Path::new("c/campaign.toml"), &text).unwrap();
            let e = CampaignPlan::build(&c, &CallingConfig::default(), utc(TUE_11)).unwrap_err();
            let e = Lang::En.render(&e);
            assert!(e.contains(bad.split(' ').next().unwrap()), "{e}");
        }
    }

    #[test]
    fn a_mobile_whose_zones_share_no_window_is_called_in_the_campaign_zone() {
        // 20:00-21:00 in Madrid is 19:00-20:00 in the Canaries: never both at once.
        let p = plan("hours = [\"mon-fri 20:00-21:00\"]");
        let mobile = cand("+34600000000");
        // Tuesday 24 Nov 2026, 11:00 Madrid: waits for 20:00 Madrid, never expires.
        match p.gate(&mobile, utc(TUE_11).timestamp_millis()) {
            Gate::Defer { until, note } => {
                let note = Lang::En.stored(&note);
                assert_eq!(until, utc("2026-11-24T19:00:00Z").timestamp_millis());
                assert!(
                    note.contains("called in the campaign's zone (Europe/Madrid)"),
                    "{note}"
                );
                assert!(note.contains("Europe/Madrid, Atlantic/Canary"), "{note}");
            }
            g => panic!("{g:?}"),
        }
        assert_eq!(
            p.gate(&mobile, utc("2026-11-24T19:30:00Z").timestamp_millis()),
            Gate::Launch
        );
        // A Canary landline pins its zone: 20:00 there.
        assert!(matches!(
            p.gate(&cand("+34928000000"), utc("2026-11-24T19:30:00Z").timestamp_millis()),
            Gate::Defer { until, .. } if until == utc("2026-11-24T20:00:00Z").timestamp_millis()
        ));
        // Hours the two zones share: the intersection, as before.
        let p = plan("hours = [\"mon-fri 20:00-22:00\"]");
        assert!(matches!(
            p.gate(&mobile, utc("2026-11-24T19:30:00Z").timestamp_millis()),
            Gate::Defer { until, .. } if until == utc("2026-11-24T20:00:00Z").timestamp_millis()
        ));
        assert_eq!(
            p.gate(&mobile, utc("2026-11-24T20:30:00Z").timestamp_millis()),
            Gate::Launch
        );
    }

    #[test]
    fn bad_hours_name_the_key() {
        let text = "kind = \"announcement\"\ncaller_id = \"1\"\nhours = [\"mon-fry 10:00-15:00\"]\n[announcement]\nmessage = \"x\"\n";
        let c = Campaign::parse("c", Path::new("c"), Path::new("c/campaign.toml"), text).unwrap();
        let e = CampaignPlan::build(&c, &CallingConfig::default(), utc(TUE_11)).unwrap_err();
        let en = Lang::En.render(&e);
        assert!(en.contains("\"fry\" is not a day"), "{en}");
        let es = Lang::Es.render(&e);
        assert!(
            es.contains("horario \"mon-fry 10:00-15:00\": \"fry\" no es un día"),
            "{es}"
        );
    }

    #[test]
    fn an_unknown_calendar_is_named_once() {
        let text = "kind = \"announcement\"\ncaller_id = \"1\"\nholiday_calendar = \"XX\"\n[announcement]\nmessage = \"x\"\n";
        let c = Campaign::parse("c", Path::new("c"), Path::new("c/campaign.toml"), text).unwrap();
        let e = CampaignPlan::build(&c, &CallingConfig::default(), utc(TUE_11)).unwrap_err();
        let e = Lang::En.render(&e);
        assert_eq!(e.matches("holiday_calendar").count(), 1, "{e}");
    }
    /// `provincia` values and the regions they are in.
    const REGION_VALUES: [&str; 6] = [
        "Barcelona",
        "sevilla",
        "Illes Balears",
        "VALENCIA",
        "Las Palmas",
        "Bizkaia",
    ];
    const REGION_CODES: [&str; 6] = ["CT", "AN", "IB", "VC", "CN", "PV"];

    fn phone_strategy() -> impl Strategy<Value = (String, Option<String>)> {
        prop_oneof![
            (910000000u32..919999999).prop_map(|n| (format!("+34{n}"), None)),
            (928000000u32..928999999).prop_map(|n| (format!("+34{n}"), None)),
            (922000000u32..922999999).prop_map(|n| (format!("+34{n}"), None)),
            (600000000u32..699999999).prop_map(|n| (format!("+34{n}"), None)),
            (600000000u32..699999999)
                .prop_map(|n| (format!("+34{n}"), Some("America/New_York".to_string()))),
            (932000000u32..932999999).prop_map(|n| (format!("+34{n}"), None)),
            (954000000u32..954999999).prop_map(|n| (format!("+34{n}"), None)),
            (971000000u32..971999999).prop_map(|n| (format!("+34{n}"), None)),
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
            late in proptest::bool::ANY,
            holiday_offset in 0i64..730,
            column in proptest::option::of(0usize..REGION_VALUES.len()),
            unknown_any in proptest::bool::ANY,
        ) {
            let now = utc("2026-01-01T00:00:00Z") + chrono::Duration::seconds(secs);
            // `late`: an evening window the Madrid and Canary zones never share.
            let mut hours = if late {
                vec!["mon-fri 20:00-21:00".to_string()]
            } else {
                vec![format!("mon-fri {start_h:02}:00-{:02}:30", start_h + len_h)]
            };
            if sat { hours.push("sat 10:00-14:00".into()); }
            let holiday = (utc("2026-01-01T12:00:00Z") + chrono::Duration::days(holiday_offset)).format("%Y-%m-%d").to_string();
            let unknown = if unknown_any { "any" } else { "national" };
            let p = plan(&format!("hours = {hours:?}\nholidays = [\"{holiday}\"]\nunknown_region = \"{unknown}\""));
            let vars = match column {
                Some(i) => format!("{{\"provincia\":\"{}\"}}", REGION_VALUES[i]),
                None => "{}".to_string(),
            };
            let c = Candidate { timezone: tz.clone(), vars: vars.clone(), ..cand(&phone) };
            // The region's calendar, computed here from the built-in table independently of
            // the plan's windows.
            let region = column
                .map(|i| REGION_CODES[i])
                .or_else(|| regions::province_of_phone(&phone).and_then(regions::province_region));
            let observed = match region {
                Some(r) => Observed::Region(r),
                None if unknown_any => Observed::AnyRegion,
                None => Observed::National,
            };
            let mut calendar = Holidays::calendar("ES", observed, 2025..=2028).unwrap();
            calendar.with_extra(std::slice::from_ref(&holiday)).unwrap();
            let zones = callee_zone(&phone, tz.as_deref(), p.tz).zones();
            let reference = CallingWindow { hours: WeeklyHours::parse(&hours).unwrap(), holidays: calendar };
            // Whether the zones share a window is decided when the gate runs (`now`): a
            // deferral is the instant to ask again, and the gate asked then decides afresh.
            let common = zones.len() <= 1
                || reference.next_open_all(now, &zones).is_some_and(|n| n - now <= chrono::Duration::days(COMMON_WINDOW_DAYS));
            let check = |t: DateTime<Utc>| {
                let zs = if common { zones.clone() } else { vec![p.tz] };
                zs.iter().all(|z| reference.is_open(t, *z))
            };
            match p.gate(&c, now.timestamp_millis()) {
                Gate::Launch => prop_assert!(check(now), "launched {phone} ({vars}) at {now} outside its window"),
                Gate::Defer { until, .. } => {
                    let t = at_ms(until);
                    prop_assert!(t > now);
                    prop_assert!(check(t), "deferred {phone} ({vars}) to {t}, which is outside its window");
                }
                Gate::Close { state, note } => prop_assert!(false, "closed {phone} {state}: {note}"),
            }
        }
    }
}
