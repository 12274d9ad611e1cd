//! CSV output of reports. Two styles: `standard` (`,`, `.` decimals, UTF-8 without BOM: for
//! scripts) and `excel` (`;`, decimal comma, UTF-8 with BOM: what a Spanish Excel opens
//! correctly by double-click, accents and all).

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
pub enum Cell {
    Text(String),
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

    fn cell(self, c: &Cell) -> String {
        match c {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Decimal(v, digits) => {
                let s = format!("{v:.digits$}");
                match self {
                    CsvStyle::Standard => s,
                    CsvStyle::Excel => s.replace('.', ","),
                }
            }
            Cell::Empty => String::new(),
        }
    }
}

/// Writes a header and rows. Fields containing the separator, quotes or line breaks are quoted.
pub fn write(style: CsvStyle, header: &[String], rows: &[Vec<Cell>]) -> String {
    let mut w = csv::WriterBuilder::new()
        .delimiter(style.delimiter())
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail; errors would only come from the writer itself.
    let _ = w.write_record(header);
    for row in rows {
        let _ = w.write_record(row.iter().map(|c| style.cell(c)));
    }
    let bytes = w.into_inner().unwrap_or_default();
    let body = String::from_utf8(bytes).unwrap_or_default();
    match style {
        CsvStyle::Excel => format!("\u{feff}{body}"),
        CsvStyle::Standard => body,
    }
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
            "\u{feff}teléfono;nombre;coste;n\r\n+34600000001;\"Peña; \"\"Juan\"\"\";0,0123;3\r\n"
        );
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
