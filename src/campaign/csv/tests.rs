//! Whole-file behaviour (reading, streaming, memory) and the helpers the tests of every part of
//! the reader share.

use super::*;
use chrono::NaiveDate;
use phonenumber::country::Id;
use sha2::{Digest, Sha256};
use std::io;

pub(super) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/csv")
        .join(name)
}

pub(super) fn es() -> Option<Id> {
    phone::region("ES")
}

pub(super) fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Option<NaiveDateTime> {
    NaiveDate::from_ymd_opt(y, mo, d).and_then(|d| d.and_hms_opt(h, mi, 0))
}

pub(super) fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Phone, name, time zone and appointment of each contact.
pub(super) type Brief = (String, String, Option<String>, Option<NaiveDateTime>);

pub(super) fn briefs(contacts: &[NewContact]) -> Vec<Brief> {
    contacts
        .iter()
        .map(|c| {
            (
                c.phone.clone(),
                c.name.clone(),
                c.timezone.clone(),
                c.appointment,
            )
        })
        .collect()
}

pub(super) fn brief(
    phone: &str,
    name: &str,
    tz: Option<&str>,
    appointment: Option<NaiveDateTime>,
) -> Brief {
    (phone.into(), name.into(), tz.map(String::from), appointment)
}

pub(super) fn reasons(p: &ParsedFile) -> Vec<(u64, String)> {
    p.rejected
        .iter()
        .map(|r| (r.line, r.reason.to_string()))
        .collect()
}

pub(super) fn dup(line: u64, first_line: u64) -> Duplicate {
    Duplicate { line, first_line }
}

pub(super) const FORMATS: &str =
    "accepted formats: DD/MM/YYYY HH:MM (15/03/2026 09:30) or YYYY-MM-DD HH:MM (2026-03-15 09:30)";

