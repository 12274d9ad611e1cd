//! One process at a time migrates a SQLite file: an exclusive lock on a file beside the
//! database (`<database>.migrate-lock`), as sqlx's advisory lock does on PostgreSQL.
//!
//! Without it, commands started together on a fresh file (the daemon and a `report`, two
//! `campaigns`) each saw an empty migration table and ran the same migration: "table campaigns
//! already exists". The lock is the operating system's (`flock`), so it is released when the
//! holder exits, however it exits; a stale lock file is harmless. An in-memory database has no
//! file and takes no lock.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;

use sqlx::SqlitePool;

use super::{Result, StoreError};

/// The lock, held until dropped.
#[derive(Debug)]
pub(crate) struct MigrateLock {
    _file: Option<File>,
}

/// The database file of `pool`, or `None` for an in-memory database.
async fn database_file(pool: &SqlitePool) -> Result<Option<PathBuf>> {
    let file: Option<String> =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_optional(pool)
            .await?;
    Ok(file.filter(|f| !f.is_empty()).map(PathBuf::from))
}

/// Waits (without holding up the runtime) until this process alone may migrate the database of
/// `pool`.
pub(crate) async fn acquire(pool: &SqlitePool) -> Result<MigrateLock> {
    acquire_file(database_file(pool).await?).await
}

/// [`acquire`] for the database file `db` (`None`: in memory, nothing to lock), before any
/// connection to it is open: the first connection to a fresh file switches it to WAL, which
/// another process opening it at that moment can see fail as `database is locked`.
pub(crate) async fn acquire_file(db: Option<PathBuf>) -> Result<MigrateLock> {
    let Some(db) = db else {
        return Ok(MigrateLock { _file: None });
    };
    let mut name = db.into_os_string();
    name.push(".migrate-lock");
    let path = PathBuf::from(name);
    let file = tokio::task::spawn_blocking(move || {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                StoreError::Write(format!(
                    "cannot open the migration lock {}: {e}",
                    path.display()
                ))
            })?;
        file.lock().map_err(|e| {
            StoreError::Write(format!(
                "cannot take the migration lock {}: {e}",
                path.display()
            ))
        })?;
        Ok::<_, StoreError>(file)
    })
    .await
    .map_err(|e| StoreError::Write(format!("the migration lock's task failed: {e}")))??;
    Ok(MigrateLock { _file: Some(file) })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[tokio::test]
    async fn the_lock_is_exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        let lock_path = dir.path().join("db.sqlite.migrate-lock");
        let held = acquire(&pool).await.unwrap();
        // flock is per open file: another open of it, in this process or another, is refused.
        let other = File::open(&lock_path).unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        drop(held);
        other.try_lock().expect("free once the holder dropped it");
        drop(other);
        // In memory: nothing to lock.
        let memory = SqlitePool::connect("sqlite::memory:").await.unwrap();
        assert!(acquire(&memory).await.unwrap()._file.is_none());
    }
}
