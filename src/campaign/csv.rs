//! Contact lists as marketing staff export them: `,` `;` or tab, UTF-8 (with or without BOM)
//! or Windows-1252, Spanish or English headers. Every row is either imported or rejected with a
//! reason, and rejected rows are written beside the file in `<file>.rejected.csv`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::phone;

/// A contact ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    /// E.164.
    pub phone: String,
    pub name: String,
    /// Every column of the row, by normalised header (template variables).
    pub vars: BTreeMap<String, String>,
    pub timezone: Option<String>,
}

/// A row that was not imported, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// 1-based line of the row in the file (the header is line 1).
    pub line: u64,
    pub record: Vec<String>,
    pub error: String,
}

/// The result of reading one file.
#[derive(Debug, Clone)]
pub struct ParsedFile {
    pub name: String,
    /// SHA-256 of the bytes: a file is identified by its content.
    pub hash: String,
    pub headers: Vec<String>,
    pub delimiter: u8,
    pub rows_read: u64,
    pub contacts: Vec<NewContact>,
    pub rejected: Vec<Rejected>,
    /// Rows whose number already appeared earlier in the same file (first row wins).
    pub duplicates: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Header aliases: normalised header → canonical column.
fn canonical(header: &str) -> Option<&'static str> {
    match header {
        "phone" | "telefono" | "movil" | "tel" | "numero" | "mobile" => Some("phone"),
        "name" | "nombre" => Some("name"),
        "timezone" | "zona_horaria" | "zona" => Some("timezone"),
        _ => None,
    }
}

/// Lower-cases, strips accents and turns spaces into `_`, so `Teléfono` matches `telefono`.
pub fn normalize_header(h: &str) -> String {
    h.trim()
        .chars()
        .flat_map(|c| c.to_lowercase())
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            ' ' | '-' => '_',
            c => c,
        })
        .collect()
}

/// Decodes UTF-8 (BOM stripped) or, failing that, Windows-1252.
pub fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    }
}

/// Picks the delimiter that splits the header line into the most fields (`;` on ties, Excel's
/// choice in Spain).
pub fn detect_delimiter(text: &str) -> u8 {
    let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut best = (b';', 0usize);
    for d in [b';', b',', b'\t'] {
        let n = header.matches(d as char).count();
        if n > best.1 {
            best = (d, n);
        }
    }
    best.0
}

