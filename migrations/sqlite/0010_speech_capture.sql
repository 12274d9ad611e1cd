-- What callees said (`[[capture]]` steps): one row per contact and field, the last usable
-- transcript kept (an empty or failed one is recorded only while nothing better exists).
CREATE TABLE contact_captures (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id   INTEGER NOT NULL REFERENCES contacts(id),
    campaign_id  TEXT NOT NULL REFERENCES campaigns(id),
    attempt_id   INTEGER NOT NULL REFERENCES attempts(id),
    field        TEXT NOT NULL,
    -- `ok` (text holds the transcript), `empty` (nothing understood) or `failed` (the
    -- command's statuscode was 400 or more).
    status       TEXT NOT NULL,
    text         TEXT NOT NULL,
    captured_at  INTEGER NOT NULL,
    UNIQUE (contact_id, field)
);
CREATE INDEX contact_captures_campaign ON contact_captures (campaign_id);

-- Hashed exclusion lists (`pregonero dnc import FILE --hashed`): SHA-256 of E.164 numbers as
-- distributed, lowercase hex; the plain numbers of the list are never stored.
CREATE TABLE dnc_hashed (
    digest    TEXT PRIMARY KEY,
    source    TEXT NOT NULL,
    added_at  INTEGER NOT NULL
);
