//! Contact lists as marketing staff export them from a Spanish Excel: `;`, `,` or tab, UTF-8
//! (with or without BOM), Windows-1252 or UTF-16, Spanish or English headers, dates day-first.
//!
//! Guarantees:
//! - every non-blank row after the header ends up exactly once as a contact, a rejected row
//!   (with its line and a reason: a stable identifier and one sentence from the catalogue) or a duplicate (with the line of the row it
//!   repeats: same E.164 number in any format, first row wins);
//! - rejected rows keep their original fields, and [`RejectWriter`] writes them to
//!   `<file>.rejected.csv` in a form Excel opens (same delimiter, UTF-8 with BOM);
//! - reading is streaming: [`ContactReader`] holds one row, one batch and a compact set of the
//!   numbers seen (15 bytes a number), never the file, so a million-row file fits in a few tens
//!   of megabytes. The file is read twice: once to hash it (a file is identified by its content)
//!   and to tell its encoding, once to decode and parse it.

mod decode;
mod dialect;
mod header;
mod reader;
mod reason;
mod rejects;
mod rows;

pub(crate) use dialect::sniff_delimiter;
pub use header::normalize_header;
pub use reader::ContactReader;
pub use reason::{reason_lines, RejectReason, RejectTally};
pub use rejects::{write_rejects, RejectWriter};

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

use super::{dates, phone};
use header::Roles;

/// A contact ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    /// E.164.
    pub phone: String,
    pub name: String,
    /// Every column of the row, by normalised header (template variables), as the JSON
    /// object the store keeps (written once here: this is per row of a million-row file).
    pub vars_json: String,
    /// IANA name: the row's time zone column, else the one the number implies (Canary Islands
    /// landlines), else `None` for the campaign's.
    pub timezone: Option<String>,
    /// Wall-clock time in the contact's time zone.
    pub appointment: Option<NaiveDateTime>,
}

impl NewContact {
    /// The template variables, by normalised header.
    pub fn vars(&self) -> BTreeMap<String, String> {
        serde_json::from_str(&self.vars_json).unwrap_or_default()
    }
}

/// Appends `value` as a JSON string (quoted, escaped).
fn push_json_str(out: &mut String, value: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in value.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&value[start..i]);
        if escape.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&value[start..]);
    out.push('"');
}

/// A row that was not imported, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// 1-based line where the row starts in the file (blank lines and lines inside quoted
    /// fields count, as in a text editor).
    pub line: u64,
    /// The fields as read, untrimmed, including any beyond the header.
    pub record: Vec<String>,
    pub reason: RejectReason,
    /// The number (E.164) whose row was rejected for lacking a valid consent basis: a contact
    /// of the campaign with that number, imported before, has its consent withdrawn.
    pub withdraws: Option<String>,
}

/// A row whose number an earlier imported row of the same file already has; it was not imported
/// (and its other columns were not checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duplicate {
    pub line: u64,
    /// The line of the row that was imported with that number.
    pub first_line: u64,
}

/// How a file is written, found from its first lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// `UTF-8`, `windows-1252`, `UTF-16LE` or `UTF-16BE`.
    pub encoding: &'static str,
    pub delimiter: u8,
    /// The line of the header row (lines above it, such as a title, are skipped).
    pub header_line: u64,
    /// The header cells as written, trailing empty ones dropped.
    pub headers: Vec<String>,
    /// The template variable of each column: normalised, unique, never empty.
    pub keys: Vec<String>,
    roles: Roles,
}

/// Contacts, rejected rows and duplicates of consecutive rows of a file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub contacts: Vec<NewContact>,
    pub rejected: Vec<Rejected>,
    pub duplicates: Vec<Duplicate>,
}

/// Counts of a whole file, once it has been read.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSummary {
    pub name: String,
    /// SHA-256 of the bytes, hex: a file is identified by its content.
    pub hash: String,
    pub layout: Layout,
    /// Non-blank rows after the header: `contacts + rejected + duplicates`.
    pub rows_read: u64,
    pub contacts: u64,
    pub rejected: u64,
    pub duplicates: u64,
}

/// The result of reading one small file into memory.
#[derive(Debug, Clone)]
pub struct ParsedFile {
    pub name: String,
    /// SHA-256 of the bytes, hex.
    pub hash: String,
    pub layout: Layout,
    pub rows_read: u64,
    pub contacts: Vec<NewContact>,
    pub rejected: Vec<Rejected>,
    pub duplicates: Vec<Duplicate>,
}