/// Reads a CSV file into contacts and rejects.
pub fn read_file(
    path: &Path,
    region: Option<phonenumber::country::Id>,
) -> Result<ParsedFile, CsvError> {
    let bytes = std::fs::read(path).map_err(|source| CsvError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    parse_bytes(&name, &bytes, region).map_err(|message| CsvError::Invalid {
        path: path.to_path_buf(),
        message,
    })
}

/// Parses file content; errors are about the file as a whole (no header, no phone column).
pub fn parse_bytes(
    name: &str,
    bytes: &[u8],
    region: Option<phonenumber::country::Id>,
) -> Result<ParsedFile, String> {
    let hash = format!("{:x}", Sha256::digest(bytes));
    let text = decode(bytes);
    let delimiter = detect_delimiter(&text);
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(text.as_bytes());
    // Line numbers are counted from byte offsets: the csv crate does not count blank lines.
    // A record's position can point at the line break before it (and any blank lines).
    let bytes = text.as_bytes();
    let line_of = |pos: Option<&::csv::Position>| -> u64 {
        let Some(p) = pos else { return 0 };
        let mut at = (p.byte() as usize).min(bytes.len());
        while at < bytes.len() && (bytes[at] == b'\r' || bytes[at] == b'\n') {
            at += 1;
        }
        bytes[..at].iter().filter(|b| **b == b'\n').count() as u64 + 1
    };
    let mut records = reader.records();
    let headers: Vec<String> = loop {
        match records.next() {
            Some(Ok(r)) => {
                if r.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                break r.iter().map(normalize_header).collect();
            }
            Some(Err(e)) => return Err(format!("the header row cannot be read: {e}")),
            None => {
                return Err(
                    "the file is empty: a header row with a phone column is required".into(),
                )
            }
        }
    };
    let phone_col = headers
        .iter()
        .position(|h| canonical(h) == Some("phone"))
        .ok_or_else(|| {
            format!(
                "no phone column in the header ({}); name one of: telefono, teléfono, movil, móvil, tel, numero, phone",
                headers.join(", ")
            )
        })?;
    let name_col = headers.iter().position(|h| canonical(h) == Some("name"));
    let tz_col = headers
        .iter()
        .position(|h| canonical(h) == Some("timezone"));

    let mut out = ParsedFile {
        name: name.to_string(),
        hash,
        headers: headers.clone(),
        delimiter,
        rows_read: 0,
        contacts: Vec::new(),
        rejected: Vec::new(),
        duplicates: 0,
    };
    let mut seen = std::collections::HashSet::new();
    for rec in records {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = line_of(e.position());
                out.rows_read += 1;
                out.rejected.push(Rejected {
                    line,
                    record: Vec::new(),
                    error: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        out.rows_read += 1;
        let line = line_of(rec.position());
        let fields: Vec<String> = rec.iter().map(|f| f.to_string()).collect();
        let raw_phone = fields.get(phone_col).map(String::as_str).unwrap_or("");
        let phone = match phone::normalize(raw_phone, region) {
            Ok(p) => p,
            Err(e) => {
                out.rejected.push(Rejected {
                    line,
                    record: fields,
                    error: e.to_string(),
                });
                continue;
            }
        };
        if !seen.insert(phone.clone()) {
            out.duplicates += 1;
            continue;
        }
        let timezone = tz_col
            .and_then(|i| fields.get(i))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        if let Some(tz) = &timezone {
            if tz.parse::<chrono_tz::Tz>().is_err() {
                out.rejected.push(Rejected {
                    line,
                    record: fields,
                    error: format!(
                        "timezone \"{tz}\" is not an IANA time zone such as Europe/Madrid"
                    ),
                });
                continue;
            }
        }
        let mut vars = BTreeMap::new();
        for (h, v) in headers.iter().zip(fields.iter()) {
            if !h.is_empty() {
                vars.insert(h.clone(), v.trim().to_string());
            }
        }
        let name = name_col
            .and_then(|i| fields.get(i))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        out.contacts.push(NewContact {
            phone,
            name,
            vars,
            timezone,
        });
    }
    Ok(out)
}

/// Writes the rejected rows to `<file>.rejected.csv` (same delimiter, an `error` column added),
/// or removes a stale one when nothing was rejected.
pub fn write_rejects(path: &Path, parsed: &ParsedFile) -> std::io::Result<Option<PathBuf>> {
    let mut target = path.as_os_str().to_owned();
    target.push(".rejected.csv");
    let target = PathBuf::from(target);
    if parsed.rejected.is_empty() {
        if target.exists() {
            std::fs::remove_file(&target)?;
        }
        return Ok(None);
    }
    let mut w = ::csv::WriterBuilder::new()
        .delimiter(parsed.delimiter)
        .from_path(&target)
        .map_err(std::io::Error::other)?;
    let mut header = parsed.headers.clone();
    header.push("error".into());
    w.write_record(&header).map_err(std::io::Error::other)?;
    for r in &parsed.rejected {
        let mut rec = r.record.clone();
        rec.resize(parsed.headers.len(), String::new());
        rec.push(format!("line {}: {}", r.line, r.error));
        w.write_record(&rec).map_err(std::io::Error::other)?;
    }
    w.flush()?;
    Ok(Some(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolon_windows_1252_with_spanish_headers() {
        // "Teléfono;Nombre" and "Muñoz" in Windows-1252.
        let bytes = b"Tel\xe9fono;Nombre;Notas\r\n600 12 34 56;Mu\xf1oz;x\r\n\r\n+34 600-123-456;Dup;y\r\nhola;Bad;z\r\n";
        let p = parse_bytes("a.csv", bytes, phone::region("ES")).unwrap();
        assert_eq!(p.delimiter, b';');
        assert_eq!(p.rows_read, 3);
        assert_eq!(p.contacts.len(), 1);
        assert_eq!(p.contacts[0].phone, "+34600123456");
        assert_eq!(p.contacts[0].name, "Muñoz");
        assert_eq!(
            p.contacts[0].vars.get("notas").map(String::as_str),
            Some("x")
        );
        assert_eq!(p.duplicates, 1);
        assert_eq!(p.rejected.len(), 1);
        assert_eq!(p.rejected[0].line, 5);
    }

    #[test]
    fn utf8_bom_and_commas() {
        let p = parse_bytes(
            "b.csv",
            "\u{feff}phone,name\n612345678,Ana\n".as_bytes(),
            phone::region("ES"),
        )
        .unwrap();
        assert_eq!(p.delimiter, b',');
        assert_eq!(p.contacts[0].phone, "+34612345678");
    }

    #[test]
    fn missing_phone_column_is_one_clear_sentence() {
        let e = parse_bytes("c.csv", b"nombre;email\nAna;a@b\n", phone::region("ES")).unwrap_err();
        assert!(e.contains("no phone column") && e.contains("email"), "{e}");
    }
}
