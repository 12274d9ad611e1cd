//! The consent part of the compliance report: launches to contacts without a valid basis at
//! the time of the launch (must read 0 for a campaign that requires consent) and where the
//! consent of the campaign's contacts was given.
//!
//! Guarantees: a launch counts as without basis when its contact has no consent date, one that
//! is not a date, one later than the launch, or consent expired under `consent_valid_for` by
//! the day of the launch (local dates in the campaign's zone); consent
//! sources are counted per contact, `(none)` for an empty or missing column.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use serde::Serialize;

use crate::campaign::consent::{parse_date, ValidFor, CONSENT_COLUMNS, SOURCE_COLUMNS};
use crate::store::{AttemptFact, ContactReportRow};

/// What the compliance report says of consent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ConsentCounts {
    pub launches_without_basis: usize,
    /// Contacts per consent source (`web`, `tienda`…, `(none)`).
    pub sources: BTreeMap<String, i64>,
}

fn column<'a>(vars: &'a BTreeMap<String, String>, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| vars.get(*n))
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// Counts consent over a campaign's contacts, one at a time (a report streams them), then over
/// its launches.
#[derive(Debug, Default)]
pub struct Counter {
    valid_for: Option<ValidFor>,
    sources: BTreeMap<String, i64>,
    /// Per contact id, the first and last local day its consent is a basis (`None`: no valid
    /// date).
    basis: HashMap<i64, Option<(NaiveDate, NaiveDate)>>,
}

impl Counter {
    /// `valid_for` is the campaign's `consent_valid_for` (consent lasts forever without it).
    pub fn new(valid_for: Option<ValidFor>) -> Counter {
        Counter {
            valid_for,
            ..Default::default()
        }
    }

    /// Counts one contact's source and notes when its consent is a basis.
    pub fn contact(&mut self, c: &ContactReportRow) {
        let source = column(&c.vars, &SOURCE_COLUMNS).unwrap_or("(none)");
        match self.sources.get_mut(source) {
            Some(n) => *n += 1,
            None => {
                self.sources.insert(source.to_string(), 1);
            }
        }
        let given = column(&c.vars, &CONSENT_COLUMNS).and_then(parse_date);
        let basis = given.and_then(|g| match self.valid_for {
            None => Some((g, NaiveDate::MAX)),
            Some(v) => v.last_day(g).map(|last| (g, last)),
        });
        self.basis.insert(c.contact_id, basis);
    }

    /// The counts, with each launch checked against its contact's basis on the local day of
    /// the launch.
    pub fn launches(self, facts: &[AttemptFact], tz: Tz) -> ConsentCounts {
        let mut out = ConsentCounts {
            launches_without_basis: 0,
            sources: self.sources,
        };
        for f in facts {
            let launched = tz
                .timestamp_millis_opt(super::compliance::launch_time(f))
                .single()
                .map(|t| t.date_naive());
            let valid = match (self.basis.get(&f.contact_id).copied().flatten(), launched) {
                (Some((first, last)), Some(day)) => first <= day && day <= last,
                _ => false,
            };
            if !valid {
                out.launches_without_basis += 1;
            }
        }
        out
    }
}

/// [`Counter`] over contacts in memory.
pub fn counts(
    contacts: &[ContactReportRow],
    facts: &[AttemptFact],
    tz: Tz,
    valid_for: Option<ValidFor>,
) -> ConsentCounts {
    let mut c = Counter::new(valid_for);
    for contact in contacts {
        c.contact(contact);
    }
    c.launches(facts, tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(id: i64, vars: &[(&str, &str)]) -> ContactReportRow {
        ContactReportRow {
            contact_id: id,
            phone: format!("+3460000000{id}"),
            name: String::new(),
            state: "delivered".into(),
            attempts: 1,
            last_result: None,
            dtmf: None,
            last_call_at: None,
            talk_seconds: 0,
            cost: 0.0,
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn launch(contact_id: i64, at: i64) -> AttemptFact {
        AttemptFact {
            attempt_id: contact_id,
            contact_id,
            phone: String::new(),
            timezone: None,
            appointment_at: None,
            vars: "{}".into(),
            created_at: at,
            launched_at: Some(at),
            answered_at: None,
            ended_at: None,
            result: None,
            outcome: None,
        }
    }

    #[test]
    fn launches_without_a_basis_and_sources_are_counted() {
        // 1_780_000_000_000 ms = 2026-05-28 in Madrid.
        let at = 1_780_000_000_000;
        let contacts = vec![
            contact(
                1,
                &[
                    ("consentimiento", "2026-03-01"),
                    ("origen_consentimiento", "web"),
                ],
            ),
            contact(
                2,
                &[("consent", "01/03/2026"), ("consent_source", "tienda")],
            ),
            contact(3, &[("consentimiento", "")]),
            contact(
                4,
                &[
                    ("consentimiento", "2026-06-01"),
                    ("origen_consentimiento", "web"),
                ],
            ),
        ];
        let facts: Vec<AttemptFact> = (1..=4).map(|id| launch(id, at)).collect();
        let c = counts(&contacts, &facts, chrono_tz::Europe::Madrid, None);
        assert_eq!(
            c.launches_without_basis, 2,
            "no date, and a date after the launch"
        );
        assert_eq!(
            c.sources.into_iter().collect::<Vec<_>>(),
            vec![
                ("(none)".to_string(), 1),
                ("tienda".to_string(), 1),
                ("web".to_string(), 2)
            ]
        );
    }

    #[test]
    fn consent_expired_by_the_launch_is_no_basis() {
        // 2026-05-28 in Madrid.
        let at = 1_780_000_000_000;
        let contacts = vec![
            // Twelve months from 2025-05-29: the last valid day is 2026-05-28, the launch day.
            contact(1, &[("consentimiento", "2025-05-29")]),
            // Expired the day before the launch.
            contact(2, &[("consentimiento", "2025-05-28")]),
            contact(3, &[("consent", "01/01/2026")]),
        ];
        let facts: Vec<AttemptFact> = (1..=3).map(|id| launch(id, at)).collect();
        let madrid = chrono_tz::Europe::Madrid;
        let twelve = ValidFor::parse("12 months");
        assert_eq!(
            counts(&contacts, &facts, madrid, twelve).launches_without_basis,
            1
        );
        assert_eq!(
            counts(&contacts, &facts, madrid, None).launches_without_basis,
            0
        );
        let ninety = ValidFor::parse("90 days");
        assert_eq!(
            counts(&contacts, &facts, madrid, ninety).launches_without_basis,
            3,
            "2026-01-01 + 90 days ends on 2026-03-31"
        );
    }
}
