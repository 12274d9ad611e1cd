//! Calling windows: when a callee may be rung, in the callee's own local time.
//!
//! A window is weekly hours (`"mon-fri 09:00-21:00"`) minus holidays. Everything is computed
//! from UTC instants converted to the callee's wall clock, never by adding 24-hour days, so it
//! is DST-correct both ways: wall times skipped in spring do not exist (a range that starts in
//! the gap opens at the first instant after it), and wall times repeated in autumn are inside a
//! range both times they occur. `next_open` and `open_until` are exact to the second and agree
//! with `is_open`; searches look at most 400 days ahead.

use super::holidays::Holidays;
use chrono::{
    DateTime, Datelike, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Timelike, Utc,
    Weekday,
};
use chrono_tz::Tz;

use crate::i18n::{Lang, Msg};

/// How far `next_open` and friends search.
const HORIZON: TimeDelta = TimeDelta::days(400);
/// Searches walk time in chunks of this length at most.
const CHUNK: TimeDelta = TimeDelta::days(7);
/// Offset changes are looked for at this step. Assumes a zone never changes its UTC offset
/// and changes it back within one step, which holds for every zone in the tz database.
const PROBE: TimeDelta = TimeDelta::hours(6);

const DAY_NAMES: &str = "mon, tue, wed, thu, fri, sat, sun";

/// Weekly calling hours: for each weekday, sorted disjoint ranges of local wall time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeeklyHours {
    /// Indexed by days from Monday; `(start, end)` in minutes after local midnight, end
    /// exclusive, `end <= 1440`.
    days: [Vec<(u32, u32)>; 7],
}

impl WeeklyHours {
    /// Parses `hours` lines, each `"DAYS HH:MM-HH:MM"`: DAYS is a day (`mon`, `lun`…), a range
    /// (`mon-fri`, `fri-mon` wraps) or a comma list of either; `24:00` may end a range. Ranges
    /// cannot cross midnight. Overlapping ranges are merged; no lines means never open.
    pub fn parse(lines: &[String]) -> Result<WeeklyHours, Msg> {
        let mut hours = WeeklyHours::default();
        for line in lines {
            let (days, start, end) = parse_line(line)
                .map_err(|what| Msg::new("hours.line").arg("line", line).msg("error", what))?;
            for (day, on) in days.iter().enumerate() {
                if *on {
                    hours.days[day].push((start, end));
                }
            }
        }
        for ranges in &mut hours.days {
            ranges.sort_unstable();
            let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
            for &(s, e) in ranges.iter() {
                match merged.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => merged.push((s, e)),
                }
            }
            *ranges = merged;
        }
        Ok(hours)
    }

    /// The ranges of a weekday: `(start, end)` minutes after local midnight, end exclusive.
    pub fn ranges(&self, day: Weekday) -> &[(u32, u32)] {
        &self.days[day.num_days_from_monday() as usize]
    }

    /// True when no day has any range: the window never opens.
    pub fn is_empty(&self) -> bool {
        self.days.iter().all(Vec::is_empty)
    }

    fn contains(&self, day: Weekday, second_of_day: u32) -> bool {
        self.ranges(day)
            .iter()
            .any(|&(s, e)| s * 60 <= second_of_day && second_of_day < e * 60)
    }
}

fn parse_line(line: &str) -> Result<([bool; 7], u32, u32), Msg> {
    let expected = || Msg::new("hours.expected");
    let text = line.trim();
    let split = text
        .find(|c: char| c.is_ascii_digit())
        .ok_or_else(expected)?;
    let (days_text, times_text) = text.split_at(split);
    let days_text: String = days_text
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if days_text.is_empty() {
        return Err(expected());
    }
    let mut days = [false; 7];
    for item in days_text.split(',') {
        let (first, last) = match item.split_once('-') {
            Some((a, b)) => (day_index(a)?, day_index(b)?),
            None => (day_index(item)?, day_index(item)?),
        };
        // `fri-mon` wraps over the weekend.
        let mut d = first;
        loop {
            days[d] = true;
            if d == last {
                break;
            }
            d = (d + 1) % 7;
        }
    }
    let times: String = times_text.chars().filter(|c| !c.is_whitespace()).collect();
    let (start, end) = times.split_once('-').ok_or_else(expected)?;
    let (start_min, end_min) = (minutes(start)?, minutes(end)?);
    if start_min >= end_min {
        return Err(Msg::new("hours.backwards")
            .arg("start", start)
            .arg("end", end));
    }
    Ok((days, start_min, end_min))
}

