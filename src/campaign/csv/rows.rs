//! Row validation: what one data row becomes (a contact, a rejected row with its reason, or a
//! duplicate of an earlier row), and the compact set of numbers already seen in the file.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::dates::Accepted;
use super::header::{normalize_header, Appointment};
use super::{dates, phone, push_json_str, Duplicate, Layout, NewContact, RejectReason, Rejected};

/// The decoder only produces UTF-8, so the lossy branch is a safety net.
pub(super) fn lossy(field: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(field) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(field),
    }
}

pub(super) fn is_blank(record: &::csv::ByteRecord) -> bool {
    record.iter().all(|f| match f.first() {
        None => true,
        Some(b) if b.is_ascii_graphic() => false,
        Some(_) => lossy(f).trim().is_empty(),
    })
}

/// What one row became.
pub(super) enum Row {
    Contact(NewContact),
    Rejected(Rejected),
    Duplicate(Duplicate),
}

/// The per-row work, apart from the CSV reader so that it can borrow the record.
pub(super) struct RowReader {
    pub(super) region: Option<phonenumber::country::Id>,
    pub(super) seen: SeenNumbers,
    /// Time zone column values already looked up (few distinct ones in a file).
    pub(super) zones: HashMap<String, Option<&'static str>>,
    /// The campaign requires consent: rows without a valid basis are rejected.
    pub(super) consent: Option<crate::campaign::consent::ConsentPolicy>,
}

impl RowReader {
    pub(super) fn read(&mut self, layout: &Layout, record: &::csv::ByteRecord, line: u64) -> Row {
        let fields: Vec<Cow<'_, str>> = record.iter().map(lossy).collect();
        let field = |i: usize| fields.get(i).map_or("", |f| f.as_ref());
        let reject = |reason: RejectReason| {
            Row::Rejected(Rejected {
                line,
                record: fields.iter().map(|f| f.to_string()).collect(),
                reason,
                withdraws: None,
            })
        };
        let roles = &layout.roles;

        if let Some(last) = self.swallowed_lines(layout, &fields, line) {
            return reject(RejectReason::UnclosedQuote {
                from: line + 1,
                to: last,
            });
        }

        // The first phone column with a valid number; else the first column's reason that is
        // more than "empty".
        let mut number = Err(phone::PhoneError::Empty);
        for &col in &roles.phones {
            match phone::normalize(field(col), self.region) {
                Ok(p) => {
                    number = Ok(p);
                    break;
                }
                Err(e) => {
                    if number == Err(phone::PhoneError::Empty) {
                        number = Err(e);
                    }
                }
            }
        }
        let phone = match number {
            Ok(p) => p,
            Err(_) if self.repeats_header(layout, &fields) => {
                return reject(RejectReason::RepeatedHeader);
            }
            Err(e) => return reject(RejectReason::Phone(e)),
        };
        let slot = match phone::key(&phone).map(|k| self.seen.find(k)) {
            Some(Err(first_line)) => return Row::Duplicate(Duplicate { line, first_line }),
            Some(Ok(slot)) => Some(slot),
            None => None,
        };

        let timezone = match roles
            .timezone
            .map(|i| field(i).trim())
            .filter(|v| !v.is_empty())
        {
            Some(v) => match self.zone(v) {
                Some(tz) => Some(tz.to_string()),
                None => {
                    return reject(RejectReason::TimeZone {
                        column: header(layout, roles.timezone).to_string(),
                        value: v.to_string(),
                    })
                }
            },
            None => phone::implied_timezone(&phone).map(str::to_string),
        };

        let appointment = match appointment(layout, &field) {
            Ok(a) => a,
            Err(e) => return reject(e),
        };

        if let Some(policy) = &self.consent {
            if let Err(e) = policy.check(&layout.keys, &field) {
                // A list sent again without the consent withdraws it.
                return match reject(e) {
                    Row::Rejected(r) => Row::Rejected(Rejected {
                        withdraws: Some(phone),
                        ..r
                    }),
                    other => other,
                };
            }
        }

        if let Some(slot) = slot {
            self.seen.fill(slot, line);
        }
        let mut vars_json = String::with_capacity(16 * layout.keys.len() + 64);
        vars_json.push('{');
        for (i, k) in layout.keys.iter().enumerate() {
            if i > 0 {
                vars_json.push(',');
            }
            push_json_str(&mut vars_json, k);
            vars_json.push(':');
            push_json_str(&mut vars_json, field(i).trim());
        }
        vars_json.push('}');
        Row::Contact(NewContact {
            phone,
            name: roles.name.map_or("", field).trim().to_string(),
            vars_json,
            timezone,
            appointment,
        })
    }

