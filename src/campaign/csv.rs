//! Contact lists as marketing staff export them from a Spanish Excel: `;`, `,` or tab, UTF-8
//! (with or without BOM), Windows-1252 or UTF-16, Spanish or English headers, dates day-first.
//!
//! Guarantees:
//! - every non-blank row after the header ends up exactly once as a contact, a rejected row
//!   (with its line and a one-sentence reason) or a duplicate (with the line of the row it
//!   repeats: same E.164 number in any format, first row wins);
//! - rejected rows keep their original fields, and [`RejectWriter`] writes them to
//!   `<file>.rejected.csv` in a form Excel opens (same delimiter, UTF-8 with BOM);
//! - reading is streaming: [`ContactReader`] holds one row, one batch and a compact set of the
//!   numbers seen (15 bytes a number), never the file, so a million-row file fits in a few tens
//!   of megabytes. The file is read twice: once to hash it (a file is identified by its content)
//!   and to tell its encoding, once to decode and parse it.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use encoding_rs::{CoderResult, Decoder, Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};
use sha2::{Digest, Sha256};

use super::{dates, phone};

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
    pub error: String,
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

/// Which columns mean what.
#[derive(Debug, Clone, PartialEq)]
struct Roles {
    /// Phone columns in order of preference; a row uses the first that holds a valid number.
    phones: Vec<usize>,
    name: Option<usize>,
    timezone: Option<usize>,
    appointment: Appointment,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Appointment {
    None,
    /// Date and time in one column; a date alone there takes its time from the second column.
    One(usize, Option<usize>),
    /// A date column and a time column.
    Pair(usize, usize),
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
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
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
/// no phone column).
pub fn parse_bytes(
    name: &str,
    bytes: &[u8],
    region: Option<phonenumber::country::Id>,
) -> Result<ParsedFile, String> {
    ContactReader::from_bytes(name, bytes, region)
        .and_then(collect)
        .map_err(|e| match e {
            CsvError::Invalid { message, .. } => message,
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
    mut on_batch: impl FnMut(&Layout, Batch) -> Result<(), E>,
) -> Result<StreamSummary, StreamError<E>> {
    let mut reader = ContactReader::open(path, region)?;
    while let Some(batch) = reader.next_batch(batch_size)? {
        on_batch(&reader.layout, batch).map_err(StreamError::Sink)?;
    }
    Ok(reader.summary())
}

/// The decoded text: the part read to choose the delimiter, then the rest.
type Decoding<R> = io::Chain<io::Cursor<Vec<u8>>, Decoded<R>>;

/// A file being read row by row: `open` hashes it and reads up to its header, `next_batch`
/// hands out the rows.
pub struct ContactReader<R: Read> {
    name: String,
    path: PathBuf,
    hash: String,
    /// Bytes the first pass saw, to notice a file that changes between the two passes.
    len: u64,
    /// Line breaks the first pass counted: an upper bound of the rows.
    lines: u64,
    layout: Layout,
    csv: ::csv::Reader<Tracked<Decoding<R>>>,
    record: ::csv::ByteRecord,
    rows: RowReader,
    counts: (u64, u64, u64),
    finished: bool,
}

impl ContactReader<std::fs::File> {
    /// Hashes the file and reads it up to its header.
    pub fn open(path: &Path, region: Option<phonenumber::country::Id>) -> Result<Self, CsvError> {
        let read_err = |source| CsvError::Read {
            path: path.to_path_buf(),
            source,
        };
        let survey = survey(std::fs::File::open(path).map_err(read_err)?).map_err(read_err)?;
        let file = std::fs::File::open(path).map_err(read_err)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::start(name, path.to_path_buf(), survey, file, region)
    }
}

impl<'a> ContactReader<&'a [u8]> {
    /// Reads content already in memory; `name` stands for the file in messages.
    pub fn from_bytes(
        name: &str,
        bytes: &'a [u8],
        region: Option<phonenumber::country::Id>,
    ) -> Result<Self, CsvError> {
        let survey = survey(bytes).map_err(|source| CsvError::Read {
            path: name.into(),
            source,
        })?;
        Self::start(name.to_string(), name.into(), survey, bytes, region)
    }
}

impl<R: Read> ContactReader<R> {
    fn start(
        name: String,
        path: PathBuf,
        survey: Survey,
        input: R,
        region: Option<phonenumber::country::Id>,
    ) -> Result<Self, CsvError> {
        let invalid = |message: String| CsvError::Invalid {
            path: path.clone(),
            message,
        };
        let read_err = |source| CsvError::Read {
            path: path.clone(),
            source,
        };
        let mut decoded = Decoded::new(input, survey.encoding, survey.skip);
        let mut sample = Vec::with_capacity(SAMPLE);
        (&mut decoded)
            .take(SAMPLE as u64)
            .read_to_end(&mut sample)
            .map_err(read_err)?;
        let complete = sample.len() < SAMPLE;
        let delimiter = sniff_delimiter(&sample, complete);
        let mut csv = ::csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(false)
            .buffer_capacity(CHUNK)
            .from_reader(Tracked::new(io::Cursor::new(sample).chain(decoded)));

        // The header is the first of the first rows that names a phone column.
        let mut record = ::csv::ByteRecord::new();
        let mut first: Option<Vec<String>> = None;
        let mut searched = 0;
        let (header_line, headers, keys, roles) = loop {
            let more = csv.read_byte_record(&mut record).map_err(|e| {
                let line = csv.get_ref().pending_line();
                csv_error(e, line, &path)
            })?;
            if !more {
                return Err(invalid(match first {
                    None => {
                        "the file is empty: a header row with a phone column is required".into()
                    }
                    Some(cells) => no_phone_column(&cells, region),
                }));
            }
            let line = csv.get_mut().line_at(&record);
            if is_blank(&record) {
                continue;
            }
            let cells: Vec<String> = record.iter().map(|f| lossy(f).into_owned()).collect();
            let (headers, keys) = column_keys(&cells);
            let roles = roles(&keys);
            if !roles.phones.is_empty() {
                break (line, headers, keys, roles);
            }
            first.get_or_insert(cells);
            searched += 1;
            if searched == HEADER_SEARCH {
                return Err(invalid(no_phone_column(
                    first.as_deref().unwrap_or(&[]),
                    region,
                )));
            }
        };
        Ok(ContactReader {
            name,
            path,
            hash: survey.hash,
            len: survey.len,
            lines: survey.lines,
            layout: Layout {
                encoding: survey.encoding.name(),
                delimiter,
                header_line,
                headers,
                keys,
                roles,
            },
            csv,
            record,
            rows: RowReader {
                region,
                seen: SeenNumbers::with_capacity(survey.lines),
                zones: HashMap::new(),
            },
            counts: (0, 0, 0),
            finished: false,
        })
    }

    /// SHA-256 of the file's bytes, hex.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// An upper bound of the rows of the file (its line count), known before reading them.
    pub fn expected_rows(&self) -> u64 {
        self.lines
    }

    /// The next rows, up to `max_rows` of them (blank rows not counted); `None` once the file
    /// is done.
    pub fn next_batch(&mut self, max_rows: usize) -> Result<Option<Batch>, CsvError> {
        if self.finished {
            return Ok(None);
        }
        let mut batch = Batch::default();
        let mut rows = 0;
        while rows < max_rows.max(1) {
            let more = match self.csv.read_byte_record(&mut self.record) {
                Ok(more) => more,
                Err(e) => {
                    let line = self.csv.get_ref().pending_line();
                    return Err(csv_error(e, line, &self.path));
                }
            };
            if !more {
                self.finish()?;
                break;
            }
            let line = self.csv.get_mut().line_at(&self.record);
            if is_blank(&self.record) {
                continue;
            }
            rows += 1;
            match self.rows.read(&self.layout, &self.record, line) {
                Row::Contact(c) => batch.contacts.push(c),
                Row::Rejected(r) => batch.rejected.push(r),
                Row::Duplicate(d) => batch.duplicates.push(d),
            }
        }
        self.counts.0 += batch.contacts.len() as u64;
        self.counts.1 += batch.rejected.len() as u64;
        self.counts.2 += batch.duplicates.len() as u64;
        if rows == 0 {
            return Ok(None);
        }
        Ok(Some(batch))
    }

    fn finish(&mut self) -> Result<(), CsvError> {
        self.finished = true;
        let read = self.csv.get_ref().inner.get_ref().1.bytes_in;
        if read != self.len {
            return Err(CsvError::Invalid {
                path: self.path.clone(),
                message: "the file changed while it was being read (is it still being written?)"
                    .into(),
            });
        }
        Ok(())
    }

    /// The counts so far (of the whole file once `next_batch` has returned `None`).
    pub fn summary(&self) -> StreamSummary {
        let (contacts, rejected, duplicates) = self.counts;
        StreamSummary {
            name: self.name.clone(),
            hash: self.hash.clone(),
            layout: self.layout.clone(),
            rows_read: contacts + rejected + duplicates,
            contacts,
            rejected,
            duplicates,
        }
    }
}

fn csv_error(e: ::csv::Error, line: u64, path: &Path) -> CsvError {
    if let ::csv::ErrorKind::Io(io) = e.kind() {
        if io.get_ref().is_some_and(|inner| inner.is::<RowTooLong>()) {
            return CsvError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "line {line}: the row that starts here runs on for more than 1 MB, so a quote (\") in it is probably never closed; close or remove that quote"
                ),
            };
        }
    }
    match e.into_kind() {
        ::csv::ErrorKind::Io(source) => CsvError::Read {
            path: path.to_path_buf(),
            source,
        },
        other => CsvError::Invalid {
            path: path.to_path_buf(),
            message: format!("line {line}: {other:?}"),
        },
    }
}

fn no_phone_column(cells: &[String], region: Option<phonenumber::country::Id>) -> String {
    let (shown, _) = column_keys(cells);
    if shown.iter().any(|c| phone::normalize(c, region).is_ok()) {
        return format!(
            "the first row ({}) holds a phone number, not column names: add a header row such as telefono;nombre",
            shown.join(", ")
        );
    }
    format!(
        "no phone column in the header ({}); name it telefono, teléfono, movil, móvil, tel, numero, phone or mobile",
        shown.join(", ")
    )
}

/// The decoder only produces UTF-8, so the lossy branch is a safety net.
fn lossy(field: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(field) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(field),
    }
}

fn is_blank(record: &::csv::ByteRecord) -> bool {
    record.iter().all(|f| match f.first() {
        None => true,
        Some(b) if b.is_ascii_graphic() => false,
        Some(_) => lossy(f).trim().is_empty(),
    })
}

/// Lower-cases, strips accents and joins words with `_`, so `Teléfono` matches `telefono` and
/// `Nº de cliente` becomes `no_de_cliente`. Templates look their `{names}` up the same way.
pub fn normalize_header(h: &str) -> String {
    let mut out = String::with_capacity(h.len());
    let mut gap = false;
    for c in h.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'á' | 'à' | 'ä' | 'â' | 'ã' | 'ª' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' | 'õ' | 'º' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            c => c,
        };
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    out
}

