//! SQLite backend: the embedded default. WAL journal, `synchronous = NORMAL` (a committed
//! transaction survives a crash of the daemon; an OS crash may lose the last few), foreign keys on.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::sqlite_direct as direct;
use super::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Readers (WAL: they never wait for the writer).
    pool: SqlitePool,
    /// The one sqlx connection every other write goes through, taken through [`Self::writer`]:
    /// writers queue on the direct path's lock, in order, instead of contending for SQLite's
    /// write lock and sleeping in its busy handler.
    writer_pool: SqlitePool,
    /// The import lease tokens this process holds, by file id.
    leases: Arc<Mutex<HashMap<i64, i64>>>,
    /// Group commit of the small writes many tasks make at once (see [`group_commit`]).
    group: tokio::sync::mpsc::Sender<GroupJob>,
    /// The busy writes' own connection, used while `writer` is held (see `sqlite_direct`).
    direct: Arc<direct::Direct>,
}

/// A file of at least this many lines, imported into a campaign with no contacts yet, takes the
/// bulk path: the phone index is dropped for the import and rebuilt at the end, which is several
/// times cheaper than a million random-order inserts into it. (The rebuild covers every
/// campaign's contacts, hence the second condition in `begin_import`.)
const BULK_MIN_ROWS: u64 = 50_000;

/// A lease whose heartbeat is older than this was left by a crash (a batch takes well under
/// a second; the heartbeat is renewed with each one).
const LEASE_STALE_MS: i64 = 60_000;

/// Wall-clock milliseconds: the lease is about real processes, not the injected clock.
fn wall_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Whether a process of this machine is still running (a SQLite database is local).
fn process_alive(pid: i64) -> bool {
    if pid == i64::from(std::process::id()) {
        return true;
    }
    let proc_root = std::path::Path::new("/proc");
    if !proc_root.join("self").exists() {
        // No procfs: only the heartbeat tells.
        return true;
    }
    proc_root.join(pid.to_string()).exists()
}

/// The `CREATE TABLE contacts` of `sql` renamed `contacts_rebuild`, without its inline
/// `UNIQUE (campaign_id, phone)`; `None` when that clause is not there.
fn without_unique_phone(sql: &str) -> Option<String> {
    let compact = sql
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" ,", ",");
    let clause = ", UNIQUE (campaign_id, phone)";
    let at = compact.find(clause)?;
    let rest = format!("{}{}", &compact[..at], &compact[at + clause.len()..]);
    // A table renamed into place is written with its name quoted.
    rest.strip_prefix("CREATE TABLE contacts (")
        .or_else(|| rest.strip_prefix("CREATE TABLE \"contacts\" ("))
        .map(|body| {
            format!(
                "CREATE TABLE contacts_rebuild ({}",
                state_check_as_equalities(body)
            )
        })
}

/// `CHECK (state IN ('a', 'b', …))` as `CHECK (state = 'a' OR state = 'b' OR …)`: the same
/// rule, but SQLite evaluates the `IN` list of a CHECK slowly (it was more than half of the cost
/// of inserting a contact: 4 s of 7 per million rows), the chain of equalities cheaply.
fn state_check_as_equalities(sql: &str) -> String {
    let open = "CHECK (state IN (";
    let Some(start) = sql.find(open) else {
        return sql.to_string();
    };
    let values_at = start + open.len();
    let Some(len) = sql[values_at..].find("))") else {
        return sql.to_string();
    };
    let chain: Vec<String> = sql[values_at..values_at + len]
        .split(',')
        .map(|v| format!("state = {}", v.trim()))
        .collect();
    format!(
        "{}CHECK ({}){}",
        &sql[..start],
        chain.join(" OR "),
        &sql[values_at + len + 2..]
    )
}

