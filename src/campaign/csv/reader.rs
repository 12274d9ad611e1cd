//! Row reading: [`ContactReader`] finds the header, hands out rows in batches, and knows the
//! line of the file each row started on (blank lines, quoted breaks and a lone `\r` counted),
//! so every message can name its line.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::decode::{survey, Decoded, Survey};
use super::dialect::sniff_delimiter;
use super::header::{column_keys, no_phone_column, roles};
use super::rows::{is_blank, lossy, Row, RowReader, SeenNumbers};
use super::{Batch, CsvError, Layout, StreamSummary, CHUNK, HEADER_SEARCH, MAX_ROW_BYTES, SAMPLE};
use crate::i18n::Msg;

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
    pub(super) layout: Layout,
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
        let invalid = |rule: Msg| CsvError::Invalid {
            path: path.clone(),
            rule,
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
                    None => Msg::new("csv.empty"),
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
                consent: None,
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

    /// Rejects rows without a valid consent basis under `policy` (`None`: no check).
    pub fn with_consent(mut self, policy: Option<crate::campaign::consent::ConsentPolicy>) -> Self {
        self.rows.consent = policy;
        self
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
                rule: Msg::new("csv.changed"),
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
                rule: Msg::new("csv.row_too_long").arg("line", line),
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
            rule: Msg::new("csv.line")
                .arg("line", line)
                .arg("error", format!("{other:?}")),
        },
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::csv::tests::*;
    use crate::campaign::csv::*;
    use proptest::prelude::*;
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
}
