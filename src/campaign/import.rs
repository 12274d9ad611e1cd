//! Importing a campaign folder into the store: the campaign row, then each CSV file once.

use std::path::Path;

use super::csv::{read_file, write_rejects};
use super::Campaign;
use crate::store::{Backend, FileImport, Store};

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
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

/// Imports one CSV file into a campaign. Rejected rows go to `<file>.rejected.csv`.
pub async fn import_file(
    store: &Store,
    campaign: &Campaign,
    path: &Path,
    region: Option<phonenumber::country::Id>,
    now_ms: i64,
) -> Result<ImportSummary, ImportError> {
    let parsed = read_file(path, region)?;
    let file = FileImport {
        file_name: parsed.name.clone(),
        hash: parsed.hash.clone(),
        rows_read: parsed.rows_read,
        rejected: parsed.rejected.len() as u64,
        duplicates: parsed.duplicates.len() as u64,
    };
    let result = store
        .import_contacts(&campaign.id, &file, &parsed.contacts, now_ms)
        .await?;
    if !result.already_imported {
        write_rejects(path, &parsed).map_err(|source| ImportError::Rejects {
            file: path.display().to_string(),
            source,
        })?;
    }
    Ok(ImportSummary {
        file: path.display().to_string(),
        rows_read: parsed.rows_read,
        imported: result.inserted,
        rejected: parsed.rejected.len() as u64,
        duplicates: parsed.duplicates.len() as u64 + result.existing,
        already_imported: result.already_imported,
    })
}

/// Stores the campaign definition and imports every CSV file of its folder.
pub async fn sync_campaign(
    store: &Store,
    campaign: &Campaign,
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
        out.push(import_file(store, campaign, &f, region, now_ms).await?);
    }
    Ok(out)
}