/// How long a write waits for another process's write lock (`pregonero import` beside the
/// daemon) before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const CREATE_PHONE_INDEX: &str =
    "CREATE UNIQUE INDEX IF NOT EXISTS contacts_phone ON contacts (campaign_id, phone)";

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
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
        Ok(Self {
            pool,
            writer_pool: writer,
            leases: Arc::default(),
            group,
            direct,
        })
    }

    /// The sqlx writer, once this process's write lock is held (see `sqlite_direct`): keep the
    /// guard for as long as the write (or its transaction) lasts.
    async fn writer(&self) -> direct::WriterGuard<'_> {
        self.direct.hold(&self.writer_pool).await
    }

    /// Queues a write for the next group transaction and waits until it is committed.
    async fn grouped(&self, op: GroupOp) -> Result<GroupOut> {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.group.send(GroupJob { op, done }).await.is_err() {
            return Err(sqlx::Error::PoolClosed.into());
        }
        wait.await.unwrap_or(Err(sqlx::Error::PoolClosed.into()))
    }

    /// Moves the uniqueness of `(campaign_id, phone)` from the inline constraint of migration
    /// 0001 to the named index `contacts_phone`, once, the way SQLite documents a table
    /// rebuild: foreign keys off (outside any transaction), the new table created from the
    /// current definition minus that clause (and with a cheaper form of the state check), rows copied, the old table dropped, the new one
    /// renamed, its indexes and triggers recreated, foreign keys checked before the commit.
    async fn unique_phone_as_index(&self) -> Result<()> {
        let inline: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts' AND sql IS NULL)",
        )
        .fetch_one(&self.pool)
        .await?;
        if !inline {
            return Ok(());
        }
        let w = self.writer().await;
        let mut conn = w.acquire().await?;
        sqlx::query("PRAGMA foreign_keys = OFF")
            .execute(&mut *conn)
            .await?;
        let result = Self::rebuild_contacts(&mut conn).await;
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

    async fn rebuild_contacts(conn: &mut sqlx::SqliteConnection) -> Result<()> {
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let result = async {
            let table: String = sqlx::query_scalar(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'contacts'",
            )
            .fetch_one(&mut *conn)
            .await?;
            let indexes: Vec<String> = sqlx::query_scalar(
                "SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND tbl_name = 'contacts' AND sql IS NOT NULL ORDER BY type",
            )
            .fetch_all(&mut *conn)
            .await?;
            let new_table = without_unique_phone(&table).ok_or_else(|| {
                StoreError::Corrupt(
                    "the contacts table has no UNIQUE (campaign_id, phone) clause to move".into(),
                )
            })?;
            sqlx::query("DROP TABLE IF EXISTS contacts_rebuild")
                .execute(&mut *conn)
                .await?;
            sqlx::query(&new_table).execute(&mut *conn).await?;
            sqlx::query("INSERT INTO contacts_rebuild SELECT * FROM contacts")
                .execute(&mut *conn)
                .await?;
            sqlx::query("DROP TABLE contacts").execute(&mut *conn).await?;
            sqlx::query("ALTER TABLE contacts_rebuild RENAME TO contacts")
                .execute(&mut *conn)
                .await?;
            for sql in indexes {
                sqlx::query(&sql).execute(&mut *conn).await?;
            }
            sqlx::query(CREATE_PHONE_INDEX).execute(&mut *conn).await?;
            let broken: Option<String> = sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_check")
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(t) = broken {
                return Err(StoreError::Corrupt(format!(
                    "rebuilding contacts would break a foreign key of {t}"
                )));
            }
            Ok(())
        }
        .await;
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        sqlx::query(end).execute(&mut *conn).await?;
        result
    }

    /// Takes the import lease for `file_id`, waiting while another live importer holds it. A
    /// lease left by a crash is taken over, and the phone index it may have dropped is rebuilt
    /// first. Returns whether this import takes the bulk path (and the index is now dropped).
    async fn take_lease(&self, campaign: &str, file_id: i64, expected_rows: u64) -> Result<bool> {
        let token: i64 = rand::random::<i64>() & i64::MAX;
        let pid = i64::from(std::process::id());
        let mut waiting_logged = false;
        loop {
            let w = self.writer().await;
            let mut tx = w.begin().await?;
            // A write first: the transaction holds SQLite's write lock from here on.
            sqlx::query("UPDATE import_lease SET id = id")
                .execute(&mut *tx)
                .await?;
            let held = sqlx::query("SELECT holder, pid, file_id, heartbeat FROM import_lease")
                .fetch_optional(&mut *tx)
                .await?;
            let mine = self.lease_token(file_id);
            let free = match &held {
                None => true,
                Some(r) => {
                    let holder: i64 = r.get("holder");
                    Some(holder) == mine
                        || !process_alive(r.get("pid"))
                        || r.get::<i64, _>("heartbeat") < wall_ms() - LEASE_STALE_MS
                }
            };
            if !free {
                tx.commit().await?;
                // Nobody's writes wait behind this one's sleep.
                drop(w);
                if !waiting_logged {
                    tracing::info!("another import is writing contacts; waiting for it to finish");
                    waiting_logged = true;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            if held.is_some() {
                // Left by a crash (or by this import, resumed): the index comes back first.
                sqlx::query(CREATE_PHONE_INDEX).execute(&mut *tx).await?;
            }
            let has_contacts: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM contacts WHERE campaign_id = ?)")
                    .bind(campaign)
                    .fetch_one(&mut *tx)
                    .await?;
            let all: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM contacts")
                .fetch_one(&mut *tx)
                .await?;
            let bulk = !has_contacts
                && expected_rows >= BULK_MIN_ROWS
                && expected_rows.saturating_mul(2) >= u64::try_from(all).unwrap_or(0);
            if bulk {
                sqlx::query("DROP INDEX IF EXISTS contacts_phone")
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO import_lease (id, holder, pid, file_id, bulk, heartbeat) VALUES (1, ?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, pid = excluded.pid,
                     file_id = excluded.file_id, bulk = excluded.bulk, heartbeat = excluded.heartbeat",
            )
            .bind(token)
            .bind(pid)
            .bind(file_id)
            .bind(bulk)
            .bind(wall_ms())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            self.set_lease_token(file_id, Some(token));
            return Ok(bulk);
        }
    }

    fn lease_token(&self, file_id: i64) -> Option<i64> {
        self.leases
            .lock()
            .map(|m| m.get(&file_id).copied())
            .unwrap_or(None)
    }

    fn set_lease_token(&self, file_id: i64, token: Option<i64>) {
        if let Ok(mut m) = self.leases.lock() {
            match token {
                Some(t) => m.insert(file_id, t),
                None => m.remove(&file_id),
            };
        }
    }

    /// Inside a write transaction: checks that this import still holds the lease and renews it.
    async fn renew_lease(&self, tx: &mut sqlx::SqliteConnection, file_id: i64) -> Result<()> {
        let token = self.lease_token(file_id);
        let r =
            sqlx::query("UPDATE import_lease SET heartbeat = ? WHERE holder = ? AND file_id = ?")
                .bind(wall_ms())
                .bind(token)
                .bind(file_id)
                .execute(&mut *tx)
                .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::Corrupt(format!(
                "the import of file {file_id} lost its lease (another process took it over after a long stall); it will be resumed"
            )));
        }
        Ok(())
    }

    /// Ends the lease of `file_id` inside `tx`, bringing the phone index back if a bulk
    /// import dropped it.
    async fn end_lease(&self, tx: &mut sqlx::SqliteConnection, file_id: i64) -> Result<()> {
        let token = self.lease_token(file_id);
        let held: Option<i64> =
            sqlx::query_scalar("SELECT bulk FROM import_lease WHERE holder = ? AND file_id = ?")
                .bind(token)
                .bind(file_id)
                .fetch_optional(&mut *tx)
                .await?;
        if held.is_some() {
            sqlx::query(CREATE_PHONE_INDEX).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM import_lease WHERE holder = ?")
                .bind(token)
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
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

impl Backend for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&*self.writer().await).await?;
        self.unique_phone_as_index().await?;
        // A bulk import killed midway leaves the phone index dropped: bring it back unless a
        // live importer holds the lease (it rebuilds the index itself when it ends).
        let w = self.writer().await;
        let mut tx = w.begin().await?;
        sqlx::query("UPDATE import_lease SET id = id")
            .execute(&mut *tx)
            .await?;
        let held = sqlx::query("SELECT pid, heartbeat FROM import_lease")
            .fetch_optional(&mut *tx)
            .await?;
        let live = held.is_some_and(|r| {
            process_alive(r.get("pid"))
                && r.get::<i64, _>("heartbeat") >= wall_ms() - LEASE_STALE_MS
        });
        if !live {
            sqlx::query(CREATE_PHONE_INDEX).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM import_lease")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn upsert_campaign(
        &self,
        id: &str,
        kind: &str,
        title: &str,
        source: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO campaigns (id, kind, title, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, title = excluded.title,
                 source = excluded.source, updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(kind)
        .bind(title)
        .bind(source)
        .bind(now)
        .bind(now)
        .execute(&*self.writer().await)
        .await?;
        Ok(())
    }

    async fn campaigns(&self) -> Result<Vec<CampaignRow>> {
        let rows =
            sqlx::query("SELECT id, kind, title, paused, paused_reason FROM campaigns ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|r| CampaignRow {
                id: r.get("id"),
                kind: r.get("kind"),
                title: r.get("title"),
                paused: r.get::<i64, _>("paused") != 0,
                paused_reason: r.get("paused_reason"),
            })
            .collect())
    }

    async fn set_paused(
        &self,
        id: &str,
        paused: bool,
        reason: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE campaigns SET paused = ?, paused_reason = ?, updated_at = ? WHERE id = ?",
        )
        .bind(paused as i64)
        .bind(if paused { reason } else { None })
        .bind(now)
        .bind(id)
        .execute(&*self.writer().await)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn pause_all(&self, reason: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE campaigns SET paused = 1, paused_reason = ?, updated_at = ? WHERE paused = 0",
        )
        .bind(reason)
        .bind(now)
        .execute(&*self.writer().await)
        .await?;
        Ok(())
    }

    async fn begin_import(
        &self,
        campaign: &str,
        file: &FileImport,
        now: i64,
    ) -> Result<Option<i64>> {
        let existing = sqlx::query(
            "SELECT id, complete FROM imported_files WHERE campaign_id = ? AND content_hash = ?",
        )
        .bind(campaign)
        .bind(&file.hash)
        .fetch_optional(&self.pool)
        .await?;
        let id = match existing {
            Some(r) if r.get::<i64, _>("complete") != 0 => return Ok(None),
            Some(r) => r.get("id"),
            None => {
                sqlx::query_scalar(
                    "INSERT INTO imported_files (campaign_id, file_name, content_hash, rows_read, imported, rejected, duplicates, imported_at, complete)
                     VALUES (?, ?, ?, 0, 0, 0, 0, ?, 0) RETURNING id",
                )
                .bind(campaign)
                .bind(&file.file_name)
                .bind(&file.hash)
                .bind(now)
                .fetch_one(&self.pool)
                .await?
            }
        };
        let bulk = self.take_lease(campaign, id, file.expected_rows).await?;
        if bulk {
            tracing::info!(
                "{}: bulk import into an empty campaign (about {} rows): the phone index is rebuilt at the end",
                file.file_name,
                file.expected_rows
            );
        }
        Ok(Some(id))
    }

    async fn insert_contacts(
        &self,
        campaign: &str,
        file_id: i64,
        contacts: &[ContactRecord],
        now: i64,
    ) -> Result<u64> {
        let w = self.writer().await;
        let mut tx = w.begin().await?;
        self.renew_lease(&mut tx, file_id).await?;
        let mut inserted = 0;
        // Multi-row inserts, well under SQLite's 32,766 bound parameters per statement. On the
        // bulk path there is no phone index: the reader's own duplicate check (and an empty
        // campaign) keeps the numbers unique, and the index rebuilt at the end proves it.
        for chunk in contacts.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO contacts (campaign_id, file_id, phone, name, vars, timezone, appointment_at, state, next_at, updated_at) VALUES ",
            );
            for i in 0..chunk.len() {
                sql.push_str(if i == 0 {
                    "(?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)"
                } else {
                    ", (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)"
                });
            }
            sql.push_str(" ON CONFLICT DO NOTHING");
            // Only the full-size statement is worth keeping prepared: the last chunk of each
            // batch has its own length, and a cache of those (a big program each) grew the
            // import's memory by tens of megabytes.
            let mut q = sqlx::query(&sql).persistent(chunk.len() == INSERT_CHUNK);
            for c in chunk {
                q = q
                    .bind(campaign)
                    .bind(file_id)
                    .bind(&c.phone)
                    .bind(&c.name)
                    .bind(&c.vars)
                    .bind(&c.timezone)
                    .bind(c.appointment_at)
                    .bind(now)
                    .bind(now);
            }
            inserted += q.execute(&mut *tx).await?.rows_affected();
        }
        sqlx::query("UPDATE imported_files SET imported = imported + ? WHERE id = ?")
            .bind(inserted as i64)
            .bind(file_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(inserted)
    }

    async fn finish_import(&self, file_id: i64, file: &FileImport) -> Result<FileRecord> {
        let w = self.writer().await;
        let mut tx = w.begin().await?;
        let row = sqlx::query(
            "UPDATE imported_files SET rows_read = ?, rejected = ?, duplicates = ?, complete = 1 WHERE id = ?
             RETURNING file_name, rows_read, imported, rejected, duplicates",
        )
        .bind(file.rows_read as i64)
        .bind(file.rejected as i64)
        .bind(file.duplicates as i64)
        .bind(file_id)
        .fetch_one(&mut *tx)
        .await?;
        self.end_lease(&mut tx, file_id).await?;
        tx.commit().await?;
        self.set_lease_token(file_id, None);
        Ok(FileRecord {
            file_name: row.get("file_name"),
            rows_read: row.get("rows_read"),
            imported: row.get("imported"),
            rejected: row.get("rejected"),
            duplicates: row.get("duplicates"),
        })
    }

    async fn abort_import(&self, file_id: i64) -> Result<()> {
        let w = self.writer().await;
        let mut tx = w.begin().await?;
        self.end_lease(&mut tx, file_id).await?;
        tx.commit().await?;
        self.set_lease_token(file_id, None);
        Ok(())
    }

    async fn claim_due(
        &self,
        campaign: &str,
        now: i64,
        limit: u32,
        gate: &(dyn Fn(&Candidate) -> Gate + Sync),
    ) -> Result<Vec<Claim>> {
        let w = self.writer().await;
        let mut tx = w.begin().await?;
        // A write first, so the transaction holds SQLite's write lock from here on: nobody can
        // claim the same rows between the read and the update below.
        sqlx::query("UPDATE campaigns SET updated_at = updated_at WHERE id = ?")
            .bind(campaign)
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query(
            // One ordered index range per state (`contacts_due` is (campaign, state, next_at),
            // the rowid breaks ties): `state IN (…)` with `ORDER BY next_at` would read and sort
            // every due row of the campaign, the whole list right after an import.
            "SELECT c.id, c.phone, c.timezone, c.appointment_at, c.vars, d.phone AS dnc_phone, d.until_date, d.hours, d.source
             FROM (SELECT * FROM (SELECT id, next_at FROM contacts
                                  WHERE campaign_id = ?1 AND state = 'pending' AND next_at <= ?2
                                  ORDER BY next_at, id LIMIT ?3)
                   UNION ALL
                   SELECT * FROM (SELECT id, next_at FROM contacts
                                  WHERE campaign_id = ?1 AND state = 'scheduled' AND next_at <= ?2
                                  ORDER BY next_at, id LIMIT ?3)) q
             JOIN contacts c ON c.id = q.id
             LEFT JOIN do_not_call d ON d.phone = c.phone
             ORDER BY q.next_at, q.id LIMIT ?3",
        )
        .bind(campaign)
        .bind(now)
        .bind(candidate_window(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut claims = Vec::new();
        for r in rows {
            if claims.len() as u32 >= limit {
                break;
            }
            let candidate = Candidate {
                contact_id: r.get("id"),
                phone: r.get("phone"),
                timezone: r.get("timezone"),
                appointment_at: r.get("appointment_at"),
                vars: r.get("vars"),
                dnc: r
                    .get::<Option<String>, _>("dnc_phone")
                    .map(|phone| DncEntry {
                        phone,
                        until_date: r.get("until_date"),
                        hours: r.get("hours"),
                        source: r.get("source"),
                    }),
            };
            match gate(&candidate) {
                Gate::Launch => {}
                Gate::Defer { until, note } => {
                    sqlx::query("UPDATE contacts SET state = 'scheduled', next_at = ?, note = ?, updated_at = ? WHERE id = ?")
                        .bind(until.max(now + 1))
                        .bind(note)
                        .bind(now)
                        .bind(candidate.contact_id)
                        .execute(&mut *tx)
                        .await?;
                    continue;
                }
                Gate::Close { state, note } => {
                    sqlx::query(
                        "UPDATE contacts SET state = ?, note = ?, updated_at = ? WHERE id = ?",
                    )
                    .bind(state)
                    .bind(note)
                    .bind(now)
                    .bind(candidate.contact_id)
                    .execute(&mut *tx)
                    .await?;
                    continue;
                }
            }
            sqlx::query("UPDATE contacts SET state = 'in_progress', attempts = attempts + 1, note = NULL, updated_at = ? WHERE id = ?")
                .bind(now)
                .bind(candidate.contact_id)
                .execute(&mut *tx)
                .await?;
            let row = sqlx::query(
                "INSERT INTO attempts (contact_id, campaign_id, number, status, created_at)
                 VALUES (?, ?, (SELECT COALESCE(MAX(number), 0) + 1 FROM attempts WHERE contact_id = ?), 'launching', ?)
                 RETURNING id, number",
            )
            .bind(candidate.contact_id)
            .bind(campaign)
            .bind(candidate.contact_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            claims.push(Claim {
                attempt_id: row.get("id"),
                contact_id: candidate.contact_id,
                campaign_id: campaign.to_string(),
                number: row.get("number"),
                phone: candidate.phone,
            });
        }
        tx.commit().await?;
        Ok(claims)
    }

    async fn mark_launched(&self, attempt_id: i64, call_id: &str, now: i64) -> Result<()> {
        self.grouped(GroupOp::Launched {
            attempt_id,
            call_id: call_id.to_string(),
            now,
        })
        .await
        .map(|_| ())
    }

    async fn mark_not_placed(
        &self,
        attempt_id: i64,
        error: &str,
        next: &NotPlaced,
        now: i64,
    ) -> Result<()> {
        let w = self.writer().await;
        let mut tx = w.begin().await?;
        let (status, result) = match next {
            NotPlaced::RetryAt(_) => ("not_placed", None),
            NotPlaced::Failed => ("closed", Some("failed")),
        };
        let contact: Option<i64> = sqlx::query_scalar(
            "UPDATE attempts SET status = ?, result = ?, error = ?, ended_at = ?
             WHERE id = ? AND status = 'launching' RETURNING contact_id",
        )
        .bind(status)
        .bind(result)
        .bind(error)
        .bind(now)
        .bind(attempt_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(contact_id) = contact {
            match next {
                NotPlaced::RetryAt(at) => {
                    sqlx::query(
                        "UPDATE contacts SET state = 'scheduled', next_at = ?, attempts = MAX(attempts - 1, 0), updated_at = ?
                         WHERE id = ? AND state = 'in_progress'",
                    )
                    .bind(at)
                    .bind(now)
                    .bind(contact_id)
                    .execute(&mut *tx)
                    .await?;
                }
                NotPlaced::Failed => {
                    sqlx::query(
                        "UPDATE contacts SET state = 'failed', last_result = 'failed', updated_at = ?
                         WHERE id = ? AND state = 'in_progress'",
                    )
                    .bind(now)
                    .bind(contact_id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn attempt_info(&self, attempt_id: i64) -> Result<Option<AttemptInfo>> {
        let row = sqlx::query(
            "SELECT a.id, a.campaign_id, a.contact_id, a.status, a.outcome, a.answered_at, a.provider_call_id, c.phone, c.name, c.vars
             FROM attempts a JOIN contacts c ON c.id = a.contact_id WHERE a.id = ?",
        )
        .bind(attempt_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| AttemptInfo {
            attempt_id: r.get("id"),
            campaign_id: r.get("campaign_id"),
            contact_id: r.get("contact_id"),
            status: r.get("status"),
            phone: r.get("phone"),
            name: r.get("name"),
            vars: vars_from_json(r.get::<&str, _>("vars")),
            outcome: r.get("outcome"),
            answered: r.get::<Option<i64>, _>("answered_at").is_some(),
            provider_call_id: r.get("provider_call_id"),
        }))
    }

    async fn attempt_by_call_id(&self, call_id: &str) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT id FROM attempts WHERE provider_call_id = ?")
                .bind(call_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn record_event(&self, event: &CallEvent, progress: Option<&Progress>) -> Result<()> {
        self.grouped(GroupOp::Event(event.clone(), progress.cloned()))
            .await
            .map(|_| ())
    }

    async fn close_attempt(
        &self,
        attempt_id: i64,
        close: &AttemptClose,
        policy: &RetryPolicy,
    ) -> Result<Option<NextState>> {
        match self
            .grouped(GroupOp::Close(CloseJob {
                attempt_id,
                close: close.clone(),
                policy: policy.clone(),
            }))
            .await?
        {
            GroupOut::Closed(next) => Ok(next),
            GroupOut::Done => Ok(None),
        }
    }

    async fn close_attempts(&self, jobs: &[CloseJob]) -> Result<Vec<Option<NextState>>> {
        self.direct
            .run(&self.writer_pool, |db| {
                direct::in_transaction(db, |tx| {
                    jobs.iter()
                        .map(|job| direct::close_attempt(tx, job))
                        .collect()
                })
            })
            .await
    }

    async fn store_report_batch(&self, body: &str, now: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO report_batches (body, received_at) VALUES (?, ?) RETURNING id",
        )
        .bind(body)
        .bind(now)
        .fetch_one(&*self.writer().await)
        .await?)
    }

    async fn finish_report_batch(
        &self,
        batch_id: i64,
        lines: i64,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query("UPDATE report_batches SET lines = ?, error = ? WHERE id = ?")
            .bind(lines)
            .bind(error)
            .bind(batch_id)
            .execute(&*self.writer().await)
            .await?;
        Ok(())
    }

    async fn apply_report_lines(
        &self,
        batch_id: i64,
        lines: &[ReportLine],
        now: i64,
    ) -> Result<Vec<ReportLineApplied>> {
        self.direct
            .run(&self.writer_pool, |db| {
                direct::in_transaction(db, |tx| {
                    direct::apply_report_lines(tx, batch_id, lines, now)
                })
            })
            .await
    }

    async fn open_attempts(&self) -> Result<Vec<OpenAttempt>> {
        let rows = sqlx::query(
            "SELECT id, campaign_id, status, created_at FROM attempts WHERE status IN ('launching', 'ringing') ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| OpenAttempt {
                attempt_id: r.get("id"),
                campaign_id: r.get("campaign_id"),
                status: r.get("status"),
                created_at: r.get("created_at"),
            })
            .collect())
    }

    async fn unfinished_contacts(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM contacts c JOIN campaigns k ON k.id = c.campaign_id
             WHERE k.paused = 0 AND c.state IN ('pending', 'scheduled', 'in_progress')",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    async fn stats(&self, campaign: &str) -> Result<CampaignStats> {
        let mut stats = CampaignStats::default();
        for r in sqlx::query(
            "SELECT state, COUNT(*) AS n FROM contacts WHERE campaign_id = ? GROUP BY state",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await?
        {
            let n: i64 = r.get("n");
            stats.contacts += n;
            stats.states.insert(r.get("state"), n);
        }
        for r in sqlx::query(
            "SELECT COALESCE(result, 'open') AS result, COUNT(*) AS n, COALESCE(SUM(talk_seconds), 0) AS talk,
                    COALESCE(SUM(cost), 0.0) AS cost
             FROM attempts WHERE campaign_id = ? AND status <> 'not_placed' GROUP BY COALESCE(result, 'open')",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await?
        {
            stats.attempts.insert(r.get("result"), r.get("n"));
            stats.talk_seconds += r.get::<i64, _>("talk");
            stats.cost += r.get::<f64, _>("cost");
        }
        Ok(stats)
    }

    async fn dnc_upsert(&self, entries: &[DncEntry], now: i64) -> Result<u64> {
        let w = self.writer().await;
        let mut tx = w.begin().await?;
        let mut n = 0;
        for e in entries {
            n += sqlx::query(
                "INSERT INTO do_not_call (phone, until_date, hours, source, created_at) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (phone) DO UPDATE SET until_date = excluded.until_date, hours = excluded.hours,
                     source = excluded.source, created_at = excluded.created_at",
            )
            .bind(&e.phone)
            .bind(&e.until_date)
            .bind(&e.hours)
            .bind(&e.source)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }

    async fn dnc_remove(&self, phone: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM do_not_call WHERE phone = ?")
            .bind(phone)
            .execute(&*self.writer().await)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn dnc_list(&self) -> Result<Vec<DncEntry>> {
        let rows =
            sqlx::query("SELECT phone, until_date, hours, source FROM do_not_call ORDER BY phone")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|r| DncEntry {
                phone: r.get("phone"),
                until_date: r.get("until_date"),
                hours: r.get("hours"),
                source: r.get("source"),
            })
            .collect())
    }

    async fn contact(&self, campaign: &str, phone: &str) -> Result<Option<ContactDetail>> {
        let row = sqlx::query(
            "SELECT id, campaign_id, phone, name, state, attempts, next_at, last_result, timezone, appointment_at, note, vars
             FROM contacts WHERE campaign_id = ? AND phone = ?",
        )
        .bind(campaign)
        .bind(phone)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| ContactDetail {
            contact_id: r.get("id"),
            campaign_id: r.get("campaign_id"),
            phone: r.get("phone"),
            name: r.get("name"),
            state: r.get("state"),
            attempts: r.get("attempts"),
            next_at: r.get("next_at"),
            last_result: r.get("last_result"),
            timezone: r.get("timezone"),
            appointment_at: r.get("appointment_at"),
            vars: r.get("vars"),
            note: r.get("note"),
        }))
    }

    async fn attempts_of(&self, contact_id: i64) -> Result<Vec<AttemptRow>> {
        let rows = sqlx::query(
            "SELECT id, number, status, result, outcome, dtmf, provider_call_id, created_at, ended_at, talk_seconds, cost, error
             FROM attempts WHERE contact_id = ? ORDER BY number",
        )
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| AttemptRow {
                attempt_id: r.get("id"),
                number: r.get("number"),
                status: r.get("status"),
                result: r.get("result"),
                outcome: r.get("outcome"),
                dtmf: r.get("dtmf"),
                provider_call_id: r.get("provider_call_id"),
                created_at: r.get("created_at"),
                ended_at: r.get("ended_at"),
                talk_seconds: r.get("talk_seconds"),
                cost: r.get("cost"),
                error: r.get("error"),
            })
            .collect())
    }

    async fn dtmf_events(&self) -> Result<Vec<(Option<String>, String)>> {
        let rows = sqlx::query(
            "SELECT provider_call_id, dtmf FROM call_events WHERE dtmf IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("provider_call_id"), r.get("dtmf")))
            .collect())
    }

    async fn next_due(&self, campaign: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            // Two index edge look-ups (see claim_due), not a range scan of the campaign.
            "SELECT MIN(m) FROM (SELECT MIN(next_at) AS m FROM contacts WHERE campaign_id = ?1 AND state = 'pending'
                                 UNION ALL
                                 SELECT MIN(next_at) FROM contacts WHERE campaign_id = ?1 AND state = 'scheduled')",
        )
        .bind(campaign)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn imported_files(&self, campaign: &str) -> Result<Vec<FileRecord>> {
        let rows = sqlx::query(
            "SELECT file_name, rows_read, imported, rejected, duplicates FROM imported_files WHERE campaign_id = ? ORDER BY id",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| FileRecord {
                file_name: r.get("file_name"),
                rows_read: r.get("rows_read"),
                imported: r.get("imported"),
                rejected: r.get("rejected"),
                duplicates: r.get("duplicates"),
            })
            .collect())
    }

    async fn survey_answers(&self, campaign: &str) -> Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT question, answer, COUNT(*) AS n FROM survey_answers WHERE campaign_id = ?
             GROUP BY question, answer ORDER BY question, answer",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("question"), r.get("answer"), r.get("n")))
            .collect())
    }

    async fn set_notify_target(&self, campaign: &str, url: Option<&str>, now: i64) -> Result<()> {
        match url {
            Some(url) => {
                sqlx::query(
                    "INSERT INTO notify_targets (campaign_id, url, updated_at) VALUES (?, ?, ?) ON CONFLICT (campaign_id) DO UPDATE SET url = excluded.url, updated_at = excluded.updated_at",
                )
                .bind(campaign)
                .bind(url)
                .bind(now)
                .execute(&*self.writer().await)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM notify_targets WHERE campaign_id = ?")
                    .bind(campaign)
                    .execute(&*self.writer().await)
                    .await?;
            }
        }
        Ok(())
    }

    async fn due_notifications(&self, now: i64, limit: u32) -> Result<Vec<Notification>> {
        let rows = sqlx::query(
            "SELECT o.id, o.campaign_id, o.url, o.state, o.created_at, o.tries, c.phone, c.name, c.vars, c.attempts, c.dtmf, c.last_result, c.last_call_at
             FROM notify_outbox o JOIN contacts c ON c.id = o.contact_id
             WHERE o.delivered_at IS NULL AND o.gave_up_at IS NULL AND o.next_try_at <= ?
             ORDER BY o.next_try_at, o.id LIMIT ?",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Notification {
                id: r.get("id"),
                campaign_id: r.get("campaign_id"),
                url: r.get("url"),
                state: r.get("state"),
                created_at: r.get("created_at"),
                tries: r.get("tries"),
                phone: r.get("phone"),
                name: r.get("name"),
                vars: vars_from_json(r.get::<&str, _>("vars")),
                attempts: r.get("attempts"),
                dtmf: r.get("dtmf"),
                last_result: r.get("last_result"),
                last_call_at: r.get("last_call_at"),
            })
            .collect())
    }

    async fn notification_delivered(&self, id: i64, now: i64) -> Result<()> {
        sqlx::query("UPDATE notify_outbox SET delivered_at = ?, last_error = NULL WHERE id = ? AND delivered_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&*self.writer().await)
            .await?;
        Ok(())
    }

    async fn notification_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE notify_outbox SET tries = tries + 1, last_error = ?,
                 next_try_at = COALESCE(?, next_try_at),
                 gave_up_at = CASE WHEN ? IS NULL THEN ? ELSE NULL END
             WHERE id = ? AND delivered_at IS NULL",
        )
        .bind(error)
        .bind(retry_at)
        .bind(retry_at)
        .bind(now)
        .bind(id)
        .execute(&*self.writer().await)
        .await?;
        Ok(())
    }

    async fn next_notification_at(&self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_try_at) FROM notify_outbox WHERE delivered_at IS NULL AND gave_up_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    async fn outbox(&self, campaign: &str) -> Result<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT id, contact_id, state, tries, next_try_at, last_error, delivered_at, gave_up_at
             FROM notify_outbox WHERE campaign_id = ? ORDER BY id",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| OutboxRow {
                id: r.get("id"),
                contact_id: r.get("contact_id"),
                state: r.get("state"),
                tries: r.get("tries"),
                next_try_at: r.get("next_try_at"),
                last_error: r.get("last_error"),
                delivered_at: r.get("delivered_at"),
                gave_up_at: r.get("gave_up_at"),
            })
            .collect())
    }

    async fn abandon_counts(&self, campaign: &str, since: i64) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS answered, COALESCE(SUM(CASE WHEN outcome = 'abandoned' THEN 1 ELSE 0 END), 0) AS abandoned
             FROM attempts WHERE campaign_id = ? AND status = 'closed' AND answered_at >= ?",
        )
        .bind(campaign)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.get("answered"), row.get("abandoned")))
    }

    async fn answered_calls(
        &self,
        campaign: &str,
        since: i64,
    ) -> Result<Vec<(i64, Option<String>)>> {
        let rows = sqlx::query(
            "SELECT answered_at, outcome FROM attempts
             WHERE campaign_id = ? AND status = 'closed' AND answered_at >= ? ORDER BY answered_at, id",
        )
        .bind(campaign)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("answered_at"), r.get("outcome")))
            .collect())
    }

    async fn contact_report(&self, campaign: &str) -> Result<Vec<ContactReportRow>> {
        let rows = sqlx::query(
            "SELECT c.id, c.phone, c.name, c.state, c.attempts, c.last_result, c.dtmf, c.last_call_at, c.vars,
                    COALESCE(a.talk, 0) AS talk, COALESCE(a.cost, 0.0) AS cost
             FROM contacts c LEFT JOIN (
                 SELECT contact_id, SUM(talk_seconds) AS talk, SUM(cost) AS cost FROM attempts
                 WHERE campaign_id = ? AND status <> 'not_placed' GROUP BY contact_id
             ) a ON a.contact_id = c.id
             WHERE c.campaign_id = ? ORDER BY c.id",
        )
        .bind(campaign)
        .bind(campaign)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| ContactReportRow {
                contact_id: r.get("id"),
                phone: r.get("phone"),
                name: r.get("name"),
                state: r.get("state"),
                attempts: r.get("attempts"),
                last_result: r.get("last_result"),
                dtmf: r.get("dtmf"),
                last_call_at: r.get("last_call_at"),
                talk_seconds: r.get("talk"),
                cost: r.get("cost"),
                vars: vars_from_json(r.get::<&str, _>("vars")),
            })
            .collect())
    }

    async fn attempt_facts(&self, campaign: &str) -> Result<Vec<AttemptFact>> {
        let rows = sqlx::query(
            "SELECT a.id, a.contact_id, c.phone, c.timezone, c.appointment_at, c.vars, a.created_at, a.launched_at,
                    a.answered_at, a.ended_at, a.result, a.outcome
             FROM attempts a JOIN contacts c ON c.id = a.contact_id
             WHERE a.campaign_id = ? AND a.status <> 'not_placed' ORDER BY a.created_at, a.id",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| AttemptFact {
                attempt_id: r.get("id"),
                contact_id: r.get("contact_id"),
                phone: r.get("phone"),
                timezone: r.get("timezone"),
                appointment_at: r.get("appointment_at"),
                vars: r.get("vars"),
                created_at: r.get("created_at"),
                launched_at: r.get("launched_at"),
                answered_at: r.get("answered_at"),
                ended_at: r.get("ended_at"),
                result: r.get("result"),
                outcome: r.get("outcome"),
            })
            .collect())
    }

    async fn events_of(&self, contact_id: i64) -> Result<Vec<EventRow>> {
        let rows = sqlx::query(
            "SELECT e.attempt_id, e.kind, e.command, e.dtmf, e.statuscall, e.received_at
             FROM call_events e JOIN attempts a ON a.id = e.attempt_id
             WHERE a.contact_id = ? ORDER BY e.received_at, e.id",
        )
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| EventRow {
                attempt_id: r.get("attempt_id"),
                kind: r.get("kind"),
                command: r.get("command"),
                dtmf: r.get("dtmf"),
                statuscall: r.get("statuscall"),
                received_at: r.get("received_at"),
            })
            .collect())
    }

    async fn report_lines_of(&self, contact_id: i64) -> Result<Vec<ReportLineRow>> {
        let rows = sqlx::query(
            "SELECT l.attempt_id, l.status, l.startdate, l.duration_seconds, l.cost, l.received_at
             FROM report_lines l JOIN attempts a ON a.id = l.attempt_id
             WHERE a.contact_id = ? ORDER BY l.received_at, l.id",
        )
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| ReportLineRow {
                attempt_id: r.get("attempt_id"),
                status: r.get("status"),
                startdate: r.get("startdate"),
                duration_seconds: r.get("duration_seconds"),
                cost: r.get("cost"),
                received_at: r.get("received_at"),
            })
            .collect())
    }

    async fn opt_outs(&self, campaign: &str) -> Result<Vec<OptOutRow>> {
        let rows = sqlx::query(
            "SELECT a.id, c.phone, d.created_at AS dnc_at, d.source,
                    (SELECT MAX(e.received_at) FROM call_events e WHERE e.attempt_id = a.id AND e.dtmf IS NOT NULL) AS keys_at
             FROM attempts a JOIN contacts c ON c.id = a.contact_id
             LEFT JOIN do_not_call d ON d.phone = c.phone
             WHERE a.campaign_id = ? AND a.outcome = 'opted_out' ORDER BY a.id",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| OptOutRow {
                attempt_id: r.get("id"),
                phone: r.get("phone"),
                keys_at: r.get("keys_at"),
                dnc_at: r.get("dnc_at"),
                dnc_source: r.get("source"),
            })
            .collect())
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
enum GroupOp {
    Event(CallEvent, Option<Progress>),
    Launched {
        attempt_id: i64,
        call_id: String,
        now: i64,
    },
    Close(CloseJob),
}

