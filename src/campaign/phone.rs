//! Phone numbers: everything is stored in E.164 (`+34600123456`); national forms are read with
//! the configured default region.
//!
//! `phonenumber` (libphonenumber's metadata) decides what a valid number is. It costs a few
//! microseconds a number, which alone would take most of the time budget of a million-row
//! import, so the Spanish forms that make up nearly every list (`600 12 34 56`,
//! `+34 600-123-456`, `0034600123456`, `34600123456`, `91 123 45 67`) take a fast path: the
//! digits are read by hand and checked against Spain's numbering plan as the metadata gives it
//! (`spanish_line`). The fast path only ever answers "this valid Spanish number"; anything it is
//! not sure about, including every rejection, goes to `phonenumber`. Property tests compare the
//! two on thousands of generated numbers in every run, and on two million numbers and every
//! 7-digit Spanish prefix in ignored runs.
//!
//! Rejections are one sentence saying what is wrong: empty, letters, too short or long for the
//! country, not valid in the country.

use phonenumber::country::Id;
use phonenumber::metadata::DATABASE;
use phonenumber::{Mode, PhoneNumber};

/// Why a number was rejected: a stable identifier ([`PhoneError::id`]) and one sentence for
/// people from the catalogue ([`PhoneError::msg`]); `Display` is that sentence in English (logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneError {
    Empty,
    Letters(String),
    Scientific(String),
    NotANumber(String),
    /// `country`: the ISO 3166 code (`ES`), or `+NNN` for a calling code of no single country
    /// (see [`country_msg`]).
    TooShort {
        raw: String,
        country: Option<String>,
    },
    TooLong {
        raw: String,
        country: Option<String>,
    },
    UnknownCountryCode(String),
    Invalid {
        raw: String,
        country: String,
    },
}

impl PhoneError {
    /// The stable identifier of the reason.
    pub fn id(&self) -> &'static str {
        match self {
            PhoneError::Empty => "phone_empty",
            PhoneError::Letters(_) => "phone_letters",
            PhoneError::Scientific(_) => "phone_scientific",
            PhoneError::NotANumber(_) => "not_a_phone",
            PhoneError::TooShort { .. } => "phone_too_short",
            PhoneError::TooLong { .. } => "phone_too_long",
            PhoneError::UnknownCountryCode(_) => "no_country_code",
            PhoneError::Invalid { .. } => "phone_invalid",
        }
    }

    /// The sentence for people (the value as `value`).
    pub fn msg(&self) -> crate::i18n::Msg {
        use crate::i18n::Msg;
        let with = |key: &str, raw: &str| Msg::new(key).arg("value", raw);
        match self {
            PhoneError::Empty => Msg::new("phone.empty"),
            PhoneError::Letters(raw) => with("phone.letters", raw),
            PhoneError::Scientific(raw) => with("phone.scientific", raw),
            PhoneError::NotANumber(raw) => with("phone.not_a_number", raw),
            PhoneError::TooShort { raw, country } => match country {
                Some(c) => with("phone.too_short_in", raw).msg("country", country_msg(c)),
                None => with("phone.too_short", raw),
            },
            PhoneError::TooLong { raw, country } => {
                let m = match country {
                    Some(c) => with("phone.too_long_in", raw).msg("country", country_msg(c)),
                    None => with("phone.too_long", raw),
                };
                // Two numbers in one cell: 16 digits or more.
                if raw.chars().filter(char::is_ascii_digit).count() >= 16 {
                    m.msg("hint", Msg::new("phone.two_numbers"))
                } else {
                    m.arg("hint", "")
                }
            }
            PhoneError::UnknownCountryCode(raw) => with("phone.no_country_code", raw),
            PhoneError::Invalid { raw, country } => {
                with("phone.invalid", raw).msg("country", country_msg(country))
            }
        }
    }
}

impl std::fmt::Display for PhoneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::i18n::Lang::En.render(&self.msg()))
    }
}

impl std::error::Error for PhoneError {}

/// Parses the configured default region (`ES`).
pub fn region(code: &str) -> Option<Id> {
    code.trim().to_ascii_uppercase().parse::<Id>().ok()
}

