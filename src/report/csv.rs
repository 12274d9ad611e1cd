//! CSV output of reports. Two styles: `standard` (`,`, `.` decimals, UTF-8 without BOM: for
//! scripts) and `excel` (`;`, decimal comma, UTF-8 with BOM: what a Spanish Excel opens
//! correctly by double-click, accents and all).
//!
//! Excel style is for people, so a text cell is written to stay text in Excel and LibreOffice:
//! a cell starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'` (OWASP's
//! advice against formula injection: `=HYPERLINK(…)` is shown, never run), and so does a text
//! of digits a spreadsheet would turn into a number and lose (a leading zero: `08001`,
//! `0034651223344`; eight digits or more: a phone without its `+`). An E.164 phone reads
//! `'+34650112233`: text, every digit kept. Standard style writes every cell as it is, byte
//! for byte, for scripts.

/// How a CSV report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CsvStyle {
    /// `,` separator, `.` decimals, no BOM.
    Standard,
    /// `;` separator, `,` decimals, UTF-8 BOM (Spanish Excel).
    #[default]
    Excel,
}

/// A cell: text as is, numbers formatted for the style.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Text(String),
    /// Text borrowed from the row being written (no copy per cell).
    Str(&'a str),
    Int(i64),
    /// A decimal with this many digits after the separator.
    Decimal(f64, usize),
    Empty,
}

impl CsvStyle {
    fn delimiter(self) -> u8 {
        match self {
            CsvStyle::Standard => b',',
            CsvStyle::Excel => b';',
        }
    }

    /// The bytes of a cell as written: text as it is (borrowed), or built in `buf` (numbers,
    /// a text that takes the leading `'`), so that a row costs no allocation.
    fn field<'c>(self, c: &'c Cell<'_>, buf: &'c mut String) -> &'c [u8] {
        use std::fmt::Write;
        buf.clear();
        let text: &str = match c {
            Cell::Text(s) => s,
            Cell::Str(s) => s,
            Cell::Int(n) => {
                let _ = write!(buf, "{n}");
                return buf.as_bytes();
            }
            Cell::Decimal(v, digits) => {
                let _ = write!(buf, "{v:.digits$}");
                if self == CsvStyle::Excel {
                    if let Some(dot) = buf.find('.') {
                        buf.replace_range(dot..dot + 1, ",");
                    }
                }
                return buf.as_bytes();
            }
            Cell::Empty => return b"",
        };
        if self == CsvStyle::Excel && stays_text_only_quoted(text) {
            buf.push('\'');
            buf.push_str(text);
            buf.as_bytes()
        } else {
            text.as_bytes()
        }
    }
}

/// Whether a text cell needs the leading `'` in excel style: a formula's first character (OWASP:
/// `=`, `+`, `-`, `@`, tab, carriage return), or digits a spreadsheet would read as a number and
/// change (a leading zero dropped, a long number shown in exponent form or rounded).
fn stays_text_only_quoted(s: &str) -> bool {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        return true;
    }
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits && ((s.len() > 1 && s.starts_with('0')) || s.len() >= 8)
}

/// A CSV written row by row to any writer (a report streaming to standard output): the BOM
/// first in excel style, then each record as it comes.
pub struct Writer<W: std::io::Write> {
    style: CsvStyle,
    inner: csv::Writer<W>,
    /// Where a cell that is not written as it is gets built.
    scratch: String,
}

impl<W: std::io::Write> Writer<W> {
    pub fn new(style: CsvStyle, mut out: W) -> std::io::Result<Writer<W>> {
        if style == CsvStyle::Excel {
            out.write_all("\u{feff}".as_bytes())?;
        }
        let inner = csv::WriterBuilder::new()
            .delimiter(style.delimiter())
            .terminator(csv::Terminator::CRLF)
            .from_writer(out);
        Ok(Writer {
            style,
            inner,
            scratch: String::new(),
        })
    }

    pub fn header(&mut self, header: &[String]) -> std::io::Result<()> {
        self.inner
            .write_record(header)
            .map_err(std::io::Error::from)
    }

