//! The locks a SQLite database's processes take, each an exclusive lock (`flock`) on a file
//! beside the database. The operating system releases it when its holder exits, however it
//! exits: no lock outlives a crash, and a lock file left behind is harmless.
//! - `<database>.migrate-lock`: one process at a time migrates, as sqlx's advisory lock does on
//!   PostgreSQL (commands started together on a fresh file each saw an empty migration table
//!   and ran the same migration: "table campaigns already exists");
//! - `<database>.import-lock`: one import at a time writes contacts, so that a big first import
//!   may drop the phone index and build it again at the end (`SqliteStore::take_import_lock`);
//! - `<database>.daemon`: one daemon per database, for the daemon's life.
//!
//! flock is per open file: two opens in one process exclude each other as two processes do.
//! An in-memory database has no file (and no other process can open it): nothing is locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::{Result, StoreError};

/// Waits for the migration lock.
pub(crate) const MIGRATE: &str = ".migrate-lock";
/// The import lock.
pub(crate) const IMPORT: &str = ".import-lock";
/// The daemon's lock.
pub(crate) const DAEMON: &str = ".daemon";

fn open_beside(db: &Path, suffix: &str) -> Result<(File, PathBuf)> {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    let path = PathBuf::from(name);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::Write(format!("cannot open {}: {e}", path.display())))?;
    Ok((file, path))
}

fn cannot_lock(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Write(format!("cannot lock {}: {e}", path.display()))
}

/// The lock `suffix` of database `db`, held until the file is dropped; `None` when another
/// holder has it.
pub(crate) fn try_lock(db: &Path, suffix: &str) -> Result<Option<File>> {
    let (file, path) = open_beside(db, suffix)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(cannot_lock(&path, e)),
    }
}

/// [`try_lock`], waiting (without holding up the runtime) while another holder has it.
pub(crate) async fn lock(db: &Path, suffix: &str) -> Result<File> {
    let (file, path) = open_beside(db, suffix)?;
    tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .map_err(|e| cannot_lock(&path, e))?
        .map_err(|e| cannot_lock(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lock_is_exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.sqlite");
        let held = lock(&db, MIGRATE).await.unwrap();
        // Another open of it, in this process or another, is refused.
        assert!(try_lock(&db, MIGRATE).unwrap().is_none());
        assert!(
            try_lock(&db, IMPORT).unwrap().is_some(),
            "each lock is its own"
        );
        let waiting = tokio::spawn({
            let db = db.clone();
            async move { lock(&db, MIGRATE).await }
        });
        drop(held);
        let again = tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
            .await
            .expect("the waiter takes it once the holder dropped it")
            .unwrap()
            .unwrap();
        assert!(try_lock(&db, MIGRATE).unwrap().is_none());
        drop(again);
        assert!(try_lock(&db, MIGRATE).unwrap().is_some());
    }
}
