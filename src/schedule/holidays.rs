//! Holidays: local dates on which no campaign calls anyone.
//!
//! A set of dates, each with its name and scope, read in the callee's own time zone by
//! `window`. Spain's national days are computed for any year (Easter included). Its regional
//! calendars (the 17 autonomous communities, Ceuta and Melilla, by ISO 3166-2:ES code) are
//! compiled in from `data/holidays/ES.tsv`, generated from the python `holidays` package by
//! `scripts/gen_holidays.py` for [`FIRST_YEAR`]–[`LAST_YEAR`]; outside those years a region
//! observes the national days only. Local days come from the configuration, for everyone or
//! for one region or province.

use chrono::{Datelike, NaiveDate};
use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::OnceLock;

use super::regions::{self, Scope};
use crate::i18n::Msg;

/// The first and last years of the built-in regional calendars.
pub const FIRST_YEAR: i32 = 2024;
pub const LAST_YEAR: i32 = 2030;

/// The built-in calendars: `date<TAB>name<TAB>scope`, scope `ES` or region codes.
const SPAIN_TSV: &str = include_str!("../../data/holidays/ES.tsv");

/// One holiday: its name and where it applies (`ES`, a region code such as `CT`, a province,
/// or `local`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub name: String,
    pub scope: String,
}

/// The name of a local day of the configuration, as stored; said in the reader's language by
/// [`Holiday::name_msg`].
const LOCAL_NAME: &str = "Fiesta local";

impl Holiday {
    fn is_local(&self) -> bool {
        self.name == LOCAL_NAME && (self.scope == "local" || self.scope.starts_with("local, "))
    }

    /// The name for people: a local day of the configuration in their language; a day of the
    /// built-in calendars by its own (Spanish) name.
    pub fn name_msg(&self) -> Msg {
        if self.is_local() {
            Msg::new("holiday.local")
        } else {
            Msg::new("holiday.as_written").arg("text", &self.name)
        }
    }

    /// Where it applies, for people: `local`, `local, Barcelona`, or a region code as stored.
    pub fn scope_msg(&self) -> Msg {
        match self.scope.strip_prefix("local, ") {
            Some(place) if self.is_local() => {
                Msg::new("holiday.scope_local_in").arg("place", place)
            }
            _ if self.is_local() => Msg::new("holiday.scope_local"),
            _ => Msg::new("holiday.as_written").arg("text", &self.scope),
        }
    }
}

/// A set of local dates on which calling is closed all day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holidays {
    dates: BTreeMap<NaiveDate, Holiday>,
}

/// The built-in regional entries, parsed once: (date, name, regions; empty = every region).
fn spain_table() -> &'static [(NaiveDate, &'static str, Vec<&'static str>)] {
    static TABLE: OnceLock<Vec<(NaiveDate, &'static str, Vec<&'static str>)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        SPAIN_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut f = l.split('\t');
                let date = NaiveDate::parse_from_str(f.next()?, "%Y-%m-%d").ok()?;
                let name = f.next()?;
                let scope = f.next()?.trim();
                let regions = if scope == "ES" {
                    Vec::new()
                } else {
                    scope.split(',').collect()
                };
                Some((date, name, regions))
            })
            .collect()
    })
}

const NATIONAL_FIXED: [(u32, u32, &str); 9] = [
    (1, 1, "Año Nuevo"),
    (1, 6, "Epifanía del Señor"),
    (5, 1, "Fiesta del Trabajo"),
    (8, 15, "Asunción de la Virgen"),
    (10, 12, "Fiesta Nacional de España"),
    (11, 1, "Todos los Santos"),
    (12, 6, "Día de la Constitución Española"),
    (12, 8, "Inmaculada Concepción"),
    (12, 25, "Natividad del Señor"),
];

/// Which holidays of a calendar a set is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed<'a> {
    /// The national days only.
    National,
    /// The national days and one region's days (ISO 3166-2:ES code such as `CT`).
    Region(&'a str),
    /// The days of every region: no call on any region's holiday.
    AnyRegion,
}