    pub fn row(&mut self, row: &[Cell<'_>]) -> std::io::Result<()> {
        let style = self.style;
        for c in row {
            self.inner
                .write_field(style.field(c, &mut self.scratch))
                .map_err(std::io::Error::from)?;
        }
        self.inner
            .write_record(None::<&[u8]>)
            .map_err(std::io::Error::from)
    }

    /// Flushes and gives the writer back.
    pub fn finish(self) -> std::io::Result<W> {
        self.inner
            .into_inner()
            .map_err(|e| std::io::Error::other(e.error().to_string()))
    }
}

/// Writes a header and rows. Fields containing the separator, quotes or line breaks are quoted.
pub fn write(style: CsvStyle, header: &[String], rows: &[Vec<Cell>]) -> String {
    let mut bytes = Vec::new();
    // Writing to a Vec cannot fail.
    if let Ok(mut w) = Writer::new(style, &mut bytes) {
        let _ = w.header(header);
        for row in rows {
            let _ = w.row(row);
        }
        let _ = w.finish();
    }
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(style: CsvStyle) -> String {
        write(
            style,
            &[
                "teléfono".into(),
                "nombre".into(),
                "coste".into(),
                "n".into(),
            ],
            &[vec![
                Cell::Text("+34600000001".into()),
                Cell::Text("Peña; \"Juan\"".into()),
                Cell::Decimal(0.0123, 4),
                Cell::Int(3),
            ]],
        )
    }

    #[test]
    fn excel_style_has_bom_semicolons_and_decimal_commas() {
        let s = sample(CsvStyle::Excel);
        assert!(s.starts_with('\u{feff}'));
        assert_eq!(
            s,
            "\u{feff}teléfono;nombre;coste;n\r\n'+34600000001;\"Peña; \"\"Juan\"\"\";0,0123;3\r\n"
        );
    }

    #[test]
    fn excel_style_keeps_formulas_and_long_digits_as_text() {
        let cells = [
            "=HYPERLINK(\"http://x\",\"clic\")",
            "+cmd|' /C calc'!A0",
            "@SUM(1+1)",
            "-2+3",
            "\t=1",
            "\r=1",
            "+34650112233",
            "0034651223344",
            "08001",
            "650112233",
            "51",
            "0",
            "Peña",
            "",
        ];
        let rows: Vec<Vec<Cell>> = cells
            .iter()
            .map(|c| vec![Cell::Text(c.to_string())])
            .collect();
        let excel = write(CsvStyle::Excel, &["v".into()], &rows);
        let mut r = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(excel.trim_start_matches('\u{feff}').as_bytes());
        let read: Vec<String> = r.records().map(|x| x.unwrap()[0].to_string()).collect();
        assert_eq!(
            read,
            [
                "'=HYPERLINK(\"http://x\",\"clic\")",
                "'+cmd|' /C calc'!A0",
                "'@SUM(1+1)",
                "'-2+3",
                "'\t=1",
                "'\r=1",
                "'+34650112233",
                "'0034651223344",
                "'08001",
                "'650112233",
                "51",
                "0",
                "Peña",
                "",
            ]
        );
        // Standard style is for scripts: every cell byte for byte.
        let standard = write(CsvStyle::Standard, &["v".into()], &rows);
        let mut r = csv::Reader::from_reader(standard.as_bytes());
        let read: Vec<String> = r.records().map(|x| x.unwrap()[0].to_string()).collect();
        assert_eq!(read, cells);
    }

    #[test]
    fn standard_style_is_plain_csv() {
        let s = sample(CsvStyle::Standard);
        assert_eq!(
            s,
            "teléfono,nombre,coste,n\r\n+34600000001,\"Peña; \"\"Juan\"\"\",0.0123,3\r\n"
        );
        // It reads back with the csv crate.
        let mut r = csv::Reader::from_reader(s.as_bytes());
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(&rec[1], "Peña; \"Juan\"");
    }
}
