//! The time zone a callee is in, which is what calling windows are evaluated in.
//!
//! Guarantees: a contact's own `timezone` column always wins; otherwise the number decides when
//! it pins one zone (a Canary Islands landline, a single-zone country); where a number can be in
//! several zones of its country (a Spanish mobile, a US number) every one of them is returned, so
//! the caller can require the window to hold in all of them (the campaign plan takes the
//! campaign's zone instead when they share no window in the next 7 days). Numbers of countries
//! missing from the table fall back to the campaign's zone.

use chrono_tz::{Africa as Af, America as Am, Asia, Atlantic, Australia as Au, Europe as Eu};
use chrono_tz::{Pacific, Tz};
use phonenumber::metadata::DATABASE;

/// Where a callee may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalleeZone {
    /// One zone for sure.
    Known(Tz),
    /// Any of these zones (never empty); a window must hold in all of them.
    AnyOf(Vec<Tz>),
}

impl CalleeZone {
    /// The candidate zones (one for `Known`).
    pub fn zones(&self) -> Vec<Tz> {
        match self {
            CalleeZone::Known(tz) => vec![*tz],
            CalleeZone::AnyOf(zones) => zones.clone(),
        }
    }
}

/// The callee's zone: the CSV `timezone` column if it names a zone, else what the E.164 number
/// implies, else the campaign's zone.
pub fn callee_zone(e164: &str, csv_timezone: Option<&str>, campaign_tz: Tz) -> CalleeZone {
    if let Some(tz) = csv_timezone.and_then(|s| s.trim().parse::<Tz>().ok()) {
        return CalleeZone::Known(tz);
    }
    let Ok(number) = phonenumber::parse(None, e164) else {
        return CalleeZone::Known(campaign_tz);
    };
    let national = number.national().value().to_string();
    let zones: &[Tz] = match number.code().value() {
        34 => spain(&national),
        351 => portugal(&national),
        code => match number.country().id() {
            Some(id) => by_region(id.as_ref()),
            // phonenumber cannot place numbers with a leading zero (Italy) within a shared
            // code; take the code's main region, which it lists first.
            None => DATABASE
                .region(&code)
                .and_then(|regions| regions.first().map(|r| by_region(r)))
                .unwrap_or(&[]),
        },
    };
    match zones {
        [] => CalleeZone::Known(campaign_tz),
        [one] => CalleeZone::Known(*one),
        many => CalleeZone::AnyOf(many.to_vec()),
    }
}

const SPAIN: &[Tz] = &[Eu::Madrid, Atlantic::Canary];

/// Spanish geographic numbers start 8[1-8] or 9[1-8] (80x and 90x are non-geographic). The
/// Canaries use 928/828 (Las Palmas) and 922/822 (Santa Cruz de Tenerife); Ceuta and Melilla
/// share Madrid's clock. Mobiles (6, 7) and the rest can be anywhere in Spain.
fn spain(national: &str) -> &'static [Tz] {
    match national.as_bytes() {
        [b'8' | b'9', b'2', b'2' | b'8', ..] => &[Atlantic::Canary],
        [b'8' | b'9', b'1'..=b'8', ..] => &[Eu::Madrid],
        _ => SPAIN,
    }
}

/// Portuguese landlines: 291 is Madeira (Lisbon's clock), 292/295/296 the Azores (an hour
/// behind); other 2xx are mainland. Mobiles and the rest can be in any of the three.
fn portugal(national: &str) -> &'static [Tz] {
    match national.as_bytes() {
        [b'2', b'9', b'1', ..] => &[Atlantic::Madeira],
        [b'2', b'9', b'2' | b'5' | b'6', ..] => &[Atlantic::Azores],
        [b'2', ..] => &[Eu::Lisbon],
        _ => &[Eu::Lisbon, Atlantic::Azores, Atlantic::Madeira],
    }
}