impl Holidays {
    /// The national holidays of `calendar` for each year in `years`: `"ES"` for Spain, `"none"`
    /// for no holidays (either in any case).
    pub fn national(calendar: &str, years: RangeInclusive<i32>) -> Result<Holidays, Msg> {
        Holidays::calendar(calendar, Observed::National, years)
    }

    /// The holidays of `calendar` a callee observes (see [`Observed`]) for each year in `years`.
    pub fn calendar(
        calendar: &str,
        observed: Observed,
        years: RangeInclusive<i32>,
    ) -> Result<Holidays, Msg> {
        let mut holidays = Holidays::default();
        match calendar.trim() {
            c if c.eq_ignore_ascii_case("none") => {}
            c if c.eq_ignore_ascii_case("es") => {
                for year in years.clone() {
                    let out_of_range = || {
                        Msg::new("rule.calendar_year")
                            .arg("value", calendar)
                            .arg("year", year)
                    };
                    let friday = good_friday(year).ok_or_else(out_of_range)?;
                    holidays.add(friday, "Viernes Santo", "ES");
                    for (m, d, name) in NATIONAL_FIXED {
                        let day = NaiveDate::from_ymd_opt(year, m, d).ok_or_else(out_of_range)?;
                        holidays.add(day, name, "ES");
                    }
                }
                let region = match observed {
                    Observed::National => None,
                    Observed::Region(r) => Some(r),
                    Observed::AnyRegion => Some(""),
                };
                if let Some(region) = region {
                    for (date, name, regions) in spain_table() {
                        if !years.contains(&date.year()) {
                            continue;
                        }
                        if regions.is_empty() {
                            holidays.add(*date, name, "ES");
                        } else if region.is_empty() {
                            holidays.add(*date, name, &regions.join(","));
                        } else if regions.contains(&region) {
                            holidays.add(*date, name, region);
                        }
                    }
                }
            }
            _ => return Err(Msg::new("rule.holiday_calendar").arg("value", calendar)),
        }
        Ok(holidays)
    }

    /// Adds a holiday; a date already present keeps its first name and scope.
    fn add(&mut self, date: NaiveDate, name: &str, scope: &str) {
        self.dates.entry(date).or_insert_with(|| Holiday {
            name: name.to_string(),
            scope: scope.to_string(),
        });
    }

    /// Adds dates written as `YYYY-MM-DD` (the `holidays` key). Adds nothing if any entry is bad.
    /// Entries for one region or province ([`LocalDay`]) must be filtered by the caller first.
    pub fn with_extra(&mut self, dates: &[String]) -> Result<(), Msg> {
        let parsed = dates
            .iter()
            .map(|s| LocalDay::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        for day in parsed {
            self.add_local(&day);
        }
        Ok(())
    }

    /// Adds one local day.
    pub fn add_local(&mut self, day: &LocalDay) {
        let scope = match &day.scope {
            None => "local".to_string(),
            Some(s) => format!("local, {}", s.label()),
        };
        self.add(day.date, LOCAL_NAME, &scope);
    }

    /// Adds one date.
    pub fn insert(&mut self, date: NaiveDate) {
        self.add(date, LOCAL_NAME, "local");
    }

    /// Whether calling is closed all day on this local date.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.dates.contains_key(&date)
    }

    /// The holiday on this date, if any.
    pub fn get(&self, date: NaiveDate) -> Option<&Holiday> {
        self.dates.get(&date)
    }

    /// The dates, in order.
    pub fn iter(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.dates.keys().copied()
    }

    /// The holidays, in date order.
    pub fn entries(&self) -> impl Iterator<Item = (NaiveDate, &Holiday)> + '_ {
        self.dates.iter().map(|(d, h)| (*d, h))
    }

    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }
}

/// One entry of the `holidays` key: `"2026-05-15"` (everyone), or with a region or province
/// after the date: `"2026-09-24 Barcelona"`, `"2026-05-15 MD"`, `"2026-06-13 province 28"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDay {
    pub date: NaiveDate,
    /// `None`: every callee.
    pub scope: Option<Scope>,
}

