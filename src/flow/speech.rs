//! Text as the callee hears it: the text-to-speech engine reads what we send, so dates and
//! times are written out the way a Spanish speaker says them, and nothing can break the
//! `;`-separated `options` field.
//!
//! Guarantees: `spoken` output has no `;` and no line breaks; `speak_datetime` is total (every
//! date and time gives a sentence).

use chrono::{Datelike, NaiveDateTime, Timelike};

/// Text as it may travel inside `options`: no `;` (there is no escaping), no line breaks.
pub fn spoken(text: &str) -> String {
    let t: String = text
        .chars()
        .map(|c| match c {
            ';' => ',',
            '\r' | '\n' | '\t' => ' ',
            c => c,
        })
        .collect();
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

const WEEKDAYS: [&str; 7] = [
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
];
const MONTHS: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

/// 0–59 in words, as said after a clock hour ("y veinticinco", "y cuarenta y dos").
fn number_words(n: u32) -> String {
    const UNITS: [&str; 30] = [
        "cero",
        "uno",
        "dos",
        "tres",
        "cuatro",
        "cinco",
        "seis",
        "siete",
        "ocho",
        "nueve",
        "diez",
        "once",
        "doce",
        "trece",
        "catorce",
        "quince",
        "dieciséis",
        "diecisiete",
        "dieciocho",
        "diecinueve",
        "veinte",
        "veintiuno",
        "veintidós",
        "veintitrés",
        "veinticuatro",
        "veinticinco",
        "veintiséis",
        "veintisiete",
        "veintiocho",
        "veintinueve",
    ];
    const TENS: [&str; 3] = ["treinta", "cuarenta", "cincuenta"];
    match n {
        0..=29 => UNITS[n as usize].to_string(),
        30..=59 => {
            let tens = TENS[(n / 10 - 3) as usize];
            match n % 10 {
                0 => tens.to_string(),
                u => format!("{tens} y {}", UNITS[u as usize]),
            }
        }
        _ => n.to_string(),
    }
}

/// The clock hour 1–12 with its article: "la una", "las diez".
fn clock_hour(h24: u32) -> String {
    match h24 % 12 {
        1 => "la una".to_string(),
        0 => "las doce".to_string(),
        h => format!("las {}", number_words(h)),
    }
}

/// The part of the day of an hour (0–23): 6–11 mañana, 12 mediodía, 13–20 tarde,
/// 21–0 noche, 1–5 madrugada.
fn day_part(h24: u32) -> &'static str {
    match h24 {
        6..=11 => "de la mañana",
        12 => "del mediodía",
        13..=20 => "de la tarde",
        1..=5 => "de la madrugada",
        _ => "de la noche",
    }
}

/// A time of day in words: "a las diez y media de la mañana", "a la una y cuarto de la tarde",
/// "a las nueve menos cuarto de la noche", "a las ocho y cuarenta de la tarde".
///
/// Style: `en punto` is left unsaid, `:15` is "y cuarto", `:30` "y media", `:45` "menos cuarto"
/// of the next hour; any other minute is "y" plus the number. The part of the day goes with the
/// hour that is said, so 20:45 is "a las nueve menos cuarto de la noche".
pub fn speak_time(hour: u32, minute: u32) -> String {
    let (h, tail) = match minute {
        0 => (hour, String::new()),
        15 => (hour, " y cuarto".to_string()),
        30 => (hour, " y media".to_string()),
        45 => (hour + 1, " menos cuarto".to_string()),
        m => (hour, format!(" y {}", number_words(m))),
    };
    format!("a {}{tail} {}", clock_hour(h), day_part(h % 24))
}

