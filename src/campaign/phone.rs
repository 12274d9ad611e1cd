//! Phone numbers: everything is stored in E.164 (`+34600123456`); national forms are read with
//! the configured default region.

use phonenumber::country::Id;

/// Why a number was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("the phone number is empty")]
    Empty,
    #[error("\"{0}\" is not a phone number")]
    Unparsable(String),
    #[error("\"{0}\" is not a valid number in its country")]
    Invalid(String),
}

/// Parses the configured default region (`ES`).
pub fn region(code: &str) -> Option<Id> {
    code.trim().to_ascii_uppercase().parse::<Id>().ok()
}

/// Normalises a number as written by a person to E.164.
pub fn normalize(raw: &str, default_region: Option<Id>) -> Result<String, PhoneError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(PhoneError::Empty);
    }
    // `0034…` is the international prefix written out; phonenumber reads it only with a region
    // whose exit code is 00, so turn it into `+` first.
    let text = match trimmed.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => trimmed.to_string(),
    };
    let parsed = phonenumber::parse(default_region, &text)
        .map_err(|_| PhoneError::Unparsable(trimmed.to_string()))?;
    let parsed = if parsed.is_valid() {
        parsed
    } else {
        // "34600123456" written without + or 00: try it as international.
        let digits: String = trimmed.chars().filter(|c| c.is_ascii_digit()).collect();
        match phonenumber::parse(None, format!("+{digits}")) {
            Ok(p) if !trimmed.starts_with('+') && p.is_valid() => p,
            _ => return Err(PhoneError::Invalid(trimmed.to_string())),
        }
    };
    Ok(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

/// `+34600123456` → `0034600123456`, the form API Voice wants in `dst`.
pub fn to_provider(e164: &str) -> String {
    match e164.strip_prefix('+') {
        Some(rest) => format!("00{rest}"),
        None => e164.to_string(),
    }
}

/// Masks all but the last three digits, for logs: `+34600123456` → `*********456`.
pub fn mask(number: &str) -> String {
    let n = number.chars().count();
    number
        .chars()
        .enumerate()
        .map(|(i, c)| if i + 3 < n { '*' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spanish_forms_are_one_number() {
        let es = region("ES");
        for raw in [
            "600 12 34 56",
            "+34 600-123-456",
            "0034600123456",
            "34600123456",
            "600123456",
        ] {
            assert_eq!(normalize(raw, es).as_deref(), Ok("+34600123456"), "{raw}");
        }
        assert_eq!(normalize("928 123 456", es).as_deref(), Ok("+34928123456"));
    }

    #[test]
    fn garbage_is_rejected_with_a_reason() {
        let es = region("ES");
        assert_eq!(normalize("", es), Err(PhoneError::Empty));
        assert!(normalize("hola", es).is_err());
        assert!(normalize("123", es).is_err());
    }

    #[test]
    fn masking_keeps_three_digits() {
        assert_eq!(mask("+34600123456"), "*********456");
        assert_eq!(to_provider("+34600123456"), "0034600123456");
    }
}
