//! Importing a campaign folder into the store: the campaign row, then each CSV file once.

use std::path::Path;

use chrono::TimeZone;
use chrono_tz::Tz;

use super::csv::{Batch, ContactReader, CsvError, NewContact, RejectTally, RejectWriter};
use super::Campaign;
use crate::i18n::{Lang, Msg};
use crate::store::{ContactRecord, FileImport, Store};

/// What importing one file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub file: String,
    pub rows_read: u64,
    pub imported: u64,
    pub rejected: u64,
    /// Rows whose number appeared before (in this file or already in the campaign).
    pub duplicates: u64,
    pub already_imported: bool,
    /// The rejected rows grouped by reason: `(reason, count, first lines)`, most frequent first.
    pub reasons: Vec<(Msg, u64, Vec<u64>)>,
    /// The `<file>.rejected.csv` written, if any row was rejected.
    pub rejects_file: Option<std::path::PathBuf>,
}

impl ImportSummary {
    /// The summary line for people.
    pub fn msg(&self) -> Msg {
        if self.already_imported {
            return Msg::new("import.already").arg("file", &self.file);
        }
        Msg::new("import.summary")
            .arg("file", &self.file)
            .arg("rows", self.rows_read)
            .arg("imported", self.imported)
            .arg("rejected", self.rejected)
            .arg("duplicates", self.duplicates)
    }

    /// What `pregonero import` prints: the summary line, then each reason for rejecting rows
    /// with its lines, and where the rejected rows are.
    pub fn render(&self, lang: Lang) -> String {
        let mut out = lang.render(&self.msg());
        out.push('\n');
        for line in super::csv::reason_lines(lang, &self.reasons) {
            out.push_str(&format!("  {line}\n"));
        }
        if let Some(f) = &self.rejects_file {
            out.push_str(&format!(
                "  {}\n",
                lang.fill("import.rejects_file", &[("file", &f.display())])
            ));
        }
        out
    }
}

impl std::fmt::Display for ImportSummary {
    /// The summary line in English (logs).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&Lang::En.render(&self.msg()))
    }
}

/// Errors of an import; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Csv(#[from] super::csv::CsvError),
    #[error("cannot write the rejected rows of {file}: {source}")]
    Rejects {
        file: String,
        source: std::io::Error,
    },
    #[error("cannot list the files of {dir}: {source}")]
    List { dir: String, source: std::io::Error },
    #[error("{}", Lang::En.render(.0))]
    Template(Msg),
    #[error("the import thread failed: {0}")]
    Thread(String),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

impl ImportError {
    /// The sentence for people, from the catalogue (a store or thread failure keeps its own
    /// words after it).
    pub fn msg(&self) -> Msg {
        match self {
            ImportError::Csv(e) => e.msg(),
            ImportError::Rejects { file, source } => Msg::new("import.rejects_unwritable")
                .arg("file", file)
                .arg("error", source),
            ImportError::List { dir, source } => Msg::new("import.cannot_list")
                .arg("dir", dir)
                .arg("error", source),
            ImportError::Template(m) => m.clone(),
            ImportError::Thread(e) => Msg::new("import.thread").arg("error", e),
            ImportError::Store(e) => Msg::new("import.store").arg("error", e),
        }
    }
}

/// Rows per batch: one store transaction each.
const BATCH_ROWS: usize = 5_000;

/// Where an import reports progress (rows read so far); `None` for silence.
pub type Progress<'a> = Option<&'a (dyn Fn(u64) + Sync)>;

/// The appointment as an instant: local wall time in the contact's zone (its CSV column or the
/// zone its number implies), else the campaign's. A time inside a DST gap moves past the gap.
fn appointment_ms(c: &NewContact, campaign_tz: Tz) -> Option<i64> {
    let local = c.appointment?;
    let tz: Tz = c
        .timezone
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or(campaign_tz);
    (0..4)
        .find_map(|h| {
            tz.from_local_datetime(&(local + chrono::Duration::minutes(30 * h)))
                .earliest()
        })
        .map(|t| t.timestamp_millis())
}

