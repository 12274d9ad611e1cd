//! The consent part of the compliance report: launches to contacts without a valid basis at
//! the time of the launch (must read 0 for a campaign that requires consent) and where the
//! consent of the campaign's contacts was given.
//!
//! Guarantees: a launch counts as without basis when its contact has no consent date, one that
//! is not a date, or one later than the launch (local date in the campaign's zone); consent
//! sources are counted per contact, `(none)` for an empty or missing column.

use std::collections::{BTreeMap, HashMap};

use chrono::TimeZone;
use chrono_tz::Tz;
use serde::Serialize;

use crate::campaign::consent::{parse_date, CONSENT_COLUMNS, SOURCE_COLUMNS};
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

pub fn counts(contacts: &[ContactReportRow], facts: &[AttemptFact], tz: Tz) -> ConsentCounts {
    let mut out = ConsentCounts::default();
    let mut given: HashMap<i64, Option<chrono::NaiveDate>> = HashMap::new();
    for c in contacts {
        let source = column(&c.vars, &SOURCE_COLUMNS).unwrap_or("(none)");
        *out.sources.entry(source.to_string()).or_default() += 1;
        given.insert(
            c.contact_id,
            column(&c.vars, &CONSENT_COLUMNS).and_then(parse_date),
        );
    }
    for f in facts {
        let launched = tz
            .timestamp_millis_opt(super::compliance::launch_time(f))
            .single()
            .map(|t| t.date_naive());
        let valid = match (given.get(&f.contact_id).copied().flatten(), launched) {
            (Some(g), Some(l)) => g <= l,
            _ => false,
        };
        if !valid {
            out.launches_without_basis += 1;
        }
    }
    out
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
        let c = counts(&contacts, &facts, chrono_tz::Europe::Madrid);
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
}
