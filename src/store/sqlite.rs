//! SQLite backend: the embedded default. WAL journal, `synchronous = NORMAL` (a committed
//! transaction survives a crash of the daemon; an OS crash may lose the last few), foreign keys on.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use super::file_lock;
use super::sql;
use super::sqlite_direct as direct;
use super::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Readers (WAL: they never wait for the writer).
    pub(super) pool: SqlitePool,
    /// The one sqlx connection every other write goes through, taken through [`Self::writer`]:
    /// writers queue on the direct path's lock, in order, instead of contending for SQLite's
    /// write lock and sleeping in its busy handler.
    writer_pool: SqlitePool,
    /// The imports of this process, by file id, each holding the import lock.
    imports: Arc<Mutex<HashMap<i64, ImportLock>>>,
    /// The import lock of an in-memory database (no file to lock; one process uses it).
    memory_import: Arc<tokio::sync::Mutex<()>>,
    /// Group commit of the small writes many tasks make at once (see [`group_commit`]).
    group: tokio::sync::mpsc::Sender<GroupJob>,
    /// The busy writes' own connection, used while `writer` is held (see `sqlite_direct`).
    direct: Arc<direct::Direct>,
}

/// An import's hold on the import lock (see [`SqliteStore::take_import_lock`]).
#[derive(Debug)]
enum ImportLock {
    File(#[allow(dead_code)] std::fs::File),
    Memory(#[allow(dead_code)] tokio::sync::OwnedMutexGuard<()>),
}

/// `contacts` as migration 0005 leaves it, without the inline `UNIQUE (campaign_id, phone)` of
/// 0001 (an index SQLite cannot drop; the bulk path drops the named index `contacts_phone`
/// instead), and with its state check as a chain of equalities: the same rule, but SQLite
/// evaluates the `IN` list of a CHECK slowly (more than half of the cost of inserting a contact:
/// 4 s of 7 per million rows). See [`SqliteStore::rebuild_contacts`].
const CONTACTS_AT_0005: &str = "CREATE TABLE contacts_rebuild (
    id INTEGER PRIMARY KEY AUTOINCREMENT, campaign_id TEXT NOT NULL REFERENCES campaigns(id),
    file_id INTEGER REFERENCES imported_files(id), phone TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '', vars TEXT NOT NULL DEFAULT '{}', timezone TEXT,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state = 'pending' OR state = 'scheduled'
        OR state = 'in_progress' OR state = 'confirmed' OR state = 'cancelled'
        OR state = 'transferred' OR state = 'no_response' OR state = 'delivered'
        OR state = 'interested' OR state = 'opted_out' OR state = 'not_interested'
        OR state = 'completed' OR state = 'partial' OR state = 'connected' OR state = 'abandoned'
        OR state = 'unreachable' OR state = 'invalid_number' OR state = 'blocked'
        OR state = 'expired' OR state = 'failed'),
    attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, last_result TEXT,
    last_call_at INTEGER, dtmf TEXT, updated_at INTEGER NOT NULL, appointment_at INTEGER,
    result_streak INTEGER NOT NULL DEFAULT 0, note TEXT)";

/// The SQL of the domain operations (`queries.rs`) that differs on SQLite.
pub(super) mod dialect {
    /// A write first, so that the claim's transaction holds SQLite's write lock from here on:
    /// nobody can claim the same rows between the read and the update.
    pub const CLAIM_LOCK: Option<&str> =
        Some("UPDATE campaigns SET updated_at = updated_at WHERE id = $1");

    /// Due contacts of campaign `$1` at `$2`, at most `$3`: one ordered index range per state
    /// (`contacts_due` is (campaign, state, next_at), the rowid breaks ties); `state IN (…)`
    /// with `ORDER BY next_at` would read and sort every due row of the campaign, the whole
    /// list right after an import. SQLite wants each `LIMIT`ed part in a subquery of its own.
    pub const CLAIM_CANDIDATES: &str = "SELECT c.id, c.phone, c.timezone, c.appointment_at, c.vars, d.phone AS dnc_phone, d.until_date, d.hours, d.source
         FROM (SELECT * FROM (SELECT id, next_at FROM contacts
                              WHERE campaign_id = $1 AND state = 'pending' AND next_at <= $2
                              ORDER BY next_at, id LIMIT $3)
               UNION ALL
               SELECT * FROM (SELECT id, next_at FROM contacts
                              WHERE campaign_id = $1 AND state = 'scheduled' AND next_at <= $2
                              ORDER BY next_at, id LIMIT $3)) q
         JOIN contacts c ON c.id = q.id
         LEFT JOIN do_not_call d ON d.phone = c.phone
         ORDER BY q.next_at, q.id LIMIT $3";
}