    /// A quote that is never closed swallows the rows below it into one field. Notes may hold
    /// line breaks, so this only fires when a line inside a field is itself a whole row with a
    /// valid phone number; it returns the row's last line.
    fn swallowed_lines(&self, layout: &Layout, fields: &[Cow<'_, str>], line: u64) -> Option<u64> {
        let delimiter = char::from(layout.delimiter);
        let multiline = |f: &&Cow<'_, str>| f.contains('\n');
        let suspicious = fields.iter().filter(multiline).any(|f| {
            f.lines().skip(1).any(|l| {
                let cells: Vec<&str> = l.split(delimiter).collect();
                cells.len() >= layout.headers.len().max(2)
                    && layout.roles.phones.iter().any(|&c| {
                        cells
                            .get(c)
                            .is_some_and(|v| phone::normalize(v, self.region).is_ok())
                    })
            })
        });
        if !suspicious {
            return None;
        }
        let breaks: usize = fields
            .iter()
            .map(|f| f.trim_end_matches(['\r', '\n']).matches('\n').count())
            .sum();
        Some(line + breaks as u64)
    }

    fn repeats_header(&self, layout: &Layout, fields: &[Cow<'_, str>]) -> bool {
        let n = layout.headers.len();
        fields.len() >= n
            && fields[..n]
                .iter()
                .zip(&layout.headers)
                .all(|(f, h)| f.trim() == h)
    }

    /// An IANA name (any case), or a Spanish way of naming the two zones of Spain.
    fn zone(&mut self, value: &str) -> Option<&'static str> {
        if let Ok(tz) = value.parse::<chrono_tz::Tz>() {
            return Some(tz.name());
        }
        if let Some(found) = self.zones.get(value) {
            return *found;
        }
        let found = match normalize_header(value).as_str() {
            "canarias" | "islas_canarias" | "canary_islands" => Some("Atlantic/Canary"),
            "peninsula" | "madrid" | "espana" | "spain" => Some("Europe/Madrid"),
            _ => chrono_tz::TZ_VARIANTS
                .iter()
                .find(|tz| tz.name().eq_ignore_ascii_case(value))
                .map(|tz| tz.name()),
        };
        if self.zones.len() < 1000 {
            self.zones.insert(value.to_string(), found);
        }
        found
    }
}

fn header(layout: &Layout, col: Option<usize>) -> &str {
    col.and_then(|c| layout.headers.get(c))
        .map_or("", String::as_str)
}

/// The row's appointment, or the reason it cannot be read (naming the column).
fn appointment<'f>(
    layout: &Layout,
    field: &impl Fn(usize) -> &'f str,
) -> Result<Option<NaiveDateTime>, RejectReason> {
    let name = |c: usize| header(layout, Some(c)).to_string();
    let date_err = |c: usize, e: dates::DateError, accepted: Accepted| match e {
        dates::DateError::Empty => RejectReason::DateEmpty {
            column: name(c),
            other: None,
            accepted,
        },
        problem => RejectReason::BadDate {
            column: name(c),
            value: field(c).trim().to_string(),
            problem,
            accepted,
        },
    };
    let empty_but = |c: usize, other: usize, accepted: Accepted| RejectReason::DateEmpty {
        column: name(c),
        other: Some(name(other)),
        accepted,
    };
    match layout.roles.appointment {
        Appointment::None => Ok(None),
        Appointment::One(c, time) => {
            let value = field(c);
            let time_value = time.map(field).filter(|t| !t.trim().is_empty());
            if value.trim().is_empty() {
                return match (time, time_value) {
                    (Some(t), Some(_)) => Err(empty_but(c, t, Accepted::DateTime)),
                    _ => Ok(None),
                };
            }
            if let (Some(t), Some(tv)) = (time, time_value) {
                if let Ok(d) = dates::parse_date(value) {
                    return dates::parse_time(tv)
                        .map(|tm| Some(d.and_time(tm)))
                        .map_err(|e| date_err(t, e, Accepted::Time));
                }
            }
            dates::parse_datetime(value)
                .map(Some)
                .map_err(|e| date_err(c, e, Accepted::DateTime))
        }
        Appointment::Pair(d, t) => dates::parse_pair(field(d), field(t)).map_err(|e| match e {
            dates::PairError::Date(dates::DateError::Empty) => empty_but(d, t, Accepted::Date),
            dates::PairError::Time(dates::DateError::Empty) => empty_but(t, d, Accepted::Time),
            dates::PairError::Date(e) => date_err(d, e, Accepted::Date),
            dates::PairError::Time(e) => date_err(t, e, Accepted::Time),
        }),
    }
}

/// Numbers already imported from this file and the line of each: an open-addressing table of
/// slots `[key high, key low, line]` (`u32`s; a key is the E.164 digits, 0 = free), so a lookup
/// touches one place in memory. 12 bytes a slot, 1.25 slots a line of the file as the first
/// pass counted them, so it only grows when that count was wrong.
pub(super) struct SeenNumbers {
    slots: Vec<[u32; 3]>,
    len: usize,
}