#[test]
fn spanish_excel_export_in_windows_1252() {
    let path = fixture("excel_es_1252.csv");
    let p = read_file(&path, es()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(p.hash, format!("{:x}", Sha256::digest(&bytes)));
    assert_eq!(p.name, "excel_es_1252.csv");
    assert_eq!(p.layout.encoding, "windows-1252");
    assert_eq!(p.layout.delimiter, b';');
    assert_eq!(p.layout.header_line, 1);
    // The two empty header cells of the trailing separators are not columns.
    assert_eq!(p.layout.headers, ["Teléfono", "Nombre", "Cita", "Notas"]);
    assert_eq!(p.layout.keys, ["telefono", "nombre", "cita", "notas"]);
    assert_eq!(p.rows_read, 14);
    let canary = Some("Atlantic/Canary");
    assert_eq!(
        briefs(&p.contacts),
        [
            brief("+34600123456", "José Muñoz", None, at(2026, 3, 15, 9, 30)),
            brief("+34611223344", "Ana Peña", None, at(2026, 3, 16, 10, 0)),
            brief(
                "+34928123456",
                "Clínica Las Palmas",
                canary,
                at(2026, 3, 17, 12, 0)
            ),
            brief(
                "+34922123456",
                "Óptica Tenerife",
                canary,
                at(2026, 3, 17, 12, 30)
            ),
            brief("+33612345678", "Amélie", None, at(2026, 3, 18, 9, 0)),
            brief("+447911123456", "John", None, at(2026, 3, 18, 9, 30)),
            brief("+34911234567", "Oficina Madrid", None, None),
            brief("+34614567890", "Extra", None, at(2026, 3, 19, 10, 0)),
        ]
    );
    assert_eq!(
        p.contacts[0].vars(),
        vars(&[
            ("telefono", "600 12 34 56"),
            ("nombre", "José Muñoz"),
            ("cita", "15/03/2026 9:30"),
            ("notas", "Pagó 20 €"),
        ])
    );
    // A quoted note keeps its line break; a short row has its missing columns empty; the
    // extra fields of a long row are not variables.
    assert_eq!(
        p.contacts[1].vars()["notas"],
        "Llamar por la tarde\r\nno antes de las 5"
    );
    assert_eq!(
        p.contacts[6].vars(),
        vars(&[
            ("telefono", "91 123 45 67"),
            ("nombre", "Oficina Madrid"),
            ("cita", ""),
            ("notas", "sin cita"),
        ])
    );
    assert_eq!(p.contacts[7].vars().len(), 4);
    assert_eq!(
        reasons(&p),
        [
            (11, "\"no tiene\" is not a phone number: it contains letters".to_string()),
            (12, format!("Cita: \"31/02/2026 10:00\" has day 31, which February 2026 does not have; {FORMATS}")),
            (13, format!("Cita: \"15/03/2026\" has a date but no time; {FORMATS}")),
            (17, "\"6,00123E+08\" is in scientific notation, which loses digits: format the phone column as text in Excel and export the file again".to_string()),
        ]
    );
    assert_eq!(
        p.rejected[0].record,
        ["no tiene", "Sin Teléfono", "18/03/2026 10:00", "", "", ""]
    );
    // Both later rows hold line 2's number, written differently.
    assert_eq!(p.duplicates, [dup(6, 2), dup(18, 2)]);
}

#[test]
fn utf8_with_bom_commas_and_date_and_time_columns() {
    let p = read_file(&fixture("utf8_bom_fecha_hora.csv"), es()).unwrap();
    assert_eq!(p.layout.encoding, "UTF-8");
    // The `;` inside the quoted first header cell does not fool the detection.
    assert_eq!(p.layout.delimiter, b',');
    assert_eq!(
        p.layout.keys,
        [
            "apellidos_nombre",
            "nombre",
            "movil",
            "fecha",
            "hora",
            "zona_horaria",
            "dia"
        ]
    );
    let canary = Some("Atlantic/Canary");
    assert_eq!(
        briefs(&p.contacts),
        [
            brief("+34600000001", "Luis", None, at(2026, 3, 15, 9, 30)),
            brief("+34600000002", "Eva", canary, at(2026, 3, 16, 10, 0)),
            brief("+34600000004", "Pío", None, None),
            brief("+34600000007", "Alí", canary, at(2026, 3, 18, 11, 30)),
        ]
    );
    assert_eq!(p.contacts[0].vars()["dia"], "lunes");
    assert_eq!(p.contacts[0].vars()["apellidos_nombre"], "García; Luis");
    assert_eq!(
        reasons(&p),
        [
            (4, "Hora: \"25:00\" is not a time of day (hours 0-23, minutes and seconds 0-59); accepted formats: HH:MM (09:30) or HH:MM:SS (09:30:00)".to_string()),
            (6, "Hora is empty but Fecha is not; accepted formats: HH:MM (09:30) or HH:MM:SS (09:30:00)".to_string()),
            (7, "Zona horaria: \"Marte/Base\" is not a time zone; write an IANA name such as Europe/Madrid or Atlantic/Canary".to_string()),
        ]
    );
    assert_eq!(p.duplicates, [dup(9, 2)]);
}

#[test]
fn whole_file_errors_are_one_sentence() {
    let e = read_file(&fixture("no_header.csv"), es())
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("no_header.csv: the first row (600123456, Ana) holds a phone number, not column names: add a header row such as telefono;nombre"),
        "{e}"
    );
    let e = parse_bytes("c.csv", b"nombre;email\nAna;a@b\n", es()).unwrap_err();
    assert_eq!(e, "no phone column in the header (nombre, email); name it telefono, teléfono, movil, móvil, tel, numero, phone or mobile");
    let e = parse_bytes("d.csv", "\u{feff}\r\n;;\r\n".as_bytes(), es()).unwrap_err();
    assert_eq!(
        e,
        "the file is empty: a header row with a phone column is required"
    );
    // Said in the reader's language where people read it (`check`, `import`).
    let es_error = |bytes: &[u8]| match ContactReader::from_bytes("f.csv", bytes, es()) {
        Err(e) => crate::i18n::Lang::Es.render(&e.msg()),
        Ok(_) => panic!("the file was read"),
    };
    assert_eq!(
        es_error(b"nombre;email\nAna;a@b\n"),
        "f.csv: no hay columna de teléfono en la cabecera (nombre, email); llámela telefono, teléfono, movil, móvil, tel, numero, phone o mobile"
    );
    assert_eq!(
        es_error(b""),
        "f.csv: el archivo está vacío: hace falta una fila de cabecera con una columna de teléfono"
    );
    assert!(es_error(b"600123456;Ana\n")
        .starts_with("f.csv: la primera fila (600123456, Ana) tiene un número de teléfono"));
    // A header alone is a file with no rows, not an error.
    assert_eq!(
        parse_bytes("e.csv", b"telefono\n", es()).unwrap().rows_read,
        0
    );
}

