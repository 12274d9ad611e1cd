-- The agent desk: agents of the desk (`pregonero agent add`), their live state, the calls
-- routed to them and the dispositions they record.
--
-- `state`: logged_out | ready | paused | on_call | wrapup. `state_since` orders the ready
-- agents of a team (idle longest first); `attempt_id` is the call an agent is on or wrapping
-- up; `last_seen` is the desk page's heartbeat.
CREATE TABLE agents (
    name           TEXT PRIMARY KEY,
    extension      TEXT NOT NULL UNIQUE,
    team           TEXT NOT NULL DEFAULT '',
    password_hash  TEXT,
    state          TEXT NOT NULL DEFAULT 'logged_out'
                   CHECK (state IN ('logged_out', 'ready', 'paused', 'on_call', 'wrapup')),
    reason         TEXT,
    state_since    INTEGER NOT NULL,
    attempt_id     INTEGER,
    wrapup_until   INTEGER,
    last_seen      INTEGER,
    created_at     INTEGER NOT NULL
);
CREATE INDEX agents_ready ON agents (team, state, state_since, name);

-- One row per ring of an agent: who was offered which call, whether they took it.
CREATE TABLE agent_calls (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    attempt_id   INTEGER NOT NULL,
    agent        TEXT NOT NULL,
    campaign_id  TEXT NOT NULL,
    assigned_at  INTEGER NOT NULL,
    answered_at  INTEGER,
    ended_at     INTEGER,
    wrapup_ended_at INTEGER,
    result       TEXT
);
CREATE INDEX agent_calls_attempt ON agent_calls (attempt_id);
CREATE INDEX agent_calls_agent ON agent_calls (agent, assigned_at);

-- What the agent recorded after a call (one per call and agent; a second one replaces it).
CREATE TABLE dispositions (
    attempt_id   INTEGER NOT NULL,
    agent        TEXT NOT NULL,
    campaign_id  TEXT NOT NULL,
    contact_id   INTEGER NOT NULL,
    disposition  TEXT NOT NULL,
    note         TEXT NOT NULL DEFAULT '',
    callback_at  INTEGER,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (attempt_id, agent)
);
CREATE INDEX dispositions_campaign ON dispositions (campaign_id);

-- A callback scheduled by a disposition: that contact goes to that agent first.
ALTER TABLE contacts ADD COLUMN callback_agent TEXT;