/// The header cells kept (trailing empty ones dropped) and their unique template names.
fn column_keys(cells: &[String]) -> (Vec<String>, Vec<String>) {
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

fn roles(keys: &[String]) -> Roles {
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

/// Chooses among `;`, `,` and tab the delimiter that splits the first rows into the same
/// number of fields (more than one) most often; `;` on ties, as Excel writes in Spain. Rows are
/// parsed with quotes, so `"Apellidos, nombre";telefono` is two fields with `;`.
pub(crate) fn sniff_delimiter(sample: &[u8], complete: bool) -> u8 {
    let mut best = (b';', (0usize, 0usize));
    for d in [b';', b',', b'\t'] {
        let mut reader = ::csv::ReaderBuilder::new()
            .delimiter(d)
            .flexible(true)
            .has_headers(false)
            .from_reader(sample);
        let mut record = ::csv::ByteRecord::new();
        let mut counts = Vec::new();
        while counts.len() <= HEADER_SEARCH {
            match reader.read_byte_record(&mut record) {
                Ok(true) if is_blank(&record) => {}
                Ok(true) => counts.push(record.len()),
                _ => break,
            }
        }
        if !complete {
            // The sample may end in the middle of its last row.
            counts.pop();
        }
        counts.truncate(HEADER_SEARCH);
        let mut freq: HashMap<usize, usize> = HashMap::new();
        for &c in counts.iter().filter(|c| **c > 1) {
            *freq.entry(c).or_default() += 1;
        }
        let score = freq
            .into_iter()
            .map(|(count, n)| (n, count))
            .max()
            .unwrap_or((0, 0));
        if score > best.1 {
            best = (d, score);
        }
    }
    best.0
}

/// What one row became.
enum Row {
    Contact(NewContact),
    Rejected(Rejected),
    Duplicate(Duplicate),
}

/// The per-row work, apart from the CSV reader so that it can borrow the record.
struct RowReader {
    region: Option<phonenumber::country::Id>,
    seen: SeenNumbers,
    /// Time zone column values already looked up (few distinct ones in a file).
    zones: HashMap<String, Option<&'static str>>,
}

impl RowReader {
    fn read(&mut self, layout: &Layout, record: &::csv::ByteRecord, line: u64) -> Row {
        let fields: Vec<Cow<'_, str>> = record.iter().map(lossy).collect();
        let field = |i: usize| fields.get(i).map_or("", |f| f.as_ref());
        let reject = |error: String| {
            Row::Rejected(Rejected {
                line,
                record: fields.iter().map(|f| f.to_string()).collect(),
                error,
            })
        };
        let roles = &layout.roles;

        if let Some(last) = self.swallowed_lines(layout, &fields, line) {
            return reject(format!(
                "a quote (\") in this row is never closed, so lines {} to {last} were read as part of it; close or remove that quote",
                line + 1
            ));
        }

        // The first phone column with a valid number; else the first column's reason that is
        // more than "empty".
        let mut number = Err(phone::PhoneError::Empty);
        for &col in &roles.phones {
            match phone::normalize(field(col), self.region) {
                Ok(p) => {
                    number = Ok(p);
                    break;
                }
                Err(e) => {
                    if number == Err(phone::PhoneError::Empty) {
                        number = Err(e);
                    }
                }
            }
        }
        let phone = match number {
            Ok(p) => p,
            Err(_) if self.repeats_header(layout, &fields) => {
                return reject(
                    "this row repeats the header row (were two lists pasted together?)".into(),
                );
            }
            Err(e) => return reject(e.to_string()),
        };
        let slot = match phone::key(&phone).map(|k| self.seen.find(k)) {
            Some(Err(first_line)) => return Row::Duplicate(Duplicate { line, first_line }),
            Some(Ok(slot)) => Some(slot),
            None => None,
        };

        let timezone = match roles.timezone.map(|i| field(i).trim()).filter(|v| !v.is_empty()) {
            Some(v) => match self.zone(v) {
                Some(tz) => Some(tz.to_string()),
                None => {
                    return reject(format!(
                        "{}: \"{v}\" is not a time zone; write an IANA name such as Europe/Madrid or Atlantic/Canary",
                        header(layout, roles.timezone)
                    ))
                }
            },
            None => phone::implied_timezone(&phone).map(str::to_string),
        };

        let appointment = match appointment(layout, &field) {
            Ok(a) => a,
            Err(e) => return reject(e),
        };

        if let Some(slot) = slot {
            self.seen.fill(slot, line);
        }
        let mut vars_json = String::with_capacity(16 * layout.keys.len() + 64);
        vars_json.push('{');
        for (i, k) in layout.keys.iter().enumerate() {
            if i > 0 {
                vars_json.push(',');
            }
            push_json_str(&mut vars_json, k);
            vars_json.push(':');
            push_json_str(&mut vars_json, field(i).trim());
        }
        vars_json.push('}');
        Row::Contact(NewContact {
            phone,
            name: roles.name.map_or("", field).trim().to_string(),
            vars_json,
            timezone,
            appointment,
        })
    }

    /// A quote that is never closed swallows the rows below it into one field. Notes may hold
    /// line breaks, so this only fires when a line inside a field is itself a whole row with a
    /// valid phone number; it returns the row's last line.
    fn swallowed_lines(&self, layout: &Layout, fields: &[Cow<'_, str>], line: u64) -> Option<u64> {
        let delimiter = char::from(layout.delimiter);
        let multiline = |f: &&Cow<'_, str>| f.contains('\n');
        let suspicious = fields.iter().filter(multiline).any(|f| {
            f.lines().skip(1).any(|l| {
                let cells: Vec<&str> = l.split(delimiter).collect();
                cells.len() >= layout.headers.len().max(2)
                    && layout.roles.phones.iter().any(|&c| {
                        cells
                            .get(c)
                            .is_some_and(|v| phone::normalize(v, self.region).is_ok())
                    })
            })
        });
        if !suspicious {
            return None;
        }
        let breaks: usize = fields
            .iter()
            .map(|f| f.trim_end_matches(['\r', '\n']).matches('\n').count())
            .sum();
        Some(line + breaks as u64)
    }

    fn repeats_header(&self, layout: &Layout, fields: &[Cow<'_, str>]) -> bool {
        let n = layout.headers.len();
        fields.len() >= n
            && fields[..n]
                .iter()
                .zip(&layout.headers)
                .all(|(f, h)| f.trim() == h)
    }

    /// An IANA name (any case), or a Spanish way of naming the two zones of Spain.
    fn zone(&mut self, value: &str) -> Option<&'static str> {
        if let Ok(tz) = value.parse::<chrono_tz::Tz>() {
            return Some(tz.name());
        }
        if let Some(found) = self.zones.get(value) {
            return *found;
        }
        let found = match normalize_header(value).as_str() {
            "canarias" | "islas_canarias" | "canary_islands" => Some("Atlantic/Canary"),
            "peninsula" | "madrid" | "espana" | "spain" => Some("Europe/Madrid"),
            _ => chrono_tz::TZ_VARIANTS
                .iter()
                .find(|tz| tz.name().eq_ignore_ascii_case(value))
                .map(|tz| tz.name()),
        };
        if self.zones.len() < 1000 {
            self.zones.insert(value.to_string(), found);
        }
        found
    }
}

fn header(layout: &Layout, col: Option<usize>) -> &str {
    col.and_then(|c| layout.headers.get(c))
        .map_or("", String::as_str)
}

/// The row's appointment, or the reason it cannot be read (naming the column).
fn appointment<'f>(
    layout: &Layout,
    field: &impl Fn(usize) -> &'f str,
) -> Result<Option<NaiveDateTime>, String> {
    let name = |c: usize| header(layout, Some(c));
    let date_err = |c: usize, e: dates::DateError, accepted: &str| match e {
        dates::DateError::Empty => format!("{} is empty; accepted formats: {accepted}", name(c)),
        e => format!(
            "{}: \"{}\" {e}; accepted formats: {accepted}",
            name(c),
            field(c).trim()
        ),
    };
    match layout.roles.appointment {
        Appointment::None => Ok(None),
        Appointment::One(c, time) => {
            let value = field(c);
            let time_value = time.map(field).filter(|t| !t.trim().is_empty());
            if value.trim().is_empty() {
                return match (time, time_value) {
                    (Some(t), Some(_)) => Err(format!(
                        "{} is empty but {} is not; accepted formats: {}",
                        name(c),
                        name(t),
                        dates::ACCEPTED
                    )),
                    _ => Ok(None),
                };
            }
            if let (Some(t), Some(tv)) = (time, time_value) {
                if let Ok(d) = dates::parse_date(value) {
                    return dates::parse_time(tv)
                        .map(|tm| Some(d.and_time(tm)))
                        .map_err(|e| date_err(t, e, dates::ACCEPTED_TIME));
                }
            }
            dates::parse_datetime(value)
                .map(Some)
                .map_err(|e| date_err(c, e, dates::ACCEPTED))
        }
        Appointment::Pair(d, t) => dates::parse_pair(field(d), field(t)).map_err(|e| match e {
            dates::PairError::Date(dates::DateError::Empty) => format!(
                "{} is empty but {} is not; accepted formats: {}",
                name(d),
                name(t),
                dates::ACCEPTED_DATE
            ),
            dates::PairError::Time(dates::DateError::Empty) => format!(
                "{} is empty but {} is not; accepted formats: {}",
                name(t),
                name(d),
                dates::ACCEPTED_TIME
            ),
            dates::PairError::Date(e) => date_err(d, e, dates::ACCEPTED_DATE),
            dates::PairError::Time(e) => date_err(t, e, dates::ACCEPTED_TIME),
        }),
    }
}

/// Numbers already imported from this file and the line of each: an open-addressing table of
/// slots `[key high, key low, line]` (`u32`s; a key is the E.164 digits, 0 = free), so a lookup
/// touches one place in memory. 12 bytes a slot, 1.25 slots a line of the file as the first
/// pass counted them, so it only grows when that count was wrong.
struct SeenNumbers {
    slots: Vec<[u32; 3]>,
    len: usize,
}

/// Where a number not yet seen goes: valid until the next `fill`.
#[derive(Debug, Clone, Copy)]
struct Vacant {
    slot: usize,
    key: u64,
}

impl SeenNumbers {
    fn with_capacity(rows: u64) -> Self {
        let slots = (rows as usize).saturating_mul(5) / 4 + 16;
        SeenNumbers {
            slots: vec![[0; 3]; slots],
            len: 0,
        }
    }

    fn key_at(&self, i: usize) -> u64 {
        let [hi, lo, _] = self.slots[i];
        (u64::from(hi) << 32) | u64::from(lo)
    }

    /// The line of `key` (`Err`), or where to put it (`Ok`).
    fn find(&mut self, key: u64) -> Result<Vacant, u64> {
        // Grow first, so that the vacant slot is still right when it is filled.
        if (self.len + 1) * 5 > self.slots.len() * 4 {
            self.grow();
        }
        // Fibonacci hashing, then the high half of a 128-bit product maps onto any table size.
        let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut i = ((u128::from(h) * self.slots.len() as u128) >> 64) as usize;
        loop {
            match self.key_at(i) {
                0 => return Ok(Vacant { slot: i, key }),
                k if k == key => return Err(u64::from(self.slots[i][2])),
                _ => i = if i + 1 == self.slots.len() { 0 } else { i + 1 },
            }
        }
    }

    fn fill(&mut self, at: Vacant, line: u64) {
        let line = u32::try_from(line).unwrap_or(u32::MAX);
        self.slots[at.slot] = [(at.key >> 32) as u32, at.key as u32, line];
        self.len += 1;
    }

    fn grow(&mut self) {
        let bigger = SeenNumbers::with_capacity(self.slots.len() as u64 * 2);
        let old = std::mem::replace(self, bigger);
        for i in 0..old.slots.len() {
            let key = old.key_at(i);
            if key != 0 {
                if let Ok(at) = self.find(key) {
                    self.fill(at, u64::from(old.slots[i][2]));
                }
            }
        }
    }
}

/// What the first pass learns.
struct Survey {
    hash: String,
    encoding: &'static Encoding,
    /// Bytes to drop before decoding (a UTF-8 BOM on a file that is not UTF-8).
    skip: usize,
    len: u64,
    /// Line breaks, an upper bound of the rows.
    lines: u64,
}

/// The first pass: hash, length, line count, and whether the bytes are valid UTF-8.
fn survey(mut input: impl Read) -> io::Result<Survey> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK + 4];
    let mut head = Vec::with_capacity(3);
    // An incomplete UTF-8 sequence at the end of the previous chunk, moved to the front.
    let mut carry = 0;
    let mut utf8 = true;
    let mut len = 0u64;
    let mut breaks = LineBreaks::default();
    loop {
        let n = match input.read(&mut buf[carry..carry + CHUNK]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let fresh = &buf[carry..carry + n];
        hasher.update(fresh);
        let want = 3 - head.len();
        head.extend_from_slice(&fresh[..want.min(n)]);
        len += n as u64;
        breaks.count(fresh);
        let data_len = carry + n;
        carry = 0;
        if utf8 {
            if let Err(e) = std::str::from_utf8(&buf[..data_len]) {
                if e.error_len().is_some() {
                    utf8 = false;
                } else {
                    let tail = e.valid_up_to();
                    buf.copy_within(tail..data_len, 0);
                    carry = data_len - tail;
                }
            }
        }
    }
    let utf8 = utf8 && carry == 0;
    let (encoding, skip) = match head.as_slice() {
        [0xFF, 0xFE, ..] => (UTF_16LE, 0),
        [0xFE, 0xFF, ..] => (UTF_16BE, 0),
        _ if utf8 => (UTF_8, 0),
        [0xEF, 0xBB, 0xBF] => (WINDOWS_1252, 3),
        _ => (WINDOWS_1252, 0),
    };
    Ok(Survey {
        hash: format!("{:x}", hasher.finalize()),
        encoding,
        skip,
        len,
        lines: breaks.lines(encoding),
    })
}

/// Line breaks as the reader sees them: `\n`, `\r\n` and a lone `\r` (old Mac Excel) are one
/// each, so a `\r` file with `\n` inside quoted cells counts both. Counted on the raw bytes
/// of every encoding, which can only overcount (a UTF-16 unit holding a `\n` byte), never under.
#[derive(Debug, Default)]
struct LineBreaks {
    lf: u64,
    cr: u64,
    /// `\r\n` (UTF-8, Windows-1252).
    crlf: u64,
    /// `\r\0\n`: `\r\n` in UTF-16LE (`0D 00 0A 00`) and UTF-16BE (`00 0D 00 0A`).
    crlf16: u64,
    /// The last two bytes counted, for pairs split between two chunks.
    tail: [u8; 2],
}

impl LineBreaks {
    fn count(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\n' => {
                    self.lf += 1;
                    self.crlf += u64::from(self.tail[1] == b'\r');
                    self.crlf16 += u64::from(self.tail == [b'\r', 0]);
                }
                b'\r' => self.cr += 1,
                _ => {}
            }
            self.tail = [self.tail[1], b];
        }
    }

    /// Lines of the file: an upper bound of its rows.
    fn lines(&self, encoding: &'static Encoding) -> u64 {
        let pairs = if encoding == UTF_16LE || encoding == UTF_16BE {
            self.crlf16
        } else {
            self.crlf
        };
        self.lf + self.cr - pairs + 1
    }
}

