-- The database as an operator reads it (same views as SQLite's 0008). Tables keep their times
-- as Unix milliseconds (UTC): every code path and both backends rely on it. The views show the
-- same rows with `timestamptz` times (`last_call_at`, shown in the session's TimeZone) beside
-- the milliseconds (`…_ms`), the campaign's title, and `vars` as jsonb (`vars->>'nombre'`).
-- The table stays text: the store writes it as text on both backends. Every table and column
-- carries a comment (`\d+ contacts` in psql).
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
    to_timestamp(c.last_call_at / 1000.0) AS last_call_at,
    c.next_at AS next_at_ms,
    to_timestamp(c.next_at / 1000.0) AS next_at,
    c.appointment_at AS appointment_at_ms,
    to_timestamp(c.appointment_at / 1000.0) AS appointment_at,
    c.updated_at AS updated_at_ms,
    to_timestamp(c.updated_at / 1000.0) AS updated_at,
    c.timezone,
    c.note,
    c.vars::jsonb AS vars,
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
    to_timestamp(a.created_at / 1000.0) AS created_at,
    a.launched_at AS launched_at_ms,
    to_timestamp(a.launched_at / 1000.0) AS launched_at,
    a.answered_at AS answered_at_ms,
    to_timestamp(a.answered_at / 1000.0) AS answered_at,
    a.ended_at AS ended_at_ms,
    to_timestamp(a.ended_at / 1000.0) AS ended_at,
    a.duration_seconds,
    a.talk_seconds,
    a.cost
FROM attempts a
JOIN contacts c ON c.id = a.contact_id
JOIN campaigns k ON k.id = a.campaign_id;

COMMENT ON TABLE campaigns IS 'One row per campaign folder (its id is the folder name).';
COMMENT ON COLUMN campaigns.id IS 'The campaign folder name.';
COMMENT ON COLUMN campaigns.kind IS 'reminder, announcement, promotion, survey or sales.';
COMMENT ON COLUMN campaigns.title IS 'The title people read (campaign.toml ''title'').';
COMMENT ON COLUMN campaigns.paused IS 'Paused by ''pregonero pause'' or by the daemon.';
COMMENT ON COLUMN campaigns.source IS 'The campaign folder the settings were loaded from.';
COMMENT ON COLUMN campaigns.created_at IS 'First seen, Unix milliseconds UTC.';
COMMENT ON COLUMN campaigns.updated_at IS 'Last loaded, Unix milliseconds UTC.';
COMMENT ON COLUMN campaigns.paused_reason IS 'Why the daemon paused it (e.g. the provider refused for lack of credit); NULL when an operator did.';

COMMENT ON TABLE imported_files IS 'One row per contact file imported into a campaign (same content imported once).';
COMMENT ON COLUMN imported_files.id IS 'File id.';
COMMENT ON COLUMN imported_files.campaign_id IS 'The campaign.';
COMMENT ON COLUMN imported_files.file_name IS 'The CSV file name in the folder.';
COMMENT ON COLUMN imported_files.content_hash IS 'SHA-256 of the content: the same content is never imported twice.';
COMMENT ON COLUMN imported_files.rows_read IS 'Data rows read.';
COMMENT ON COLUMN imported_files.imported IS 'Rows that became contacts.';
COMMENT ON COLUMN imported_files.rejected IS 'Rows refused (written to the rejected-rows file).';
COMMENT ON COLUMN imported_files.duplicates IS 'Rows whose phone the campaign already had.';
COMMENT ON COLUMN imported_files.imported_at IS 'When, Unix milliseconds UTC.';
COMMENT ON COLUMN imported_files.complete IS 'False while an import is resumable (interrupted midway).';

COMMENT ON TABLE contacts IS 'One row per number to call in a campaign; ''state'' is its progress (pending, scheduled, in_progress) or its outcome. Readable times: view v_contacts.';
COMMENT ON COLUMN contacts.id IS 'Contact id.';
COMMENT ON COLUMN contacts.campaign_id IS 'The campaign.';
COMMENT ON COLUMN contacts.file_id IS 'The imported file it came from.';
COMMENT ON COLUMN contacts.phone IS 'E.164 number.';
COMMENT ON COLUMN contacts.name IS 'The name column, if the file had one.';
COMMENT ON COLUMN contacts.vars IS 'The original CSV columns, a JSON object (text).';
COMMENT ON COLUMN contacts.timezone IS 'The callee zone from the file, if given (IANA name).';
COMMENT ON COLUMN contacts.state IS 'pending, scheduled, in_progress or a final outcome (see product.md).';
COMMENT ON COLUMN contacts.attempts IS 'Attempts made.';
COMMENT ON COLUMN contacts.next_at IS 'Not to be called before, Unix milliseconds UTC.';
COMMENT ON COLUMN contacts.last_result IS 'Result of the last attempt (answered, busy, no_answer…).';
COMMENT ON COLUMN contacts.last_call_at IS 'Start of the last attempt, Unix milliseconds UTC.';
COMMENT ON COLUMN contacts.dtmf IS 'Keys pressed in the last answered call.';
COMMENT ON COLUMN contacts.updated_at IS 'Last change, Unix milliseconds UTC.';
COMMENT ON COLUMN contacts.appointment_at IS 'Reminders: the appointment, Unix milliseconds UTC.';
COMMENT ON COLUMN contacts.result_streak IS 'Attempts in a row that ended with the same result (retry policy).';
COMMENT ON COLUMN contacts.note IS 'Why the contact ended where it did, when the daemon decided it (deadline, do-not-call…).';

COMMENT ON TABLE attempts IS 'One row per launch, written before the provider is called; its id travels as ''userdata''. Readable times: view v_attempts.';
COMMENT ON COLUMN attempts.id IS 'Attempt id (the call''s userdata).';
COMMENT ON COLUMN attempts.contact_id IS 'The contact.';
COMMENT ON COLUMN attempts.campaign_id IS 'The campaign.';
COMMENT ON COLUMN attempts.number IS '1 for the first attempt of the contact, 2 for the second…';
COMMENT ON COLUMN attempts.status IS 'launching, ringing, closed or not_placed.';
COMMENT ON COLUMN attempts.provider_call_id IS 'The provider''s call id, once launched.';
COMMENT ON COLUMN attempts.result IS 'answered, busy, no_answer, unreachable, congestion, failed or lost.';
COMMENT ON COLUMN attempts.outcome IS 'What the call flow concluded (confirmed, delivered…), if it did.';
COMMENT ON COLUMN attempts.dtmf IS 'Keys pressed.';
COMMENT ON COLUMN attempts.error IS 'Why it was not placed, or the provider''s error.';
COMMENT ON COLUMN attempts.created_at IS 'Claimed, Unix milliseconds UTC.';
COMMENT ON COLUMN attempts.launched_at IS 'Accepted by the provider, Unix milliseconds UTC.';
COMMENT ON COLUMN attempts.answered_at IS 'Answered, Unix milliseconds UTC.';
COMMENT ON COLUMN attempts.ended_at IS 'Ended, Unix milliseconds UTC.';
COMMENT ON COLUMN attempts.duration_seconds IS 'Call duration from the provider.';
COMMENT ON COLUMN attempts.talk_seconds IS 'Answered duration.';
COMMENT ON COLUMN attempts.cost IS 'Cost in euros from the call report.';

COMMENT ON TABLE call_events IS 'Every control request of the provider, raw.';
COMMENT ON COLUMN call_events.id IS 'Event id.';
COMMENT ON COLUMN call_events.attempt_id IS 'The attempt, if the call is ours.';
COMMENT ON COLUMN call_events.provider_call_id IS 'The provider''s call id.';
COMMENT ON COLUMN call_events.kind IS 'start, dtmf, end… (the request''s step).';
COMMENT ON COLUMN call_events.command IS 'The command we answered.';
COMMENT ON COLUMN call_events.dtmf IS 'Keys in this request.';
COMMENT ON COLUMN call_events.statuscall IS 'The provider''s call status.';
COMMENT ON COLUMN call_events.fields IS 'Every field of the request, JSON text.';
COMMENT ON COLUMN call_events.received_at IS 'Unix milliseconds UTC.';

COMMENT ON TABLE report_batches IS 'Every call-report POST, stored before it is parsed.';
COMMENT ON COLUMN report_batches.id IS 'Batch id.';
COMMENT ON COLUMN report_batches.body IS 'The body as received.';
COMMENT ON COLUMN report_batches.received_at IS 'Unix milliseconds UTC.';
COMMENT ON COLUMN report_batches.lines IS 'Lines parsed (NULL if it could not be parsed).';
COMMENT ON COLUMN report_batches.error IS 'Why it could not be parsed.';

COMMENT ON TABLE report_lines IS 'One row per call-report line (the same line received twice is stored once).';
COMMENT ON COLUMN report_lines.id IS 'Line id.';
COMMENT ON COLUMN report_lines.batch_id IS 'The batch it came in.';
COMMENT ON COLUMN report_lines.provider_call_id IS 'The provider''s call id.';
COMMENT ON COLUMN report_lines.startdate IS 'Start as the provider wrote it.';
COMMENT ON COLUMN report_lines.dst IS 'Destination as the provider wrote it.';
COMMENT ON COLUMN report_lines.attempt_id IS 'Our attempt, if the call is ours.';
COMMENT ON COLUMN report_lines.status IS 'The provider''s final status.';
COMMENT ON COLUMN report_lines.duration_seconds IS 'Duration.';
COMMENT ON COLUMN report_lines.cost IS 'Cost in euros.';
COMMENT ON COLUMN report_lines.raw IS 'The line as received.';
COMMENT ON COLUMN report_lines.received_at IS 'Unix milliseconds UTC.';

COMMENT ON TABLE do_not_call IS 'The do-not-call list: numbers never called (or not until a date, or not in some hours).';
COMMENT ON COLUMN do_not_call.phone IS 'E.164 number.';
COMMENT ON COLUMN do_not_call.until_date IS 'Blocked only until this local date (YYYY-MM-DD); NULL: no end.';
COMMENT ON COLUMN do_not_call.hours IS 'Blocked only during these weekly hours; NULL: at any hour.';
COMMENT ON COLUMN do_not_call.source IS 'Where the entry came from (a file, an opt-out during a call, an operator).';
COMMENT ON COLUMN do_not_call.created_at IS 'Unix milliseconds UTC.';

COMMENT ON TABLE survey_answers IS 'Survey answers, one row per attempt and question (a repeated question keeps the last key).';
COMMENT ON COLUMN survey_answers.id IS 'Answer id.';
COMMENT ON COLUMN survey_answers.attempt_id IS 'The attempt.';
COMMENT ON COLUMN survey_answers.campaign_id IS 'The campaign.';
COMMENT ON COLUMN survey_answers.question IS 'The question''s name (q1, q2…).';
COMMENT ON COLUMN survey_answers.answer IS 'The key pressed.';
COMMENT ON COLUMN survey_answers.answered_at IS 'Unix milliseconds UTC.';


COMMENT ON TABLE notify_targets IS 'The notification URL of each reminder campaign that has one.';
COMMENT ON COLUMN notify_targets.campaign_id IS 'The campaign.';
COMMENT ON COLUMN notify_targets.url IS 'Where outcomes are posted.';
COMMENT ON COLUMN notify_targets.updated_at IS 'Unix milliseconds UTC.';

COMMENT ON TABLE notify_outbox IS 'Outcome notifications to deliver, written in the transaction that moves a contact to a final state.';
COMMENT ON COLUMN notify_outbox.id IS 'Notification id.';
COMMENT ON COLUMN notify_outbox.campaign_id IS 'The campaign.';
COMMENT ON COLUMN notify_outbox.contact_id IS 'The contact.';
COMMENT ON COLUMN notify_outbox.state IS 'The final state notified.';
COMMENT ON COLUMN notify_outbox.url IS 'Where it goes.';
COMMENT ON COLUMN notify_outbox.created_at IS 'Unix milliseconds UTC.';
COMMENT ON COLUMN notify_outbox.tries IS 'Deliveries tried.';
COMMENT ON COLUMN notify_outbox.next_try_at IS 'Next try, Unix milliseconds UTC.';
COMMENT ON COLUMN notify_outbox.last_error IS 'Why the last try failed.';
COMMENT ON COLUMN notify_outbox.delivered_at IS 'Delivered, Unix milliseconds UTC.';
COMMENT ON COLUMN notify_outbox.gave_up_at IS 'Given up, Unix milliseconds UTC.';

COMMENT ON VIEW v_contacts IS 'Contacts with readable times (timestamptz), the campaign title and vars as jsonb.';
COMMENT ON VIEW v_attempts IS 'Attempts with readable times (timestamptz), the campaign title and the phone.';