/// Normalises a number as written by a person to E.164.
///
/// Letters are refused (`600123456 ext 2`, `Tel. 600…`): a cell that holds words beside the
/// number is for a person to read, not for the dialer to guess. A national number is read
/// in `default_region`; digits written without `+` or `00` that are not valid there are tried
/// as an international number when there are at least 11 of them (`34600123456`,
/// `33612345678`), so a mistyped 10-digit Spanish number never turns into a foreign one.
pub fn normalize(raw: &str, default_region: Option<Id>) -> Result<String, PhoneError> {
    match fast_spanish(raw, default_region) {
        Some(digits) => Ok(plus_digits(digits)),
        None => normalize_slow(raw, default_region),
    }
}

/// `34600123456` → `"+34600123456"`, without the formatting machinery (this is per row).
fn plus_digits(mut digits: u64) -> String {
    let mut buf = [0u8; 21];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (digits % 10) as u8;
        digits /= 10;
        if digits == 0 {
            break;
        }
    }
    at -= 1;
    buf[at] = b'+';
    buf[at..].iter().map(|b| char::from(*b)).collect()
}

/// The E.164 digits as a number (`+34600123456` → `34600123456`): a compact key for sets of
/// numbers. E.164 has no leading zero after the `+`, so different numbers get different keys.
pub fn key(e164: &str) -> Option<u64> {
    let digits = e164.strip_prefix('+')?;
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
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

/// The kind of line, as far as the numbering plan tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineType {
    Mobile,
    Landline,
    /// Toll-free, premium, shared-cost, personal, VoIP…, numbers the plan does not tell apart
    /// (`FixedLineOrMobile`, as in the USA), and unknown numbers.
    Other,
}

/// What the numbering plan says about a number, for the quality report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberInfo {
    /// ISO 3166 code (`ES`); `ZZ` when no country is known.
    pub country: String,
    pub line: LineType,
}

/// Country and line type of an E.164 number.
pub fn classify(e164: &str) -> NumberInfo {
    if let Some(line) = key(e164).and_then(spanish_national).and_then(spanish_line) {
        return NumberInfo {
            country: "ES".into(),
            line,
        };
    }
    let Ok(p) = phonenumber::parse(None, e164) else {
        return NumberInfo {
            country: "ZZ".into(),
            line: LineType::Other,
        };
    };
    let line = match p.number_type(&DATABASE) {
        phonenumber::Type::Mobile => LineType::Mobile,
        phonenumber::Type::FixedLine => LineType::Landline,
        _ => LineType::Other,
    };
    NumberInfo {
        country: p
            .country()
            .id()
            .map(|id| id.as_ref().to_string())
            .unwrap_or_else(|| "ZZ".into()),
        line,
    }
}

/// The time zone a number implies where that is unambiguous: Canary Islands landlines
/// (`+34 822`, `828`, `922`, `928`) are an hour behind the peninsula. Mobiles say nothing.
pub fn implied_timezone(e164: &str) -> Option<&'static str> {
    let national = key(e164).and_then(spanish_national)?;
    match national / 1_000_000 {
        822 | 828 | 922 | 928 => Some("Atlantic/Canary"),
        _ => None,
    }
}

/// `34` followed by nine digits, as the E.164 digits of a Spanish number.
const SPAIN: u64 = 34_000_000_000;
const NINE_DIGITS: u64 = 1_000_000_000;

fn spanish_national(e164_digits: u64) -> Option<u64> {
    (e164_digits / NINE_DIGITS == 34).then_some(e164_digits % NINE_DIGITS)
}

/// Spain's numbering plan as libphonenumber's metadata 9.0.33 (`PhoneNumberMetadata.xml`,
/// territory `ES`) gives it: `None` for a number that is not valid, else its line type. Only
/// the first seven digits matter; the tests check every 7-digit prefix against the metadata.
fn spanish_line(national: u64) -> Option<LineType> {
    use LineType::*;
    if !(500_000_000..NINE_DIGITS).contains(&national) {
        return None;
    }
    match national / 1_000_000 {
        // Mobile: 6, 7[1-48], and two small ranges inside 590 (Lleida Networks).
        600..=699 | 710..=749 | 780..=789 => Some(Mobile),
        590 => matches!(national / 1000, 590_100..=590_102 | 590_600).then_some(Mobile),
        // Landlines: 8[1356]x, 8[28][0-8], 8[47][1-9], 9[135]x, 9[268][0-8], 94[1-9], 97[124-9].
        810..=819 | 830..=839 | 850..=869 | 820..=828 | 880..=888 | 841..=849 | 871..=879 => {
            Some(Landline)
        }
        910..=919
        | 930..=939
        | 950..=959
        | 920..=928
        | 960..=968
        | 980..=988
        | 941..=949
        | 971
        | 972
        | 974..=979 => Some(Landline),
        // 969 and 973 are landlines except two mobile ranges.
        969 if matches!(national / 100, 9_690_609 | 9_690_610) => Some(Mobile),
        973 if national / 10_000 == 97_390 => Some(Mobile),
        969 | 973 => Some(Landline),
        // UAN (51), personal (70), toll-free (800, 900), premium (803, 806, 807), shared cost
        // (901, 902).
        510..=519 | 700..=709 | 800 | 803 | 806 | 807 | 900..=902 => Some(Other),
        _ => None,
    }
}

