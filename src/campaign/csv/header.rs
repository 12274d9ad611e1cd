//! Header mapping: header cells made into template names and the columns given their roles
//! (phone, name, time zone, appointment), in Spanish or English, loosely spelled.

use super::phone;

/// Which columns mean what.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Roles {
    /// Phone columns in order of preference; a row uses the first that holds a valid number.
    pub(super) phones: Vec<usize>,
    pub(super) name: Option<usize>,
    pub(super) timezone: Option<usize>,
    pub(super) appointment: Appointment,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Appointment {
    None,
    /// Date and time in one column; a date alone there takes its time from the second column.
    One(usize, Option<usize>),
    /// A date column and a time column.
    Pair(usize, usize),
}

pub(super) fn no_phone_column(
    cells: &[String],
    region: Option<phonenumber::country::Id>,
) -> crate::i18n::Msg {
    let (shown, _) = column_keys(cells);
    let key = if shown.iter().any(|c| phone::normalize(c, region).is_ok()) {
        "csv.header_is_data"
    } else {
        "csv.no_phone_column"
    };
    crate::i18n::Msg::new(key).arg("columns", shown.join(", "))
}

pub use crate::text::normalize_header;

/// The header cells kept (trailing empty ones dropped) and their unique template names.
pub(super) fn column_keys(cells: &[String]) -> (Vec<String>, Vec<String>) {
    let used = cells
        .iter()
        .rposition(|c| !c.trim().is_empty())
        .map_or(0, |i| i + 1);
    let headers: Vec<String> = cells[..used].iter().map(|c| c.trim().to_string()).collect();
    let mut keys: Vec<String> = Vec::with_capacity(used);
    for (i, h) in headers.iter().enumerate() {
        let mut key = normalize_header(h);
        if key.is_empty() {
            key = format!("columna_{}", i + 1);
        }
        if keys.contains(&key) {
            let mut n = 2;
            while keys.contains(&format!("{key}_{n}")) {
                n += 1;
            }
            key = format!("{key}_{n}");
        }
        keys.push(key);
    }
    (headers, keys)
}

const PHONE_WORDS: &[&str] = &[
    "phone",
    "telefono",
    "movil",
    "tel",
    "telf",
    "tfno",
    "tlf",
    "mobile",
    "telephone",
    "celular",
];

pub(super) fn roles(keys: &[String]) -> Roles {
    let find = |names: &[&str]| keys.iter().position(|k| names.contains(&k.as_str()));
    // Exact names first, then names that contain a phone word (`telefono_movil`), then the
    // weak `numero` (often a street number).
    let mut phones: Vec<(u8, usize)> = keys
        .iter()
        .enumerate()
        .filter_map(|(i, k)| {
            if PHONE_WORDS.contains(&k.as_str()) {
                Some((0, i))
            } else if k.split('_').any(|w| PHONE_WORDS.contains(&w)) {
                Some((1, i))
            } else if k == "numero" {
                Some((2, i))
            } else {
                None
            }
        })
        .collect();
    phones.sort();
    let one = find(&[
        "appointment",
        "cita",
        "fecha_cita",
        "fecha_y_hora",
        "fecha_hora",
    ]);
    let date = find(&["fecha", "date"]);
    let time = find(&["hora", "hora_cita", "time"]);
    let appointment = match (one, date, time) {
        (Some(c), _, t) => Appointment::One(c, t),
        (None, Some(d), Some(t)) => Appointment::Pair(d, t),
        _ => Appointment::None,
    };
    Roles {
        phones: phones.into_iter().map(|(_, i)| i).collect(),
        name: find(&[
            "name",
            "nombre",
            "nombre_completo",
            "nombre_y_apellidos",
            "full_name",
        ]),
        timezone: find(&["timezone", "zona_horaria", "zona", "huso_horario", "tz"]),
        appointment,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::csv::tests::*;
    use crate::campaign::csv::*;

    #[test]
    fn headers_are_matched_loosely_and_kept_as_variables() {
        assert_eq!(normalize_header(" Día "), "dia");
        assert_eq!(normalize_header("Nº de cliente"), "no_de_cliente");
        assert_eq!(normalize_header("ZONA  HORARIA"), "zona_horaria");
        assert_eq!(normalize_header("E-mail"), "e_mail");
        assert_eq!(normalize_header("Año"), "ano");
        let p = parse_bytes(
            "h.csv",
            "Calle;Número;Teléfono móvil;Nombre completo;;Notas;Notas\nMayor;12;600000001;Ana Ruiz;x;a;b\n"
                .as_bytes(),
            es(),
        )
        .unwrap();
        assert_eq!(
            p.layout.keys,
            [
                "calle",
                "numero",
                "telefono_movil",
                "nombre_completo",
                "columna_5",
                "notas",
                "notas_2"
            ]
        );
        // `Número` here is the street number: the phone word wins.
        assert_eq!(
            briefs(&p.contacts),
            [brief("+34600000001", "Ana Ruiz", None, None)]
        );
        assert_eq!(p.contacts[0].vars()["columna_5"], "x");
        assert_eq!(p.contacts[0].vars()["notas_2"], "b");
        let p = parse_bytes(
            "t.csv",
            b"Tfno.;Tel\xc3\xa9fono\n600000001;600000002\n",
            es(),
        )
        .unwrap();
        assert_eq!(p.contacts[0].phone, "+34600000001");
    }

    #[test]
    fn the_first_phone_column_with_a_valid_number_is_used() {
        let p = parse_bytes(
            "m.csv",
            b"telefono;movil;nombre\n;600000001;A\nno tiene;600000002;B\n600000003;600000004;C\n;;D\nmal;;E\n",
            es(),
        )
        .unwrap();
        assert_eq!(
            p.contacts
                .iter()
                .map(|c| c.phone.as_str())
                .collect::<Vec<_>>(),
            ["+34600000001", "+34600000002", "+34600000003"]
        );
        assert_eq!(
            reasons(&p),
            [
                (5, "the phone number is empty".to_string()),
                (
                    6,
                    "\"mal\" is not a phone number: it contains letters".to_string()
                ),
            ]
        );
    }
}
