//! Rejected rows written back for the people who sent the file: `<file>.rejected.csv`, in a
//! form a Spanish Excel opens, each row with its reason in `[ui] language`.

use std::io;
use std::path::{Path, PathBuf};

use super::{Layout, ParsedFile, Rejected};
use crate::i18n::Lang;

/// Writes rejected rows, as they come, to `<file>.rejected.csv`: UTF-8 with BOM (so a Spanish
/// Excel opens it right), the file's delimiter, an `error` column first (`línea N: motivo`, or
/// `line N: reason` in English),
/// then the original header and fields. The file appears whole when [`finish`] is called; a
/// file with no rejects removes a stale one.
///
/// [`finish`]: RejectWriter::finish
pub struct RejectWriter {
    target: PathBuf,
    partial: PathBuf,
    delimiter: u8,
    headers: Vec<String>,
    lang: Lang,
    writer: Option<::csv::Writer<io::BufWriter<std::fs::File>>>,
}

impl RejectWriter {
    /// For the rows of `source`, reasons in `lang`; nothing is written until the first row.
    pub fn new(source: &Path, layout: &Layout, lang: Lang) -> Self {
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
            lang,
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
                    std::iter::once(self.lang.text("rejects.column"))
                        .chain(self.headers.iter().map(String::as_str)),
                )?;
                self.writer.insert(w)
            }
        };
        let error = self.lang.fill(
            "check.line",
            &[
                ("line", &row.line),
                ("error", &self.lang.render(&row.reason.msg())),
            ],
        );
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
pub fn write_rejects(
    path: &Path,
    parsed: &ParsedFile,
    lang: Lang,
) -> std::io::Result<Option<PathBuf>> {
    let mut w = RejectWriter::new(path, &parsed.layout, lang);
    for r in &parsed.rejected {
        w.write(r)?;
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::csv::tests::*;
    use crate::campaign::csv::*;

    #[test]
    fn rejected_rows_file_opens_in_a_spanish_excel() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lista.csv");
        std::fs::copy(fixture("excel_es_1252.csv"), &path).unwrap();
        let p = read_file(&path, es()).unwrap();
        let written = write_rejects(&path, &p, Lang::Es).unwrap();
        let target = dir.path().join("lista.csv.rejected.csv");
        assert_eq!(written.as_deref(), Some(target.as_path()));
        assert!(!dir.path().join("lista.csv.rejected.csv.partial").exists());
        let bytes = std::fs::read(&target).unwrap();
        assert!(bytes.starts_with("\u{feff}".as_bytes()));
        let read_rows = |bytes: &[u8]| -> Vec<Vec<String>> {
            ::csv::ReaderBuilder::new()
                .delimiter(b';')
                .has_headers(false)
                .flexible(true)
                .from_reader(&bytes[3..])
                .records()
                .map(|rec| rec.unwrap().iter().map(String::from).collect())
                .collect()
        };
        let rows = read_rows(&bytes);
        assert_eq!(rows[0], ["error", "Teléfono", "Nombre", "Cita", "Notas"]);
        assert_eq!(rows.len(), 1 + p.rejected.len());
        for (row, rejected) in rows[1..].iter().zip(&p.rejected) {
            assert_eq!(
                row[0],
                format!(
                    "línea {}: {}",
                    rejected.line,
                    Lang::Es.render(&rejected.reason.msg())
                )
            );
            assert_eq!(row[1..], rejected.record[..]);
        }
        assert!(
            rows[1..]
                .iter()
                .any(|r| r[0].contains("no es un número de teléfono")),
            "{rows:?}"
        );
        // In English with `[ui] language = "en"`.
        write_rejects(&path, &p, Lang::En).unwrap();
        let english = read_rows(&std::fs::read(&target).unwrap());
        let first = &p.rejected[0];
        assert_eq!(
            english[1][0],
            format!("line {}: {}", first.line, first.reason)
        );
        // Reading the file again with nothing rejected removes the stale one.
        RejectWriter::new(&path, &p.layout, Lang::Es)
            .finish()
            .unwrap();
        assert!(!target.exists());
    }
}