/// How long a write waits for another process's write lock (`pregonero import` beside the
/// daemon) before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const CREATE_PHONE_INDEX: &str =
    "CREATE UNIQUE INDEX IF NOT EXISTS contacts_phone ON contacts (campaign_id, phone)";

impl SqliteStore {
    /// The database file; `None` in memory.
    pub(super) fn file(&self) -> Option<&std::path::Path> {
        self.direct.path.as_deref()
    }

    pub async fn connect(url: &str) -> Result<Self> {
        let parsed = SqliteConnectOptions::from_str(url)?;
        let file = parsed.get_filename();
        let in_memory = url.contains(":memory:")
            || url.contains("mode=memory")
            || file.as_os_str().is_empty()
            || file == std::path::Path::new(":memory:");
        // One process at a time migrates, and the lock is taken before any connection opens:
        // the first one to a fresh file switches it to WAL, which another process opening it
        // at that moment can see fail as `database is locked`.
        let migrating = match in_memory {
            false => Some(file_lock::lock(file, file_lock::MIGRATE).await?),
            true => None,
        };
        let options = parsed
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // No ping before each use: a connection to a local file does not go stale, and the
        // ping was one more round trip to the connection's worker thread per query (most of
        // the control URL's cost is those thread hand-offs).
        // The writer never checkpoints itself: a checkpoint inside a commit (every 1,000 WAL
        // pages by default) held that commit, and every reply waiting on it, for its writes
        // and fsync. `checkpoints` below does it beside the writer instead.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        let direct = Arc::new(direct::Direct::open(&writer, BUSY_TIMEOUT).await?);
        let (group, jobs) = tokio::sync::mpsc::channel(GROUP_QUEUE);
        // Group commit on a thread of its own: the SQL of a group (~0.1–0.2 ms under load)
        // never holds up one of the runtime's workers, and requests keep arriving meanwhile.
        // The loop is async (write lock, channels) and runs under the runtime's handle.
        {
            let (writer, direct) = (writer.clone(), direct.clone());
            let handle = tokio::runtime::Handle::current();
            std::thread::Builder::new()
                .name("sqlite-writer".into())
                .spawn(move || handle.block_on(group_commit(writer, direct, jobs)))
                .map_err(|e| StoreError::Write(format!("cannot start the writer thread: {e}")))?;
        }
        tokio::spawn(checkpoints(pool.clone(), group.downgrade()));
        let store = Self {
            pool,
            writer_pool: writer,
            imports: Arc::default(),
            memory_import: Arc::default(),
            group,
            direct,
        };
        store.migrate().await?;
        drop(migrating);
        Ok(store)
    }

