-- Bulk imports. `import_lease` lets one importer at a time (across processes) write contacts,
-- so that a big first import of a campaign can drop the phone index and rebuild it at the end
-- (a million random-order inserts into it cost several times the rows themselves).
-- The uniqueness of (campaign_id, phone) itself moves from the inline constraint of 0001 (an
-- index SQLite cannot drop) to the named unique index `contacts_phone`: that table rebuild
-- needs foreign keys off, which a migration transaction cannot do, so the store does it right
-- after the migrations (`SqliteStore::migrate`).
--
-- At most one row: the import writing contacts now. `holder` is a token of that importer and
-- `pid` its process, `bulk` says the phone index is away, `heartbeat` is wall-clock ms. A row
-- whose process is gone or whose heartbeat is old is left by a crash.
CREATE TABLE import_lease (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    holder     INTEGER NOT NULL,
    pid        INTEGER NOT NULL,
    file_id    INTEGER NOT NULL,
    bulk       INTEGER NOT NULL,
    heartbeat  INTEGER NOT NULL
);
