-- pregonero schema, SQLite flavour. Times are Unix milliseconds (UTC) in both backends.
CREATE TABLE campaigns (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    title       TEXT NOT NULL DEFAULT '',
    paused      INTEGER NOT NULL DEFAULT 0,
    source      TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE imported_files (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id   TEXT NOT NULL REFERENCES campaigns(id),
    file_name     TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    rows_read     INTEGER NOT NULL,
    imported      INTEGER NOT NULL,
    rejected      INTEGER NOT NULL,
    duplicates    INTEGER NOT NULL,
    imported_at   INTEGER NOT NULL,
    UNIQUE (campaign_id, content_hash)
);

CREATE TABLE contacts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id    TEXT NOT NULL REFERENCES campaigns(id),
    file_id        INTEGER REFERENCES imported_files(id),
    phone          TEXT NOT NULL,
    name           TEXT NOT NULL DEFAULT '',
    vars           TEXT NOT NULL DEFAULT '{}',
    timezone       TEXT,
    state          TEXT NOT NULL DEFAULT 'pending' CHECK (state IN (
        'pending', 'scheduled', 'in_progress',
        'confirmed', 'cancelled', 'transferred', 'no_response', 'delivered', 'interested',
        'opted_out', 'not_interested', 'completed', 'partial', 'connected', 'abandoned',
        'unreachable', 'invalid_number', 'blocked', 'expired', 'failed')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_at        INTEGER NOT NULL,
    last_result    TEXT,
    last_call_at   INTEGER,
    dtmf           TEXT,
    updated_at     INTEGER NOT NULL,
    UNIQUE (campaign_id, phone)
);
CREATE INDEX contacts_due ON contacts (campaign_id, state, next_at);

-- One row per launch, written before the provider is called; its id travels as `userdata`.
CREATE TABLE attempts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id        INTEGER NOT NULL REFERENCES contacts(id),
    campaign_id       TEXT NOT NULL REFERENCES campaigns(id),
    number            INTEGER NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('launching', 'ringing', 'closed', 'not_placed')),
    provider_call_id  TEXT,
    result            TEXT,
    outcome           TEXT,
    dtmf              TEXT,
    error             TEXT,
    created_at        INTEGER NOT NULL,
    launched_at       INTEGER,
    answered_at       INTEGER,
    ended_at          INTEGER,
    duration_seconds  INTEGER,
    talk_seconds      INTEGER,
    cost              REAL,
    UNIQUE (contact_id, number)
);
CREATE UNIQUE INDEX attempts_call_id ON attempts (provider_call_id) WHERE provider_call_id IS NOT NULL;
CREATE INDEX attempts_open ON attempts (status) WHERE status IN ('launching', 'ringing');
CREATE INDEX attempts_campaign ON attempts (campaign_id);

-- Every control request, raw.
CREATE TABLE call_events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    attempt_id        INTEGER REFERENCES attempts(id),
    provider_call_id  TEXT,
    kind              TEXT NOT NULL,
    command           TEXT,
    dtmf              TEXT,
    statuscall        TEXT,
    fields            TEXT NOT NULL,
    received_at       INTEGER NOT NULL
);
CREATE INDEX call_events_attempt ON call_events (attempt_id);

-- Every call-report POST, stored before it is parsed.
CREATE TABLE report_batches (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    body         TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    lines        INTEGER,
    error        TEXT
);

CREATE TABLE report_lines (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id          INTEGER NOT NULL REFERENCES report_batches(id),
    provider_call_id  TEXT NOT NULL,
    startdate         TEXT NOT NULL,
    dst               TEXT NOT NULL,
    attempt_id        INTEGER REFERENCES attempts(id),
    status            TEXT NOT NULL,
    duration_seconds  INTEGER NOT NULL,
    cost              REAL NOT NULL,
    raw               TEXT NOT NULL,
    received_at       INTEGER NOT NULL,
    UNIQUE (provider_call_id, startdate, dst)
);