/// Where a number not yet seen goes: valid until the next `fill`.
#[derive(Debug, Clone, Copy)]
struct Vacant {
    slot: usize,
    key: u64,
}

impl SeenNumbers {
    pub(super) fn with_capacity(rows: u64) -> Self {
        let slots = (rows as usize).saturating_mul(5) / 4 + 16;
        SeenNumbers {
            slots: vec![[0; 3]; slots],
            len: 0,
        }
    }

    fn key_at(&self, i: usize) -> u64 {
        let [hi, lo, _] = self.slots[i];
        (u64::from(hi) << 32) | u64::from(lo)
    }

    /// The line of `key` (`Err`), or where to put it (`Ok`).
    fn find(&mut self, key: u64) -> Result<Vacant, u64> {
        // Grow first, so that the vacant slot is still right when it is filled.
        if (self.len + 1) * 5 > self.slots.len() * 4 {
            self.grow();
        }
        // Fibonacci hashing, then the high half of a 128-bit product maps onto any table size.
        let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut i = ((u128::from(h) * self.slots.len() as u128) >> 64) as usize;
        loop {
            match self.key_at(i) {
                0 => return Ok(Vacant { slot: i, key }),
                k if k == key => return Err(u64::from(self.slots[i][2])),
                _ => i = if i + 1 == self.slots.len() { 0 } else { i + 1 },
            }
        }
    }

    fn fill(&mut self, at: Vacant, line: u64) {
        let line = u32::try_from(line).unwrap_or(u32::MAX);
        self.slots[at.slot] = [(at.key >> 32) as u32, at.key as u32, line];
        self.len += 1;
    }

    fn grow(&mut self) {
        let bigger = SeenNumbers::with_capacity(self.slots.len() as u64 * 2);
        let old = std::mem::replace(self, bigger);
        for i in 0..old.slots.len() {
            let key = old.key_at(i);
            if key != 0 {
                if let Ok(at) = self.find(key) {
                    self.fill(at, u64::from(old.slots[i][2]));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::csv::tests::*;
    use crate::campaign::csv::*;

    #[test]
    fn an_appointment_column_may_take_its_time_from_a_hora_column() {
        let p = parse_bytes(
            "c.csv",
            b"telefono;cita;hora\n600000001;15/03/2026;10:30\n600000002;15/03/2026 0:00;11:00\n600000003;15/03/2026 09:00;\n600000004;;10:00\n600000005;;\n600000006;15/03/2026;10h\n",
            es(),
        )
        .unwrap();
        assert_eq!(
            p.contacts.iter().map(|c| c.appointment).collect::<Vec<_>>(),
            [
                at(2026, 3, 15, 10, 30),
                at(2026, 3, 15, 11, 0),
                at(2026, 3, 15, 9, 0),
                None
            ]
        );
        assert_eq!(
            reasons(&p),
            [
                (5, format!("cita is empty but hora is not; {FORMATS}")),
                (7, "hora: \"10h\" is not a time of day such as 09:30; accepted formats: HH:MM (09:30) or HH:MM:SS (09:30:00)".to_string()),
            ]
        );
    }

    #[test]
    fn time_zones_by_column_alias_or_number() {
        let p = parse_bytes(
            "z.csv",
            b"telefono;zona\n600000001;europe/madrid\n928000001;\n928000002;Europe/Madrid\n600000003;Islas Canarias\n",
            es(),
        )
        .unwrap();
        assert_eq!(
            p.contacts
                .iter()
                .map(|c| c.timezone.as_deref())
                .collect::<Vec<_>>(),
            [
                Some("Europe/Madrid"),
                Some("Atlantic/Canary"),
                Some("Europe/Madrid"),
                Some("Atlantic/Canary")
            ]
        );
    }

    #[test]
    fn a_repeated_header_row_is_named_as_such() {
        let p = parse_bytes(
            "r.csv",
            b"telefono;nombre\n600000001;A\ntelefono;nombre\n600000002;B\n",
            es(),
        )
        .unwrap();
        assert_eq!(p.contacts.len(), 2);
        assert_eq!(
            reasons(&p),
            [(
                3,
                "this row repeats the header row (were two lists pasted together?)".to_string()
            )]
        );
    }

    #[test]
    fn seen_numbers_grow_past_their_estimate() {
        let mut seen = SeenNumbers::with_capacity(0);
        for i in 1..=10_000u64 {
            let at = seen.find(34_600_000_000 + i).unwrap();
            seen.fill(at, i);
        }
        assert_eq!(seen.find(34_600_000_777).unwrap_err(), 777);
        assert!(seen.find(34_600_010_001).is_ok());
        assert!(seen.find(999_999_999_999_999).is_ok());
    }
}