    /// The sqlx writer, once this process's write lock is held (see `sqlite_direct`): keep the
    /// guard for as long as the write (or its transaction) lasts.
    pub(super) async fn writer(&self) -> direct::WriterGuard<'_> {
        self.direct.hold(&self.writer_pool).await
    }

    /// Queues a write for the next group transaction and waits until it is committed.
    pub(super) async fn grouped(&self, op: GroupOp) -> Result<GroupOut> {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.group.send(GroupJob { op, done }).await.is_err() {
            return Err(sqlx::Error::PoolClosed.into());
        }
        wait.await.unwrap_or(Err(sqlx::Error::PoolClosed.into()))
    }

    /// Builds `contacts` again as [`CONTACTS_AT_0005`] says, the way SQLite documents it:
    /// foreign keys off (outside any transaction, hence not in a migration), the new table, the
    /// rows copied with their ids (every reference to them holds), the old table dropped, the
    /// new one renamed, its indexes created. Between migrations 0005 and 0006 (see `migrate`).
    async fn rebuild_contacts(writer: &SqlitePool) -> Result<()> {
        let mut conn = writer.acquire().await?;
        let steps = [
            "PRAGMA foreign_keys = OFF",
            "BEGIN IMMEDIATE",
            CONTACTS_AT_0005,
            "INSERT INTO contacts_rebuild SELECT * FROM contacts",
            "DROP TABLE contacts",
            "ALTER TABLE contacts_rebuild RENAME TO contacts",
            "CREATE INDEX contacts_due ON contacts (campaign_id, state, next_at)",
            CREATE_PHONE_INDEX,
            "COMMIT",
        ];
        let mut result = Ok(());
        for sql in steps {
            result = sqlx::query(sql).execute(&mut *conn).await.map(drop);
            if result.is_err() {
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                break;
            }
        }
        let restored = sqlx::query("PRAGMA foreign_keys = ON")
            .execute(&mut *conn)
            .await;
        if result.is_err() || restored.is_err() {
            // Never hand a connection without foreign keys back to the pool.
            drop(conn.detach());
        }
        result?;
        restored?;
        tracing::info!("contacts: the phone uniqueness is now the index contacts_phone");
        Ok(())
    }

    /// Takes the import lock for `file_id`'s import (see `file_lock`), waiting while another
    /// import holds it. Whoever held it before is gone, however it ended: a phone index it
    /// dropped (the bulk path) comes back first.
    pub(super) async fn take_import_lock(&self, file_id: i64) -> Result<()> {
        // This import, begun again, holds it already.
        let held = self
            .imports
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&file_id));
        let lock = match held {
            Some(lock) => lock,
            None => match self.import_lock(false).await? {
                Some(lock) => lock,
                None => {
                    tracing::info!("another import is writing contacts; waiting for it to finish");
                    self.import_lock(true)
                        .await?
                        .ok_or(StoreError::NoImport(file_id))?
                }
            },
        };
        sqlx::query(CREATE_PHONE_INDEX)
            .execute(&*self.writer().await)
            .await?;
        if let Ok(mut m) = self.imports.lock() {
            m.insert(file_id, lock);
        }
        Ok(())
    }

    /// The import lock; without `wait`, `None` while another import holds it.
    async fn import_lock(&self, wait: bool) -> Result<Option<ImportLock>> {
        let Some(db) = self.file() else {
            let lock = self.memory_import.clone();
            let guard = match wait {
                true => Some(lock.lock_owned().await),
                false => lock.try_lock_owned().ok(),
            };
            return Ok(guard.map(ImportLock::Memory));
        };
        let file = match wait {
            true => Some(file_lock::lock(db, file_lock::IMPORT).await?),
            false => file_lock::try_lock(db, file_lock::IMPORT)?,
        };
        Ok(file.map(ImportLock::File))
    }

    /// Whether this process imports `file_id` (it took the import lock for it).
    pub(super) fn imports(&self, file_id: i64) -> bool {
        self.imports.lock().is_ok_and(|m| m.contains_key(&file_id))
    }

    /// Ends the import of `file_id`: its import lock is released.
    fn end_import(&self, file_id: i64) {
        if let Ok(mut m) = self.imports.lock() {
            m.remove(&file_id);
        }
    }

    /// The bulk path (see `BULK_MIN_ROWS`), under the import lock: the phone index is dropped
    /// until the import ends. The reader's own duplicate check (and an empty campaign) keeps
    /// the numbers unique meanwhile, and the index built again at the end proves it.
    pub(super) async fn drop_phone_index(&self) -> Result<()> {
        sqlx::query("DROP INDEX IF EXISTS contacts_phone")
            .execute(&*self.writer().await)
            .await?;
        Ok(())
    }

    /// Holds the database's daemon lock (see `file_lock`): one daemon per SQLite file.
    /// Commands (`report`, `import`…) do not take it and run beside the daemon.
    pub(super) fn lock_for_daemon(&self) -> Result<Option<std::fs::File>> {
        let Some(db) = self.file() else {
            return Ok(None);
        };
        match file_lock::try_lock(db, file_lock::DAEMON)? {
            Some(lock) => Ok(Some(lock)),
            None => Err(StoreError::DaemonRunning(db.display().to_string())),
        }
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes both pools (readers and the writer).
    pub async fn close(&self) {
        self.writer_pool.close().await;
        self.pool.close().await;
    }
}

