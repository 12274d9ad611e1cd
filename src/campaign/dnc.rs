//! The do-not-call list as files: `campaigns/blacklist.csv` (one number a row, optional `until`
//! and `hours` columns) and `pregonero dnc import FILE`. Numbers are stored in E.164, so every
//! written form of a number is blocked.

use std::path::Path;

use super::csv::{normalize_header, sniff_delimiter};
use super::phone;
use crate::i18n::Msg;
use crate::store::DncEntry;

/// A row of a do-not-call file that could not be read, and why (worded where it is shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DncReject {
    pub line: u64,
    pub error: Msg,
}

/// UTF-8 (BOM stripped) or, failing that, Windows-1252: what Excel writes.
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    }
}

/// Normalises the `until` column: `YYYY-MM-DD` or `DD/MM/YYYY` → `YYYY-MM-DD`.
pub fn parse_until(text: &str) -> Result<String, Msg> {
    let t = text.trim();
    let parsed = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(t, "%d/%m/%Y"));
    parsed
        .map(|d| d.format("%Y-%m-%d").to_string())
        .map_err(|_| Msg::new("dnc.bad_until").arg("value", t))
}

/// Checks an `hours` value (`mon-fri 09:00-14:00`, several joined by `|`).
pub fn parse_hours(text: &str) -> Result<String, Msg> {
    let lines: Vec<String> = text
        .split('|')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    crate::schedule::window::WeeklyHours::parse(&lines)?;
    Ok(lines.join("|"))
}

/// Builds one entry from what a person typed.
pub fn entry(
    raw_phone: &str,
    until: Option<&str>,
    hours: Option<&str>,
    source: &str,
    region: Option<phonenumber::country::Id>,
) -> Result<DncEntry, Msg> {
    let phone = phone::normalize(raw_phone, region).map_err(|e| e.msg())?;
    let until_date = until
        .filter(|u| !u.trim().is_empty())
        .map(parse_until)
        .transpose()?;
    let hours = hours
        .filter(|h| !h.trim().is_empty())
        .map(parse_hours)
        .transpose()?;
    Ok(DncEntry {
        phone,
        until_date,
        hours,
        source: source.to_string(),
    })
}

/// Reads a do-not-call file. A header row is optional: without one, the first column is the
/// number, the second `until`, the third `hours`.
pub fn read(
    path: &Path,
    region: Option<phonenumber::country::Id>,
) -> Result<(Vec<DncEntry>, Vec<DncReject>), Msg> {
    let bytes = std::fs::read(path).map_err(|e| Msg::read_error(path, &e))?;
    let text = decode(&bytes);
    let source = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(text.as_bytes(), true))
        .flexible(true)
        .has_headers(false)
        .from_reader(text.as_bytes());
    let (mut phone_col, mut until_col, mut hours_col) = (0usize, Some(1usize), Some(2usize));
    let mut entries = Vec::new();
    let mut rejects = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i as u64 + 1;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                rejects.push(DncReject {
                    line,
                    error: Msg::new("dnc.unreadable_row").arg("error", e),
                });
                continue;
            }
        };
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if i == 0 {
            let headers: Vec<String> = rec.iter().map(normalize_header).collect();
            let find = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
            if let Some(p) = find(&["phone", "telefono", "movil", "tel", "numero", "number"]) {
                phone_col = p;
                until_col = find(&["until", "hasta"]);
                hours_col = find(&["hours", "horas", "horario"]);
                continue;
            }
        }
        let get = |c: Option<usize>| {
            c.and_then(|c| rec.get(c))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        match entry(
            rec.get(phone_col).unwrap_or(""),
            get(until_col),
            get(hours_col),
            &source,
            region,
        ) {
            Ok(e) => entries.push(e),
            Err(error) => rejects.push(DncReject { line, error }),
        }
    }
    Ok((entries, rejects))
}

/// Reads a do-not-call file into the store (entries are upserted: re-reading is harmless).
pub async fn import(
    store: &crate::store::Store,
    path: &Path,
    region: Option<phonenumber::country::Id>,
    now_ms: i64,
) -> Result<(u64, Vec<DncReject>), Msg> {
    let (entries, rejects) = read(path, region)?;
    let n = store.dnc_upsert(&entries, now_ms).await.map_err(|e| {
        Msg::new("error.csv_invalid")
            .arg("file", path.display())
            .arg("error", e)
    })?;
    Ok((n, rejects))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blacklist_with_header_and_optional_columns() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("blacklist.csv");
        std::fs::write(&p, "telefono;hasta;horas\n600 12 34 56;;\n0034611111111;31/12/2026;\n+34 622 222 222;;mon-fri 09:00-14:00\nhola;;\n633333333;mañana;\n").unwrap();
        let (entries, rejects) = read(&p, phone::region("ES")).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].phone, "+34600123456");
        assert_eq!(
            (
                entries[0].until_date.as_deref(),
                entries[0].hours.as_deref()
            ),
            (None, None)
        );
        assert_eq!(entries[1].until_date.as_deref(), Some("2026-12-31"));
        assert_eq!(entries[2].hours.as_deref(), Some("mon-fri 09:00-14:00"));
        assert_eq!(
            rejects.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![5, 6]
        );
        let es = crate::i18n::Lang::Es.render(&rejects[1].error);
        assert_eq!(
            es,
            "until \"mañana\" no es una fecha (AAAA-MM-DD o DD/MM/AAAA)"
        );
        assert_eq!(
            crate::i18n::Lang::En.render(&rejects[0].error),
            "\"hola\" is not a phone number: it contains letters"
        );
    }

    #[test]
    fn headerless_file_is_one_number_a_row() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.csv");
        std::fs::write(&p, "600123456\n611111111\n").unwrap();
        let (entries, rejects) = read(&p, phone::region("ES")).unwrap();
        assert_eq!(entries.len(), 2);
        assert!(rejects.is_empty());
    }
}