/// The fast path: the E.164 digits of a valid Spanish number written in one of the common
/// forms, or `None` to let `phonenumber` decide. Accepts digits with spaces, no-break spaces,
/// `-`, `.` and `/` between them; a national number (9 digits) or `34` + 9 digits only when the
/// default region is Spain; `+34` or `0034` + 9 digits with any region.
fn fast_spanish(raw: &str, default_region: Option<Id>) -> Option<u64> {
    let text = raw.trim().as_bytes();
    // `00` is read as `+`, exactly as `normalize_slow` does.
    let (plus, body) = match text {
        [b'+', rest @ ..] | [b'0', b'0', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    let mut value = 0u64;
    let mut count = 0u32;
    // phonenumber reads the digits right after `+` differently when a separator follows
    // them (`+348-…` is a country code 348), so only `+34 …` and `+34600…` are fast.
    let mut first_group = None;
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b @ b'0'..=b'9' => {
                count += 1;
                if count > 11 {
                    return None;
                }
                value = value * 10 + u64::from(b - b'0');
            }
            b' ' | b'-' | b'.' | b'/' => {
                first_group.get_or_insert(count);
            }
            // U+00A0 NO-BREAK SPACE, which Excel writes as a thousands separator.
            0xC2 if body.get(i + 1) == Some(&0xA0) => {
                first_group.get_or_insert(count);
                i += 1;
            }
            _ => return None,
        }
        i += 1;
    }
    if plus && !matches!(first_group, None | Some(2)) {
        return None;
    }
    let spain = default_region == Some(Id::ES);
    let national = match (plus, count) {
        (true, 11) => spanish_national(value)?,
        (false, 11) if spain => spanish_national(value)?,
        (false, 9) if spain => value,
        _ => return None,
    };
    spanish_line(national)?;
    Some(SPAIN + national)
}

/// The general path, through `phonenumber`; the reference the fast path must agree with.
fn normalize_slow(raw: &str, default_region: Option<Id>) -> Result<String, PhoneError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(PhoneError::Empty);
    }
    if trimmed.chars().any(char::is_alphabetic) {
        return Err(if looks_scientific(trimmed) {
            PhoneError::Scientific(trimmed.to_string())
        } else {
            PhoneError::Letters(trimmed.to_string())
        });
    }
    // `0034…` is the international prefix written out; phonenumber reads it only with a region
    // whose exit code is 00, so turn it into `+` first.
    let first = match trimmed.strip_prefix("00") {
        Some(rest) => phonenumber::parse(default_region, format!("+{rest}")),
        None => phonenumber::parse(default_region, trimmed),
    };
    if let Ok(p) = &first {
        if p.is_valid() {
            return Ok(e164(p));
        }
    }
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if !trimmed.starts_with('+') && digits.len() >= 11 {
        if let Ok(p) = phonenumber::parse(None, format!("+{digits}")) {
            if p.is_valid() {
                return Ok(e164(&p));
            }
        }
    }
    Err(explain(trimmed, digits.len(), first))
}

fn e164(p: &PhoneNumber) -> String {
    p.format().mode(Mode::E164).to_string()
}

/// `6,00123E+08`: what Excel shows (and exports) for a long number in a General cell.
fn looks_scientific(text: &str) -> bool {
    let Some((mantissa, exponent)) = text.split_once(['E', 'e']) else {
        return false;
    };
    let exponent = exponent.trim_start_matches(['+', '-']);
    mantissa.starts_with(|c: char| c.is_ascii_digit())
        && mantissa
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
        && !exponent.is_empty()
        && exponent.chars().all(|c| c.is_ascii_digit())
}

