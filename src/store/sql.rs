//! The busy writes' SQL, one text for both backends: PostgreSQL runs it through sqlx, the SQLite
//! writer thread through rusqlite (`sqlite_direct`). Placeholders are `$1`, `$2`… in the order
//! they first appear, which is how SQLite numbers `$N` parameters too, so positional binding
//! means the same on both (checked by a test below).

/// A control request, as received.
pub(super) const INSERT_EVENT: &str = "INSERT INTO call_events (attempt_id, provider_call_id, kind, command, dtmf, statuscall, fields, received_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Any request of the provider about a call proves the call was placed (time, attempt). The
/// provider can answer the control URL before our launch request has its reply: the launch is
/// then recorded first, so the call's events (`call.launched`, then `call.answered`,
/// `call.ended`) keep the order of the facts. The launch's reply keeps this time.
pub(super) const PROVE_LAUNCHED: &str =
    "UPDATE attempts SET launched_at = $1 WHERE id = $2 AND launched_at IS NULL";

/// What a control request taught about its attempt: call id, answer, outcome, keys appended.
pub(super) const EVENT_PROGRESS: &str = "UPDATE attempts SET
         provider_call_id = COALESCE(provider_call_id, $1),
         answered_at = CASE WHEN $2 THEN COALESCE(answered_at, $3) ELSE answered_at END,
         outcome = COALESCE($4, outcome),
         dtmf = CASE WHEN $5 IS NULL THEN dtmf ELSE COALESCE(dtmf, '') || $5 END
     WHERE id = $6";

/// A survey answer (question, key, time, attempt); the last answer of a question wins.
pub(super) const SURVEY_ANSWER: &str = "INSERT INTO survey_answers (attempt_id, campaign_id, question, answer, answered_at)
     SELECT id, campaign_id, $1, $2, $3 FROM attempts WHERE id = $4
     ON CONFLICT (attempt_id, question) DO UPDATE SET answer = excluded.answer, answered_at = excluded.answered_at";

/// The provider accepted a launch (call id, time, attempt): the attempt rings.
pub(super) const MARK_LAUNCHED: &str =
    "UPDATE attempts SET provider_call_id = COALESCE(provider_call_id, $1),
         launched_at = COALESCE(launched_at, $2),
         status = CASE WHEN status = 'launching' THEN 'ringing' ELSE status END
     WHERE id = $3";

/// Closes an attempt still open; no row when it was closed already.
pub(super) const CLOSE_ATTEMPT: &str = "UPDATE attempts SET status = 'closed', result = $1, ended_at = $2,
         duration_seconds = COALESCE(duration_seconds, $3), talk_seconds = COALESCE(talk_seconds, $4)
     WHERE id = $5 AND status IN ('launching', 'ringing')
     RETURNING contact_id, outcome, dtmf";

/// What the retry policy needs to know about the closed attempt's contact.
pub(super) const CONTACT_TO_MOVE: &str =
    "SELECT attempts, last_result, result_streak, appointment_at FROM contacts WHERE id = $1";

/// The contact's state after a close (the outbox triggers fire here).
pub(super) const MOVE_CONTACT: &str = "UPDATE contacts SET state = $1, next_at = COALESCE($2, next_at), last_result = $3,
         last_call_at = $4, dtmf = COALESCE($5, dtmf), result_streak = $6, note = NULL, updated_at = $4
     WHERE id = $7";

/// The report is the source of truth for billed seconds and cost (call id, attempt); a call can
/// have several legs (the answered leg and a transfer leg).
pub(super) const RECOUNT_FROM_REPORT: &str = "UPDATE attempts SET
         cost = (SELECT SUM(cost) FROM report_lines WHERE provider_call_id = $1),
         talk_seconds = (SELECT MAX(duration_seconds) FROM report_lines WHERE provider_call_id = $1)
     WHERE id = $2";

/// An import's batch inserted this many contacts (count, file).
pub(super) const ADD_IMPORTED: &str =
    "UPDATE imported_files SET imported = imported + $1 WHERE id = $2";

/// An import's end: the contacts written at the end (PostgreSQL's bulk path), the file's counts,
/// complete (written, rows read, rejected, duplicates, file).
pub(super) const FINISH_IMPORT: &str =
    "UPDATE imported_files SET imported = imported + $1, rows_read = $2, rejected = $3,
         duplicates = $4, complete = TRUE
     WHERE id = $5 RETURNING file_name, rows_read, imported, rejected, duplicates";

#[cfg(test)]
mod tests {
    /// `$N` numbers in order of first appearance (and none skipped).
    fn first_appearances(sql: &str) -> Vec<u32> {
        let mut seen = Vec::new();
        let mut rest = sql;
        while let Some(at) = rest.find('$') {
            rest = &rest[at + 1..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse::<u32>() {
                if !seen.contains(&n) {
                    seen.push(n);
                }
            }
        }
        seen
    }

    #[test]
    fn placeholders_first_appear_in_order_so_sqlite_numbers_them_alike() {
        for sql in [
            super::INSERT_EVENT,
            super::PROVE_LAUNCHED,
            super::EVENT_PROGRESS,
            super::SURVEY_ANSWER,
            super::MARK_LAUNCHED,
            super::CLOSE_ATTEMPT,
            super::CONTACT_TO_MOVE,
            super::MOVE_CONTACT,
            super::RECOUNT_FROM_REPORT,
            super::ADD_IMPORTED,
            super::FINISH_IMPORT,
        ] {
            let seen = first_appearances(sql);
            let expected: Vec<u32> = (1..=seen.len() as u32).collect();
            assert_eq!(seen, expected, "{sql}");
        }
        assert_eq!(first_appearances("a = $2 AND b = $1"), vec![2, 1]);
    }
}