fn day_index(name: &str) -> Result<usize, Msg> {
    Ok(match name {
        "mon" | "monday" | "lun" | "lunes" => 0,
        "tue" | "tuesday" | "mar" | "martes" => 1,
        "wed" | "wednesday" | "mie" | "mié" | "miercoles" | "miércoles" => 2,
        "thu" | "thursday" | "jue" | "jueves" => 3,
        "fri" | "friday" | "vie" | "viernes" => 4,
        "sat" | "saturday" | "sab" | "sáb" | "sabado" | "sábado" => 5,
        "sun" | "sunday" | "dom" | "domingo" => 6,
        _ => {
            return Err(Msg::new("hours.not_a_day")
                .arg("value", name)
                .arg("days", DAY_NAMES))
        }
    })
}

/// `HH:MM` (or `H:MM`) to minutes after midnight; `24:00` is 1440.
fn minutes(text: &str) -> Result<u32, Msg> {
    let bad = || Msg::new("hours.not_a_time").arg("value", text);
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(matches!(h.len(), 1 | 2) && m.len() == 2 && digits(h) && digits(m)) {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m < 60 && (h < 24 || (h, m) == (24, 0)) {
        Ok(h * 60 + m)
    } else {
        Err(bad())
    }
}

/// Weekly hours and holidays, evaluated in the callee's local time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallingWindow {
    pub hours: WeeklyHours,
    pub holidays: Holidays,
}

impl CallingWindow {
    /// Whether a call may be placed at `at` to someone in `tz`: the local wall time is inside
    /// a range of its weekday and the local date is not a holiday.
    pub fn is_open(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        let Some(local) = local_time(at, tz) else {
            return false;
        };
        !self.holidays.contains(local.date())
            && self
                .hours
                .contains(local.weekday(), local.num_seconds_from_midnight())
    }

    /// The earliest instant `>= from` at which the window is open in `tz` (`from` itself when
    /// open), or `None` when it does not open within 400 days.
    pub fn next_open(&self, from: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        self.first_piece(from, tz, horizon(from)).map(|(s, _)| s)
    }

    /// When the open stretch containing `at` closes (the first closed instant after it), or
    /// `None` when closed at `at`. A window open for 400 days straight reports that limit.
    pub fn open_until(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        if !self.is_open(at, tz) {
            return None;
        }
        let limit = horizon(at);
        let mut end = at;
        // Pieces end at range ends, offset changes and chunk edges; keep going while the
        // window is still open where one ends (e.g. 20:00-24:00 then 00:00-01:00).
        while end < limit && self.is_open(end, tz) {
            match self.first_piece(end, tz, limit) {
                Some((_, e)) => end = e,
                None => break,
            }
        }
        Some(end)
    }

    /// Whether the window is open in every zone at once (false for no zones: a callee is
    /// always somewhere).
    pub fn is_open_all(&self, at: DateTime<Utc>, zones: &[Tz]) -> bool {
        !zones.is_empty() && zones.iter().all(|tz| self.is_open(at, *tz))
    }

    /// The earliest instant `>= from` at which the window is open in every zone at once.
    pub fn next_open_all(&self, from: DateTime<Utc>, zones: &[Tz]) -> Option<DateTime<Utc>> {
        if zones.is_empty() {
            return None;
        }
        let limit = horizon(from);
        let mut t = from;
        // Each zone's next opening is a lower bound of the answer; move to the latest of them
        // until all agree.
        loop {
            let mut latest = t;
            for tz in zones {
                latest = latest.max(self.first_piece(t, *tz, limit)?.0);
            }
            if latest == t {
                return Some(t);
            }
            t = latest;
        }
    }

    /// One line for operators on why a call to someone in `tz` is not placed at `at` and until
    /// when: `outside calling hours until 10:00 (Europe/Madrid)`,
    /// `holiday (2026-12-08) until Wed 09:00 (Atlantic/Canary)`. In English; [`Self::closed_msg`]
    /// is the same line in the reader's language.
    pub fn explain_closed(&self, at: DateTime<Utc>, tz: Tz) -> String {
        Lang::En.render(&self.closed_msg(at, tz))
    }

    /// [`Self::explain_closed`] as a catalogue message.
    pub fn closed_msg(&self, at: DateTime<Utc>, tz: Tz) -> Msg {
        if let Some(end) = self.open_until(at, tz) {
            // Open as far as the window is computed: it never closes (every hour, no holidays).
            if end >= horizon(at) {
                return Msg::new("why.open_always").arg("zone", tz.name());
            }
            return Msg::new("why.open_until")
                .clock("until", at, end, tz)
                .arg("zone", tz.name());
        }
        self.closed_line(
            at,
            tz,
            self.next_open(at, tz),
            Msg::new("why.zone").arg("zone", tz.name()),
        )
    }