/// A file that cannot be read at all; the message names the file (and the line when there is
/// one).
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file as a whole breaks a rule (empty, no phone column, changed while read): the
    /// sentence from the catalogue (`Display` in English, for logs).
    #[error("{path}: {}", crate::i18n::Lang::En.render(.rule))]
    Invalid {
        path: PathBuf,
        rule: crate::i18n::Msg,
    },
}

impl CsvError {
    /// The sentence for people, in their language (`check`, `import`).
    pub fn msg(&self) -> crate::i18n::Msg {
        use crate::i18n::Msg;
        match self {
            CsvError::Read { path, source } => Msg::read_error(path, source),
            CsvError::Invalid { path, rule } => Msg::new("error.csv_invalid")
                .arg("file", path.display())
                .msg("error", rule.clone()),
        }
    }
}

impl From<CsvError> for crate::i18n::UserError {
    fn from(e: CsvError) -> Self {
        crate::i18n::UserError::new(e.msg())
    }
}

/// An error of [`stream_file`]: reading the file, or the caller's own.
#[derive(Debug, thiserror::Error)]
pub enum StreamError<E> {
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error("{0}")]
    Sink(E),
}

/// Bytes read or decoded at a time.
const CHUNK: usize = 64 * 1024;
/// Decoded bytes looked at to choose the delimiter.
const SAMPLE: usize = 64 * 1024;
/// Non-blank rows searched for the header (a title above it is common).
const HEADER_SEARCH: usize = 10;
/// A longer row is a quote that is never closed; reading stops rather than hold the file.
const MAX_ROW_BYTES: u64 = 1 << 20;

/// Reads a CSV file in one go; for files that fit in memory (`check`, small imports).
pub fn read_file(
    path: &Path,
    region: Option<phonenumber::country::Id>,
) -> Result<ParsedFile, CsvError> {
    collect(ContactReader::open(path, region)?)
}

/// Parses file content in one go; the error is about the file as a whole (empty, no header,
/// no phone column), in English.
pub fn parse_bytes(
    name: &str,
    bytes: &[u8],
    region: Option<phonenumber::country::Id>,
) -> Result<ParsedFile, String> {
    ContactReader::from_bytes(name, bytes, region)
        .and_then(collect)
        .map_err(|e| match e {
            CsvError::Invalid { rule, .. } => crate::i18n::Lang::En.render(&rule),
            other => other.to_string(),
        })
}

fn collect<R: Read>(mut reader: ContactReader<R>) -> Result<ParsedFile, CsvError> {
    let mut all = Batch::default();
    while let Some(b) = reader.next_batch(4096)? {
        all.contacts.extend(b.contacts);
        all.rejected.extend(b.rejected);
        all.duplicates.extend(b.duplicates);
    }
    let s = reader.summary();
    Ok(ParsedFile {
        name: s.name,
        hash: s.hash,
        layout: s.layout,
        rows_read: s.rows_read,
        contacts: all.contacts,
        rejected: all.rejected,
        duplicates: all.duplicates,
    })
}

/// Streams a file: `on_batch` gets the layout and every `batch_size` rows, in order. An error
/// of the file (unreadable, no phone column, a quote never closed) ends the stream: the
/// batches already handed out belong to a file that cannot be imported whole.
pub fn stream_file<E>(
    path: &Path,
    region: Option<phonenumber::country::Id>,
    batch_size: usize,
    on_batch: impl FnMut(&Layout, Batch) -> Result<(), E>,
) -> Result<StreamSummary, StreamError<E>> {
    stream_file_checking(path, region, None, batch_size, on_batch)
}

/// [`stream_file`] rejecting rows without a valid consent basis under `consent`.
pub fn stream_file_checking<E>(
    path: &Path,
    region: Option<phonenumber::country::Id>,
    consent: Option<crate::campaign::consent::ConsentPolicy>,
    batch_size: usize,
    mut on_batch: impl FnMut(&Layout, Batch) -> Result<(), E>,
) -> Result<StreamSummary, StreamError<E>> {
    let mut reader = ContactReader::open(path, region)?.with_consent(consent);
    while let Some(batch) = reader.next_batch(batch_size)? {
        on_batch(&reader.layout, batch).map_err(StreamError::Sink)?;
    }
    Ok(reader.summary())
}

#[cfg(test)]
mod tests;
