-- Several daemons on one database (PostgreSQL; on SQLite one daemon holds the file).
--
-- A duty that one daemon at a time performs (the reaper, the outbox's deliveries, the folder
-- watcher's imports, callback scheduling) is held under a lease with a deadline: its holder
-- renews it well before `expires_at` (wall-clock ms); when the holder dies, another daemon
-- takes it once the deadline passed.
CREATE TABLE duty_leases (
    duty        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- The account's launch pacing shared by every daemon: the next free launch time (wall-clock
-- microseconds) of each scope (`account`, or `campaign:<id>`). A launch takes the latest of
-- its scopes' times and pushes each on by that scope's interval, in one transaction.
CREATE TABLE launch_slots (
    scope    TEXT PRIMARY KEY,
    next_at  BIGINT NOT NULL
);
