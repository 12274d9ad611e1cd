//! Why a row of a contact list was not imported: a stable identifier ([`RejectReason::id`]) that
//! never changes with the language, and the sentence people read, from the catalogue
//! ([`RejectReason::msg`]), worded in `[ui] language` where it is shown (`<file>.rejected.csv`,
//! `check`, `import`).

use chrono::NaiveDate;

use crate::campaign::dates::{Accepted, DateError};
use crate::campaign::phone::PhoneError;
use crate::i18n::{Lang, Msg};

/// Why a row was rejected. Column names are the header cells as written in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// A quote never closed: lines `from` to `to` were read as part of this row.
    UnclosedQuote {
        from: u64,
        to: u64,
    },
    /// No phone column holds a valid number.
    Phone(PhoneError),
    /// The row is the header row again (two lists pasted together).
    RepeatedHeader,
    /// The time zone column holds something that is not one.
    TimeZone {
        column: String,
        value: String,
    },
    /// The appointment (or one column of its date + time pair) is empty; `other` is the column
    /// of the pair that is not.
    DateEmpty {
        column: String,
        other: Option<String>,
        accepted: Accepted,
    },
    /// The appointment (or one column of its pair) cannot be read.
    BadDate {
        column: String,
        value: String,
        problem: DateError,
        accepted: Accepted,
    },
    /// The campaign requires consent and the file has no consent column.
    NoConsentColumn,
    ConsentEmpty {
        column: String,
    },
    ConsentNotADate {
        column: String,
        value: String,
    },
    ConsentInFuture {
        column: String,
        given: NaiveDate,
    },
    ConsentExpired {
        column: String,
        given: NaiveDate,
        last: NaiveDate,
    },
    ConsentOutOfRange {
        column: String,
        given: NaiveDate,
    },
}

/// The arguments that hold the row's own values: left out when rows are grouped by reason.
const VALUES: [&str; 4] = ["value", "last", "from", "to"];

impl RejectReason {
    /// The stable identifier of the reason (the same in every language).
    pub fn id(&self) -> &'static str {
        match self {
            RejectReason::UnclosedQuote { .. } => "unclosed_quote",
            RejectReason::Phone(e) => e.id(),
            RejectReason::RepeatedHeader => "repeated_header",
            RejectReason::TimeZone { .. } => "bad_time_zone",
            RejectReason::DateEmpty { .. } => "appointment_empty",
            RejectReason::BadDate { .. } => "bad_appointment",
            RejectReason::NoConsentColumn => "no_consent_column",
            RejectReason::ConsentEmpty { .. } => "consent_empty",
            RejectReason::ConsentNotADate { .. } => "consent_not_a_date",
            RejectReason::ConsentInFuture { .. } => "consent_in_future",
            RejectReason::ConsentExpired { .. } => "consent_expired",
            RejectReason::ConsentOutOfRange { .. } => "consent_out_of_range",
        }
    }

    /// The sentence for people.
    pub fn msg(&self) -> Msg {
        match self {
            RejectReason::UnclosedQuote { from, to } => Msg::new("reject.unclosed_quote")
                .arg("from", from)
                .arg("to", to),
            RejectReason::Phone(e) => e.msg(),
            RejectReason::RepeatedHeader => Msg::new("reject.repeated_header"),
            RejectReason::TimeZone { column, value } => Msg::new("reject.time_zone")
                .arg("column", column)
                .arg("value", value),
            RejectReason::DateEmpty {
                column,
                other,
                accepted,
            } => match other {
                Some(other) => Msg::new("reject.date_empty_but")
                    .arg("column", column)
                    .arg("other", other),
                None => Msg::new("reject.date_empty").arg("column", column),
            }
            .msg("accepted", accepted.msg()),
            RejectReason::BadDate {
                column,
                value,
                problem,
                accepted,
            } => Msg::new("reject.bad_date")
                .arg("column", column)
                .arg("value", value)
                .msg("problem", problem.msg())
                .msg("accepted", accepted.msg()),
            RejectReason::NoConsentColumn => Msg::new("reject.no_consent_column"),
            RejectReason::ConsentEmpty { column } => {
                Msg::new("reject.consent_empty").arg("column", column)
            }
            RejectReason::ConsentNotADate { column, value } => {
                Msg::new("reject.consent_not_a_date")
                    .arg("column", column)
                    .arg("value", value)
            }
            RejectReason::ConsentInFuture { column, given } => Msg::new("reject.consent_in_future")
                .arg("column", column)
                .arg("value", given),
            RejectReason::ConsentExpired {
                column,
                given,
                last,
            } => Msg::new("reject.consent_expired")
                .arg("column", column)
                .arg("value", given)
                .arg("last", last),
            RejectReason::ConsentOutOfRange { column, given } => {
                Msg::new("reject.consent_out_of_range")
                    .arg("column", column)
                    .arg("value", given)
            }
        }
    }

    /// The sentence without the row's own values (`"…"` in their place), so that rows with the
    /// same problem in the same column group together.
    pub fn grouped(&self) -> Msg {
        let mut m = self.msg();
        for (name, value) in m.args.iter_mut() {
            if VALUES.contains(&name.as_str()) {
                *value = crate::i18n::Arg::Text("…".into());
            }
        }
        m
    }
}