impl SqliteStore {
    /// Applies the migrations (under the migration lock), then the housekeeping they cannot do.
    async fn migrate(&self) -> Result<()> {
        let w = self.writer().await;
        // A database from before 0005 (its contacts with the inline phone uniqueness) is
        // migrated up to 0005, its contacts built again, then migrated on.
        let up_to_0005 = sqlx::migrate::Migrator {
            migrations: MIGRATOR
                .iter()
                .filter(|m| m.version <= 5)
                .cloned()
                .collect(),
            ignore_missing: true,
            ..sqlx::migrate::Migrator::DEFAULT
        };
        up_to_0005.run(&*w).await?;
        let (inline, version): (bool, i64) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts' AND sql IS NULL),
                    (SELECT MAX(version) FROM _sqlx_migrations)",
        )
        .fetch_one(&*w)
        .await?;
        match (inline, version) {
            (true, 5) => Self::rebuild_contacts(&w).await?,
            (true, _) => {
                return Err(StoreError::Corrupt(
                    "the contacts table still has the phone uniqueness of migration 0001 past migration 0005 (its rebuild was cut short); pregonero 0.5.0 finishes it: run it once on this database".into(),
                ))
            }
            _ => {}
        }
        MIGRATOR.run(&*w).await?;
        drop(w);
        // A bulk import killed midway leaves the phone index dropped: it comes back unless a
        // live import holds the import lock (it builds the index again itself when it ends).
        if let Some(_free) = self.import_lock(false).await? {
            sqlx::query(CREATE_PHONE_INDEX)
                .execute(&*self.writer().await)
                .await?;
        }
        Ok(())
    }

    pub(super) async fn finish_import(
        &self,
        file_id: i64,
        file: &FileImport,
    ) -> Result<FileRecord> {
        let w = self.writer().await;
        let mut tx = w.begin().await?;
        let row: FileRecord = bind!(
            sqlx::query_as(sql::FINISH_IMPORT),
            0_i64,
            file.rows_read as i64,
            file.rejected as i64,
            file.duplicates as i64,
            file_id
        )
        .fetch_one(&mut *tx)
        .await?;
        if self.imports(file_id) {
            sqlx::query(CREATE_PHONE_INDEX).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.end_import(file_id);
        Ok(row)
    }

    pub(super) async fn abort_import(&self, file_id: i64) -> Result<()> {
        if !self.imports(file_id) {
            return Ok(());
        }
        // The lock goes whatever happens here: whoever takes it next builds the index first.
        let index = sqlx::query(CREATE_PHONE_INDEX)
            .execute(&*self.writer().await)
            .await;
        self.end_import(file_id);
        index.map(drop).map_err(StoreError::from)
    }

    /// Runs `f` in one transaction on the direct writer (see `sqlite_direct`).
    pub(super) async fn in_direct_transaction<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T>,
    ) -> Result<T> {
        self.direct
            .run(&self.writer_pool, |db| direct::in_transaction(db, f))
            .await
    }
}

/// How often the WAL is copied back into the database (see `checkpoints`).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Copies the WAL back into the database once a second, on a reader connection, without
/// blocking the writer (`PASSIVE`); the writer starts the WAL over once a checkpoint caught up.
/// Ends with the store (when the group queue's last sender is gone).
async fn checkpoints(pool: SqlitePool, alive: tokio::sync::mpsc::WeakSender<GroupJob>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if alive.upgrade().is_none() || pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if !pool.is_closed() {
                tracing::warn!("WAL checkpoint failed (the next one tries again): {e}");
            }
        }
    }
}

/// Most writes a group transaction takes at once.
const GROUP_MAX: usize = 256;
/// Most times a group gives up the core to wait for company (see [`group_commit`]).
const GROUP_YIELDS: usize = 4;
/// Writes waiting for a group transaction before callers wait to queue.
const GROUP_QUEUE: usize = 4096;