    /// As `explain_closed`, for a callee who may be in any of `zones`: the reason is the first
    /// zone that is closed, the time the first instant open in all of them.
    pub fn explain_closed_all(&self, at: DateTime<Utc>, zones: &[Tz]) -> String {
        Lang::En.render(&self.closed_all_msg(at, zones))
    }

    /// [`Self::explain_closed_all`] as a catalogue message.
    pub fn closed_all_msg(&self, at: DateTime<Utc>, zones: &[Tz]) -> Msg {
        let names = zones
            .iter()
            .map(|z| z.name())
            .collect::<Vec<_>>()
            .join(", ");
        match zones.iter().find(|tz| !self.is_open(at, **tz)) {
            None if zones.is_empty() => Msg::new("why.no_zone"),
            None => Msg::new("why.open_all").arg("zones", names),
            Some(&tz) => {
                let context = Msg::new("why.zone_context")
                    .arg("zone", tz.name())
                    .arg("zones", names);
                self.closed_line(at, tz, self.next_open_all(at, zones), context)
            }
        }
    }

    fn closed_line(
        &self,
        at: DateTime<Utc>,
        tz: Tz,
        next: Option<DateTime<Utc>>,
        context: Msg,
    ) -> Msg {
        let reason = match local_time(at, tz) {
            Some(l) if self.holidays.contains(l.date()) => {
                Msg::new("why.holiday_day").arg("day", l.date())
            }
            _ => Msg::new("why.outside_hours"),
        };
        match next {
            Some(next) => Msg::new("why.closed_until")
                .msg("reason", reason)
                .clock("until", at, next, tz)
                .msg("context", context),
            None => Msg::new("why.closed_for_good")
                .msg("reason", reason)
                .msg("context", context),
        }
    }

    /// The first open piece `[start, end)` with `start >= from` and `start < limit`, cut to
    /// start at `from` when `from` is inside it. Pieces also end at offset changes and chunk
    /// edges, so an open stretch may be several adjacent pieces.
    fn first_piece(
        &self,
        from: DateTime<Utc>,
        tz: Tz,
        limit: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let mut t = from;
        while t < limit {
            let chunk_end = t.checked_add_signed(CHUNK).map_or(limit, |c| c.min(limit));
            let (end, offset) = steady_offset(t, tz, chunk_end);
            // On [t, end) the wall clock reads UTC + offset: map each local range onto it.
            let (la, lb) = (
                t.naive_utc().checked_add_signed(offset)?,
                end.naive_utc().checked_add_signed(offset)?,
            );
            let mut day = la.date();
            while day.and_time(NaiveTime::MIN) < lb {
                if !self.holidays.contains(day) {
                    let midnight = day.and_time(NaiveTime::MIN);
                    for &(s, e) in self.hours.ranges(day.weekday()) {
                        let at_minute = |m: u32| midnight.checked_add_signed(minutes_delta(m));
                        let (a, b) = (at_minute(s)?.max(la), at_minute(e)?.min(lb));
                        if a < b {
                            return Some(((a - offset).and_utc(), (b - offset).and_utc()));
                        }
                    }
                }
                day = day.succ_opt()?;
            }
            t = end;
        }
        None
    }
}

fn minutes_delta(m: u32) -> TimeDelta {
    TimeDelta::minutes(i64::from(m))
}

