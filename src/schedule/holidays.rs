//! Holidays: local dates on which no campaign calls anyone.
//!
//! A set of plain dates, read in the callee's own time zone by `window`. Spain's national
//! holidays are computed for any year (Easter included), so no table needs yearly upkeep;
//! regional and local ones come from the configuration as extra dates.

use chrono::NaiveDate;
use std::collections::BTreeSet;
use std::ops::RangeInclusive;

/// A set of local dates on which calling is closed all day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holidays {
    dates: BTreeSet<NaiveDate>,
}

impl Holidays {
    /// The national holidays of `calendar` for each year in `years`: `"ES"` for Spain, `"none"`
    /// for no holidays (either in any case).
    pub fn national(calendar: &str, years: RangeInclusive<i32>) -> Result<Holidays, String> {
        let mut holidays = Holidays::default();
        match calendar.trim() {
            c if c.eq_ignore_ascii_case("none") => {}
            c if c.eq_ignore_ascii_case("es") => {
                for year in years {
                    let out_of_range =
                        || format!("holiday_calendar \"{calendar}\": year {year} is out of range");
                    let day = |m, d| NaiveDate::from_ymd_opt(year, m, d).ok_or_else(out_of_range);
                    holidays
                        .dates
                        .insert(good_friday(year).ok_or_else(out_of_range)?);
                    for (m, d) in [
                        (1, 1),
                        (1, 6),
                        (5, 1),
                        (8, 15),
                        (10, 12),
                        (11, 1),
                        (12, 6),
                        (12, 8),
                        (12, 25),
                    ] {
                        holidays.dates.insert(day(m, d)?);
                    }
                }
            }
            _ => {
                return Err(format!(
                    "holiday_calendar \"{calendar}\" is not a known calendar (expected \"ES\" or \"none\")"
                ))
            }
        }
        Ok(holidays)
    }

    /// Adds dates written as `YYYY-MM-DD` (the `holidays` key). Adds nothing if any entry is bad.
    pub fn with_extra(&mut self, dates: &[String]) -> Result<(), String> {
        let parsed = dates
            .iter()
            .map(|s| {
                NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
                    format!("holidays \"{s}\": expected a date as YYYY-MM-DD, e.g. \"2026-05-15\"")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.dates.extend(parsed);
        Ok(())
    }

    /// Adds one date.
    pub fn insert(&mut self, date: NaiveDate) {
        self.dates.insert(date);
    }

    /// Whether calling is closed all day on this local date.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.dates.contains(&date)
    }

    /// The dates, in order.
    pub fn iter(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.dates.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }
}

/// Easter Sunday of a Gregorian year (anonymous Gregorian computus, Meeus/Jones/Butcher).
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let month = (h + l - 7 * m + 114).div_euclid(31);
    let day = (h + l - 7 * m + 114).rem_euclid(31) + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// Good Friday: two days before Easter Sunday.
pub fn good_friday(year: i32) -> Option<NaiveDate> {
    easter_sunday(year)?.pred_opt()?.pred_opt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn good_friday_of_known_years() {
        for (year, expected) in [
            (2000, "2000-04-21"),
            (2019, "2019-04-19"),
            (2024, "2024-03-29"),
            (2025, "2025-04-18"),
            (2026, "2026-04-03"),
            (2027, "2027-03-26"),
            (2038, "2038-04-23"),
        ] {
            assert_eq!(good_friday(year), Some(date(expected)), "{year}");
        }
    }

    #[test]
    fn spain_has_ten_national_holidays_a_year() {
        let h = Holidays::national("ES", 2026..=2027).unwrap();
        assert_eq!(h.iter().count(), 20);
        for d in [
            "2026-01-01",
            "2026-01-06",
            "2026-04-03",
            "2026-05-01",
            "2026-08-15",
            "2026-10-12",
            "2026-11-01",
            "2026-12-06",
            "2026-12-08",
            "2026-12-25",
            "2027-03-26",
        ] {
            assert!(h.contains(date(d)), "{d}");
        }
        assert!(!h.contains(date("2026-04-02")));
        assert!(!h.contains(date("2026-04-06")));
        assert!(!h.contains(date("2026-12-24")));
    }

    #[test]
    fn none_gives_nothing_and_unknown_calendars_are_named() {
        assert!(Holidays::national("none", 2026..=2026).unwrap().is_empty());
        assert!(!Holidays::national("es", 2026..=2026).unwrap().is_empty());
        let err = Holidays::national("FR", 2026..=2026).unwrap_err();
        assert!(err.contains("\"FR\""), "{err}");
    }

    #[test]
    fn extra_dates_are_added_all_or_nothing() {
        let mut h = Holidays::national("none", 2026..=2026).unwrap();
        h.with_extra(&["2026-05-15".into(), " 2026-09-11 ".into()])
            .unwrap();
        assert!(h.contains(date("2026-05-15")));
        assert!(h.contains(date("2026-09-11")));

        let mut h = Holidays::default();
        let err = h
            .with_extra(&["2026-05-15".into(), "15/05/2026".into()])
            .unwrap_err();
        assert_eq!(
            err,
            "holidays \"15/05/2026\": expected a date as YYYY-MM-DD, e.g. \"2026-05-15\""
        );
        assert!(h.is_empty());
        assert!(h.with_extra(&["2026-02-30".into()]).is_err());
    }
}
