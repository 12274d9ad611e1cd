-- The desk's sessions live in the database, so that any daemon of several on one database
-- answers an agent's page: one row per logged-in agent (a newer login replaces the row). The
-- token itself is never stored, only its SHA-256 (hex); `session_id` names the session in the
-- live messages that close its event stream on whichever daemon holds it.
CREATE TABLE desk_sessions (
    agent       TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    csrf        TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- Live messages (desk events, dashboard changes) too large for a PostgreSQL notification's
-- payload: the notification carries the row's id. Kept a few minutes. On SQLite one daemon
-- holds the file and delivers in process: the table stays empty.
CREATE TABLE live_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    payload     TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
