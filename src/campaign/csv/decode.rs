//! Decoding: the first pass over the raw bytes (hash, length, line breaks, whether they are
//! UTF-8) and the second pass that turns UTF-8, UTF-16 or Windows-1252, BOM or not, into UTF-8,
//! so everything after this module sees one encoding.

use std::io::{self, Read};

use encoding_rs::{CoderResult, Decoder, Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};
use sha2::{Digest, Sha256};

use super::CHUNK;

/// What the first pass learns.
pub(super) struct Survey {
    pub(super) hash: String,
    pub(super) encoding: &'static Encoding,
    /// Bytes to drop before decoding (a UTF-8 BOM on a file that is not UTF-8).
    pub(super) skip: usize,
    pub(super) len: u64,
    /// Line breaks, an upper bound of the rows.
    pub(super) lines: u64,
}

/// The first pass: hash, length, line count, and whether the bytes are valid UTF-8.
pub(super) fn survey(mut input: impl Read) -> io::Result<Survey> {
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
pub(super) struct Decoded<R> {
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
    pub(super) bytes_in: u64,
}

impl<R: Read> Decoded<R> {
    pub(super) fn new(inner: R, encoding: &'static Encoding, skip: usize) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::csv::tests::*;
    use crate::campaign::csv::*;

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
}