impl LocalDay {
    pub fn parse(entry: &str) -> Result<LocalDay, Msg> {
        let text = entry.trim();
        let (date_text, place) = match text.split_once(char::is_whitespace) {
            Some((d, p)) => (d, Some(p.trim())),
            None => (text, None),
        };
        let date = NaiveDate::parse_from_str(date_text, "%Y-%m-%d")
            .map_err(|_| Msg::new("rule.holiday_date").arg("value", entry))?;
        let scope = match place {
            None | Some("") => None,
            Some(p) => Some(regions::scope_by_name(p).ok_or_else(|| {
                Msg::new("rule.holiday_place")
                    .arg("value", entry)
                    .arg("place", p)
            })?),
        };
        Ok(LocalDay { date, scope })
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
    use chrono::Datelike;

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

    /// Every region's calendar for 2025–2030 is exactly the reference generated once from
    /// python `holidays` (tests/fixtures/holidays, by scripts/gen_holidays.py), plus the national
    /// days that fall on a Sunday, which that list leaves out and which stay closed here.
    #[test]
    fn every_region_matches_the_reference_for_2025_to_2030() {
        use std::collections::BTreeSet;
        let fixture = include_str!("../../tests/fixtures/holidays/ES-2025-2030.tsv");
        let mut expected: BTreeMap<&str, BTreeSet<(NaiveDate, String)>> = BTreeMap::new();
        for line in fixture.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&str> = line.split('\t').collect();
            expected
                .entry(f[0])
                .or_default()
                .insert((date(f[1]), f[2].to_string()));
        }
        assert_eq!(expected.len(), 19);
        for (code, _, _) in crate::schedule::regions::REGIONS {
            let h = Holidays::calendar("ES", Observed::Region(code), 2025..=2030).unwrap();
            let want = &expected[code];
            for (d, name) in want {
                // Two holidays on one date keep the first name in data order; the date is what
                // closes the day.
                assert!(h.contains(*d), "{code}: {d} {name} is missing");
            }
            let want_dates: BTreeSet<NaiveDate> = want.iter().map(|(d, _)| *d).collect();
            for (d, holiday) in h.entries() {
                if !want_dates.contains(&d) {
                    let sunday_national = d.weekday() == chrono::Weekday::Sun
                        && holiday.scope == "ES"
                        && NATIONAL_FIXED
                            .iter()
                            .any(|(m, dd, _)| (d.month(), d.day()) == (*m, *dd));
                    assert!(
                        sunday_national,
                        "{code}: {d} {} is not in the reference",
                        holiday.name
                    );
                }
            }
            let names: BTreeSet<(NaiveDate, &str)> =
                h.entries().map(|(d, x)| (d, x.name.as_str())).collect();
            let unnamed: Vec<_> = want
                .iter()
                .filter(|(d, n)| {
                    !names.contains(&(*d, n.as_str()))
                        && want.iter().filter(|(e, _)| e == d).count() == 1
                })
                .collect();
            assert!(unnamed.is_empty(), "{code}: named differently: {unnamed:?}");
        }
    }

