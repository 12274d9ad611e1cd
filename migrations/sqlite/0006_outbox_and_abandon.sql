-- Reminder outcome notifications (`[reminder].notify_url`): a durable outbox.
--
-- `notify_targets` holds the URL of each campaign that has one (kept in step with
-- campaign.toml when campaigns load). The trigger below writes an outbox row in the very
-- transaction that moves a contact of such a campaign into a final state, whichever code path
-- does it (flow outcome, spent attempts, do-not-call, deadline, provider refusal).
CREATE TABLE notify_targets (
    campaign_id  TEXT PRIMARY KEY REFERENCES campaigns(id),
    url          TEXT NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE notify_outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id   TEXT NOT NULL REFERENCES campaigns(id),
    contact_id    INTEGER NOT NULL REFERENCES contacts(id),
    state         TEXT NOT NULL,
    url           TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    tries         INTEGER NOT NULL DEFAULT 0,
    next_try_at   INTEGER NOT NULL,
    last_error    TEXT,
    delivered_at  INTEGER,
    gave_up_at    INTEGER
);
CREATE INDEX notify_outbox_due ON notify_outbox (next_try_at) WHERE delivered_at IS NULL AND gave_up_at IS NULL;

CREATE TRIGGER contacts_notify_final_state AFTER UPDATE OF state ON contacts
WHEN NEW.state NOT IN ('pending', 'scheduled', 'in_progress') AND NEW.state <> OLD.state
BEGIN
    INSERT INTO notify_outbox (campaign_id, contact_id, state, url, created_at, next_try_at)
    SELECT NEW.campaign_id, NEW.id, NEW.state, t.url, NEW.updated_at, NEW.updated_at
    FROM notify_targets t WHERE t.campaign_id = NEW.campaign_id;
END;

-- Sales: abandon rates over a rolling window read answered calls per campaign by time.
CREATE INDEX attempts_answered ON attempts (campaign_id, answered_at);
