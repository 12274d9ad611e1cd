//! Appointment dates as a Spanish spreadsheet writes them: `15/03/2026 9:30`,
//! `2026-03-15 09:30:00`, `2026-03-15T09:30`, or a date column and a time column.
//!
//! The result is a `NaiveDateTime`: a wall-clock time in the contact's own time zone, which is
//! resolved elsewhere. Day-first is the only order for `/` and `-` dates that start with the day
//! (Spain never writes month-first), so `03/04/2026` is the 3rd of April. Anything else is an
//! error that says what is wrong with the value; the caller adds the column and the
//! [`Accepted`] formats.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// The accepted formats of a column, as shown to people in reject reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// A date and time in one column: `DD/MM/YYYY HH:MM` or `YYYY-MM-DD HH:MM`.
    DateTime,
    /// A date column that has a time column beside it.
    Date,
    /// A time column.
    Time,
}

impl Accepted {
    pub fn msg(self) -> crate::i18n::Msg {
        crate::i18n::Msg::new(match self {
            Accepted::DateTime => "date.accepted",
            Accepted::Date => "date.accepted_date",
            Accepted::Time => "date.accepted_time",
        })
    }
}

/// What is wrong with a date or time; its sentence ([`DateError::msg`]) completes one that
/// starts with the value. `Display` is that sentence in English (logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateError {
    Empty,
    NotDateTime,
    NotDate,
    NotTime,
    NoTime,
    NoSuchMonth(u32),
    NoSuchDay { day: u32, month: u32, year: i32 },
    NoSuchTime,
}

impl DateError {
    pub fn msg(&self) -> crate::i18n::Msg {
        use crate::i18n::Msg;
        match self {
            DateError::Empty => Msg::new("date.empty"),
            DateError::NotDateTime => Msg::new("date.not_datetime"),
            DateError::NotDate => Msg::new("date.not_date"),
            DateError::NotTime => Msg::new("date.not_time"),
            DateError::NoTime => Msg::new("date.no_time"),
            DateError::NoSuchMonth(m) => Msg::new("date.no_such_month").arg("month", m),
            DateError::NoSuchDay { day, month, year } => {
                let name = if (1..=12).contains(month) {
                    format!("month.{month}")
                } else {
                    "month.other".to_string()
                };
                Msg::new("date.no_such_day")
                    .arg("day", day)
                    .msg("month", Msg::new(&name))
                    .arg("year", year)
            }
            DateError::NoSuchTime => Msg::new("date.no_such_time"),
        }
    }
}

impl std::fmt::Display for DateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::i18n::Lang::En.render(&self.msg()))
    }
}

impl std::error::Error for DateError {}

/// A date and a time in one text: `DD/MM/YYYY HH:MM`, `YYYY-MM-DD HH:MM`, with `-` or `/`,
/// one- or two-digit day, month and hour, optional `:SS`, and a space or `T` between.
pub fn parse_datetime(text: &str) -> Result<NaiveDateTime, DateError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DateError::Empty);
    }
    let mut s = Scanner::new(text);
    let date = s.date().ok_or(DateError::NotDateTime)?;
    if s.at_end() {
        return Err(DateError::NoTime);
    }
    if !s.date_time_gap() {
        return Err(DateError::NotDateTime);
    }
    let time = s.time().ok_or(DateError::NotDateTime)?;
    if !s.at_end() {
        return Err(DateError::NotDateTime);
    }
    Ok(NaiveDateTime::new(date.check()?, time.check()?))
}

/// A date alone (`15/03/2026`, `2026-03-15`). A time of exactly midnight after it is tolerated,
/// because Excel writes date cells that way when the column is formatted as date and time.
pub fn parse_date(text: &str) -> Result<NaiveDate, DateError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DateError::Empty);
    }
    let mut s = Scanner::new(text);
    let date = s.date().ok_or(DateError::NotDate)?;
    if !s.at_end() {
        let midnight = s.date_time_gap()
            && s.time().is_some_and(|t| t.h == 0 && t.m == 0 && t.s == 0)
            && s.at_end();
        if !midnight {
            return Err(DateError::NotDate);
        }
    }
    date.check()
}

/// A time of day alone: `9:30`, `09:30`, `09:30:00`.
pub fn parse_time(text: &str) -> Result<NaiveTime, DateError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DateError::Empty);
    }
    let mut s = Scanner::new(text);
    let time = s.time().ok_or(DateError::NotTime)?;
    if !s.at_end() {
        return Err(DateError::NotTime);
    }
    time.check()
}

/// Which of the two columns of a date + time pair is at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairError {
    Date(DateError),
    Time(DateError),
}

/// A date column and a time column read together. Both empty is `Ok(None)` (no appointment);
/// one of them empty is an error of that one.
pub fn parse_pair(date: &str, time: &str) -> Result<Option<NaiveDateTime>, PairError> {
    if date.trim().is_empty() && time.trim().is_empty() {
        return Ok(None);
    }
    let d = parse_date(date).map_err(PairError::Date)?;
    let t = parse_time(time).map_err(PairError::Time)?;
    Ok(Some(NaiveDateTime::new(d, t)))
}

/// A date as written, not yet checked against the calendar.
struct RawDate {
    y: i32,
    m: u32,
    d: u32,
}

impl RawDate {
    fn check(&self) -> Result<NaiveDate, DateError> {
        if !(1..=12).contains(&self.m) {
            return Err(DateError::NoSuchMonth(self.m));
        }
        NaiveDate::from_ymd_opt(self.y, self.m, self.d).ok_or(DateError::NoSuchDay {
            day: self.d,
            month: self.m,
            year: self.y,
        })
    }
}

