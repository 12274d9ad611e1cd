//! Importing a campaign folder into the store: the campaign row, then each CSV file once.

use std::path::Path;

use chrono::TimeZone;
use chrono_tz::Tz;

use super::csv::{Batch, ContactReader, CsvError, NewContact, RejectWriter};
use super::Campaign;
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
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.already_imported {
            return write!(f, "{}: already imported, nothing to do", self.file);
        }
        write!(
            f,
            "{}: {} rows read, {} imported, {} rejected, {} duplicates",
            self.file, self.rows_read, self.imported, self.rejected, self.duplicates
        )
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
    #[error("{file}: {message}")]
    Template { file: String, message: String },
    #[error("the import thread failed: {0}")]
    Thread(String),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
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
pub async fn import_file(
    store: &Store,
    campaign: &Campaign,
    campaign_tz: Tz,
    path: &Path,
    region: Option<phonenumber::country::Id>,
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
    campaign
        .check_templates(&layout.headers)
        .map_err(|message| ImportError::Template {
            file: path.display().to_string(),
            message,
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
    let mut rejects = RejectWriter::new(path, &layout);
    let (mut inserted, mut offered, mut rows) = (0u64, 0u64, 0u64);
    while let Some(batch) = rx.recv().await {
        let batch = batch?;
        for r in &batch.rejected {
            rejects.write(r).map_err(rejects_error)?;
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
    rejects.finish().map_err(rejects_error)?;
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
    })
}

/// Stores the campaign definition and imports every CSV file of its folder.
pub async fn sync_campaign(
    store: &Store,
    campaign: &Campaign,
    campaign_tz: Tz,
    region: Option<phonenumber::country::Id>,
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
        out.push(import_file(store, campaign, campaign_tz, &f, region, now_ms, None).await?);
    }
    Ok(out)
}
