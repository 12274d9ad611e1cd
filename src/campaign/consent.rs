//! Consent: the basis for calling a contact of a promotion or sales campaign (product.md,
//! "Speech capture and consent"). The `consentimiento`/`consent` column holds the date it was
//! given (`2026-03-01` or `01/03/2026`), `origen_consentimiento`/`consent_source` where.
//!
//! Guarantees: with `require_consent` (the default for promotion and sales) a row without a
//! valid basis — no date, a date that is not one, a date in the future, or consent expired
//! under `consent_valid_for` — is rejected with one sentence naming the column and the value.

use chrono::{Months, NaiveDate};

use super::csv::RejectReason;

/// The columns (normalised headers) that hold the consent date, first found wins.
pub const CONSENT_COLUMNS: [&str; 2] = ["consentimiento", "consent"];
/// The columns that say where consent was given (`web`, `tienda`…).
pub const SOURCE_COLUMNS: [&str; 2] = ["origen_consentimiento", "consent_source"];

/// How long consent lasts (`consent_valid_for = "24 months"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidFor {
    Days(u32),
    Months(u32),
}

impl ValidFor {
    /// `"24 months"`, `"2 years"`, `"90 days"` (also `meses`, `años`, `días`).
    pub fn parse(text: &str) -> Option<ValidFor> {
        let mut words = text.split_whitespace();
        let n: u32 = words.next()?.parse().ok().filter(|n| *n > 0)?;
        let unit = words.next()?.to_lowercase();
        if words.next().is_some() {
            return None;
        }
        match unit.as_str() {
            "day" | "days" | "dia" | "dias" | "día" | "días" => Some(ValidFor::Days(n)),
            "month" | "months" | "mes" | "meses" => Some(ValidFor::Months(n)),
            "year" | "years" | "año" | "años" | "ano" | "anos" => {
                n.checked_mul(12).map(ValidFor::Months)
            }
            _ => None,
        }
    }

    /// The last day consent given on `given` is valid.
    pub fn last_day(self, given: NaiveDate) -> Option<NaiveDate> {
        let end = match self {
            ValidFor::Days(d) => given.checked_add_days(chrono::Days::new(u64::from(d))),
            ValidFor::Months(m) => given.checked_add_months(Months::new(m)),
        }?;
        end.pred_opt()
    }
}

/// A consent date as written: `2026-03-01` or `01/03/2026`.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%d/%m/%Y"))
        .ok()
}

/// What an import checks of each row when the campaign requires consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentPolicy {
    pub valid_for: Option<ValidFor>,
    /// The import's date in the campaign's time zone.
    pub today: NaiveDate,
}

impl ConsentPolicy {
    /// Whether the row (its fields by column, `keys` the normalised headers) has a valid basis;
    /// otherwise the reason.
    pub fn check<'f>(
        &self,
        keys: &[String],
        field: &dyn Fn(usize) -> &'f str,
    ) -> Result<(), RejectReason> {
        let Some((col, name)) = keys
            .iter()
            .enumerate()
            .find(|(_, k)| CONSENT_COLUMNS.contains(&k.as_str()))
        else {
            return Err(RejectReason::NoConsentColumn);
        };
        let column = name.clone();
        let value = field(col).trim();
        if value.is_empty() {
            return Err(RejectReason::ConsentEmpty { column });
        }
        let Some(given) = parse_date(value) else {
            return Err(RejectReason::ConsentNotADate {
                column,
                value: value.to_string(),
            });
        };
        if given > self.today {
            return Err(RejectReason::ConsentInFuture { column, given });
        }
        if let Some(v) = self.valid_for {
            match v.last_day(given) {
                Some(last) if last >= self.today => {}
                Some(last) => {
                    return Err(RejectReason::ConsentExpired {
                        column,
                        given,
                        last,
                    })
                }
                None => return Err(RejectReason::ConsentOutOfRange { column, given }),
            }
        }
        Ok(())
    }
}