/// Turns phonenumber's verdict on the text as written into a reason.
fn explain(
    raw: &str,
    digits: usize,
    first: Result<PhoneNumber, phonenumber::ParseError>,
) -> PhoneError {
    use phonenumber::ParseError as E;
    let raw = raw.to_string();
    match first {
        _ if digits == 0 => PhoneError::NotANumber(raw),
        Err(E::NoNumber) if digits < 3 => PhoneError::TooShort { raw, country: None },
        Err(E::TooShortNsn | E::TooShortAfterIdd) => PhoneError::TooShort { raw, country: None },
        Err(E::TooLong) => PhoneError::TooLong { raw, country: None },
        Err(E::InvalidCountryCode) => PhoneError::UnknownCountryCode(raw),
        Err(_) => PhoneError::NotANumber(raw),
        Ok(p) => {
            let national = p.national();
            let len = national.zeros() as usize + national.value().to_string().len();
            let (min, max) = possible_lengths(&p).unwrap_or((0, usize::MAX));
            let country = country_label(&p);
            if len < min {
                PhoneError::TooShort {
                    raw,
                    country: Some(country),
                }
            } else if len > max {
                PhoneError::TooLong {
                    raw,
                    country: Some(country),
                }
            } else {
                PhoneError::Invalid { raw, country }
            }
        }
    }
}