/// Zones by ISO region (phonenumber tells the region apart within shared codes such as +1 and
/// +7). Multi-zone countries list their main zones only.
fn by_region(region: &str) -> &'static [Tz] {
    match region {
        "AD" => &[Eu::Andorra],
        "AT" => &[Eu::Vienna],
        "BE" => &[Eu::Brussels],
        "BG" => &[Eu::Sofia],
        "CH" => &[Eu::Zurich],
        "CY" => &[Asia::Nicosia],
        "CZ" => &[Eu::Prague],
        "DE" => &[Eu::Berlin],
        "DK" => &[Eu::Copenhagen],
        "EE" => &[Eu::Tallinn],
        "FI" => &[Eu::Helsinki],
        "FR" => &[Eu::Paris],
        "GB" => &[Eu::London],
        "GI" => &[Eu::Gibraltar],
        "GR" => &[Eu::Athens],
        "HR" => &[Eu::Zagreb],
        "HU" => &[Eu::Budapest],
        "IE" => &[Eu::Dublin],
        "IS" => &[Atlantic::Reykjavik],
        "IT" => &[Eu::Rome],
        "LT" => &[Eu::Vilnius],
        "LU" => &[Eu::Luxembourg],
        "LV" => &[Eu::Riga],
        "MC" => &[Eu::Monaco],
        "MT" => &[Eu::Malta],
        "NL" => &[Eu::Amsterdam],
        "NO" => &[Eu::Oslo],
        "PL" => &[Eu::Warsaw],
        "RO" => &[Eu::Bucharest],
        "RS" => &[Eu::Belgrade],
        "SE" => &[Eu::Stockholm],
        "SI" => &[Eu::Ljubljana],
        "SK" => &[Eu::Bratislava],
        "TR" => &[Eu::Istanbul],
        "UA" => &[Eu::Kyiv],
        "DZ" => &[Af::Algiers],
        "GQ" => &[Af::Malabo],
        "MA" => &[Af::Casablanca],
        "SN" => &[Af::Dakar],
        "TN" => &[Af::Tunis],
        "AR" => &[Am::Argentina::Buenos_Aires],
        "BO" => &[Am::La_Paz],
        "CO" => &[Am::Bogota],
        "CR" => &[Am::Costa_Rica],
        "CU" => &[Am::Havana],
        "DO" => &[Am::Santo_Domingo],
        "GT" => &[Am::Guatemala],
        "HN" => &[Am::Tegucigalpa],
        "NI" => &[Am::Managua],
        "PA" => &[Am::Panama],
        "PE" => &[Am::Lima],
        "PR" => &[Am::Puerto_Rico],
        "PY" => &[Am::Asuncion],
        "SV" => &[Am::El_Salvador],
        "UY" => &[Am::Montevideo],
        "VE" => &[Am::Caracas],
        "CN" => &[Asia::Shanghai],
        "IN" => &[Asia::Kolkata],
        "JP" => &[Asia::Tokyo],
        "PH" => &[Asia::Manila],
        "CL" => &[Am::Santiago, Pacific::Easter],
        "EC" => &[Am::Guayaquil, Pacific::Galapagos],
        "US" => &[
            Am::New_York,
            Am::Chicago,
            Am::Denver,
            Am::Phoenix,
            Am::Los_Angeles,
            Am::Anchorage,
            Pacific::Honolulu,
        ],
        "CA" => &[
            Am::St_Johns,
            Am::Halifax,
            Am::Toronto,
            Am::Winnipeg,
            Am::Regina,
            Am::Edmonton,
            Am::Vancouver,
        ],
        "MX" => &[Am::Mexico_City, Am::Cancun, Am::Hermosillo, Am::Tijuana],
        "BR" => &[Am::Sao_Paulo, Am::Manaus, Am::Rio_Branco, Am::Noronha],
        "RU" => &[
            Eu::Kaliningrad,
            Eu::Moscow,
            Eu::Samara,
            Asia::Yekaterinburg,
            Asia::Omsk,
            Asia::Novosibirsk,
            Asia::Krasnoyarsk,
            Asia::Irkutsk,
            Asia::Yakutsk,
            Asia::Vladivostok,
            Asia::Magadan,
            Asia::Kamchatka,
        ],
        "AU" => &[
            Au::Perth,
            Au::Darwin,
            Au::Adelaide,
            Au::Brisbane,
            Au::Sydney,
        ],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CalleeZone::{AnyOf, Known};

    const CAMPAIGN: Tz = Eu::Madrid;

    fn zone(e164: &str) -> CalleeZone {
        callee_zone(e164, None, CAMPAIGN)
    }

    #[test]
    fn spanish_landlines_pin_the_zone_and_mobiles_do_not() {
        for canary in [
            "+34928123456",
            "+34828123456",
            "+34922123456",
            "+34822123456",
        ] {
            assert_eq!(zone(canary), Known(Atlantic::Canary), "{canary}");
        }
        for mainland in [
            "+34910000000",
            "+34932123456",
            "+34954123456",
            "+34881123456",
        ] {
            assert_eq!(zone(mainland), Known(Eu::Madrid), "{mainland}");
        }
        for anywhere in [
            "+34600123456",
            "+34712345678",
            "+34900123456",
            "+34902123456",
        ] {
            assert_eq!(zone(anywhere), AnyOf(SPAIN.to_vec()), "{anywhere}");
        }
    }

    #[test]
    fn the_csv_column_wins_when_it_names_a_zone() {
        let z = callee_zone("+34600123456", Some(" Atlantic/Canary "), CAMPAIGN);
        assert_eq!(z, Known(Atlantic::Canary));
        let z = callee_zone("+34928123456", Some("Europe/Madrid"), CAMPAIGN);
        assert_eq!(z, Known(Eu::Madrid));
        // Not a zone: the number decides.
        let z = callee_zone("+34928123456", Some("Canarias"), CAMPAIGN);
        assert_eq!(z, Known(Atlantic::Canary));
        let z = callee_zone("+34928123456", Some(""), CAMPAIGN);
        assert_eq!(z, Known(Atlantic::Canary));
    }

    #[test]
    fn other_countries_by_region() {
        assert_eq!(zone("+33142685300"), Known(Eu::Paris));
        assert_eq!(zone("+442079460000"), Known(Eu::London));
        assert_eq!(zone("+4930123456"), Known(Eu::Berlin));
        assert_eq!(zone("+390612345678"), Known(Eu::Rome));
        assert_eq!(zone("+212522123456"), Known(Af::Casablanca));
        assert_eq!(zone("+5491123456789"), Known(Am::Argentina::Buenos_Aires));
        assert_eq!(zone("+351213456789"), Known(Eu::Lisbon));
        assert_eq!(zone("+351296123456"), Known(Atlantic::Azores));
        assert_eq!(zone("+351291123456"), Known(Atlantic::Madeira));
        let pt = zone("+351912345678").zones();
        assert_eq!(pt, [Eu::Lisbon, Atlantic::Azores, Atlantic::Madeira]);
        let us = zone("+12125550123").zones();
        assert!(us.contains(&Am::New_York) && us.contains(&Am::Los_Angeles));
        assert!(zone("+14165550123").zones().contains(&Am::Toronto));
        assert_eq!(zone("+79161234567").zones().len(), 12);
        // Not placeable within +1: the code's main region.
        assert!(zone("+15555550123").zones().contains(&Am::Chicago));
    }

    #[test]
    fn unknown_countries_and_garbage_fall_back_to_the_campaign() {
        assert_eq!(zone("+85212345678"), Known(CAMPAIGN)); // Hong Kong: not in the table
        assert_eq!(zone("not a number"), Known(CAMPAIGN));
        assert_eq!(zone(""), Known(CAMPAIGN));
        assert_eq!(zone("+999"), Known(CAMPAIGN));
        assert_eq!(Known(Eu::Paris).zones(), [Eu::Paris]);
    }
}