fn horizon(from: DateTime<Utc>) -> DateTime<Utc> {
    from.checked_add_signed(HORIZON)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn offset_at(at: DateTime<Utc>, tz: Tz) -> TimeDelta {
    let offset = tz.offset_from_utc_datetime(&at.naive_utc()).fix();
    TimeDelta::seconds(i64::from(offset.local_minus_utc()))
}

/// The wall-clock date and time in `tz` at the instant `at`.
fn local_time(at: DateTime<Utc>, tz: Tz) -> Option<NaiveDateTime> {
    at.naive_utc().checked_add_signed(offset_at(at, tz))
}

/// How long from `t` (up to `limit`) `tz` keeps the UTC offset it has at `t`, and that offset.
fn steady_offset(t: DateTime<Utc>, tz: Tz, limit: DateTime<Utc>) -> (DateTime<Utc>, TimeDelta) {
    let offset = offset_at(t, tz);
    let mut lo = t;
    while lo < limit {
        let hi = lo.checked_add_signed(PROBE).map_or(limit, |h| h.min(limit));
        if offset_at(hi, tz) != offset {
            // Offsets change on whole seconds: bisect to the first second with the new one.
            let (mut a, mut b) = (lo.timestamp(), hi.timestamp());
            while b - a > 1 {
                let m = a + (b - a) / 2;
                match DateTime::from_timestamp(m, 0) {
                    Some(mid) if offset_at(mid, tz) == offset => a = m,
                    _ => b = m,
                }
            }
            return (DateTime::from_timestamp(b, 0).unwrap_or(hi), offset);
        }
        lo = hi;
    }
    (limit, offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use chrono_tz::{America::New_York, Atlantic::Canary, Europe::London, Europe::Madrid};
    use proptest::prelude::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn hours(lines: &[&str]) -> WeeklyHours {
        let lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        WeeklyHours::parse(&lines).unwrap()
    }

    fn window(lines: &[&str], holidays: &[&str]) -> CallingWindow {
        let mut h = Holidays::default();
        let dates: Vec<String> = holidays.iter().map(|d| d.to_string()).collect();
        h.with_extra(&dates).unwrap();
        CallingWindow {
            hours: hours(lines),
            holidays: h,
        }
    }

    fn parse_err(line: &str) -> String {
        Lang::En.render(&WeeklyHours::parse(&[line.to_string()]).unwrap_err())
    }

    #[test]
    fn bad_lines_are_said_in_spanish_too() {
        let e = WeeklyHours::parse(&["mon 22:00-06:00".to_string()]).unwrap_err();
        assert!(
            Lang::Es.render(&e).starts_with(
                "horario \"mon 22:00-06:00\": 22:00-06:00 no termina después de empezar"
            ),
            "{}",
            Lang::Es.render(&e)
        );
        let e = WeeklyHours::parse(&["mon-fri 10:00-25:00".to_string()]).unwrap_err();
        assert_eq!(
            Lang::Es.render(&e),
            "horario \"mon-fri 10:00-25:00\": \"25:00\" no es una hora (HH:MM de 00:00 a 24:00)"
        );
    }

    #[test]
    fn parses_days_ranges_and_several_ranges_a_day() {
        let h = hours(&[
            "mon-fri 10:00-15:00",
            "mon-fri 16:00-21:00",
            "sat 9:30-14:00",
        ]);
        assert_eq!(h.ranges(Weekday::Mon), [(600, 900), (960, 1260)]);
        assert_eq!(h.ranges(Weekday::Fri), [(600, 900), (960, 1260)]);
        assert_eq!(h.ranges(Weekday::Sat), [(570, 840)]);
        assert!(h.ranges(Weekday::Sun).is_empty());

        let h = hours(&["fri-mon 00:00-24:00"]);
        let open: Vec<bool> = (0..7).map(|d| !h.days[d].is_empty()).collect::<Vec<_>>();
        assert_eq!(open, [true, false, false, false, true, true, true]);
        assert_eq!(h.ranges(Weekday::Sat), [(0, 1440)]);

        let h = hours(&["mon,wed,fri 09:00-10:00", "WED 09:30-12:00"]);
        assert_eq!(h.ranges(Weekday::Wed), [(540, 720)], "overlaps merge");
        assert!(h.ranges(Weekday::Tue).is_empty());

        let h = hours(&[
            "lun-vie 09:00-14:00",
            "mié 16:00-18:00",
            "sáb, dom 10:00 - 12:00",
        ]);
        assert_eq!(h.ranges(Weekday::Wed), [(540, 840), (960, 1080)]);
        assert_eq!(h.ranges(Weekday::Sun), [(600, 720)]);
        assert_eq!(
            hours(&["mon-sun 09:00-21:00"])
                .days
                .iter()
                .flatten()
                .count(),
            7
        );
        assert!(WeeklyHours::parse(&[]).unwrap().is_empty());
    }

    #[test]
    fn bad_lines_are_named_with_what_is_expected() {
        assert_eq!(
            parse_err("mon-fry 10:00-15:00"),
            "hours \"mon-fry 10:00-15:00\": \"fry\" is not a day (mon, tue, wed, thu, fri, sat, sun)"
        );
        assert_eq!(
            parse_err("mon-fri 10:00-25:00"),
            "hours \"mon-fri 10:00-25:00\": \"25:00\" is not a time (HH:MM from 00:00 to 24:00)"
        );
        let err = parse_err("mon 22:00-06:00");
        assert!(err.starts_with("hours \"mon 22:00-06:00\": 22:00-06:00 does not end after it starts; a range cannot cross midnight"), "{err}");
        assert!(parse_err("mon 10:00-10:00").contains("does not end after it starts"));
        assert!(parse_err("mon 24:00-24:00").contains("does not end after it starts"));
        for bad in ["mon-fri", "10:00-15:00", "mon 10:00", "", "mon 1000-1500"] {
            let err = parse_err(bad);
            assert!(err.starts_with(&format!("hours \"{bad}\": ")), "{err}");
        }
        assert!(parse_err("mon 10:0-11:00").contains("\"10:0\" is not a time"));
        assert!(parse_err("mon 10:00-24:30").contains("\"24:30\""));
        assert!(parse_err("mon,,tue 10:00-11:00").contains("\"\" is not a day"));
    }

    #[test]
    fn open_in_the_callees_local_time() {
        let w = window(&["mon-fri 09:00-21:00"], &[]);
        // Wed 2026-01-14: 08:30 UTC is 09:30 in Madrid and 08:30 in the Canaries.
        let t = utc("2026-01-14T08:30:00Z");
        assert!(w.is_open(t, Madrid));
        assert!(!w.is_open(t, Canary));
        assert_eq!(w.next_open(t, Canary), Some(utc("2026-01-14T09:00:00Z")));
        assert_eq!(w.next_open(t, Madrid), Some(t));
        assert_eq!(w.open_until(t, Madrid), Some(utc("2026-01-14T20:00:00Z")));
        assert_eq!(w.open_until(t, Canary), None);
        // Friday evening: next is Monday.
        let fri = utc("2026-01-16T20:00:00Z");
        assert_eq!(w.next_open(fri, Madrid), Some(utc("2026-01-19T08:00:00Z")));
        assert_eq!(w.next_open(fri, Canary), Some(fri));
        // 23:00 in New York is never a calling time.
        assert!(!w.is_open(utc("2026-01-15T04:00:00Z"), New_York));
    }

    #[test]
    fn holidays_are_local_dates_of_the_callee() {
        let w = window(&["mon-sun 00:00-24:00"], &["2026-12-08"]);
        // 23:30 UTC on the 7th is already the 8th in Madrid, still the 7th in the Canaries.
        let t = utc("2026-12-07T23:30:00Z");
        assert!(!w.is_open(t, Madrid));
        assert!(w.is_open(t, Canary));
        assert_eq!(w.next_open(t, Madrid), Some(utc("2026-12-08T23:00:00Z")));
        assert_eq!(w.open_until(t, Canary), Some(utc("2026-12-08T00:00:00Z")));
        let national = CallingWindow {
            hours: hours(&["mon-fri 09:00-21:00"]),
            holidays: Holidays::national("ES", 2026..=2026).unwrap(),
        };
        // Good Friday 2026-04-03: next is Monday the 6th.
        let gf = utc("2026-04-03T10:00:00Z");
        assert!(!national.is_open(gf, Madrid));
        assert_eq!(
            national.next_open(gf, Madrid),
            Some(utc("2026-04-06T07:00:00Z"))
        );
    }

    #[test]
    fn open_stretches_run_on_across_midnight() {
        let w = window(&["mon 20:00-24:00", "tue 00:00-01:00"], &[]);
        // Mon 2026-07-06 21:00 CEST.
        let t = utc("2026-07-06T19:00:00Z");
        assert_eq!(w.open_until(t, Madrid), Some(utc("2026-07-06T23:00:00Z")));
        let always = window(&["mon-sun 00:00-24:00"], &[]);
        assert_eq!(always.open_until(t, Madrid), Some(t + HORIZON));
    }

    #[test]
    fn spring_forward_2026() {
        // Madrid, Sun 29 March: 02:00 CET jumps to 03:00 CEST at 01:00 UTC.
        let w = window(&["sun 02:30-05:00"], &[]);
        let night = utc("2026-03-28T23:00:00Z");
        assert_eq!(
            w.next_open(night, Madrid),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        assert!(!w.is_open(utc("2026-03-29T00:59:59Z"), Madrid));
        assert_eq!(
            w.open_until(utc("2026-03-29T01:00:00Z"), Madrid),
            Some(utc("2026-03-29T03:00:00Z"))
        );
        // A range wholly inside the gap does not happen that day.
        let gap = window(&["sun 02:00-02:30"], &[]);
        assert_eq!(
            gap.next_open(night, Madrid),
            Some(utc("2026-04-05T00:00:00Z"))
        );
        // A stretch across the gap lasts one hour less in real time.
        let w = window(&["sun 00:00-04:00"], &[]);
        let t = utc("2026-03-29T00:30:00Z"); // 01:30 CET
        assert_eq!(w.open_until(t, Madrid), Some(utc("2026-03-29T02:00:00Z")));
        // Same local hours on both sides of the change are an hour apart in UTC.
        let w = window(&["sun 10:00-11:00"], &[]);
        assert_eq!(
            w.next_open(utc("2026-03-22T00:00:00Z"), Madrid),
            Some(utc("2026-03-22T09:00:00Z"))
        );
        assert_eq!(
            w.next_open(utc("2026-03-23T00:00:00Z"), Madrid),
            Some(utc("2026-03-29T08:00:00Z"))
        );

        // Canaries: 01:00 WET jumps to 02:00 WEST at 01:00 UTC.
        let w = window(&["sun 01:30-03:00"], &[]);
        assert_eq!(
            w.next_open(night, Canary),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        assert_eq!(
            w.open_until(utc("2026-03-29T01:00:00Z"), Canary),
            Some(utc("2026-03-29T02:00:00Z"))
        );
        let t = utc("2026-03-29T00:45:00Z"); // 00:45 WET
        assert_eq!(
            w.explain_closed(t, Canary),
            "outside calling hours until 02:00 (Atlantic/Canary)"
        );
    }

    #[test]
    fn fall_back_2026() {
        // Madrid, Sun 25 October: 03:00 CEST falls back to 02:00 CET at 01:00 UTC, so 02:30
        // happens twice and both are inside 02:00-03:00.
        let w = window(&["sun 02:00-03:00"], &[]);
        assert!(w.is_open(utc("2026-10-25T00:30:00Z"), Madrid));
        assert!(w.is_open(utc("2026-10-25T01:30:00Z"), Madrid));
        assert_eq!(
            w.next_open(utc("2026-10-24T12:00:00Z"), Madrid),
            Some(utc("2026-10-25T00:00:00Z"))
        );
        assert_eq!(
            w.open_until(utc("2026-10-25T00:00:00Z"), Madrid),
            Some(utc("2026-10-25T02:00:00Z"))
        );
        // 00:00-02:30 closes at the first 02:30 and opens again when the clock falls back.
        let w = window(&["sun 00:00-02:30"], &[]);
        let first_half_past_two = utc("2026-10-25T00:30:00Z");
        assert_eq!(
            w.open_until(utc("2026-10-24T23:00:00Z"), Madrid),
            Some(first_half_past_two)
        );
        assert!(!w.is_open(first_half_past_two, Madrid));
        assert_eq!(
            w.next_open(first_half_past_two, Madrid),
            Some(utc("2026-10-25T01:00:00Z"))
        );
        assert_eq!(
            w.open_until(utc("2026-10-25T01:00:00Z"), Madrid),
            Some(utc("2026-10-25T01:30:00Z"))
        );

        // Canaries: 02:00 WEST falls back to 01:00 WET at 01:00 UTC.
        let w = window(&["sun 01:00-02:00"], &[]);
        assert_eq!(
            w.next_open(utc("2026-10-24T20:00:00Z"), Canary),
            Some(utc("2026-10-25T00:00:00Z"))
        );
        assert_eq!(
            w.open_until(utc("2026-10-25T00:00:00Z"), Canary),
            Some(utc("2026-10-25T02:00:00Z"))
        );
        // The long day: 09:00-21:00 local is 12 real hours, and the next day starts at 09:00 WET.
        let w = window(&["mon-sun 09:00-21:00"], &[]);
        assert_eq!(
            w.open_until(utc("2026-10-25T09:00:00Z"), Canary),
            Some(utc("2026-10-25T21:00:00Z"))
        );
        assert_eq!(
            w.next_open(utc("2026-10-24T21:00:00Z"), Canary),
            Some(utc("2026-10-25T09:00:00Z"))
        );
        assert_eq!(
            w.next_open(utc("2026-10-24T21:00:00Z"), Madrid),
            Some(utc("2026-10-25T08:00:00Z"))
        );
    }

    #[test]
    fn changes_at_midnight() {
        use chrono_tz::America::Santiago;
        // Chile skips from Saturday 24:00 to Sunday 01:00 on 6 September 2026 (03:59:59 UTC to
        // 04:00 UTC), so that Sunday begins at 01:00.
        let w = window(&["sun 00:00-02:00"], &[]);
        let sat = utc("2026-09-05T12:00:00Z");
        assert_eq!(
            w.next_open(sat, Santiago),
            Some(utc("2026-09-06T04:00:00Z"))
        );
        assert_eq!(
            w.open_until(utc("2026-09-06T04:00:00Z"), Santiago),
            Some(utc("2026-09-06T05:00:00Z"))
        );
        // It falls back from Sunday 00:00 to Saturday 23:00 on 5 April 2026 (03:00 UTC): the
        // last Saturday hour happens twice.
        let w = window(&["sat 23:00-24:00"], &[]);
        assert_eq!(
            w.open_until(utc("2026-04-05T02:00:00Z"), Santiago),
            Some(utc("2026-04-05T04:00:00Z"))
        );
    }

    #[test]
    fn every_zone_at_once() {
        let w = window(&["mon-fri 09:00-21:00"], &[]);
        let spain = [Madrid, Canary];
        // Winter weekday: open in both from 09:00 UTC (10:00 Madrid) to 20:00 UTC (21:00 Madrid).
        let t = utc("2026-01-14T07:30:00Z");
        assert!(!w.is_open_all(t, &spain));
        assert_eq!(
            w.next_open_all(t, &spain),
            Some(utc("2026-01-14T09:00:00Z"))
        );
        assert!(w.is_open_all(utc("2026-01-14T19:59:59Z"), &spain));
        assert!(!w.is_open_all(utc("2026-01-14T20:00:00Z"), &spain));
        assert_eq!(
            w.next_open_all(utc("2026-01-14T20:00:00Z"), &spain),
            Some(utc("2026-01-15T09:00:00Z"))
        );
        assert!(!w.is_open_all(t, &[]));
        assert_eq!(w.next_open_all(t, &[]), None);
        // Windows that never overlap across the zones.
        let w = window(&["mon-fri 09:00-09:30"], &[]);
        assert_eq!(w.next_open_all(t, &[Madrid, New_York]), None);
    }

    #[test]
    fn never_open_is_none() {
        let w = window(&[], &[]);
        let t = utc("2026-06-01T12:00:00Z");
        assert_eq!(w.next_open(t, Madrid), None);
        assert_eq!(w.open_until(t, Madrid), None);
        assert_eq!(
            w.explain_closed(t, Madrid),
            "outside calling hours, and it does not open in the next 400 days (Europe/Madrid)"
        );
    }

    #[test]
    fn explains_for_operators() {
        let w = CallingWindow {
            hours: hours(&["mon-fri 09:00-21:00", "mon-fri 10:00-20:00"]),
            holidays: Holidays::national("ES", 2026..=2027).unwrap(),
        };
        // Tue 2026-12-01 07:00 UTC: 08:00 in Madrid.
        assert_eq!(
            w.explain_closed(utc("2026-12-01T07:00:00Z"), Madrid),
            "outside calling hours until 09:00 (Europe/Madrid)"
        );
        assert_eq!(
            w.explain_closed(utc("2026-12-01T12:00:00Z"), Madrid),
            "open until 21:00 (Europe/Madrid)"
        );
        // Tue 8 December (Immaculate Conception) in the Canaries.
        assert_eq!(
            w.explain_closed(utc("2026-12-08T12:00:00Z"), Canary),
            "holiday (2026-12-08) until Wed 09:00 (Atlantic/Canary)"
        );
        // Christmas Eve evening: 25 Dec and the weekend, then Monday the 28th.
        assert_eq!(
            w.explain_closed(utc("2026-12-24T21:00:00Z"), Madrid),
            "outside calling hours until Mon 09:00 (Europe/Madrid)"
        );
        // Every hour, no holidays: it never closes, and says so (not "open until" a far date).
        let always = window(&["mon-sun 00:00-24:00"], &[]);
        assert_eq!(
            always.explain_closed(utc("2026-12-01T12:00:00Z"), Madrid),
            "open at every hour (Europe/Madrid)"
        );
        let sparse = window(&["mon 09:00-10:00"], &["2026-12-07", "2026-12-14"]);
        assert_eq!(
            sparse.explain_closed(utc("2026-12-01T12:00:00Z"), Madrid),
            "outside calling hours until 2026-12-21 09:00 (Europe/Madrid)"
        );
        assert_eq!(
            w.explain_closed_all(utc("2026-12-01T08:30:00Z"), &[Madrid, Canary]),
            "outside calling hours until 09:00 (Atlantic/Canary; the number may be in \
             Europe/Madrid, Atlantic/Canary)"
        );
        assert_eq!(
            w.explain_closed_all(utc("2026-12-01T12:00:00Z"), &[Madrid, Canary]),
            "open in every zone the number may be in (Europe/Madrid, Atlantic/Canary)"
        );
    }

    // Property tests over 2026-2027: the searches agree with a direct reading of the wall clock.

    const ZONES: [Tz; 4] = [Madrid, Canary, London, New_York];
    const DAY: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    const STEP: TimeDelta = TimeDelta::minutes(5);

    /// Instants across 2026-2027, half of them within two days of a DST change.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        let start = utc("2026-01-01T00:00:00Z").timestamp();
        let end = utc("2028-01-01T00:00:00Z").timestamp();
        let changes: Vec<i64> = [
            "2026-03-08T07:00:00Z",
            "2026-03-29T01:00:00Z",
            "2026-10-25T01:00:00Z",
            "2026-11-01T06:00:00Z",
            "2027-03-14T07:00:00Z",
            "2027-03-28T01:00:00Z",
            "2027-10-31T01:00:00Z",
            "2027-11-07T06:00:00Z",
        ]
        .iter()
        .map(|s| utc(s).timestamp())
        .collect();
        let near_change =
            (proptest::sample::select(changes), -172_800i64..172_800).prop_map(|(c, d)| c + d);
        prop_oneof![
            start..end,
            (start / 60..end / 60).prop_map(|m| m * 60),
            near_change
        ]
        .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
    }

    /// One to four lines on half-hour boundaries (so they meet the DST hours often).
    fn lines() -> impl Strategy<Value = Vec<String>> {
        let line = (1u8..128, 0u32..48, 1u32..=48).prop_map(|(mask, a, len)| {
            let days: Vec<&str> = (0..7)
                .filter(|d| mask & (1 << d) != 0)
                .map(|d| DAY[d])
                .collect();
            let end = (a + len).min(48);
            let hm = |slot: u32| format!("{:02}:{:02}", slot / 2, slot % 2 * 30);
            format!("{} {}-{}", days.join(","), hm(a), hm(end))
        });
        proptest::collection::vec(line, 1..=4)
    }

    /// A window and an instant, with up to five holidays close to the instant.
    fn case() -> impl Strategy<Value = (CallingWindow, DateTime<Utc>)> {
        (
            lines(),
            instant(),
            proptest::collection::vec(-1i64..12, 0..=5),
        )
            .prop_map(|(lines, t, days)| {
                let mut holidays = Holidays::default();
                for d in days {
                    holidays.insert(t.date_naive() + TimeDelta::days(d));
                }
                let hours = WeeklyHours::parse(&lines).unwrap();
                (CallingWindow { hours, holidays }, t)
            })
    }

    /// The definition, read straight off chrono's wall clock.
    fn open_by_definition(w: &CallingWindow, at: DateTime<Utc>, tz: Tz) -> bool {
        let local = at.with_timezone(&tz);
        let date: NaiveDate = local.date_naive();
        let second = local.num_seconds_from_midnight();
        !w.holidays.contains(date)
            && w.hours
                .ranges(local.weekday())
                .iter()
                .any(|&(s, e)| s * 60 <= second && second < e * 60)
    }

    /// `next` is the first instant from `t` at which `open` holds: checked at `next`, one
    /// second before it and every five minutes in between.
    fn check_first(
        t: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
        open: impl Fn(DateTime<Utc>) -> bool,
    ) -> Result<(), TestCaseError> {
        let Some(next) = next else {
            let mut s = t;
            while s < t + TimeDelta::days(21) {
                prop_assert!(!open(s), "none, but open at {s}");
                s += STEP;
            }
            return Ok(());
        };
        prop_assert!(next >= t);
        prop_assert!(open(next), "not open at {next}");
        if next > t {
            prop_assert!(!open(next - TimeDelta::seconds(1)), "open before {next}");
        }
        let mut s = t;
        while s < next {
            prop_assert!(!open(s), "open at {s}, before {next}");
            s += STEP;
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn one_zone_agrees_with_the_wall_clock(
            (w, t) in case(),
            tz in proptest::sample::select(ZONES.to_vec()),
        ) {
            // (a) is_open is the definition.
            prop_assert_eq!(w.is_open(t, tz), open_by_definition(&w, t, tz));
            // (b) next_open is the first open instant.
            check_first(t, w.next_open(t, tz), |s| w.is_open(s, tz))?;
            // open_until is the first closed instant.
            if let Some(end) = w.open_until(t, tz) {
                prop_assert!(end > t && !w.is_open(end, tz));
                prop_assert!(w.is_open(end - TimeDelta::seconds(1), tz));
                let mut s = t;
                while s < end {
                    prop_assert!(w.is_open(s, tz), "closed at {s}, before {end}");
                    s += STEP;
                }
            } else {
                prop_assert!(!w.is_open(t, tz));
            }
        }

        #[test]
        fn every_zone_agrees_with_each_zone(
            (w, t) in case(),
            zones in proptest::sample::subsequence(ZONES.to_vec(), 2..=3),
        ) {
            // (c) open in all means open in each, and next_open_all is the first such instant.
            let all = w.is_open_all(t, &zones);
            prop_assert_eq!(all, zones.iter().all(|z| open_by_definition(&w, t, *z)));
            check_first(t, w.next_open_all(t, &zones), |s| w.is_open_all(s, &zones))?;
        }
    }
}