#[test]
fn streaming_gives_the_same_rows_in_batches() {
    let path = fixture("excel_es_1252.csv");
    let whole = read_file(&path, es()).unwrap();
    let mut streamed = Batch::default();
    let summary = stream_file(&path, es(), 3, |layout, b| {
        assert_eq!(layout, &whole.layout);
        assert!(b.contacts.len() + b.rejected.len() + b.duplicates.len() <= 3);
        streamed.contacts.extend(b.contacts);
        streamed.rejected.extend(b.rejected);
        streamed.duplicates.extend(b.duplicates);
        Ok::<_, String>(())
    })
    .unwrap();
    assert_eq!(streamed.contacts, whole.contacts);
    assert_eq!(streamed.rejected, whole.rejected);
    assert_eq!(streamed.duplicates, whole.duplicates);
    assert_eq!(
        (
            summary.rows_read,
            summary.contacts,
            summary.rejected,
            summary.duplicates
        ),
        (14, 8, 4, 2)
    );
    assert_eq!(summary.hash, whole.hash);
    let stopped = stream_file(&path, es(), 3, |_, _| Err("disk full"));
    assert!(matches!(stopped, Err(StreamError::Sink("disk full"))));
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `cargo test --release --lib million_rows -- --ignored --nocapture`
#[test]
#[ignore = "writes and reads a 70 MB file; run in release"]
fn million_rows_stream_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("million.csv");
    {
        let mut w = io::BufWriter::new(std::fs::File::create(&path).unwrap());
        io::Write::write_all(&mut w, b"telefono;nombre;cita;notas\r\n").unwrap();
        for i in 0..1_000_000u64 {
            let n = 600_000_000 + i;
            let (a, b, c, d) = (n / 1_000_000, n / 10_000 % 100, n / 100 % 100, n % 100);
            let phone = match i % 5 {
                0 => format!("{a} {b:02} {c:02} {d:02}"),
                1 => format!("+34 {a}-{:03}-{:03}", n / 1000 % 1000, n % 1000),
                2 => format!("0034{n}"),
                3 => format!("34{n}"),
                _ => format!("{n}"),
            };
            let line =
                format!("{phone};Nombre Apellido {i};15/03/2026 10:00;nota de prueba {i}\r\n");
            io::Write::write_all(&mut w, line.as_bytes()).unwrap();
        }
    }
    let size = std::fs::metadata(&path).unwrap().len();
    let start = std::time::Instant::now();
    let mut contacts = 0;
    let summary = stream_file(&path, es(), 10_000, |_, b| {
        contacts += b.contacts.len();
        Ok::<_, String>(())
    })
    .unwrap();
    let took = start.elapsed();
    let peak = peak_rss_kib().unwrap_or(0);
    println!(
        "{} MB, {} rows in {:.2} s; peak RSS {} MB",
        size / 1_000_000,
        summary.rows_read,
        took.as_secs_f64(),
        peak / 1024
    );
    assert_eq!(contacts, 1_000_000);
    assert_eq!(summary.duplicates + summary.rejected, 0);
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
}
