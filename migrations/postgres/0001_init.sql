-- pregonero schema, PostgreSQL flavour. Times are Unix milliseconds (UTC) in both backends.
CREATE TABLE campaigns (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    title       TEXT NOT NULL DEFAULT '',
    paused      BOOLEAN NOT NULL DEFAULT FALSE,
    source      TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE imported_files (
    id            BIGSERIAL PRIMARY KEY,
    campaign_id   TEXT NOT NULL REFERENCES campaigns(id),
    file_name     TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    rows_read     BIGINT NOT NULL,
    imported      BIGINT NOT NULL,
    rejected      BIGINT NOT NULL,
    duplicates    BIGINT NOT NULL,
    imported_at   BIGINT NOT NULL,
    UNIQUE (campaign_id, content_hash)
);

CREATE TABLE contacts (
    id             BIGSERIAL PRIMARY KEY,
    campaign_id    TEXT NOT NULL REFERENCES campaigns(id),
    file_id        BIGINT REFERENCES imported_files(id),
    phone          TEXT NOT NULL,
    name           TEXT NOT NULL DEFAULT '',
    vars           TEXT NOT NULL DEFAULT '{}',
    timezone       TEXT,
    state          TEXT NOT NULL DEFAULT 'pending' CHECK (state IN (
        'pending', 'scheduled', 'in_progress',
        'confirmed', 'cancelled', 'transferred', 'no_response', 'delivered', 'interested',
        'opted_out', 'not_interested', 'completed', 'partial', 'connected', 'abandoned',
        'unreachable', 'invalid_number', 'blocked', 'expired', 'failed')),
    attempts       BIGINT NOT NULL DEFAULT 0,
    next_at        BIGINT NOT NULL,
    last_result    TEXT,
    last_call_at   BIGINT,
    dtmf           TEXT,
    updated_at     BIGINT NOT NULL,
    UNIQUE (campaign_id, phone)
);
CREATE INDEX contacts_due ON contacts (campaign_id, state, next_at);

-- One row per launch, written before the provider is called; its id travels as `userdata`.
CREATE TABLE attempts (
    id                BIGSERIAL PRIMARY KEY,
    contact_id        BIGINT NOT NULL REFERENCES contacts(id),
    campaign_id       TEXT NOT NULL REFERENCES campaigns(id),
    number            BIGINT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('launching', 'ringing', 'closed', 'not_placed')),
    provider_call_id  TEXT,
    result            TEXT,
    outcome           TEXT,
    dtmf              TEXT,
    error             TEXT,
    created_at        BIGINT NOT NULL,
    launched_at       BIGINT,
    answered_at       BIGINT,
    ended_at          BIGINT,
    duration_seconds  BIGINT,
    talk_seconds      BIGINT,
    cost              DOUBLE PRECISION,
    UNIQUE (contact_id, number)
);
CREATE UNIQUE INDEX attempts_call_id ON attempts (provider_call_id) WHERE provider_call_id IS NOT NULL;
CREATE INDEX attempts_open ON attempts (status) WHERE status IN ('launching', 'ringing');
CREATE INDEX attempts_campaign ON attempts (campaign_id);

-- Every control request, raw.
CREATE TABLE call_events (
    id                BIGSERIAL PRIMARY KEY,
    attempt_id        BIGINT REFERENCES attempts(id),
    provider_call_id  TEXT,
    kind              TEXT NOT NULL,
    command           TEXT,
    dtmf              TEXT,
    statuscall        TEXT,
    fields            TEXT NOT NULL,
    received_at       BIGINT NOT NULL
);
CREATE INDEX call_events_attempt ON call_events (attempt_id);

-- Every call-report POST, stored before it is parsed.
CREATE TABLE report_batches (
    id           BIGSERIAL PRIMARY KEY,
    body         TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    lines        BIGINT,
    error        TEXT
);

CREATE TABLE report_lines (
    id                BIGSERIAL PRIMARY KEY,
    batch_id          BIGINT NOT NULL REFERENCES report_batches(id),
    provider_call_id  TEXT NOT NULL,
    startdate         TEXT NOT NULL,
    dst               TEXT NOT NULL,
    attempt_id        BIGINT REFERENCES attempts(id),
    status            TEXT NOT NULL,
    duration_seconds  BIGINT NOT NULL,
    cost              DOUBLE PRECISION NOT NULL,
    raw               TEXT NOT NULL,
    received_at       BIGINT NOT NULL,
    UNIQUE (provider_call_id, startdate, dst)
);
