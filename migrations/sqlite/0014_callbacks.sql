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
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    inbound_id    INTEGER NOT NULL REFERENCES inbound_calls(id),
    campaign_id   TEXT NOT NULL REFERENCES campaigns(id),
    contact_id    INTEGER NOT NULL REFERENCES contacts(id),
    agent         TEXT,
    team          TEXT,
    calls         INTEGER NOT NULL DEFAULT 1,
    called_at     INTEGER NOT NULL,
    last_call_at  INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    call_back_at  INTEGER,
    done_at       INTEGER,
    done_by       TEXT
);
CREATE UNIQUE INDEX callbacks_open_contact ON callbacks (contact_id) WHERE done_at IS NULL;
CREATE INDEX callbacks_campaign ON callbacks (campaign_id, id);
CREATE INDEX callbacks_open_agent ON callbacks (agent, team) WHERE done_at IS NULL;
-- Inbound calls still without an end (their end request lost): the callbacks duty closes them.
CREATE INDEX inbound_calls_open ON inbound_calls (received_at) WHERE ended_at IS NULL;

-- A task pregonero calls back itself is done when a call of the contact is answered after the
-- task was made, whichever code path records the answer.
CREATE TRIGGER attempts_callback_done AFTER UPDATE OF answered_at ON attempts
WHEN OLD.answered_at IS NULL AND NEW.answered_at IS NOT NULL
BEGIN
    UPDATE callbacks SET done_at = NEW.answered_at, done_by = 'call_back'
    WHERE contact_id = NEW.contact_id AND done_at IS NULL AND call_back_at IS NOT NULL
      AND created_at <= NEW.answered_at;
END;