/// The shortest and longest national numbers of the number's country (emergency and short
/// codes aside, which a campaign never dials).
fn possible_lengths(p: &PhoneNumber) -> Option<(usize, usize)> {
    let d = p.metadata(&DATABASE)?.descriptors();
    let lengths = [
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.personal_number(),
        d.voip(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ]
    .into_iter()
    .flatten()
    .flat_map(|desc| desc.possible_length().iter().map(|l| usize::from(*l)));
    lengths.fold(None, |acc, l| match acc {
        None => Some((l, l)),
        Some((lo, hi)) => Some((lo.min(l), hi.max(l))),
    })
}

/// The number's country as [`PhoneError`] keeps it: the ISO code (`ES`), or `+NNN` when the
/// calling code names no single country.
fn country_label(p: &PhoneNumber) -> String {
    match p.country().id() {
        Some(id) => id.as_ref().to_string(),
        None => format!("+{}", p.country().code()),
    }
}

/// A country for people: its name from the catalogue for the common ones (`country.ES`:
/// "España" / "Spain"), its ISO code otherwise, or "the country with calling code +NNN".
pub fn country_msg(country: &str) -> crate::i18n::Msg {
    use crate::i18n::Msg;
    let key = format!("country.{country}");
    if let Some(code) = country.strip_prefix('+') {
        Msg::new("country.calling_code").arg("code", code)
    } else if crate::i18n::has(&key) {
        Msg::new(&key)
    } else {
        Msg::new("country.iso").arg("iso", country)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spanish_forms_are_one_number() {
        let es = region("ES");
        for raw in [
            "600 12 34 56",
            "+34 600-123-456",
            "0034600123456",
            "34600123456",
            "600123456",
            "600.12.34.56",
            "600/123/456",
            "600\u{a0}123\u{a0}456",
            " +34 600 12 34 56 ",
        ] {
            assert_eq!(normalize(raw, es).as_deref(), Ok("+34600123456"), "{raw}");
            assert_eq!(
                fast_spanish(raw, es),
                Some(34_600_123_456),
                "fast path: {raw}"
            );
        }
        for (raw, want) in [
            ("612345678", "+34612345678"),
            ("91 123 45 67", "+34911234567"),
            ("928 123 456", "+34928123456"),
            ("922-12-34-56", "+34922123456"),
            ("+34 971 123 456", "+34971123456"),
        ] {
            assert_eq!(normalize(raw, es).as_deref(), Ok(want), "{raw}");
            assert!(fast_spanish(raw, es).is_some(), "fast path: {raw}");
        }
    }

    #[test]
    fn foreign_numbers_go_through_phonenumber() {
        let es = region("ES");
        for (raw, want) in [
            ("+33 6 12 34 56 78", "+33612345678"),
            ("0033 6 12 34 56 78", "+33612345678"),
            ("33612345678", "+33612345678"),
            ("+44 7911 123456", "+447911123456"),
            ("+351 912 345 678", "+351912345678"),
        ] {
            assert_eq!(fast_spanish(raw, es), None, "{raw}");
            assert_eq!(normalize(raw, es).as_deref(), Ok(want), "{raw}");
        }
        // Numbers written with +34 or 0034 are Spanish whatever the default region.
        assert_eq!(
            normalize("0034 600 123 456", region("FR")).as_deref(),
            Ok("+34600123456")
        );
        assert_eq!(
            normalize("+34600123456", None).as_deref(),
            Ok("+34600123456")
        );
    }

    #[test]
    fn rejections_are_one_sentence_each() {
        let es = region("ES");
        let reason = |raw: &str| match normalize(raw, es) {
            Err(e) => e.to_string(),
            Ok(p) => panic!("{raw} was accepted as {p}"),
        };
        assert_eq!(reason("  "), "the phone number is empty");
        let es_reason = |raw: &str| match normalize(raw, es) {
            Err(e) => crate::i18n::Lang::Es.render(&e.msg()),
            Ok(p) => panic!("{raw} was accepted as {p}"),
        };
        assert_eq!(
            es_reason("500123456"),
            "\"500123456\" no es un número válido en España"
        );
        assert_eq!(
            es_reason("+33 1 23"),
            "\"+33 1 23\" es demasiado corto para un número de teléfono de Francia"
        );
        assert_eq!(
            country_msg("KR"),
            crate::i18n::Msg::new("country.iso").arg("iso", "KR")
        );
        assert_eq!(
            crate::i18n::Lang::Es.render(&country_msg("+800")),
            "el país con prefijo +800"
        );
        assert_eq!(
            reason("hola"),
            "\"hola\" is not a phone number: it contains letters"
        );
        assert_eq!(
            reason("600123456 ext 2"),
            "\"600123456 ext 2\" is not a phone number: it contains letters"
        );
        assert_eq!(
            reason("6,00123E+08"),
            "\"6,00123E+08\" is in scientific notation, which loses digits: format the phone column as text in Excel and export the file again"
        );
        assert_eq!(reason("--"), "\"--\" is not a phone number");
        assert_eq!(
            reason("12"),
            "\"12\" is too short for a phone number in Spain"
        );
        assert_eq!(
            reason("60012345"),
            "\"60012345\" is too short for a phone number in Spain"
        );
        assert_eq!(
            reason("6001234567"),
            "\"6001234567\" is too long for a phone number in Spain"
        );
        assert_eq!(
            reason("600 123 456 / 612 345 678"),
            "\"600 123 456 / 612 345 678\" is too long to be a phone number (two numbers in one cell? put one number per row)"
        );
        assert_eq!(
            reason("+34 500 123 456"),
            "\"+34 500 123 456\" is not a valid number in Spain"
        );
        assert_eq!(
            reason("500123456"),
            "\"500123456\" is not a valid number in Spain"
        );
        assert_eq!(
            reason("+33 1 23"),
            "\"+33 1 23\" is too short for a phone number in France"
        );
        assert_eq!(
            reason("+999 123 456 789"),
            "\"+999 123 456 789\" does not start with a country calling code such as +34"
        );
    }

    #[test]
    fn ten_digit_typos_do_not_become_foreign_numbers() {
        // "+5112345678" is a valid Lima landline; written without + it is a Spanish typo.
        assert!(phonenumber::parse(None, "+5112345678").is_ok_and(|p| p.is_valid()));
        assert!(normalize("5112345678", region("ES")).is_err());
    }

    #[test]
    fn classify_and_time_zones() {
        let info = |country: &str, line| NumberInfo {
            country: country.into(),
            line,
        };
        assert_eq!(classify("+34600123456"), info("ES", LineType::Mobile));
        assert_eq!(classify("+34928123456"), info("ES", LineType::Landline));
        assert_eq!(classify("+34969060912"), info("ES", LineType::Mobile));
        assert_eq!(classify("+34900123456"), info("ES", LineType::Other));
        assert_eq!(classify("+33612345678"), info("FR", LineType::Mobile));
        assert_eq!(classify("+442079460958"), info("GB", LineType::Landline));
        assert_eq!(classify("+12025550123").line, LineType::Other);
        assert_eq!(classify("nonsense"), info("ZZ", LineType::Other));
        assert_eq!(implied_timezone("+34928123456"), Some("Atlantic/Canary"));
        assert_eq!(implied_timezone("+34822123456"), Some("Atlantic/Canary"));
        assert_eq!(implied_timezone("+34911234567"), None);
        assert_eq!(implied_timezone("+34628123456"), None);
        assert_eq!(implied_timezone("+33928123456"), None);
    }

    #[test]
    fn keys_are_the_e164_digits() {
        assert_eq!(plus_digits(34_600_123_456), "+34600123456");
        assert_eq!(plus_digits(u64::MAX), format!("+{}", u64::MAX));
        assert_eq!(key("+34600123456"), Some(34_600_123_456));
        assert_eq!(key("+999999999999999"), Some(999_999_999_999_999));
        assert_eq!(key("34600123456"), None);
        assert_eq!(key("+"), None);
        assert_eq!(key("+34 600"), None);
        assert_eq!(key("+1234567890123456"), None);
    }

    #[test]
    fn masking_keeps_three_digits() {
        assert_eq!(mask("+34600123456"), "*********456");
    }

    /// Regions the generated numbers are read with; Spain most of the time.
    fn any_region() -> impl Strategy<Value = Option<Id>> {
        prop_oneof![
            6 => Just(Some(Id::ES)),
            1 => Just(Some(Id::FR)),
            1 => Just(Some(Id::PT)),
            1 => Just(Some(Id::US)),
            1 => Just(None),
        ]
    }

    /// Digits that look like a Spanish number: every leading digit, the special ranges of the
    /// plan and their neighbours, mostly 9 digits long but also 7 to 11.
    fn national_digits() -> impl Strategy<Value = String> {
        let heads = prop::sample::select(vec![
            "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "34", "51", "52", "59", "590",
            "590100", "590102", "590103", "590600", "590601", "5901", "70", "71", "74", "75", "77",
            "78", "79", "80", "800", "801", "803", "804", "806", "807", "808", "82", "828", "829",
            "84", "840", "841", "87", "870", "89", "90", "900", "901", "902", "903", "91", "92",
            "922", "928", "929", "94", "940", "96", "969", "9690608", "9690609", "9690610",
            "9690611", "9696", "97", "970", "973", "9738", "97390", "97391", "98", "988", "989",
            "99", "822", "61", "65", "69",
        ]);
        let len =
            prop_oneof![8 => Just(9usize), 1 => Just(8usize), 1 => Just(10usize), 1 => 7..=11usize];
        (heads, len, prop::collection::vec(0..10u8, 11)).prop_map(|(head, len, tail)| {
            let mut s = head.to_string();
            s.extend(tail.iter().map(|d| char::from(b'0' + d)));
            s.truncate(len);
            s
        })
    }

    /// Separators between digits: mostly none, else anything people type.
    fn separators(n: usize) -> impl Strategy<Value = Vec<&'static str>> {
        let sep = prop_oneof![
            12 => Just(""),
            4 => Just(" "),
            2 => Just("-"),
            1 => Just("."),
            1 => Just("  "),
            1 => Just("/"),
            1 => Just("\u{a0}"),
            1 => Just("("),
            1 => Just(")"),
            1 => Just(" ("),
            1 => Just(") "),
            1 => Just("_"),
            1 => Just("\t"),
        ];
        prop::collection::vec(sep, n)
    }

    fn interleave(digits: &str, seps: &[&str]) -> String {
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 {
                out.push_str(seps.get(i).copied().unwrap_or(""));
            }
            out.push(c);
        }
        out
    }

    /// A number as someone might type it: Spanish-looking digits behind a prefix, foreign
    /// numbers, and garbage.
    fn written_number() -> impl Strategy<Value = String> {
        let prefix = prop::sample::select(vec![
            "", "", "", "", "+34", "+34 ", "+34-", "+34.", "0034", "0034 ", "0034-", "00 34 ",
            "0 034", "34", "34 ", "34-", "3 4", "+ 34 ", "+3 4", "(+34) ", "+(34) ", "(34) ",
            "(0034) ", "+", "+ ", "00", "0", "+0034", "+33 ", "0033", "33", "+44 ", "0044", "44",
            "+351 ", "351", "+1 ", "1", "+376 ", "376", "+212 ", "+49 ", "+57 ", "+52 ",
        ]);
        let lead = prop::sample::select(vec!["", "", "", " ", "\u{a0}", "(", "-", "/", "."]);
        let trail = prop::sample::select(vec!["", "", "", " ", "-", ")", ".", "/", "+"]);
        let spanish = (lead, prefix, national_digits(), separators(12), trail).prop_map(
            |(lead, prefix, digits, seps, trail)| {
                format!("{lead}{prefix}{}{trail}", interleave(&digits, &seps))
            },
        );
        let chars = prop::sample::select(vec![
            '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '6', '9', ' ', '+', '-', '.', '(',
            ')', '/', 'a', 'x', 'E', ',', '#', '*', '\u{a0}', 'ñ',
        ]);
        let garbage = prop::collection::vec(chars, 0..20).prop_map(|v| v.into_iter().collect());
        prop_oneof![8 => spanish, 1 => garbage]
    }

    fn check_agreement(raw: &str, region: Option<Id>) -> Result<(), TestCaseError> {
        // `normalize` takes the fast path wherever it answers; `normalize_slow` never does.
        prop_assert_eq!(
            normalize(raw, region),
            normalize_slow(raw, region),
            "{:?} read with {:?}",
            raw,
            region
        );
        Ok(())
    }

    #[test]
    fn past_disagreements_stay_fixed() {
        // Cases the property test found while the fast path was written: phonenumber reads
        // `+348-` as country code 348, and only a literal leading `00` as the exit code.
        for (raw, region) in [
            ("+348-10000-00(0", Some(Id::ES)),
            ("+349000-00000", Some(Id::ES)),
            ("+3 4600123456", Some(Id::ES)),
            ("-0034600000000", Some(Id::US)),
            ("0 034600000000", Some(Id::US)),
            ("+34600123456(", Some(Id::ES)),
        ] {
            assert_eq!(fast_spanish(raw, region), None, "{raw}");
            check_agreement(raw, region).unwrap();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn fast_path_agrees_with_phonenumber(raw in written_number(), region in any_region()) {
            check_agreement(&raw, region)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000_000))]

        /// `cargo test --release --lib fast_path_agrees_on_millions -- --ignored`
        #[test]
        #[ignore = "about two million cases; run in release"]
        fn fast_path_agrees_on_millions(raw in written_number(), region in any_region()) {
            check_agreement(&raw, region)?;
        }
    }

    /// The plan above against the metadata, for every 7-digit prefix of a Spanish number
    /// (nothing in the metadata looks further), each with a varying last two digits.
    #[test]
    #[ignore = "five million phonenumber calls; run in release"]
    fn spanish_plan_matches_the_metadata_on_every_prefix() {
        let check = |from: u64, to: u64| {
            for prefix in from..to {
                let national = prefix * 100 + prefix % 97;
                let p = phonenumber::parse(None, format!("+34{national}")).expect("parses");
                let want = p.is_valid().then(|| match p.number_type(&DATABASE) {
                    phonenumber::Type::Mobile => LineType::Mobile,
                    phonenumber::Type::FixedLine => LineType::Landline,
                    _ => LineType::Other,
                });
                assert_eq!(spanish_line(national), want, "{national}");
            }
        };
        std::thread::scope(|s| {
            s.spawn(|| check(5_000_000, 7_500_000));
            s.spawn(|| check(7_500_000, 10_000_000));
        });
    }

    /// Prints the cost of one number on each path:
    /// `cargo test --release --lib phone_speed -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement; run in release"]
    fn phone_speed() {
        let es = region("ES");
        let forms = [
            "600 12 34 56",
            "+34 600-123-456",
            "0034600123456",
            "34600123456",
            "612345678",
            "91 123 45 67",
            "928 123 456",
        ];
        let inputs: Vec<String> = (0..200_000u32)
            .map(|i| {
                let form = forms[i as usize % forms.len()];
                // Vary the last digit so no cache can help either path.
                let mut s = form.to_string();
                s.pop();
                s.push(char::from(b'0' + (i % 10) as u8));
                s
            })
            .collect();
        let time = |f: &dyn Fn(&str) -> Result<String, PhoneError>| {
            let start = std::time::Instant::now();
            let ok = inputs.iter().filter(|s| f(s).is_ok()).count();
            assert_eq!(ok, inputs.len());
            start.elapsed().as_secs_f64() * 1e9 / inputs.len() as f64
        };
        let slow = time(&|s| normalize_slow(s, es));
        let fast = time(&|s| normalize(s, es));
        println!(
            "per number: phonenumber {slow:.0} ns, fast path {fast:.0} ns ({:.0}x)",
            slow / fast
        );
    }
}