/// The second pass: the file decoded to UTF-8 as it is read, its BOM removed.
struct Decoded<R> {
    inner: R,
    decoder: Decoder,
    skip: usize,
    input: Vec<u8>,
    in_pos: usize,
    in_len: usize,
    out: Vec<u8>,
    out_pos: usize,
    out_len: usize,
    eof: bool,
    done: bool,
    bytes_in: u64,
}

impl<R: Read> Decoded<R> {
    fn new(inner: R, encoding: &'static Encoding, skip: usize) -> Self {
        let decoder = encoding.new_decoder_with_bom_removal();
        let out_size = decoder
            .max_utf8_buffer_length(CHUNK + 16)
            .unwrap_or(4 * CHUNK);
        Decoded {
            inner,
            decoder,
            skip,
            input: vec![0; CHUNK],
            in_pos: 0,
            in_len: 0,
            out: vec![0; out_size],
            out_pos: 0,
            out_len: 0,
            eof: false,
            done: false,
            bytes_in: 0,
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.in_pos == self.in_len && !self.eof {
            let n = loop {
                match self.inner.read(&mut self.input) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
            self.bytes_in += n as u64;
            self.eof = n == 0;
            let skip = self.skip.min(n);
            self.skip -= skip;
            self.in_pos = skip;
            self.in_len = n;
        }
        let (result, read, written, _) = self.decoder.decode_to_utf8(
            &self.input[self.in_pos..self.in_len],
            &mut self.out,
            self.eof,
        );
        self.in_pos += read;
        self.out_pos = 0;
        self.out_len = written;
        self.done = self.eof && result == CoderResult::InputEmpty;
        Ok(())
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_pos == self.out_len {
            if self.done {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = buf.len().min(self.out_len - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// Line numbers for the CSV reader, which does not count blank lines. Records the offset and
/// line of every place where a line starts with something other than a line break; a record
/// starts at the first such place at or after the offset the CSV reader gives it. A lone `\r`
/// (old Mac Excel) is a line break too.
struct Tracked<R> {
    inner: R,
    offset: u64,
    breaks: u64,
    prev: u8,
    starts: VecDeque<(u64, u64)>,
    /// The CSV reader's offset of the last record handed out, for the row-length guard.
    last_record: u64,
    /// Where that record's text starts.
    last_start: Option<u64>,
}

/// The I/O error that stops a row running on for ever.
#[derive(Debug, thiserror::Error)]
#[error("a row longer than 1 MB")]
struct RowTooLong;

impl<R> Tracked<R> {
    fn new(inner: R) -> Self {
        Tracked {
            inner,
            offset: 0,
            breaks: 0,
            prev: b'\n',
            starts: VecDeque::new(),
            last_record: 0,
            last_start: None,
        }
    }

    /// The line where `record` starts; call it for every record, in order.
    fn line_at(&mut self, record: &::csv::ByteRecord) -> u64 {
        let at = record.position().map_or(self.last_record, |p| p.byte());
        self.last_record = at;
        while self.starts.front().is_some_and(|(o, _)| *o < at) {
            self.starts.pop_front();
        }
        match self.starts.front() {
            Some(&(start, line)) => {
                self.last_start = Some(start);
                line
            }
            None => self.breaks + 1,
        }
    }

    /// The line of the record after the last one handed out (the one being read).
    fn pending_line(&self) -> u64 {
        self.starts
            .iter()
            .find(|(o, _)| self.last_start.is_none_or(|last| *o > last))
            .map_or(self.breaks + 1, |(_, l)| *l)
    }
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.offset - self.last_record > MAX_ROW_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, RowTooLong));
        }
        let n = self.inner.read(buf)?;
        let data = &buf[..n];
        let mut i = 0;
        while i < n {
            if self.prev != b'\n' && self.prev != b'\r' {
                // Inside a line nothing happens until the next line break.
                match find_break(&data[i..]) {
                    Some(0) => {}
                    Some(k) => {
                        i += k;
                        self.prev = 0;
                    }
                    None => {
                        self.prev = 0;
                        break;
                    }
                }
            }
            let b = data[i];
            let prev_break = self.prev == b'\n' || self.prev == b'\r';
            if self.prev == b'\r' && b != b'\n' {
                self.breaks += 1;
            }
            match b {
                b'\n' => self.breaks += 1,
                b'\r' => {}
                _ if prev_break => self
                    .starts
                    .push_back((self.offset + i as u64, self.breaks + 1)),
                _ => {}
            }
            self.prev = b;
            i += 1;
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// The index of the first `\n` or `\r`, eight bytes at a time.
fn find_break(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        // The lowest flagged byte is exact (only bytes above a match can be false positives).
        let found =
            has_zero(w ^ (ONES * u64::from(b'\n'))) | has_zero(w ^ (ONES * u64::from(b'\r')));
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|p| at + p)
}

/// Writes rejected rows, as they come, to `<file>.rejected.csv`: UTF-8 with BOM (so a Spanish
/// Excel opens it right), the file's delimiter, an `error` column first (`line N: reason`),
/// then the original header and fields. The file appears whole when [`finish`] is called; a
/// file with no rejects removes a stale one.
///
/// [`finish`]: RejectWriter::finish
pub struct RejectWriter {
    target: PathBuf,
    partial: PathBuf,
    delimiter: u8,
    headers: Vec<String>,
    writer: Option<::csv::Writer<io::BufWriter<std::fs::File>>>,
}

impl RejectWriter {
    /// For the rows of `source`; nothing is written until the first row.
    pub fn new(source: &Path, layout: &Layout) -> Self {
        let with = |suffix: &str| {
            let mut p = source.as_os_str().to_owned();
            p.push(suffix);
            PathBuf::from(p)
        };
        RejectWriter {
            target: with(".rejected.csv"),
            partial: with(".rejected.csv.partial"),
            delimiter: layout.delimiter,
            headers: layout.headers.clone(),
            writer: None,
        }
    }

    pub fn write(&mut self, row: &Rejected) -> io::Result<()> {
        let writer = match &mut self.writer {
            Some(w) => w,
            None => {
                let mut file = io::BufWriter::new(std::fs::File::create(&self.partial)?);
                io::Write::write_all(&mut file, "\u{feff}".as_bytes())?;
                let mut w = ::csv::WriterBuilder::new()
                    .delimiter(self.delimiter)
                    .flexible(true)
                    .from_writer(file);
                w.write_record(
                    std::iter::once("error").chain(self.headers.iter().map(String::as_str)),
                )?;
                self.writer.insert(w)
            }
        };
        let error = format!("line {}: {}", row.line, row.error);
        writer.write_record(
            std::iter::once(error.as_str()).chain(row.record.iter().map(String::as_str)),
        )?;
        Ok(())
    }

    /// Puts the file in place, or removes a stale one when no row was written; returns the
    /// path written.
    pub fn finish(mut self) -> io::Result<Option<PathBuf>> {
        match self.writer.take() {
            Some(w) => {
                let file = w.into_inner().map_err(|e| e.into_error())?;
                file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                std::fs::rename(&self.partial, &self.target)?;
                Ok(Some(self.target.clone()))
            }
            None => {
                if self.target.exists() {
                    std::fs::remove_file(&self.target)?;
                }
                Ok(None)
            }
        }
    }
}

impl Drop for RejectWriter {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// Writes the rejected rows of a file read in one go to `<file>.rejected.csv`, or removes a
/// stale one when nothing was rejected.
pub fn write_rejects(path: &Path, parsed: &ParsedFile) -> std::io::Result<Option<PathBuf>> {
    let mut w = RejectWriter::new(path, &parsed.layout);
    for r in &parsed.rejected {
        w.write(r)?;
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use phonenumber::country::Id;
    use proptest::prelude::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/csv")
            .join(name)
    }

    fn es() -> Option<Id> {
        phone::region("ES")
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Option<NaiveDateTime> {
        NaiveDate::from_ymd_opt(y, mo, d).and_then(|d| d.and_hms_opt(h, mi, 0))
    }

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Phone, name, time zone and appointment of each contact.
    type Brief = (String, String, Option<String>, Option<NaiveDateTime>);

    fn briefs(contacts: &[NewContact]) -> Vec<Brief> {
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

    fn brief(
        phone: &str,
        name: &str,
        tz: Option<&str>,
        appointment: Option<NaiveDateTime>,
    ) -> Brief {
        (phone.into(), name.into(), tz.map(String::from), appointment)
    }

    fn reasons(p: &ParsedFile) -> Vec<(u64, String)> {
        p.rejected
            .iter()
            .map(|r| (r.line, r.error.clone()))
            .collect()
    }

    fn dup(line: u64, first_line: u64) -> Duplicate {
        Duplicate { line, first_line }
    }

    const FORMATS: &str =
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
    fn title_line_above_a_tab_separated_header() {
        let p = read_file(&fixture("tabs_title_line.csv"), es()).unwrap();
        assert_eq!(p.layout.delimiter, b'\t');
        assert_eq!(p.layout.header_line, 3);
        assert_eq!(p.rows_read, 2);
        assert_eq!(
            briefs(&p.contacts),
            [
                brief("+34600111222", "Socio Uno", None, None),
                brief("+34600111223", "Socio Dos", None, None),
            ]
        );
        assert_eq!(p.contacts[0].vars()["notas"], "comas, y ; punto y coma");
    }

    #[test]
    fn excel_unicode_text_is_utf16() {
        let p = read_file(&fixture("unicode_text_utf16.csv"), es()).unwrap();
        assert_eq!(p.layout.encoding, "UTF-16LE");
        assert_eq!(p.layout.delimiter, b'\t');
        assert_eq!(
            briefs(&p.contacts),
            [
                brief("+34600222333", "Ñoño Güell", None, None),
                brief("+34600222334", "Zoë", None, None),
            ]
        );
    }

    #[test]
    fn a_quote_never_closed_is_explained_not_swallowed() {
        let p = read_file(&fixture("unclosed_quote.csv"), es()).unwrap();
        assert!(p.contacts.is_empty());
        assert_eq!(
            reasons(&p),
            [(2, "a quote (\") in this row is never closed, so lines 3 to 4 were read as part of it; close or remove that quote".to_string())]
        );
        // A note with line breaks and the delimiter, but no row inside, is fine.
        let p = parse_bytes(
            "n.csv",
            b"telefono;notas\n600000001;\"uno; dos\ntres; cuatro\"\n",
            es(),
        )
        .unwrap();
        assert_eq!(p.contacts.len(), 1);
    }

    #[test]
    fn a_quote_that_runs_to_the_end_of_a_big_file_stops_with_its_line() {
        let mut bytes = b"telefono;nombre\n600000001;Ana\n600000002;\"Bea\n".to_vec();
        for _ in 0..300_000 {
            bytes.extend_from_slice(b"x;y\n");
        }
        let e = parse_bytes("big.csv", &bytes, es()).unwrap_err();
        assert!(
            e.starts_with("line 3: ") && e.contains("never closed"),
            "{e}"
        );
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
        // A header alone is a file with no rows, not an error.
        assert_eq!(
            parse_bytes("e.csv", b"telefono\n", es()).unwrap().rows_read,
            0
        );
    }

    #[test]
    fn delimiter_is_the_one_that_splits_rows_evenly() {
        for (text, want) in [
            (
                &b"\"Nombre, apellidos\";telefono\n\"Ruiz, Ana\";600000001\n"[..],
                b';',
            ),
            (
                b"telefono;nombre;importe\n600000001;Ana;12,50\n600000002;Bea;7,25\n",
                b';',
            ),
            (b"telefono,nombre\n600000001,\"Ruiz; Ana\"\n", b','),
            (b"telefono\tnombre\n600000001\tAna, la de Bea\n", b'\t'),
            (b"telefono\n600000001\n", b';'),
        ] {
            let p = parse_bytes("x.csv", text, es()).unwrap();
            assert_eq!(
                p.layout.delimiter,
                want,
                "{}",
                String::from_utf8_lossy(text)
            );
            assert_eq!(p.contacts[0].phone, "+34600000001");
        }
    }

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

    #[test]
    fn an_appointment_column_may_take_its_time_from_a_hora_column() {
        let p = parse_bytes(
            "c.csv",
            b"telefono;cita;hora\n600000001;15/03/2026;10:30\n600000002;15/03/2026 0:00;11:00\n600000003;15/03/2026 09:00;\n600000004;;10:00\n600000005;;\n600000006;15/03/2026;10h\n",
            es(),
        )
        .unwrap();
        assert_eq!(
            p.contacts.iter().map(|c| c.appointment).collect::<Vec<_>>(),
            [
                at(2026, 3, 15, 10, 30),
                at(2026, 3, 15, 11, 0),
                at(2026, 3, 15, 9, 0),
                None
            ]
        );
        assert_eq!(
            reasons(&p),
            [
                (5, format!("cita is empty but hora is not; {FORMATS}")),
                (7, "hora: \"10h\" is not a time of day such as 09:30; accepted formats: HH:MM (09:30) or HH:MM:SS (09:30:00)".to_string()),
            ]
        );
    }

    #[test]
    fn time_zones_by_column_alias_or_number() {
        let p = parse_bytes(
            "z.csv",
            b"telefono;zona\n600000001;europe/madrid\n928000001;\n928000002;Europe/Madrid\n600000003;Islas Canarias\n",
            es(),
        )
        .unwrap();
        assert_eq!(
            p.contacts
                .iter()
                .map(|c| c.timezone.as_deref())
                .collect::<Vec<_>>(),
            [
                Some("Europe/Madrid"),
                Some("Atlantic/Canary"),
                Some("Europe/Madrid"),
                Some("Atlantic/Canary")
            ]
        );
    }

    #[test]
    fn a_repeated_header_row_is_named_as_such() {
        let p = parse_bytes(
            "r.csv",
            b"telefono;nombre\n600000001;A\ntelefono;nombre\n600000002;B\n",
            es(),
        )
        .unwrap();
        assert_eq!(p.contacts.len(), 2);
        assert_eq!(
            reasons(&p),
            [(
                3,
                "this row repeats the header row (were two lists pasted together?)".to_string()
            )]
        );
    }

    #[test]
    fn lines_count_blank_lines_quoted_breaks_and_lone_cr() {
        let p = parse_bytes(
            "l.csv",
            b"\r\rtelefono;nota\r600000001;\"a\rb\"\rx;1\r\r\ry;2",
            es(),
        )
        .unwrap();
        assert_eq!(p.layout.header_line, 3);
        assert_eq!(
            p.rejected.iter().map(|r| r.line).collect::<Vec<_>>(),
            [6, 9]
        );
    }

    /// Found by fuzzing (docs/fuzzing.md): the first pass counted `max(\n, \r)`, so a file
    /// from an old Mac Excel (`\r` rows) with `\n` inside quoted cells, or with mixed endings,
    /// had fewer "lines" than rows and line numbers.
    #[test]
    fn expected_rows_bounds_the_rows_of_files_with_mixed_line_breaks() {
        let utf16: Vec<u8> = "\u{feff}telefono\r\n600000001\r\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let cases: [(&[u8], u64); 5] = [
            (b"telefono\r600000001\n600000002", 3),
            (b"telefono;nota\r600000001;\"a\nb\"\r600000002;x\r", 5),
            (b"telefono\r\n600000001\r\n600000002\r\n", 4),
            (b"telefono\r\r\n\n600000001", 4),
            (&utf16, 3),
        ];
        for (bytes, lines) in cases {
            let reader = ContactReader::from_bytes("m.csv", bytes, es()).unwrap();
            assert_eq!(reader.expected_rows(), lines, "{bytes:?}");
            let p = parse_bytes("m.csv", bytes, es()).unwrap();
            assert!(p.rows_read < lines, "{bytes:?}");
            assert!(p.rejected.iter().all(|r| r.line <= lines), "{bytes:?}");
        }
        // A pair split between two chunks of the first pass is still one break.
        let mut big = b"telefono\n".to_vec();
        big.resize(CHUNK - 1, b' ');
        big.extend_from_slice(b"\r\n600000001");
        let reader = ContactReader::from_bytes("s.csv", &big, es()).unwrap();
        assert_eq!(reader.expected_rows(), 3);
    }

    #[test]
    fn rejected_rows_file_opens_in_a_spanish_excel() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lista.csv");
        std::fs::copy(fixture("excel_es_1252.csv"), &path).unwrap();
        let p = read_file(&path, es()).unwrap();
        let written = write_rejects(&path, &p).unwrap();
        let target = dir.path().join("lista.csv.rejected.csv");
        assert_eq!(written.as_deref(), Some(target.as_path()));
        assert!(!dir.path().join("lista.csv.rejected.csv.partial").exists());
        let bytes = std::fs::read(&target).unwrap();
        assert!(bytes.starts_with("\u{feff}".as_bytes()));
        let mut r = ::csv::ReaderBuilder::new()
            .delimiter(b';')
            .has_headers(false)
            .flexible(true)
            .from_reader(&bytes[3..]);
        let rows: Vec<Vec<String>> = r
            .records()
            .map(|rec| rec.unwrap().iter().map(String::from).collect())
            .collect();
        assert_eq!(rows[0], ["error", "Teléfono", "Nombre", "Cita", "Notas"]);
        assert_eq!(rows.len(), 1 + p.rejected.len());
        for (row, rejected) in rows[1..].iter().zip(&p.rejected) {
            assert_eq!(
                row[0],
                format!("line {}: {}", rejected.line, rejected.error)
            );
            assert_eq!(row[1..], rejected.record[..]);
        }
        // Reading the file again with nothing rejected removes the stale one.
        RejectWriter::new(&path, &p.layout).finish().unwrap();
        assert!(!target.exists());
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

    #[test]
    fn a_file_that_grows_while_it_is_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.csv");
        // Longer than the part read when the file is opened.
        std::fs::write(
            &path,
            "telefono\n".to_string() + &"600000001\n".repeat(10_000),
        )
        .unwrap();
        let mut reader = ContactReader::open(&path, es()).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        io::Write::write_all(&mut f, b"600000002\n").unwrap();
        let mut result = Ok(None);
        for _ in 0..100 {
            result = reader.next_batch(1000);
            if !matches!(result, Ok(Some(_))) {
                break;
            }
        }
        let e = result.unwrap_err().to_string();
        assert!(e.contains("changed while it was being read"), "{e}");
    }

    #[test]
    fn line_breaks_are_found_anywhere_in_a_word() {
        for len in 0..20 {
            for at in 0..=len {
                for b in [b'\n', b'\r'] {
                    let mut s = vec![b'a'; len];
                    if at < len {
                        s[at] = b;
                    }
                    let want = (at < len).then_some(at);
                    assert_eq!(find_break(&s), want, "{len} {at}");
                }
            }
        }
        // Bytes 0x0B/0x0C next to a match must not be mistaken for one.
        assert_eq!(find_break(b"\x0b\x0c\x0e\x8a\x8d\x0a"), Some(5));
    }

    #[test]
    fn seen_numbers_grow_past_their_estimate() {
        let mut seen = SeenNumbers::with_capacity(0);
        for i in 1..=10_000u64 {
            let at = seen.find(34_600_000_000 + i).unwrap();
            seen.fill(at, i);
        }
        assert_eq!(seen.find(34_600_000_777).unwrap_err(), 777);
        assert!(seen.find(34_600_010_001).is_ok());
        assert!(seen.find(999_999_999_999_999).is_ok());
    }

    /// Builds a file of rows whose phone has letters (so every row is rejected with its line),
    /// with blank lines and quoted line breaks, and the lines a text editor shows for each row.
    fn file_with_known_lines(rows: &[(usize, bool)], newline: &str) -> (Vec<u8>, Vec<u64>) {
        let mut text = format!("telefono;nota{newline}");
        let mut line = 2;
        let mut want = Vec::new();
        for (i, (blank_before, quoted_break)) in rows.iter().enumerate() {
            for _ in 0..*blank_before {
                text.push_str(newline);
                line += 1;
            }
            want.push(line);
            if *quoted_break {
                text.push_str(&format!("x{i};\"a{newline}b\"{newline}"));
                line += 2;
            } else {
                text.push_str(&format!("x{i};a{newline}"));
                line += 1;
            }
        }
        (text.into_bytes(), want)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn reported_lines_are_the_lines_of_the_file(
            rows in prop::collection::vec((0..3usize, any::<bool>()), 1..40),
            newline in prop::sample::select(vec!["\n", "\r\n", "\r"]),
        ) {
            let (bytes, want) = file_with_known_lines(&rows, newline);
            let p = parse_bytes("p.csv", &bytes, es()).map_err(TestCaseError::fail)?;
            let got: Vec<u64> = p.rejected.iter().map(|r| r.line).collect();
            prop_assert_eq!(got, want);
        }
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
}