impl std::fmt::Display for RejectReason {
    /// In English (logs, tests); people read [`RejectReason::msg`] in their language.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&Lang::En.render(&self.msg()))
    }
}

/// Rejected rows grouped by reason ([`RejectReason::grouped`]): how many, the first lines that
/// have it, and the full sentence of the first (shown when only one row has it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RejectTally {
    groups: std::collections::BTreeMap<String, (u64, Vec<u64>, Msg, Msg)>,
}

/// Lines kept per reason.
const LINES_KEPT: usize = 5;

impl RejectTally {
    pub fn add(&mut self, r: &super::Rejected) {
        let grouped = r.reason.grouped();
        let e = self
            .groups
            .entry(grouped.to_stored())
            .or_insert_with(|| (0, Vec::new(), r.reason.msg(), grouped));
        e.0 += 1;
        if e.1.len() < LINES_KEPT {
            e.1.push(r.line);
        }
    }

    /// `(reason, count, first lines)`, the most frequent first; the reason is the full sentence
    /// when only one row has it.
    pub fn reasons(&self) -> Vec<(Msg, u64, Vec<u64>)> {
        let mut out: Vec<(Msg, u64, Vec<u64>)> = self
            .groups
            .values()
            .map(|(n, lines, first, grouped)| {
                let m = if *n == 1 { first } else { grouped };
                (m.clone(), *n, lines.clone())
            })
            .collect();
        out.sort_by_key(|r| std::cmp::Reverse(r.1));
        out
    }
}

/// One line per reason: `rejected 2×: … (lines 4, 5)`, in a language.
pub fn reason_lines(lang: Lang, reasons: &[(Msg, u64, Vec<u64>)]) -> Vec<String> {
    reasons
        .iter()
        .map(|(reason, count, lines)| {
            let shown: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            let more = if *count as usize > shown.len() {
                ", …"
            } else {
                ""
            };
            let key = if shown.len() == 1 {
                "quality.line"
            } else {
                "quality.lines"
            };
            lang.fill(
                "quality.rejected_reason",
                &[
                    ("n", count),
                    ("reason", &lang.render(reason)),
                    (
                        "lines",
                        &lang.fill(key, &[("lines", &format!("{}{more}", shown.join(", ")))]),
                    ),
                ],
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_worded_in_each_language_and_keeps_its_identifier() {
        let r = RejectReason::BadDate {
            column: "cita".into(),
            value: "31/02/2026 10:00".into(),
            problem: DateError::NoSuchDay {
                day: 31,
                month: 2,
                year: 2026,
            },
            accepted: Accepted::DateTime,
        };
        assert_eq!(r.id(), "bad_appointment");
        assert_eq!(
            Lang::Es.render(&r.msg()),
            "cita: \"31/02/2026 10:00\" tiene el día 31, que febrero de 2026 no tiene; formatos admitidos: DD/MM/AAAA HH:MM (15/03/2026 09:30) o AAAA-MM-DD HH:MM (2026-03-15 09:30)"
        );
        assert_eq!(
            r.to_string(),
            "cita: \"31/02/2026 10:00\" has day 31, which February 2026 does not have; accepted formats: DD/MM/YYYY HH:MM (15/03/2026 09:30) or YYYY-MM-DD HH:MM (2026-03-15 09:30)"
        );
        let phone = RejectReason::Phone(PhoneError::Letters("hola".into()));
        assert_eq!(phone.id(), "phone_letters");
        assert_eq!(
            Lang::Es.render(&phone.grouped()),
            "\"…\" no es un número de teléfono: tiene letras"
        );
    }
}