/// An appointment in natural Spanish, e.g. "el martes 24 de noviembre a las diez y media de la
/// mañana". The day of the month stays in digits (every voice reads them well); the year is
/// left out, as nobody says it for an appointment within days.
///
/// Midnight: "el martes a las doce de la noche" is heard as Tuesday night, a day late, so an
/// appointment in the hour after midnight is said with "cero horas" ("el martes 15 de diciembre
/// a las cero horas y treinta minutos"), which can only mean the first hour of that day; 00:45
/// is "a la una menos cuarto de la madrugada", which is not ambiguous either.
pub fn speak_datetime(dt: NaiveDateTime) -> String {
    let weekday = WEEKDAYS[dt.weekday().num_days_from_monday() as usize];
    let month = MONTHS[dt.month0() as usize];
    let time = match (dt.hour(), dt.minute()) {
        (0, 0) => "a las cero horas".to_string(),
        (0, 1) => "a las cero horas y un minuto".to_string(),
        (0, m) if m != 45 => format!("a las cero horas y {} minutos", number_words(m)),
        (h, m) => speak_time(h, m),
    };
    format!("el {weekday} {} de {month} {time}", dt.day())
}

/// Joins the article of a spoken appointment ("el martes…") with the word before it, as Spanish
/// requires wherever a template puts `{cita}`: "de el" / "del el" become "del", "a el" / "al el"
/// become "al", and an article the template already wrote is not said twice ("el el" → "el",
/// as in "Le esperamos el {cita}", "para el {cita}", "tiene cita el {cita}"). An appointment
/// that opens a sentence gets its capital ("{cita}, le esperamos" → "El martes…").
/// Whole words only; "él" (the pronoun) and capitalised "El" (names) are left alone.
pub fn contract_articles(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let opens_sentence = out.last().is_none_or(|p| p.ends_with(['.', '!', '?']));
        if words.get(i + 1) == Some(&"el") {
            let merged = match w {
                "de" | "del" => Some("del"),
                "De" | "Del" => Some("Del"),
                "a" | "al" => Some("al"),
                "A" | "Al" => Some("Al"),
                "el" => Some("el"),
                "El" => Some("El"),
                _ => None,
            };
            if let Some(m) = merged {
                out.push(m.to_string());
                i += 2;
                continue;
            }
        }
        if w == "el" && opens_sentence {
            out.push("El".to_string());
            i += 1;
            continue;
        }
        out.push(w.to_string());
        i += 1;
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn spoken_text_has_no_separators() {
        assert_eq!(spoken("a;b\nc  d"), "a,b c d");
    }

    #[test]
    fn appointments_are_said_as_a_person_would() {
        assert_eq!(
            speak_datetime(at("2026-11-24 10:30")),
            "el martes 24 de noviembre a las diez y media de la mañana"
        );
        assert_eq!(
            speak_datetime(at("2026-03-01 13:00")),
            "el domingo 1 de marzo a la una de la tarde"
        );
        assert_eq!(
            speak_datetime(at("2026-05-13 12:15")),
            "el miércoles 13 de mayo a las doce y cuarto del mediodía"
        );
        assert_eq!(
            speak_datetime(at("2026-12-31 20:45")),
            "el jueves 31 de diciembre a las nueve menos cuarto de la noche"
        );
    }

    #[test]
    fn articles_contract_only_as_whole_words() {
        assert_eq!(
            contract_articles("su cita del el martes, venga a el centro"),
            "su cita del martes, venga al centro"
        );
        assert_eq!(
            contract_articles("puede el lunes de él"),
            "puede el lunes de él"
        );
    }

    /// Every way a template can put an article (or a word that takes one) before `{cita}`,
    /// rendered as the flow does: the value substituted, then the articles joined.
    #[test]
    fn every_template_form_says_the_article_once() {
        let cita = speak_datetime(at("2026-12-15 10:30"));
        let said = |template: &str| contract_articles(&template.replace("{cita}", &cita));
        let day = "martes 15 de diciembre a las diez y media de la mañana";
        for (template, expected) in [
            ("Le esperamos el {cita}.", format!("Le esperamos el {day}.")),
            (
                "Gracias. Le esperamos el {cita}.",
                format!("Gracias. Le esperamos el {day}."),
            ),
            (
                "Reservado para el {cita}.",
                format!("Reservado para el {day}."),
            ),
            ("Tiene cita el {cita}.", format!("Tiene cita el {day}.")),
            ("Su cita del {cita}.", format!("Su cita del {day}.")),
            ("Su cita de {cita}.", format!("Su cita del {day}.")),
            ("Venga a {cita}.", format!("Venga al {day}.")),
            ("Venga al {cita}.", format!("Venga al {day}.")),
            ("Su cita {cita}.", format!("Su cita el {day}.")),
            ("El {cita} le esperamos.", format!("El {day} le esperamos.")),
            ("{cita}: le esperamos.", format!("El {day}: le esperamos.")),
            (
                "Hola. {cita} le esperamos.",
                format!("Hola. El {day} le esperamos."),
            ),
            ("De {cita} en adelante.", format!("Del {day} en adelante.")),
            ("A {cita} le llamamos.", format!("Al {day} le llamamos.")),
        ] {
            assert_eq!(said(template), expected, "{template}");
        }
        // No two articles in a row anywhere, whatever the template.
        for template in [
            "el {cita}",
            "El {cita}",
            "del {cita}",
            "al {cita}",
            "de {cita}",
        ] {
            let s = said(template);
            assert!(!s.to_lowercase().contains("el el"), "{s}");
            assert!(!s.contains("del el") && !s.contains("al el"), "{s}");
        }
    }

    /// An appointment at midnight belongs to the day it names, never the night of that day.
    #[test]
    fn midnight_is_the_start_of_the_day_said() {
        assert_eq!(
            speak_datetime(at("2026-12-15 00:00")),
            "el martes 15 de diciembre a las cero horas"
        );
        assert_eq!(
            speak_datetime(at("2026-12-15 00:01")),
            "el martes 15 de diciembre a las cero horas y un minuto"
        );
        assert_eq!(
            speak_datetime(at("2026-12-15 00:30")),
            "el martes 15 de diciembre a las cero horas y treinta minutos"
        );
        assert_eq!(
            speak_datetime(at("2026-12-15 00:45")),
            "el martes 15 de diciembre a la una menos cuarto de la madrugada"
        );
        // The night before still reads as the night of its own day.
        assert_eq!(
            speak_datetime(at("2026-12-14 23:30")),
            "el lunes 14 de diciembre a las once y media de la noche"
        );
        for m in 0..60 {
            let s = speak_datetime(at(&format!("2026-12-15 00:{m:02}")));
            assert!(!s.contains("de la noche"), "{s}");
        }
    }

    #[test]
    fn every_minute_reads_naturally() {
        assert_eq!(speak_time(8, 40), "a las ocho y cuarenta de la mañana");
        assert_eq!(speak_time(20, 40), "a las ocho y cuarenta de la tarde");
        assert_eq!(speak_time(11, 45), "a las doce menos cuarto del mediodía");
        assert_eq!(speak_time(12, 45), "a la una menos cuarto de la tarde");
        assert_eq!(speak_time(0, 45), "a la una menos cuarto de la madrugada");
        assert_eq!(speak_time(0, 0), "a las doce de la noche");
        assert_eq!(speak_time(23, 45), "a las doce menos cuarto de la noche");
        assert_eq!(speak_time(9, 5), "a las nueve y cinco de la mañana");
        assert_eq!(speak_time(17, 21), "a las cinco y veintiuno de la tarde");
        assert_eq!(
            speak_time(3, 59),
            "a las tres y cincuenta y nueve de la madrugada"
        );
        for h in 0..24 {
            for m in 0..60 {
                let s = speak_time(h, m);
                assert!(!s.chars().any(|c| c.is_ascii_digit()), "{s}");
            }
        }
    }
}