/// Why a contact's consent is no longer a basis on `today`, from its stored variables (a JSON
/// object); `None` while it is valid.
pub fn lapsed(vars_json: &str, valid_for: ValidFor, today: NaiveDate) -> Option<crate::i18n::Msg> {
    let vars: std::collections::BTreeMap<String, String> =
        serde_json::from_str(vars_json).unwrap_or_default();
    let given = CONSENT_COLUMNS
        .iter()
        .find_map(|c| vars.get(*c))
        .and_then(|v| parse_date(v));
    let Some(given) = given else {
        return Some(crate::i18n::Msg::new("why.no_consent"));
    };
    match valid_for.last_day(given) {
        Some(last) if last >= today => None,
        Some(last) => Some(
            crate::i18n::Msg::new("why.consent_expired")
                .arg("given", given)
                .arg("last", last),
        ),
        None => Some(crate::i18n::Msg::new("why.consent_out_of_range").arg("given", given)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn durations_and_dates_as_written() {
        assert_eq!(ValidFor::parse("24 months"), Some(ValidFor::Months(24)));
        assert_eq!(ValidFor::parse("2 años"), Some(ValidFor::Months(24)));
        assert_eq!(ValidFor::parse("90 days"), Some(ValidFor::Days(90)));
        assert_eq!(ValidFor::parse("soon"), None);
        assert_eq!(ValidFor::parse("0 days"), None);
        assert_eq!(d("01/03/2026"), d("2026-03-01"));
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(
            ValidFor::Months(24).last_day(d("2024-03-01")),
            Some(d("2026-02-28"))
        );
    }

    #[test]
    fn consent_lapses_the_day_after_its_last_valid_day() {
        let vars = r#"{"telefono":"600000001","consentimiento":"01/03/2025"}"#;
        let v = ValidFor::Months(12);
        assert_eq!(lapsed(vars, v, d("2026-02-28")), None);
        assert_eq!(
            lapsed(vars, v, d("2026-03-01"))
                .map(|m| crate::i18n::Lang::En.render(&m))
                .as_deref(),
            Some("consent given on 2025-03-01 expired after 2026-02-28 (consent_valid_for)")
        );
        assert!(lapsed("{}", v, d("2026-03-01")).is_some());
    }

    #[test]
    fn a_row_without_a_valid_basis_is_refused_with_the_reason() {
        let policy = ConsentPolicy {
            valid_for: Some(ValidFor::Months(24)),
            today: d("2026-12-04"),
        };
        let keys: Vec<String> = ["telefono", "consentimiento", "origen_consentimiento"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let row = |v: &'static str| move |i: usize| ["600000001", v, "web"][i];
        assert_eq!(policy.check(&keys, &row("2026-03-01")), Ok(()));
        assert_eq!(policy.check(&keys, &row("05/12/2024")), Ok(()));
        let e = policy.check(&keys, &row("")).unwrap_err().to_string();
        assert!(e.starts_with("consentimiento is empty"), "{e}");
        let e = policy.check(&keys, &row("ayer")).unwrap_err().to_string();
        assert!(e.contains("\"ayer\" is not a date"), "{e}");
        let e = policy
            .check(&keys, &row("2027-01-01"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("in the future"), "{e}");
        let e = policy.check(&keys, &row("2024-12-03")).unwrap_err();
        assert_eq!(e.id(), "consent_expired");
        assert_eq!(
            e.to_string(),
            "consentimiento: consent given on 2024-12-03 expired after 2026-12-02 (consent_valid_for)"
        );
        assert_eq!(
            crate::i18n::Lang::Es.render(&e.msg()),
            "consentimiento: el consentimiento dado el 2024-12-03 caducó tras el 2026-12-02 (consent_valid_for)"
        );
        let no_column = vec!["telefono".to_string()];
        let e = policy
            .check(&no_column, &|_| "600000001")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("no consentimiento (consent) column"), "{e}");
    }
}
