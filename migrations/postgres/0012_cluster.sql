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

-- When this side replied `hangup` (wall-clock ms of the daemon's clock): the call no longer
-- holds one of the account's concurrent calls, though its attempt stays open until the end
-- request or the report line closes it.
ALTER TABLE attempts ADD COLUMN hung_up_at BIGINT;

COMMENT ON TABLE duty_leases IS 'Duties one daemon at a time performs (reaper, …): holder and lease deadline.';
COMMENT ON COLUMN duty_leases.duty IS 'The duty''s name (reaper, …).';
COMMENT ON COLUMN duty_leases.holder IS 'The daemon holding it: node name, process id and a random tag.';
COMMENT ON COLUMN duty_leases.expires_at IS 'Lease deadline, wall-clock Unix milliseconds; renewed every 2 s by its holder.';
COMMENT ON TABLE launch_slots IS 'The launch pacing every daemon shares: next free launch time per scope.';
COMMENT ON COLUMN launch_slots.scope IS 'account, or campaign:<id>.';
COMMENT ON COLUMN launch_slots.next_at IS 'Next free launch time, wall-clock Unix microseconds.';
COMMENT ON COLUMN attempts.hung_up_at IS 'When this side replied hangup (Unix ms); the call no longer counts against max_concurrent_calls.';