    #[test]
    fn regional_days_moved_days_and_the_issue_examples() {
        let region = |r| Holidays::calendar("ES", Observed::Region(r), 2026..=2026).unwrap();
        let (ct, md, vc, an) = (region("CT"), region("MD"), region("VC"), region("AN"));
        let d = date("2026-09-11");
        assert_eq!(ct.get(d).unwrap().name, "Fiesta Nacional de Cataluña");
        assert_eq!(ct.get(d).unwrap().scope, "CT");
        assert!(!md.contains(d));
        // Holy Thursday: everywhere but Catalonia and Valencia.
        let thursday = date("2026-04-02");
        assert!(md.contains(thursday) && an.contains(thursday));
        assert!(!ct.contains(thursday) && !vc.contains(thursday));
        // Easter Monday in Catalonia and Valencia, not in Madrid.
        assert!(ct.contains(date("2026-04-06")) && !md.contains(date("2026-04-06")));
        // All Saints' on a Sunday, moved to Monday 2 November in nine regions (Madrid among
        // them, not Catalonia); the Sunday itself stays closed.
        assert!(md.contains(date("2026-11-02")) && !ct.contains(date("2026-11-02")));
        assert!(ct.contains(date("2026-11-01")));
        assert_eq!(an.get(date("2026-02-28")).unwrap().name, "Día de Andalucía");
        assert!(md.contains(date("2026-05-02")));
        // National only: none of these.
        let national = Holidays::national("ES", 2026..=2026).unwrap();
        for d in ["2026-04-02", "2026-09-11", "2026-11-02", "2026-05-02"] {
            assert!(!national.contains(date(d)), "{d}");
        }
        // Any region: all of them.
        let any = Holidays::calendar("ES", Observed::AnyRegion, 2026..=2026).unwrap();
        for d in [
            "2026-04-02",
            "2026-04-06",
            "2026-09-11",
            "2026-11-02",
            "2026-05-02",
        ] {
            assert!(any.contains(date(d)), "{d}");
        }
        // Outside the built-in years a region observes the national days.
        let later = Holidays::calendar("ES", Observed::Region("CT"), 2031..=2031).unwrap();
        assert_eq!(later.iter().count(), 10);
    }

    #[test]
    fn local_days_for_everyone_a_region_or_a_province() {
        let day = LocalDay::parse(" 2026-09-24  Barcelona ").unwrap();
        assert_eq!(day.date, date("2026-09-24"));
        assert_eq!(day.scope, Some(Scope::Province(8)));
        assert_eq!(
            LocalDay::parse("2026-05-15 md").unwrap().scope,
            Some(Scope::Region("MD"))
        );
        assert_eq!(LocalDay::parse("2026-05-15").unwrap().scope, None);
        let err = crate::i18n::Lang::En.render(&LocalDay::parse("2026-05-15 Narnia").unwrap_err());
        assert!(err.contains("\"Narnia\" is not a Spanish region"), "{err}");
        let mut h = Holidays::default();
        h.add_local(&day);
        let local = h.get(day.date).unwrap();
        assert_eq!(local.scope, "local, Barcelona");
        use crate::i18n::Lang;
        assert_eq!(Lang::Es.render(&local.name_msg()), "Fiesta local");
        assert_eq!(Lang::En.render(&local.name_msg()), "Local holiday");
        assert_eq!(Lang::En.render(&local.scope_msg()), "local, Barcelona");
        let built_in = Holidays::calendar("ES", Observed::Region("CT"), 2026..=2026).unwrap();
        let diada = built_in.get(date("2026-09-11")).unwrap();
        assert_eq!(Lang::En.render(&diada.scope_msg()), "CT");
        assert_eq!(Lang::En.render(&diada.name_msg()), diada.name);
    }

    #[test]
    fn none_gives_nothing_and_unknown_calendars_are_named() {
        assert!(Holidays::national("none", 2026..=2026).unwrap().is_empty());
        assert!(!Holidays::national("es", 2026..=2026).unwrap().is_empty());
        let err = Holidays::national("FR", 2026..=2026).unwrap_err();
        let en = crate::i18n::Lang::En.render(&err);
        assert!(en.contains("\"FR\" is not a known calendar"), "{en}");
        let es = crate::i18n::Lang::Es.render(&err);
        assert!(es.contains("\"FR\" no es un calendario conocido"), "{es}");
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
            crate::i18n::Lang::En.render(&err),
            "holidays \"15/05/2026\": expected a date as YYYY-MM-DD, e.g. \"2026-05-15\", optionally followed by a region or province (\"2026-09-24 Barcelona\")"
        );
        assert!(h.is_empty());
        assert!(h.with_extra(&["2026-02-30".into()]).is_err());
    }
}