/// A write for the group transaction.
#[derive(Debug)]
pub(super) enum GroupOp {
    Event(CallEvent, Option<Progress>),
    Launched {
        attempt_id: i64,
        call_id: String,
        now: i64,
    },
    Close(CloseJob),
    /// Outbox rows delivered: marked in the control writes' own transactions rather than
    /// taking the write lock between them.
    Delivered {
        ids: Vec<i64>,
        now: i64,
    },
}

#[derive(Debug)]
pub(super) enum GroupOut {
    Done,
    Closed(Option<NextState>),
}

struct GroupJob {
    op: GroupOp,
    done: tokio::sync::oneshot::Sender<Result<GroupOut>>,
}

/// Runs the given writes in one transaction, in order. Usually every write succeeds and the
/// group goes as it is; when one fails, the transaction is rolled back and run again with each
/// write under a savepoint, so the failing write is undone alone and fails only its own caller.
/// If the commit fails, every write does.
async fn group_apply(
    writer: &SqlitePool,
    direct: &direct::Direct,
    ops: &[&GroupOp],
) -> Result<Vec<Result<GroupOut>>> {
    direct
        .run(writer, |db| {
            let all = direct::in_transaction(db, |tx| {
                ops.iter()
                    .map(|op| group_op(tx, op))
                    .collect::<Result<Vec<GroupOut>>>()
            });
            match all {
                Ok(outs) => Ok(outs.into_iter().map(Ok).collect()),
                Err(_) => direct::in_transaction(db, |tx| {
                    Ok(ops
                        .iter()
                        .map(|op| direct::savepoint(tx, |sp| group_op(sp, op)))
                        .collect())
                }),
            }
        })
        .await
}

fn group_op(db: &rusqlite::Connection, op: &GroupOp) -> Result<GroupOut> {
    match op {
        GroupOp::Event(e, p) => direct::record_event(db, e, p.as_ref()).map(|()| GroupOut::Done),
        GroupOp::Launched {
            attempt_id,
            call_id,
            now,
        } => {
            let mut launched = db.prepare_cached(sql::MARK_LAUNCHED)?;
            launched.execute(rusqlite::params![call_id, now, attempt_id])?;
            Ok(GroupOut::Done)
        }
        GroupOp::Close(job) => direct::close_attempt(db, job).map(GroupOut::Closed),
        GroupOp::Delivered { ids, now } => {
            direct::mark_delivered(db, ids, *now).map(|()| GroupOut::Done)
        }
    }
}

/// Group commit: the control requests, launch results and call ends of many calls arrive at
/// once, each a small write that must be durable before its caller answers. The writer thread
/// (`sqlite-writer`, started by `connect`) takes whatever is queued (up to [`GROUP_MAX`]),
/// writes it in one transaction and answers every caller after the commit; a lone write goes
/// at once, after at most one yield. One bad write fails only its own caller (see
/// [`group_apply`]). Ends when the store's last sender is gone.
async fn group_commit(
    writer: SqlitePool,
    direct: Arc<direct::Direct>,
    mut queue: tokio::sync::mpsc::Receiver<GroupJob>,
) {
    let mut jobs: Vec<GroupJob> = Vec::with_capacity(GROUP_MAX);
    while queue.recv_many(&mut jobs, GROUP_MAX).await > 0 {
        // Company: the runtime's workers may be handling more requests right now; giving up
        // the core once (a yield) lets them queue, as long as each yield brings some.
        for _ in 0..GROUP_YIELDS {
            if jobs.len() >= GROUP_MAX {
                break;
            }
            std::thread::yield_now();
            let before = jobs.len();
            while jobs.len() < GROUP_MAX {
                match queue.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            if jobs.len() == before {
                break;
            }
        }
        let ops: Vec<&GroupOp> = jobs.iter().map(|j| &j.op).collect();
        match group_apply(&writer, &direct, &ops).await {
            Ok(outs) => {
                for (job, out) in jobs.drain(..).zip(outs) {
                    let _ = job.done.send(out);
                }
            }
            Err(e) => {
                // The transaction failed as a whole (begin or commit): nothing of it is stored.
                let why = e.to_string();
                for job in jobs.drain(..) {
                    let _ = job.done.send(Err(StoreError::Write(why.clone())));
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "sqlite_tests.rs"]
mod tests;