struct RawTime {
    h: u32,
    m: u32,
    s: u32,
}

impl RawTime {
    fn check(&self) -> Result<NaiveTime, DateError> {
        NaiveTime::from_hms_opt(self.h, self.m, self.s).ok_or(DateError::NoSuchTime)
    }
}

/// A cursor over the text; every method either consumes what it recognises or nothing useful
/// is left to do with the text (the caller turns `None` into an error).
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner {
            bytes: text.as_bytes(),
            at: 0,
        }
    }

    fn at_end(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Digits as a number, with how many there were (at most 4 are read).
    fn number(&mut self) -> Option<(u32, usize)> {
        let start = self.at;
        let mut value = 0u32;
        while let Some(b) = self.peek().filter(u8::is_ascii_digit) {
            if self.at - start == 4 {
                return None;
            }
            value = value * 10 + u32::from(b - b'0');
            self.at += 1;
        }
        let len = self.at - start;
        (len > 0).then_some((value, len))
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn date(&mut self) -> Option<RawDate> {
        let (a, a_len) = self.number()?;
        let sep = self.peek().filter(|b| *b == b'/' || *b == b'-')?;
        self.at += 1;
        let (b, b_len) = self.number()?;
        if !self.eat(sep) {
            return None;
        }
        let (c, c_len) = self.number()?;
        if a_len == 4 && b_len <= 2 && c_len <= 2 {
            Some(RawDate {
                y: a as i32,
                m: b,
                d: c,
            })
        } else if a_len <= 2 && b_len <= 2 && c_len == 4 {
            Some(RawDate {
                y: c as i32,
                m: b,
                d: a,
            })
        } else {
            None
        }
    }

    /// One `T`, or one or more spaces, between the date and the time.
    fn date_time_gap(&mut self) -> bool {
        if self.eat(b'T') {
            return true;
        }
        let start = self.at;
        while self.eat(b' ') {}
        self.at > start
    }

    fn time(&mut self) -> Option<RawTime> {
        let (h, h_len) = self.number()?;
        if h_len > 2 || !self.eat(b':') {
            return None;
        }
        let (m, m_len) = self.number()?;
        if m_len != 2 {
            return None;
        }
        let mut s = 0;
        if self.eat(b':') {
            let (sec, s_len) = self.number()?;
            if s_len != 2 {
                return None;
            }
            s = sec;
        }
        Some(RawTime { h, m, s })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_opt(h, mi, s))
            .expect("test date")
    }

    #[test]
    fn every_accepted_form() {
        let want = dt(2026, 3, 5, 9, 30, 0);
        for text in [
            "2026-03-05 09:30",
            "2026-3-5 9:30",
            "2026/03/05 09:30",
            "2026-03-05T09:30",
            "2026-03-05 09:30:00",
            "05/03/2026 09:30",
            "5/3/2026 9:30",
            "05-03-2026 09:30",
            "5/3/2026  9:30:00",
            "  05/03/2026 09:30  ",
        ] {
            assert_eq!(parse_datetime(text), Ok(want), "{text}");
        }
        assert_eq!(
            parse_datetime("31/12/2026 23:59:59"),
            Ok(dt(2026, 12, 31, 23, 59, 59))
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(parse_datetime(""), Err(DateError::Empty));
        assert_eq!(parse_datetime("15/03/2026"), Err(DateError::NoTime));
        assert_eq!(
            parse_datetime("03/15/2026 10:00"),
            Err(DateError::NoSuchMonth(15))
        );
        assert_eq!(
            parse_datetime("29/02/2026 10:00"),
            Err(DateError::NoSuchDay {
                day: 29,
                month: 2,
                year: 2026
            })
        );
        assert_eq!(
            parse_datetime("15/03/2026 25:00"),
            Err(DateError::NoSuchTime)
        );
        for bad in [
            "mañana",
            "15/03/26 10:00",
            "15.03.2026 10:00",
            "15/03-2026 10:00",
            "2026-03-15 10",
            "2026-03-15 10:0",
            "2026-03-15 10:00 h",
            "2026-03-15T 10:00",
            "123/03/2026 10:00",
            "15/03/20260 10:00",
        ] {
            assert_eq!(parse_datetime(bad), Err(DateError::NotDateTime), "{bad}");
        }
        assert_eq!(
            DateError::NoSuchDay {
                day: 31,
                month: 4,
                year: 2026
            }
            .to_string(),
            "has day 31, which April 2026 does not have"
        );
    }

    #[test]
    fn date_and_time_columns() {
        assert_eq!(
            parse_pair("15/03/2026", "9:30"),
            Ok(Some(dt(2026, 3, 15, 9, 30, 0)))
        );
        assert_eq!(
            parse_pair("2026-03-15 0:00:00", "09:30:15"),
            Ok(Some(dt(2026, 3, 15, 9, 30, 15)))
        );
        assert_eq!(parse_pair(" ", ""), Ok(None));
        assert_eq!(
            parse_pair("15/03/2026", ""),
            Err(PairError::Time(DateError::Empty))
        );
        assert_eq!(
            parse_pair("15/03/2026 10:00", "9:30"),
            Err(PairError::Date(DateError::NotDate))
        );
        assert_eq!(
            parse_pair("15/03/2026", "9.30"),
            Err(PairError::Time(DateError::NotTime))
        );
        assert_eq!(parse_time("24:00"), Err(DateError::NoSuchTime));
    }
}
