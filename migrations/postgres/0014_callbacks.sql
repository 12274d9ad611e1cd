-- Callback tasks: an inbound call of a known contact that nobody took (no agent answered and
-- the menu settled nothing) is a task to call the contact back, for their responsible agent
-- (the desk agent who last talked to them) or else the campaign's desk team. One open task per
-- contact: a later call nobody takes counts on it (`calls`, `last_call_at`).
--
-- `call_back_at`: with `[inbound] call_back = true` pregonero itself calls the contact again
-- then (the contact was re-armed in the transaction that made the task); NULL when it does not.
-- `done_at` / `done_by`: an agent marked it done on the desk (their name), a later inbound call
-- of the contact was taken (`inbound`), or pregonero's own call back was answered (`call_back`).
CREATE TABLE callbacks (
    id            BIGSERIAL PRIMARY KEY,
    inbound_id    BIGINT NOT NULL REFERENCES inbound_calls(id),
    campaign_id   TEXT NOT NULL REFERENCES campaigns(id),
    contact_id    BIGINT NOT NULL REFERENCES contacts(id),
    agent         TEXT,
    team          TEXT,
    calls         BIGINT NOT NULL DEFAULT 1,
    called_at     BIGINT NOT NULL,
    last_call_at  BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    call_back_at  BIGINT,
    done_at       BIGINT,
    done_by       TEXT
);
CREATE UNIQUE INDEX callbacks_open_contact ON callbacks (contact_id) WHERE done_at IS NULL;
CREATE INDEX callbacks_campaign ON callbacks (campaign_id, id);
CREATE INDEX callbacks_open_agent ON callbacks (agent, team) WHERE done_at IS NULL;
-- Inbound calls still without an end (their end request lost): the callbacks duty closes them.
CREATE INDEX inbound_calls_open ON inbound_calls (received_at) WHERE ended_at IS NULL;

-- A task pregonero calls back itself is done when a call of the contact is answered after the
-- task was made, whichever code path records the answer.
CREATE FUNCTION attempts_callback_done() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE callbacks SET done_at = NEW.answered_at, done_by = 'call_back'
    WHERE contact_id = NEW.contact_id AND done_at IS NULL AND call_back_at IS NOT NULL
      AND created_at <= NEW.answered_at;
    RETURN NULL;
END
$$;
CREATE TRIGGER attempts_callback_done AFTER UPDATE ON attempts
FOR EACH ROW WHEN (OLD.answered_at IS NULL AND NEW.answered_at IS NOT NULL)
EXECUTE FUNCTION attempts_callback_done();

COMMENT ON TABLE callbacks IS 'Callback tasks: inbound calls of known contacts that nobody took, to be called back.';
COMMENT ON COLUMN callbacks.id IS 'Row id (the task''s number in pregonero callbacks and on the desk).';
COMMENT ON COLUMN callbacks.inbound_id IS 'The inbound call that made the task.';
COMMENT ON COLUMN callbacks.campaign_id IS 'The campaign of the matched contact.';
COMMENT ON COLUMN callbacks.contact_id IS 'The contact to call back.';
COMMENT ON COLUMN callbacks.agent IS 'The responsible agent (the desk agent who last talked to the contact), if any.';
COMMENT ON COLUMN callbacks.team IS 'The campaign''s desk team (agent = "desk:TEAM"), if any.';
COMMENT ON COLUMN callbacks.calls IS 'Inbound calls nobody took while the task was open.';
COMMENT ON COLUMN callbacks.called_at IS 'When the first of those calls came in.';
COMMENT ON COLUMN callbacks.last_call_at IS 'When the latest of those calls came in.';
COMMENT ON COLUMN callbacks.created_at IS 'When the task was made (the end of the first call).';
COMMENT ON COLUMN callbacks.call_back_at IS 'With [inbound] call_back: when pregonero calls the contact back itself; NULL otherwise.';
COMMENT ON COLUMN callbacks.done_at IS 'When the task was done; NULL while open.';
COMMENT ON COLUMN callbacks.done_by IS 'The agent who marked it done, inbound (a later call of the contact was taken) or call_back (pregonero''s own call back was answered).';
COMMENT ON COLUMN notify_outbox.event IS 'The event type: contact.final (also the reminder notification), call.launched, call.answered, call.ended, transfer.started, optout, inbound.received, callback.created.';