/// Imports one CSV file into a campaign, streaming: the file is parsed on a blocking thread in
/// batches while the previous batch is written, so memory stays bounded whatever the file's
/// size. Rejected rows go to `<file>.rejected.csv`. An import cut short is resumed on the next
/// attempt (the store recorded the file first).
#[allow(clippy::too_many_arguments)]
pub async fn import_file(
    store: &Store,
    campaign: &Campaign,
    campaign_tz: Tz,
    path: &Path,
    region: Option<phonenumber::country::Id>,
    lang: Lang,
    now_ms: i64,
    progress: Progress<'_>,
) -> Result<ImportSummary, ImportError> {
    let owned = path.to_path_buf();
    let today = chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .with_timezone(&campaign_tz)
        .date_naive();
    let consent = campaign.consent_policy(today);
    let reader = tokio::task::spawn_blocking(move || {
        ContactReader::open(&owned, region).map(|r| r.with_consent(consent))
    })
    .await
    .map_err(|e| ImportError::Thread(e.to_string()))??;
    let layout = reader.layout().clone();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    campaign.check_templates(&layout.headers).map_err(|e| {
        ImportError::Template(
            Msg::new("import.template")
                .arg("file", path.display())
                .msg("error", e),
        )
    })?;
    let mut file = FileImport {
        file_name: name,
        hash: reader.hash().to_string(),
        rows_read: 0,
        rejected: 0,
        duplicates: 0,
        expected_rows: reader.expected_rows(),
    };
    let Some(file_id) = store.begin_import(&campaign.id, &file, now_ms).await? else {
        return Ok(ImportSummary {
            file: path.display().to_string(),
            rows_read: 0,
            imported: 0,
            rejected: 0,
            duplicates: 0,
            already_imported: true,
            reasons: Vec::new(),
            rejects_file: None,
        });
    };
    match stream_into(
        store,
        campaign,
        campaign_tz,
        path,
        reader,
        file_id,
        &mut file,
        lang,
        now_ms,
        progress,
    )
    .await
    {
        Ok(summary) => Ok(summary),
        Err(e) => {
            // The file stays incomplete (resumed next time); what the import held is released.
            if let Err(release) = store.abort_import(file_id).await {
                tracing::warn!("{}: cannot release the import: {release}", path.display());
            }
            Err(e)
        }
    }
}

