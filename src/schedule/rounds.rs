//! Dialing rounds from an ordinary five-field crontab line (`0 9 * * mon-fri`).
//!
//! The `cron` crate wants a seconds field and numbers weekdays from Sunday = 1, while crontab
//! numbers them from Sunday = 0 (and 7): the line is translated here, weekdays into names, so a
//! user's `1-5` still means Monday to Friday. A round opens at each firing time, in the
//! campaign's zone, and stays open until the end of that local day.

use std::str::FromStr;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;

use crate::i18n::Msg;

const DAYS: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];

/// A parsed `schedule`.
#[derive(Debug, Clone)]
pub struct Rounds {
    schedule: cron::Schedule,
    line: String,
}

/// A crontab weekday field in the `cron` crate's terms; the error is the number that is not a
/// weekday.
fn weekday_token(tok: &str) -> Result<String, usize> {
    // `1-5`, `0`, `mon-fri`, `*/2`: numbers become names, the rest passes through.
    let (body, step) = match tok.split_once('/') {
        Some((b, s)) => (b, Some(s)),
        None => (tok, None),
    };
    let conv = |p: &str| -> Result<String, usize> {
        match p.parse::<usize>() {
            Ok(n) if n <= 7 => Ok(DAYS[n].to_string()),
            Ok(n) => Err(n),
            Err(_) => Ok(p.to_ascii_uppercase()),
        }
    };
    let body = match body.split_once('-') {
        Some((a, b)) => format!("{}-{}", conv(a)?, conv(b)?),
        None => conv(body)?,
    };
    Ok(match step {
        Some(s) => format!("{body}/{s}"),
        None => body,
    })
}

impl Rounds {
    /// Parses a five-field crontab line; the error names the line and what is expected.
    pub fn parse(line: &str) -> Result<Rounds, Msg> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(Msg::new("rule.schedule_fields").arg("line", line));
        }
        let dow = fields[4]
            .split(',')
            .map(weekday_token)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|n| {
                Msg::new("rule.schedule_weekday")
                    .arg("line", line)
                    .arg("value", n)
            })?
            .join(",");
        let expr = format!(
            "0 {} {} {} {} {}",
            fields[0], fields[1], fields[2], fields[3], dow
        );
        let schedule = cron::Schedule::from_str(&expr).map_err(|e| {
            Msg::new("rule.schedule_invalid")
                .arg("line", line)
                .arg("error", e)
        })?;
        if schedule.upcoming(Utc).next().is_none() {
            return Err(Msg::new("rule.schedule_never").arg("line", line));
        }
        Ok(Rounds {
            schedule,
            line: line.to_string(),
        })
    }

    pub fn line(&self) -> &str {
        &self.line
    }

    /// The latest firing time at or before `now` within the last eight days.
    pub fn last_fire(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let from = (now - Duration::days(8)).with_timezone(&tz);
        let mut last = None;
        // Bounded: an every-minute schedule is 11,520 firings in eight days.
        for t in self.schedule.after(&from).take(20_000) {
            let t = t.with_timezone(&Utc);
            if t > now {
                break;
            }
            last = Some(t);
        }
        last
    }

    /// The next firing time strictly after `now`.
    pub fn next_fire(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        self.schedule
            .after(&now.with_timezone(&tz))
            .next()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Whether a round is open at `now`: it fired earlier on the same local day.
    pub fn is_open(&self, now: DateTime<Utc>, tz: Tz) -> bool {
        self.last_fire(now, tz)
            .map(|t| t.with_timezone(&tz).date_naive() == now.with_timezone(&tz).date_naive())
            .unwrap_or(false)
    }
}

/// Midnight at the start of a local date, as an instant (the first valid instant on DST days).
pub fn local_midnight(date: chrono::NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    let mut t = date.and_hms_opt(0, 0, 0)?;
    for _ in 0..4 {
        if let Some(dt) = tz.from_local_datetime(&t).earliest() {
            return Some(dt.with_timezone(&Utc));
        }
        t += Duration::minutes(30);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const MADRID: Tz = chrono_tz::Europe::Madrid;

    #[test]
    fn crontab_weekday_numbers_keep_their_meaning() {
        let r = Rounds::parse("0 9 * * 1-5").unwrap();
        // Saturday 28 Nov 2026, 12:00 Madrid: the next round is Monday 30 at 09:00 (08:00Z).
        assert_eq!(
            r.next_fire(utc("2026-11-28T11:00:00Z"), MADRID),
            Some(utc("2026-11-30T08:00:00Z"))
        );
        let sunday = Rounds::parse("30 10 * * 0").unwrap();
        assert_eq!(
            sunday.next_fire(utc("2026-11-23T00:00:00Z"), MADRID),
            Some(utc("2026-11-29T09:30:00Z"))
        );
        let seven = Rounds::parse("30 10 * * 7").unwrap();
        assert_eq!(
            seven.next_fire(utc("2026-11-23T00:00:00Z"), MADRID),
            Some(utc("2026-11-29T09:30:00Z"))
        );
        assert!(Rounds::parse("0 9 * * mon-fri").is_ok());
    }

    #[test]
    fn a_round_is_open_from_its_firing_to_the_end_of_the_local_day() {
        let r = Rounds::parse("0 9 * * mon-fri").unwrap();
        assert!(!r.is_open(utc("2026-11-24T07:59:00Z"), MADRID));
        assert!(r.is_open(utc("2026-11-24T08:00:00Z"), MADRID));
        assert!(r.is_open(utc("2026-11-24T22:59:00Z"), MADRID));
        assert!(
            !r.is_open(utc("2026-11-24T23:00:00Z"), MADRID),
            "midnight in Madrid closes it"
        );
        assert!(
            !r.is_open(utc("2026-11-28T10:00:00Z"), MADRID),
            "no round on Saturday"
        );
    }

    #[test]
    fn bad_lines_are_explained() {
        let en = |line: &str| crate::i18n::Lang::En.render(&Rounds::parse(line).unwrap_err());
        let e = en("0 9 * *");
        assert!(e.contains("five fields"), "{e}");
        let e = en("0 9 * * 8");
        assert!(e.contains("8 is not a weekday"), "{e}");
        let e = en("0 25 * * *");
        assert!(e.contains("not a valid crontab"), "{e}");
        let es = crate::i18n::Lang::Es.render(&Rounds::parse("0 9 * * 8").unwrap_err());
        assert_eq!(
            es,
            "schedule \"0 9 * * 8\": 8 no es un día de la semana (0-7)"
        );
    }

    #[test]
    fn midnight_on_a_dst_day() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        assert_eq!(local_midnight(d, MADRID), Some(utc("2026-03-28T23:00:00Z")));
    }
}
