-- The database as an operator reads it. Tables keep their times as Unix milliseconds (UTC):
-- every code path and both backends rely on it. These views show the same rows with readable
-- UTC times (`…_utc`, ISO 8601) beside the milliseconds (`…_ms`), the campaign's title and,
-- for attempts, the contact's phone. Read-only: nothing writes through them.
--
-- v_contacts: one row per contact (state, attempts, last result and call, the original CSV
--   columns as JSON text in `vars`, the appointment and next try).
-- v_attempts: one row per launch (status, result, outcome, keys, times of launch, answer and
--   end, durations, cost).
CREATE VIEW v_contacts AS
SELECT
    c.id,
    c.campaign_id,
    k.title AS campaign_title,
    c.phone,
    c.name,
    c.state,
    c.attempts,
    c.last_result,
    c.dtmf,
    c.last_call_at AS last_call_at_ms,
    strftime('%Y-%m-%dT%H:%M:%fZ', c.last_call_at / 1000.0, 'unixepoch') AS last_call_at_utc,
    c.next_at AS next_at_ms,
    strftime('%Y-%m-%dT%H:%M:%fZ', c.next_at / 1000.0, 'unixepoch') AS next_at_utc,
    c.appointment_at AS appointment_at_ms,
    strftime('%Y-%m-%dT%H:%M:%fZ', c.appointment_at / 1000.0, 'unixepoch') AS appointment_at_utc,
    c.updated_at AS updated_at_ms,
    strftime('%Y-%m-%dT%H:%M:%fZ', c.updated_at / 1000.0, 'unixepoch') AS updated_at_utc,
    c.timezone,
    c.note,
    c.vars,
    c.file_id
FROM contacts c
JOIN campaigns k ON k.id = c.campaign_id;

CREATE VIEW v_attempts AS
SELECT
    a.id,
    a.campaign_id,
    k.title AS campaign_title,
    a.contact_id,
    c.phone,
    a.number,
    a.status,
    a.provider_call_id,
    a.result,
    a.outcome,
    a.dtmf,
    a.error,
    a.created_at AS created_at_ms,
    strftime('%Y-%m-%dT%H:%M:%fZ', a.created_at / 1000.0, 'unixepoch') AS created_at_utc,
    a.launched_at AS launched_at_ms,
    strftime('%Y-%m-%dT%H:%M:%fZ', a.launched_at / 1000.0, 'unixepoch') AS launched_at_utc,
    a.answered_at AS answered_at_ms,
    strftime('%Y-%m-%dT%H:%M:%fZ', a.answered_at / 1000.0, 'unixepoch') AS answered_at_utc,
    a.ended_at AS ended_at_ms,
    strftime('%Y-%m-%dT%H:%M:%fZ', a.ended_at / 1000.0, 'unixepoch') AS ended_at_utc,
    a.duration_seconds,
    a.talk_seconds,
    a.cost
FROM attempts a
JOIN contacts c ON c.id = a.contact_id
JOIN campaigns k ON k.id = a.campaign_id;