#[derive(Debug)]
enum GroupOut {
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
        } => direct::mark_launched(db, *attempt_id, call_id, *now).map(|()| GroupOut::Done),
        GroupOp::Close(job) => direct::close_attempt(db, job).map(GroupOut::Closed),
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
mod tests {
    use super::*;

    #[test]
    fn the_rebuilt_table_keeps_every_column_and_state_but_not_the_inline_unique() {
        let sql = "CREATE TABLE contacts (\n    id INTEGER PRIMARY KEY,\n    phone TEXT NOT NULL,\n    state TEXT NOT NULL CHECK (state IN (\n        'pending', 'failed')),\n    note TEXT,\n    UNIQUE (campaign_id, phone)\n)";
        assert_eq!(
            without_unique_phone(sql).as_deref(),
            Some("CREATE TABLE contacts_rebuild ( id INTEGER PRIMARY KEY, phone TEXT NOT NULL, state TEXT NOT NULL CHECK (state = 'pending' OR state = 'failed'), note TEXT )")
        );
        assert_eq!(
            without_unique_phone("CREATE TABLE contacts (id INTEGER)"),
            None
        );
    }

    /// A store on `url` with campaign `c1` of three contacts, all claimed: their attempt ids.
    async fn store_with_claims(url: &str) -> (SqliteStore, Vec<i64>) {
        let store = SqliteStore::connect(url).await.expect("connect");
        store.migrate().await.unwrap();
        store
            .upsert_campaign("c1", "survey", "T", "", 1_000)
            .await
            .unwrap();
        let contacts: Vec<ContactRecord> = (0..3)
            .map(|i| {
                ContactRecord::from(&NewContact {
                    phone: format!("+3460000000{i}"),
                    name: String::new(),
                    vars_json: "{}".into(),
                    timezone: None,
                    appointment: None,
                })
            })
            .collect();
        let file = FileImport {
            file_name: "l.csv".into(),
            hash: "h".into(),
            rows_read: 3,
            rejected: 0,
            duplicates: 0,
            expected_rows: 3,
        };
        let id = store
            .begin_import("c1", &file, 1_000)
            .await
            .unwrap()
            .unwrap();
        store
            .insert_contacts("c1", id, &contacts, 1_000)
            .await
            .unwrap();
        store.finish_import(id, &file).await.unwrap();
        let claims = store
            .claim_due("c1", 1_000, 3, &crate::store::launch_all)
            .await
            .unwrap();
        let ids = claims.iter().map(|c| c.attempt_id).collect();
        (store, ids)
    }

