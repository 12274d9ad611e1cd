-- The desk's sessions live in the database, so that any daemon of several on one database
-- answers an agent's page: one row per logged-in agent (a newer login replaces the row). The
-- token itself is never stored, only its SHA-256 (hex); `session_id` names the session in the
-- live messages that close its event stream on whichever daemon holds it.
CREATE TABLE desk_sessions (
    agent       TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    csrf        TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Live messages (desk events, dashboard changes) too large for a notification's payload
-- (8000 bytes): the notification on the `pregonero_live` channel carries the row's id. Kept
-- a few minutes.
CREATE TABLE live_messages (
    id          BIGSERIAL PRIMARY KEY,
    payload     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX live_messages_created ON live_messages (created_at);

COMMENT ON TABLE desk_sessions IS 'Logged-in desk agents: one session per agent, shared by every daemon.';
COMMENT ON COLUMN desk_sessions.agent IS 'The agent (agents.name).';
COMMENT ON COLUMN desk_sessions.token_hash IS 'SHA-256 (hex) of the session cookie''s token; the token itself is never stored.';
COMMENT ON COLUMN desk_sessions.csrf IS 'The token the page sends in X-CSRF-Token with every POST.';
COMMENT ON COLUMN desk_sessions.session_id IS 'Random name of the session in live messages (closing its event stream).';
COMMENT ON COLUMN desk_sessions.created_at IS 'When the agent logged in.';
COMMENT ON TABLE live_messages IS 'Live messages too large for a notification payload; the notification names the row. Pruned after a few minutes.';
COMMENT ON COLUMN live_messages.id IS 'Row id, named by the notification (@id).';
COMMENT ON COLUMN live_messages.payload IS 'The message (JSON): a desk event, a dashboard change or a session ended.';
COMMENT ON COLUMN live_messages.created_at IS 'When it was published.';
