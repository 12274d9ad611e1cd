-- The transfer outcome decided from every signal (the transfer's result, the end-of-call
-- request's durations, the call report's legs), not only from a `dial` result.
--
-- `transfer_at`        when the transfer command left (wall-clock ms of the daemon's clock);
-- `transfer_outcome`   the outcome the call gets once an agent is known to have taken it
--                      (`connected` for sales, `transferred` otherwise);
-- `transfer_window_ms` how long the agent's phone rings (real ms); a transfer that lasted
--                      longer was bridged, since the `dial` gives up at its end. NULL for a
--                      `queue`, whose wait the PBX decides;
-- `transfer_signal`    what proved the bridge: `result`, `end` or `report`.
ALTER TABLE attempts ADD COLUMN transfer_at BIGINT;
ALTER TABLE attempts ADD COLUMN transfer_outcome TEXT;
ALTER TABLE attempts ADD COLUMN transfer_window_ms BIGINT;
ALTER TABLE attempts ADD COLUMN transfer_signal TEXT;