    fn key_press(attempt: i64, k: &str) -> GroupOp {
        GroupOp::Event(
            CallEvent {
                attempt_id: Some(attempt),
                provider_call_id: Some(format!("c.{attempt}")),
                kind: "result".into(),
                command: None,
                dtmf: Some(k.into()),
                statuscall: None,
                fields: "{}".into(),
                received_at: 2_000,
            },
            Some(Progress {
                answered: true,
                dtmf: Some(k.into()),
                answers: vec![("q".into(), k.into())],
                ..Default::default()
            }),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_keeps_the_order_of_the_writes_on_one_attempt() {
        let db = crate::testing::TestDb::sqlite();
        let (store, claims) = store_with_claims(&db.url).await;
        let (a, b) = (claims[0], claims[1]);
        let key = key_press;
        let launched = |attempt: i64| GroupOp::Launched {
            attempt_id: attempt,
            call_id: format!("c.{attempt}"),
            now: 1_500,
        };
        // Runs: [launch a, launch b] [a1, b1] [a2, b2] [a3]: keys of one attempt stay in order.
        let ops = [
            launched(a),
            launched(b),
            key(a, "1"),
            key(b, "7"),
            key(a, "2"),
            key(b, "8"),
            key(a, "3"),
        ];
        let refs: Vec<&GroupOp> = ops.iter().collect();
        let out = group_apply(&store.writer_pool, &store.direct, &refs)
            .await
            .unwrap();
        assert_eq!(out.len(), ops.len());
        let dtmf: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, dtmf, status FROM attempts WHERE dtmf IS NOT NULL ORDER BY id",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        assert_eq!(
            dtmf,
            vec![
                (a, "123".into(), "ringing".into()),
                (b, "78".into(), "ringing".into())
            ]
        );
        let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM call_events")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(events, 5);
        let answers: Vec<(i64, String)> =
            sqlx::query_as("SELECT attempt_id, answer FROM survey_answers ORDER BY attempt_id")
                .fetch_all(&store.pool)
                .await
                .unwrap();
        assert_eq!(
            answers,
            vec![(a, "3".into()), (b, "8".into())],
            "the last answer wins"
        );
        store.close().await;
    }

    /// A write that fails in a group (here an event naming an attempt that does not exist,
    /// refused by the foreign key) fails its own caller only and leaves nothing behind: the
    /// group runs again with a savepoint per write, and the writes before and after it are stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bad_write_in_a_group_fails_only_its_own_caller() {
        let db = crate::testing::TestDb::sqlite();
        let (store, claims) = store_with_claims(&db.url).await;
        let (a, b) = (claims[0], claims[1]);
        let ops = [
            key_press(a, "1"),
            key_press(999_999, "5"),
            key_press(b, "2"),
        ];
        let refs: Vec<&GroupOp> = ops.iter().collect();
        let out = group_apply(&store.writer_pool, &store.direct, &refs)
            .await
            .expect("the group commits");
        assert!(out[0].is_ok() && out[2].is_ok(), "{out:?}");
        let err = out[1]
            .as_ref()
            .expect_err("the event of no attempt is refused");
        assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
        let stored: Vec<(Option<i64>, String)> =
            sqlx::query_as("SELECT attempt_id, dtmf FROM call_events ORDER BY id")
                .fetch_all(&store.pool)
                .await
                .unwrap();
        assert_eq!(stored, vec![(Some(a), "1".into()), (Some(b), "2".into())]);
        let answers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM survey_answers")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(
            answers, 2,
            "the failed write's survey answer was undone with it"
        );
        store.close().await;
    }

    /// Writes through sqlx and through the direct connection, many at once from many tasks,
    /// take turns on the process's write lock: every one succeeds and none waits in SQLite's
    /// busy handler (a `database is locked` would mean two writers of this process collided).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn direct_and_sqlx_writes_take_turns() {
        let db = crate::testing::TestDb::sqlite();
        let (store, claims) = store_with_claims(&db.url).await;
        let store = Arc::new(store);
        // No waiting in the busy handler at all: a collision fails at once.
        sqlx::query("PRAGMA busy_timeout = 0")
            .execute(&*store.writer().await)
            .await
            .unwrap();
        store
            .direct
            .run(
                &store.writer_pool,
                |db| Ok(db.busy_timeout(Duration::ZERO)?),
            )
            .await
            .unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..600i64 {
            let store = store.clone();
            let attempt = claims[(i % 3) as usize];
            tasks.spawn(async move {
                if i % 2 == 0 {
                    store
                        .record_event(
                            &CallEvent {
                                attempt_id: Some(attempt),
                                provider_call_id: None,
                                kind: "start".into(),
                                command: None,
                                dtmf: None,
                                statuscall: None,
                                fields: "{}".into(),
                                received_at: 3_000 + i,
                            },
                            None,
                        )
                        .await
                } else {
                    store
                        .set_paused("c1", i % 4 == 1, Some("test"), 3_000 + i)
                        .await
                        .map(|_| ())
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.expect("task").expect("every write succeeds");
        }
        let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM call_events")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(events, 300);
        store.close().await;
    }

    /// An in-memory database has no file for a second connection: the direct writes borrow
    /// the sqlx writer's own handle instead, with the same results.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_in_memory_database_borrows_the_writers_handle() {
        let (store, claims) = store_with_claims("sqlite::memory:").await;
        assert!(
            store.direct.borrows(),
            "no file: the writer's handle is borrowed"
        );
        let a = claims[0];
        store.mark_launched(a, "c.1", 1_500).await.unwrap();
        store
            .record_event(
                &CallEvent {
                    attempt_id: Some(a),
                    provider_call_id: Some("c.1".into()),
                    kind: "result".into(),
                    command: None,
                    dtmf: Some("1".into()),
                    statuscall: None,
                    fields: "{}".into(),
                    received_at: 2_000,
                },
                Some(&Progress {
                    answered: true,
                    dtmf: Some("1".into()),
                    ..Default::default()
                }),
            )
            .await
            .unwrap();
        let line = ReportLine {
            provider_call_id: "c.1".into(),
            startdate: "2026-12-02 10:00:00".into(),
            dst: "600000000".into(),
            status: "answer".into(),
            duration_seconds: 12,
            cost: 0.01,
            raw: "{}".into(),
        };
        let batch = store.store_report_batch("[]", 2_500).await.unwrap();
        let applied = store
            .apply_report_lines(batch, &[line.clone(), line], 2_500)
            .await
            .unwrap();
        assert!(applied[0].new && !applied[1].new, "{applied:?}");
        assert_eq!(applied[0].attempt, Some((a, "c1".to_string(), true)));
        let row: (String, Option<String>, Option<i64>) =
            sqlx::query_as("SELECT status, dtmf, talk_seconds FROM attempts WHERE id = ?")
                .bind(a)
                .fetch_one(&store.pool)
                .await
                .unwrap();
        assert_eq!(row, ("ringing".into(), Some("1".into()), Some(12)));
        store.close().await;
    }
}
