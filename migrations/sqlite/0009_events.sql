-- Events to the customer's systems (`[events]` of a campaign): the reminder outbox of 0006,
-- generalised. Every row of `notify_outbox` is now one event for one receiver:
--   `event`   its type (`call.launched`, `call.answered`, `call.ended`, `contact.final`,
--             `transfer.started`, `optout`, …);
--   `format`  `notify` for the reminder's `notify_url` (a `contact.final` event with the payload
--             of 0006, unchanged) or `event` for the signed body of `[events] url`;
--   `data`    the event's own facts as JSON, taken when the fact was recorded.
-- The triggers below write the rows in the transaction that records the fact, whichever code
-- path does it, and only for campaigns whose `event_targets` row asks for that type.
ALTER TABLE notify_outbox ADD COLUMN event TEXT NOT NULL DEFAULT 'contact.final';
ALTER TABLE notify_outbox ADD COLUMN format TEXT NOT NULL DEFAULT 'notify';
ALTER TABLE notify_outbox ADD COLUMN attempt_id INTEGER;
ALTER TABLE notify_outbox ADD COLUMN data TEXT;
-- Delivery is in order per contact and receiver: the earliest pending row of each goes first.
CREATE INDEX notify_outbox_pending ON notify_outbox (contact_id, id) WHERE delivered_at IS NULL AND gave_up_at IS NULL;

-- A receiver answering 410 Gone stops deliveries to it (`stopped_at`) until the URL changes.
ALTER TABLE notify_targets ADD COLUMN stopped_at INTEGER;

CREATE TABLE event_targets (
    campaign_id  TEXT PRIMARY KEY REFERENCES campaigns(id),
    url          TEXT NOT NULL,
    -- The types sent, comma-wrapped: ",call.launched,call.ended,".
    types        TEXT NOT NULL,
    stopped_at   INTEGER,
    updated_at   INTEGER NOT NULL
);

DROP TRIGGER contacts_notify_final_state;
CREATE TRIGGER contacts_notify_final_state AFTER UPDATE OF state ON contacts
WHEN NEW.state NOT IN ('pending', 'scheduled', 'in_progress') AND NEW.state <> OLD.state
BEGIN
    INSERT INTO notify_outbox (campaign_id, contact_id, state, url, created_at, next_try_at)
    SELECT NEW.campaign_id, NEW.id, NEW.state, t.url, NEW.updated_at, NEW.updated_at
    FROM notify_targets t WHERE t.campaign_id = NEW.campaign_id AND t.stopped_at IS NULL;
    INSERT INTO notify_outbox (campaign_id, contact_id, state, url, created_at, next_try_at, event, format, data)
    SELECT NEW.campaign_id, NEW.id, NEW.state, t.url, NEW.updated_at, NEW.updated_at, 'contact.final', 'event',
           json_object('state', NEW.state, 'attempts', NEW.attempts, 'last_result', NEW.last_result,
                       'dtmf', NEW.dtmf, 'last_call_at', NEW.last_call_at)
    FROM event_targets t
    WHERE t.campaign_id = NEW.campaign_id AND t.stopped_at IS NULL AND t.types LIKE '%,contact.final,%';
END;

CREATE TRIGGER attempts_event_launched AFTER UPDATE OF launched_at ON attempts
WHEN OLD.launched_at IS NULL AND NEW.launched_at IS NOT NULL
BEGIN
    INSERT INTO notify_outbox (campaign_id, contact_id, state, url, created_at, next_try_at, event, format, attempt_id, data)
    SELECT NEW.campaign_id, NEW.contact_id, '', t.url, NEW.launched_at, NEW.launched_at, 'call.launched', 'event', NEW.id,
           json_object('attempt', NEW.number, 'call_id', NEW.provider_call_id)
    FROM event_targets t
    WHERE t.campaign_id = NEW.campaign_id AND t.stopped_at IS NULL AND t.types LIKE '%,call.launched,%';
END;

CREATE TRIGGER attempts_event_answered AFTER UPDATE OF answered_at ON attempts
WHEN OLD.answered_at IS NULL AND NEW.answered_at IS NOT NULL
BEGIN
    INSERT INTO notify_outbox (campaign_id, contact_id, state, url, created_at, next_try_at, event, format, attempt_id, data)
    SELECT NEW.campaign_id, NEW.contact_id, '', t.url, NEW.answered_at, NEW.answered_at, 'call.answered', 'event', NEW.id,
           json_object('attempt', NEW.number, 'call_id', NEW.provider_call_id)
    FROM event_targets t
    WHERE t.campaign_id = NEW.campaign_id AND t.stopped_at IS NULL AND t.types LIKE '%,call.answered,%';
END;

CREATE TRIGGER attempts_event_optout AFTER UPDATE OF outcome ON attempts
WHEN NEW.outcome = 'opted_out' AND OLD.outcome IS NOT 'opted_out'
BEGIN
    INSERT INTO notify_outbox (campaign_id, contact_id, state, url, created_at, next_try_at, event, format, attempt_id, data)
    SELECT NEW.campaign_id, NEW.contact_id, '', t.url, COALESCE(NEW.answered_at, NEW.created_at),
           COALESCE(NEW.answered_at, NEW.created_at), 'optout', 'event', NEW.id,
           json_object('attempt', NEW.number, 'call_id', NEW.provider_call_id, 'dtmf', NEW.dtmf)
    FROM event_targets t
    WHERE t.campaign_id = NEW.campaign_id AND t.stopped_at IS NULL AND t.types LIKE '%,optout,%';
END;

CREATE TRIGGER attempts_event_ended AFTER UPDATE OF status ON attempts
WHEN NEW.status = 'closed' AND OLD.status <> 'closed'
BEGIN
    INSERT INTO notify_outbox (campaign_id, contact_id, state, url, created_at, next_try_at, event, format, attempt_id, data)
    SELECT NEW.campaign_id, NEW.contact_id, '', t.url, COALESCE(NEW.ended_at, NEW.created_at),
           COALESCE(NEW.ended_at, NEW.created_at), 'call.ended', 'event', NEW.id,
           json_object('attempt', NEW.number, 'call_id', NEW.provider_call_id, 'result', NEW.result,
                       'outcome', NEW.outcome, 'dtmf', NEW.dtmf, 'duration_seconds', NEW.duration_seconds,
                       'talk_seconds', NEW.talk_seconds)
    FROM event_targets t
    WHERE t.campaign_id = NEW.campaign_id AND t.stopped_at IS NULL AND t.types LIKE '%,call.ended,%';
END;

-- Inbound calls: callees calling back the number that called them (`/apivoice/inbound`).
-- `campaign_id` / `contact_id` are the contact the caller was matched to (none for unknown
-- and anonymous callers); `route` what the call did (`agent`, `menu`, `greeting`);
-- `outcome` how it ended (`to_agent`, `opted_out`, `confirmed`, `cancelled`, …).
CREATE TABLE inbound_calls (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    provider_call_id  TEXT,
    caller            TEXT NOT NULL,
    did               TEXT NOT NULL,
    campaign_id       TEXT REFERENCES campaigns(id),
    contact_id        INTEGER REFERENCES contacts(id),
    route             TEXT NOT NULL,
    outcome           TEXT,
    received_at       INTEGER NOT NULL,
    ended_at          INTEGER,
    duration_seconds  INTEGER,
    talk_seconds      INTEGER
);
CREATE UNIQUE INDEX inbound_calls_call_id ON inbound_calls (provider_call_id) WHERE provider_call_id IS NOT NULL;
CREATE INDEX inbound_calls_campaign ON inbound_calls (campaign_id);
