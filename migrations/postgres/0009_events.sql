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
ALTER TABLE notify_outbox ADD COLUMN attempt_id BIGINT;
ALTER TABLE notify_outbox ADD COLUMN data TEXT;
-- Delivery is in order per contact and receiver: the earliest pending row of each goes first.
CREATE INDEX notify_outbox_pending ON notify_outbox (contact_id, id) WHERE delivered_at IS NULL AND gave_up_at IS NULL;

-- A receiver answering 410 Gone stops deliveries to it (`stopped_at`) until the URL changes.
ALTER TABLE notify_targets ADD COLUMN stopped_at BIGINT;

CREATE TABLE event_targets (
    campaign_id  TEXT PRIMARY KEY REFERENCES campaigns(id),
    url          TEXT NOT NULL,
    -- The types sent, comma-wrapped: ",call.launched,call.ended,".
    types        TEXT NOT NULL,
    stopped_at   BIGINT,
    updated_at   BIGINT NOT NULL
);

-- One event row for the campaign's receiver, when it asks for this type.
CREATE FUNCTION pregonero_event(p_campaign TEXT, p_contact BIGINT, p_state TEXT, p_at BIGINT,
                                p_event TEXT, p_attempt BIGINT, p_data TEXT) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO notify_outbox (campaign_id, contact_id, state, url, created_at, next_try_at, event, format, attempt_id, data)
    SELECT p_campaign, p_contact, p_state, t.url, p_at, p_at, p_event, 'event', p_attempt, p_data
    FROM event_targets t
    WHERE t.campaign_id = p_campaign AND t.stopped_at IS NULL AND t.types LIKE '%,' || p_event || ',%';
$$;

CREATE OR REPLACE FUNCTION contacts_notify_final_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state NOT IN ('pending', 'scheduled', 'in_progress') AND NEW.state IS DISTINCT FROM OLD.state THEN
        INSERT INTO notify_outbox (campaign_id, contact_id, state, url, created_at, next_try_at)
        SELECT NEW.campaign_id, NEW.id, NEW.state, t.url, NEW.updated_at, NEW.updated_at
        FROM notify_targets t WHERE t.campaign_id = NEW.campaign_id AND t.stopped_at IS NULL;
        PERFORM pregonero_event(NEW.campaign_id, NEW.id, NEW.state, NEW.updated_at, 'contact.final', NULL,
            json_build_object('state', NEW.state, 'attempts', NEW.attempts, 'last_result', NEW.last_result,
                              'dtmf', NEW.dtmf, 'last_call_at', NEW.last_call_at)::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION attempts_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.launched_at IS NULL AND NEW.launched_at IS NOT NULL THEN
        PERFORM pregonero_event(NEW.campaign_id, NEW.contact_id, '', NEW.launched_at, 'call.launched', NEW.id,
            json_build_object('attempt', NEW.number, 'call_id', NEW.provider_call_id)::text);
    END IF;
    IF OLD.answered_at IS NULL AND NEW.answered_at IS NOT NULL THEN
        PERFORM pregonero_event(NEW.campaign_id, NEW.contact_id, '', NEW.answered_at, 'call.answered', NEW.id,
            json_build_object('attempt', NEW.number, 'call_id', NEW.provider_call_id)::text);
    END IF;
    IF NEW.outcome = 'opted_out' AND OLD.outcome IS DISTINCT FROM 'opted_out' THEN
        PERFORM pregonero_event(NEW.campaign_id, NEW.contact_id, '', COALESCE(NEW.answered_at, NEW.created_at), 'optout', NEW.id,
            json_build_object('attempt', NEW.number, 'call_id', NEW.provider_call_id, 'dtmf', NEW.dtmf)::text);
    END IF;
    IF NEW.status = 'closed' AND OLD.status <> 'closed' THEN
        PERFORM pregonero_event(NEW.campaign_id, NEW.contact_id, '', COALESCE(NEW.ended_at, NEW.created_at), 'call.ended', NEW.id,
            json_build_object('attempt', NEW.number, 'call_id', NEW.provider_call_id, 'result', NEW.result,
                              'outcome', NEW.outcome, 'dtmf', NEW.dtmf, 'duration_seconds', NEW.duration_seconds,
                              'talk_seconds', NEW.talk_seconds)::text);
    END IF;
    RETURN NULL;
END
$$;

-- The WHEN clause spares the function call on the updates that record none of these facts.
CREATE TRIGGER attempts_events AFTER UPDATE ON attempts
FOR EACH ROW
WHEN ((OLD.launched_at IS NULL AND NEW.launched_at IS NOT NULL)
   OR (OLD.answered_at IS NULL AND NEW.answered_at IS NOT NULL)
   OR (NEW.outcome = 'opted_out' AND OLD.outcome IS DISTINCT FROM 'opted_out')
   OR (NEW.status = 'closed' AND OLD.status <> 'closed'))
EXECUTE FUNCTION attempts_events();

-- Inbound calls: callees calling back the number that called them (`/apivoice/inbound`).
-- `campaign_id` / `contact_id` are the contact the caller was matched to (none for unknown
-- and anonymous callers); `route` what the call did (`agent`, `menu`, `greeting`);
-- `outcome` how it ended (`to_agent`, `opted_out`, `confirmed`, `cancelled`, …).
CREATE TABLE inbound_calls (
    id                BIGSERIAL PRIMARY KEY,
    provider_call_id  TEXT,
    caller            TEXT NOT NULL,
    did               TEXT NOT NULL,
    campaign_id       TEXT REFERENCES campaigns(id),
    contact_id        BIGINT REFERENCES contacts(id),
    route             TEXT NOT NULL,
    outcome           TEXT,
    received_at       BIGINT NOT NULL,
    ended_at          BIGINT,
    duration_seconds  BIGINT,
    talk_seconds      BIGINT
);
CREATE UNIQUE INDEX inbound_calls_call_id ON inbound_calls (provider_call_id) WHERE provider_call_id IS NOT NULL;
CREATE INDEX inbound_calls_campaign ON inbound_calls (campaign_id);
