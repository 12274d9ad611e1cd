-- The transfer outcome decided from every signal (the transfer's result, the end-of-call
-- request's durations, the call report's legs), not only from a `dial` result.
ALTER TABLE attempts ADD COLUMN transfer_at BIGINT;
ALTER TABLE attempts ADD COLUMN transfer_outcome TEXT;
ALTER TABLE attempts ADD COLUMN transfer_window_ms BIGINT;
ALTER TABLE attempts ADD COLUMN transfer_signal TEXT;

COMMENT ON COLUMN attempts.transfer_at IS 'When the transfer command left, wall-clock Unix milliseconds of the daemon''s clock.';
COMMENT ON COLUMN attempts.transfer_outcome IS 'The outcome once an agent is known to have taken the call (connected, transferred).';
COMMENT ON COLUMN attempts.transfer_window_ms IS 'How long the agent''s phone rings, real milliseconds; NULL for a queue. A transfer that lasted longer was bridged.';
COMMENT ON COLUMN attempts.transfer_signal IS 'What proved the bridge: result (the transfer''s result), end (the end request''s durations) or report (a leg of the call report).';