/// The body of [`import_file`] once the file is recorded: reads batches on a blocking thread
/// and writes each while the next is parsed.
#[allow(clippy::too_many_arguments)]
async fn stream_into(
    store: &Store,
    campaign: &Campaign,
    campaign_tz: Tz,
    path: &Path,
    reader: ContactReader<std::fs::File>,
    file_id: i64,
    file: &mut FileImport,
    lang: Lang,
    now_ms: i64,
    progress: Progress<'_>,
) -> Result<ImportSummary, ImportError> {
    let layout = reader.layout().clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Batch, CsvError>>(2);
    let producer = tokio::task::spawn_blocking(move || {
        let mut reader = reader;
        loop {
            match reader.next_batch(BATCH_ROWS) {
                Ok(Some(b)) => {
                    if tx.blocking_send(Ok(b)).is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
        reader.summary()
    });
    let rejects_error = |source| ImportError::Rejects {
        file: path.display().to_string(),
        source,
    };
    let mut rejects = RejectWriter::new(path, &layout, lang);
    let mut tally = RejectTally::default();
    let (mut inserted, mut offered, mut rows) = (0u64, 0u64, 0u64);
    while let Some(batch) = rx.recv().await {
        let batch = batch?;
        for r in &batch.rejected {
            rejects.write(r).map_err(rejects_error)?;
            tally.add(r);
        }
        // A row without a valid consent withdraws the consent of the contact imported before
        // with that number: it is never called again.
        let withdrawn: Vec<String> = batch
            .rejected
            .iter()
            .filter_map(|r| r.withdraws.clone())
            .collect();
        if !withdrawn.is_empty() {
            let file_name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let n = store
                .withdraw_consent(&campaign.id, &withdrawn, &file_name, now_ms)
                .await?;
            if n > 0 {
                tracing::info!(campaign = %campaign.id, contacts = n, file = %file_name, "consent withdrawn: these contacts are not called again");
            }
        }
        rows += (batch.contacts.len() + batch.rejected.len() + batch.duplicates.len()) as u64;
        let records: Vec<ContactRecord> = batch
            .contacts
            .into_iter()
            .map(|c| ContactRecord {
                appointment_at: appointment_ms(&c, campaign_tz),
                phone: c.phone,
                name: c.name,
                vars: c.vars_json,
                timezone: c.timezone,
            })
            .collect();
        inserted += store
            .insert_contacts(&campaign.id, file_id, &records, now_ms)
            .await?;
        offered += records.len() as u64;
        if let Some(p) = progress {
            p(rows);
        }
    }
    let summary = producer
        .await
        .map_err(|e| ImportError::Thread(e.to_string()))?;
    let rejects_file = rejects.finish().map_err(rejects_error)?;
    file.rows_read = summary.rows_read;
    file.rejected = summary.rejected;
    file.duplicates = summary.duplicates + (offered - inserted);
    let record = store.finish_import(file_id, file).await?;
    // On PostgreSQL's bulk path the batches only staged their rows: a staged row the store
    // did not write (a number twice) is a duplicate in the record, not an import.
    let duplicates = u64::try_from(record.duplicates).unwrap_or(file.duplicates);
    Ok(ImportSummary {
        file: path.display().to_string(),
        rows_read: summary.rows_read,
        imported: inserted.saturating_sub(duplicates.saturating_sub(file.duplicates)),
        rejected: summary.rejected,
        duplicates,
        already_imported: false,
        reasons: tally.reasons(),
        rejects_file,
    })
}

/// Stores the campaign definition and imports every CSV file of its folder.
pub async fn sync_campaign(
    store: &Store,
    campaign: &Campaign,
    campaign_tz: Tz,
    region: Option<phonenumber::country::Id>,
    lang: Lang,
    now_ms: i64,
) -> Result<Vec<ImportSummary>, ImportError> {
    store
        .upsert_campaign(
            &campaign.id,
            campaign.kind.as_str(),
            &campaign.title,
            &campaign.source,
            now_ms,
        )
        .await?;
    let files = campaign.csv_files().map_err(|source| ImportError::List {
        dir: campaign.dir.display().to_string(),
        source,
    })?;
    let mut out = Vec::new();
    for f in files {
        out.push(import_file(store, campaign, campaign_tz, &f, region, lang, now_ms, None).await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::csv::{RejectReason, RejectTally, Rejected};
    use crate::campaign::phone::PhoneError;

    #[test]
    fn import_failures_are_said_in_the_reader_s_language() {
        let e = ImportError::List {
            dir: "campaigns/c".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        assert!(Lang::Es
            .render(&e.msg())
            .starts_with("no se pueden listar los archivos de campaigns/c: "));
        assert!(Lang::En
            .render(&e.msg())
            .starts_with("cannot list the files of campaigns/c: "));
        let e = ImportError::Thread("task panicked".into());
        assert_eq!(
            Lang::Es.render(&e.msg()),
            "la importación se interrumpió: task panicked"
        );
    }

    #[test]
    fn the_import_summary_is_spanish_by_default_and_english_with_en() {
        let mut tally = RejectTally::default();
        for (line, raw) in [(3, "hola"), (5, "adios")] {
            tally.add(&Rejected {
                line,
                record: vec![raw.into()],
                reason: RejectReason::Phone(PhoneError::Letters(raw.into())),
                withdraws: None,
            });
        }
        let s = ImportSummary {
            file: "lista.csv".into(),
            rows_read: 10,
            imported: 7,
            rejected: 2,
            duplicates: 1,
            already_imported: false,
            reasons: tally.reasons(),
            rejects_file: Some("lista.csv.rejected.csv".into()),
        };
        assert_eq!(
            s.render(Lang::Es),
            "lista.csv: 10 filas leídas, 7 importadas, 2 rechazadas, 1 duplicadas\n  rechazadas 2×: \"…\" no es un número de teléfono: tiene letras (líneas 3, 5)\n  las filas rechazadas, con el motivo, están en lista.csv.rejected.csv\n"
        );
        assert_eq!(
            s.render(Lang::En),
            "lista.csv: 10 rows read, 7 imported, 2 rejected, 1 duplicates\n  rejected 2×: \"…\" is not a phone number: it contains letters (lines 3, 5)\n  the rejected rows, with the reason, are in lista.csv.rejected.csv\n"
        );
        assert_eq!(
            s.to_string(),
            "lista.csv: 10 rows read, 7 imported, 2 rejected, 1 duplicates"
        );
        let again = ImportSummary {
            already_imported: true,
            reasons: Vec::new(),
            rejects_file: None,
            ..s
        };
        assert_eq!(
            again.render(Lang::Es),
            "lista.csv: ya importado, nada que hacer\n"
        );
    }
}
